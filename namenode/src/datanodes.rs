//! The datanode table: who is registered, where they are, whether they are alive (by the
//! injected clock), and the commands waiting for their next heartbeat.

use common::clock::SharedClock;
use common::ids::{BlockId, GenStamp, NodeId};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// Index of a datanode in the datanode table: node ids are interned to keep the replica lists
/// stored with every block small. An index is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIdx(pub u32);

impl fmt::Display for NodeIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    Live,
    Stale,
    Dead,
}

impl Liveness {
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Live => "live",
            Liveness::Stale => "stale",
            Liveness::Dead => "dead",
        }
    }
}

/// Whether a datanode is in service or being taken out of it (HDFS's admin states). A node
/// that is not `Normal` is chosen for no new replica, and its replicas do not count toward a
/// block's replication; it still serves reads and is a source for copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdminState {
    #[default]
    Normal,
    /// Its blocks are being copied to other nodes.
    Decommissioning,
    /// Every block it held has its full replication without it: safe to stop.
    Decommissioned,
}

impl AdminState {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Normal => "normal",
            AdminState::Decommissioning => "decommissioning",
            AdminState::Decommissioned => "decommissioned",
        }
    }
}

/// Where a datanode is, as handed to clients and to other datanodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: NodeId,
    pub host: String,
    pub data_addr: String,
    pub rack: String,
}

/// Copy a block to other nodes. Queued with node indexes (`N = NodeIdx`), handed out with
/// their addresses (`N = NodeInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicate<N = NodeIdx> {
    pub block: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    pub targets: Vec<N>,
}

/// Delete a replica whose stamp is at most `gen`. `gen: None` deletes whatever stamp the node
/// holds: an abandoned pipeline's replica, whose stamp the namenode may never have learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalidate {
    pub block: BlockId,
    pub gen: Option<GenStamp>,
}

/// Lead the recovery of a block whose writer went away: agree on a length with the other
/// holders, restamp to `new_gen`, report back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recover<N = NodeIdx> {
    pub block: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    pub new_gen: GenStamp,
    pub holders: Vec<N>,
}

/// Work for a datanode, queued until its next heartbeat.
#[derive(Debug, Default)]
pub struct CommandQueue {
    pub replicate: VecDeque<Replicate>,
    pub invalidate: Vec<Invalidate>,
    pub recover: Vec<Recover>,
}

/// The work handed out on one heartbeat reply, with the addresses of the nodes it names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Commands {
    pub replicate: Vec<Replicate<NodeInfo>>,
    pub invalidate: Vec<Invalidate>,
    pub recover: Vec<Recover<NodeInfo>>,
}

#[derive(Debug)]
pub struct Datanode {
    pub id: NodeId,
    pub host: String,
    pub data_addr: String,
    pub rack: String,
    pub last_heartbeat: Instant,
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    /// Marked dead: its replicas were dropped and it must register again.
    pub dead: bool,
    /// Copies this node was asked to send that are not finished yet.
    pub transfers_scheduled: u32,
    pub commands: CommandQueue,
    /// In service or being decommissioned; kept across re-registrations.
    pub admin: AdminState,
    /// While decommissioning: blocks not yet fully replicated without it (from the last pass
    /// of the decommission monitor).
    pub decommission_blocks_left: u64,
}

/// All datanodes ever registered since start-up.
#[derive(Debug)]
pub struct Datanodes {
    nodes: Vec<Datanode>,
    by_id: HashMap<NodeId, NodeIdx>,
    stale_after: Duration,
    dead_after: Duration,
    clock: SharedClock,
}

impl Datanodes {
    pub fn new(stale_after: Duration, dead_after: Duration, clock: SharedClock) -> Self {
        Datanodes {
            nodes: Vec::new(),
            by_id: HashMap::new(),
            stale_after,
            dead_after,
            clock,
        }
    }

    /// The time by the table's clock.
    fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn get(&self, idx: NodeIdx) -> &Datanode {
        &self.nodes[idx.0 as usize]
    }

