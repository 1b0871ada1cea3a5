//! Checks tokens for a daemon: signature, expiry, revocation and kind, counting every refusal
//! by its reason so an operator can see attacks and misconfigured clients.

use super::identity::Identity;
use super::secret::ClusterSecret;
use super::token::{BlockAccess, Grant, TokenBody, TokenId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Why a token was refused; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token: pass one with `mrctl --token FILE` or set [security] token_file (an administrator issues one with `mrctl admin token issue --user NAME`)")]
    Missing,
    #[error("malformed token: {0}")]
    Garbage(String),
    #[error("forged token: {0}")]
    Forged(&'static str),
    #[error("expired token {id} (expired at {expires_ms} ms since the epoch): ask an administrator for a new one")]
    Expired { id: TokenId, expires_ms: u64 },
    #[error("revoked token {0}: ask an administrator for a new one")]
    Revoked(TokenId),
    #[error("wrong kind of token: {0}")]
    WrongKind(String),
}

impl AuthError {
    /// A short name for counting and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Garbage(_) => "malformed",
            AuthError::Forged(_) => "forged",
            AuthError::Expired { .. } => "expired",
            AuthError::Revoked(_) => "revoked",
            AuthError::WrongKind(_) => "wrong_kind",
        }
    }
}

/// Refusals so far, by reason.
#[derive(Debug, Default)]
pub struct Refusals {
    pub missing: AtomicU64,
    pub malformed: AtomicU64,
    pub forged: AtomicU64,
    pub expired: AtomicU64,
    pub revoked: AtomicU64,
    pub wrong_kind: AtomicU64,
}

