//! The namenode's error type, and how each error reaches a client: a gRPC status carrying the
//! typed [`Reason`] (safe mode as [`Reason::SafeMode`]) and the error's message.

use proto::Reason;
use tonic::Status;

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
    #[error(
        "namenode is in safe mode ({0}): no changes are accepted until it ends; a superuser \
         can end it now with `mrctl admin safemode leave`"
    )]
    SafeMode(String),
    #[error("{0}: no lease held by {1} (the file is not being written by this client)")]
    NoLease(String, String),
    #[error("{0}")]
    NoDatanodes(String),
    /// A change would take a directory over its name or space quota; the message names the
    /// directory, the quota and what would be used.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A permission check failed: HDFS's message shape, naming the user, the access, the path
    /// and its mode and owners.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("edit log: {0}")]
    Journal(#[from] common::Error),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type NnResult<T> = Result<T, NnError>;

impl NnError {
    /// Who is at fault, as the typed reason a client matches on.
    pub fn reason(&self) -> Reason {
        match self {
            NnError::InvalidPath(..) | NnError::InvalidArgument(_) => Reason::InvalidArgument,
            NnError::NotFound(_) => Reason::NotFound,
            NnError::AlreadyExists(_) => Reason::AlreadyExists,
            NnError::NotEmpty(_) | NnError::NotDir(_) | NnError::IsDir(_) => {
                Reason::FailedPrecondition
            }
            NnError::SafeMode(_) => Reason::SafeMode,
            NnError::NoLease(..) | NnError::PermissionDenied(_) => Reason::PermissionDenied,
            NnError::NoDatanodes(_) | NnError::QuotaExceeded(_) => Reason::ResourceExhausted,
            NnError::Journal(_) | NnError::Internal(_) => Reason::Internal,
        }
    }
}

impl From<NnError> for Status {
    fn from(e: NnError) -> Status {
        e.reason().status(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_carries_the_reason_and_keeps_the_message() {
        let cases = [
            (NnError::NotFound("/a".into()), Reason::NotFound),
            (NnError::SafeMode("1 of 2 blocks".into()), Reason::SafeMode),
            (
                NnError::NoLease("/a".into(), "c1".into()),
                Reason::PermissionDenied,
            ),
            (NnError::NotEmpty("/d".into()), Reason::FailedPrecondition),
            (NnError::Internal("oops".into()), Reason::Internal),
        ];
        for (e, reason) in cases {
            let message = e.to_string();
            let status = Status::from(e);
            assert_eq!(Reason::of(&status), reason, "{message}");
            assert_eq!(status.message(), message);
        }
        let safe = Status::from(NnError::SafeMode("x".into()));
        assert_eq!(
            safe.code(),
            tonic::Code::Unavailable,
            "the code clients saw before"
        );
    }
}