    pub fn get_mut(&mut self, idx: NodeIdx) -> &mut Datanode {
        &mut self.nodes[idx.0 as usize]
    }

    /// Where a node is.
    pub fn info(&self, idx: NodeIdx) -> NodeInfo {
        let d = self.get(idx);
        NodeInfo {
            id: d.id,
            host: d.host.clone(),
            data_addr: d.data_addr.clone(),
            rack: d.rack.clone(),
        }
    }

    /// A queue's commands resolved to node addresses.
    pub fn resolve(&self, q: CommandQueue) -> Commands {
        let infos = |nodes: Vec<NodeIdx>| nodes.into_iter().map(|n| self.info(n)).collect();
        Commands {
            replicate: q
                .replicate
                .into_iter()
                .map(|r| Replicate {
                    block: r.block,
                    gen: r.gen,
                    len: r.len,
                    targets: infos(r.targets),
                })
                .collect(),
            invalidate: q.invalidate,
            recover: q
                .recover
                .into_iter()
                .map(|r| Recover {
                    block: r.block,
                    gen: r.gen,
                    len: r.len,
                    new_gen: r.new_gen,
                    holders: infos(r.holders),
                })
                .collect(),
        }
    }

    pub fn index_of(&self, id: NodeId) -> Option<NodeIdx> {
        self.by_id.get(&id).copied()
    }

    /// Registers (or re-registers) a node; returns its index.
    pub fn register(
        &mut self,
        id: NodeId,
        host: String,
        data_addr: String,
        rack: String,
    ) -> NodeIdx {
        let now = self.now();
        if let Some(&idx) = self.by_id.get(&id) {
            let n = self.get_mut(idx);
            (n.host, n.data_addr, n.rack) = (host, data_addr, rack);
            n.last_heartbeat = now;
            n.dead = false;
            n.transfers_scheduled = 0;
            n.commands = CommandQueue::default();
            return idx;
        }
        let idx = NodeIdx(self.nodes.len() as u32);
        self.nodes.push(Datanode {
            id,
            host,
            data_addr,
            rack,
            last_heartbeat: now,
            capacity: 0,
            used: 0,
            remaining: 0,
            dead: false,
            transfers_scheduled: 0,
            commands: CommandQueue::default(),
            admin: AdminState::Normal,
            decommission_blocks_left: 0,
        });
        self.by_id.insert(id, idx);
        idx
    }

    /// Whether the node is in service: new replicas may go there and its replicas count.
    pub fn in_service(&self, idx: NodeIdx) -> bool {
        self.get(idx).admin == AdminState::Normal
    }

    pub fn liveness(&self, idx: NodeIdx) -> Liveness {
        self.liveness_at(idx, self.now())
    }

    fn liveness_at(&self, idx: NodeIdx, now: Instant) -> Liveness {
        let n = self.get(idx);
        let silent = now.saturating_duration_since(n.last_heartbeat);
        if n.dead || silent > self.dead_after {
            Liveness::Dead
        } else if silent > self.stale_after {
            Liveness::Stale
        } else {
            Liveness::Live
        }
    }

    /// Nodes that should be declared dead now.
    pub fn newly_dead(&self) -> Vec<NodeIdx> {
        let now = self.now();
        self.all()
            .filter(|&i| !self.get(i).dead && self.liveness_at(i, now) == Liveness::Dead)
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = NodeIdx> {
        (0..self.nodes.len() as u32).map(NodeIdx)
    }

    /// Distinct racks of nodes that are not dead and in service (a rack whose only nodes are
    /// being decommissioned cannot take replicas).
    pub fn live_racks(&self) -> usize {
        let now = self.now();
        let mut racks: Vec<&str> = self
            .all()
            .filter(|&i| self.liveness_at(i, now) != Liveness::Dead && self.in_service(i))
            .map(|i| self.get(i).rack.as_str())
            .collect();
        racks.sort_unstable();
        racks.dedup();
        racks.len()
    }
}
