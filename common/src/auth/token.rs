//! Signed tokens: what the cluster secret vouches for (a user, a job's delegation, a daemon, an
//! access to one block), until when, under which key. The text form is
//! `mr1.<base64url body>.<base64url HMAC-SHA256 of the body>`; the body is postcard.

use super::secret::{hmac, hmac_matches, ClusterSecret};
use super::verifier::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// A token's id, as `mrctl admin token revoke` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct TokenId(pub u64);

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for TokenId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        u64::from_str_radix(s, 16).map(TokenId).map_err(|_| {
            format!("not a token id: {s:?} (16 hex digits, as `mrctl admin token issue` printed)")
        })
    }
}

/// What one block access token allows, as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAccess(pub u8);

impl BlockAccess {
    pub const READ: BlockAccess = BlockAccess(1);
    pub const WRITE: BlockAccess = BlockAccess(2);
    /// Copying a replica to another datanode (re-replication, the balancer).
    pub const COPY: BlockAccess = BlockAccess(4);

    pub fn with(self, other: BlockAccess) -> BlockAccess {
        BlockAccess(self.0 | other.0)
    }

    pub fn allows(self, wanted: BlockAccess) -> bool {
        self.0 & wanted.0 == wanted.0
    }
}

impl std::fmt::Display for BlockAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [
            (Self::READ, "READ"),
            (Self::WRITE, "WRITE"),
            (Self::COPY, "COPY"),
        ]
        .into_iter()
        .filter(|(a, _)| self.allows(*a))
        .map(|(_, n)| n)
        .collect();
        f.write_str(&names.join("|"))
    }
}

/// What a token vouches for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grant {
    /// A user, issued by an administrator (`mrctl admin token issue`).
    User { user: String, groups: Vec<String> },
    /// A job's tasks acting as its submitter; revoked with the user token it came from.
    Delegation {
        user: String,
        groups: Vec<String>,
        job: String,
        parent: TokenId,
    },
    /// A cluster daemon of the named role.
    Service { role: String },
    /// Access to one block at one generation stamp, for the user the namenode handed it to.
    Block {
        block: u64,
        gen_stamp: u64,
        access: BlockAccess,
        user: String,
    },
}

/// A token's signed content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBody {
    pub id: TokenId,
    /// The secret's key that signed it.
    pub key_id: u32,
    pub issued_ms: u64,
    pub expires_ms: u64,
    pub grant: Grant,
}

/// The longest token text accepted: anything longer is garbage, refused before decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
const PREFIX: &str = "mr1.";
const PURPOSE: &[u8] = b"mr token v1";

impl TokenBody {
    /// A new token for `grant`, valid for `ttl_ms` from `now_ms`, to be signed by the secret's
    /// current key.
    pub fn new(
        secret: &ClusterSecret,
        grant: Grant,
        now_ms: u64,
        ttl_ms: u64,
    ) -> crate::Result<TokenBody> {
        Ok(TokenBody {
            id: TokenId(u64::from_le_bytes(super::random_bytes()?)),
            key_id: secret.current_id(),
            issued_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
            grant,
        })
    }

    /// The token's text form, signed with its key.
    pub fn sign(&self, secret: &ClusterSecret) -> crate::Result<String> {
        let body = postcard::to_allocvec(self)
            .map_err(|e| crate::Error::Internal(format!("encoding a token: {e}")))?;
        let key = secret.derive(self.key_id, PURPOSE).ok_or_else(|| {
            crate::Error::Internal(format!("no key {} in the cluster secret", self.key_id))
        })?;
        let mac = hmac(&key, &body);
        Ok(format!("{PREFIX}{}.{}", B64.encode(&body), B64.encode(mac)))
    }

