//! The replication monitor: for each block the block manager queued, schedule copies of an
//! under-replicated (or mis-replicated: all on one rack when there are two) block, delete
//! excess replicas, and replace corrupt ones once enough good replicas exist.

use super::blocks::PendingCopy;
use super::{Metadata, Namesystem};
use crate::datanodes::{Datanodes, Invalidate, Liveness, NodeIdx, Replicate};
use crate::placement;
use common::ids::BlockId;
use std::time::{Duration, Instant};

/// Blocks looked at per pass, so one pass holds the lock for a bounded time.
const BATCH: usize = 10_000;

/// Distinct racks among `nodes`.
fn rack_count(dns: &Datanodes, nodes: &[NodeIdx]) -> usize {
    let mut r: Vec<&str> = nodes.iter().map(|&n| dns.get(n).rack.as_str()).collect();
    r.sort_unstable();
    r.dedup();
    r.len()
}

impl Namesystem {
    /// Schedules copies of under-replicated blocks and deletions of excess replicas.
    pub fn check_replication(&self) {
        let mut st = self.meta.lock();
        let st = &mut *st;
        if st.safe_mode.is_some() {
            return;
        }
        let now = self.clock.now();
        let expired: Vec<BlockId> = st
            .blocks
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(b, _)| *b)
            .collect();
        for b in expired {
            if let Some(p) = st.blocks.pending.remove(&b) {
                tracing::warn!(block = %b, source = %st.dns.get(p.source).id, "a scheduled copy did not complete in time; planning it again elsewhere");
                let src = st.dns.get_mut(p.source);
                src.transfers_scheduled = src.transfers_scheduled.saturating_sub(1);
                let tried = st.blocks.tried.entry(b).or_default();
                tried.sources.push(p.source);
                tried.targets.extend(p.targets);
                st.blocks.move_hints.remove(&b);
            }
            st.blocks.needed.insert(b);
        }
        let batch: Vec<BlockId> = st.blocks.needed.iter().take(BATCH).copied().collect();
        let timeout = Duration::from_millis(self.config.pending_replication_timeout_ms);
        for b in batch {
            if !self.check_block(st, b, now + timeout) {
                st.blocks.needed.remove(&b);
                st.blocks.tried.remove(&b);
            }
        }
        self.check_decommission(st);
    }

    /// One block's replication decision; returns true when it must be looked at again later.
    fn check_block(&self, st: &mut Metadata, b: BlockId, deadline: Instant) -> bool {
        let Some((f, meta)) = st.ns.block_file(b) else {
            return false;
        };
        if !meta.committed {
            return false;
        }
        let (gen, len, expected) = (meta.gen, meta.len, f.replication as usize);
        // Replicas on nodes being decommissioned are sources, but do not count.
        let live: Vec<NodeIdx> = st.blocks.locations(b).to_vec();
        let (live, leaving): (Vec<NodeIdx>, Vec<NodeIdx>) =
            live.into_iter().partition(|&n| st.dns.in_service(n));
        let pending: Vec<NodeIdx> = st
            .blocks
            .pending
            .get(&b)
            .map(|p| p.targets.clone())
            .unwrap_or_default();
        let corrupt: Vec<NodeIdx> = st.blocks.corrupt_of(b).to_vec();
        let racks = st.dns.live_racks();
        let mis_replicated = expected >= 2 && racks >= 2 && rack_count(&st.dns, &live) < 2;
        let want = if mis_replicated && live.len() >= expected {
            live.len() + 1
        } else {
            expected
        };
        if live.len() + pending.len() < want {
            if !pending.is_empty() {
                return true; // wait for the scheduled copy first
            }
            let (tried_sources, tried_targets) = st
                .blocks
                .tried
                .get(&b)
                .map(|t| (t.sources.clone(), t.targets.clone()))
                .unwrap_or_default();
            // A source whose copy timed out comes last: another holder may do better.
            let mut sources: Vec<NodeIdx> = live
                .iter()
                .chain(&leaving)
                .copied()
                .filter(|&n| st.dns.liveness(n) == Liveness::Live)
                .filter(|&n| {
                    st.dns.get(n).transfers_scheduled < self.config.max_replication_streams
                })
                .collect();
            sources.sort_by_key(|n| tried_sources.iter().filter(|t| *t == n).count());
            let source = sources.first().copied();
            let Some(source) = source else {
                // Every holder is busy: later. No good replica at all: nothing to copy from
                // until a report brings one, which queues the block again.
                return !live.is_empty() || !leaving.is_empty();
            };
            let mut existing = live.clone();
            existing.extend(&pending);
            // Targets of copies that timed out are avoided while others can take the block.
            let mut avoid = corrupt.clone();
            avoid.extend(&tried_targets);
            avoid.extend(&leaving);
            let mut targets = placement::choose_targets(
                &st.dns,
                want - live.len(),
                None,
                &existing,
                &avoid,
                len.max(1),
            );
            if targets.len() < want - live.len() && !tried_targets.is_empty() {
                let all = placement::choose_targets(
                    &st.dns,
                    want - live.len(),
                    None,
                    &existing,
                    &[corrupt.as_slice(), leaving.as_slice()].concat(),
                    len.max(1),
                );
                if all.len() > targets.len() {
                    targets = all;
                }
            }
            if targets.is_empty() {
                return true;
            }
            tracing::info!(block = %b, source = %st.dns.get(source).id, targets = targets.len(), "scheduling replication");
            let src = st.dns.get_mut(source);
            src.transfers_scheduled += 1;
            src.commands.replicate.push_back(Replicate {
                block: b,
                gen,
                len,
                targets: targets.clone(),
            });
            st.blocks.pending.insert(
                b,
                PendingCopy {
                    source,
                    targets,
                    deadline,
                },
            );
            return true;
        }
        let invalidate = Invalidate {
            block: b,
            gen: Some(gen),
        };
        if live.len() >= expected {
            for n in corrupt {
                st.dns.get_mut(n).commands.invalidate.push(invalidate);
                if let Some(c) = st.blocks.corrupt.get_mut(&b) {
                    c.retain(|x| *x != n);
                }
            }
            st.blocks.corrupt.retain(|_, c| !c.is_empty());
        }
        if live.len() > expected && pending.is_empty() {
            let mut keep = live.clone();
            // A balancer move's source goes first, unless that breaks the rack rule.
            if let Some(hint) = st.blocks.move_hints.remove(&b) {
                let rest: Vec<NodeIdx> = keep.iter().copied().filter(|&n| n != hint).collect();
                let want_racks = expected.min(racks).min(2);
                if rest.len() < keep.len() && rack_count(&st.dns, &rest) >= want_racks {
                    keep = rest;
                    st.blocks.remove_location(b, hint);
                    st.dns.get_mut(hint).commands.invalidate.push(invalidate);
                }
            }
            while keep.len() > expected {
                // Delete from a rack holding more than one replica, the fullest node first.
                let victim = keep
                    .iter()
                    .copied()
                    .filter(|&n| {
                        let rack = &st.dns.get(n).rack;
                        keep.iter()
                            .filter(|&&m| &st.dns.get(m).rack == rack)
                            .count()
                            > 1
                            || rack_count(&st.dns, &keep) > 2
                    })
                    .min_by_key(|&n| st.dns.get(n).remaining)
                    .or_else(|| {
                        keep.iter()
                            .copied()
                            .min_by_key(|&n| st.dns.get(n).remaining)
                    });
                let Some(v) = victim else { break };
                keep.retain(|&n| n != v);
                st.blocks.remove_location(b, v);
                st.dns.get_mut(v).commands.invalidate.push(invalidate);
            }
        }
        false
    }
}
