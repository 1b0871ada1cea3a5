//! The job tracker's in-memory model of jobs: stages, tasks and their attempts, the workers it
//! knows, the reports built from them, and the final reports of the jobs that ended.

use crate::binary_cache::BinaryUses;
use crate::scheduler::exclusion::WorkerHealth;
use common::auth::TokenBody;
use common::ids::{AttemptId, JobId, TaskKind};
use common::jobs::{
    Counters, JobReport, JobSpec, JobState, Split, StageReport, TaskCredentials, JOB_COUNTERS,
    TASK_COUNTERS,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// How many ended jobs workers are told of on each heartbeat, so they remove their local files.
const FINISHED_JOBS_TOLD: usize = 20;

/// Attempt numbers of one run of the job tracker: run `e` numbers its attempts from
/// `e * ATTEMPTS_PER_EPOCH` (as Hadoop's application master numbers its attempts after a
/// restart), so an attempt an earlier run launched never shares an id with one of this run.
pub const ATTEMPTS_PER_EPOCH: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StagePhase {
    /// Waiting for the stages whose outputs it reads.
    Waiting,
    /// Its splits are being computed.
    Preparing,
    Running,
    /// Every task succeeded; the outputs are being published.
    Committing,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskPhase {
    Pending,
    Running,
    Succeeded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptPhase {
    Running,
    Succeeded,
    Failed,
    Killed,
}

#[derive(Debug)]
pub struct AttemptRun {
    pub id: AttemptId,
    /// Host of the worker running it.
    pub worker: String,
    pub phase: AttemptPhase,
    pub started: Instant,
    pub progress: f32,
    /// When its progress last changed (its launch, at first): the task timeout counts from it.
    pub progressed: Instant,
    pub counters: Counters,
}

#[derive(Debug)]
pub struct TaskRun {
    /// The map's split; None for a reduce.
    pub split: Option<Split>,
    pub index: u32,
    pub phase: TaskPhase,
    pub attempts: Vec<AttemptRun>,
    pub failures: u32,
    /// Since when it waits for a slot (locality delay).
    pub pending_since: Instant,
    /// The attempt whose output counts (the first to succeed).
    pub committed: Option<usize>,
    pub finished_at: Option<Instant>,
    /// Reports that its output could not be fetched.
    pub fetch_failures: u32,
    /// A reduce preempted to free a slot for its stage's maps: it launches again only once no
    /// map of its stage is pending, so it does not take back the slot it gave up.
    pub preempted: bool,
}

impl TaskRun {
    pub fn new(index: u32, split: Option<Split>, now: Instant) -> Self {
        TaskRun {
            split,
            index,
            phase: TaskPhase::Pending,
            attempts: Vec::new(),
            failures: 0,
            pending_since: now,
            committed: None,
            finished_at: None,
            fetch_failures: 0,
            preempted: false,
        }
    }

    pub fn running_attempts(&self) -> impl Iterator<Item = &AttemptRun> {
        self.attempts
            .iter()
            .filter(|a| a.phase == AttemptPhase::Running)
    }

    pub fn committed_attempt(&self) -> Option<&AttemptRun> {
        self.committed.map(|i| &self.attempts[i])
    }

    pub fn progress(&self) -> f32 {
        match self.phase {
            TaskPhase::Succeeded => 1.0,
            _ => self
                .running_attempts()
                .map(|a| a.progress)
                .fold(0.0, f32::max),
        }
    }

    /// Back to pending (its running attempts are gone, or its output is lost).
    pub fn reset(&mut self, now: Instant) {
        self.phase = TaskPhase::Pending;
        self.committed = None;
        self.finished_at = None;
        self.fetch_failures = 0;
        self.pending_since = now;
    }
}

#[derive(Debug)]
pub struct StageRun {
    pub phase: StagePhase,
    pub maps: Vec<TaskRun>,
    pub reduces: Vec<TaskRun>,
    pub started: Option<Instant>,
    pub maps_finished: Option<Instant>,
    pub finished: Option<Instant>,
}

impl StageRun {
    pub fn maps_done(&self) -> usize {
        self.maps
            .iter()
            .filter(|t| t.phase == TaskPhase::Succeeded)
            .count()
    }
    pub fn reduces_done(&self) -> usize {
        self.reduces
            .iter()
            .filter(|t| t.phase == TaskPhase::Succeeded)
            .count()
    }
    pub fn all_done(&self) -> bool {
        self.maps_done() == self.maps.len() && self.reduces_done() == self.reduces.len()
    }

    pub fn tasks(&self, kind: TaskKind) -> &[TaskRun] {
        match kind {
            TaskKind::Map => &self.maps,
            TaskKind::Reduce => &self.reduces,
        }
    }

    pub fn tasks_mut(&mut self, kind: TaskKind) -> &mut Vec<TaskRun> {
        match kind {
            TaskKind::Map => &mut self.maps,
            TaskKind::Reduce => &mut self.reduces,
        }
    }
}

/// What an ended job left in the DFS, for the driver to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftovers {
    pub job: JobId,
    /// Outputs of stages that did not complete, and intermediate outputs: removed.
    pub remove: Vec<String>,
    /// Output dirs of completed stages: any `_temporary` a killed attempt left is removed.
    pub sweep: Vec<String>,
}

#[derive(Debug)]
pub struct JobRun {
    pub id: JobId,
    pub spec: JobSpec,
    pub state: JobState,
    pub error: Option<String>,
    pub submitted_ms: u64,
    pub finished_ms: Option<u64>,
    pub stages: Vec<StageRun>,
    /// Job-level counters (locality, launched, failed and killed attempts).
    pub job_counters: Counters,
    /// Set when the job ended and its leftovers still need cleaning.
    pub needs_cleanup: bool,
    /// The cleaning is under way. Until it is done clients see the job still running, so
    /// the outputs they find once it has ended are final (intermediates gone).
    pub cleaning: bool,
    /// Failed attempts of this job per worker host: past the limit the worker gets no more
    /// of its tasks.
    pub worker_failures: HashMap<String, u32>,
    /// The job's delegation token as journaled (none in insecure mode).
    pub delegation: Option<TokenBody>,
    /// What its tasks get, made from `delegation` and the cluster secret.
    pub credentials: Option<TaskCredentials>,
}

impl JobRun {
    pub fn new(id: JobId, spec: JobSpec, submitted_ms: u64) -> Self {
        let stages = spec
            .stages
            .iter()
            .map(|_| StageRun {
                phase: StagePhase::Waiting,
                maps: Vec::new(),
                reduces: Vec::new(),
                started: None,
                maps_finished: None,
                finished: None,
            })
            .collect();
        JobRun {
            id,
            spec,
            state: JobState::Running,
            error: None,
            submitted_ms,
            finished_ms: None,
            stages,
            job_counters: Counters::default(),
            needs_cleanup: false,
            cleaning: false,
            worker_failures: HashMap::new(),
            delegation: None,
            credentials: None,
        }
    }

    /// What the job leaves behind as it ends now.
    pub fn leftovers(&self) -> Leftovers {
        let (mut remove, mut sweep) = (Vec::new(), Vec::new());
        for (spec, run) in self.spec.stages.iter().zip(&self.stages) {
            for o in &spec.outputs {
                if run.phase == StagePhase::Done && !o.temporary {
                    sweep.push(o.staging_dir());
                } else {
                    remove.push(o.path.clone());
                    remove.push(o.staging_dir());
                }
            }
        }
        Leftovers {
            job: self.id.clone(),
            remove,
            sweep,
        }
    }

    pub fn count(&mut self, name: &str) {
        self.job_counters.add(JOB_COUNTERS, name, 1);
    }

    /// Counters of the committed attempts, plus the job's own.
    pub fn counters(&self) -> Counters {
        let mut c = self.job_counters.clone();
        for s in &self.stages {
            for t in s.maps.iter().chain(&s.reduces) {
                if let Some(a) = t.committed_attempt() {
                    c.merge(&a.counters);
                }
            }
        }
        c
    }

    /// The job as clients see it at `now`: an ended job still runs until its cleaning is done.
    pub fn report(&self, now: Instant) -> JobReport {
        self.report_as(!self.needs_cleanup && !self.cleaning, now)
    }

    /// The job as it ended (or is at `now`, if it has not), cleaning or not.
    pub fn final_report(&self, now: Instant) -> JobReport {
        self.report_as(true, now)
    }

    fn report_as(&self, end_shown: bool, now: Instant) -> JobReport {
        let ms = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_millis() as u64,
            (Some(a), None) => now.saturating_duration_since(a).as_millis() as u64,
            _ => 0,
        };
        let stages = self
            .spec
            .stages
            .iter()
            .zip(&self.stages)
            .map(|(spec, s)| {
                let avg = |tasks: &[TaskRun]| {
                    if tasks.is_empty() {
                        0.0
                    } else {
                        tasks.iter().map(TaskRun::progress).sum::<f32>() / tasks.len() as f32
                    }
                };
                StageReport {
                    name: spec.name.clone(),
                    maps: s.maps.len() as u32,
                    maps_done: s.maps_done() as u32,
                    map_progress: avg(&s.maps),
                    reduces: s.reduces.len() as u32,
                    reduces_done: s.reduces_done() as u32,
                    reduce_progress: avg(&s.reduces),
                    map_ms: ms(s.started, s.maps_finished),
                    reduce_ms: if s.reduces.is_empty() {
                        0
                    } else {
                        ms(s.maps_finished, s.finished)
                    },
                    reduce_input_records: s
                        .reduces
                        .iter()
                        .map(|t| {
                            t.committed_attempt().map_or(0, |a| {
                                a.counters.get(TASK_COUNTERS, "REDUCE_INPUT_RECORDS")
                            })
                        })
                        .collect(),
                }
            })
            .collect();
        JobReport {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            user: self.spec.user.clone(),
            queue: self.spec.settings.queue.clone(),
            state: if end_shown {
                self.state
            } else {
                JobState::Running
            },
            error: self.error.clone(),
            submitted_ms: self.submitted_ms,
            finished_ms: self.finished_ms.filter(|_| end_shown),
            stages,
            counters: self.counters(),
        }
    }
}

/// A worker as the job tracker knows it.
#[derive(Debug)]
pub struct WorkerInfo {
    pub incarnation: u64,
    pub shuffle_addr: String,
    pub rack: String,
    pub slots: u32,
    pub last_seen: Instant,
    /// The attempts its last heartbeat said were still running: an ended job's outputs are
    /// cleaned only once none of its attempts runs anywhere, so no late write survives.
    pub running: Vec<AttemptId>,
}

/// A task of a job: its stage, its side and its index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRef {
    pub stage: usize,
    pub kind: TaskKind,
    pub index: usize,
}

