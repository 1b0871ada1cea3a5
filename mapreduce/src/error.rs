//! The SDK's error type.

#[derive(Debug, thiserror::Error)]
pub enum MrError {
    #[error("decoding: {0}")]
    Decode(String),
    // The cause is part of the message, not a separate `source`, so a chain prints it once.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    #[error("corrupt intermediate data in {0}")]
    Corrupt(String),
    /// An error raised by job code (a mapper, a reducer, the job's description).
    #[error("{0}")]
    User(String),
    #[error("DFS: {0}")]
    Dfs(String),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type MrResult<T> = Result<T, MrError>;

/// Attaches what was being done to an I/O error.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> MrResult<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> MrResult<T> {
        self.map_err(|cause| MrError::Io {
            context: context(),
            cause,
        })
    }
}

impl From<client::ClientError> for MrError {
    fn from(e: client::ClientError) -> Self {
        MrError::Dfs(e.to_string())
    }
}

/// An error from job code, with a message: `return Err(mapreduce::fail("bad row"))`.
pub fn fail(message: impl Into<String>) -> MrError {
    MrError::User(message.into())
}
