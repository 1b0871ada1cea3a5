//! Job history and job state in the durable journal, and recovery from it. A job's records:
//! submitted; each stage's splits as it starts; each task's successful attempt (with the worker
//! and worker incarnation that hold a map's output); each stage's commit start (the exact
//! attempts whose files it publishes) and end; how a job that did not succeed ended; and its
//! final report once cleaned. The ended jobs' reports are all the job tracker keeps of them
//! (`TrackerState::ended`).
//!
//! After a restart (as Hadoop's MapReduce application master recovers): jobs that ended are
//! listed with how they ended; a running job goes on where it was. Committed stages stay done;
//! an interrupted commit is finished (its renames are idempotent); tasks that succeeded stay
//! done, except maps whose output lives on a worker that does not come back as the same process
//! (`worker_back`, `expire_awaited`); everything else runs again. Attempts that were running
//! are lost: this run numbers its attempts after a new epoch, and kills the strays.

use crate::error::JtResult;
use crate::scheduler::lose_worker;
use crate::state::{
    AttemptAt, AttemptPhase, AttemptRun, AwaitedWorker, JobRun, StagePhase, TaskPhase, TaskRef,
    TaskRun, TrackerState,
};
use common::auth::TokenBody;
use common::error::IoContext;
use common::ids::{AttemptId, JobId, TaskKind};
use common::jobs::{Counters, JobReport, JobSpec, JobState, Split};
use common::journal::{load_latest_image, ImageBuilder, Journal};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize, Deserialize)]
pub enum HistoryRecord {
    Submitted {
        id: JobId,
        spec: JobSpec,
        submitted_ms: u64,
        /// The job's delegation token's body (secure mode): enough to sign it again and
        /// derive the job key after a restart; no key is in it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delegation: Option<Box<TokenBody>>,
    },
    /// The job's report as it ended: state, error, times, stages and counters.
    Finished { report: JobReport },
    /// A run of the job tracker started; its attempts are numbered after `epoch`.
    Started { epoch: u64 },
    /// A stage's splits were computed: its map `i` reads `splits[i]`.
    StageStarted {
        job: JobId,
        stage: usize,
        splits: Vec<Split>,
    },
    /// A task's attempt succeeded and is the one whose output counts. A map's output (when
    /// its stage has reduces) is on `worker`, as long as that worker is still `incarnation`.
    TaskSucceeded {
        job: JobId,
        stage: usize,
        kind: TaskKind,
        index: usize,
        attempt: AttemptId,
        worker: String,
        incarnation: u64,
        counters: Counters,
    },
    /// A stage's commit began: exactly these attempts' files are published.
    CommitStarted {
        job: JobId,
        stage: usize,
        attempts: Vec<AttemptId>,
    },
    /// A stage's output is published, `_SUCCESS` written.
    StageCommitted { job: JobId, stage: usize },
    /// A job ended without succeeding (failed or killed); its cleaning may not be done yet.
    Ended {
        job: JobId,
        state: JobState,
        error: Option<String>,
    },
}

impl HistoryRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("history records serialize")
    }

    /// The job the record is about; None for a run's start.
    fn job(&self) -> Option<&JobId> {
        match self {
            HistoryRecord::Submitted { id, .. } => Some(id),
            HistoryRecord::Finished { report } => Some(&report.id),
            HistoryRecord::Started { .. } => None,
            HistoryRecord::StageStarted { job, .. }
            | HistoryRecord::TaskSucceeded { job, .. }
            | HistoryRecord::CommitStarted { job, .. }
            | HistoryRecord::StageCommitted { job, .. }
            | HistoryRecord::Ended { job, .. } => Some(job),
        }
    }
}

