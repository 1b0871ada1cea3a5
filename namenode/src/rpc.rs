//! The namenode's gRPC services: translation between wire messages and [`Namesystem`] calls
//! (typed ids and named structs inside, the proto's integers outside). Mutations reply only
//! once their edit is durable; every other answer about the namespace (a read, "already
//! exists", "nothing to do", an error) only once every edit logged before it is durable, since
//! it may report another call's edit still waiting for its sync. Calls that walk many blocks
//! or a subtree run on the blocking pool, never on the async threads.

use crate::block_tokens::BlockTokens;
use crate::datanodes::{Commands, NodeInfo};
use crate::error::{NnError, NnResult};
use crate::namespace::Perm;
use crate::namesystem::{
    AppendFrom, BadReplica, FileInfo, LastBlock, LocatedBlock, Namesystem, QuotaChange,
    ReportedReplica, SafeModeAction,
};
use crate::permission::Subject;
use crate::revocation::Revocations;
use common::auth::BlockAccess;
use common::auth::Verifier;
use common::grpc_auth::{caller, require_service};
use common::ids::{BlockId, GenStamp, NodeId};
use common::journal::Commit;
use proto::dfs::client_protocol_server::ClientProtocol;
use proto::dfs::datanode_protocol_server::DatanodeProtocol;
use proto::dfs::*;
use proto::Reason;
use std::sync::Arc;
use tonic::{Request, Response, Status};

mod snapshots;

#[derive(Clone)]
pub struct Rpc {
    pub ns: Arc<Namesystem>,
    /// Mints the block access tokens handed with located blocks and datanode commands.
    pub tokens: Arc<BlockTokens>,
    /// None in insecure mode.
    pub verifier: Option<Arc<Verifier>>,
    pub revocations: Arc<Revocations>,
    /// The namenode's own OS user: a superuser.
    pub nn_user: String,
}

type R<T> = Result<Response<T>, Status>;

async fn durable(c: Commit) -> NnResult<()> {
    c.durable().await.map_err(NnError::Journal)
}

impl Rpc {
    /// The caller, when it is a superuser; else a refusal naming it and `what` it tried.
    fn require_superuser<T>(
        &self,
        req: &Request<T>,
        what: &str,
    ) -> Result<common::auth::Identity, Status> {
        let who = caller(req)?;
        let supergroup = &self.ns.config.security.supergroup;
        if self.ns.config.security.insecure
            || crate::revocation::is_superuser(&who, &self.nn_user, supergroup)
        {
            return Ok(who);
        }
        Err(Reason::PermissionDenied.status(format!(
            "{who} may not {what}: only superusers may (the namenode's user {}, or members of \
             the group {supergroup})",
            self.nn_user
        )))
    }

    /// Whom the call's permission checks are for: its verified identity.
    fn subject<T>(&self, req: &Request<T>) -> Result<Subject, Status> {
        Ok(self.ns.subject(&caller(req)?))
    }

    /// `r`, once the state it was read from is durable.
    async fn settled<T>(&self, r: NnResult<T>) -> Result<T, Status> {
        self.ns.settled().await?;
        Ok(r?)
    }

    /// `r` as is when it succeeded (the caller awaits its own edit), else once the state the
    /// error was read from is durable.
    async fn settled_err<T>(&self, r: NnResult<T>) -> Result<T, Status> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => self.settled(Err(e)).await,
        }
    }
}

/// What a new entry gets: the caller as its owner (the user its token names; in insecure mode,
/// the user it claims; never the `Caller.user` of the request), its parent's group (filled in
/// later), the mode the client asked for (already masked by its umask).
fn perm_of(who: &Subject, mode: u32, default_mode: u32) -> Perm {
    let user = if who.user.is_empty() {
        "nobody".to_string()
    } else {
        who.user.clone()
    };
    Perm {
        owner: user,
        group: String::new(),
        mode: (if mode == 0 { default_mode } else { mode } & 0o7777) as u16,
    }
}

/// The caller's host: as it says, or the address its connection comes from.
fn caller_host<T>(req: &Request<T>, caller: &Option<Caller>) -> String {
    caller
        .as_ref()
        .map(|c| c.host.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| req.remote_addr().map(|a| a.ip().to_string()))
        .unwrap_or_default()
}

