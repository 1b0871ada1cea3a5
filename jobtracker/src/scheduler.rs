//! What a worker heartbeat does: records attempt progress and outcomes (retrying failed tasks,
//! failing the job after the attempt limit), re-runs map outputs reducers cannot fetch, hands
//! out tasks (node-local, then rack-local, then any, each after a short locality delay; reduces
//! once every map is placed; speculative twins for stragglers), and tells reduces where the
//! finished map outputs are.

use crate::state::{
    AttemptPhase, AttemptRef, AttemptRun, JobRun, StagePhase, State, TaskPhase, TaskRun, WorkerInfo,
};
use common::config::JobTrackerConfig;
use common::jobs::{
    now_ms, AttemptOutcome, Heartbeat, HeartbeatReply, JobState, MapOutputLocation, TaskKind,
    TaskSpec,
};
use common::topology::Topology;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What scheduling needs besides the state.
pub struct Context<'a> {
    pub config: &'a JobTrackerConfig,
    pub topology: &'a Topology,
}

/// Handles one heartbeat; returns the reply and whether the driver has work (a stage to
/// commit, a job to clean up).
pub fn heartbeat(st: &mut State, cx: &Context<'_>, hb: Heartbeat) -> (HeartbeatReply, bool) {
    let mut wake = false;
    let host = hb.host.clone();
    if st
        .workers
        .get(&host)
        .is_some_and(|w| w.incarnation != hb.incarnation)
    {
        tracing::warn!(%host, "worker restarted: its attempts and map outputs are lost");
        lose_worker(st, &host);
    }
    let known = st.workers.contains_key(&host);
    st.workers.insert(
        host.clone(),
        WorkerInfo {
            incarnation: hb.incarnation,
            shuffle_addr: hb.shuffle_addr.clone(),
            rack: cx.topology.rack_of(&host),
            slots: hb.slots,
            last_seen: Instant::now(),
        },
    );
    if !known {
        tracing::info!(%host, slots = hb.slots, "worker joined");
    }

    let mut busy = 0u32;
    for status in &hb.attempts {
        let Some(r) = st.attempts.get(&status.attempt_id).copied() else {
            continue;
        };
        let task = st.task_mut(r);
        let a = &mut task.attempts[r.attempt];
        if a.phase == AttemptPhase::Running {
            a.progress = status.progress;
            a.counters = status.counters.clone();
        }
        match &status.outcome {
            None => busy += 1,
            Some(outcome) => wake |= on_outcome(st, r, outcome),
        }
    }
    for (_, map_index, map_attempt) in &hb.fetch_failures {
        on_fetch_failure(st, cx, *map_index, map_attempt);
    }

    let mut reply = HeartbeatReply {
        kill: st.kills.remove(&host).unwrap_or_default(),
        ..Default::default()
    };
    let free = hb.slots.saturating_sub(busy);
    assign(st, cx, &host, free, &mut reply);

    for status in hb.attempts.iter().filter(|s| s.outcome.is_none()) {
        let Some(r) = st.attempts.get(&status.attempt_id).copied() else {
            continue;
        };
        if !r.is_map {
            reply
                .map_outputs
                .insert(status.attempt_id.clone(), map_outputs(st, r));
        }
    }
    for launched in &reply.launch {
        if let TaskKind::Reduce { .. } = launched.kind {
            if let Some(r) = st.attempts.get(&launched.attempt_id).copied() {
                reply
                    .map_outputs
                    .insert(launched.attempt_id.clone(), map_outputs(st, r));
            }
        }
    }
    reply.finished_jobs = st
        .jobs
        .iter()
        .rev()
        .filter(|j| j.state.is_over() && j.saved.is_none())
        .take(20)
        .map(|j| j.id.clone())
        .collect();
    (reply, wake)
}

/// Where every finished map of a reduce attempt's stage can be fetched.
fn map_outputs(st: &State, r: AttemptRef) -> Vec<MapOutputLocation> {
    let stage = &st.jobs[r.job].stages[r.stage];
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

fn task_name(job: &JobRun, r: AttemptRef) -> String {
    format!(
        "{} {} of stage {:?}",
        if r.is_map { "map" } else { "reduce" },
        r.task,
        job.spec.stages[r.stage].name
    )
}

/// Applies an attempt's end. Returns whether the driver has work.
fn on_outcome(st: &mut State, r: AttemptRef, outcome: &AttemptOutcome) -> bool {
    let max_attempts = st.jobs[r.job].spec.settings.max_attempts.max(1);
    let job_over = st.jobs[r.job].state.is_over();
    let kind = if r.is_map { "MAPS" } else { "REDUCES" };
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
            task.finished_at = Some(Instant::now());
            // A speculative twin still running is no longer needed.
            st.kill_running(r.job, Some((r.stage, r.is_map, r.task)));
            let stage = &mut st.jobs[r.job].stages[r.stage];
            if stage.maps_done() == stage.maps.len() && stage.maps_finished.is_none() {
                stage.maps_finished = Some(Instant::now());
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
                task.reset();
            }
            tracing::warn!(attempt = %id, %worker, %error, "attempt failed");
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
                task.reset();
            }
            st.jobs[r.job].count(&format!("NUM_KILLED_{kind}"));
            false
        }
    }
}