/// Loads the history in `dir` into `st`, rebuilds the jobs that were running, starts a new
/// epoch and opens the journal for appends. Blocks: runs on the blocking pool.
///
/// Each start also compacts the history into an image: an ended job keeps only its submit
/// and final report, a running job every record, so the history grows with the jobs that
/// ended, not with every task that ever succeeded.
pub fn recover(dir: &Path, st: &mut TrackerState, now: Instant) -> JtResult<Journal> {
    std::fs::create_dir_all(dir).at(dir)?;
    let mut epoch: Option<u64> = None;
    // Where each map output recovery may count on lives: attempt -> (worker, incarnation).
    let mut outputs: HashMap<AttemptId, (String, u64)> = HashMap::new();
    // Every record in order, for the compacted image.
    let mut kept: Vec<Kept> = Vec::new();
    let mut load = |where_: &dyn Fn() -> String, payload: &[u8]| -> common::Result<()> {
        let record: HistoryRecord =
            serde_json::from_slice(payload).map_err(|e| common::Error::Corrupt {
                path: dir.into(),
                message: format!("history record {}: {e}", where_()),
            })?;
        match &record {
            HistoryRecord::Started { epoch: e } => epoch = Some(epoch.map_or(*e, |x| x.max(*e))),
            HistoryRecord::TaskSucceeded {
                attempt,
                worker,
                incarnation,
                ..
            } => {
                outputs.insert(attempt.clone(), (worker.clone(), *incarnation));
            }
            _ => {}
        }
        kept.push(Kept {
            job: record.job().cloned(),
            outlives_job: matches!(
                record,
                HistoryRecord::Submitted { .. } | HistoryRecord::Finished { .. }
            ),
            payload: payload.to_vec(),
        });
        apply(st, record, now);
        Ok(())
    };
    let image_txid = match load_latest_image(dir)? {
        Some((txid, image)) => {
            for (i, payload) in image.records().enumerate() {
                load(&|| format!("{i} of image {txid}"), payload)?;
            }
            txid
        }
        None => 0,
    };
    let last = Journal::replay(dir, image_txid, |txid, payload| {
        load(&|| txid.to_string(), payload)
    })?;
    // A history written before epochs were recorded had a run too.
    st.epoch = match epoch {
        Some(e) => e + 1,
        None if last > 0 => 1,
        None => 0,
    };
    resume(st, &outputs, now);
    let journal = Journal::start(dir, last)?;
    if last > image_txid {
        journal.write_image(last, compacted(st, epoch, kept))?;
    }
    // Durable before any attempt of this epoch is launched, so no later run reuses it.
    journal
        .append(HistoryRecord::Started { epoch: st.epoch }.encode())
        .1
        .wait()?;
    Ok(journal)
}

/// A record read at recovery, as the compacted image may keep it.
struct Kept {
    /// The job it is about; None for a run's start.
    job: Option<JobId>,
    /// A job's submit and final report stay once the job ended; its other records go.
    outlives_job: bool,
    payload: Vec<u8>,
}

/// The history as an image: the latest epoch, then each job's records in their order, of an
/// ended (retired) job only its submit and final report.
fn compacted(st: &TrackerState, epoch: Option<u64>, records: Vec<Kept>) -> ImageBuilder {
    let mut image = ImageBuilder::default();
    if let Some(epoch) = epoch {
        image.push(&HistoryRecord::Started { epoch }.encode());
    }
    for r in records {
        let Some(job) = &r.job else { continue };
        if r.outlives_job || !st.ended.contains_key(job) {
            image.push(&r.payload);
        }
    }
    image
}

/// The success records of the attempts in `succeeded` that a heartbeat just made the
/// committed attempt of their task.
pub fn successes(st: &TrackerState, succeeded: &[AttemptId]) -> Vec<HistoryRecord> {
    let mut out = Vec::new();
    for id in succeeded {
        let Some(&at) = st.attempts.get(id) else {
            continue;
        };
        let job = &st.jobs[at.job];
        let task = &job.stages[at.task.stage].tasks(at.task.kind)[at.task.index];
        let Some(a) = task.committed_attempt().filter(|a| &a.id == id) else {
            continue;
        };
        out.push(HistoryRecord::TaskSucceeded {
            job: job.id.clone(),
            stage: at.task.stage,
            kind: at.task.kind,
            index: at.task.index,
            attempt: a.id.clone(),
            worker: a.worker.clone(),
            incarnation: st.workers.get(&a.worker).map_or(0, |w| w.incarnation),
            counters: a.counters.clone(),
        });
    }
    out
}

