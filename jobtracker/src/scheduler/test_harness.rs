//! A scheduler test without processes, after DataFusion Ballista's `SchedulerTest`: virtual
//! workers (a host, a rack, slots) whose heartbeats go straight into [`super::heartbeat`], a
//! [`ManualClock`] the test advances, and levers to end attempts, fail launches, report fetch
//! failures and silence a worker until it expires.

use super::{expire_workers, heartbeat, Context};
use crate::state::{AttemptPhase, JobRun, StagePhase, TaskRun, TrackerState};
use common::clock::{Clock, ManualClock};
use common::config::{JobTrackerConfig, TopologyConfig};
use common::ids::{AttemptId, JobId, TaskKind};
use common::jobs::{
    AttemptOutcome, AttemptStatus, Counters, FetchFailure, Heartbeat, HeartbeatReply, InputFormat,
    InputSpec, JobSpec, JobState, OutputFormat, OutputSpec, PartitionerSpec, Split, StageSpec,
    TaskWork, JOB_COUNTERS,
};
use common::topology::Topology;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// An attempt a virtual worker runs, as it will report it.
#[derive(Debug)]
struct RunningAttempt {
    progress: f32,
    outcome: Option<AttemptOutcome>,
}

#[derive(Debug)]
struct VirtualWorker {
    slots: u32,
    incarnation: u64,
    /// Silent workers send no heartbeat.
    silent: bool,
    /// Every attempt launched here fails at once (a binary that cannot start).
    launches_fail: bool,
    /// Kills are not acted on (a reply lost on the way): the attempts go on running.
    ignores_kills: bool,
    attempts: BTreeMap<AttemptId, RunningAttempt>,
    fetch_failures: Vec<FetchFailure>,
}

/// An attempt the harness saw launched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub attempt: AttemptId,
    pub host: String,
    pub job: JobId,
    pub kind: TaskKind,
    pub index: usize,
}

pub struct SchedulerTest {
    pub st: TrackerState,
    pub clock: Arc<ManualClock>,
    pub config: JobTrackerConfig,
    topology: Topology,
    workers: BTreeMap<String, VirtualWorker>,
    /// Every launch so far, in order.
    pub launches: Vec<Launch>,
    /// Attempts the job tracker asked to kill, in order.
    pub kills: Vec<AttemptId>,
    next_job: u64,
}

impl SchedulerTest {
    /// A job tracker with the default settings and workers `(host, rack, slots)`, each of
    /// which has sent no heartbeat yet.
    pub fn new(workers: &[(&str, &str, u32)]) -> SchedulerTest {
        let mut racks = BTreeMap::new();
        for (host, rack, _) in workers {
            racks.insert(host.to_string(), rack.to_string());
        }
        let mut test = SchedulerTest {
            st: TrackerState::default(),
            clock: ManualClock::new(),
            config: JobTrackerConfig::default(),
            topology: Topology::new(TopologyConfig {
                racks,
                ..Default::default()
            }),
            workers: BTreeMap::new(),
            launches: Vec::new(),
            kills: Vec::new(),
            next_job: 0,
        };
        for (host, _, slots) in workers {
            test.add_worker(host, *slots);
        }
        test
    }

    /// A (new, or restarted) worker on `host`; its rack is the one given to [`Self::new`].
    pub fn add_worker(&mut self, host: &str, slots: u32) {
        let incarnation = self.workers.get(host).map_or(1, |w| w.incarnation + 1);
        self.workers.insert(
            host.to_string(),
            VirtualWorker {
                slots,
                incarnation,
                silent: false,
                launches_fail: false,
                ignores_kills: false,
                attempts: BTreeMap::new(),
                fetch_failures: Vec::new(),
            },
        );
    }

    /// Submits a one-stage job whose maps read splits held by the given hosts, with `reducers`
    /// reduce tasks, and starts its stage as the driver would once the splits are known.
    pub fn submit(&mut self, split_hosts: &[&[&str]], reducers: u32) -> JobId {
        self.next_job += 1;
        let id = JobId(format!("job_1_{:04}", self.next_job));
        let spec = job_spec(reducers);
        let mut job = JobRun::new(id.clone(), spec, 0);
        let now = self.clock.now();
        let stage = &mut job.stages[0];
        stage.maps = split_hosts
            .iter()
            .enumerate()
            .map(|(i, hosts)| {
                let split = Split {
                    input: 0,
                    path: "/in/part".into(),
                    start: i as u64 * 1000,
                    len: 1000,
                    hosts: hosts.iter().map(|h| h.to_string()).collect(),
                };
                TaskRun::new(i as u32, Some(split), now)
            })
            .collect();
        stage.reduces = (0..reducers).map(|p| TaskRun::new(p, None, now)).collect();
        stage.phase = StagePhase::Running;
        stage.started = Some(now);
        self.st.add_job(job);
        id
    }

