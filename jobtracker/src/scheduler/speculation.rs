//! Speculative execution: a twin of a straggler on another worker; the first attempt to
//! succeed wins and the other is killed.

use super::assign::launch;
use super::Context;
use crate::state::{AttemptRun, TaskPhase, TaskRef, TaskRun, TrackerState};
use common::ids::TaskKind;
use common::jobs::HeartbeatReply;
use std::time::Instant;

/// Starts twins on `host` of the stragglers of stage `s` of job slot `j`: a task whose running
/// attempt, judged by its progress so far, will take `speculation_slowdown` times longer than a
/// task of its size takes in this stage (from the finished ones, scaled by split size for maps;
/// for reduces, counted from when the last map finished).
pub(super) fn speculate(
    st: &mut TrackerState,
    cx: &Context<'_>,
    j: usize,
    s: usize,
    host: &str,
    free: &mut u32,
    reply: &mut HeartbeatReply,
) {
    for kind in [TaskKind::Map, TaskKind::Reduce] {
        let stage = &st.jobs[j].stages[s];
        let tasks = stage.tasks(kind);
        if tasks.iter().any(|t| t.phase == TaskPhase::Pending) {
            continue;
        }
        // A reduce can only finish once every map has: its clock starts then.
        let clock_from = match kind {
            TaskKind::Map => None,
            TaskKind::Reduce => {
                let done: Option<Vec<Instant>> = stage.maps.iter().map(|t| t.finished_at).collect();
                match done.and_then(|d| d.into_iter().max()) {
                    Some(at) => Some(at),
                    None => continue,
                }
            }
        };
        let started = |a: &AttemptRun| clock_from.map_or(a.started, |at| at.max(a.started));
        // A task's work: its split's bytes for a map, one unit for a reduce; the stage's pace
        // is the median of its finished tasks' seconds per unit.
        let work = |t: &TaskRun| t.split.as_ref().map_or(1.0, |sp| sp.len.max(1) as f64);
        let mut pace: Vec<f64> = tasks
            .iter()
            .filter_map(|t| {
                let a = t.committed_attempt()?;
                let took = t.finished_at?.saturating_duration_since(started(a));
                Some(took.as_secs_f64() / work(t))
            })
            .collect();
        if pace.is_empty() {
            continue;
        }
        pace.sort_by(f64::total_cmp);
        let median = pace[pace.len() / 2];
        let candidates: Vec<usize> = tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let running: Vec<&AttemptRun> = t.running_attempts().collect();
                let [a] = running.as_slice() else {
                    return false;
                };
                let expected = (median * work(t)).max(1.0);
                let elapsed = cx.now.saturating_duration_since(started(a)).as_secs_f64();
                let estimated = if a.progress > 0.0 {
                    elapsed / f64::from(a.progress.min(1.0))
                } else {
                    f64::INFINITY
                };
                t.phase == TaskPhase::Running
                    && a.worker != host
                    && elapsed > expected
                    && estimated > expected * cx.config.speculation_slowdown
            })
            .map(|(i, _)| i)
            .collect();
        for t in candidates {
            if *free == 0 {
                return;
            }
            tracing::info!(job = %st.jobs[j].id, stage = s, task = t, %kind, "speculating a straggler");
            st.jobs[j].count("SPECULATIVE_ATTEMPTS");
            let task = TaskRef {
                stage: s,
                kind,
                index: t,
            };
            reply.launch.push(launch(st, cx, j, task, host));
            *free -= 1;
        }
    }
}
