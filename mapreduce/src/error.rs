//! The SDK's error type.

pub use client::ClientError;

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
    /// A DFS call failed; the client's error says which way (`ClientError::NotFound(path)`, safe
    /// mode, an unreachable namenode...).
    #[error("DFS: {0}")]
    Dfs(#[from] ClientError),
    /// A stream to or from the DFS, or a shuffle fetch, broke off.
    #[error("DFS: {0}")]
    Transfer(String),
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

/// An error from job code, with a message: `return Err(mapreduce::fail("bad row"))`.
pub fn fail(message: impl Into<String>) -> MrError {
    MrError::User(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_dfs_file_stays_not_found() {
        let e = MrError::from(ClientError::NotFound("/in/part-0".into()));
        assert!(matches!(&e, MrError::Dfs(ClientError::NotFound(p)) if p == "/in/part-0"));
        assert_eq!(e.to_string(), "DFS: /in/part-0: no such file or directory");
    }
}