    /// Changes a job's settings (attempt limit, speculation) before it runs.
    pub fn settings(&mut self, job: &JobId, change: impl FnOnce(&mut common::jobs::JobSettings)) {
        let j = self.st.by_id[job];
        change(&mut self.st.jobs[j].spec.settings);
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The manual clock's time.
    pub fn clock_now(&self) -> std::time::Instant {
        self.clock.now()
    }

    /// One heartbeat from `host`: reports its attempts (forgetting the ended ones, as a worker
    /// does once delivered), then acts on the reply. Returns the reply.
    pub fn heartbeat(&mut self, host: &str) -> HeartbeatReply {
        let w = self.workers.get_mut(host).expect("a virtual worker");
        let busy = w.attempts.values().filter(|a| a.outcome.is_none()).count() as u32;
        let hb = Heartbeat {
            host: host.to_string(),
            shuffle_addr: format!("{host}:7000"),
            incarnation: w.incarnation,
            slots: w.slots,
            free_slots: w.slots.saturating_sub(busy),
            attempts: w
                .attempts
                .iter()
                .map(|(id, a)| AttemptStatus {
                    attempt_id: id.clone(),
                    progress: a.progress,
                    counters: Counters::default(),
                    outcome: a.outcome.clone(),
                })
                .collect(),
            fetch_failures: std::mem::take(&mut w.fetch_failures),
        };
        w.attempts.retain(|_, a| a.outcome.is_none());
        let cx = Context {
            config: &self.config,
            topology: &self.topology,
            now: self.clock.now(),
        };
        let (reply, _) = heartbeat(&mut self.st, &cx, hb);
        let w = self.workers.get_mut(host).expect("a virtual worker");
        for id in &reply.kill {
            if w.ignores_kills {
                self.kills.push(id.clone());
                continue;
            }
            if let Some(a) = w.attempts.get_mut(id) {
                a.outcome.get_or_insert(AttemptOutcome::Killed);
            }
            self.kills.push(id.clone());
        }
        for spec in &reply.launch {
            let (kind, index) = match &spec.kind {
                TaskWork::Map { index, .. } => (TaskKind::Map, *index as usize),
                TaskWork::Reduce { partition, .. } => (TaskKind::Reduce, *partition as usize),
            };
            let attempt = spec.attempt_id.clone();
            let job = spec.job_id.clone();
            let outcome = w.launches_fail.then(|| AttemptOutcome::Failed {
                error: "the job binary cannot start".into(),
            });
            w.attempts.insert(
                attempt.clone(),
                RunningAttempt {
                    progress: 0.0,
                    outcome,
                },
            );
            self.launches.push(Launch {
                attempt,
                host: host.to_string(),
                job,
                kind,
                index,
            });
        }
        reply
    }

    /// A heartbeat from every worker that is not silent, in host order; then the driver's
    /// check for silent workers. Returns what was launched.
    pub fn tick(&mut self) -> Vec<Launch> {
        let before = self.launches.len();
        let hosts: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.silent)
            .map(|(h, _)| h.clone())
            .collect();
        for host in hosts {
            self.heartbeat(&host);
        }
        let expiry = Duration::from_millis(self.config.worker_expiry_ms);
        expire_workers(&mut self.st, expiry, self.clock.now());
        self.launches[before..].to_vec()
    }

    /// The worker on `host` stops heartbeating; the job tracker loses it once the expiry has
    /// passed and a [`Self::tick`] runs.
    pub fn lose_worker(&mut self, host: &str) {
        let w = self.workers.get_mut(host).expect("a virtual worker");
        w.silent = true;
    }

    /// Every attempt launched on `host` from now on fails at its next heartbeat.
    pub fn make_launches_fail(&mut self, host: &str) {
        self.workers
            .get_mut(host)
            .expect("a virtual worker")
            .launches_fail = true;
    }

