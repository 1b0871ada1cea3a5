//! The trash emptier (HDFS's TrashPolicyDefault.Emptier, run by the namenode): every
//! checkpoint interval, in each home directory's `.Trash`, checkpoints older than the trash
//! interval are deleted and `Current` is renamed to a new checkpoint named by the time. It
//! acts as the namenode, so a user's trash empties whatever its permissions.

use super::{now_ms, Metadata, Namesystem};
use crate::error::NnResult;
use crate::namespace::{Edit, Kind};
use common::trash::{self, CURRENT, HOMES};

/// The subdirectories of the directory at `path` (none if it is missing or a file).
fn subdirs(st: &Metadata, path: &str) -> NnResult<Vec<String>> {
    let Some(id) = st.ns.lookup(path)? else {
        return Ok(Vec::new());
    };
    let Kind::Dir(children) = &st.ns.inode(id)?.kind else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, &child) in children {
        if matches!(st.ns.inode(child)?.kind, Kind::Dir(_)) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

impl Namesystem {
    /// Period of the emptier; None when the trash is off.
    pub fn trash_checkpoint_period_ms(&self) -> Option<u64> {
        let c = &self.config;
        match (c.trash_interval_ms, c.trash_checkpoint_interval_ms) {
            (0, _) => None,
            (interval, 0) => Some(interval),
            (interval, every) => Some(every.min(interval)),
        }
    }

    /// One pass of the emptier over every home directory's trash. Safe mode skips it.
    pub fn empty_trash(&self) -> NnResult<()> {
        let interval = self.config.trash_interval_ms;
        if interval == 0 {
            return Ok(());
        }
        let now = now_ms();
        let mut st = self.meta.lock();
        if st.safe_mode.is_some() {
            return Ok(());
        }
        let mut last = None;
        for user in subdirs(&st, HOMES)? {
            let root = trash::trash_root(&user);
            let checkpoints = subdirs(&st, &root)?;
            for name in &checkpoints {
                let expired =
                    trash::checkpoint_time(name).is_some_and(|t| now >= t.saturating_add(interval));
                if expired {
                    let path = format!("{root}/{name}");
                    tracing::info!(%path, "trash checkpoint expired; deleting it");
                    last = Some(self.log(
                        &mut st,
                        Edit::Delete {
                            path: path.clone(),
                            mtime: now,
                        },
                    )?);
                    st.leases.deleted(&path);
                }
            }
            if checkpoints.iter().any(|c| c == CURRENT) {
                let src = format!("{root}/{CURRENT}");
                let dst = self.free_checkpoint_name(&st, &root, now)?;
                tracing::info!(%src, %dst, "trash checkpointed");
                last = Some(self.log(
                    &mut st,
                    Edit::Rename {
                        src: src.clone(),
                        dst: dst.clone(),
                        mtime: now,
                    },
                )?);
                st.leases.renamed(&src, &dst);
            }
        }
        drop(st);
        // Wait for the edits so a pass's work is on disk before the next starts.
        if let Some(c) = last {
            c.wait()?;
        }
        Ok(())
    }

    /// `root/yyMMddHHmmss`, or with `-N` when a checkpoint of that second exists.
    fn free_checkpoint_name(&self, st: &Metadata, root: &str, now: u64) -> NnResult<String> {
        let base = format!("{root}/{}", trash::checkpoint_name(now));
        let mut name = base.clone();
        let mut n = 1;
        while st.ns.lookup(&name)?.is_some() {
            name = format!("{base}-{n}");
            n += 1;
        }
        Ok(name)
    }
}
