//! Bad workers: a worker on which a job's attempts failed `worker_failures_per_job` times gets
//! no more tasks of that job (Hadoop's per-job blacklist), and a worker on which attempts of
//! `worker_exclusion_jobs` distinct jobs failed within `worker_exclusion_window_ms` gets no
//! tasks at all for `worker_exclusion_ms`, then comes back on its own. Neither rule may stall a
//! job: when every live worker is ruled out for a job, the rules are ignored for it.

use crate::state::TrackerState;
use common::config::JobTrackerConfig;
use common::ids::JobId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Why and until when a worker gets no tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    pub until: Instant,
    pub reason: String,
}

/// What the job tracker remembers of a worker's failures.
#[derive(Debug, Default)]
pub struct WorkerHealth {
    /// Failed attempts within the window: when, and of which job.
    failures: VecDeque<(Instant, JobId)>,
    pub excluded: Option<Exclusion>,
}

impl WorkerHealth {
    /// The exclusion in force at `now`, if any.
    pub fn excluded_at(&self, now: Instant) -> Option<&Exclusion> {
        self.excluded.as_ref().filter(|e| now < e.until)
    }
}

/// Records a failed attempt of job slot `j` on `host` at `now`, and excludes the worker from the
/// job or from all scheduling when it crosses a limit.
pub fn record_failure(
    st: &mut TrackerState,
    config: &JobTrackerConfig,
    j: usize,
    host: &str,
    now: Instant,
) {
    let job = &mut st.jobs[j];
    let n = job.worker_failures.entry(host.to_string()).or_default();
    *n += 1;
    if config.worker_failures_per_job > 0 && *n == config.worker_failures_per_job {
        tracing::warn!(job = %job.id, %host, failures = *n,
            "worker excluded from the job: too many of its attempts failed there");
    }
    if config.worker_exclusion_jobs == 0 {
        return;
    }
    let window = Duration::from_millis(config.worker_exclusion_window_ms);
    let health = st.health.entry(host.to_string()).or_default();
    health.failures.push_back((now, job.id.clone()));
    while health
        .failures
        .front()
        .is_some_and(|(at, _)| now.saturating_duration_since(*at) > window)
    {
        health.failures.pop_front();
    }
    let mut jobs: Vec<&JobId> = health.failures.iter().map(|(_, id)| id).collect();
    jobs.sort();
    jobs.dedup();
    if jobs.len() < config.worker_exclusion_jobs as usize || health.excluded_at(now).is_some() {
        return;
    }
    let names: Vec<&str> = jobs.iter().map(|id| id.as_str()).collect();
    let reason = format!(
        "attempts of {} jobs failed here within {} s ({})",
        jobs.len(),
        window.as_secs(),
        names.join(", ")
    );
    let period = Duration::from_millis(config.worker_exclusion_ms);
    tracing::warn!(%host, %reason, period_s = period.as_secs(),
        "worker excluded from scheduling");
    health.excluded = Some(Exclusion {
        until: now + period,
        reason,
    });
    // It comes back with a clean slate once the period is over.
    health.failures.clear();
}

/// Forgets exclusions that are over at `now`: those workers get tasks again.
pub fn expire(st: &mut TrackerState, now: Instant) {
    for (host, health) in st.health.iter_mut() {
        if health.excluded.as_ref().is_some_and(|e| now >= e.until) {
            tracing::info!(%host, "worker exclusion over: it gets tasks again");
            health.excluded = None;
        }
    }
}

/// Whether `host` is excluded from all scheduling at `now`.
pub fn excluded(st: &TrackerState, host: &str, now: Instant) -> bool {
    st.health
        .get(host)
        .is_some_and(|h| h.excluded_at(now).is_some())
}

/// Whether `host` is ruled out for job slot `j`: excluded from all scheduling, or too many of
/// the job's attempts failed there.
fn ruled_out(
    st: &TrackerState,
    config: &JobTrackerConfig,
    j: usize,
    host: &str,
    now: Instant,
) -> bool {
    let per_job = config.worker_failures_per_job;
    excluded(st, host, now)
        || (per_job > 0
            && st.jobs[j]
                .worker_failures
                .get(host)
                .is_some_and(|n| *n >= per_job))
}

/// Whether `host` may be given tasks of job slot `j` at `now`: not ruled out, or every live
/// worker is (the job would stall otherwise).
pub fn may_run(
    st: &TrackerState,
    config: &JobTrackerConfig,
    j: usize,
    host: &str,
    now: Instant,
) -> bool {
    !ruled_out(st, config, j, host, now)
        || st.workers.keys().all(|h| ruled_out(st, config, j, h, now))
}