impl Refusals {
    fn count(&self, e: &AuthError) {
        let c = match e {
            AuthError::Missing => &self.missing,
            AuthError::Garbage(_) => &self.malformed,
            AuthError::Forged(_) => &self.forged,
            AuthError::Expired { .. } => &self.expired,
            AuthError::Revoked(_) => &self.revoked,
            AuthError::WrongKind(_) => &self.wrong_kind,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(reason, count)` for every reason.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        [
            ("missing", &self.missing),
            ("malformed", &self.malformed),
            ("forged", &self.forged),
            ("expired", &self.expired),
            ("revoked", &self.revoked),
            ("wrong_kind", &self.wrong_kind),
        ]
        .into_iter()
        .map(|(n, c)| (n, c.load(Ordering::Relaxed)))
        .collect()
    }
}

/// A daemon's token checker.
#[derive(Debug)]
pub struct Verifier {
    secret: ClusterSecret,
    revoked: RwLock<HashSet<TokenId>>,
    pub refusals: Refusals,
}

impl Verifier {
    pub fn new(secret: ClusterSecret) -> Verifier {
        Verifier {
            secret,
            revoked: RwLock::new(HashSet::new()),
            refusals: Refusals::default(),
        }
    }

    pub fn secret(&self) -> &ClusterSecret {
        &self.secret
    }

    /// Replaces the set of revoked token ids.
    pub fn set_revoked(&self, ids: impl IntoIterator<Item = TokenId>) {
        let set: HashSet<TokenId> = ids.into_iter().collect();
        *self.revoked.write().unwrap_or_else(|p| p.into_inner()) = set;
    }

    pub fn revoke(&self, id: TokenId) {
        self.revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
    }

    fn is_revoked(&self, id: TokenId) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// The signed, unexpired, unrevoked body of `text`; every refusal is counted.
    pub fn open(&self, text: Option<&str>, now_ms: u64) -> Result<TokenBody, AuthError> {
        let r = self.open_uncounted(text, now_ms);
        if let Err(e) = &r {
            self.refusals.count(e);
        }
        r
    }

    fn open_uncounted(&self, text: Option<&str>, now_ms: u64) -> Result<TokenBody, AuthError> {
        let text = text
            .filter(|t| !t.trim().is_empty())
            .ok_or(AuthError::Missing)?;
        let body = TokenBody::open(&self.secret, text)?;
        if body.expires_ms <= now_ms {
            return Err(AuthError::Expired {
                id: body.id,
                expires_ms: body.expires_ms,
            });
        }
        if self.is_revoked(body.id) {
            return Err(AuthError::Revoked(body.id));
        }
        if let Grant::Delegation { parent, .. } = &body.grant {
            if self.is_revoked(*parent) {
                return Err(AuthError::Revoked(*parent));
            }
        }
        Ok(body)
    }

    /// Who the caller of an RPC is: a user, a job's delegation or a daemon. Block tokens are
    /// refused here.
    pub fn identity(&self, text: Option<&str>, now_ms: u64) -> Result<Identity, AuthError> {
        let body = self.open(text, now_ms)?;
        let id = match body.grant {
            Grant::User { user, groups } => Identity::user(user, groups),
            // A job's tasks act as its user; a token they derive carries on the user's token.
            Grant::Delegation {
                user,
                groups,
                parent,
                ..
            } => Identity {
                token: Some(parent),
                ..Identity::user(user, groups)
            },
            Grant::Service { role } => Identity::service(role),
            Grant::Block { .. } => {
                let e = AuthError::WrongKind("a block access token cannot call RPCs".into());
                self.refusals.count(&e);
                return Err(e);
            }
        };
        Ok(Identity {
            token: id.token.or(Some(body.id)),
            ..id
        })
    }

    /// Checks a block access token for `access` to `block` at `gen_stamp`; the user it was
    /// handed to on success.
    pub fn block_access(
        &self,
        text: Option<&str>,
        now_ms: u64,
        block: u64,
        gen_stamp: u64,
        access: BlockAccess,
    ) -> Result<String, AuthError> {
        let body = self.open(text, now_ms)?;
        let refuse = |why: String| {
            let e = AuthError::WrongKind(why);
            self.refusals.count(&e);
            Err(e)
        };
        match body.grant {
            Grant::Block {
                block: b,
                gen_stamp: g,
                access: a,
                user,
            } => {
                if b != block {
                    refuse(format!("the token is for block {b}, not {block}"))
                } else if g > gen_stamp {
                    // A token for a newer generation never opens an older replica; a token of
                    // an older generation is fine for a newer one (pipeline recovery bumps it).
                    refuse(format!(
                        "the token is for generation {g} of block {b}, newer than {gen_stamp}"
                    ))
                } else if !a.allows(access) {
                    refuse(format!("the token allows {a}, not {access}"))
                } else {
                    Ok(user)
                }
            }
            _ => refuse("not a block access token".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Verifier, ClusterSecret) {
        let s = ClusterSecret::from_keys(vec![(1, [9; 32])]);
        (Verifier::new(s.clone()), s)
    }

    fn user_token(s: &ClusterSecret, ttl: u64) -> (TokenBody, String) {
        let g = Grant::User {
            user: "alice".into(),
            groups: vec!["staff".into()],
        };
        let b = TokenBody::new(s, g, 1_000, ttl).expect("token");
        let t = b.sign(s).expect("sign");
        (b, t)
    }

    #[test]
    fn identity_comes_from_a_good_token_and_refusals_are_counted() {
        let (v, s) = setup();
        let (_, t) = user_token(&s, 10_000);
        let id = v.identity(Some(&t), 2_000).expect("valid");
        assert_eq!(id.user, "alice");
        assert_eq!(id.groups, vec!["staff".to_string()]);
        assert_eq!(v.identity(None, 2_000), Err(AuthError::Missing));
        assert!(matches!(
            v.identity(Some(&t), 20_000),
            Err(AuthError::Expired { .. })
        ));
        assert!(matches!(
            v.identity(Some("junk"), 2_000),
            Err(AuthError::Garbage(_))
        ));
        let snap = v.refusals.snapshot();
        assert!(
            snap.contains(&("missing", 1)) && snap.contains(&("expired", 1)),
            "{snap:?}"
        );
    }

    #[test]
    fn revoking_a_user_token_revokes_its_delegations() {
        let (v, s) = setup();
        let (user, t) = user_token(&s, 10_000);
        let d = TokenBody::new(
            &s,
            Grant::Delegation {
                user: "alice".into(),
                groups: vec![],
                job: "job_1".into(),
                parent: user.id,
            },
            1_000,
            10_000,
        )
        .expect("token")
        .sign(&s)
        .expect("sign");
        assert!(v.identity(Some(&d), 2_000).is_ok());
        v.revoke(user.id);
        assert_eq!(
            v.identity(Some(&t), 2_000),
            Err(AuthError::Revoked(user.id))
        );
        assert_eq!(
            v.identity(Some(&d), 2_000),
            Err(AuthError::Revoked(user.id))
        );
    }

    #[test]
    fn a_block_token_opens_only_its_block_generation_and_access() {
        let (v, s) = setup();
        let g = Grant::Block {
            block: 5,
            gen_stamp: 2,
            access: BlockAccess::READ,
            user: "alice".into(),
        };
        let t = TokenBody::new(&s, g, 1_000, 10_000)
            .expect("t")
            .sign(&s)
            .expect("sign");
        assert_eq!(
            v.block_access(Some(&t), 2_000, 5, 2, BlockAccess::READ)
                .as_deref(),
            Ok("alice")
        );
        assert!(v
            .block_access(Some(&t), 2_000, 5, 3, BlockAccess::READ)
            .is_ok());
        assert!(v
            .block_access(Some(&t), 2_000, 6, 2, BlockAccess::READ)
            .is_err());
        assert!(v
            .block_access(Some(&t), 2_000, 5, 1, BlockAccess::READ)
            .is_err());
        assert!(v
            .block_access(Some(&t), 2_000, 5, 2, BlockAccess::WRITE)
            .is_err());
        assert!(v.identity(Some(&t), 2_000).is_err());
    }
}