/// Where an attempt is: the job's slot in [`TrackerState::jobs`], its task, and its index
/// among the task's attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptAt {
    pub job: usize,
    pub task: TaskRef,
    pub attempt: usize,
}

/// Everything the job tracker holds in memory, behind one lock: the jobs that are running
/// (or ending), the workers, where every live attempt is, the kills to deliver, and the final
/// reports of the jobs that ended.
#[derive(Debug, Default)]
pub struct TrackerState {
    /// Jobs not yet ended and cleaned, in submission order.
    pub jobs: Vec<JobRun>,
    pub by_id: HashMap<JobId, usize>,
    pub attempts: HashMap<AttemptId, AttemptAt>,
    pub workers: BTreeMap<String, WorkerInfo>,
    /// Attempts to kill, by worker host.
    pub kills: HashMap<String, Vec<AttemptId>>,
    pub next_job: u64,
    /// Jobs that ended: their final reports, as the history records them. Their full state
    /// left memory when they were retired, so the 100 ms scans never see them again.
    pub ended: BTreeMap<JobId, JobReport>,
    /// The latest ended jobs of this run, newest last: workers are told to drop their files.
    pub recently_ended: VecDeque<JobId>,
    /// Leftovers of jobs retired before they were cleaned (interrupted by a restart), for the
    /// driver to remove.
    pub orphaned: Vec<Leftovers>,
    /// When each cached job binary was last used by a submitted job.
    pub binary_uses: BinaryUses,
    /// This run of the job tracker: 0 at its first start, one more at each restart (from the
    /// history). See [`ATTEMPTS_PER_EPOCH`].
    pub epoch: u64,
    /// Workers whose map outputs recovered jobs count on, by host, until they heartbeat again
    /// (see `history::worker_back`).
    pub awaited: BTreeMap<String, AwaitedWorker>,
    /// Recent attempt failures and exclusion from scheduling, by worker host (kept when the
    /// worker is lost, so a restart does not clear an exclusion).
    pub health: BTreeMap<String, WorkerHealth>,
    /// Workers leaving service, by host (see `scheduler::drain`).
    pub draining: BTreeMap<String, crate::scheduler::drain::Drain>,
}

