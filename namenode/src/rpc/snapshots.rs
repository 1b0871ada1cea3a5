//! The snapshot RPCs: wire messages to and from the namesystem's snapshot operations.

use super::{blocking, durable, Rpc, R};
use crate::namespace::DiffEntry;
use proto::dfs::snapshot_diff_entry::Kind as DiffKind;
use proto::dfs::*;
use tonic::{Request, Response};

pub(super) async fn allow(
    rpc: &Rpc,
    req: Request<AllowSnapshotRequest>,
) -> R<AllowSnapshotResponse> {
    let who = rpc.subject(&req)?;
    match rpc.ns.allow_snapshot(&who, &req.into_inner().path) {
        Ok(Some(c)) => durable(c).await?,
        r => rpc.settled(r).await.map(drop)?,
    }
    Ok(Response::new(AllowSnapshotResponse {}))
}

pub(super) async fn disallow(
    rpc: &Rpc,
    req: Request<DisallowSnapshotRequest>,
) -> R<DisallowSnapshotResponse> {
    let who = rpc.subject(&req)?;
    match rpc.ns.disallow_snapshot(&who, &req.into_inner().path) {
        Ok(Some(c)) => durable(c).await?,
        r => rpc.settled(r).await.map(drop)?,
    }
    Ok(Response::new(DisallowSnapshotResponse {}))
}

pub(super) async fn create(
    rpc: &Rpc,
    req: Request<CreateSnapshotRequest>,
) -> R<CreateSnapshotResponse> {
    let who = rpc.subject(&req)?;
    let r = req.into_inner();
    let made = rpc.ns.create_snapshot(&who, &r.path, Some(r.name.as_str()));
    let (snapshot_path, commit) = rpc.settled_err(made).await?;
    durable(commit).await?;
    Ok(Response::new(CreateSnapshotResponse { snapshot_path }))
}

pub(super) async fn delete(
    rpc: &Rpc,
    req: Request<DeleteSnapshotRequest>,
) -> R<DeleteSnapshotResponse> {
    let who = rpc.subject(&req)?;
    let r = req.into_inner();
    let deleted = rpc.ns.delete_snapshot(&who, &r.path, &r.name);
    durable(rpc.settled_err(deleted).await?).await?;
    Ok(Response::new(DeleteSnapshotResponse {}))
}

pub(super) async fn rename(
    rpc: &Rpc,
    req: Request<RenameSnapshotRequest>,
) -> R<RenameSnapshotResponse> {
    let who = rpc.subject(&req)?;
    let r = req.into_inner();
    let renamed = rpc
        .ns
        .rename_snapshot(&who, &r.path, &r.old_name, &r.new_name);
    durable(rpc.settled_err(renamed).await?).await?;
    Ok(Response::new(RenameSnapshotResponse {}))
}

pub(super) async fn list(
    rpc: &Rpc,
    req: Request<SnapshottableDirsRequest>,
) -> R<SnapshottableDirsResponse> {
    let who = rpc.subject(&req)?;
    let dirs = rpc.settled(rpc.ns.snapshottable_dirs(&who)).await?;
    Ok(Response::new(SnapshottableDirsResponse {
        dirs: dirs
            .into_iter()
            .map(|d| SnapshottableDir {
                path: d.path,
                snapshots: d.snapshots,
                owner: d.owner,
                group: d.group,
                mode: d.mode,
                mtime: d.mtime,
            })
            .collect(),
    }))
}

pub(super) async fn diff(rpc: &Rpc, req: Request<SnapshotDiffRequest>) -> R<SnapshotDiffResponse> {
    let who = rpc.subject(&req)?;
    let r = req.into_inner();
    // The report walks the snapshottable directory's subtree: off the async threads.
    let entries = blocking(&rpc.ns, move |ns| {
        ns.snapshot_diff(&who, &r.path, &r.from, &r.to)
    })
    .await;
    let entries = rpc.settled(entries).await?;
    let entry = |kind: DiffKind, path: String, target: String| SnapshotDiffEntry {
        kind: kind.into(),
        path,
        target,
    };
    Ok(Response::new(SnapshotDiffResponse {
        entries: entries
            .into_iter()
            .map(|e| match e {
                DiffEntry::Created(p) => entry(DiffKind::Created, p, String::new()),
                DiffEntry::Deleted(p) => entry(DiffKind::Deleted, p, String::new()),
                DiffEntry::Modified(p) => entry(DiffKind::Modified, p, String::new()),
                DiffEntry::Renamed(a, b) => entry(DiffKind::Renamed, a, b),
            })
            .collect(),
    }))
}
