//! Shared pieces of every daemon and client.
//!
//! A short tour:
//! - [`auth`]: the cluster secret, signed tokens (user, delegation, service, block access), the
//!   verifier daemons check them with, and the per-job shuffle key.
//! - [`ids`]: typed ids (`BlockId`, `NodeId`, `GenStamp`, `JobId`, `AttemptId`, `TaskKind`) so a
//!   block is never mistaken for a node, nor a job for an attempt.
//! - [`clock`]: the injectable clock of decision code, real or driven by a test.
//! - [`conn_limit`]: connection caps per port and per client address, and the accept loop of
//!   the thread-per-connection servers; `grpc_incoming` (feature `grpc-server`) does the same
//!   for the tonic servers, with idle timeouts; `grpc_auth` (same feature) verifies every
//!   call's token and records the caller's identity.
//! - [`config`]: the TOML config of each role, with defaults an operator rarely needs to change
//!   (reading a file needs the `config-file` feature, on by default).
//! - [`dir_lock`]: the `in_use.lock` every daemon holds on its directories.
//! - [`error`]: the crate's error type.
//! - [`fsutil`]: crash-safe file writes (temp file, fsync, rename, fsync the directory).
//! - [`jobs`]: the job model every part shares: job and task specs, reports, heartbeats.
//! - [`shuffle`]: the protocol reduce attempts fetch map outputs with.
//! - [`local_read`]: short-circuit reads: replica files handed over a Unix socket as descriptors.
//! - [`map_output`]: the map output file and its index, written by tasks, served by workers.
//! - [`node_lists`]: include and exclude lists, NODE matching, nodes decommissioned by command.
//! - [`journal`]: the durable, group-committed, checksummed log of records with checkpoints,
//!   used by the namenode for its edits (and by the job tracker for job state).
//! - [`checksum`]: CRC32 per chunk of block data.
//! - [`topology`]: host to rack table and network distance.
//! - [`tls`]: the rustls configs of every channel from `[security]`'s PEM files; [`tls_stream`]:
//!   a blocking TLS stream that clones like a socket (transfer, shuffle); `tls_certs` (feature
//!   `certs`): making a local CA and host certificates.
//! - [`transfer`]: the framed TCP protocol that carries block data.
//! - [`trash`]: where `rm` moves what it removes, and the names of the trash's checkpoints.
//! - `logging`: tracing setup for binaries (feature `logging`, on by default).
//! - [`user`]: who the process runs as (the owner of what a client creates).

pub mod auth;
pub mod checksum;
pub mod clock;
pub mod config;
pub mod conn_limit;
pub mod dir_lock;
pub mod error;
pub mod fsutil;
#[cfg(feature = "grpc-server")]
pub mod grpc_auth;
#[cfg(feature = "grpc-server")]
pub mod grpc_incoming;
#[cfg(feature = "grpc-client")]
pub mod grpc_tls;
pub mod ids;
pub mod jobs;
pub mod journal;
pub mod local_read;
#[cfg(feature = "logging")]
pub mod logging;
pub mod map_output;
pub mod node_lists;
pub mod shuffle;
pub mod tls;
#[cfg(any(test, feature = "certs"))]
pub mod tls_certs;
pub mod tls_stream;
pub mod topology;
pub mod transfer;
pub mod trash;
pub mod user;

pub use error::{Error, Result};
