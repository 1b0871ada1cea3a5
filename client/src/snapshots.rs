//! Snapshot calls on the namenode (HDFS's): allow and disallow (superuser), create, delete and
//! rename (the directory's owner), the snapshottable directories and a diff report. A
//! snapshot's files are read with the ordinary calls at `DIR/.snapshot/NAME/...`.

use crate::dfs::DfsClient;
use crate::error::ClientResult;
use proto::dfs::snapshot_diff_entry::Kind;
use proto::dfs::*;
use std::fmt;

/// One line of a snapshot diff report; paths are relative to the snapshottable directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotChange {
    Created(String),
    Deleted(String),
    Modified(String),
    Renamed(String, String),
}

impl fmt::Display for SnapshotChange {
    /// HDFS's `snapshotDiff` line: `+ ./a`, `- ./a`, `M ./a`, `R ./a -> ./b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotChange::Created(p) => write!(f, "+\t{p}"),
            SnapshotChange::Deleted(p) => write!(f, "-\t{p}"),
            SnapshotChange::Modified(p) => write!(f, "M\t{p}"),
            SnapshotChange::Renamed(a, b) => write!(f, "R\t{a} -> {b}"),
        }
    }
}

impl DfsClient {
    pub fn allow_snapshot(&self, path: &str) -> ClientResult<()> {
        let req = AllowSnapshotRequest { path: path.into() };
        self.call(path, |mut c| async move { c.allow_snapshot(req).await })
            .map(drop)
    }

    pub fn disallow_snapshot(&self, path: &str) -> ClientResult<()> {
        let req = DisallowSnapshotRequest { path: path.into() };
        self.call(path, |mut c| async move { c.disallow_snapshot(req).await })
            .map(drop)
    }

    /// Takes a snapshot of `path` named `name` (None: HDFS's time-stamped default); returns the
    /// snapshot's path.
    pub fn create_snapshot(&self, path: &str, name: Option<&str>) -> ClientResult<String> {
        let req = CreateSnapshotRequest {
            path: path.into(),
            name: name.unwrap_or_default().into(),
        };
        self.call(path, |mut c| async move { c.create_snapshot(req).await })
            .map(|r| r.snapshot_path)
    }

    pub fn delete_snapshot(&self, path: &str, name: &str) -> ClientResult<()> {
        let req = DeleteSnapshotRequest {
            path: path.into(),
            name: name.into(),
        };
        self.call(path, |mut c| async move { c.delete_snapshot(req).await })
            .map(drop)
    }

    pub fn rename_snapshot(&self, path: &str, old: &str, new: &str) -> ClientResult<()> {
        let req = RenameSnapshotRequest {
            path: path.into(),
            old_name: old.into(),
            new_name: new.into(),
        };
        self.call(path, |mut c| async move { c.rename_snapshot(req).await })
            .map(drop)
    }

    /// The snapshottable directories this user owns (all of them, for a superuser).
    pub fn snapshottable_dirs(&self) -> ClientResult<Vec<SnapshottableDir>> {
        self.call("snapshottable directories", |mut c| async move {
            c.snapshottable_dirs(SnapshottableDirsRequest {}).await
        })
        .map(|r| r.dirs)
    }

    /// What changed under `path` from snapshot `from` to `to` ("." is the current state).
    pub fn snapshot_diff(
        &self,
        path: &str,
        from: &str,
        to: &str,
    ) -> ClientResult<Vec<SnapshotChange>> {
        let req = SnapshotDiffRequest {
            path: path.into(),
            from: from.into(),
            to: to.into(),
        };
        let r = self.call(path, |mut c| async move { c.snapshot_diff(req).await })?;
        Ok(r.entries
            .into_iter()
            .map(|e| match Kind::try_from(e.kind) {
                Ok(Kind::Created) => SnapshotChange::Created(e.path),
                Ok(Kind::Deleted) => SnapshotChange::Deleted(e.path),
                Ok(Kind::Renamed) => SnapshotChange::Renamed(e.path, e.target),
                // A kind this client does not know yet: at least the path changed.
                Ok(Kind::Modified) | Err(_) => SnapshotChange::Modified(e.path),
            })
            .collect())
    }
}
