//! `mrctl admin balance`: the balancer, a client tool as HDFS's. Each iteration reads the
//! datanodes (capacity) and every block's replicas (fsck of `/`), measures each live node's
//! utilization (bytes of the replicas it holds over its capacity) against the cluster's mean,
//! and plans moves from nodes above the mean to nodes below it, where at least one of the two
//! is outside the threshold: same-rack pairs first, never a second replica on a node, never a
//! block left on fewer racks than the rack rule asks. Each move is one `MoveReplica` call (the
//! namenode copies, then deletes the source once the copy is reported), started no faster than
//! the bandwidth allows across the cluster. Stopping it at any moment leaves at worst an extra
//! replica, which the namenode trims.

use anyhow::{bail, Context};
use clap::Args;
use client::DfsClient;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct Balance {
    /// Percentage points a datanode's utilization may differ from the cluster's mean.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// MiB per second the balancer may move, over the whole cluster (not per datanode).
    #[arg(long, default_value_t = 100.0)]
    bandwidth: f64,
    /// Stop after this many iterations even if not balanced (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_iterations: u32,
}

/// How long one iteration plans for, at the bandwidth: bounds the moves planned from one view.
const ITERATION_PLAN: Duration = Duration::from_secs(10);
/// How long a move may take before the balancer stops waiting for it (the namenode retries or
/// trims on its own).
const MOVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Iterations in a row that move nothing before the balancer gives up.
const IDLE_LIMIT: u32 = 5;

/// One live datanode as the balancer sees it.
#[derive(Clone, Debug)]
struct Node {
    id: u64,
    addr: String,
    rack: String,
    capacity: u64,
    /// Bytes of the good replicas the namenode lists on it.
    used: u64,
}

impl Node {
    fn utilization(&self) -> f64 {
        100.0 * self.used as f64 / self.capacity.max(1) as f64
    }
}

/// One block with where its good replicas are.
#[derive(Clone, Debug)]
struct Block {
    id: u64,
    len: u64,
    expected: usize,
    holders: Vec<u64>,
}

/// The cluster at the start of an iteration.
struct View {
    nodes: BTreeMap<u64, Node>,
    blocks: Vec<Block>,
    /// Sum of used over sum of capacity, in percent.
    mean: f64,
    racks: usize,
}

fn view(dfs: &DfsClient) -> anyhow::Result<View> {
    let report = dfs.cluster_report().context("reading the cluster report")?;
    if report.safe_mode {
        bail!(
            "the namenode is in safe mode ({}): nothing can be moved until it leaves",
            report.safe_mode_reason
        );
    }
    let mut nodes: BTreeMap<u64, Node> = report
        .datanodes
        .iter()
        .filter(|d| d.state == "live" && d.capacity > 0)
        .filter_map(|d| {
            let i = d.info.as_ref()?;
            Some((
                i.node_id,
                Node {
                    id: i.node_id,
                    addr: i.data_addr.clone(),
                    rack: i.rack.clone(),
                    capacity: d.capacity,
                    used: 0,
                },
            ))
        })
        .collect();
    let fsck = dfs.fsck("/").context("listing the blocks (fsck /)")?;
    let mut blocks = Vec::new();
    for b in fsck.blocks {
        let Some(blk) = b.block else { continue };
        let holders: Vec<u64> = b
            .replicas
            .iter()
            .filter(|r| !r.corrupt)
            .map(|r| r.node_id)
            .collect();
        for h in &holders {
            if let Some(n) = nodes.get_mut(h) {
                n.used += blk.num_bytes;
            }
        }
        blocks.push(Block {
            id: blk.id,
            len: blk.num_bytes,
            expected: b.expected_replication as usize,
            holders,
        });
    }
    let cap: u64 = nodes.values().map(|n| n.capacity).sum();
    let used: u64 = nodes.values().map(|n| n.used).sum();
    let mut racks: Vec<&str> = nodes.values().map(|n| n.rack.as_str()).collect();
    racks.sort_unstable();
    racks.dedup();
    let racks = racks.len();
    Ok(View {
        nodes,
        blocks,
        mean: 100.0 * used as f64 / cap.max(1) as f64,
        racks,
    })
}

/// A planned move.
#[derive(Clone, Copy, Debug)]
struct Move {
    block: u64,
    len: u64,
    from: u64,
    to: u64,
}

/// Bytes `n` should shed (positive) or take (negative) to reach the mean.
fn excess(n: &Node, mean: f64) -> i64 {
    ((n.utilization() - mean) / 100.0 * n.capacity as f64) as i64
}

/// Bytes that must still move for every node to be within the threshold of the mean.
fn bytes_left(v: &View, threshold: f64) -> u64 {
    v.nodes
        .values()
        .map(|n| {
            let over = n.utilization() - (v.mean + threshold);
            if over > 0.0 {
                (over / 100.0 * n.capacity as f64) as u64
            } else {
                0
            }
        })
        .sum()
}