    /// Whether the worker on `host` acts on the kills it is sent.
    pub fn set_ignores_kills(&mut self, host: &str, ignores: bool) {
        self.workers
            .get_mut(host)
            .expect("a virtual worker")
            .ignores_kills = ignores;
    }

    fn attempt_mut(&mut self, id: &AttemptId) -> &mut RunningAttempt {
        self.workers
            .values_mut()
            .find_map(|w| w.attempts.get_mut(id))
            .expect("a running virtual attempt")
    }

    pub fn progress(&mut self, id: &AttemptId, progress: f32) {
        self.attempt_mut(id).progress = progress;
    }

    /// The attempt succeeds (reported at its worker's next heartbeat).
    pub fn succeed(&mut self, id: &AttemptId) {
        self.attempt_mut(id).outcome = Some(AttemptOutcome::Succeeded);
    }

    /// The attempt fails (reported at its worker's next heartbeat).
    pub fn fail(&mut self, id: &AttemptId) {
        self.attempt_mut(id).outcome = Some(AttemptOutcome::Failed {
            error: "boom".into(),
        });
    }

    /// The reduce attempt `reduce` could not fetch `map`'s output (reported at the reduce's
    /// worker's next heartbeat).
    pub fn fetch_failure(&mut self, reduce: &AttemptId, map: &AttemptId) {
        let map_index = self
            .launches
            .iter()
            .find(|l| &l.attempt == map)
            .expect("a launched map")
            .index as u32;
        let w = self
            .workers
            .values_mut()
            .find(|w| w.attempts.contains_key(reduce))
            .expect("a running reduce");
        w.fetch_failures.push(FetchFailure {
            reduce_attempt: reduce.clone(),
            map_index,
            map_attempt: map.clone(),
        });
    }

    /// The job tracker's phase of an attempt.
    pub fn phase(&self, id: &AttemptId) -> AttemptPhase {
        let at = self.st.attempts[id];
        let task = &self.st.jobs[at.job].stages[at.task.stage].tasks(at.task.kind)[at.task.index];
        task.attempts[at.attempt].phase
    }

    pub fn job_state(&self, job: &JobId) -> JobState {
        match self.st.by_id.get(job) {
            Some(&j) => self.st.jobs[j].state,
            None => self.st.ended[job].state,
        }
    }

    pub fn job_counter(&self, job: &JobId, name: &str) -> u64 {
        let j = self.st.by_id[job];
        self.st.jobs[j].job_counters.get(JOB_COUNTERS, name)
    }

    /// The launches of one task of a job, oldest first.
    pub fn launches_of(&self, job: &JobId, kind: TaskKind, index: usize) -> Vec<Launch> {
        self.launches
            .iter()
            .filter(|l| &l.job == job && l.kind == kind && l.index == index)
            .cloned()
            .collect()
    }

    /// The attempt id of a task's first launch; panics when the task was never launched.
    pub fn first_attempt(&self, job: &JobId, kind: TaskKind, index: usize) -> AttemptId {
        match self.launches_of(job, kind, index).first() {
            Some(l) => l.attempt.clone(),
            None => panic!("{job} {kind:?} {index} was never launched"),
        }
    }
}

/// A one-stage job reading `/in` and writing `/out`, with `reducers` reduce tasks (map-only
/// when 0), its binary at `/.mr/binaries/x`.
pub fn job_spec(reducers: u32) -> JobSpec {
    JobSpec {
        name: "test".into(),
        stages: vec![StageSpec {
            name: "only".into(),
            inputs: vec![InputSpec {
                path: "/in".into(),
                format: InputFormat::Text,
            }],
            has_combiner: false,
            has_reducer: reducers > 0,
            reducers,
            partitioner: PartitionerSpec::Hash,
            outputs: vec![OutputSpec {
                name: String::new(),
                path: "/out".into(),
                format: OutputFormat::Text,
                replication: 0,
                file: false,
                temporary: false,
            }],
            side_inputs: Vec::new(),
        }],
        settings: Default::default(),
        args: Vec::new(),
        binary: common::jobs::BinaryRef {
            path: "/.mr/binaries/x".into(),
            sha256: String::new(),
        },
        user: "test".into(),
        conf: Default::default(),
    }
}
