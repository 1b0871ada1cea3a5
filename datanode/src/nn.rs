//! The datanode's link to the namenode: registration, heartbeats, block reports, and the
//! commands that come back on heartbeat replies.

use crate::storage::{Replica, ReplicaState, Storage};
use client::Credentials;
use common::ids::{BlockId, GenStamp, NodeId};
use proto::dfs::datanode_command::Command;
use proto::dfs::datanode_protocol_client::DatanodeProtocolClient;
use proto::dfs::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The namenode's datanode protocol, every call carrying this datanode's service token.
type Client = DatanodeProtocolClient<InterceptedService<Channel, Credentials>>;

/// Shared handle used by the transfer threads to tell the namenode about replicas.
#[derive(Clone)]
pub struct NamenodeLink {
    client: Client,
    rt: Handle,
    pub node_id: NodeId,
}

fn block_msg(r: &Replica, len: u64) -> Block {
    Block {
        id: r.id,
        gen_stamp: r.gen,
        num_bytes: len,
    }
}

impl NamenodeLink {
    pub fn new(
        namenode_addr: &str,
        credentials: Credentials,
        security: &common::config::SecurityConfig,
        rt: Handle,
        node_id: NodeId,
    ) -> anyhow::Result<Self> {
        let channel = common::grpc_tls::endpoint("namenode_addr", namenode_addr, security)?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(60))
            .connect_lazy();
        Ok(NamenodeLink {
            client: DatanodeProtocolClient::with_interceptor(channel, credentials)
                .max_decoding_message_size(256 << 20),
            rt,
            node_id,
        })
    }

    /// Reports a replica that just became finalized; blocks the calling (non-runtime) thread.
    /// A failure is logged: the next full block report carries the replica anyway.
    pub fn received(&self, r: &Replica, len: u64) {
        let req = IncrementalBlockReportRequest {
            node_id: self.node_id.0,
            received: vec![ReplicaReport {
                block: Some(block_msg(r, len)),
                finalized: r.state == ReplicaState::Finalized,
            }],
            deleted: vec![],
        };
        let mut c = self.client.clone();
        if let Err(e) = self.rt.block_on(c.incremental_block_report(req)) {
            tracing::warn!(block = r.id, error = %e, "incremental block report failed");
        }
    }

    /// Reports replicas still being written that no writer touches any more, so the namenode
    /// has the ones it no longer expects (deleted or completed blocks) deleted.
    pub fn unfinished(&self, replicas: &[(Replica, u64)]) {
        let req = IncrementalBlockReportRequest {
            node_id: self.node_id.0,
            received: replicas
                .iter()
                .map(|(r, len)| ReplicaReport {
                    block: Some(block_msg(r, *len)),
                    finalized: false,
                })
                .collect(),
            deleted: vec![],
        };
        let mut c = self.client.clone();
        if let Err(e) = self.rt.block_on(c.incremental_block_report(req)) {
            tracing::warn!(error = %e, "reporting idle replicas being written failed");
        }
    }

    /// Reports replicas of ours found corrupt.
    pub fn report_bad(&self, id: BlockId, gen: GenStamp) {
        let req = ReportBadBlocksRequest {
            replicas: vec![report_bad_blocks_request::BadReplica {
                block: Some(Block {
                    id: id.0,
                    gen_stamp: gen.0,
                    num_bytes: 0,
                }),
                node_id: self.node_id.0,
            }],
        };
        let mut c = self.client.clone();
        if let Err(e) = self.rt.block_on(c.report_bad_blocks(req)) {
            tracing::warn!(block = %id, error = %e, "reporting a corrupt replica failed");
        }
    }

    pub fn commit_block_synchronization(
        &self,
        block: BlockId,
        new_gen: GenStamp,
        len: u64,
        nodes: Vec<NodeId>,
    ) -> Result<(), tonic::Status> {
        let mut c = self.client.clone();
        self.rt
            .block_on(
                c.commit_block_synchronization(CommitBlockSynchronizationRequest {
                    old_block: Some(Block {
                        id: block.0,
                        gen_stamp: 0,
                        num_bytes: 0,
                    }),
                    new_gen_stamp: new_gen.0,
                    new_length: len,
                    nodes: nodes.into_iter().map(|n| n.0).collect(),
                }),
            )
            .map(|_| ())
    }
}