/// Plans up to `budget` bytes of moves.
fn plan(v: &View, threshold: f64, budget: u64) -> Vec<Move> {
    let over = |n: &Node| n.utilization() > v.mean + threshold;
    let under = |n: &Node| n.utilization() < v.mean - threshold;
    let mut sources: Vec<&Node> = v
        .nodes
        .values()
        .filter(|n| n.utilization() > v.mean)
        .collect();
    sources.sort_by(|a, b| b.utilization().total_cmp(&a.utilization()));
    let mut room: HashMap<u64, i64> = v
        .nodes
        .values()
        .filter(|n| n.utilization() < v.mean)
        .map(|n| (n.id, -excess(n, v.mean)))
        .collect();
    let mut by_node: HashMap<u64, Vec<&Block>> = HashMap::new();
    for b in &v.blocks {
        for h in &b.holders {
            by_node.entry(*h).or_default().push(b);
        }
    }
    let mut moved: HashSet<u64> = HashSet::new();
    let mut planned = 0u64;
    let mut out = Vec::new();
    for src in sources {
        let mut shed = excess(src, v.mean);
        // Targets for this source: same rack first, then the emptiest.
        let mut targets: Vec<&Node> = v
            .nodes
            .values()
            .filter(|t| room.contains_key(&t.id) && (over(src) || under(t)))
            .collect();
        targets.sort_by(|a, b| {
            (a.rack != src.rack)
                .cmp(&(b.rack != src.rack))
                .then(a.utilization().total_cmp(&b.utilization()))
        });
        for t in targets {
            let blocks = by_node.get(&src.id).map(Vec::as_slice).unwrap_or(&[]);
            for b in blocks {
                let left = room.get(&t.id).copied().unwrap_or(0);
                if shed <= 0 || left <= 0 || planned >= budget {
                    break;
                }
                if moved.contains(&b.id)
                    || b.holders.contains(&t.id)
                    || b.holders.len() < b.expected
                    || !keeps_rack_rule(v, b, src.id, t.id)
                {
                    continue;
                }
                moved.insert(b.id);
                shed -= b.len as i64;
                room.insert(t.id, left - b.len as i64);
                planned += b.len;
                out.push(Move {
                    block: b.id,
                    len: b.len,
                    from: src.id,
                    to: t.id,
                });
            }
        }
    }
    out
}

/// Whether moving `b` from `from` to `to` leaves it on as many racks as the rule asks (two when
/// the cluster has two and the block two replicas), or on no fewer than now if it has fewer.
fn keeps_rack_rule(v: &View, b: &Block, from: u64, to: u64) -> bool {
    let rack = |id: &u64| v.nodes.get(id).map(|n| n.rack.as_str()).unwrap_or("?");
    let count = |ids: &mut dyn Iterator<Item = &u64>| {
        let mut r: Vec<&str> = ids.map(rack).collect();
        r.sort_unstable();
        r.dedup();
        r.len()
    };
    let now = count(&mut b.holders.iter());
    let after = count(&mut b.holders.iter().filter(|&&h| h != from).chain([&to]));
    let want = b.expected.min(v.racks).min(2);
    after >= want.min(now)
}

/// Per-node utilization, one line.
fn print_nodes(v: &View) -> anyhow::Result<()> {
    for n in v.nodes.values() {
        outln!(
            "  {:<22} {:<10} {:>6.1}%  ({} of {})",
            n.addr,
            n.rack,
            n.utilization(),
            crate::admin::human(n.used),
            crate::admin::human(n.capacity)
        );
    }
    Ok(())
}

