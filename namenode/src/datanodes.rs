//! The datanode table: who is registered, where they are, whether they are alive, and the
//! commands waiting for their next heartbeat.

use crate::namespace::NodeIdx;
use common::ids::NodeId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

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

/// Work for a datanode, handed out on heartbeat replies.
#[derive(Debug, Default)]
pub struct CommandQueue {
    /// (block, gen, len, targets)
    pub replicate: VecDeque<(u64, u64, u64, Vec<NodeIdx>)>,
    /// (block, gen)
    pub invalidate: Vec<(u64, u64)>,
    /// (block, old gen, len, new gen, replica holders)
    pub recover: Vec<(u64, u64, u64, u64, Vec<NodeIdx>)>,
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
}

/// All datanodes ever registered since start-up; an index is never reused.
#[derive(Debug)]
pub struct Datanodes {
    pub nodes: Vec<Datanode>,
    by_id: HashMap<NodeId, NodeIdx>,
    stale_after: Duration,
    dead_after: Duration,
}

impl Datanodes {
    pub fn new(stale_after: Duration, dead_after: Duration) -> Self {
        Datanodes {
            nodes: Vec::new(),
            by_id: HashMap::new(),
            stale_after,
            dead_after,
        }
    }

    pub fn get(&self, idx: NodeIdx) -> &Datanode {
        &self.nodes[idx as usize]
    }

    pub fn get_mut(&mut self, idx: NodeIdx) -> &mut Datanode {
        &mut self.nodes[idx as usize]
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
        let now = Instant::now();
        if let Some(&idx) = self.by_id.get(&id) {
            let n = self.get_mut(idx);
            (n.host, n.data_addr, n.rack) = (host, data_addr, rack);
            n.last_heartbeat = now;
            n.dead = false;
            n.transfers_scheduled = 0;
            n.commands = CommandQueue::default();
            return idx;
        }
        let idx = self.nodes.len() as NodeIdx;
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
        });
        self.by_id.insert(id, idx);
        idx
    }

    pub fn liveness(&self, idx: NodeIdx, now: Instant) -> Liveness {
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
    pub fn newly_dead(&self, now: Instant) -> Vec<NodeIdx> {
        (0..self.nodes.len() as NodeIdx)
            .filter(|&i| !self.get(i).dead && self.liveness(i, now) == Liveness::Dead)
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = NodeIdx> {
        0..self.nodes.len() as NodeIdx
    }

    /// Distinct racks of nodes that are not dead.
    pub fn live_racks(&self, now: Instant) -> usize {
        let mut racks: Vec<&str> = self
            .all()
            .filter(|&i| self.liveness(i, now) != Liveness::Dead)
            .map(|i| self.get(i).rack.as_str())
            .collect();
        racks.sort_unstable();
        racks.dedup();
        racks.len()
    }
}