/// Applies one record as replay meets it, at `now`.
pub fn apply(st: &mut TrackerState, record: HistoryRecord, now: Instant) {
    match record {
        HistoryRecord::Submitted {
            id,
            spec,
            submitted_ms,
            delegation,
        } => {
            let mut job = JobRun::new(id, spec, submitted_ms);
            job.delegation = delegation.map(|d| *d);
            st.add_job(job);
        }
        HistoryRecord::Finished { report } => {
            if let Some(&j) = st.by_id.get(&report.id) {
                st.retire(j, report, false);
            }
        }
        HistoryRecord::Started { .. } => {}
        HistoryRecord::StageStarted { job, stage, splits } => {
            let Some(&j) = st.by_id.get(&job) else { return };
            let reducers = st.jobs[j].spec.stages.get(stage).map_or(0, |s| s.reducers);
            let Some(run) = st.jobs[j].stages.get_mut(stage) else {
                return;
            };
            run.maps = splits
                .into_iter()
                .enumerate()
                .map(|(i, sp)| TaskRun::new(i as u32, Some(sp), now))
                .collect();
            run.reduces = (0..reducers).map(|p| TaskRun::new(p, None, now)).collect();
            run.phase = StagePhase::Running;
            run.started = Some(now);
        }
        HistoryRecord::TaskSucceeded {
            job,
            stage,
            kind,
            index,
            attempt,
            worker,
            counters,
            ..
        } => {
            let Some(&j) = st.by_id.get(&job) else { return };
            let Some(task) = st.jobs[j]
                .stages
                .get_mut(stage)
                .and_then(|s| s.tasks_mut(kind).get_mut(index))
            else {
                return;
            };
            if task.committed_attempt().is_some_and(|a| a.id == attempt) {
                return;
            }
            let at = task.attempts.len();
            task.attempts.push(AttemptRun {
                id: attempt.clone(),
                worker,
                phase: AttemptPhase::Succeeded,
                started: now,
                progress: 1.0,
                progressed: now,
                counters,
            });
            task.phase = TaskPhase::Succeeded;
            task.committed = Some(at);
            task.finished_at = Some(now);
            st.attempts.insert(
                attempt,
                AttemptAt {
                    job: j,
                    task: TaskRef { stage, kind, index },
                    attempt: at,
                },
            );
        }
        HistoryRecord::CommitStarted { job, stage, .. } => {
            if let Some(run) = stage_mut(st, &job, stage) {
                run.phase = StagePhase::Committing;
            }
        }
        HistoryRecord::StageCommitted { job, stage } => {
            if let Some(run) = stage_mut(st, &job, stage) {
                run.phase = StagePhase::Done;
                run.maps_finished.get_or_insert(now);
                run.finished = Some(now);
            }
        }
        HistoryRecord::Ended { job, state, error } => {
            let Some(&j) = st.by_id.get(&job) else { return };
            let run = &mut st.jobs[j];
            run.state = state;
            run.error = error;
            run.finished_ms = Some(common::jobs::now_ms());
            // The driver cleans its outputs and records its end again, as it would have.
            run.needs_cleanup = true;
        }
    }
}

fn stage_mut<'a>(
    st: &'a mut TrackerState,
    job: &JobId,
    stage: usize,
) -> Option<&'a mut crate::state::StageRun> {
    let j = *st.by_id.get(job)?;
    st.jobs[j].stages.get_mut(stage)
}

/// After replay: every running stage whose tasks all succeeded is committed (again); a map
/// whose output reduces still need waits for its worker to come back.
fn resume(st: &mut TrackerState, outputs: &HashMap<AttemptId, (String, u64)>, now: Instant) {
    let mut awaited = Vec::new();
    for job in st.jobs.iter_mut().filter(|j| j.state == JobState::Running) {
        let mut resumed = 0;
        for stage in &mut job.stages {
            if stage.phase != StagePhase::Running {
                continue;
            }
            if stage.maps_done() == stage.maps.len() {
                stage.maps_finished = Some(now);
            }
            if stage.all_done() {
                stage.phase = StagePhase::Committing;
                continue;
            }
            if stage.reduces.is_empty() {
                continue;
            }
            for map in stage
                .maps
                .iter()
                .filter(|t| t.phase == TaskPhase::Succeeded)
            {
                let Some((worker, incarnation)) =
                    map.committed_attempt().and_then(|a| outputs.get(&a.id))
                else {
                    continue;
                };
                awaited.push((worker.clone(), *incarnation));
                resumed += 1;
            }
        }
        tracing::info!(job = %job.id, maps_kept = resumed, "job resumed after a restart");
    }
    for (worker, incarnation) in awaited {
        st.awaited.insert(
            worker,
            AwaitedWorker {
                incarnation,
                since: now,
            },
        );
    }
}