fn last_block_of(b: &Option<Block>) -> Option<LastBlock> {
    b.as_ref().map(|b| LastBlock {
        block: BlockId(b.id),
        len: b.num_bytes,
    })
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, Status> {
    v.ok_or_else(|| Reason::InvalidArgument.status(format!("missing {what}")))
}

/// Runs blocking namesystem work (a report, a walk) on the blocking pool.
async fn blocking<T: Send + 'static>(
    ns: &Arc<Namesystem>,
    work: impl FnOnce(&Namesystem) -> NnResult<T> + Send + 'static,
) -> NnResult<T> {
    let ns = ns.clone();
    tokio::task::spawn_blocking(move || work(&ns))
        .await
        .map_err(|e| NnError::Internal(format!("namesystem task: {e}")))?
}

fn block_msg(id: BlockId, gen: GenStamp, len: u64) -> Block {
    Block {
        id: id.0,
        gen_stamp: gen.0,
        num_bytes: len,
    }
}

/// A located block with a token for `user` to `access` it.
fn located(
    tokens: &BlockTokens,
    b: LocatedBlock,
    access: BlockAccess,
    user: &str,
    now_ms: u64,
) -> proto::dfs::LocatedBlock {
    proto::dfs::LocatedBlock {
        token: tokens.mint(b.id.0, b.gen.0, access, user, now_ms),
        block: Some(block_msg(b.id, b.gen, b.len)),
        offset: b.offset,
        locations: b.nodes.into_iter().map(info_msg).collect(),
        corrupt: b.corrupt,
    }
}

fn info_msg(n: NodeInfo) -> DatanodeInfo {
    DatanodeInfo {
        node_id: n.id.0,
        host: n.host,
        data_addr: n.data_addr,
        rack: n.rack,
    }
}

fn status_msg(s: FileInfo) -> FileStatus {
    FileStatus {
        path: s.path,
        is_dir: s.is_dir,
        length: s.length,
        replication: s.replication,
        block_size: s.block_size,
        owner: s.owner,
        group: s.group,
        mode: s.mode,
        mtime_ms: s.mtime,
        under_construction: s.under_construction,
        children: s.children,
        file_id: s.file_id,
    }
}

