//! The local-cluster harness: starts and stops a whole cluster on this machine.
//!
//! A short tour:
//! - [`local`]: [`LocalCluster`] and [`ClusterSpec`]: real daemon processes on loopback
//!   addresses, each with its own config file and data dirs under one directory. Used by
//!   `mrctl cluster up|down`, the demo, the integration tests and the benchmarks.
//! - [`tls`]: the cluster's CA and per-host certificates, named in every config.
//! - [`error`]: the harness's error type.

pub mod error;
pub mod local;
pub mod tls;

pub use error::{ClusterError, ClusterResult};
pub use local::{bin_dir, datanode_host, wait_for, ClusterSpec, LocalCluster};