/// A worker that held finished map outputs when the job tracker stopped: the outputs are
/// still served if it heartbeats again as the same process (same incarnation) before the
/// worker expiry; otherwise the maps run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwaitedWorker {
    pub incarnation: u64,
    /// When recovery started waiting for it.
    pub since: Instant,
}

impl TrackerState {
    pub fn task_mut(&mut self, r: AttemptAt) -> &mut TaskRun {
        &mut self.jobs[r.job].stages[r.task.stage].tasks_mut(r.task.kind)[r.task.index]
    }

    /// Adds a submitted job; returns its slot.
    pub fn add_job(&mut self, job: JobRun) -> usize {
        self.binary_uses
            .used(&job.spec.binary.path, job.submitted_ms);
        let j = self.jobs.len();
        self.by_id.insert(job.id.clone(), j);
        self.jobs.push(job);
        j
    }

    /// An ended job's cleanup is done: it leaves memory, and its final report (returned, for
    /// the history) is all that is kept of it. None for a job not in memory.
    pub fn cleaned(&mut self, id: &JobId, now: Instant) -> Option<JobReport> {
        let j = *self.by_id.get(id)?;
        let report = self.jobs[j].final_report(now);
        self.retire(j, report.clone(), true);
        Some(report)
    }

    /// Drops an ended job's whole state, keeping only its final report.
    pub fn retire(&mut self, j: usize, report: JobReport, told_to_workers: bool) {
        let job = self.jobs.remove(j);
        self.by_id.remove(&job.id);
        for slot in self.by_id.values_mut().filter(|s| **s > j) {
            *slot -= 1;
        }
        self.attempts.retain(|_, at| at.job != j);
        for at in self.attempts.values_mut().filter(|at| at.job > j) {
            at.job -= 1;
        }
        if told_to_workers {
            self.recently_ended.push_back(job.id.clone());
            if self.recently_ended.len() > FINISHED_JOBS_TOLD {
                self.recently_ended.pop_front();
            }
        }
        self.ended.insert(job.id, report);
    }

