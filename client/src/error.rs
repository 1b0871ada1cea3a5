//! The client's error type: every message names the path or node concerned and the cause.

use tonic::Code;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}")]
    Namenode(String),
    #[error("cannot reach the namenode ({what}): {message}")]
    Unreachable { what: String, message: String },
    #[error("{path}: {message}")]
    Transfer { path: String, message: String },
    /// A job the job tracker (or the submitter) refused, with why.
    #[error("{0}")]
    Rejected(String),
    #[error("config: {0}")]
    Config(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type ClientResult<T> = Result<T, ClientError>;

impl ClientError {
    /// Maps a namenode reply; the namenode's messages already name the path.
    pub fn from_status(what: &str, s: tonic::Status) -> ClientError {
        match s.code() {
            Code::NotFound => ClientError::NotFound(
                s.message()
                    .strip_suffix(": no such file or directory")
                    .unwrap_or(s.message())
                    .to_string(),
            ),
            Code::Unavailable if !s.message().contains("safe mode") => ClientError::Unreachable {
                what: what.into(),
                message: s.message().into(),
            },
            Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => ClientError::Unreachable {
                what: what.into(),
                message: s.message().into(),
            },
            _ => ClientError::Namenode(s.message().into()),
        }
    }
}
