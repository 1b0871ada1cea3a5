//! The harness's error type: a client call that failed, or a cluster that could not be set up.

use client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A call on the cluster's namenode or job tracker failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The cluster's directory, config files or binaries are not usable.
    #[error("config: {0}")]
    Config(String),
    /// Daemons did not become healthy in time; the message names them and what to do.
    #[error("{0}")]
    Unhealthy(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type ClusterResult<T> = Result<T, ClusterError>;