    /// Ended jobs whose local files workers may remove, newest first.
    pub fn finished_jobs(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .rev()
            .filter(|j| j.state.is_over())
            .map(|j| &j.id)
            .chain(self.recently_ended.iter().rev())
            .take(FINISHED_JOBS_TOLD)
            .cloned()
            .collect()
    }

    /// A job as clients see it at `now`, running or ended.
    pub fn report(&self, id: &str, now: Instant) -> Option<JobReport> {
        match self.by_id.get(id) {
            Some(&j) => Some(self.jobs[j].report(now)),
            None => self.ended.get(id).cloned(),
        }
    }

    /// Every job, running or ended, in submission order.
    pub fn reports(&self, now: Instant) -> Vec<JobReport> {
        let mut all: Vec<JobReport> = self
            .jobs
            .iter()
            .map(|j| j.report(now))
            .chain(self.ended.values().cloned())
            .collect();
        all.sort_by(|a, b| (a.submitted_ms, &a.id).cmp(&(b.submitted_ms, &b.id)));
        all
    }

    /// Kills every running attempt of a task (or of a whole job): they count as killed from
    /// now on, whatever they report later, and their workers are told on the next heartbeat.
    pub fn kill_running(&mut self, job: usize, only: Option<TaskRef>) {
        let mut kills = Vec::new();
        let j = &mut self.jobs[job];
        for (s, stage) in j.stages.iter_mut().enumerate() {
            for kind in [TaskKind::Map, TaskKind::Reduce] {
                for (t, task) in stage.tasks_mut(kind).iter_mut().enumerate() {
                    let here = TaskRef {
                        stage: s,
                        kind,
                        index: t,
                    };
                    if only.is_some_and(|o| o != here) {
                        continue;
                    }
                    for a in task
                        .attempts
                        .iter_mut()
                        .filter(|a| a.phase == AttemptPhase::Running)
                    {
                        a.phase = AttemptPhase::Killed;
                        kills.push((kind, a.worker.clone(), a.id.clone()));
                    }
                }
            }
        }
        for (kind, w, id) in kills {
            j.count(&format!("NUM_KILLED_{}", kind.counter_suffix()));
            self.kills.entry(w).or_default().push(id);
        }
    }
}
