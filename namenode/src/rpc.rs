//! The namenode's gRPC services: translation between wire messages and [`Namesystem`] calls.
//! Mutations reply only once their edit is durable.

use crate::datanodes::Liveness;
use crate::error::{NnError, NnResult};
use crate::namespace::{NodeIdx, Perm};
use crate::namesystem::{LocatedBlock, Namesystem, Status as FileStat};
use common::ids::NodeId;
use common::journal::Commit;
use proto::dfs::client_protocol_server::ClientProtocol;
use proto::dfs::datanode_protocol_server::DatanodeProtocol;
use proto::dfs::*;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct Rpc {
    pub ns: Arc<Namesystem>,
}

type R<T> = Result<Response<T>, Status>;

async fn durable(c: Commit) -> NnResult<()> {
    c.durable().await.map_err(NnError::Journal)
}

fn perm_of(caller: &Option<Caller>, mode: u32, default_mode: u32) -> Perm {
    let user = caller
        .as_ref()
        .map(|c| c.user.clone())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "nobody".into());
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

fn block_of(b: &Option<Block>) -> Option<(u64, u64)> {
    b.as_ref().map(|b| (b.id, b.num_bytes))
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, Status> {
    v.ok_or_else(|| Status::invalid_argument(format!("missing {what}")))
}

impl Rpc {
    fn node_info(&self, idx: NodeIdx) -> DatanodeInfo {
        let st = self.ns.state.lock();
        info_of(&st.dns, idx)
    }

    fn located(&self, b: LocatedBlock) -> proto::dfs::LocatedBlock {
        proto::dfs::LocatedBlock {
            block: Some(Block {
                id: b.id,
                gen_stamp: b.gen,
                num_bytes: b.len,
            }),
            offset: b.offset,
            locations: b.nodes.iter().map(|&n| self.node_info(n)).collect(),
            corrupt: b.corrupt,
        }
    }
}

fn info_of(dns: &crate::datanodes::Datanodes, idx: NodeIdx) -> DatanodeInfo {
    let d = dns.get(idx);
    DatanodeInfo {
        node_id: d.id.0,
        host: d.host.clone(),
        data_addr: d.data_addr.clone(),
        rack: d.rack.clone(),
    }
}

fn status_msg(s: FileStat) -> FileStatus {
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
    }
}

#[tonic::async_trait]
impl ClientProtocol for Rpc {
    async fn mkdirs(&self, req: Request<MkdirsRequest>) -> R<MkdirsResponse> {
        let r = req.into_inner();
        if let Some(c) = self.ns.mkdirs(&r.path, perm_of(&r.caller, r.mode, 0o755))? {
            durable(c).await?;
        }
        Ok(Response::new(MkdirsResponse {}))
    }

    async fn create(&self, req: Request<CreateRequest>) -> R<CreateResponse> {
        let r = req.into_inner();
        let (status, c) = self.ns.create(
            &r.path,
            perm_of(&r.caller, r.mode, 0o644),
            r.replication,
            r.block_size,
            &r.client_name,
            r.create_parent,
        )?;
        durable(c).await?;
        Ok(Response::new(CreateResponse {
            status: Some(status_msg(status)),
            bytes_per_checksum: self.ns.config.bytes_per_checksum,
        }))
    }

    async fn add_block(&self, req: Request<AddBlockRequest>) -> R<AddBlockResponse> {
        let host = caller_host(&req, &req.get_ref().caller);
        let r = req.into_inner();
        let excluded: Vec<NodeId> = r.excluded_nodes.iter().map(|&n| NodeId(n)).collect();
        let (b, c) = self.ns.add_block(
            &r.path,
            &r.client_name,
            block_of(&r.previous),
            &excluded,
            &host,
        )?;
        durable(c).await?;
        Ok(Response::new(AddBlockResponse {
            block: Some(self.located(b)),
        }))
    }

    async fn update_block_for_pipeline(
        &self,
        req: Request<UpdateBlockForPipelineRequest>,
    ) -> R<UpdateBlockForPipelineResponse> {
        let r = req.into_inner();
        let b = required(r.block, "block")?;
        let (gen, c) = self.ns.update_block_for_pipeline(b.id, &r.client_name)?;
        durable(c).await?;
        Ok(Response::new(UpdateBlockForPipelineResponse {
            new_gen_stamp: gen,
        }))
    }

