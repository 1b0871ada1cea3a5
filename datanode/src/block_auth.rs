//! Block access tokens at the datanode: every transfer op is checked against the token the
//! namenode handed out (exact block, generation, access) before anything is read, written or
//! told; refusals are counted and logged with the peer, at most one line a second.

use common::auth::{AuthError, BlockAccess, ClusterSecret, Verifier};
use common::config::SecurityConfig;
use common::transfer::{TOKEN_EXPIRED, TOKEN_REFUSED};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two refusal log lines: garbage from one peer cannot flood the log.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The datanode's token checker; `None` inside in insecure mode (nothing is checked).
pub struct BlockAuth {
    verifier: Option<Verifier>,
    /// When the last refusal was logged, and how many were not logged since.
    log: Mutex<(Option<Instant>, u64)>,
}

impl BlockAuth {
    /// Loads the cluster secret named by `[security] secret_file` (refusing one its group or
    /// others can read), unless the cluster runs insecure.
    pub fn from_config(security: &SecurityConfig) -> common::Result<BlockAuth> {
        if security.insecure {
            return Ok(Self::new(None));
        }
        Ok(Self::new(Some(ClusterSecret::load(&security.secret_file)?)))
    }

    pub fn new(secret: Option<ClusterSecret>) -> BlockAuth {
        BlockAuth {
            verifier: secret.map(Verifier::new),
            log: Mutex::new((None, 0)),
        }
    }

    /// Whether tokens are checked (false in insecure mode).
    pub fn enabled(&self) -> bool {
        self.verifier.is_some()
    }

    /// Refusals so far, by reason (empty in insecure mode).
    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        self.verifier
            .as_ref()
            .map(|v| v.refusals.snapshot())
            .unwrap_or_default()
    }

    /// Checks `token` for `access` to `block` at generation `gen`. On refusal, the message for
    /// the peer (it starts with [`TOKEN_REFUSED`] and the reason in brackets).
    pub fn check(
        &self,
        token: &str,
        block: u64,
        gen: u64,
        access: BlockAccess,
        op: &str,
        peer: &str,
    ) -> Result<(), String> {
        let Some(v) = &self.verifier else {
            return Ok(());
        };
        let token = Some(token).filter(|t| !t.is_empty());
        match v.block_access(token, common::auth::now_ms(), block, gen, access) {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = refusal_message(&e, block);
                self.log_refusal(&e, block, op, peer);
                Err(message)
            }
        }
    }

    fn log_refusal(&self, e: &AuthError, block: u64, op: &str, peer: &str) {
        let suppressed = {
            let mut log = self.log.lock();
            let now = Instant::now();
            if log
                .0
                .is_some_and(|last| now.duration_since(last) < LOG_EVERY)
            {
                log.1 += 1;
                return;
            }
            log.0 = Some(now);
            std::mem::take(&mut log.1)
        };
        tracing::warn!(
            %peer,
            block,
            op,
            reason = e.reason(),
            error = %e,
            suppressed,
            "refused a block transfer: bad block access token; connection closed"
        );
    }
}

/// What the peer is told: the reason first (so a client can tell an expired token, which new
/// locations renew, from one that will never do), then what to do.
fn refusal_message(e: &AuthError, block: u64) -> String {
    let (reason, detail) = match e {
        AuthError::Missing => (
            "(missing)".to_string(),
            "no token was sent; the namenode hands one with each block's locations (a client \
             configured insecure cannot use a secure cluster)"
                .to_string(),
        ),
        AuthError::Expired { id, expires_ms } => (
            TOKEN_EXPIRED.to_string(),
            format!(
                "token {id} expired at {expires_ms} ms since the epoch; fetch the block's \
                 locations again for a new one"
            ),
        ),
        AuthError::Forged(why) => (
            "(forged)".to_string(),
            format!("{why}; tokens must come from this cluster's namenode"),
        ),
        AuthError::Garbage(why) => ("(malformed)".to_string(), why.clone()),
        AuthError::Revoked(id) => ("(revoked)".to_string(), format!("token {id} is revoked")),
        AuthError::WrongKind(why) => ("(not allowed)".to_string(), why.clone()),
    };
    format!("{TOKEN_REFUSED} {reason}: blk_{block}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::{Grant, TokenBody, TokenId};
    use common::transfer::refused_token;

    fn secret(k: u8) -> ClusterSecret {
        ClusterSecret::from_keys(vec![(1, [k; 32])])
    }

    fn token(s: &ClusterSecret, block: u64, gen: u64, access: BlockAccess, exp: u64) -> String {
        TokenBody {
            id: TokenId(7),
            key_id: 1,
            issued_ms: 0,
            expires_ms: exp,
            grant: Grant::Block {
                block,
                gen_stamp: gen,
                access,
                user: "alice".into(),
            },
        }
        .sign(s)
        .expect("sign")
    }

    #[test]
    fn every_bad_token_is_refused_with_its_reason_and_counted() {
        let s = secret(1);
        let auth = BlockAuth::new(Some(s.clone()));
        let far = u64::MAX / 2;
        let ok = token(&s, 5, 2, BlockAccess::READ, far);
        assert_eq!(
            auth.check(&ok, 5, 2, BlockAccess::READ, "read", "p"),
            Ok(())
        );
        let refused = |t: &str, block, access| {
            auth.check(t, block, 2, access, "read", "p")
                .expect_err("refused")
        };
        let m = refused("", 5, BlockAccess::READ);
        assert!(m.contains("(missing)") && m.contains("blk_5"), "{m}");
        let m = refused(
            &token(&secret(2), 5, 2, BlockAccess::READ, far),
            5,
            BlockAccess::READ,
        );
        assert!(m.contains("(forged)"), "{m}");
        let m = refused(&token(&s, 5, 2, BlockAccess::READ, 1), 5, BlockAccess::READ);
        assert_eq!(refused_token(&m), Some(true), "{m}");
        let m = refused(&ok, 6, BlockAccess::READ);
        assert!(m.contains("for block 5, not 6"), "{m}");
        let m = refused(&ok, 5, BlockAccess::WRITE);
        assert!(m.contains("allows READ, not WRITE"), "{m}");
        assert_eq!(refused_token(&m), Some(false));
        let counts = auth.refusals();
        for (reason, n) in [
            ("missing", 1),
            ("forged", 1),
            ("expired", 1),
            ("wrong_kind", 2),
        ] {
            assert!(counts.contains(&(reason, n)), "{reason}: {counts:?}");
        }
    }

    #[test]
    fn insecure_mode_checks_nothing() {
        let auth = BlockAuth::new(None);
        assert!(!auth.enabled());
        assert_eq!(
            auth.check("", 1, 1, BlockAccess::WRITE, "write", "p"),
            Ok(())
        );
    }
}
