//! Why a call failed, in words a client matches on: every error status a daemon sends carries a
//! [`Reason`] in the `x-mr-reason` metadata beside its gRPC code and its human message, so a
//! client decides what to do (retry, report the caller's mistake, report our bug) from the
//! reason, never from the message text. See `docs/error-handling.md`.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The metadata key carrying the reason.
pub const REASON_KEY: &str = "x-mr-reason";

/// The typed cause of a failed call. Each has one gRPC code; several reasons may share a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The caller's input is malformed (a bad path, flag or spec).
    InvalidArgument,
    /// The path, job or other named thing does not exist.
    NotFound,
    /// The path or job already exists.
    AlreadyExists,
    /// The namespace is not in the state the call needs (a non-empty directory, a file where a
    /// directory is expected).
    FailedPrecondition,
    /// The caller may not do this (no lease, no permission).
    PermissionDenied,
    /// The caller's token is missing, malformed, forged, expired or revoked.
    Unauthenticated,
    /// Not enough of something to do it now (no datanodes for a block, no room).
    ResourceExhausted,
    /// The namenode is in safe mode: mutations are refused until enough block reports arrived.
    /// Temporary; retry later.
    SafeMode,
    /// A daemon the callee needs (the namenode behind the job tracker, say) did not answer.
    /// Temporary; retry later.
    Unavailable,
    /// Our own bug, or damage we cannot explain to the caller.
    Internal,
}

impl Reason {
    /// Every reason, for tests and docs.
    pub const ALL: [Reason; 10] = [
        Reason::InvalidArgument,
        Reason::NotFound,
        Reason::AlreadyExists,
        Reason::FailedPrecondition,
        Reason::PermissionDenied,
        Reason::Unauthenticated,
        Reason::ResourceExhausted,
        Reason::SafeMode,
        Reason::Unavailable,
        Reason::Internal,
    ];

    /// The name sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "invalid-argument",
            Reason::NotFound => "not-found",
            Reason::AlreadyExists => "already-exists",
            Reason::FailedPrecondition => "failed-precondition",
            Reason::PermissionDenied => "permission-denied",
            Reason::Unauthenticated => "unauthenticated",
            Reason::ResourceExhausted => "resource-exhausted",
            Reason::SafeMode => "safe-mode",
            Reason::Unavailable => "unavailable",
            Reason::Internal => "internal",
        }
    }

    /// The gRPC code that goes with the reason.
    pub fn code(self) -> Code {
        match self {
            Reason::InvalidArgument => Code::InvalidArgument,
            Reason::NotFound => Code::NotFound,
            Reason::AlreadyExists => Code::AlreadyExists,
            Reason::FailedPrecondition => Code::FailedPrecondition,
            Reason::PermissionDenied => Code::PermissionDenied,
            Reason::Unauthenticated => Code::Unauthenticated,
            Reason::ResourceExhausted => Code::ResourceExhausted,
            Reason::SafeMode | Reason::Unavailable => Code::Unavailable,
            Reason::Internal => Code::Internal,
        }
    }

    /// Whether the same call may succeed later without the caller changing anything.
    pub fn is_temporary(self) -> bool {
        matches!(self, Reason::SafeMode | Reason::Unavailable)
    }

    /// A status with this reason and message.
    pub fn status(self, message: impl Into<String>) -> Status {
        let mut status = Status::new(self.code(), message);
        status
            .metadata_mut()
            .insert(REASON_KEY, MetadataValue::from_static(self.as_str()));
        status
    }

    /// The reason a status carries. A status without one (from a transport failure, or from a
    /// peer older than this protocol) is judged by its code alone: transport-level codes mean
    /// the peer could not be reached, which is temporary.
    pub fn of(status: &Status) -> Reason {
        if let Some(r) = status
            .metadata()
            .get(REASON_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| Reason::ALL.into_iter().find(|r| r.as_str() == s))
        {
            return r;
        }
        match status.code() {
            Code::InvalidArgument | Code::OutOfRange => Reason::InvalidArgument,
            Code::NotFound => Reason::NotFound,
            Code::AlreadyExists => Reason::AlreadyExists,
            Code::FailedPrecondition | Code::Aborted => Reason::FailedPrecondition,
            Code::PermissionDenied => Reason::PermissionDenied,
            Code::Unauthenticated => Reason::Unauthenticated,
            Code::ResourceExhausted => Reason::ResourceExhausted,
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
                Reason::Unavailable
            }
            Code::Ok | Code::Internal | Code::Unimplemented | Code::DataLoss => Reason::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_survives_a_status() {
        for r in Reason::ALL {
            let s = r.status("why");
            assert_eq!(Reason::of(&s), r);
            assert_eq!(s.code(), r.code());
            assert_eq!(s.message(), "why");
        }
    }

    #[test]
    fn a_transport_failure_is_temporary() {
        assert!(Reason::of(&Status::unavailable("connection refused")).is_temporary());
        assert!(!Reason::of(&Status::internal("boom")).is_temporary());
    }
}
