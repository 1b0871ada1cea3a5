//! The trash, client side (HDFS's TrashPolicyDefault): `rm` moves a path to the caller's
//! `/user/NAME/.Trash/Current/<path>` when the namenode's trash interval is on, and `expunge`
//! checkpoints `Current` and deletes expired checkpoints now. The namenode's emptier does the
//! same periodically for every user.

use crate::dfs::DfsClient;
use crate::error::{ClientError, ClientResult};
use common::trash::{self, CURRENT};
use std::time::{SystemTime, UNIX_EPOCH};

/// What one `expunge` did, in order: checkpoints deleted and the checkpoint created.
#[derive(Debug, Default)]
pub struct Expunged {
    pub deleted: Vec<String>,
    pub created: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `path`'s parent ("/" for a top-level entry).
fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl DfsClient {
    /// Moves `path` (absolute) to the caller's trash and returns where it went; None when it is
    /// to be deleted instead: the trash is off (interval 0) or the path is in a trash already.
    pub fn move_to_trash(&self, path: &str) -> ClientResult<Option<String>> {
        let defaults = self.server_defaults()?;
        let path = format!("/{}", path.trim_matches('/'));
        if defaults.trash_interval_ms == 0 || trash::in_trash(&path) {
            return Ok(None);
        }
        let root = trash::trash_root(&defaults.user);
        if root.starts_with(&format!("{}/", path.trim_end_matches('/'))) {
            return Err(ClientError::Namenode {
                reason: proto::Reason::InvalidArgument,
                message: format!(
                    "cannot move {path} to the trash, as it contains the trash ({root}); \
                     remove it with -skipTrash"
                ),
            });
        }
        // Fails naming the path when it does not exist.
        self.stat(&path)?;
        if !self.exists(&root)? {
            self.mkdirs(&root)?;
            // What a user removed is theirs alone to see (HDFS makes the trash 0700).
            self.set_permission(&root, 0o700)?;
        }
        let target = trash::trash_target(&defaults.user, &path);
        self.mkdirs(parent_of(&target))?;
        // A name already in Current gets the time appended, as HDFS does.
        let dst = if self.exists(&target)? {
            format!("{target}{}", now_ms())
        } else {
            target
        };
        self.rename(&path, &dst)?;
        Ok(Some(dst))
    }

    /// HDFS's `expunge`: deletes the caller's checkpoints older than the trash interval (all
    /// of them when `immediate`), and makes `Current` a checkpoint.
    pub fn expunge(&self, immediate: bool) -> ClientResult<Expunged> {
        let defaults = self.server_defaults()?;
        let root = trash::trash_root(&defaults.user);
        let mut out = Expunged::default();
        if !self.exists(&root)? {
            return Ok(out);
        }
        let now = now_ms();
        let interval = defaults.trash_interval_ms;
        let mut checkpoints = Vec::new();
        let mut has_current = false;
        for e in self.list(&root)? {
            let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
            if name == CURRENT {
                has_current = true;
            } else if let Some(t) = trash::checkpoint_time(&name) {
                checkpoints.push((e.path.clone(), t));
            }
        }
        if has_current {
            let base = format!("{root}/{}", trash::checkpoint_name(now));
            let mut name = base.clone();
            let mut n = 1;
            while self.exists(&name)? {
                name = format!("{base}-{n}");
                n += 1;
            }
            self.rename(&format!("{root}/{CURRENT}"), &name)?;
            if immediate {
                checkpoints.push((name.clone(), now));
            }
            out.created = Some(name);
        }
        for (path, t) in checkpoints {
            if immediate || now >= t.saturating_add(interval) {
                self.delete(&path, true)?;
                out.deleted.push(path);
            }
        }
        Ok(out)
    }
}
