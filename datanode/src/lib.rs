//! The datanode: stores block replicas on its data dirs and moves them over the network.
//!
//! A short tour:
//! - [`storage`]: replica files and their checksum sidecars, the start-up scan.
//! - [`xceiver`]: the data transfer server (reads, write pipelines, recovery steps).
//! - [`local_reads`]: short-circuit reads, replica files handed over a Unix socket.
//! - [`block_checksum`]: a replica's CRC from its chunk CRCs (`mrctl fs checksum`).
//! - [`block_auth`]: the block access token check in front of every transfer op.
//! - [`nn`]: registration, heartbeats, block reports, and the namenode's commands.
//! - [`commands`]: re-replication copies and lease recovery as the primary.
//! - [`scanner`]: the background verification of finalized replicas.
//! - [`sweeper`]: ageing out replicas no writer touches any more.
//! - [`service`]: wiring it all up.

pub mod block_auth;
pub mod block_checksum;
pub mod commands;
pub mod local_reads;
pub mod nn;
pub mod scanner;
pub mod service;
pub mod storage;
pub mod sweeper;
pub mod xceiver;
