//! The block manager: where every replica is. It keeps each block's good replicas and, beside
//! them, each datanode's own replica list, so a full report is diffed against what that node
//! was believed to hold and a dead node's replicas are found without scanning every block. It
//! also tracks corrupt replicas, the pipeline nodes of blocks being written, scheduled copies
//! and the blocks the replication monitor must look at. It reads the namespace (does the block
//! exist, its stamp and length) and never changes it.

use super::reports::{ReportDiff, ReportedReplica};
use crate::datanodes::{Datanodes, Invalidate, NodeIdx};
use crate::namespace::{BlockMeta, Namespace};
use common::ids::BlockId;
use smallvec::SmallVec;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

/// A copy scheduled but not yet reported done.
#[derive(Debug)]
pub(super) struct PendingCopy {
    pub source: NodeIdx,
    pub targets: Vec<NodeIdx>,
    pub deadline: Instant,
}

/// Sources and targets of copies of one block that timed out, so the next plan tries others
/// (a target may be refusing the copy, a source may be too slow or its replica bad). Forgotten
/// once the block is fully replicated.
#[derive(Debug, Default)]
pub(super) struct Tried {
    pub sources: Vec<NodeIdx>,
    pub targets: Vec<NodeIdx>,
}

#[derive(Debug, Default)]
pub(super) struct BlockManager {
    /// Nodes holding a good finalized replica of each block, at the block's current stamp.
    /// Absent: none (a block's memory stays flat until its replicas are reported).
    replicas: HashMap<BlockId, SmallVec<[NodeIdx; 3]>>,
    /// Replicas known to be corrupt, per block.
    pub corrupt: HashMap<BlockId, SmallVec<[NodeIdx; 2]>>,
    /// Nodes of the write pipeline of each block under construction.
    pub expected: HashMap<BlockId, Vec<NodeIdx>>,
    /// Blocks whose replication the monitor should check.
    pub needed: BTreeSet<BlockId>,
    pub pending: HashMap<BlockId, PendingCopy>,
    /// Where copies of a block that did not complete in time came from and went to.
    pub tried: HashMap<BlockId, Tried>,
    /// Blocks a balancer move copied: the node whose replica goes once the copy is reported.
    pub move_hints: HashMap<BlockId, NodeIdx>,
    /// Each node's good finalized replicas (indexed by `NodeIdx`): the mirror, per node, of
    /// `replicas`.
    by_node: Vec<HashSet<BlockId>>,
}

/// What one reported replica did to the books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A new good replica.
    Added,
    /// Already known (or a replica of a block still being written).
    Known,
    /// Stale, of a deleted block, or corrupt: to be deleted or replaced, not a location.
    Rejected,
}

impl BlockManager {
    /// How many good replicas `idx` holds.
    pub fn replica_count(&self, idx: NodeIdx) -> usize {
        self.by_node.get(idx.0 as usize).map_or(0, HashSet::len)
    }