    /// The body of `text` if the secret signed it, whatever its expiry (the verifier checks
    /// that, and revocation).
    pub fn open(secret: &ClusterSecret, text: &str) -> Result<TokenBody, AuthError> {
        let text = text.trim();
        if text.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Garbage("longer than any token".into()));
        }
        let rest = text.strip_prefix(PREFIX).ok_or_else(|| {
            AuthError::Garbage("not a token (it does not start with mr1.)".into())
        })?;
        let (body_b64, mac_b64) = rest
            .split_once('.')
            .ok_or_else(|| AuthError::Garbage("not a token (no signature part)".into()))?;
        let body = B64
            .decode(body_b64)
            .map_err(|_| AuthError::Garbage("not a token (bad base64)".into()))?;
        let mac = B64
            .decode(mac_b64)
            .map_err(|_| AuthError::Garbage("not a token (bad base64 signature)".into()))?;
        let parsed: TokenBody = postcard::from_bytes(&body)
            .map_err(|_| AuthError::Garbage("not a token (undecodable body)".into()))?;
        let key = secret
            .derive(parsed.key_id, PURPOSE)
            .ok_or(AuthError::Forged(
                "signed by a key this cluster does not have (retired, or another cluster's)",
            ))?;
        if !hmac_matches(&key, &body, &mac) {
            return Err(AuthError::Forged("its signature does not match"));
        }
        Ok(parsed)
    }
}

/// The id of a token's text without checking its signature: for naming a token in a log line or
/// a revocation, never for trusting it.
pub fn unverified_id(text: &str) -> Option<TokenId> {
    let rest = text.trim().strip_prefix(PREFIX)?;
    let body = B64.decode(rest.split_once('.')?.0).ok()?;
    postcard::from_bytes::<TokenBody>(&body).ok().map(|b| b.id)
}

/// The user a token's text names, without checking its signature: for resolving a client's
/// home directory (the namenode checks the token on every call), never for trusting it. A
/// service token names its role; a block token names nobody.
pub fn unverified_user(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix(PREFIX)?;
    let body = B64.decode(rest.split_once('.')?.0).ok()?;
    match postcard::from_bytes::<TokenBody>(&body).ok()?.grant {
        Grant::User { user, .. } | Grant::Delegation { user, .. } => Some(user),
        Grant::Service { role } => Some(role),
        Grant::Block { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ClusterSecret {
        ClusterSecret::from_keys(vec![(1, [3; 32])])
    }

    fn alice(s: &ClusterSecret) -> TokenBody {
        let grant = Grant::User {
            user: "alice".into(),
            groups: vec!["staff".into()],
        };
        TokenBody::new(s, grant, 1_000, 10_000).expect("token")
    }

    #[test]
    fn a_signed_token_opens_to_its_body() {
        let s = secret();
        let t = alice(&s);
        let text = t.sign(&s).expect("sign");
        assert_eq!(TokenBody::open(&s, &text).expect("open"), t);
        assert_eq!(unverified_id(&text), Some(t.id));
        assert_eq!(unverified_user(&text).as_deref(), Some("alice"));
    }

    #[test]
    fn a_changed_body_or_another_secret_is_forged() {
        let s = secret();
        let text = alice(&s).sign(&s).expect("sign");
        let other = ClusterSecret::from_keys(vec![(1, [4; 32])]);
        assert!(matches!(
            TokenBody::open(&other, &text),
            Err(AuthError::Forged(_))
        ));
        // Another body under the first token's signature.
        let mut bob = alice(&s);
        bob.grant = Grant::User {
            user: "bob".into(),
            groups: vec![],
        };
        let bob_text = bob.sign(&s).expect("sign");
        let forged = format!(
            "{}.{}",
            bob_text.rsplit_once('.').expect("dot").0,
            text.rsplit_once('.').expect("dot").1
        );
        assert!(matches!(
            TokenBody::open(&s, &forged),
            Err(AuthError::Forged(_))
        ));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let s = secret();
        for g in [
            "",
            "mr1.",
            "mr1.a.b",
            "hello",
            "mr1.////.////",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                matches!(TokenBody::open(&s, g), Err(AuthError::Garbage(_))),
                "{g:?}"
            );
        }
    }

    #[test]
    fn block_access_bits() {
        let rw = BlockAccess::READ.with(BlockAccess::WRITE);
        assert!(rw.allows(BlockAccess::READ));
        assert!(!rw.allows(BlockAccess::COPY));
        assert_eq!(rw.to_string(), "READ|WRITE");
    }
}
