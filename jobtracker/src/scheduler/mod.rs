//! What a worker heartbeat does: records attempt progress and outcomes ([`outcomes`]), re-runs
//! map outputs reducers cannot fetch, forgets lost workers ([`workers`]), hands out tasks
//! ([`assign`]: each free slot to the job of the queue furthest below its share, as
//! [`fair_share`] orders them; node-local, then rack-local, then any, each after a short
//! locality delay; reduces once the slow-start fraction of maps is done), preempts reducers that hold the
//! slots pending maps need ([`preemption`]), starts twins of stragglers ([`speculation`]), and tells
//! reduces where the finished map outputs are. A draining worker ([`drain`]) gets no tasks.
//!
//! Decisions read the time from [`Context::now`], never from the system clock, so the unit
//! tests ([`test_harness`]) drive them with a manual clock and virtual workers.

pub mod assign;
pub mod drain;
pub mod exclusion;
pub mod fair_share;
pub mod outcomes;
pub mod preemption;
pub mod speculation;
pub mod timeouts;
pub mod workers;

#[cfg(test)]
pub mod test_harness;
#[cfg(test)]
mod tests;

pub use outcomes::{end_job, fail_job};
pub use workers::{expire_workers, lose_worker};

use crate::state::{AttemptAt, TaskPhase, TrackerState, WorkerInfo};
use common::config::JobTrackerConfig;
use common::ids::TaskKind;
use common::jobs::{Heartbeat, HeartbeatReply, MapOutputLocation};
use common::topology::Topology;
use std::time::Instant;

/// What scheduling needs besides the state.
pub struct Context<'a> {
    pub config: &'a JobTrackerConfig,
    pub topology: &'a Topology,
    /// The time of this decision, from the job tracker's clock.
    pub now: Instant,
}

/// Handles one heartbeat; returns the reply and whether the driver has work (a stage to
/// commit, a job to clean up).
pub fn heartbeat(st: &mut TrackerState, cx: &Context<'_>, hb: Heartbeat) -> (HeartbeatReply, bool) {
    let mut wake = false;
    let host = hb.host.clone();
    crate::history::worker_back(st, &host, hb.incarnation, cx.now);
    if st
        .workers
        .get(&host)
        .is_some_and(|w| w.incarnation != hb.incarnation)
    {
        tracing::warn!(%host, "worker restarted: its attempts and map outputs are lost");
        lose_worker(st, &host, cx.now);
    }
    let known = st.workers.contains_key(&host);
    st.workers.insert(
        host.clone(),
        WorkerInfo {
            incarnation: hb.incarnation,
            shuffle_addr: hb.shuffle_addr.clone(),
            rack: cx.topology.rack_of(&host),
            slots: hb.slots,
            last_seen: cx.now,
            running: hb
                .attempts
                .iter()
                .filter(|s| s.outcome.is_none())
                .map(|s| s.attempt_id.clone())
                .collect(),
        },
    );
    if !known {
        tracing::info!(%host, slots = hb.slots, "worker joined");
    }

    // Every attempt still running holds a slot, even one the job tracker no longer knows (its
    // job was retired, or it predates a restart): its process runs until the kill lands.
    let busy = hb.attempts.iter().filter(|s| s.outcome.is_none()).count() as u32;
    // A running attempt the job tracker does not know was launched by an earlier run of it
    // (or belongs to a job that left memory): killed, so it never publishes anything.
    let mut strays = Vec::new();
    // Attempts the job tracker ended (killed, timed out) that still run: told to die again,
    // in case the earlier order was lost with a reply.
    let mut kill_again = Vec::new();
    for status in &hb.attempts {
        let Some(r) = st.attempts.get(&status.attempt_id).copied() else {
            if status.outcome.is_none() {
                strays.push(status.attempt_id.clone());
            }
            continue;
        };
        let task = st.task_mut(r);
        let a = &mut task.attempts[r.attempt];
        if a.phase == crate::state::AttemptPhase::Running {
            if status.progress != a.progress {
                a.progressed = cx.now;
            }
            a.progress = status.progress;
            a.counters = status.counters.clone();
        } else if status.outcome.is_none() {
            kill_again.push(status.attempt_id.clone());
        }
        if let Some(outcome) = &status.outcome {
            wake |= outcomes::on_outcome(st, cx, r, outcome);
        }
    }
    for f in &hb.fetch_failures {
        outcomes::on_fetch_failure(st, cx, f);
    }

    exclusion::expire(st, cx.now);
    wake |= timeouts::time_out(st, cx);
    preemption::preempt(st, cx.now);

    let mut reply = HeartbeatReply {
        kill: st.kills.remove(&host).unwrap_or_default(),
        ..Default::default()
    };
    for id in strays.into_iter().chain(kill_again) {
        if !reply.kill.contains(&id) {
            reply.kill.push(id);
        }
    }
    let free = if drain::takes_tasks(st, &host) {
        hb.slots.saturating_sub(busy)
    } else {
        0
    };
    assign::assign(st, cx, &host, free, &mut reply);
    drain::check(st, &host, cx.now);

    let running = hb.attempts.iter().filter(|s| s.outcome.is_none());
    let reduces = running
        .map(|s| s.attempt_id.clone())
        .chain(reply.launch.iter().map(|l| l.attempt_id.as_str().into()));
    for id in reduces {
        if let Some(r) = st.attempts.get(&id).copied() {
            if r.task.kind == TaskKind::Reduce {
                reply.map_outputs.insert(id, map_outputs(st, r));
            }
        }
    }
    reply.finished_jobs = st.finished_jobs();
    (reply, wake)
}

/// Where every finished map of a reduce attempt's stage can be fetched.
fn map_outputs(st: &TrackerState, r: AttemptAt) -> Vec<MapOutputLocation> {
    let stage = &st.jobs[r.job].stages[r.task.stage];
    stage
        .maps
        .iter()
        .filter(|t| t.phase == TaskPhase::Succeeded)
        .filter_map(|t| {
            let a = t.committed_attempt()?;
            let w = st.workers.get(&a.worker)?;
            Some(MapOutputLocation {
                map_index: t.index,
                attempt_id: a.id.clone(),
                shuffle_addr: w.shuffle_addr.clone(),
            })
        })
        .collect()
}
