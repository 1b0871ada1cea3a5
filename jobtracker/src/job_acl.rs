//! Who may act on a job: killing it and reading its task logs need its owner, an admin of its
//! queue (`admins` in the queue's config: users, and groups as `@group`) or the superuser (the
//! job tracker's own user, or a member of `[security] supergroup`). Status and listings stay
//! readable by any authenticated user, as Hadoop's default view-job ACL has it.

use crate::error::{JtError, JtResult};
use common::auth::Identity;
use common::config::QueueConfig;
use common::ids::JobId;

/// What the caller wants to do to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobAction {
    Kill,
    ReadLogs,
}

impl std::fmt::Display for JobAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobAction::Kill => "kill",
            JobAction::ReadLogs => "read the logs of",
        })
    }
}

/// The superuser's definition: the job tracker's own OS user and a group.
#[derive(Clone, Debug)]
pub struct Superuser {
    pub user: String,
    pub group: String,
}

impl Superuser {
    pub fn is(&self, who: &Identity) -> bool {
        who.user == self.user || (!self.group.is_empty() && who.in_group(&self.group))
    }
}

/// Whether `who` may do `action` to the job `job` owned by `owner` in `queue`; a refusal names
/// the user, the action and the job.
pub fn check(
    who: &Identity,
    action: JobAction,
    job: &JobId,
    owner: &str,
    queue: Option<&QueueConfig>,
    superuser: &Superuser,
) -> JtResult<()> {
    let queue_admin = queue.is_some_and(|q| {
        q.admins.iter().any(|a| match a.strip_prefix('@') {
            Some(group) => who.in_group(group),
            None => *a == who.user,
        })
    });
    // A daemon holding the cluster secret is trusted with every job.
    if who.service || who.user == owner || queue_admin || superuser.is(who) {
        return Ok(());
    }
    Err(JtError::PermissionDenied(format!(
        "permission denied: user={} may not {action} job {job} (owned by {owner}{}): only its \
         owner, an admin of its queue or the superuser may",
        who.user,
        queue.map_or(String::new(), |q| format!(", queue {}", q.name)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> QueueConfig {
        QueueConfig {
            admins: vec!["carol".into(), "@ops".into()],
            ..QueueConfig::named("prod")
        }
    }

    fn su() -> Superuser {
        Superuser {
            user: "mapred".into(),
            group: "supergroup".into(),
        }
    }

    fn may(who: Identity) -> JtResult<()> {
        let q = queue();
        check(
            &who,
            JobAction::Kill,
            &JobId("job_1_0001".into()),
            "alice",
            Some(&q),
            &su(),
        )
    }

    #[test]
    fn the_owner_queue_admins_and_the_superuser_may_act_others_may_not() {
        assert!(may(Identity::user("alice", vec![])).is_ok());
        assert!(
            may(Identity::user("carol", vec![])).is_ok(),
            "queue admin by name"
        );
        assert!(
            may(Identity::user("dave", vec!["ops".into()])).is_ok(),
            "by group"
        );
        assert!(
            may(Identity::user("mapred", vec![])).is_ok(),
            "the job tracker's user"
        );
        assert!(may(Identity::user("eve", vec!["supergroup".into()])).is_ok());
        assert!(may(Identity::service("worker")).is_ok());
        let err = may(Identity::user("bob", vec!["staff".into()])).expect_err("bob");
        assert_eq!(err.reason(), proto::Reason::PermissionDenied);
        let msg = err.to_string();
        assert!(
            msg.contains("user=bob") && msg.contains("kill") && msg.contains("job_1_0001"),
            "{msg}"
        );
        let logs = check(
            &Identity::user("bob", vec![]),
            JobAction::ReadLogs,
            &JobId("job_1_0001".into()),
            "alice",
            None,
            &su(),
        )
        .expect_err("bob reading alice's logs");
        assert!(
            logs.to_string().contains("read the logs of job job_1_0001"),
            "{logs}"
        );
        // A group named like an admin user is not that user.
        assert!(may(Identity::user("bob", vec!["carol".into()])).is_err());
    }
}
