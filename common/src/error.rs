//! The error type of the `common` crate.

use std::path::PathBuf;

/// Errors raised by the shared helpers; each names the file or peer it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The cause is part of the message, not a separate `source`, so a chain prints it once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: corrupt metadata: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Net(#[from] std::io::Error),
    /// Another process holds the directory's `in_use.lock`.
    #[error("{} is in use by pid {pid} (in_use.lock); stop that daemon or pick another directory", dir.display())]
    DirInUse { dir: PathBuf, pid: String },
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|cause| Error::Io {
            path: path.into(),
            cause,
        })
    }
}
