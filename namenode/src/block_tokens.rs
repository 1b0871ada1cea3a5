//! Minting block access tokens: the namenode hands one with every located block, pipeline
//! update, copy and recovery command, so a datanode serves a block only to whom the namenode
//! allowed it, for that block's generation and that access, for `block_token_lifetime_ms`.

use common::auth::{BlockAccess, ClusterSecret, Grant, TokenBody, TokenId};
use common::config::SecurityConfig;
use std::sync::atomic::{AtomicU64, Ordering};

/// The namenode's block token minter; mints empty tokens in insecure mode.
pub struct BlockTokens {
    secret: Option<ClusterSecret>,
    lifetime_ms: u64,
    /// Token ids: random start, then counted, so minting never reads `/dev/urandom` (a
    /// listing of a large file mints thousands).
    next_id: AtomicU64,
}

impl BlockTokens {
    /// Loads the cluster secret named by `[security] secret_file` (refusing one its group or
    /// others can read), unless the cluster runs insecure.
    pub fn from_config(security: &SecurityConfig) -> common::Result<BlockTokens> {
        let secret = if security.insecure {
            None
        } else {
            Some(ClusterSecret::load(&security.secret_file)?)
        };
        BlockTokens::new(secret, security.block_token_lifetime_ms)
    }

    pub fn new(secret: Option<ClusterSecret>, lifetime_ms: u64) -> common::Result<BlockTokens> {
        Ok(BlockTokens {
            secret,
            lifetime_ms,
            next_id: AtomicU64::new(u64::from_le_bytes(common::auth::random_bytes()?)),
        })
    }

    /// Insecure mode: every token is empty.
    pub fn insecure() -> BlockTokens {
        BlockTokens {
            secret: None,
            lifetime_ms: 0,
            next_id: AtomicU64::new(0),
        }
    }

    /// A token for `user` to `access` block `block` at generation `gen` (and later ones),
    /// valid from `now_ms` for the configured lifetime; empty in insecure mode.
    pub fn mint(
        &self,
        block: u64,
        gen: u64,
        access: BlockAccess,
        user: &str,
        now_ms: u64,
    ) -> String {
        let Some(secret) = &self.secret else {
            return String::new();
        };
        let body = TokenBody {
            id: TokenId(self.next_id.fetch_add(1, Ordering::Relaxed)),
            key_id: secret.current_id(),
            issued_ms: now_ms,
            expires_ms: now_ms.saturating_add(self.lifetime_ms),
            grant: Grant::Block {
                block,
                gen_stamp: gen,
                access,
                user: user.to_string(),
            },
        };
        // Signing fails only when the secret lacks its own current key, which cannot be: an
        // empty token then makes the datanode refuse, naming the missing token.
        body.sign(secret).unwrap_or_else(|e| {
            tracing::error!(block, error = %e, "cannot sign a block token (this is a bug)");
            String::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::Verifier;

    #[test]
    fn a_minted_token_opens_its_block_for_its_lifetime_only() {
        let s = ClusterSecret::from_keys(vec![(1, [5; 32])]);
        let t = BlockTokens::new(Some(s.clone()), 1_000).expect("tokens");
        let v = Verifier::new(s);
        let tok = t.mint(9, 3, BlockAccess::READ, "alice", 10_000);
        assert_eq!(
            v.block_access(Some(&tok), 10_999, 9, 3, BlockAccess::READ),
            Ok("alice".to_string())
        );
        assert!(v
            .block_access(Some(&tok), 11_000, 9, 3, BlockAccess::READ)
            .is_err());
        assert!(v
            .block_access(Some(&tok), 10_500, 9, 3, BlockAccess::WRITE)
            .is_err());
        assert_ne!(tok, t.mint(9, 3, BlockAccess::READ, "alice", 10_000));
        assert_eq!(
            BlockTokens::insecure().mint(9, 3, BlockAccess::READ, "a", 0),
            ""
        );
    }
}
