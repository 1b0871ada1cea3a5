//! The client's error type: every message names the path or node concerned and the cause. What
//! kind of failure a reply is comes from the typed [`Reason`] its status carries, never from its
//! message text (see `docs/error-handling.md`).

use proto::Reason;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// The namenode refused the call; `reason` says why (the caller's input, or our bug).
    #[error("{message}")]
    Namenode { reason: Reason, message: String },
    /// The namenode is in safe mode: it refuses changes until enough block reports arrived.
    /// Temporary.
    #[error("{0}")]
    SafeMode(String),
    /// The namenode did not answer. Temporary.
    #[error("cannot reach the namenode ({what}): {message}")]
    Unreachable { what: String, message: String },
    #[error("{path}: {message}")]
    Transfer { path: String, message: String },
    /// A job the job tracker (or the submitter) refused, with why.
    #[error("{0}")]
    Rejected(String),
    /// The job tracker did not answer, or a daemon it needs did not. Temporary.
    #[error("{0}")]
    JobTrackerUnavailable(String),
    #[error("config: {0}")]
    Config(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

pub type ClientResult<T> = Result<T, ClientError>;

/// A status's message, with the causes of a transport failure after it: a failed TLS
/// handshake is only in those, and is explained naming `tls_ca`.
pub(crate) fn transport_cause(s: &tonic::Status) -> String {
    let mut text = s.message().to_string();
    let mut cur = std::error::Error::source(s);
    if cur.is_none() {
        return text;
    }
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    common::tls::explain(&text, None)
}

impl ClientError {
    /// Maps a namenode reply; the namenode's messages already name the path.
    pub fn from_status(what: &str, s: tonic::Status) -> ClientError {
        match Reason::of(&s) {
            Reason::NotFound => ClientError::NotFound(
                s.message()
                    .strip_suffix(": no such file or directory")
                    .unwrap_or(s.message())
                    .to_string(),
            ),
            Reason::SafeMode => ClientError::SafeMode(s.message().into()),
            Reason::Unavailable => ClientError::Unreachable {
                what: what.into(),
                message: transport_cause(&s),
            },
            reason => ClientError::Namenode {
                reason,
                message: s.message().into(),
            },
        }
    }

    /// Whether the same call may succeed later without the caller changing anything: safe
    /// mode ends, an unreachable daemon comes back.
    pub fn is_temporary(&self) -> bool {
        match self {
            ClientError::SafeMode(_)
            | ClientError::Unreachable { .. }
            | ClientError::JobTrackerUnavailable(_) => true,
            ClientError::Namenode { reason, .. } => reason.is_temporary(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn not_found_keeps_the_path() {
        let e = ClientError::from_status(
            "stat",
            Reason::NotFound.status("/a/b: no such file or directory"),
        );
        assert!(
            matches!(&e, ClientError::NotFound(p) if p == "/a/b"),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "/a/b: no such file or directory");
        assert!(!e.is_temporary());
    }

    #[test]
    fn safe_mode_is_known_by_its_reason_not_its_words() {
        let e = ClientError::from_status("mkdirs", Reason::SafeMode.status("not yet"));
        assert!(matches!(e, ClientError::SafeMode(_)), "{e:?}");
        assert_eq!(e.to_string(), "not yet");
        assert!(e.is_temporary());
        // The words alone, on an outage, do not make it safe mode.
        let e = ClientError::from_status("mkdirs", Reason::Unavailable.status("safe mode"));
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
    }

    #[test]
    fn an_outage_is_temporary_and_names_the_call() {
        for s in [
            Status::unavailable("connection refused"),
            Status::deadline_exceeded("timeout"),
            Status::unknown("transport error"),
        ] {
            let e = ClientError::from_status("list /x", s);
            assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
            assert!(e.is_temporary());
            assert!(
                e.to_string()
                    .starts_with("cannot reach the namenode (list /x): "),
                "{e}"
            );
        }
    }

    #[test]
    fn the_callers_mistakes_and_our_bugs_keep_their_reason_and_message() {
        for reason in [
            Reason::InvalidArgument,
            Reason::AlreadyExists,
            Reason::FailedPrecondition,
            Reason::PermissionDenied,
            Reason::ResourceExhausted,
            Reason::Internal,
        ] {
            let e = ClientError::from_status("create", reason.status("/f: why"));
            assert!(
                matches!(&e, ClientError::Namenode { reason: r, .. } if *r == reason),
                "{e:?}"
            );
            assert_eq!(e.to_string(), "/f: why");
            assert!(!e.is_temporary());
        }
    }
}