    async fn update_pipeline(
        &self,
        req: Request<UpdatePipelineRequest>,
    ) -> R<UpdatePipelineResponse> {
        let r = req.into_inner();
        let old = required(r.old_block, "old_block")?;
        let new = required(r.new_block, "new_block")?;
        let nodes: Vec<NodeId> = r.new_nodes.iter().map(|&n| NodeId(n)).collect();
        let c = self
            .ns
            .update_pipeline(&r.client_name, old.id, new.gen_stamp, &nodes)?;
        durable(c).await?;
        Ok(Response::new(UpdatePipelineResponse {}))
    }

    async fn complete(&self, req: Request<CompleteRequest>) -> R<CompleteResponse> {
        let r = req.into_inner();
        let c = self
            .ns
            .complete(&r.path, &r.client_name, block_of(&r.last))?;
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
        let host = caller_host(&req, &req.get_ref().caller);
        let r = req.into_inner();
        let l = self.ns.locations(&r.path, &host)?;
        Ok(Response::new(GetBlockLocationsResponse {
            file_length: l.length,
            under_construction: l.under_construction,
            blocks: l.blocks.into_iter().map(|b| self.located(b)).collect(),
        }))
    }

    async fn get_listing(&self, req: Request<GetListingRequest>) -> R<GetListingResponse> {
        let entries = self.ns.listing(&req.into_inner().path)?;
        Ok(Response::new(GetListingResponse {
            entries: entries.into_iter().map(status_msg).collect(),
        }))
    }

    async fn get_file_info(&self, req: Request<GetFileInfoRequest>) -> R<GetFileInfoResponse> {
        let s = self.ns.file_info(&req.into_inner().path)?;
        Ok(Response::new(GetFileInfoResponse {
            status: Some(status_msg(s)),
        }))
    }

