//! The namenode's error type, and how each error reaches a client as a gRPC status.

use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("{0}: invalid path: {1}")]
    InvalidPath(String, String),
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: already exists")]
    AlreadyExists(String),
    #[error("{0}: directory is not empty (delete it recursively)")]
    NotEmpty(String),
    #[error("{0}: a component of the path is a file, not a directory")]
    NotDir(String),
    #[error("{0}: is a directory")]
    IsDir(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("namenode is in safe mode ({0}): no changes are accepted until it ends")]
    SafeMode(String),
    #[error("{0}: no lease held by {1} (the file is not being written by this client)")]
    NoLease(String, String),
    #[error("{0}")]
    NoDatanodes(String),
    #[error("edit log: {0}")]
    Journal(#[from] common::Error),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type NnResult<T> = Result<T, NnError>;

impl From<NnError> for Status {
    fn from(e: NnError) -> Status {
        let code = match &e {
            NnError::InvalidPath(..) | NnError::InvalidArgument(_) => Code::InvalidArgument,
            NnError::NotFound(_) => Code::NotFound,
            NnError::AlreadyExists(_) => Code::AlreadyExists,
            NnError::NotEmpty(_) | NnError::NotDir(_) | NnError::IsDir(_) => {
                Code::FailedPrecondition
            }
            NnError::SafeMode(_) => Code::Unavailable,
            NnError::NoLease(..) => Code::PermissionDenied,
            NnError::NoDatanodes(_) => Code::ResourceExhausted,
            NnError::Journal(_) | NnError::Internal(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}