/// A worker heartbeats: if recovery was waiting for it and it is not the process that held
/// the map outputs (it restarted meanwhile), those maps run again.
pub fn worker_back(st: &mut TrackerState, host: &str, incarnation: u64, now: Instant) {
    if let Some(a) = st.awaited.remove(host) {
        if a.incarnation != incarnation {
            tracing::warn!(%host, "worker restarted while the job tracker was down: its map outputs are lost");
            lose_worker(st, host, now);
        }
    }
}

/// Workers recovery waited for longer than `expiry`: their map outputs are lost.
pub fn expire_awaited(st: &mut TrackerState, expiry: Duration, now: Instant) {
    let gone: Vec<String> = st
        .awaited
        .iter()
        .filter(|(_, a)| now.saturating_duration_since(a.since) > expiry)
        .map(|(h, _)| h.clone())
        .collect();
    for host in gone {
        st.awaited.remove(&host);
        tracing::warn!(%host, "worker did not come back after the restart: re-running its maps");
        lose_worker(st, &host, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::test_harness::SchedulerTest;
    use common::clock::{Clock, ManualClock};

    /// Writes `records` as a history in `dir`.
    fn write(dir: &Path, records: Vec<HistoryRecord>) {
        let journal = Journal::start(dir, 0).expect("a journal");
        for r in records {
            journal.append(r.encode()).1.wait().expect("durable");
        }
    }

    fn submitted(t: &SchedulerTest, id: &JobId) -> HistoryRecord {
        let j = t.st.by_id[id];
        HistoryRecord::Submitted {
            id: id.clone(),
            spec: t.st.jobs[j].spec.clone(),
            submitted_ms: 7,
            delegation: None,
        }
    }

    fn stage_started(t: &SchedulerTest, id: &JobId) -> HistoryRecord {
        let j = t.st.by_id[id];
        HistoryRecord::StageStarted {
            job: id.clone(),
            stage: 0,
            splits: t.st.jobs[j].stages[0]
                .maps
                .iter()
                .filter_map(|m| m.split.clone())
                .collect(),
        }
    }

    /// A job with two maps (on h1 and h2) and one reduce, whose map 0 succeeded on h1 before
    /// the job tracker stopped: the history and the harness that wrote it.
    fn interrupted_during_maps(dir: &Path) -> (SchedulerTest, JobId) {
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
        let id = t.submit(&[&["h1"], &["h2"]], 1);
        t.tick();
        let m0 = t.first_attempt(&id, TaskKind::Map, 0);
        t.succeed(&m0);
        t.tick();
        let records = successes(&t.st, std::slice::from_ref(&m0));
        assert_eq!(records.len(), 1, "the success of map 0 is recorded");
        let mut all = vec![
            HistoryRecord::Started { epoch: 0 },
            submitted(&t, &id),
            stage_started(&t, &id),
        ];
        all.extend(records);
        write(dir, all);
        (t, id)
    }

    #[test]
    fn a_jobs_credentials_are_the_same_after_restarts_and_reach_its_tasks() {
        use common::auth::{ClusterSecret, Identity};
        let dir = tempfile::tempdir().expect("a temp dir");
        let secret = ClusterSecret::from_keys(vec![(1, [6; 32])]);
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
        let id = t.submit(&[&["h1"]], 0);
        let who = Identity::user("alice", vec!["staff".into()]);
        let body = crate::credentials::mint(&secret, &who, 1_000, 60_000).expect("mint");
        let body = crate::credentials::for_job(body, &id);
        let before = crate::credentials::task_credentials(&secret, &body).expect("creds");
        let HistoryRecord::Submitted {
            id: i,
            spec,
            submitted_ms,
            ..
        } = submitted(&t, &id)
        else {
            unreachable!("submitted() makes a Submitted record")
        };
        let record = HistoryRecord::Submitted {
            id: i,
            spec,
            submitted_ms,
            delegation: Some(Box::new(body)),
        };
        let started = stage_started(&t, &id);
        write(
            dir.path(),
            vec![HistoryRecord::Started { epoch: 0 }, record, started],
        );
        // Twice: the second start reads the image the first one compacted the history into.
        for _ in 0..2 {
            restart(&mut t, dir.path());
            crate::credentials::restore(&mut t.st, &secret);
            let j = t.st.by_id[&id];
            assert_eq!(t.st.jobs[j].credentials.as_ref(), Some(&before));
        }
        let reply = t.heartbeat("h1");
        let launched = reply.launch.first().expect("a launch");
        assert_eq!(launched.credentials.as_ref(), Some(&before));
    }

    /// The harness after a restart: the recovered state, the same virtual workers.
    fn restart(t: &mut SchedulerTest, dir: &Path) {
        let mut st = TrackerState::default();
        drop(recover(dir, &mut st, t.clock.now()).expect("recovered"));
        t.st = st;
    }

    #[test]
    fn a_running_job_resumes_and_a_map_whose_worker_is_back_does_not_run_again() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (mut t, id) = interrupted_during_maps(dir.path());
        let before = t.launches.len();
        restart(&mut t, dir.path());

        assert_eq!(t.st.epoch, 1);
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].state, JobState::Running);
        assert_eq!(t.st.jobs[j].stages[0].phase, StagePhase::Running);
        assert_eq!(t.st.jobs[j].stages[0].maps_done(), 1);
        assert!(t.st.awaited.contains_key("h1"));

        // The first beat kills the earlier run's attempts, which frees the slots for the next.
        t.tick();
        t.tick();
        let j = t.st.by_id[&id];
        assert_eq!(
            t.st.jobs[j].stages[0].maps[0].phase,
            TaskPhase::Succeeded,
            "h1 came back as the same process: map 0's output is still served"
        );
        assert!(t.st.awaited.is_empty());
        let new: Vec<_> = t.launches[before..].to_vec();
        assert!(
            new.iter()
                .all(|l| !(l.kind == TaskKind::Map && l.index == 0)),
            "map 0 ran again: {new:?}"
        );
        let m1 = new
            .iter()
            .find(|l| l.kind == TaskKind::Map && l.index == 1)
            .expect("map 1 runs again");
        assert!(
            m1.attempt.as_str().ends_with("_1000"),
            "numbered after the new epoch: {}",
            m1.attempt
        );
    }

    #[test]
    fn a_map_whose_worker_restarted_while_the_tracker_was_down_runs_again() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (mut t, id) = interrupted_during_maps(dir.path());
        restart(&mut t, dir.path());
        t.add_worker("h1", 1); // a new incarnation: its local map outputs are gone
        t.tick();
        let j = t.st.by_id[&id];
        assert_ne!(t.st.jobs[j].stages[0].maps[0].phase, TaskPhase::Succeeded);
        assert!(t.st.awaited.is_empty());
    }

    #[test]
    fn an_awaited_worker_that_stays_silent_loses_its_maps_after_the_expiry() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (mut t, id) = interrupted_during_maps(dir.path());
        restart(&mut t, dir.path());
        t.lose_worker("h1");
        t.tick();
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].stages[0].maps[0].phase, TaskPhase::Succeeded);
        t.advance(Duration::from_millis(t.config.worker_expiry_ms + 1));
        expire_awaited(
            &mut t.st,
            Duration::from_millis(t.config.worker_expiry_ms),
            t.clock.now(),
        );
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].stages[0].maps[0].phase, TaskPhase::Pending);
        assert!(t.st.awaited.is_empty());
    }

    #[test]
    fn attempts_of_an_earlier_run_are_killed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (mut t, _) = interrupted_during_maps(dir.path());
        // Map 1's first attempt and the reduce are still running on the workers.
        let running: Vec<AttemptId> = t
            .launches
            .iter()
            .filter(|l| !(l.kind == TaskKind::Map && l.index == 0))
            .map(|l| l.attempt.clone())
            .collect();
        assert!(!running.is_empty());
        restart(&mut t, dir.path());
        t.tick();
        for a in &running {
            assert!(t.kills.contains(a), "{a} of the earlier run was not killed");
        }
    }

    #[test]
    fn an_interrupted_commit_is_redone_and_a_finished_one_is_not() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut t = SchedulerTest::new(&[("h1", "/r1", 2)]);
        let id = t.submit(&[&["h1"]], 1);
        t.tick();
        let m = t.first_attempt(&id, TaskKind::Map, 0);
        t.succeed(&m);
        t.tick();
        let r = t.first_attempt(&id, TaskKind::Reduce, 0);
        t.succeed(&r);
        t.tick();
        let mut records = vec![submitted(&t, &id), stage_started(&t, &id)];
        records.extend(successes(&t.st, &[m.clone(), r.clone()]));
        records.push(HistoryRecord::CommitStarted {
            job: id.clone(),
            stage: 0,
            attempts: vec![m, r],
        });
        write(dir.path(), records);
        let mut st = TrackerState::default();
        let journal = recover(dir.path(), &mut st, t.clock.now()).expect("recovered");
        t.st = st;
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].stages[0].phase, StagePhase::Committing);
        assert!(
            t.st.awaited.is_empty(),
            "every reduce is done: no map output is needed"
        );
        assert!(t.tick().is_empty(), "nothing runs again");

        // The recovered run finishes the commit and records it.
        let done = HistoryRecord::StageCommitted {
            job: id.clone(),
            stage: 0,
        };
        journal.append(done.encode()).1.wait().expect("durable");
        drop(journal);
        restart(&mut t, dir.path());
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].stages[0].phase, StagePhase::Done);
        assert_eq!(t.st.jobs[j].state, JobState::Running, "the driver ends it");
    }

    #[test]
    fn a_job_that_ended_before_its_cleaning_is_cleaned_not_run_again() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
        let id = t.submit(&[&["h1"]], 0);
        let records = vec![
            submitted(&t, &id),
            HistoryRecord::Ended {
                job: id.clone(),
                state: JobState::Killed,
                error: Some("killed by the user".into()),
            },
        ];
        write(dir.path(), records);
        restart(&mut t, dir.path());
        let j = t.st.by_id[&id];
        assert_eq!(t.st.jobs[j].state, JobState::Killed);
        assert!(t.st.jobs[j].needs_cleanup);
        assert!(t.tick().is_empty());
    }

    #[test]
    fn a_job_that_ended_stays_ended_across_restarts() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
        let id = t.submit(&[&["h1"]], 0);
        let j = t.st.by_id[&id];
        let report = t.st.jobs[j].final_report(ManualClock::new().now());
        write(
            dir.path(),
            vec![submitted(&t, &id), HistoryRecord::Finished { report }],
        );
        restart(&mut t, dir.path());
        assert!(t.st.jobs.is_empty(), "an ended job keeps only its report");
        assert!(t.st.ended.contains_key(&id));
        assert_eq!(t.st.epoch, 1, "a history without epochs had a run");
    }

    #[test]
    fn each_start_compacts_the_history_an_ended_job_keeping_its_submit_and_report() {
        let dir = tempfile::tempdir().expect("a temp dir");
        // A running job with map 0 done, then a job that succeeded with three records more.
        let (mut t, running) = interrupted_during_maps(dir.path());
        let done = t.submit(&[&["h2"]], 0);
        let j = t.st.by_id[&done];
        let report = t.st.jobs[j].final_report(t.clock.now());
        let journal = Journal::start(dir.path(), 4).expect("a journal");
        for r in [
            submitted(&t, &done),
            stage_started(&t, &done),
            HistoryRecord::StageCommitted {
                job: done.clone(),
                stage: 0,
            },
            HistoryRecord::Finished { report },
        ] {
            journal.append(r.encode()).1.wait().expect("durable");
        }
        drop(journal);

        restart(&mut t, dir.path());
        let (txid, image) = load_latest_image(dir.path())
            .expect("readable")
            .expect("an image was written");
        assert_eq!(txid, 8, "the image holds the state after every record");
        let kinds: Vec<String> = image
            .records()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_slice(r).expect("json");
                let k = v.as_object().expect("tagged").keys().next().expect("a tag");
                k.clone()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Started",
                "Submitted",
                "StageStarted",
                "TaskSucceeded",
                "Submitted",
                "Finished"
            ],
            "the ended job keeps its submit and report, the running one everything"
        );
        let segments = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("edits_"))
            })
            .count();
        assert_eq!(segments, 1, "the segments the image covers are gone");

        // The next start reads the image and what came after it: the same jobs, a new epoch.
        restart(&mut t, dir.path());
        assert_eq!(t.st.epoch, 2);
        assert!(t.st.ended.contains_key(&done));
        let j = t.st.by_id[&running];
        assert_eq!(t.st.jobs[j].state, JobState::Running);
        assert_eq!(t.st.jobs[j].stages[0].maps_done(), 1);
    }
}
