//! The datanode side of the namesystem: registration, heartbeats (and declaring silent nodes
//! dead), full and incremental block reports, corrupt replicas reported by readers and
//! scanners, and the close of a file whose lease recovery a datanode finished.

use super::leases::Recovery;
use super::{now_ms, Namesystem};
use crate::datanodes::{Commands, NodeIdx};
use crate::error::{NnError, NnResult};
use crate::namespace::Edit;
use common::ids::{BlockId, GenStamp, NodeId};
use common::journal::Commit;

/// One replica as a datanode reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportedReplica {
    pub block: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    /// Finalized (complete); otherwise still being written.
    pub finalized: bool,
}

/// A replica a reader or a block scanner found corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadReplica {
    pub block: BlockId,
    pub gen: GenStamp,
    pub node: NodeId,
}

/// How a full block report changed what the namenode believed the node held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportDiff {
    /// Good replicas the node was not known to hold.
    pub added: usize,
    /// Replicas the node was believed to hold and no longer reports.
    pub removed: usize,
    /// Replicas the node was believed to hold that are now stale or corrupt.
    pub changed: usize,
}

impl Namesystem {
    /// Registers a node (again, after a restart or after being declared dead); returns its
    /// rack. A node the include list does not name is refused.
    pub fn register(&self, id: NodeId, host: String, data_addr: String) -> NnResult<String> {
        self.admit(&data_addr, &host)?;
        // A node that joins right after its line was added to the topology file must not wait
        // for the next poll to get its rack: look at the file now (a stat when unchanged).
        if let Err(e) = self.refresh_topology() {
            tracing::error!(error = %e, "re-reading the topology failed; the racks stay as they were");
        }
        let rack = self.topology.rack_of(&data_addr);
        let mut st = self.meta.lock();
        let st = &mut *st;
        if let Some(idx) = st.dns.index_of(id) {
            st.blocks.drop_node(idx);
        }
        let idx = st
            .dns
            .register(id, host.clone(), data_addr.clone(), rack.clone());
        tracing::info!(node = %id, %idx, %data_addr, %rack, "datanode registered");
        Self::admin_on_register(st, idx);
        Ok(rack)
    }

    /// Records a heartbeat and hands out the node's queued work; `None` tells the node to
    /// register again.
    pub fn heartbeat(
        &self,
        id: NodeId,
        capacity: u64,
        used: u64,
        remaining: u64,
    ) -> Option<Commands> {
        let mut st = self.meta.lock();
        let idx = st.dns.index_of(id)?;
        if st.dns.get(idx).dead {
            return None;
        }
        let now = self.clock.now();
        let n = st.dns.get_mut(idx);
        n.last_heartbeat = now;
        (n.capacity, n.used, n.remaining) = (capacity, used, remaining);
        let mut out = std::mem::take(&mut n.commands);
        // Hand out deletions in bounded batches so one reply stays small.
        if out.invalidate.len() > 1000 {
            n.commands.invalidate = out.invalidate.split_off(1000);
        }
        Some(st.dns.resolve(out))
    }

    fn registered(st: &super::Metadata, id: NodeId) -> NnResult<NodeIdx> {
        st.dns
            .index_of(id)
            .ok_or_else(|| NnError::InvalidArgument(format!("{id} is not registered")))
    }

    /// A full block report: the node's replicas, diffed against what it was believed to hold.
    /// Call it off the async threads: a report lists every replica of a node.
    pub fn block_report(&self, id: NodeId, replicas: &[ReportedReplica]) -> NnResult<ReportDiff> {
        let mut st = self.meta.lock();
        let st = &mut *st;
        let idx = Self::registered(st, id)?;
        let diff = st.blocks.full_report(&st.ns, &mut st.dns, idx, replicas);
        tracing::info!(
            node = %id,
            replicas = replicas.len(),
            added = diff.added,
            removed = diff.removed,
            changed = diff.changed,
            "block report processed"
        );
        Ok(diff)
    }

    pub fn incremental_report(
        &self,
        id: NodeId,
        received: &[ReportedReplica],
        deleted: &[BlockId],
    ) -> NnResult<()> {
        let mut st = self.meta.lock();
        let st = &mut *st;
        let idx = Self::registered(st, id)?;
        st.blocks
            .incremental_report(&st.ns, &mut st.dns, idx, received, deleted);
        Ok(())
    }

    pub fn report_bad(&self, bad: &[BadReplica]) {
        let mut st = self.meta.lock();
        let st = &mut *st;
        for r in bad {
            let Some(idx) = st.dns.index_of(r.node) else {
                continue;
            };
            if st.ns.block(r.block).is_some_and(|m| m.gen == r.gen) {
                tracing::warn!(block = %r.block, node = %r.node, "corrupt replica reported");
                st.blocks.mark_corrupt(r.block, idx);
                st.blocks.cancel_pending_from(&mut st.dns, r.block, idx);
            }
        }
    }

    /// A datanode finished a lease recovery: the block's agreed length and stamp are final and
    /// the file is closed.
    pub fn commit_block_synchronization(
        &self,
        block: BlockId,
        new_gen: GenStamp,
        len: u64,
        nodes: &[NodeId],
    ) -> NnResult<Commit> {
        let mut st = self.meta.lock();
        let st = &mut *st;
        let path = match st.leases.recovering.get(&block) {
            Some(Recovery { path, gen }) if *gen == new_gen => path.clone(),
            Some(Recovery { gen, .. }) => {
                return Err(NnError::InvalidArgument(format!(
                    "block {block}: recovery with generation {new_gen} was superseded by {gen}",
                    block = block.0
                )))
            }
            None => {
                return Err(NnError::InvalidArgument(format!(
                    "block {} is not under recovery",
                    block.0
                )))
            }
        };
        st.leases.recovering.remove(&block);
        self.log(
            st,
            Edit::UpdateBlock {
                path: path.clone(),
                block,
                gen: new_gen,
                len: Some(len),
            },
        )?;
        let commit = self.log(
            st,
            Edit::Close {
                path: path.clone(),
                last_len: None,
                drop_last: false,
                mtime: now_ms(),
            },
        )?;
        let idxs: Vec<NodeIdx> = nodes.iter().filter_map(|&n| st.dns.index_of(n)).collect();
        let replica = ReportedReplica {
            block,
            gen: new_gen,
            len,
            finalized: true,
        };
        for idx in idxs {
            st.blocks
                .process_replica(&st.ns, &mut st.dns, idx, &replica);
        }
        st.blocks.expected.remove(&block);
        st.leases.release_everyone(&path);
        tracing::info!(%path, %block, len, "lease recovery closed the file");
        Ok(commit)
    }

    /// Declares silent datanodes dead; their replicas are forgotten, which queues their blocks
    /// for re-replication.
    pub fn check_heartbeats(&self) {
        let mut st = self.meta.lock();
        let st = &mut *st;
        for idx in st.dns.newly_dead() {
            tracing::warn!(node = %st.dns.get(idx).id, "datanode is dead");
            st.blocks.drop_node(idx);
            let n = st.dns.get_mut(idx);
            n.commands = Default::default();
            n.transfers_scheduled = 0;
            n.dead = true;
        }
    }
}
