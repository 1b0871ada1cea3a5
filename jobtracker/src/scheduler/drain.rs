//! Draining workers (decommission, for spot instances that must leave): a draining worker gets
//! no new tasks, lets its running attempts finish, and keeps serving its committed map outputs
//! while the maps that unfinished reduces need from it run again elsewhere; only then is it
//! decommissioned (safe to stop: losing it re-runs nothing and fails no job). Workers are drained by `mrctl admin decommission` (kept in
//! `drained-workers` beside the job history, so a restart keeps them) or by the exclude list;
//! with an include list only the workers it names are served.

use crate::state::{AttemptPhase, StagePhase, TaskPhase, TrackerState};
use common::config::JobTrackerConfig;
use common::node_lists::{node_matches, DurableNodeSet, NodeLists};
use std::collections::BTreeMap;
use std::time::Instant;

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
/// needs a map output it holds. Once its attempts are done, the maps whose outputs unfinished
/// reduces still need run again elsewhere (as when a worker is lost, but before it leaves), so
/// a spot instance's drain takes the time of a few maps, not of the whole job.
pub fn check(st: &mut TrackerState, host: &str, now: Instant) {
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
    if running_here {
        return;
    }
    if rerun_needed_outputs(st, host, now) {
        return;
    }
    tracing::info!(%host, "worker decommissioned: safe to stop");
    st.draining.insert(host.to_string(), Drain::Decommissioned);
}

/// Runs again elsewhere every map whose committed output is on `host` and that a running
/// stage's unfinished reduces still need; returns whether any such map is not yet done again
/// elsewhere. The worker stays
/// draining until the new attempts commit.
fn rerun_needed_outputs(st: &mut TrackerState, host: &str, now: Instant) -> bool {
    let mut any = false;
    for job in st.jobs.iter_mut().filter(|j| !j.state.is_over()) {
        let mut rerun = 0;
        for stage in &mut job.stages {
            if stage.phase != StagePhase::Running || stage.reduces_done() >= stage.reduces.len() {
                continue;
            }
            let mut reset = false;
            for task in &mut stage.maps {
                if task.phase == TaskPhase::Succeeded
                    && task.committed_attempt().is_some_and(|a| a.worker == host)
                {
                    task.reset(now);
                    reset = true;
                    rerun += 1;
                }
            }
            if reset {
                stage.maps_finished = None;
                any = true;
            }
            // A map already running again elsewhere: the drain waits for it.
            any |= stage.maps.iter().any(|t| {
                t.phase != TaskPhase::Succeeded
                    && t.attempts
                        .iter()
                        .any(|a| a.worker == host && a.phase == AttemptPhase::Succeeded)
            });
        }
        if rerun > 0 {
            tracing::info!(%host, job = %job.id, maps = rerun, "draining worker: its map outputs run again elsewhere");
        }
    }
    any
}
