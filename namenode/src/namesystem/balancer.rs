//! Replica moves for the balancer: copy a block's replica from one datanode to another with
//! the replication machinery (a replicate command on the source's next heartbeat), then, once
//! the new replica is reported, let the replication monitor delete the excess replica, choosing
//! the source (HDFS's "delete hint") when that keeps the rack rule. A move abandoned half way
//! (the copy fails, the balancer is stopped) leaves at worst an extra replica, which the
//! monitor trims like any other.

use super::blocks::PendingCopy;
use super::Namesystem;
use crate::datanodes::{Liveness, NodeIdx, Replicate};
use crate::error::{NnError, NnResult};
use common::ids::{BlockId, NodeId};
use std::time::Duration;

/// Distinct racks among `nodes`, with `rack` telling a node's rack.
pub(super) fn racks_of<'a>(nodes: &[NodeIdx], rack: impl Fn(NodeIdx) -> &'a str) -> usize {
    let mut r: Vec<&str> = nodes.iter().map(|&n| rack(n)).collect();
    r.sort_unstable();
    r.dedup();
    r.len()
}

impl Namesystem {
    /// Schedules moving the replica of `block` on `from` to `to`. Refused, with the reason,
    /// when the block is not committed, `from` does not hold it, `to` already does (or is not
    /// live, or lacks room), a copy of the block is already under way, or the move would leave
    /// the block on fewer racks than the rack rule asks for.
    pub fn move_replica(&self, block: BlockId, from: NodeId, to: NodeId) -> NnResult<()> {
        let mut st = self.meta.lock();
        let st = &mut *st;
        if let Some(why) = &st.safe_mode {
            return Err(NnError::SafeMode(why.clone()));
        }
        let bad = |m: String| NnError::InvalidArgument(format!("move of block {}: {m}", block.0));
        let (src, dst) = match (st.dns.index_of(from), st.dns.index_of(to)) {
            (Some(s), Some(d)) => (s, d),
            (None, _) => return Err(bad(format!("{from} is not a registered datanode"))),
            (_, None) => return Err(bad(format!("{to} is not a registered datanode"))),
        };
        let Some((f, meta)) = st.ns.block_file(block) else {
            return Err(bad("no such block".into()));
        };
        if !meta.committed {
            return Err(bad("the block is still being written".into()));
        }
        let (gen, len, expected) = (meta.gen, meta.len, f.replication as usize);
        let live = st.blocks.locations(block).to_vec();
        if !live.contains(&src) {
            return Err(bad(format!("{from} holds no good replica of it")));
        }
        if live.contains(&dst) {
            return Err(bad(format!("{to} already holds a replica")));
        }
        if st.blocks.pending.contains_key(&block) {
            return Err(bad("a copy of it is already under way".into()));
        }
        for (idx, id) in [(src, from), (dst, to)] {
            if st.dns.liveness(idx) != Liveness::Live {
                return Err(bad(format!("{id} is not live")));
            }
        }
        let target = st.dns.get(dst);
        if target.capacity > 0 && target.remaining < len {
            return Err(bad(format!(
                "{to} has {} bytes free, the block needs {len}",
                target.remaining
            )));
        }
        let rack = |n: NodeIdx| st.dns.get(n).rack.as_str();
        let mut after: Vec<NodeIdx> = live.iter().copied().filter(|&n| n != src).collect();
        after.push(dst);
        let want_racks = expected.min(st.dns.live_racks()).min(2);
        if racks_of(&after, rack) < want_racks.min(racks_of(&live, rack)) {
            return Err(bad(format!(
                "moving it from {from} to {to} would leave its replicas on fewer than \
                 {want_racks} racks"
            )));
        }
        let deadline =
            self.clock.now() + Duration::from_millis(self.config.pending_replication_timeout_ms);
        let s = st.dns.get_mut(src);
        s.transfers_scheduled += 1;
        s.commands.replicate.push_back(Replicate {
            block,
            gen,
            len,
            targets: vec![dst],
        });
        st.blocks.pending.insert(
            block,
            PendingCopy {
                source: src,
                targets: vec![dst],
                deadline,
            },
        );
        st.blocks.move_hints.insert(block, src);
        tracing::info!(block = %block, %from, %to, "balancer move scheduled");
        Ok(())
    }
}
