//! Taking datanodes out of service, as HDFS does: the include list (who may register), the
//! exclude list and `mrctl admin decommission` (who must leave), and the decommission monitor
//! that moves a node from Decommissioning to Decommissioned once every block it holds has its
//! full replication on in-service nodes (and no file being written still has a replica there).
//! Nodes decommissioned by command are kept in `decommissioned-nodes` beside the metadata, so a
//! restart keeps them; the exclude list is the config's file.

use super::{Metadata, Namesystem};
use crate::datanodes::{AdminState, Liveness, NodeIdx};
use crate::error::{NnError, NnResult};
use common::config::NamenodeConfig;
use common::node_lists::{node_matches, DurableNodeSet, NodeLists};

/// The file, in the metadata directory, of the nodes decommissioned by command.
const BY_COMMAND_FILE: &str = "decommissioned-nodes";

/// Who may register and who must leave.
#[derive(Debug)]
pub(super) struct AdminLists {
    lists: NodeLists,
    by_command: DurableNodeSet,
}

impl AdminLists {
    pub(super) fn open(config: &NamenodeConfig) -> NnResult<AdminLists> {
        let lists = NodeLists::load(&config.hosts_include, &config.hosts_exclude)
            .map_err(NnError::InvalidArgument)?;
        let by_command = DurableNodeSet::load(config.meta_dir.join(BY_COMMAND_FILE))?;
        Ok(AdminLists { lists, by_command })
    }

    /// Whether the node must be out of service (by command or by the exclude list).
    fn wanted_out(&self, addr: &str, host: &str) -> bool {
        self.by_command.contains(addr) || self.lists.excludes(addr, host)
    }
}

impl Metadata {
    /// Starts or ends a node's decommission to match what the lists and commands want;
    /// returns the change, if any, for the operator.
    fn apply_admin(&mut self, idx: NodeIdx) -> Option<&'static str> {
        let d = self.dns.get(idx);
        let out = self.admin.wanted_out(&d.data_addr, &d.host);
        match (d.admin, out) {
            (AdminState::Normal, true) => {
                self.dns.get_mut(idx).admin = AdminState::Decommissioning;
                // Every block it holds is checked: it no longer counts toward replication.
                let held: Vec<_> = self.blocks.blocks_on(idx).collect();
                self.blocks.needs_check(held);
                Some("decommissioning")
            }
            (AdminState::Decommissioning | AdminState::Decommissioned, false) => {
                let n = self.dns.get_mut(idx);
                n.admin = AdminState::Normal;
                n.decommission_blocks_left = 0;
                // Its replicas count again: the monitor deletes the excess.
                let held: Vec<_> = self.blocks.blocks_on(idx).collect();
                self.blocks.needs_check(held);
                Some("in service")
            }
            _ => None,
        }
    }

    /// Blocks on `idx` not yet fully replicated on in-service nodes, queueing them for the
    /// replication monitor, plus blocks of files being written with a replica there. As in
    /// HDFS, a block asking for more replicas than there are live in-service nodes (a job
    /// binary's) is full once every such node holds one.
    fn blocks_left(&mut self, idx: NodeIdx) -> u64 {
        let nodes_in_service = self
            .dns
            .all()
            .filter(|&n| self.dns.in_service(n) && self.dns.liveness(n) == Liveness::Live)
            .count();
        let mut short = Vec::new();
        for b in self.blocks.blocks_on(idx) {
            let Some((f, meta)) = self.ns.block_file(b) else {
                continue;
            };
            let in_service = self
                .blocks
                .locations(b)
                .iter()
                .filter(|&&n| self.dns.in_service(n) && self.dns.liveness(n) == Liveness::Live)
                .count();
            if !meta.committed || in_service < (f.replication as usize).min(nodes_in_service) {
                short.push(b);
            }
        }
        let writing = self
            .blocks
            .expected
            .iter()
            .filter(|(b, nodes)| {
                nodes.contains(&idx) && self.ns.block(**b).is_some() && !short.contains(b)
            })
            .count() as u64;
        let left = short.len() as u64 + writing;
        self.blocks.needs_check(short);
        left
    }
}