/// What the heartbeat loop needs to run commands.
pub trait CommandRunner: Send + Sync + 'static {
    /// `token`: the namenode's COPY block access token, for the targets.
    fn replicate(&self, block: Block, targets: Vec<DatanodeInfo>, token: String);
    fn recover(&self, cmd: RecoverBlockCommand);
}

/// Registers, reports and heartbeats until the process ends; re-registers when told to.
pub async fn run(
    link: NamenodeLink,
    storage: Arc<Storage>,
    data_addr: String,
    runner: Arc<dyn CommandRunner>,
) {
    let host = common::topology::host_of(&data_addr).to_string();
    let mut client = link.client.clone();
    loop {
        let usage = storage.usage();
        let reg = client
            .register(RegisterRequest {
                node_id: link.node_id.0,
                host: host.clone(),
                data_addr: data_addr.clone(),
                capacity: usage.capacity,
                used: usage.used,
                remaining: usage.remaining,
            })
            .await;
        let reg = match reg {
            Ok(r) => r.into_inner(),
            Err(e) => {
                tracing::warn!(error = %e.message(), "cannot register with the namenode; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::info!(rack = %reg.rack, node = %link.node_id, "registered with the namenode");
        let hb = Duration::from_millis(reg.heartbeat_interval_ms.max(100));
        let report_every = Duration::from_millis(reg.block_report_interval_ms.max(1000));
        let mut last_report: Option<Instant> = None;
        loop {
            if last_report.is_none_or(|t| t.elapsed() >= report_every) {
                if let Err(e) = full_report(&mut client, &link, &storage).await {
                    tracing::warn!(error = %e.message(), "block report failed");
                    tokio::time::sleep(hb).await;
                    continue;
                }
                last_report = Some(Instant::now());
            }
            let usage = storage.usage();
            let reply = client
                .heartbeat(HeartbeatRequest {
                    node_id: link.node_id.0,
                    capacity: usage.capacity,
                    used: usage.used,
                    remaining: usage.remaining,
                    transfers_in_progress: 0,
                })
                .await;
            let mut reregister = false;
            match reply {
                Ok(r) => {
                    for c in r.into_inner().commands {
                        match c.command {
                            Some(Command::Reregister(_)) => reregister = true,
                            Some(Command::Invalidate(inv)) => {
                                invalidate(&mut client, &link, &storage, inv.blocks).await
                            }
                            Some(Command::Replicate(rep)) => {
                                if let Some(b) = rep.block {
                                    runner.replicate(b, rep.targets, rep.token);
                                }
                            }
                            Some(Command::Recover(rec)) => runner.recover(rec),
                            None => {}
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e.message(), "heartbeat failed"),
            }
            if reregister {
                break;
            }
            tokio::time::sleep(hb).await;
        }
    }
}

async fn full_report(
    client: &mut Client,
    link: &NamenodeLink,
    storage: &Arc<Storage>,
) -> Result<(), tonic::Status> {
    let s = storage.clone();
    let replicas = tokio::task::spawn_blocking(move || s.report())
        .await
        .unwrap_or_default();
    let replicas = replicas
        .iter()
        .map(|(r, len)| ReplicaReport {
            block: Some(block_msg(r, *len)),
            finalized: r.state == ReplicaState::Finalized,
        })
        .collect();
    client
        .block_report(BlockReportRequest {
            node_id: link.node_id.0,
            replicas,
        })
        .await
        .map(|_| ())
}

async fn invalidate(
    client: &mut Client,
    link: &NamenodeLink,
    storage: &Arc<Storage>,
    blocks: Vec<Block>,
) {
    let s = storage.clone();
    let deleted: Vec<Block> = tokio::task::spawn_blocking(move || {
        blocks
            .into_iter()
            .filter(|b| s.delete(b.id, b.gen_stamp))
            .collect()
    })
    .await
    .unwrap_or_default();
    if deleted.is_empty() {
        return;
    }
    tracing::info!(count = deleted.len(), "replicas deleted");
    let req = IncrementalBlockReportRequest {
        node_id: link.node_id.0,
        received: vec![],
        deleted,
    };
    if let Err(e) = client.incremental_block_report(req).await {
        tracing::warn!(error = %e.message(), "reporting deletions failed");
    }
}
