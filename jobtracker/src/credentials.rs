//! A job's credentials: the delegation token its tasks (and the worker fetching its binary) act
//! with as its submitter, and the job key that signs its shuffle requests. The token's body
//! is journaled with the job (user, groups, parent token, key id, expiry: nothing secret), so
//! after a restart the job tracker signs the same token again and derives the same key.

use crate::error::{JtError, JtResult};
use crate::state::TrackerState;
use common::auth::{job_key, ClusterSecret, Grant, Identity, TokenBody, TokenId};
use common::ids::JobId;
use common::jobs::TaskCredentials;

/// A new delegation token body for `who`'s job, valid `ttl_ms` from `now_ms`; its job is set by
/// [`for_job`] once the job has an id. Reads the kernel's random bytes: call it outside locks.
pub fn mint(
    secret: &ClusterSecret,
    who: &Identity,
    now_ms: u64,
    ttl_ms: u64,
) -> JtResult<TokenBody> {
    let grant = Grant::Delegation {
        user: who.user.clone(),
        groups: who.groups.clone(),
        job: String::new(),
        // Revoking the submitter's token revokes the job's; a caller with no token (no
        // authenticator in front of the service) has none to tie it to.
        parent: who.token.unwrap_or(TokenId(0)),
    };
    TokenBody::new(secret, grant, now_ms, ttl_ms)
        .map_err(|e| JtError::Internal(format!("minting a delegation token: {e}")))
}

/// `body` bound to `job`.
pub fn for_job(mut body: TokenBody, id: &JobId) -> TokenBody {
    if let Grant::Delegation { job, .. } = &mut body.grant {
        *job = id.to_string();
    }
    body
}

/// What the job's tasks get: the token signed again and the job key derived again from the
/// secret. None when the key the token was made under has been retired since.
pub fn task_credentials(secret: &ClusterSecret, body: &TokenBody) -> Option<TaskCredentials> {
    let Grant::Delegation { job, .. } = &body.grant else {
        return None;
    };
    Some(TaskCredentials {
        token: body.sign(secret).ok()?,
        key_id: body.key_id,
        job_key: job_key::job_key(secret, body.key_id, job)?,
    })
}

/// Recovered jobs' tasks get the same token and key as before the restart.
pub fn restore(st: &mut TrackerState, secret: &ClusterSecret) {
    for job in &mut st.jobs {
        job.credentials = job
            .delegation
            .as_ref()
            .and_then(|d| task_credentials(secret, d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::Verifier;

    #[test]
    fn the_same_journaled_body_gives_the_same_credentials_and_acts_as_the_submitter() {
        let secret = ClusterSecret::from_keys(vec![(1, [2; 32])]);
        let who = Identity {
            token: Some(TokenId(42)),
            ..Identity::user("alice", vec!["staff".into()])
        };
        let id = JobId("job_1_0001".into());
        let body = for_job(mint(&secret, &who, 1_000, 60_000).expect("mint"), &id);
        let creds = task_credentials(&secret, &body).expect("credentials");
        // A restart re-reads the body from the journal and remakes both.
        let json = serde_json::to_vec(&body).expect("encode");
        let back: TokenBody = serde_json::from_slice(&json).expect("decode");
        assert_eq!(task_credentials(&secret, &back), Some(creds.clone()));
        assert_eq!(
            Some(creds.job_key),
            job_key::job_key(&secret, 1, "job_1_0001")
        );

        let v = Verifier::new(secret.clone());
        let as_whom = v.identity(Some(&creds.token), 2_000).expect("valid");
        assert_eq!(
            (as_whom.user.as_str(), as_whom.groups.clone()),
            ("alice", vec!["staff".to_string()])
        );
        // Expired past its lifetime; revoked with the submitter's token.
        assert!(v.identity(Some(&creds.token), 61_000).is_err());
        v.revoke(TokenId(42));
        assert!(v.identity(Some(&creds.token), 2_000).is_err());
        // The credentials never show in a debug print.
        assert!(!format!("{creds:?}").contains(&creds.token));
    }
}
