//! Snapshot operations (allow, disallow, create, delete, rename, list, diff) and reads through
//! `DIR/.snapshot/NAME/...`: listing, file status, block locations and content summaries of a
//! snapshot's view, with permissions checked against the attributes the snapshot recorded.

use super::client::LocatedBlock;
use super::queries::{ContentSummary, FileInfo, Located};
use super::{now_ms, Metadata, Namesystem};
use crate::datanodes::NodeIdx;
use crate::error::{NnError, NnResult};
use crate::namespace::{
    self, DiffEntry, Edit, Inode, InodeId, Kind, Namespace, SnapshotId, SNAPSHOT_DIR,
};
use crate::permission::{self, Access, Need, Subject};
use crate::placement;
use common::journal::Commit;
use std::collections::BTreeMap;

/// A snapshottable directory, as `snapshot list` shows it.
#[derive(Debug)]
pub struct SnapshottableDir {
    pub path: String,
    pub snapshots: u32,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub mtime: u64,
}

/// Where a path through `.snapshot` leads.
enum SnapshotTarget {
    /// `DIR/.snapshot` itself: the list of snapshots.
    Snapshots { root: InodeId, path: String },
    /// An inode as snapshot `snapshot` shows it, at `path`.
    Node {
        id: InodeId,
        snapshot: SnapshotId,
        path: String,
    },
}

/// The parts of a path through `.snapshot`: the snapshottable directory and what follows the
/// reserved component. None when the path has no `.snapshot` component.
pub fn split_snapshot_path(path: &str) -> Option<(String, Vec<&str>)> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let at = comps.iter().position(|&c| c == SNAPSHOT_DIR)?;
    Some((
        format!("/{}", comps[..at].join("/")),
        comps[at + 1..].to_vec(),
    ))
}

/// HDFS's default snapshot name: `s` and the UTC time as `yyyyMMdd-HHmmss.SSS`.
fn default_name(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "s{year:04}{month:02}{day:02}-{h:02}{m:02}{s:02}.{:03}",
        ms % 1000
    )
}

/// A snapshot name must be one path component and not a reserved one.
fn check_name(path: &str, name: &str) -> NnResult<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name == SNAPSHOT_DIR
        || name.contains(['/', ':', '\0'])
        || name.len() > 255
    {
        return Err(NnError::InvalidArgument(format!(
            "{path}: '{name}' is not a valid snapshot name (one path component of at most 255 \
             bytes, not '.', '..' or '{SNAPSHOT_DIR}')"
        )));
    }
    Ok(())
}

