//! Losing a worker, because it restarted or fell silent: its running attempts are killed and
//! the map outputs it held for unfinished reduces run again elsewhere.

use crate::state::{AttemptPhase, StagePhase, TaskPhase, TrackerState};
use common::ids::TaskKind;
use std::time::{Duration, Instant};

/// Forgets a worker at `now`.
pub fn lose_worker(st: &mut TrackerState, host: &str, now: Instant) {
    st.workers.remove(host);
    st.kills.remove(host);
    for j in 0..st.jobs.len() {
        if st.jobs[j].state.is_over() {
            continue;
        }
        let mut killed = Vec::new();
        for stage in &mut st.jobs[j].stages {
            let reduces_left = stage.reduces_done() < stage.reduces.len();
            let running = stage.phase == StagePhase::Running;
            let mut lost_map = false;
            for kind in [TaskKind::Map, TaskKind::Reduce] {
                for task in stage.tasks_mut(kind).iter_mut() {
                    for a in task
                        .attempts
                        .iter_mut()
                        .filter(|a| a.worker == host && a.phase == AttemptPhase::Running)
                    {
                        a.phase = AttemptPhase::Killed;
                        killed.push(kind);
                    }
                    if task.phase == TaskPhase::Running && task.running_attempts().next().is_none()
                    {
                        task.reset(now);
                    }
                    let output_here = task.committed_attempt().is_some_and(|a| a.worker == host);
                    if kind == TaskKind::Map && reduces_left && output_here && running {
                        task.reset(now);
                        lost_map = true;
                    }
                }
            }
            if lost_map {
                stage.maps_finished = None;
            }
        }
        for kind in killed {
            st.jobs[j].count(&format!("NUM_KILLED_{}", kind.counter_suffix()));
        }
    }
}

/// Workers silent for longer than the expiry at `now` are lost.
pub fn expire_workers(st: &mut TrackerState, expiry: Duration, now: Instant) {
    let lost: Vec<String> = st
        .workers
        .iter()
        .filter(|(_, w)| now.saturating_duration_since(w.last_seen) > expiry)
        .map(|(h, _)| h.clone())
        .collect();
    for host in lost {
        tracing::warn!(%host, "worker lost: re-running its attempts and map outputs elsewhere");
        lose_worker(st, &host, now);
    }
}
