//! How attempts end: a success commits the task (and kills its twin), a failure retries the
//! task until the attempt limit fails the job, a kill returns the task to pending; and how a
//! job ends. Also the fetch failures reducers report, which re-run a map after repeats.

use super::Context;
use crate::state::{AttemptAt, AttemptPhase, JobRun, StagePhase, TaskPhase, TrackerState};
use common::jobs::{now_ms, AttemptOutcome, FetchFailure, JobState};

fn task_name(job: &JobRun, r: AttemptAt) -> String {
    format!(
        "{} {} of stage {:?}",
        r.task.kind, r.task.index, job.spec.stages[r.task.stage].name
    )
}

/// Applies an attempt's end. Returns whether the driver has work.
pub(super) fn on_outcome(
    st: &mut TrackerState,
    cx: &Context<'_>,
    r: AttemptAt,
    outcome: &AttemptOutcome,
) -> bool {
    let max_attempts = st.jobs[r.job].spec.settings.max_attempts.max(1);
    let job_over = st.jobs[r.job].state.is_over();
    let kind = r.task.kind.counter_suffix();
    let task = st.task_mut(r);
    if task.attempts[r.attempt].phase != AttemptPhase::Running {
        return false;
    }
    let id = task.attempts[r.attempt].id.clone();
    let worker = task.attempts[r.attempt].worker.clone();
    match outcome {
        AttemptOutcome::Succeeded => {
            task.attempts[r.attempt].phase = AttemptPhase::Succeeded;
            task.attempts[r.attempt].progress = 1.0;
            if job_over || task.phase == TaskPhase::Succeeded {
                return false;
            }
            task.phase = TaskPhase::Succeeded;
            task.committed = Some(r.attempt);
            task.finished_at = Some(cx.now);
            // A speculative twin still running is no longer needed.
            st.kill_running(r.job, Some(r.task));
            let stage = &mut st.jobs[r.job].stages[r.task.stage];
            if stage.maps_done() == stage.maps.len() && stage.maps_finished.is_none() {
                stage.maps_finished = Some(cx.now);
            }
            if stage.all_done() && stage.phase == StagePhase::Running {
                stage.phase = StagePhase::Committing;
                return true;
            }
            false
        }
        AttemptOutcome::Failed { error } => {
            task.attempts[r.attempt].phase = AttemptPhase::Failed;
            task.failures += 1;
            let failures = task.failures;
            let idle = task.phase == TaskPhase::Running && task.running_attempts().next().is_none();
            if idle {
                task.reset(cx.now);
            }
            tracing::warn!(attempt = %id, %worker, %error, "attempt failed");
            super::exclusion::record_failure(st, cx.config, r.job, &worker, cx.now);
            let job = &mut st.jobs[r.job];
            job.count(&format!("NUM_FAILED_{kind}"));
            if job_over || failures < max_attempts {
                return false;
            }
            let message = format!(
                "{} failed {failures} times; last attempt {id} on {worker}: {error}",
                task_name(job, r)
            );
            fail_job(st, r.job, message);
            true
        }
        AttemptOutcome::Killed => {
            task.attempts[r.attempt].phase = AttemptPhase::Killed;
            if task.phase == TaskPhase::Running && task.running_attempts().next().is_none() {
                task.reset(cx.now);
            }
            st.jobs[r.job].count(&format!("NUM_KILLED_{kind}"));
            false
        }
    }
}

/// Ends a job as failed: stops its attempts; the driver cleans its outputs.
pub fn fail_job(st: &mut TrackerState, job: usize, message: String) {
    tracing::warn!(job = %st.jobs[job].id, %message, "job failed");
    end_job(st, job, JobState::Failed, Some(message));
}

pub fn end_job(st: &mut TrackerState, job: usize, state: JobState, error: Option<String>) {
    st.kill_running(job, None);
    let j = &mut st.jobs[job];
    j.state = state;
    j.error = error;
    j.finished_ms = Some(now_ms());
    j.needs_cleanup = true;
}

/// A reducer could not fetch a map output: after repeated reports the map runs again.
pub(super) fn on_fetch_failure(st: &mut TrackerState, cx: &Context<'_>, f: &FetchFailure) {
    let Some(r) = st.attempts.get(&f.map_attempt).copied() else {
        return;
    };
    let task = st.task_mut(r);
    if task.committed_attempt().map(|a| &a.id) != Some(&f.map_attempt) {
        return;
    }
    task.fetch_failures += 1;
    if task.fetch_failures >= cx.config.fetch_failures_before_rerun {
        tracing::warn!(map = %f.map_attempt, map_index = f.map_index, "map output cannot be fetched: running the map again");
        task.reset(cx.now);
        st.jobs[r.job].stages[r.task.stage].maps_finished = None;
    }
}