pub fn run(dfs: &DfsClient, args: Balance) -> anyhow::Result<ExitCode> {
    if !(args.threshold > 0.0 && args.threshold < 100.0) {
        bail!(
            "--threshold {}: give a percentage between 0 and 100",
            args.threshold
        );
    }
    if !(args.bandwidth > 0.0 && args.bandwidth.is_finite()) {
        bail!(
            "--bandwidth {}: give a positive number of MiB/s",
            args.bandwidth
        );
    }
    let rate = args.bandwidth * (1u64 << 20) as f64;
    let started = Instant::now();
    let mut total = 0u64;
    let mut idle = 0;
    for iteration in 1.. {
        let v = view(dfs)?;
        let spread = v
            .nodes
            .values()
            .map(|n| (n.utilization() - v.mean).abs())
            .fold(0.0, f64::max);
        outln!(
            "iteration {iteration}: mean utilization {:.1}%, widest gap {:.1} points, {} left to move",
            v.mean,
            spread,
            crate::admin::human(bytes_left(&v, args.threshold))
        );
        print_nodes(&v)?;
        if spread <= args.threshold {
            let secs = started.elapsed().as_secs_f64();
            outln!(
                "balanced: every datanode is within {} points of the mean; moved {} in {secs:.1} s ({:.2} MiB/s, bandwidth {} MiB/s)",
                args.threshold,
                crate::admin::human(total),
                total as f64 / (1u64 << 20) as f64 / secs.max(1e-3),
                args.bandwidth
            );
            return Ok(ExitCode::SUCCESS);
        }
        if args.max_iterations > 0 && iteration > args.max_iterations {
            outln!(
                "stopped after {} iterations, not balanced",
                args.max_iterations
            );
            return Ok(ExitCode::from(1));
        }
        let budget = (rate * ITERATION_PLAN.as_secs_f64()) as u64;
        let moves = plan(&v, args.threshold, budget.max(1));
        let moved = execute(dfs, &moves, rate, &mut total, started)?;
        outln!(
            "iteration {iteration}: moved {} ({} moves planned)",
            crate::admin::human(moved),
            moves.len()
        );
        if moved == 0 {
            idle += 1;
            if idle >= IDLE_LIMIT {
                outln!(
                    "no block can be moved (the rack rule, replica placement or free space \
                     forbid every move): the cluster stays unbalanced"
                );
                return Ok(ExitCode::from(2));
            }
            std::thread::sleep(Duration::from_secs(1));
        } else {
            idle = 0;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts the moves no faster than `rate` bytes/s counted from `started` over every byte moved
/// so far (`total`), then waits until each is done: the target holds the block and the source
/// no longer does. Returns the bytes this batch moved.
fn execute(
    dfs: &DfsClient,
    moves: &[Move],
    rate: f64,
    total: &mut u64,
    started: Instant,
) -> anyhow::Result<u64> {
    let mut waiting: Vec<Move> = Vec::new();
    let mut scheduled = *total;
    for m in moves {
        let due = started + Duration::from_secs_f64(scheduled as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        match dfs.move_replica(m.block, m.from, m.to) {
            Ok(()) => {
                scheduled += m.len;
                waiting.push(*m);
            }
            Err(client::ClientError::Namenode {
                reason: proto::Reason::InvalidArgument,
                message,
            }) => {
                // The namenode's view changed since the plan (a copy under way, a node gone):
                // this block waits for the next iteration.
                outln!("  skipped: {message}");
            }
            Err(e) => return Err(e).context("asking the namenode to move a replica"),
        }
    }
    let deadline = Instant::now() + MOVE_TIMEOUT;
    let mut moved = 0u64;
    while !waiting.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let fsck = dfs.fsck("/").context("checking the moves (fsck /)")?;
        let holders: HashMap<u64, Vec<u64>> = fsck
            .blocks
            .iter()
            .filter_map(|b| {
                let id = b.block?.id;
                Some((
                    id,
                    b.replicas
                        .iter()
                        .filter(|r| !r.corrupt)
                        .map(|r| r.node_id)
                        .collect(),
                ))
            })
            .collect();
        waiting.retain(|m| {
            let Some(h) = holders.get(&m.block) else {
                return false; // the file was deleted meanwhile
            };
            let done = h.contains(&m.to) && !h.contains(&m.from);
            if done {
                moved += m.len;
                *total += m.len;
            }
            !done
        });
    }
    if !waiting.is_empty() {
        outln!(
            "  {} moves not done within {:?}; the namenode finishes or retries them",
            waiting.len(),
            MOVE_TIMEOUT
        );
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, rack: &str, used: u64) -> (u64, Node) {
        (
            id,
            Node {
                id,
                addr: format!("n{id}"),
                rack: rack.into(),
                capacity: 100,
                used,
            },
        )
    }

    fn block(id: u64, holders: &[u64]) -> Block {
        Block {
            id,
            len: 10,
            expected: holders.len(),
            holders: holders.to_vec(),
        }
    }

    #[test]
    fn moves_go_from_full_to_empty_keeping_two_racks_and_one_replica_per_node() {
        // Nodes 1 (r1) and 2 (r2) hold every block; 3 (r1) is empty.
        let blocks: Vec<Block> = (0..6).map(|i| block(i, &[1, 2])).collect();
        let v = View {
            nodes: [node(1, "/r1", 60), node(2, "/r2", 60), node(3, "/r1", 0)]
                .into_iter()
                .collect(),
            blocks,
            mean: 40.0,
            racks: 2,
        };
        let moves = plan(&v, 10.0, u64::MAX);
        assert!(!moves.is_empty());
        for m in &moves {
            assert_eq!(m.to, 3, "{m:?}");
            // Moving from node 2 would leave the block on /r1 only.
            assert_eq!(m.from, 1, "{m:?}");
        }
        let ids: HashSet<u64> = moves.iter().map(|m| m.block).collect();
        assert_eq!(ids.len(), moves.len(), "a block moves once per iteration");
        // Node 1 sheds to the mean (20 bytes: two blocks), no further.
        assert_eq!(moves.len(), 2, "{moves:?}");
    }

    #[test]
    fn nothing_moves_within_the_threshold() {
        let v = View {
            nodes: [node(1, "/r1", 45), node(2, "/r2", 35)]
                .into_iter()
                .collect(),
            blocks: (0..4).map(|i| block(i, &[1])).collect(),
            mean: 40.0,
            racks: 2,
        };
        assert!(plan(&v, 10.0, u64::MAX).is_empty());
    }
}
