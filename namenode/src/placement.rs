//! Replica placement, the HDFS default rule: the first replica on the writer's node when it is
//! a datanode (else a random one), the second on another rack, the third on the second's rack
//! on another node, more at random with a cap per rack; never two on one node. Also the order
//! in which a reader should try replicas: same node, same rack, elsewhere, stale nodes last.

use crate::datanodes::{Datanodes, Liveness, NodeIdx};
use common::topology::Topology;
use rand::seq::IndexedRandom;

/// Chooses `n` new nodes for a block that already has replicas on `existing`.
pub fn choose_targets(
    dns: &Datanodes,
    n: usize,
    writer_host: Option<&str>,
    existing: &[NodeIdx],
    excluded: &[NodeIdx],
    block_size: u64,
) -> Vec<NodeIdx> {
    let good: Vec<NodeIdx> = dns
        .all()
        .filter(|&i| dns.liveness(i) == Liveness::Live)
        // A node being decommissioned takes no new replicas.
        .filter(|&i| dns.in_service(i))
        .filter(|&i| !excluded.contains(&i))
        .filter(|&i| {
            let d = dns.get(i);
            d.capacity == 0 || d.remaining >= block_size
        })
        .collect();
    let racks = dns.live_racks().max(1);
    let total = existing.len() + n;
    let max_per_rack = if racks == 1 {
        usize::MAX
    } else {
        (total - 1) / racks + 2
    };
    let rack = |i: NodeIdx| dns.get(i).rack.as_str();
    let mut placed: Vec<NodeIdx> = existing.to_vec();
    let mut chosen = Vec::new();
    for _ in 0..n {
        let free: Vec<NodeIdx> = good
            .iter()
            .copied()
            .filter(|i| !placed.contains(i))
            .filter(|&i| placed.iter().filter(|&&p| rack(p) == rack(i)).count() < max_per_rack)
            .collect();
        let pick_where = |pred: &dyn Fn(NodeIdx) -> bool| -> Option<NodeIdx> {
            let c: Vec<NodeIdx> = free.iter().copied().filter(|&i| pred(i)).collect();
            c.choose(&mut rand::rng()).copied()
        };
        let pick = match placed.as_slice() {
            [] => writer_host
                .and_then(|h| free.iter().copied().find(|&i| dns.get(i).host == h))
                .or_else(|| pick_where(&|_| true)),
            [first] => pick_where(&|i| rack(i) != rack(*first)).or_else(|| pick_where(&|_| true)),
            [first, second] if rack(*first) == rack(*second) => {
                pick_where(&|i| rack(i) != rack(*first)).or_else(|| pick_where(&|_| true))
            }
            [_, second] => {
                pick_where(&|i| rack(i) == rack(*second)).or_else(|| pick_where(&|_| true))
            }
            _ => pick_where(&|_| true),
        };
        let Some(p) = pick else { break };
        placed.push(p);
        chosen.push(p);
    }
    chosen
}

/// Orders replica holders for a reader on `reader_host`: nearest first, stale nodes last,
/// decommissioned nodes (about to be stopped) after those.
pub fn sort_for_reader(dns: &Datanodes, topo: &Topology, reader_host: &str, nodes: &mut [NodeIdx]) {
    let reader_rack = topo.rack_of(reader_host);
    nodes.sort_by_key(|&i| {
        let d = dns.get(i);
        let stale = dns.liveness(i) != Liveness::Live;
        let leaving = d.admin == crate::datanodes::AdminState::Decommissioned;
        let dist = Topology::distance(reader_host, &reader_rack, &d.host, &d.rack);
        (leaving, stale, dist)
    });
}
