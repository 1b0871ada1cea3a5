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
