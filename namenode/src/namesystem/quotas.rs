//! Quotas at the namesystem level: setting and clearing them (superusers only, journaled), and
//! the checks the client operations make before they log an edit that adds names or space
//! (create, mkdirs, add a block, raise replication, rename into a directory). The counting
//! itself lives with the namespace ([`crate::namespace::DirQuota`]).

use super::{Metadata, Namesystem};
use crate::error::{NnError, NnResult};
use crate::namespace::{self, file_space, Edit, InodeId, Kind, ROOT};
use crate::permission::Subject;
use common::journal::Commit;

/// What to do to one of a directory's quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaChange {
    Keep,
    Set(u64),
    Clear,
}

impl QuotaChange {
    fn applied_to(self, current: Option<u64>) -> Option<u64> {
        match self {
            QuotaChange::Keep => current,
            QuotaChange::Set(n) => Some(n),
            QuotaChange::Clear => None,
        }
    }
}

/// A directory's quotas and what counts against them, for a content summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaInfo {
    pub names: Option<u64>,
    pub space: Option<u64>,
}

impl Namesystem {
    /// `mrctl admin quota set|clear`: changes a directory's name and space quotas. Superusers
    /// only, as HDFS's `dfsadmin -setQuota`. A quota below what is already used is accepted
    /// (as HDFS does): it only refuses what would add more.
    pub fn set_quota(
        &self,
        who: &Subject,
        path: &str,
        names: QuotaChange,
        space: QuotaChange,
    ) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        if !who.superuser {
            return Err(NnError::PermissionDenied(format!(
                "user={} may not change the quotas of {path}: only superusers may (the \
                 namenode's user {}, or members of the group {})",
                who.user, self.nn_user, self.config.security.supergroup
            )));
        }
        if names == QuotaChange::Set(0) {
            return Err(NnError::InvalidArgument(format!(
                "{path}: a name quota must be at least 1 (the directory itself counts)"
            )));
        }
        let mut st = self.meta.lock();
        st.check_writable()?;
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        if !matches!(st.ns.inode(id)?.kind, Kind::Dir(_)) {
            return Err(NnError::InvalidArgument(format!(
                "{path}: is a file; quotas are set on directories"
            )));
        }
        let current = st.ns.quota(id);
        let edit = Edit::SetQuota {
            path,
            names: names.applied_to(current.and_then(|q| q.names)),
            space: space.applied_to(current.and_then(|q| q.space)),
        };
        self.log(&mut st, edit)
    }

    /// The quotas of the directory at `path` (none for a file or a directory without).
    pub(super) fn quota_of(st: &Metadata, path: &str) -> NnResult<QuotaInfo> {
        let q = st.ns.lookup(path)?.and_then(|id| st.ns.quota(id));
        Ok(QuotaInfo {
            names: q.and_then(|q| q.names),
            space: q.and_then(|q| q.space),
        })
    }
}

impl Metadata {
    /// Refuses making `path` (and its missing parents) when a name quota above it would go
    /// over.
    pub(super) fn check_new_names(&self, path: &str) -> NnResult<()> {
        let comps = namespace::components(path)?;
        let (mut cur, mut found) = (ROOT, 0u64);
        for c in &comps {
            match &self.ns.inode(cur)?.kind {
                Kind::Dir(ch) => match ch.get(*c) {
                    Some(&id) => {
                        cur = id;
                        found += 1;
                    }
                    None => break,
                },
                Kind::File(_) => break,
            }
        }
        let missing = comps.len() as u64 - found;
        self.ns.check_quota(cur, missing, 0, None)
    }

    /// Refuses a new block for the file at `id` when a space quota above it would go over: the
    /// new block counts in full (it may fill), the previous one at the length it ends with.
    pub(super) fn check_new_block(&self, id: InodeId, prev_len: Option<u64>) -> NnResult<()> {
        let Kind::File(f) = &self.ns.inode(id)?.kind else {
            return Ok(());
        };
        let repl = f.replication as u64;
        let before = file_space(f);
        let prev_was = match f.last_block() {
            Some(b) if !b.committed => b.len.max(f.block_size),
            Some(b) => b.len,
            None => 0,
        };
        let prev_now = prev_len.unwrap_or(prev_was);
        let after = (before + (prev_now + f.block_size) * repl).saturating_sub(prev_was * repl);
        self.ns
            .check_quota(id, 0, after.saturating_sub(before), None)
    }

    /// Refuses raising the file at `id` to `replication` when a space quota would go over.
    pub(super) fn check_replication(&self, id: InodeId, replication: u16) -> NnResult<()> {
        let Kind::File(f) = &self.ns.inode(id)?.kind else {
            return Ok(());
        };
        let before = file_space(f);
        let after = before / (f.replication.max(1) as u64) * replication as u64;
        self.ns
            .check_quota(id, 0, after.saturating_sub(before), None)
    }

    /// Refuses moving `src` under `dst_parent` when a quota of a directory it enters (one
    /// that does not already hold it) would go over.
    pub(super) fn check_move(&self, src: InodeId, dst_parent: InodeId) -> NnResult<()> {
        let moved = self.ns.usage_to_move(src)?;
        let src_parent = self.ns.inode(src)?.parent;
        self.ns
            .check_quota(dst_parent, moved.names, moved.space, Some(src_parent))
    }
}