/// An inode with another inode's recorded attributes, for the permission checker.
fn as_of(owner: u32, group: u32, mode: u16, mtime: u64) -> Inode {
    Inode {
        parent: namespace::ROOT,
        owner,
        group,
        mode,
        mtime,
        kind: Kind::Dir(BTreeMap::new()),
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

impl Namesystem {
    fn require_superuser(who: &Subject, what: &str, path: &str) -> NnResult<()> {
        if who.superuser {
            return Ok(());
        }
        Err(NnError::PermissionDenied(format!(
            "user={}: {what} {path} takes the superuser (the namenode's user or a member of \
             the supergroup)",
            who.user
        )))
    }

    /// Makes `path` snapshottable (superuser). Already snapshottable: nothing to do.
    pub fn allow_snapshot(&self, who: &Subject, path: &str) -> NnResult<Option<Commit>> {
        let path = namespace::normalize(path)?;
        Self::require_superuser(who, "allowing snapshots of", &path)?;
        let mut st = self.meta.lock();
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        if !matches!(st.ns.inode(id)?.kind, Kind::Dir(_)) {
            return Err(NnError::NotDir(path));
        }
        if st.ns.snapshottable(id).is_some() {
            return Ok(None);
        }
        if let Some(other) = st.ns.snapshottable_relative(id)? {
            return Err(NnError::InvalidArgument(format!(
                "{path}: cannot allow snapshots: {} is already snapshottable, and snapshottable \
                 directories may not nest",
                st.ns.path_of(other)?
            )));
        }
        st.check_writable()?;
        self.log(&mut st, Edit::AllowSnapshot { path }).map(Some)
    }

    /// Makes `path` an ordinary directory again (superuser); refused while it has snapshots.
    pub fn disallow_snapshot(&self, who: &Subject, path: &str) -> NnResult<Option<Commit>> {
        let path = namespace::normalize(path)?;
        Self::require_superuser(who, "disallowing snapshots of", &path)?;
        let mut st = self.meta.lock();
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        match st.ns.snapshottable(id) {
            None => return Ok(None),
            Some(l) if !l.is_empty() => {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: has {} snapshot(s) ({}): delete them before disallowing snapshots",
                    l.len(),
                    l.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            Some(_) => {}
        }
        st.check_writable()?;
        self.log(&mut st, Edit::DisallowSnapshot { path }).map(Some)
    }

    /// The owner of snapshottable `path` (or the superuser) manages its snapshots.
    fn check_snapshot_owner(st: &Metadata, who: &Subject, path: &str) -> NnResult<()> {
        permission::check(
            &st.ns,
            who,
            path,
            Need {
                owner: true,
                ..Need::default()
            },
        )?;
        st.ns.snapshot_root(path)?;
        Ok(())
    }

    /// Takes a snapshot of `path`; returns its path (`DIR/.snapshot/NAME`).
    pub fn create_snapshot(
        &self,
        who: &Subject,
        path: &str,
        name: Option<&str>,
    ) -> NnResult<(String, Commit)> {
        let path = namespace::normalize(path)?;
        let ctime = now_ms();
        let name = name
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| default_name(ctime));
        check_name(&path, &name)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        Self::check_snapshot_owner(&st, who, &path)?;
        let snapshot_path = join(&join(&path, SNAPSHOT_DIR), &name);
        let root = st.ns.snapshot_root(&path)?;
        if st
            .ns
            .snapshottable(root)
            .is_some_and(|l| l.iter().any(|s| s.name == name))
        {
            return Err(NnError::AlreadyExists(snapshot_path));
        }
        let commit = self.log(&mut st, Edit::CreateSnapshot { path, name, ctime })?;
        Ok((snapshot_path, commit))
    }

    pub fn delete_snapshot(&self, who: &Subject, path: &str, name: &str) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        Self::check_snapshot_owner(&st, who, &path)?;
        let root = st.ns.snapshot_root(&path)?;
        if !st
            .ns
            .snapshottable(root)
            .is_some_and(|l| l.iter().any(|s| s.name == name))
        {
            return Err(NnError::NotFound(join(&join(&path, SNAPSHOT_DIR), name)));
        }
        self.log(
            &mut st,
            Edit::DeleteSnapshot {
                path,
                name: name.into(),
            },
        )
    }

    pub fn rename_snapshot(
        &self,
        who: &Subject,
        path: &str,
        old: &str,
        new: &str,
    ) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        check_name(&path, new)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        Self::check_snapshot_owner(&st, who, &path)?;
        let root = st.ns.snapshot_root(&path)?;
        let list = st.ns.snapshottable(root).unwrap_or(&[]);
        if !list.iter().any(|s| s.name == old) {
            return Err(NnError::NotFound(join(&join(&path, SNAPSHOT_DIR), old)));
        }
        if list.iter().any(|s| s.name == new) {
            return Err(NnError::AlreadyExists(join(
                &join(&path, SNAPSHOT_DIR),
                new,
            )));
        }
        self.log(
            &mut st,
            Edit::RenameSnapshot {
                path,
                old: old.into(),
                new: new.into(),
            },
        )
    }

    /// The snapshottable directories the caller owns (every one, for the superuser).
    pub fn snapshottable_dirs(&self, who: &Subject) -> NnResult<Vec<SnapshottableDir>> {
        let st = self.meta.lock();
        let mut out = Vec::new();
        for (id, snaps) in st.ns.snapshot_roots() {
            let inode = st.ns.inode(id)?;
            let owner = st.ns.name(inode.owner);
            if !who.superuser && owner != who.user {
                continue;
            }
            out.push(SnapshottableDir {
                path: st.ns.path_of(id)?,
                snapshots: snaps.len() as u32,
                owner: owner.into(),
                group: st.ns.name(inode.group).into(),
                mode: inode.mode as u32,
                mtime: inode.mtime,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// What changed under snapshottable `path` from snapshot `from` to `to` ("." or empty:
    /// the current state). Reading it takes read and execute on the whole subtree.
    pub fn snapshot_diff(
        &self,
        who: &Subject,
        path: &str,
        from: &str,
        to: &str,
    ) -> NnResult<Vec<DiffEntry>> {
        let path = namespace::normalize(path)?;
        let st = self.meta.lock();
        permission::check(
            &st.ns,
            who,
            &path,
            Need {
                sub: Some(Access::READ_EXECUTE),
                ..Need::default()
            },
        )?;
        let root = st.ns.snapshot_root(&path)?;
        let list = st.ns.snapshottable(root).unwrap_or(&[]);
        let id_of = |name: &str| -> NnResult<Option<SnapshotId>> {
            if name.is_empty() || name == "." {
                return Ok(None);
            }
            list.iter()
                .find(|s| s.name == name)
                .map(|s| Some(s.id))
                .ok_or_else(|| NnError::NotFound(join(&join(&path, SNAPSHOT_DIR), name)))
        };
        let (from, to) = (id_of(from)?, id_of(to)?);
        // Diffs run forward in time; the other way round is the same report, reversed.
        let (reverse, lo, hi) = match (from, to) {
            (None, None) => return Ok(Vec::new()),
            (None, Some(t)) => (true, t, None),
            (Some(f), None) => (false, f, None),
            (Some(f), Some(t)) if f <= t => (false, f, Some(t)),
            (Some(f), Some(t)) => (true, t, Some(f)),
        };
        let entries = st.ns.snapshot_diff(root, lo, hi)?;
        if !reverse {
            return Ok(entries);
        }
        Ok(entries
            .into_iter()
            .map(|e| match e {
                DiffEntry::Created(p) => DiffEntry::Deleted(p),
                DiffEntry::Deleted(p) => DiffEntry::Created(p),
                DiffEntry::Renamed(a, b) => DiffEntry::Renamed(b, a),
                m => m,
            })
            .collect())
    }

    /// Resolves a path through `.snapshot`, checking execute on every directory on the way
    /// (as the snapshot recorded those inside it).
    fn resolve_snapshot(
        st: &Metadata,
        who: &Subject,
        path: &str,
        root_path: &str,
        rest: &[&str],
    ) -> NnResult<SnapshotTarget> {
        let root_path = namespace::normalize(root_path)?;
        permission::check(&st.ns, who, &root_path, Need::default())?;
        let root = st.ns.snapshot_root(&root_path)?;
        let Some((name, inner)) = rest.split_first() else {
            return Ok(SnapshotTarget::Snapshots {
                root,
                path: join(&root_path, SNAPSHOT_DIR),
            });
        };
        let snapshot = st
            .ns
            .snapshottable(root)
            .and_then(|l| l.iter().find(|s| s.name == *name))
            .map(|s| s.id)
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        let mut cur = root;
        let mut so_far = join(&join(&root_path, SNAPSHOT_DIR), name);
        for c in inner {
            if *c == SNAPSHOT_DIR || *c == "." || *c == ".." {
                return Err(NnError::InvalidPath(
                    path.into(),
                    format!("'{c}' is not allowed inside a snapshot"),
                ));
            }
            if !matches!(st.ns.inode(cur)?.kind, Kind::Dir(_)) {
                return Err(NnError::NotDir(path.into()));
            }
            let a = st.ns.attrs_at(cur, snapshot)?;
            let dir = as_of(a.owner, a.group, a.mode, a.mtime);
            permission::check_inode(&st.ns, who, &so_far, &dir, Access::EXECUTE)?;
            cur = st
                .ns
                .child_at(cur, c, snapshot)?
                .ok_or_else(|| NnError::NotFound(path.into()))?;
            so_far = join(&so_far, c);
        }
        Ok(SnapshotTarget::Node {
            id: cur,
            snapshot,
            path: so_far,
        })
    }

    /// `access` on the inode a snapshot path leads to, as the snapshot recorded it.
    fn check_as_of(
        ns: &Namespace,
        who: &Subject,
        path: &str,
        id: InodeId,
        snapshot: SnapshotId,
        access: Access,
    ) -> NnResult<()> {
        let a = ns.attrs_at(id, snapshot)?;
        permission::check_inode(
            ns,
            who,
            path,
            &as_of(a.owner, a.group, a.mode, a.mtime),
            access,
        )
    }

    fn snapshot_status(
        ns: &Namespace,
        id: InodeId,
        snapshot: SnapshotId,
        path: &str,
    ) -> NnResult<FileInfo> {
        let a = ns.attrs_at(id, snapshot)?;
        let mut s = FileInfo {
            path: path.into(),
            is_dir: a.file.is_none(),
            length: 0,
            replication: 0,
            block_size: 0,
            owner: ns.name(a.owner).into(),
            group: ns.name(a.group).into(),
            mode: a.mode as u32,
            mtime: a.mtime,
            // A snapshot's file is complete as recorded, whatever became of it since.
            under_construction: false,
            children: 0,
            file_id: 0,
        };
        match &a.file {
            None => s.children = ns.children_at(id, snapshot)?.len() as u64,
            Some(f) => {
                s.length = f.blocks.iter().map(|b| b.len).sum();
                s.replication = f.replication as u32;
                s.block_size = f.block_size;
            }
        }
        Ok(s)
    }

    /// The status of `DIR/.snapshot` (a directory of snapshots) or of one snapshot.
    fn snapshots_listing(st: &Metadata, root: InodeId, path: &str) -> NnResult<Vec<FileInfo>> {
        let list = st.ns.snapshottable(root).unwrap_or(&[]);
        list.iter()
            .map(|s| {
                let mut info = Self::snapshot_status(&st.ns, root, s.id, &join(path, &s.name))?;
                info.mtime = s.ctime;
                Ok(info)
            })
            .collect()
    }

    /// [`Namesystem::file_info`] of a path through `.snapshot`.
    pub(super) fn snapshot_file_info(
        &self,
        who: &Subject,
        path: &str,
        root_path: &str,
        rest: &[&str],
    ) -> NnResult<FileInfo> {
        let st = self.meta.lock();
        match Self::resolve_snapshot(&st, who, path, root_path, rest)? {
            SnapshotTarget::Snapshots { root, path } => {
                let mut info = st.status_of(root_path)?;
                info.children = st.ns.snapshottable(root).map_or(0, |l| l.len() as u64);
                info.path = path;
                info.file_id = 0;
                Ok(info)
            }
            SnapshotTarget::Node { id, snapshot, path } => {
                Self::snapshot_status(&st.ns, id, snapshot, &path)
            }
        }
    }

    /// [`Namesystem::listing`] of a path through `.snapshot`.
    pub(super) fn snapshot_listing(
        &self,
        who: &Subject,
        path: &str,
        root_path: &str,
        rest: &[&str],
    ) -> NnResult<Vec<FileInfo>> {
        let st = self.meta.lock();
        match Self::resolve_snapshot(&st, who, path, root_path, rest)? {
            SnapshotTarget::Snapshots { root, path } => {
                let id = st.ns.lookup(root_path)?.unwrap_or(root);
                permission::check_inode(
                    &st.ns,
                    who,
                    root_path,
                    st.ns.inode(id)?,
                    Access::READ_EXECUTE,
                )?;
                Self::snapshots_listing(&st, root, &path)
            }
            SnapshotTarget::Node { id, snapshot, path } => {
                if st.ns.attrs_at(id, snapshot)?.file.is_some() {
                    return Ok(vec![Self::snapshot_status(&st.ns, id, snapshot, &path)?]);
                }
                Self::check_as_of(&st.ns, who, &path, id, snapshot, Access::READ_EXECUTE)?;
                st.ns
                    .children_at(id, snapshot)?
                    .iter()
                    .map(|(name, &c)| {
                        Self::snapshot_status(&st.ns, c, snapshot, &join(&path, name))
                    })
                    .collect()
            }
        }
    }

    /// [`Namesystem::locations`] of a file in a snapshot: its blocks with the lengths the
    /// snapshot recorded.
    pub(super) fn snapshot_locations(
        &self,
        who: &Subject,
        path: &str,
        root_path: &str,
        rest: &[&str],
        reader_host: &str,
    ) -> NnResult<Located> {
        let st = self.meta.lock();
        let SnapshotTarget::Node { id, snapshot, path } =
            Self::resolve_snapshot(&st, who, path, root_path, rest)?
        else {
            return Err(NnError::IsDir(path.into()));
        };
        Self::check_as_of(&st.ns, who, &path, id, snapshot, Access::READ)?;
        let Some(f) = st.ns.attrs_at(id, snapshot)?.file else {
            return Err(NnError::IsDir(path));
        };
        let mut offset = 0;
        let mut blocks = Vec::with_capacity(f.blocks.len());
        for saved in &f.blocks {
            // The replicas carry the block's stamp now (a later append may have restamped it).
            let gen = st.ns.block(saved.id).map_or(saved.gen, |b| b.gen);
            let mut nodes: Vec<NodeIdx> = st.blocks.locations(saved.id).to_vec();
            if nodes.is_empty() && !saved.committed {
                nodes = st
                    .blocks
                    .expected
                    .get(&saved.id)
                    .cloned()
                    .unwrap_or_default();
            }
            placement::sort_for_reader(&st.dns, &self.topology, reader_host, &mut nodes);
            blocks.push(LocatedBlock {
                id: saved.id,
                gen,
                len: saved.len,
                offset,
                nodes: nodes.into_iter().map(|n| st.dns.info(n)).collect(),
                corrupt: false,
            });
            offset += saved.len;
        }
        Ok(Located {
            length: offset,
            blocks,
            under_construction: false,
        })
    }

    /// [`Namesystem::content_summary`] of a snapshot's view; read and execute on each of its
    /// directories, as recorded.
    pub(super) fn snapshot_content_summary(
        &self,
        who: &Subject,
        path: &str,
        root_path: &str,
        rest: &[&str],
    ) -> NnResult<ContentSummary> {
        let st = self.meta.lock();
        let mut sum = ContentSummary::default();
        let (start, snapshot, start_path) =
            match Self::resolve_snapshot(&st, who, path, root_path, rest)? {
                SnapshotTarget::Snapshots { root, path } => {
                    // Every snapshot's view, as HDFS counts `DIR/.snapshot`.
                    sum.directories += 1;
                    let list = st.ns.snapshottable(root).unwrap_or(&[]).to_vec();
                    for s in list {
                        let p = join(&path, &s.name);
                        Self::summarize(&st.ns, who, root, s.id, &p, &mut sum)?;
                    }
                    return Ok(sum);
                }
                SnapshotTarget::Node { id, snapshot, path } => (id, snapshot, path),
            };
        Self::summarize(&st.ns, who, start, snapshot, &start_path, &mut sum)?;
        Ok(sum)
    }

    fn summarize(
        ns: &Namespace,
        who: &Subject,
        start: InodeId,
        snapshot: SnapshotId,
        start_path: &str,
        sum: &mut ContentSummary,
    ) -> NnResult<()> {
        let mut stack = vec![(start, start_path.to_string())];
        while let Some((id, p)) = stack.pop() {
            let a = ns.attrs_at(id, snapshot)?;
            match a.file {
                Some(f) => {
                    let l: u64 = f.blocks.iter().map(|b| b.len).sum();
                    sum.files += 1;
                    sum.length += l;
                    sum.space_consumed += l * f.replication as u64;
                }
                None => {
                    sum.directories += 1;
                    Self::check_as_of(ns, who, &p, id, snapshot, Access::READ_EXECUTE)?;
                    for (name, &c) in &ns.children_at(id, snapshot)? {
                        stack.push((c, join(&p, name)));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_hdfs() {
        // 2026-12-02 10:28:04.123 UTC
        assert_eq!(default_name(1_796_207_284_123), "s20261202-102804.123");
        assert_eq!(default_name(0), "s19700101-000000.000");
    }

    #[test]
    fn snapshot_paths_split_at_the_reserved_component() {
        let (root, rest) = split_snapshot_path("/a/b/.snapshot/s1/c").expect("snapshot path");
        assert_eq!((root.as_str(), rest), ("/a/b", vec!["s1", "c"]));
        assert!(split_snapshot_path("/a/b").is_none());
        let (root, rest) = split_snapshot_path("/.snapshot").expect("root");
        assert_eq!((root.as_str(), rest.len()), ("/", 0));
    }
}