    /// The good finalized replicas `idx` holds.
    pub fn blocks_on(&self, idx: NodeIdx) -> impl Iterator<Item = BlockId> + '_ {
        self.by_node
            .get(idx.0 as usize)
            .into_iter()
            .flatten()
            .copied()
    }

    fn node_list(&mut self, idx: NodeIdx) -> &mut HashSet<BlockId> {
        let i = idx.0 as usize;
        if self.by_node.len() <= i {
            self.by_node.resize_with(i + 1, HashSet::new);
        }
        &mut self.by_node[i]
    }

    fn lists(&self, idx: NodeIdx, b: BlockId) -> bool {
        self.by_node
            .get(idx.0 as usize)
            .is_some_and(|s| s.contains(&b))
    }

    /// Where `b` has good replicas.
    pub fn locations(&self, b: BlockId) -> &[NodeIdx] {
        self.replicas.get(&b).map_or(&[], |r| r.as_slice())
    }

    /// Queues every block `idx` holds for the replication monitor (its rack changed).
    pub fn check_node_blocks(&mut self, idx: NodeIdx) {
        if let Some(held) = self.by_node.get(idx.0 as usize) {
            self.needed.extend(held.iter().copied());
        }
    }

    /// Queues blocks for the replication monitor.
    pub fn needs_check(&mut self, blocks: impl IntoIterator<Item = BlockId>) {
        self.needed.extend(blocks);
    }

    /// Records a good replica of `b` on `idx`; true if it is new.
    fn add_location(&mut self, b: BlockId, idx: NodeIdx) -> bool {
        let r = self.replicas.entry(b).or_default();
        if r.contains(&idx) {
            return false;
        }
        r.push(idx);
        self.node_list(idx).insert(b);
        self.needed.insert(b);
        true
    }

    /// Forgets the replica of `b` on `idx`, if it was a location.
    pub fn remove_location(&mut self, b: BlockId, idx: NodeIdx) {
        if let Some(s) = self.by_node.get_mut(idx.0 as usize) {
            s.remove(&b);
        }
        if let Some(r) = self.replicas.get_mut(&b) {
            if let Some(pos) = r.iter().position(|&n| n == idx) {
                r.swap_remove(pos);
                if r.is_empty() {
                    self.replicas.remove(&b);
                }
                self.needed.insert(b);
            }
        }
    }

    pub fn mark_corrupt(&mut self, b: BlockId, idx: NodeIdx) {
        self.remove_location(b, idx);
        let c = self.corrupt.entry(b).or_default();
        if !c.contains(&idx) {
            c.push(idx);
        }
        self.needed.insert(b);
    }

    pub fn corrupt_of(&self, b: BlockId) -> &[NodeIdx] {
        self.corrupt.get(&b).map_or(&[], |c| c.as_slice())
    }

    /// Forgets every replica a node held (it died or registered anew): from its own list, not
    /// by scanning the blocks.
    pub fn drop_node(&mut self, idx: NodeIdx) {
        let held = std::mem::take(self.node_list(idx));
        for b in held {
            self.remove_location(b, idx);
        }
        self.forget_corrupt_on(idx);
    }

    fn forget_corrupt_on(&mut self, idx: NodeIdx) {
        for c in self.corrupt.values_mut() {
            c.retain(|n| *n != idx);
        }
        self.corrupt.retain(|_, c| !c.is_empty());
    }

    /// A block left the namespace: every replica of it, good, corrupt or half-written, goes.
    pub fn forget_block(&mut self, dns: &mut Datanodes, meta: BlockMeta) {
        let b = meta.id;
        for n in self.replicas.remove(&b).unwrap_or_default() {
            if let Some(s) = self.by_node.get_mut(n.0 as usize) {
                s.remove(&b);
            }
            let gen = Some(meta.gen);
            dns.get_mut(n)
                .commands
                .invalidate
                .push(Invalidate { block: b, gen });
        }
        if let Some(c) = self.corrupt.remove(&b) {
            for n in c {
                let gen = Some(meta.gen);
                dns.get_mut(n)
                    .commands
                    .invalidate
                    .push(Invalidate { block: b, gen });
            }
        }
        if let Some(nodes) = self.expected.remove(&b) {
            for n in nodes {
                // A pipeline replica's stamp may be newer than the namenode learnt: any goes.
                let gen = None;
                dns.get_mut(n)
                    .commands
                    .invalidate
                    .push(Invalidate { block: b, gen });
            }
        }
        self.needed.remove(&b);
        self.pending.remove(&b);
        self.tried.remove(&b);
        self.move_hints.remove(&b);
    }

    /// A copy scheduled from `source` cannot finish (its replica turned out corrupt): forget
    /// it now, rather than at its deadline, so the block is planned again from a good replica.
    pub fn cancel_pending_from(&mut self, dns: &mut Datanodes, b: BlockId, source: NodeIdx) {
        if self.pending.get(&b).is_some_and(|p| p.source == source) {
            self.pending.remove(&b);
            let s = dns.get_mut(source);
            s.transfers_scheduled = s.transfers_scheduled.saturating_sub(1);
            self.needed.insert(b);
        }
    }

    /// A block was restamped: the replicas it had are stale, no longer locations.
    pub fn forget_stale(&mut self, b: BlockId) {
        for n in self.replicas.remove(&b).unwrap_or_default() {
            if let Some(s) = self.by_node.get_mut(n.0 as usize) {
                s.remove(&b);
            }
        }
    }

    /// A full block report: diffs the node's replicas against its list. Listed but not
    /// reported: removed. Reported: added, kept, or rejected (stale, corrupt, unknown block).
    pub fn full_report(
        &mut self,
        ns: &Namespace,
        dns: &mut Datanodes,
        idx: NodeIdx,
        replicas: &[ReportedReplica],
    ) -> ReportDiff {
        let reported: HashSet<BlockId> = replicas.iter().map(|r| r.block).collect();
        let gone: Vec<BlockId> = self
            .node_list(idx)
            .iter()
            .filter(|b| !reported.contains(b))
            .copied()
            .collect();
        for &b in &gone {
            self.remove_location(b, idx);
        }
        let mut diff = ReportDiff {
            removed: gone.len(),
            ..ReportDiff::default()
        };
        for r in replicas {
            let listed = self.lists(idx, r.block);
            match self.process_replica(ns, dns, idx, r) {
                Outcome::Added => diff.added += 1,
                Outcome::Rejected if listed => diff.changed += 1,
                Outcome::Rejected | Outcome::Known => {}
            }
        }
        diff
    }

    /// An incremental report: replicas received, and replicas the node deleted.
    pub fn incremental_report(
        &mut self,
        ns: &Namespace,
        dns: &mut Datanodes,
        idx: NodeIdx,
        received: &[ReportedReplica],
        deleted: &[BlockId],
    ) {
        for r in received {
            self.process_replica(ns, dns, idx, r);
        }
        for &b in deleted {
            self.remove_location(b, idx);
            if let Some(c) = self.corrupt.get_mut(&b) {
                c.retain(|n| *n != idx);
            }
        }
    }

    /// A replica a node says it has: record it, or have it deleted, or mark it corrupt.
    pub fn process_replica(
        &mut self,
        ns: &Namespace,
        dns: &mut Datanodes,
        idx: NodeIdx,
        r: &ReportedReplica,
    ) -> Outcome {
        let b = r.block;
        let invalidate = Invalidate {
            block: b,
            gen: Some(r.gen),
        };
        let Some(meta) = ns.block(b) else {
            dns.get_mut(idx).commands.invalidate.push(invalidate);
            return Outcome::Rejected;
        };
        if !r.finalized {
            if !meta.committed {
                let e = self.expected.entry(b).or_default();
                if !e.contains(&idx) {
                    e.push(idx);
                }
            } else if !self.locations(b).contains(&idx) {
                dns.get_mut(idx).commands.invalidate.push(invalidate);
                return Outcome::Rejected;
            }
            return Outcome::Known;
        }
        if r.gen < meta.gen {
            dns.get_mut(idx).commands.invalidate.push(invalidate);
            return Outcome::Rejected;
        }
        if r.gen > meta.gen && !meta.committed {
            // A block under recovery: a holder finalized it at the recovery's stamp before the
            // primary's CommitBlockSynchronization arrived, which records it.
            let e = self.expected.entry(b).or_default();
            if !e.contains(&idx) {
                e.push(idx);
            }
            return Outcome::Known;
        }
        if r.gen > meta.gen || (meta.committed && r.len != meta.len) {
            tracing::warn!(
                block = %b,
                gen = %r.gen,
                len = r.len,
                expected_len = meta.len,
                "replica has the wrong length or generation"
            );
            self.mark_corrupt(b, idx);
            return Outcome::Rejected;
        }
        if self.corrupt_of(b).contains(&idx) {
            return Outcome::Rejected;
        }
        let added = self.add_location(b, idx);
        if let Some(p) = self.pending.get_mut(&b) {
            if let Some(pos) = p.targets.iter().position(|&t| t == idx) {
                p.targets.swap_remove(pos);
                if p.targets.is_empty() {
                    let source = p.source;
                    self.pending.remove(&b);
                    let s = dns.get_mut(source);
                    s.transfers_scheduled = s.transfers_scheduled.saturating_sub(1);
                }
            }
        }
        if added {
            Outcome::Added
        } else {
            Outcome::Known
        }
    }
}