#[tonic::async_trait]
impl ClientProtocol for Rpc {
    async fn mkdirs(&self, req: Request<MkdirsRequest>) -> R<MkdirsResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        match self.ns.mkdirs(&who, &r.path, perm_of(&who, r.mode, 0o755)) {
            Ok(Some(c)) => durable(c).await?,
            // Already a directory: maybe made by a call whose edit is not on disk yet.
            r => self.settled(r).await.map(drop)?,
        }
        Ok(Response::new(MkdirsResponse {}))
    }

    async fn create(&self, req: Request<CreateRequest>) -> R<CreateResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let created = self.ns.create(
            &who,
            &r.path,
            perm_of(&who, r.mode, 0o644),
            r.replication,
            r.block_size,
            &r.client_name,
            r.create_parent,
        );
        let (status, c) = self.settled_err(created).await?;
        durable(c).await?;
        Ok(Response::new(CreateResponse {
            status: Some(status_msg(status)),
            bytes_per_checksum: self.ns.config.bytes_per_checksum,
        }))
    }

    async fn add_block(&self, req: Request<AddBlockRequest>) -> R<AddBlockResponse> {
        let who = self.subject(&req)?;
        let host = caller_host(&req, &req.get_ref().caller);
        // The user a block token is handed to (for the datanodes' logs): the verified caller.
        let user = caller(&req)?.user;
        let r = req.into_inner();
        let excluded: Vec<NodeId> = r.excluded_nodes.iter().map(|&n| NodeId(n)).collect();
        let added = self.ns.add_block(
            &who,
            &r.path,
            r.file_id,
            &r.client_name,
            last_block_of(&r.previous),
            &excluded,
            &host,
        );
        let (b, c) = self.settled_err(added).await?;
        durable(c).await?;
        // The writer also reads its block back (pipeline recovery resends from its buffer, but
        // a reader of a file under construction uses the same grant).
        let access = BlockAccess::WRITE.with(BlockAccess::READ);
        let now = common::auth::now_ms();
        Ok(Response::new(AddBlockResponse {
            block: Some(located(&self.tokens, b, access, &user, now)),
        }))
    }

    async fn update_block_for_pipeline(
        &self,
        req: Request<UpdateBlockForPipelineRequest>,
    ) -> R<UpdateBlockForPipelineResponse> {
        let who = self.subject(&req)?;
        let user = caller(&req)?.user;
        let r = req.into_inner();
        let b = required(r.block, "block")?;
        let updated = self
            .ns
            .update_block_for_pipeline(&who, BlockId(b.id), &r.client_name);
        let (gen, c) = self.settled_err(updated).await?;
        durable(c).await?;
        // A fresh token for the new generation: the writer's may be close to expiring.
        let access = BlockAccess::WRITE.with(BlockAccess::READ);
        let now = common::auth::now_ms();
        Ok(Response::new(UpdateBlockForPipelineResponse {
            new_gen_stamp: gen.0,
            token: self.tokens.mint(b.id, gen.0, access, &user, now),
        }))
    }

    async fn update_pipeline(
        &self,
        req: Request<UpdatePipelineRequest>,
    ) -> R<UpdatePipelineResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let old = required(r.old_block, "old_block")?;
        let new = required(r.new_block, "new_block")?;
        let nodes: Vec<NodeId> = r.new_nodes.iter().map(|&n| NodeId(n)).collect();
        let updated = self.ns.update_pipeline(
            &who,
            &r.client_name,
            BlockId(old.id),
            GenStamp(new.gen_stamp),
            &nodes,
        );
        let c = self.settled_err(updated).await?;
        durable(c).await?;
        Ok(Response::new(UpdatePipelineResponse {}))
    }

    async fn complete(&self, req: Request<CompleteRequest>) -> R<CompleteResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let completed = self.ns.complete(
            &who,
            &r.path,
            r.file_id,
            &r.client_name,
            last_block_of(&r.last),
        );
        let c = self.settled_err(completed).await?;
        durable(c).await?;
        Ok(Response::new(CompleteResponse {}))
    }

    async fn renew_lease(&self, req: Request<RenewLeaseRequest>) -> R<RenewLeaseResponse> {
        self.ns.renew_lease(&req.into_inner().client_name);
        Ok(Response::new(RenewLeaseResponse {}))
    }

    async fn get_block_locations(
        &self,
        req: Request<GetBlockLocationsRequest>,
    ) -> R<GetBlockLocationsResponse> {
        let who = self.subject(&req)?;
        let host = caller_host(&req, &req.get_ref().caller);
        let user = caller(&req)?.user;
        let r = req.into_inner();
        let l = self
            .settled(self.ns.locations(&who, &r.path, &host))
            .await?;
        let now = common::auth::now_ms();
        let tokens = &self.tokens;
        Ok(Response::new(GetBlockLocationsResponse {
            file_length: l.length,
            under_construction: l.under_construction,
            blocks: l
                .blocks
                .into_iter()
                .map(|b| located(tokens, b, BlockAccess::READ, &user, now))
                .collect(),
        }))
    }

    async fn get_listing(&self, req: Request<GetListingRequest>) -> R<GetListingResponse> {
        // A directory may hold millions of entries: list it on the blocking pool.
        let who = self.subject(&req)?;
        let path = req.into_inner().path;
        let entries = blocking(&self.ns, move |ns| ns.listing(&who, &path)).await;
        let entries = self.settled(entries).await?;
        Ok(Response::new(GetListingResponse {
            entries: entries.into_iter().map(status_msg).collect(),
        }))
    }

    async fn get_file_info(&self, req: Request<GetFileInfoRequest>) -> R<GetFileInfoResponse> {
        let who = self.subject(&req)?;
        let s = self
            .settled(self.ns.file_info(&who, &req.into_inner().path))
            .await?;
        Ok(Response::new(GetFileInfoResponse {
            status: Some(status_msg(s)),
        }))
    }

    async fn rename(&self, req: Request<RenameRequest>) -> R<RenameResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let c = self
            .settled_err(self.ns.rename(&who, &r.src, &r.dst))
            .await?;
        durable(c).await?;
        Ok(Response::new(RenameResponse {}))
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> R<DeleteResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let c = self
            .settled_err(self.ns.delete(&who, &r.path, r.recursive))
            .await?;
        durable(c).await?;
        Ok(Response::new(DeleteResponse {}))
    }

    async fn set_replication(
        &self,
        req: Request<SetReplicationRequest>,
    ) -> R<SetReplicationResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let set = self.ns.set_replication(&who, &r.path, r.replication);
        durable(self.settled_err(set).await?).await?;
        Ok(Response::new(SetReplicationResponse {}))
    }

    async fn report_bad_blocks(
        &self,
        req: Request<ReportBadBlocksRequest>,
    ) -> R<ReportBadBlocksResponse> {
        report_bad(&self.ns, req.into_inner());
        Ok(Response::new(ReportBadBlocksResponse {}))
    }

    async fn content_summary(
        &self,
        req: Request<ContentSummaryRequest>,
    ) -> R<ContentSummaryResponse> {
        let who = self.subject(&req)?;
        let path = req.into_inner().path;
        let s = blocking(&self.ns, move |ns| ns.content_summary(&who, &path)).await;
        let s = self.settled(s).await?;
        Ok(Response::new(ContentSummaryResponse {
            length: s.length,
            files: s.files,
            directories: s.directories,
            space_consumed: s.space_consumed,
            name_quota: s.quota.names.map(|n| n as i64),
            space_quota: s.quota.space.map(|n| n as i64),
        }))
    }

    async fn fsck(&self, req: Request<FsckRequest>) -> R<FsckResponse> {
        let who = self.subject(&req)?;
        let path = req.into_inner().path;
        let report = blocking(&self.ns, move |ns| ns.fsck(&who, &path)).await;
        let report = self.settled(report).await?;
        let mut out = FsckResponse {
            files: report.files,
            directories: report.directories,
            ..Default::default()
        };
        for h in report.blocks {
            out.total_bytes += h.len;
            out.under_replicated += h.under_replicated as u64;
            out.mis_replicated += h.mis_replicated as u64;
            out.corrupt += h.corrupt as u64;
            out.missing += h.missing as u64;
            out.blocks.push(FsckBlock {
                path: h.path,
                block: Some(block_msg(h.id, h.gen, h.len)),
                expected_replication: h.expected,
                replicas: h
                    .replicas
                    .into_iter()
                    .map(|r| FsckReplica {
                        node_id: r.node.id.0,
                        node: r.node.data_addr,
                        rack: r.node.rack,
                        corrupt: r.corrupt,
                        stale: r.stale,
                    })
                    .collect(),
                under_replicated: h.under_replicated,
                mis_replicated: h.mis_replicated,
                corrupt: h.corrupt,
                missing: h.missing,
            });
        }
        Ok(Response::new(out))
    }

    async fn set_permission(&self, req: Request<SetPermissionRequest>) -> R<SetPermissionResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let set = self.ns.set_permission(&who, &r.path, r.mode);
        durable(self.settled_err(set).await?).await?;
        Ok(Response::new(SetPermissionResponse {}))
    }

    async fn set_owner(&self, req: Request<SetOwnerRequest>) -> R<SetOwnerResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let set = self.ns.set_owner(
            &who,
            &r.path,
            Some(r.owner.as_str()),
            Some(r.group.as_str()),
        );
        durable(self.settled_err(set).await?).await?;
        Ok(Response::new(SetOwnerResponse {}))
    }

    async fn cluster_report(
        &self,
        _req: Request<ClusterReportRequest>,
    ) -> R<ClusterReportResponse> {
        let r = blocking(&self.ns, |ns| Ok(ns.cluster_report())).await?;
        let datanodes = r
            .datanodes
            .into_iter()
            .map(|d| DatanodeReport {
                info: Some(info_msg(d.node)),
                state: d.liveness.as_str().into(),
                capacity: d.capacity,
                used: d.used,
                remaining: d.remaining,
                blocks: d.blocks,
                last_heartbeat_ms_ago: d.last_heartbeat_ms_ago,
                admin_state: d.admin.as_str().into(),
                decommission_blocks_left: d.decommission_blocks_left,
            })
            .collect();
        Ok(Response::new(ClusterReportResponse {
            datanodes,
            safe_mode: r.safe_mode.is_some(),
            safe_mode_reason: r.safe_mode.unwrap_or_default(),
            total_blocks: r.total_blocks,
            under_replicated: r.under_replicated,
            pending_deletions: r.pending_deletions,
            files: r.files,
            refused_tokens: self
                .verifier
                .as_ref()
                .map(|v| {
                    v.refusals
                        .snapshot()
                        .into_iter()
                        .map(|(reason, count)| RefusedTokens {
                            reason: reason.into(),
                            count,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }

    async fn revoke_token(&self, req: Request<RevokeTokenRequest>) -> R<RevokeTokenResponse> {
        let who = self.require_superuser(&req, "revoke tokens")?;
        let id: common::auth::TokenId = req
            .into_inner()
            .token_id
            .trim()
            .parse()
            .map_err(|e: String| Reason::InvalidArgument.status(e))?;
        let revocations = self.revocations.clone();
        tokio::task::spawn_blocking(move || revocations.revoke(id))
            .await
            .map_err(|e| NnError::Internal(format!("revocation task: {e}")))??;
        tracing::info!(token = %id, by = %who, "token revoked");
        Ok(Response::new(RevokeTokenResponse {}))
    }

    async fn allow_snapshot(&self, req: Request<AllowSnapshotRequest>) -> R<AllowSnapshotResponse> {
        snapshots::allow(self, req).await
    }

    async fn disallow_snapshot(
        &self,
        req: Request<DisallowSnapshotRequest>,
    ) -> R<DisallowSnapshotResponse> {
        snapshots::disallow(self, req).await
    }

    async fn create_snapshot(
        &self,
        req: Request<CreateSnapshotRequest>,
    ) -> R<CreateSnapshotResponse> {
        snapshots::create(self, req).await
    }

    async fn delete_snapshot(
        &self,
        req: Request<DeleteSnapshotRequest>,
    ) -> R<DeleteSnapshotResponse> {
        snapshots::delete(self, req).await
    }

    async fn rename_snapshot(
        &self,
        req: Request<RenameSnapshotRequest>,
    ) -> R<RenameSnapshotResponse> {
        snapshots::rename(self, req).await
    }

    async fn snapshottable_dirs(
        &self,
        req: Request<SnapshottableDirsRequest>,
    ) -> R<SnapshottableDirsResponse> {
        snapshots::list(self, req).await
    }

    async fn snapshot_diff(&self, req: Request<SnapshotDiffRequest>) -> R<SnapshotDiffResponse> {
        snapshots::diff(self, req).await
    }

    async fn append(&self, req: Request<AppendRequest>) -> R<AppendResponse> {
        let who = self.subject(&req)?;
        let user = caller(&req)?.user;
        let r = req.into_inner();
        let appended = self.ns.append(&who, &r.path, &r.client_name);
        let (status, from, c) = self.settled_err(appended).await?;
        durable(c).await?;
        let (last_block, last_full) = match from {
            AppendFrom::Empty => (None, None),
            AppendFrom::Full { id, gen, len } => (None, Some(block_msg(id, gen, len))),
            AppendFrom::Partial(b) => {
                // The writer reads back and rewrites the block, as after AddBlock.
                let access = BlockAccess::WRITE.with(BlockAccess::READ);
                let now = common::auth::now_ms();
                (Some(located(&self.tokens, b, access, &user, now)), None)
            }
        };
        Ok(Response::new(AppendResponse {
            status: Some(status_msg(status)),
            bytes_per_checksum: self.ns.config.bytes_per_checksum,
            last_block,
            last_full,
        }))
    }

    async fn get_server_defaults(
        &self,
        req: Request<GetServerDefaultsRequest>,
    ) -> R<GetServerDefaultsResponse> {
        let user = caller(&req)?.user;
        let c = &self.ns.config;
        Ok(Response::new(GetServerDefaultsResponse {
            trash_interval_ms: c.trash_interval_ms,
            block_size: c.default_block_size,
            replication: c.default_replication,
            bytes_per_checksum: c.bytes_per_checksum,
            user,
        }))
    }

    async fn set_quota(&self, req: Request<SetQuotaRequest>) -> R<SetQuotaResponse> {
        let who = self.subject(&req)?;
        let r = req.into_inner();
        let change = |value: Option<u64>, clear: bool, what: &str| match (value, clear) {
            (Some(_), true) => Err(Reason::InvalidArgument.status(format!(
                "{}: both a {what} quota and clearing it: give one",
                r.path
            ))),
            (Some(n), false) => Ok(QuotaChange::Set(n)),
            (None, true) => Ok(QuotaChange::Clear),
            (None, false) => Ok(QuotaChange::Keep),
        };
        let names = change(r.name_quota, r.clear_name_quota, "name")?;
        let space = change(r.space_quota, r.clear_space_quota, "space")?;
        let set = self.ns.set_quota(&who, &r.path, names, space);
        durable(self.settled_err(set).await?).await?;
        Ok(Response::new(SetQuotaResponse {}))
    }

    async fn safe_mode(&self, req: Request<SafeModeRequest>) -> R<SafeModeResponse> {
        let who = self.subject(&req)?;
        let action = match proto::dfs::SafeModeAction::try_from(req.get_ref().action) {
            Ok(proto::dfs::SafeModeAction::SafeModeGet) => SafeModeAction::Get,
            Ok(proto::dfs::SafeModeAction::SafeModeEnter) => SafeModeAction::Enter,
            Ok(proto::dfs::SafeModeAction::SafeModeLeave) => SafeModeAction::Leave,
            Err(_) => {
                return Err(Reason::InvalidArgument.status(format!(
                    "safe mode action {} is unknown (get, enter or leave)",
                    req.get_ref().action
                )))
            }
        };
        // Counts every block: off the async threads.
        let s = blocking(&self.ns, move |ns| ns.safe_mode(&who, action)).await?;
        Ok(Response::new(SafeModeResponse {
            on: s.on,
            entered_by: s.entered_by.unwrap_or_default(),
            blocks: s.blocks,
        }))
    }

    async fn decommission(&self, req: Request<DecommissionRequest>) -> R<DecommissionResponse> {
        let r = req.get_ref();
        let what = if r.recommission {
            "recommission datanodes"
        } else {
            "decommission datanodes"
        };
        let who = self.require_superuser(&req, what)?;
        let r = req.into_inner();
        let (nodes, recommission, dry_run) = (r.nodes.clone(), r.recommission, r.dry_run);
        let matched = blocking(&self.ns, move |ns| {
            ns.decommission(&nodes, recommission, dry_run)
        })
        .await?;
        if !dry_run {
            tracing::info!(by = %who, nodes = ?r.nodes, recommission, "datanode admin command");
        }
        Ok(Response::new(DecommissionResponse {
            matched: matched.into_iter().map(|m| m.join(",")).collect(),
        }))
    }

    async fn refresh_nodes(&self, req: Request<RefreshNodesRequest>) -> R<RefreshNodesResponse> {
        self.require_superuser(&req, "refresh the node lists")?;
        let changes = blocking(&self.ns, |ns| ns.refresh_nodes()).await?;
        Ok(Response::new(RefreshNodesResponse { changes }))
    }

    async fn move_replica(&self, req: Request<MoveReplicaRequest>) -> R<MoveReplicaResponse> {
        self.require_superuser(&req, "move replicas (balance the cluster)")?;
        let r = req.into_inner();
        let (block, from, to) = (BlockId(r.block_id), NodeId(r.from_node), NodeId(r.to_node));
        self.ns.move_replica(block, from, to)?;
        Ok(Response::new(MoveReplicaResponse {}))
    }

    async fn revoked_tokens(&self, req: Request<RevokedTokensRequest>) -> R<RevokedTokensResponse> {
        if self.verifier.is_some() {
            require_service(&caller(&req)?, "cluster daemon")?;
        }
        Ok(Response::new(RevokedTokensResponse {
            token_ids: self.revocations.ids().iter().map(|i| i.0).collect(),
        }))
    }
}

fn report_bad(ns: &Namesystem, r: ReportBadBlocksRequest) {
    let bad: Vec<BadReplica> = r
        .replicas
        .iter()
        .filter_map(|b| {
            b.block.as_ref().map(|blk| BadReplica {
                block: BlockId(blk.id),
                gen: GenStamp(blk.gen_stamp),
                node: NodeId(b.node_id),
            })
        })
        .collect();
    ns.report_bad(&bad);
}

fn replicas_of(v: &[ReplicaReport]) -> Vec<ReportedReplica> {
    v.iter()
        .filter_map(|r| {
            r.block.as_ref().map(|b| ReportedReplica {
                block: BlockId(b.id),
                gen: GenStamp(b.gen_stamp),
                len: b.num_bytes,
                finalized: r.finalized,
            })
        })
        .collect()
}

/// The commands of a heartbeat reply, as wire messages.
fn commands_msg(tokens: &BlockTokens, q: Commands) -> Vec<DatanodeCommand> {
    let command = |c| DatanodeCommand { command: Some(c) };
    let mut out = Vec::new();
    let now = common::auth::now_ms();
    for r in q.replicate {
        out.push(command(datanode_command::Command::Replicate(
            ReplicateCommand {
                // The source presents it to the targets, which accept the copy with it.
                token: tokens.mint(r.block.0, r.gen.0, BlockAccess::COPY, "namenode", now),
                block: Some(block_msg(r.block, r.gen, r.len)),
                targets: r.targets.into_iter().map(info_msg).collect(),
            },
        )));
    }
    if !q.invalidate.is_empty() {
        out.push(command(datanode_command::Command::Invalidate(
            InvalidateCommand {
                blocks: q
                    .invalidate
                    .iter()
                    // No stamp: the datanode deletes whatever stamp it holds.
                    .map(|i| block_msg(i.block, i.gen.unwrap_or(GenStamp(u64::MAX)), 0))
                    .collect(),
            },
        )));
    }
    for r in q.recover {
        out.push(command(datanode_command::Command::Recover(
            RecoverBlockCommand {
                // The primary asks the other holders for their state and finalizes them with it.
                token: tokens.mint(
                    r.block.0,
                    r.gen.0,
                    BlockAccess::WRITE.with(BlockAccess::READ),
                    "namenode",
                    now,
                ),
                block: Some(block_msg(r.block, r.gen, r.len)),
                new_gen_stamp: r.new_gen.0,
                replicas: r.holders.into_iter().map(info_msg).collect(),
            },
        )));
    }
    out
}

#[tonic::async_trait]
impl DatanodeProtocol for Rpc {
    async fn register(&self, req: Request<RegisterRequest>) -> R<RegisterResponse> {
        let r = req.into_inner();
        if r.data_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(Reason::InvalidArgument
                .status(format!("data address '{}' is not ip:port", r.data_addr)));
        }
        let rack = self.ns.register(NodeId(r.node_id), r.host, r.data_addr)?;
        Ok(Response::new(RegisterResponse {
            rack,
            heartbeat_interval_ms: self.ns.config.heartbeat_interval_ms,
            block_report_interval_ms: self.ns.config.block_report_interval_ms,
        }))
    }

    async fn heartbeat(&self, req: Request<HeartbeatRequest>) -> R<HeartbeatResponse> {
        let r = req.into_inner();
        let Some(q) = self
            .ns
            .heartbeat(NodeId(r.node_id), r.capacity, r.used, r.remaining)
        else {
            return Ok(Response::new(HeartbeatResponse {
                commands: vec![DatanodeCommand {
                    command: Some(datanode_command::Command::Reregister(true)),
                }],
            }));
        };
        Ok(Response::new(HeartbeatResponse {
            commands: commands_msg(&self.tokens, q),
        }))
    }

    async fn block_report(&self, req: Request<BlockReportRequest>) -> R<BlockReportResponse> {
        let r = req.into_inner();
        // A full report lists every replica of a node: diff it on the blocking pool.
        blocking(&self.ns, move |ns| {
            ns.block_report(NodeId(r.node_id), &replicas_of(&r.replicas))
        })
        .await?;
        Ok(Response::new(BlockReportResponse {}))
    }

    async fn incremental_block_report(
        &self,
        req: Request<IncrementalBlockReportRequest>,
    ) -> R<IncrementalBlockReportResponse> {
        let r = req.into_inner();
        let deleted: Vec<BlockId> = r.deleted.iter().map(|b| BlockId(b.id)).collect();
        self.ns
            .incremental_report(NodeId(r.node_id), &replicas_of(&r.received), &deleted)?;
        Ok(Response::new(IncrementalBlockReportResponse {}))
    }

    async fn report_bad_blocks(
        &self,
        req: Request<ReportBadBlocksRequest>,
    ) -> R<ReportBadBlocksResponse> {
        report_bad(&self.ns, req.into_inner());
        Ok(Response::new(ReportBadBlocksResponse {}))
    }

    async fn commit_block_synchronization(
        &self,
        req: Request<CommitBlockSynchronizationRequest>,
    ) -> R<CommitBlockSynchronizationResponse> {
        let r = req.into_inner();
        let old = required(r.old_block, "old_block")?;
        let nodes: Vec<NodeId> = r.nodes.iter().map(|&n| NodeId(n)).collect();
        let committed = self.ns.commit_block_synchronization(
            BlockId(old.id),
            GenStamp(r.new_gen_stamp),
            r.new_length,
            &nodes,
        );
        let c = self.settled_err(committed).await?;
        durable(c).await?;
        Ok(Response::new(CommitBlockSynchronizationResponse {}))
    }
}
