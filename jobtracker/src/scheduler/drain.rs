//! Draining workers (decommission, for spot instances that must leave): a draining worker gets
//! no new tasks, lets its running attempts finish, and keeps serving its committed map outputs
//! until every reduce of their stages is done; only then is it decommissioned (safe to stop:
//! losing it re-runs nothing). Workers are drained by `mrctl admin decommission` (kept in
//! `drained-workers` beside the job history, so a restart keeps them) or by the exclude list;
//! with an include list only the workers it names are served.

use crate::state::{AttemptPhase, TaskPhase, TrackerState};
use common::config::JobTrackerConfig;
use common::node_lists::{node_matches, DurableNodeSet, NodeLists};
use std::collections::BTreeMap;

/// The file, in the job tracker's metadata directory, of the workers drained by command.
const BY_COMMAND_FILE: &str = "drained-workers";

/// Where a worker is in leaving service; a worker absent from [`TrackerState::draining`] is
/// in service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// No new tasks; its attempts and the reduces needing its map outputs are finishing.
    Draining,
    /// Nothing runs there and nothing needs its outputs: safe to stop.
    Decommissioned,
}

impl Drain {
    pub fn as_str(state: Option<Drain>) -> &'static str {
        match state {
            None => "in service",
            Some(Drain::Draining) => "draining",
            Some(Drain::Decommissioned) => "decommissioned",
        }
    }
}

/// Who may be served and who must leave.
#[derive(Debug)]
pub struct AdminLists {
    lists: NodeLists,
    by_command: DurableNodeSet,
}

impl AdminLists {
    pub fn open(config: &JobTrackerConfig) -> Result<AdminLists, String> {
        let lists = NodeLists::load(&config.hosts_include, &config.hosts_exclude)?;
        let by_command = DurableNodeSet::load(config.meta_dir.join(BY_COMMAND_FILE))
            .map_err(|e| e.to_string())?;
        Ok(AdminLists { lists, by_command })
    }

    /// Why the worker may not be served (the include list does not name it).
    pub fn refusal(&self, host: &str, shuffle_addr: &str) -> Option<String> {
        self.lists.refusal(shuffle_addr, host)
    }

    /// Whether the worker must leave service.
    pub fn wanted_out(&self, host: &str, shuffle_addr: &str) -> bool {
        self.by_command.contains(host) || self.lists.excludes(shuffle_addr, host)
    }

    /// Re-reads the include and exclude lists the config names.
    pub fn reload(&mut self, config: &JobTrackerConfig) -> Result<(), String> {
        self.lists = NodeLists::load(&config.hosts_include, &config.hosts_exclude)?;
        Ok(())
    }

    /// Drains (or returns to service) the workers each name matches among `known` hosts
    /// (with their shuffle addresses) and those drained by command; returns, per name, the
    /// hosts it matched. With `dry_run` nothing changes.
    pub fn decommission(
        &mut self,
        known: &BTreeMap<String, String>,
        names: &[String],
        recommission: bool,
        dry_run: bool,
    ) -> Result<Vec<Vec<String>>, String> {
        let matched: Vec<Vec<String>> = names
            .iter()
            .map(|name| {
                let mut hosts: Vec<String> = known
                    .iter()
                    .filter(|(host, addr)| node_matches(name, addr, host))
                    .map(|(host, _)| host.clone())
                    .collect();
                for host in self.by_command.iter() {
                    if node_matches(name, host, host) && !hosts.contains(host) {
                        hosts.push(host.clone());
                    }
                }
                hosts
            })
            .collect();
        if !dry_run {
            let hosts = matched.iter().flatten().map(String::as_str);
            self.by_command
                .update(hosts, !recommission)
                .map_err(|e| e.to_string())?;
        }
        Ok(matched)
    }
}

/// Brings `host`'s drain state in line with whether it is `wanted_out`; returns the change.
pub fn set_wanted(st: &mut TrackerState, host: &str, wanted_out: bool) -> Option<&'static str> {
    match (st.draining.contains_key(host), wanted_out) {
        (false, true) => {
            tracing::info!(%host, "worker draining: no new tasks");
            st.draining.insert(host.to_string(), Drain::Draining);
            Some("draining")
        }
        (true, false) => {
            tracing::info!(%host, "worker back in service");
            st.draining.remove(host);
            Some("in service")
        }
        _ => None,
    }
}

/// Whether `host` may be given new tasks.
pub fn takes_tasks(st: &TrackerState, host: &str) -> bool {
    !st.draining.contains_key(host)
}

/// Marks a draining worker decommissioned once nothing runs there and no unfinished reduce
/// still needs a map output it holds.
pub fn check(st: &mut TrackerState, host: &str) {
    if st.draining.get(host) != Some(&Drain::Draining) {
        return;
    }
    let running_here = st.workers.get(host).is_some_and(|w| !w.running.is_empty())
        || st.jobs.iter().any(|j| {
            j.stages.iter().any(|s| {
                s.maps.iter().chain(&s.reduces).any(|t| {
                    t.attempts
                        .iter()
                        .any(|a| a.worker == host && a.phase == AttemptPhase::Running)
                })
            })
        });
    if running_here || serves_needed_outputs(st, host) {
        return;
    }
    tracing::info!(%host, "worker decommissioned: safe to stop");
    st.draining.insert(host.to_string(), Drain::Decommissioned);
}

/// Whether a committed map output on `host` belongs to a stage with reduces not yet done.
fn serves_needed_outputs(st: &TrackerState, host: &str) -> bool {
    st.jobs.iter().filter(|j| !j.state.is_over()).any(|j| {
        j.stages.iter().any(|s| {
            s.reduces_done() < s.reduces.len()
                && s.maps.iter().any(|t| {
                    t.phase == TaskPhase::Succeeded
                        && t.committed_attempt().is_some_and(|a| a.worker == host)
                })
        })
    })
}
