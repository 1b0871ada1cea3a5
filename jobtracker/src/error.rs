//! The job tracker's error type, and how each error crosses gRPC: as a status whose
//! [`Reason`] says who is at fault (the caller's job, a temporary namenode outage, our bug).

use client::ClientError;
use common::ids::JobId;
use common::jobs::JobState;
use proto::Reason;

#[derive(Debug, thiserror::Error)]
pub enum JtError {
    /// The job as submitted cannot run: the caller's mistake, said in the caller's terms.
    #[error("{0}")]
    InvalidJob(String),
    /// No running job and no job in the history has this id.
    #[error("no job {0}")]
    NoSuchJob(JobId),
    /// A kill of a job that already ended, saying how it ended.
    #[error("job {id} already ended ({}): there is nothing to kill", ended_how(*.state))]
    AlreadyEnded { id: JobId, state: JobState },
    /// The namenode did not answer while the job tracker was `doing` something: temporary.
    #[error("{source} ({doing})")]
    NamenodeUnavailable { doing: String, source: ClientError },
    /// The DFS refused an operation the job tracker needed.
    #[error("{doing}: {source}")]
    Dfs { doing: String, source: ClientError },
    /// The job history in the journal could not be read or written.
    #[error("job history: {0}")]
    History(#[from] common::Error),
    /// The job tracker's configuration is wrong.
    #[error("config: {0}")]
    Config(String),
    /// The gRPC server could not start or stopped.
    #[error("serving on {0}")]
    Serve(String),
    /// The caller may not do this to the job (not its owner, an admin of its queue or the
    /// superuser); the message names the user, the action and the job.
    #[error("{0}")]
    PermissionDenied(String),
    /// Our own bug.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

/// How a job ended, in words.
fn ended_how(state: JobState) -> &'static str {
    match state {
        JobState::Running => "still running",
        JobState::Succeeded => "it succeeded",
        JobState::Failed => "it failed",
        JobState::Killed => "it was killed",
    }
}

pub type JtResult<T> = Result<T, JtError>;

impl JtError {
    /// A failed DFS call made while `doing` something: an outage or a refusal.
    pub fn dfs(doing: impl Into<String>, source: ClientError) -> JtError {
        let doing = doing.into();
        if source.is_temporary() {
            JtError::NamenodeUnavailable { doing, source }
        } else {
            JtError::Dfs { doing, source }
        }
    }

    pub fn reason(&self) -> Reason {
        match self {
            // A DFS refusal at submit time is about the job's own paths.
            JtError::InvalidJob(_) | JtError::Dfs { .. } => Reason::InvalidArgument,
            JtError::NoSuchJob(_) => Reason::NotFound,
            JtError::AlreadyEnded { .. } => Reason::FailedPrecondition,
            JtError::PermissionDenied(_) => Reason::PermissionDenied,
            JtError::NamenodeUnavailable { .. } => Reason::Unavailable,
            JtError::History(_) | JtError::Config(_) | JtError::Serve(_) | JtError::Internal(_) => {
                Reason::Internal
            }
        }
    }
}

impl From<JtError> for tonic::Status {
    fn from(e: JtError) -> tonic::Status {
        e.reason().status(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_mode_is_a_namenode_outage_not_the_callers_mistake() {
        let e = JtError::dfs(
            "checking /in",
            ClientError::SafeMode("namenode is in safe mode".into()),
        );
        assert!(matches!(e, JtError::NamenodeUnavailable { .. }), "{e:?}");
        assert_eq!(Reason::of(&tonic::Status::from(e)), Reason::Unavailable);
    }

    #[test]
    fn an_unknown_job_is_not_found_and_a_bad_job_is_the_callers() {
        let missing = tonic::Status::from(JtError::NoSuchJob(JobId::from("job_1_0001")));
        assert_eq!(Reason::of(&missing), Reason::NotFound);
        assert_eq!(missing.message(), "no job job_1_0001");
        let bad = tonic::Status::from(JtError::InvalidJob("no stages".into()));
        assert_eq!(Reason::of(&bad), Reason::InvalidArgument);
        let gone = JtError::dfs("checking /in", ClientError::NotFound("/in".into()));
        assert_eq!(gone.reason(), Reason::InvalidArgument);
    }

    #[test]
    fn killing_an_ended_job_is_a_failed_precondition_saying_how_it_ended() {
        let e = JtError::AlreadyEnded {
            id: JobId("job_1_0001".into()),
            state: JobState::Succeeded,
        };
        let status = tonic::Status::from(e);
        assert_eq!(Reason::of(&status), Reason::FailedPrecondition);
        assert_eq!(
            status.message(),
            "job job_1_0001 already ended (it succeeded): there is nothing to kill"
        );
    }
}