impl Namesystem {
    /// Refuses a datanode the include list does not name; otherwise `Ok`.
    pub(super) fn admit(&self, data_addr: &str, host: &str) -> NnResult<()> {
        match self.meta.lock().admin.lists.refusal(data_addr, host) {
            Some(why) => Err(NnError::PermissionDenied(why)),
            None => Ok(()),
        }
    }

    /// After (re-)registration: a node the lists or a command want out starts decommissioning.
    pub(super) fn admin_on_register(st: &mut Metadata, idx: NodeIdx) {
        if let Some(change) = st.apply_admin(idx) {
            tracing::info!(node = %st.dns.get(idx).data_addr, change, "datanode admin state");
        }
    }

    /// Decommissions (or recommissions) the datanodes each name matches; returns, per name,
    /// the addresses it matched. With `dry_run` nothing changes.
    pub fn decommission(
        &self,
        names: &[String],
        recommission: bool,
        dry_run: bool,
    ) -> NnResult<Vec<Vec<String>>> {
        let mut st = self.meta.lock();
        let st = &mut *st;
        let matched: Vec<Vec<String>> = names
            .iter()
            .map(|name| {
                st.dns
                    .all()
                    .map(|i| st.dns.get(i))
                    .filter(|d| node_matches(name, &d.data_addr, &d.host))
                    .map(|d| d.data_addr.clone())
                    .collect()
            })
            .collect();
        if dry_run {
            return Ok(matched);
        }
        let addrs: Vec<&str> = matched.iter().flatten().map(String::as_str).collect();
        st.admin
            .by_command
            .update(addrs.iter().copied(), !recommission)?;
        for idx in st.dns.all().collect::<Vec<_>>() {
            if addrs.contains(&st.dns.get(idx).data_addr.as_str()) {
                if let Some(change) = st.apply_admin(idx) {
                    tracing::info!(node = %st.dns.get(idx).data_addr, change, "datanode admin state");
                }
            }
        }
        Ok(matched)
    }

    /// Re-reads the include and exclude lists: excluded nodes start decommissioning, nodes no
    /// longer excluded (nor decommissioned by command) return to service, and registered nodes
    /// the include list no longer names are dropped (their replicas re-created elsewhere).
    /// Returns the changes, one line each.
    pub fn refresh_nodes(&self) -> NnResult<Vec<String>> {
        let lists = NodeLists::load(&self.config.hosts_include, &self.config.hosts_exclude)
            .map_err(NnError::InvalidArgument)?;
        let mut st = self.meta.lock();
        let st = &mut *st;
        st.admin.lists = lists;
        let mut changes = Vec::new();
        for idx in st.dns.all().collect::<Vec<_>>() {
            let d = st.dns.get(idx);
            if d.dead {
                continue;
            }
            let addr = d.data_addr.clone();
            if let Some(why) = st.admin.lists.refusal(&addr, &d.host) {
                tracing::warn!(node = %addr, "{why}: dropped");
                st.blocks.drop_node(idx);
                let n = st.dns.get_mut(idx);
                n.commands = Default::default();
                n.transfers_scheduled = 0;
                n.dead = true;
                changes.push(format!("{addr} refused (not in the include list)"));
                continue;
            }
            if let Some(change) = st.apply_admin(idx) {
                changes.push(format!("{addr} {change}"));
            }
        }
        tracing::info!(changes = changes.len(), "node lists re-read");
        Ok(changes)
    }

    /// The decommission monitor, run after each replication pass: counts what each
    /// decommissioning node still holds alone and declares it Decommissioned at zero.
    pub(super) fn check_decommission(&self, st: &mut Metadata) {
        let leaving: Vec<NodeIdx> = st
            .dns
            .all()
            .filter(|&i| st.dns.get(i).admin == AdminState::Decommissioning)
            .collect();
        for idx in leaving {
            // A dead node's replicas were already dropped and re-created elsewhere; it stays
            // decommissioning until it registers again and is checked.
            if st.dns.get(idx).dead {
                continue;
            }
            let left = st.blocks_left(idx);
            let n = st.dns.get_mut(idx);
            n.decommission_blocks_left = left;
            if left == 0 {
                n.admin = AdminState::Decommissioned;
                tracing::info!(node = %n.data_addr, "datanode decommissioned: safe to stop");
            }
        }
    }
}
