//! Task timeout (Hadoop's `mapreduce.task.timeout`): a running attempt whose progress has not
//! changed for its job's task timeout is killed on its worker and counts as a failure, so the
//! task is retried (or the job fails at the attempt limit). A reduce waiting for its stage's
//! maps is not stuck: its time counts from when the last map finished.

use super::Context;
use crate::state::{AttemptAt, AttemptPhase, StagePhase, TaskRef, TrackerState};
use common::ids::TaskKind;
use common::jobs::{AttemptOutcome, JobState};
use std::time::Duration;

/// Times out the attempts without progress at `cx.now`; returns whether the driver has work
/// (a job failed).
pub(super) fn time_out(st: &mut TrackerState, cx: &Context<'_>) -> bool {
    let mut stuck = Vec::new();
    for (j, job) in st.jobs.iter().enumerate() {
        if job.state != JobState::Running {
            continue;
        }
        let ms = match job.spec.settings.task_timeout_ms {
            0 => cx.config.task_timeout_ms,
            ms => ms,
        };
        if ms == 0 {
            continue;
        }
        let timeout = Duration::from_millis(ms);
        for (s, stage) in job.stages.iter().enumerate() {
            if stage.phase != StagePhase::Running {
                continue;
            }
            for kind in [TaskKind::Map, TaskKind::Reduce] {
                if kind == TaskKind::Reduce && stage.maps_finished.is_none() {
                    continue;
                }
                for (t, task) in stage.tasks(kind).iter().enumerate() {
                    for (a, run) in task.attempts.iter().enumerate() {
                        if run.phase != AttemptPhase::Running {
                            continue;
                        }
                        let since = match (kind, stage.maps_finished) {
                            (TaskKind::Reduce, Some(f)) => run.progressed.max(f),
                            _ => run.progressed,
                        };
                        if cx.now.saturating_duration_since(since) >= timeout {
                            let at = AttemptAt {
                                job: j,
                                task: TaskRef {
                                    stage: s,
                                    kind,
                                    index: t,
                                },
                                attempt: a,
                            };
                            stuck.push((at, run.worker.clone(), run.id.clone()));
                        }
                    }
                }
            }
        }
    }
    let mut wake = false;
    for (at, worker, id) in stuck {
        let secs = {
            let ms = match st.jobs[at.job].spec.settings.task_timeout_ms {
                0 => cx.config.task_timeout_ms,
                ms => ms,
            };
            ms as f64 / 1000.0
        };
        tracing::warn!(attempt = %id, %worker, timeout_s = secs, "attempt timed out without progress: killing it");
        st.kills.entry(worker).or_default().push(id);
        let error = format!("timed out after {secs} s without progress");
        wake |= super::outcomes::on_outcome(st, cx, at, &AttemptOutcome::Failed { error });
    }
    wake
}