    async fn rename(&self, req: Request<RenameRequest>) -> R<RenameResponse> {
        let r = req.into_inner();
        durable(self.ns.rename(&r.src, &r.dst)?).await?;
        Ok(Response::new(RenameResponse {}))
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> R<DeleteResponse> {
        let r = req.into_inner();
        durable(self.ns.delete(&r.path, r.recursive)?).await?;
        Ok(Response::new(DeleteResponse {}))
    }

    async fn set_replication(
        &self,
        req: Request<SetReplicationRequest>,
    ) -> R<SetReplicationResponse> {
        let r = req.into_inner();
        durable(self.ns.set_replication(&r.path, r.replication)?).await?;
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
        let (length, files, directories, space_consumed) =
            self.ns.content_summary(&req.into_inner().path)?;
        Ok(Response::new(ContentSummaryResponse {
            length,
            files,
            directories,
            space_consumed,
        }))
    }

    async fn fsck(&self, req: Request<FsckRequest>) -> R<FsckResponse> {
        let (health, files, directories) = self.ns.fsck(&req.into_inner().path)?;
        let st = self.ns.state.lock();
        let now = Instant::now();
        let mut out = FsckResponse {
            files,
            directories,
            ..Default::default()
        };
        for h in health {
            out.total_bytes += h.len;
            out.under_replicated += h.under_replicated as u64;
            out.mis_replicated += h.mis_replicated as u64;
            out.corrupt += h.corrupt as u64;
            out.missing += h.missing as u64;
            out.blocks.push(FsckBlock {
                path: h.path,
                block: Some(Block {
                    id: h.id,
                    gen_stamp: h.gen,
                    num_bytes: h.len,
                }),
                expected_replication: h.expected,
                replicas: h
                    .replicas
                    .iter()
                    .map(|&(n, corrupt)| {
                        let d = st.dns.get(n);
                        FsckReplica {
                            node_id: d.id.0,
                            node: d.data_addr.clone(),
                            rack: d.rack.clone(),
                            corrupt,
                            stale: st.dns.liveness(n, now) != Liveness::Live,
                        }
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

    async fn cluster_report(
        &self,
        _req: Request<ClusterReportRequest>,
    ) -> R<ClusterReportResponse> {
        let st = self.ns.state.lock();
        let now = Instant::now();
        let mut per_node = vec![0u64; st.dns.nodes.len()];
        for m in st.ns.all_blocks() {
            for &n in &m.locations {
                per_node[n as usize] += 1;
            }
        }
        let datanodes = st
            .dns
            .all()
            .map(|i| {
                let d = st.dns.get(i);
                DatanodeReport {
                    info: Some(info_of(&st.dns, i)),
                    state: st.dns.liveness(i, now).as_str().into(),
                    capacity: d.capacity,
                    used: d.used,
                    remaining: d.remaining,
                    blocks: per_node[i as usize],
                    last_heartbeat_ms_ago: now
                        .saturating_duration_since(d.last_heartbeat)
                        .as_millis() as u64,
                }
            })
            .collect();
        let files = st
            .ns
            .inodes()
            .filter(|i| matches!(i.kind, crate::namespace::Kind::File(_)))
            .count() as u64;
        Ok(Response::new(ClusterReportResponse {
            datanodes,
            safe_mode: st.safe_mode.is_some(),
            safe_mode_reason: st.safe_mode.clone().unwrap_or_default(),
            total_blocks: st.ns.block_count() as u64,
            under_replicated: st.needed.len() as u64,
            pending_deletions: st
                .dns
                .nodes
                .iter()
                .map(|d| d.commands.invalidate.len() as u64)
                .sum(),
            files,
        }))
    }
}

fn report_bad(ns: &Namesystem, r: ReportBadBlocksRequest) {
    let bad: Vec<(u64, u64, NodeId)> = r
        .replicas
        .iter()
        .filter_map(|b| {
            b.block
                .as_ref()
                .map(|blk| (blk.id, blk.gen_stamp, NodeId(b.node_id)))
        })
        .collect();
    ns.report_bad(&bad);
}

fn replicas_of(v: &[ReplicaReport]) -> Vec<(u64, u64, u64, bool)> {
    v.iter()
        .filter_map(|r| {
            r.block
                .as_ref()
                .map(|b| (b.id, b.gen_stamp, b.num_bytes, r.finalized))
        })
        .collect()
}

#[tonic::async_trait]
impl DatanodeProtocol for Rpc {
    async fn register(&self, req: Request<RegisterRequest>) -> R<RegisterResponse> {
        let r = req.into_inner();
        if r.data_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(Status::invalid_argument(format!(
                "data address '{}' is not ip:port",
                r.data_addr
            )));
        }
        let rack = self.ns.register(NodeId(r.node_id), r.host, r.data_addr);
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
        let st = self.ns.state.lock();
        let blk = |id, gen, len| Block {
            id,
            gen_stamp: gen,
            num_bytes: len,
        };
        let mut commands = Vec::new();
        for (b, gen, len, targets) in q.replicate {
            commands.push(DatanodeCommand {
                command: Some(datanode_command::Command::Replicate(ReplicateCommand {
                    block: Some(blk(b, gen, len)),
                    targets: targets.iter().map(|&t| info_of(&st.dns, t)).collect(),
                })),
            });
        }
        if !q.invalidate.is_empty() {
            commands.push(DatanodeCommand {
                command: Some(datanode_command::Command::Invalidate(InvalidateCommand {
                    blocks: q
                        .invalidate
                        .iter()
                        .map(|&(b, gen)| blk(b, gen, 0))
                        .collect(),
                })),
            });
        }
        for (b, gen, len, new_gen, holders) in q.recover {
            commands.push(DatanodeCommand {
                command: Some(datanode_command::Command::Recover(RecoverBlockCommand {
                    block: Some(blk(b, gen, len)),
                    new_gen_stamp: new_gen,
                    replicas: holders.iter().map(|&t| info_of(&st.dns, t)).collect(),
                })),
            });
        }
        Ok(Response::new(HeartbeatResponse { commands }))
    }

    async fn block_report(&self, req: Request<BlockReportRequest>) -> R<BlockReportResponse> {
        let r = req.into_inner();
        self.ns
            .block_report(NodeId(r.node_id), &replicas_of(&r.replicas))?;
        Ok(Response::new(BlockReportResponse {}))
    }

    async fn incremental_block_report(
        &self,
        req: Request<IncrementalBlockReportRequest>,
    ) -> R<IncrementalBlockReportResponse> {
        let r = req.into_inner();
        let deleted: Vec<u64> = r.deleted.iter().map(|b| b.id).collect();
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
        let c =
            self.ns
                .commit_block_synchronization(old.id, r.new_gen_stamp, r.new_length, &nodes)?;
        durable(c).await?;
        Ok(Response::new(CommitBlockSynchronizationResponse {}))
    }
}
