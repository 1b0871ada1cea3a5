//! Revoked tokens: the ids an administrator revoked (`mrctl admin token revoke`), kept in the
//! meta dir (`revoked_tokens`, one id per line, replaced atomically) so a restart keeps refusing
//! them, and handed to the verifier. Who may revoke: superusers (the namenode's own OS user,
//! members of the `[security] supergroup`, and the cluster's daemons).

use crate::error::{NnError, NnResult};
use common::auth::{Identity, TokenId, Verifier};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file, under the meta dir.
pub const FILE: &str = "revoked_tokens";

pub struct Revocations {
    path: PathBuf,
    ids: Mutex<BTreeSet<TokenId>>,
    verifier: Option<Arc<Verifier>>,
}

impl Revocations {
    /// Loads the revoked ids from `meta_dir` (none yet: an empty list) into `verifier`.
    pub fn open(meta_dir: &Path, verifier: Option<Arc<Verifier>>) -> common::Result<Revocations> {
        use common::error::IoContext;
        let path = meta_dir.join(FILE);
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|e| common::Error::Config {
                path: path.clone(),
                message: format!("damaged list of revoked tokens: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(e).at(&path),
        };
        if let Some(v) = &verifier {
            v.set_revoked(ids.iter().copied());
        }
        Ok(Revocations {
            path,
            ids: Mutex::new(ids),
            verifier,
        })
    }

    /// Revokes `id`: durable (fsynced) before it returns, refused by the verifier from then on.
    /// Blocking (disk): call it on the blocking pool.
    pub fn revoke(&self, id: TokenId) -> NnResult<()> {
        // Held across the write so two revocations cannot write the file out of order.
        let mut ids = self.ids.lock();
        if ids.contains(&id) {
            return Ok(());
        }
        let mut next = ids.clone();
        next.insert(id);
        let text: String = next.iter().map(|i| format!("{i}\n")).collect();
        common::fsutil::atomic_write(&self.path, text.as_bytes())
            .map_err(|e| NnError::Internal(format!("recording a revoked token: {e}")))?;
        *ids = next;
        if let Some(v) = &self.verifier {
            v.revoke(id);
        }
        Ok(())
    }

    pub fn ids(&self) -> Vec<TokenId> {
        self.ids.lock().iter().copied().collect()
    }
}

fn parse(text: &str) -> Result<BTreeSet<TokenId>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.parse::<TokenId>())
        .collect()
}

/// Whether `id` is a superuser: a cluster daemon, the namenode's own OS user `nn_user`, or a
/// member of `supergroup`.
pub fn is_superuser(id: &Identity, nn_user: &str, supergroup: &str) -> bool {
    id.service || id.user == nn_user || (!supergroup.is_empty() && id.in_group(supergroup))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::ClusterSecret;

    #[test]
    fn revoked_ids_survive_a_restart_and_reach_the_verifier() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Arc::new(Verifier::new(ClusterSecret::from_keys(vec![(1, [1; 32])])));
        let r = Revocations::open(dir.path(), Some(v)).expect("open");
        r.revoke(TokenId(0xabc)).expect("revoke");
        r.revoke(TokenId(0x12)).expect("revoke");
        r.revoke(TokenId(0xabc)).expect("again");
        drop(r);
        let v = Arc::new(Verifier::new(ClusterSecret::from_keys(vec![(1, [1; 32])])));
        let r = Revocations::open(dir.path(), Some(v)).expect("reopen");
        assert_eq!(r.ids(), vec![TokenId(0x12), TokenId(0xabc)]);
        std::fs::write(dir.path().join(FILE), "zz\n").expect("damage");
        assert!(Revocations::open(dir.path(), None).is_err());
    }

    #[test]
    fn superusers_are_daemons_the_namenode_user_and_the_supergroup() {
        assert!(is_superuser(&Identity::service("jobtracker"), "hdfs", "sg"));
        assert!(is_superuser(&Identity::user("hdfs", vec![]), "hdfs", "sg"));
        assert!(is_superuser(
            &Identity::user("ann", vec!["sg".into()]),
            "hdfs",
            "sg"
        ));
        assert!(!is_superuser(
            &Identity::user("bob", vec!["staff".into()]),
            "hdfs",
            "sg"
        ));
    }
}
