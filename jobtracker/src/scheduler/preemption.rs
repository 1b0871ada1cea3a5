//! Never stall: when a stage's pending maps find no free slot on any live worker while its
//! reducers hold slots only waiting for map output, the most recently started of those
//! reducers are killed and queued again (counted as killed, not failed) to make room.

use crate::state::{AttemptPhase, StagePhase, TaskPhase, TrackerState};
use common::ids::TaskKind;
use common::jobs::JobState;
use std::time::Instant;

/// Free slots on the live workers, as the job tracker's own record of running attempts says
/// (an attempt already told to die counts as gone, so a kill is never asked twice).
/// A worker excluded from scheduling has none to offer.
fn free_slots(st: &TrackerState, now: Instant) -> u32 {
    let mut busy: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for job in &st.jobs {
        for stage in &job.stages {
            for task in stage.maps.iter().chain(&stage.reduces) {
                for a in task.running_attempts() {
                    *busy.entry(a.worker.as_str()).or_default() += 1;
                }
            }
        }
    }
    st.workers
        .iter()
        .filter(|(h, _)| !super::exclusion::excluded(st, h, now))
        .map(|(h, w)| {
            w.slots
                .saturating_sub(busy.get(h.as_str()).copied().unwrap_or(0))
        })
        .sum()
}

/// Preempts reducers where pending maps cannot be placed; returns how many were preempted.
pub fn preempt(st: &mut TrackerState, now: Instant) -> usize {
    let mut preempted = 0;
    for j in 0..st.jobs.len() {
        if st.jobs[j].state != JobState::Running {
            continue;
        }
        for s in 0..st.jobs[j].stages.len() {
            let stage = &st.jobs[j].stages[s];
            if stage.phase != StagePhase::Running {
                continue;
            }
            let pending = stage
                .maps
                .iter()
                .filter(|t| t.phase == TaskPhase::Pending)
                .count() as u32;
            if pending == 0 {
                continue;
            }
            let need = pending.saturating_sub(free_slots(st, now)) as usize;
            if need == 0 {
                continue;
            }
            // Every running reduce of this stage waits for map output (a map is pending):
            // the most recently started go first.
            let mut victims: Vec<(Instant, usize, usize)> = st.jobs[j].stages[s]
                .reduces
                .iter()
                .enumerate()
                .flat_map(|(t, task)| {
                    task.attempts
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.phase == AttemptPhase::Running)
                        .map(move |(a, run)| (run.started, t, a))
                })
                .collect();
            victims.sort_by(|x, y| y.cmp(x));
            victims.truncate(need);
            for (_, t, a) in victims {
                let job = &mut st.jobs[j];
                let task = &mut job.stages[s].reduces[t];
                let attempt = &mut task.attempts[a];
                attempt.phase = AttemptPhase::Killed;
                let (worker, id) = (attempt.worker.clone(), attempt.id.clone());
                if task.running_attempts().next().is_none() {
                    task.reset(now);
                    task.preempted = true;
                }
                tracing::info!(job = %job.id, attempt = %id, %worker, pending_maps = pending,
                    "reduce preempted: its stage's maps need the slot");
                job.count(&format!("NUM_KILLED_{}", TaskKind::Reduce.counter_suffix()));
                st.kills.entry(worker).or_default().push(id);
                preempted += 1;
            }
        }
    }
    preempted
}