/// Ends a job as failed: stops its attempts; the driver cleans its outputs.
pub fn fail_job(st: &mut State, job: usize, message: String) {
    tracing::warn!(job = %st.jobs[job].id, %message, "job failed");
    end_job(st, job, JobState::Failed, Some(message));
}

pub fn end_job(st: &mut State, job: usize, state: JobState, error: Option<String>) {
    st.kill_running(job, None);
    let j = &mut st.jobs[job];
    j.state = state;
    j.error = error;
    j.finished_ms = Some(now_ms());
    j.needs_cleanup = true;
}

/// A reducer could not fetch a map output: after repeated reports the map runs again.
fn on_fetch_failure(st: &mut State, cx: &Context<'_>, map_index: u32, map_attempt: &str) {
    let Some(r) = st.attempts.get(map_attempt).copied() else {
        return;
    };
    let task = st.task_mut(r);
    if task.committed_attempt().map(|a| a.id.as_str()) != Some(map_attempt) {
        return;
    }
    task.fetch_failures += 1;
    if task.fetch_failures >= cx.config.fetch_failures_before_rerun {
        tracing::warn!(map = %map_attempt, map_index, "map output cannot be fetched: running the map again");
        task.reset();
        st.jobs[r.job].stages[r.stage].maps_finished = None;
    }
}

/// Forgets a worker: its running attempts are killed and the map outputs it held for
/// unfinished reduces run again elsewhere.
pub fn lose_worker(st: &mut State, host: &str) {
    st.workers.remove(host);
    st.kills.remove(host);
    for j in 0..st.jobs.len() {
        if st.jobs[j].state.is_over() {
            continue;
        }
        let mut killed = Vec::new();
        for stage in &mut st.jobs[j].stages {
            let reduces_left = stage.reduces_done() < stage.reduces.len();
            let mut lost_map = false;
            for (is_map, tasks) in [(true, &mut stage.maps), (false, &mut stage.reduces)] {
                for task in tasks.iter_mut() {
                    for a in task
                        .attempts
                        .iter_mut()
                        .filter(|a| a.worker == host && a.phase == AttemptPhase::Running)
                    {
                        a.phase = AttemptPhase::Killed;
                        killed.push(is_map);
                    }
                    if task.phase == TaskPhase::Running && task.running_attempts().next().is_none()
                    {
                        task.reset();
                    }
                    let output_here = task.committed_attempt().is_some_and(|a| a.worker == host);
                    if is_map && reduces_left && output_here && stage.phase == StagePhase::Running {
                        task.reset();
                        lost_map = true;
                    }
                }
            }
            if lost_map {
                stage.maps_finished = None;
            }
        }
        for is_map in killed {
            st.jobs[j].count(if is_map {
                "NUM_KILLED_MAPS"
            } else {
                "NUM_KILLED_REDUCES"
            });
        }
    }
}

/// How far a split's data is from a worker: 0 node-local, 1 rack-local, 2 other.
fn locality(task: &TaskRun, host: &str, rack: &str, topology: &Topology) -> u32 {
    let Some(split) = &task.split else { return 2 };
    if split.hosts.iter().any(|h| h == host) {
        0
    } else if split.hosts.iter().any(|h| topology.rack_of(h) == rack) {
        1
    } else {
        2
    }
}

fn assign(st: &mut State, cx: &Context<'_>, host: &str, mut free: u32, reply: &mut HeartbeatReply) {
    if free == 0 {
        return;
    }
    let rack = cx.topology.rack_of(host);
    let delay = Duration::from_millis(cx.config.locality_delay_ms);
    for j in 0..st.jobs.len() {
        if st.jobs[j].state != JobState::Running {
            continue;
        }
        for s in 0..st.jobs[j].stages.len() {
            if st.jobs[j].stages[s].phase != StagePhase::Running {
                continue;
            }
            // Maps, nearest data first, each level after its share of the locality delay (no
            // wait when no live worker is nearer).
            while free > 0 {
                let live_hosts: Vec<&String> = st.workers.keys().collect();
                let stage = &st.jobs[j].stages[s];
                let best = stage
                    .maps
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.phase == TaskPhase::Pending)
                    .map(|(i, t)| (locality(t, host, &rack, cx.topology), i, t))
                    .filter(|(level, _, t)| {
                        let nearer_alive = t
                            .split
                            .as_ref()
                            .is_some_and(|sp| sp.hosts.iter().any(|h| live_hosts.contains(&h)));
                        *level == 0 || !nearer_alive || t.pending_since.elapsed() >= delay * *level
                    })
                    .min_by_key(|(level, i, _)| (*level, *i))
                    .map(|(level, i, _)| (level, i));
                let Some((level, t)) = best else { break };
                let counter =
                    ["DATA_LOCAL_MAPS", "RACK_LOCAL_MAPS", "OTHER_LOCAL_MAPS"][level as usize];
                st.jobs[j].count(counter);
                reply.launch.push(launch(st, cx, j, s, true, t, host));
                free -= 1;
            }
            // Reduces start once every map is placed, and fetch as maps finish.
            let no_pending_maps = st.jobs[j].stages[s]
                .maps
                .iter()
                .all(|t| t.phase != TaskPhase::Pending);
            while free > 0 && no_pending_maps {
                let Some(t) = st.jobs[j].stages[s]
                    .reduces
                    .iter()
                    .position(|t| t.phase == TaskPhase::Pending)
                else {
                    break;
                };
                reply.launch.push(launch(st, cx, j, s, false, t, host));
                free -= 1;
            }
            if free > 0 && st.jobs[j].spec.settings.speculative {
                speculate(st, cx, j, s, host, &mut free, reply);
            }
        }
    }
}

/// Starts a twin of a straggler, on another worker: a task whose running attempt, judged
/// by its progress so far, will take `speculation_slowdown` times longer than a task of its
/// size takes in this stage (from the finished ones, scaled by split size for maps; for
/// reduces, counted from when the last map finished). The first attempt to succeed wins; the
/// other is killed.
fn speculate(
    st: &mut State,
    cx: &Context<'_>,
    j: usize,
    s: usize,
    host: &str,
    free: &mut u32,
    reply: &mut HeartbeatReply,
) {
    for is_map in [true, false] {
        let stage = &st.jobs[j].stages[s];
        let tasks = if is_map { &stage.maps } else { &stage.reduces };
        if tasks.iter().any(|t| t.phase == TaskPhase::Pending) {
            continue;
        }
        // A reduce can only finish once every map has: its clock starts then.
        let clock_from = if is_map {
            None
        } else {
            let done: Option<Vec<Instant>> = stage.maps.iter().map(|t| t.finished_at).collect();
            match done.and_then(|d| d.into_iter().max()) {
                Some(at) => Some(at),
                None => continue,
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
                let elapsed = started(a).elapsed().as_secs_f64();
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
            tracing::info!(job = %st.jobs[j].id, stage = s, task = t, is_map, "speculating a straggler");
            st.jobs[j].count("SPECULATIVE_ATTEMPTS");
            reply.launch.push(launch(st, cx, j, s, is_map, t, host));
            *free -= 1;
        }
    }
}

fn launch(
    st: &mut State,
    cx: &Context<'_>,
    j: usize,
    s: usize,
    is_map: bool,
    t: usize,
    host: &str,
) -> TaskSpec {
    let job = &mut st.jobs[j];
    job.count(if is_map {
        "TOTAL_LAUNCHED_MAPS"
    } else {
        "TOTAL_LAUNCHED_REDUCES"
    });
    let maps = job.stages[s].maps.len() as u32;
    let stage = &mut job.stages[s];
    stage.started.get_or_insert_with(Instant::now);
    let task = if is_map {
        &mut stage.maps[t]
    } else {
        &mut stage.reduces[t]
    };
    let number = task.attempts.len() as u32;
    let id = format!(
        "attempt_{}_{s}_{}_{t:06}_{number}",
        job.id.trim_start_matches("job_"),
        if is_map { 'm' } else { 'r' }
    );
    task.attempts.push(AttemptRun {
        id: id.clone(),
        number,
        worker: host.to_string(),
        phase: AttemptPhase::Running,
        started: Instant::now(),
        progress: 0.0,
        counters: Default::default(),
    });
    task.phase = TaskPhase::Running;
    let kind = match &task.split {
        Some(split) => TaskKind::Map {
            index: t as u32,
            split: split.clone(),
        },
        None => TaskKind::Reduce {
            partition: t as u32,
            maps,
        },
    };
    let spec = TaskSpec {
        job_id: job.id.clone(),
        attempt_id: id.clone(),
        attempt: number,
        stage: s,
        kind,
        job: job.spec.clone(),
        namenode_addr: cx.config.namenode_addr.clone(),
        host: host.to_string(),
        // The worker puts it under its own root.
        local_dir: PathBuf::new(),
    };
    st.attempts.insert(
        id,
        AttemptRef {
            job: j,
            stage: s,
            is_map,
            task: t,
            attempt: number as usize,
        },
    );
    spec
}

/// Workers silent for longer than the expiry are lost.
pub fn expire_workers(st: &mut State, expiry: Duration) {
    let lost: Vec<String> = st
        .workers
        .iter()
        .filter(|(_, w)| w.last_seen.elapsed() > expiry)
        .map(|(h, _)| h.clone())
        .collect();
    for host in lost {
        tracing::warn!(%host, "worker lost: re-running its attempts and map outputs elsewhere");
        lose_worker(st, &host);
    }
}
