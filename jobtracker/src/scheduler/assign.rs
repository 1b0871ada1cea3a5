//! Handing out tasks to a worker with free slots: each slot to the job [`fair_share`] puts
//! first among those with a task that may run there; within a job, maps nearest their data
//! first (node-local, then rack-local, then any, each level after its share of the locality
//! delay), reduces once the slow-start fraction of their stage's maps is done or every map is
//! placed (a preempted reduce waits until no map is pending); then speculative twins; and the
//! launch of an attempt.

use super::{fair_share, Context};
use crate::state::{
    AttemptAt, AttemptPhase, AttemptRun, StagePhase, StageRun, TaskPhase, TaskRef, TaskRun,
    TrackerState,
};
use common::ids::{AttemptId, TaskKind};
use common::jobs::{HeartbeatReply, TaskSpec, TaskWork};
use common::topology::Topology;
use std::path::PathBuf;
use std::time::Duration;

/// How far a split's data is from a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Locality {
    NodeLocal,
    RackLocal,
    Other,
}

impl Locality {
    /// The job counter a map launched at this level adds to.
    pub fn counter(self) -> &'static str {
        match self {
            Locality::NodeLocal => "DATA_LOCAL_MAPS",
            Locality::RackLocal => "RACK_LOCAL_MAPS",
            Locality::Other => "OTHER_LOCAL_MAPS",
        }
    }

    /// How many shares of the locality delay a pending map waits before it runs this far from
    /// its data.
    fn delay_shares(self) -> u32 {
        match self {
            Locality::NodeLocal => 0,
            Locality::RackLocal => 1,
            Locality::Other => 2,
        }
    }
}

fn locality(task: &TaskRun, host: &str, rack: &str, topology: &Topology) -> Locality {
    let Some(split) = &task.split else {
        return Locality::Other;
    };
    if split.hosts.iter().any(|h| h == host) {
        Locality::NodeLocal
    } else if split.hosts.iter().any(|h| topology.rack_of(h) == rack) {
        Locality::RackLocal
    } else {
        Locality::Other
    }
}

/// Fills `free` slots of `host`, one at a time: each slot is offered to the jobs in the order
/// [`fair_share::order`] gives for the slots they hold now, and goes to the first that has a
/// task it may place here (a job whose maps still wait for locality passes the slot on). Once
/// no job has such a task, the slots left start speculative twins, in the same order.
pub(super) fn assign(
    st: &mut TrackerState,
    cx: &Context<'_>,
    host: &str,
    mut free: u32,
    reply: &mut HeartbeatReply,
) {
    if free == 0 {
        return;
    }
    let rack = cx.topology.rack_of(host);
    let queues = cx.config.queues();
    let mut running = fair_share::running_per_job(st);
    'slots: while free > 0 {
        let order = fair_share::order(&queues, &fair_share::candidates(st, &running));
        for j in order {
            if let Some(spec) = place_one(st, cx, j, host, &rack) {
                reply.launch.push(spec);
                running[j] += 1;
                free -= 1;
                continue 'slots;
            }
        }
        break;
    }
    if free == 0 {
        return;
    }
    let order = fair_share::order(&queues, &fair_share::candidates(st, &running));
    for j in order {
        if !st.jobs[j].spec.settings.speculative
            || !super::exclusion::may_run(st, cx.config, j, host, cx.now)
        {
            continue;
        }
        for s in 0..st.jobs[j].stages.len() {
            if free == 0 {
                return;
            }
            if st.jobs[j].stages[s].phase == StagePhase::Running {
                super::speculation::speculate(st, cx, j, s, host, &mut free, reply);
            }
        }
    }
}

/// Launches on `host` the first task of job slot `j` that may run there now, stage by stage:
/// a map nearest its data (each level after its share of the locality delay, no wait when no
/// live worker is nearer), else a reduce once slow start allows. None when there is none.
fn place_one(
    st: &mut TrackerState,
    cx: &Context<'_>,
    j: usize,
    host: &str,
    rack: &str,
) -> Option<TaskSpec> {
    if !super::exclusion::may_run(st, cx.config, j, host, cx.now) {
        return None;
    }
    let delay = Duration::from_millis(cx.config.locality_delay_ms);
    for s in 0..st.jobs[j].stages.len() {
        if st.jobs[j].stages[s].phase != StagePhase::Running {
            continue;
        }
        let stage = &st.jobs[j].stages[s];
        let best = stage
            .maps
            .iter()
            .enumerate()
            .filter(|(_, t)| t.phase == TaskPhase::Pending)
            .map(|(i, t)| (locality(t, host, rack, cx.topology), i, t))
            .filter(|(level, _, t)| {
                let nearer_alive = t
                    .split
                    .as_ref()
                    .is_some_and(|sp| sp.hosts.iter().any(|h| st.workers.contains_key(h.as_str())));
                let waited = cx.now.saturating_duration_since(t.pending_since);
                *level == Locality::NodeLocal
                    || !nearer_alive
                    || waited >= delay * level.delay_shares()
            })
            .min_by_key(|(level, i, _)| (*level, *i))
            .map(|(level, i, _)| (level, i));
        if let Some((level, t)) = best {
            st.jobs[j].count(level.counter());
            let task = TaskRef {
                stage: s,
                kind: TaskKind::Map,
                index: t,
            };
            return Some(launch(st, cx, j, task, host));
        }
        let ready = ready_reduces(stage, cx.config.reduce_slow_start).next();
        if let Some(t) = ready {
            st.jobs[j].stages[s].reduces[t].preempted = false;
            let task = TaskRef {
                stage: s,
                kind: TaskKind::Reduce,
                index: t,
            };
            return Some(launch(st, cx, j, task, host));
        }
    }
    None
}

/// The pending reduces of `stage` that may launch now. Reduces start once the slow-start
/// fraction of the maps is done, or once every map is placed (no map waits for their slot)
/// unless slow start asks for every map to be done; they fetch as maps finish. A preempted
/// reduce waits until no map is pending.
pub(super) fn ready_reduces(stage: &StageRun, slow_start: f64) -> impl Iterator<Item = usize> + '_ {
    let slow_start = slow_start.clamp(0.0, 1.0);
    let maps_pending = stage.maps.iter().any(|t| t.phase == TaskPhase::Pending);
    let started = stage.maps_done() as f64 >= slow_start * stage.maps.len() as f64
        || (!maps_pending && slow_start < 1.0);
    stage
        .reduces
        .iter()
        .enumerate()
        .filter(move |(_, t)| {
            started && t.phase == TaskPhase::Pending && !(t.preempted && maps_pending)
        })
        .map(|(i, _)| i)
}

/// Starts a new attempt of task `r` of job slot `j` on `host`.
pub(super) fn launch(
    st: &mut TrackerState,
    cx: &Context<'_>,
    j: usize,
    r: TaskRef,
    host: &str,
) -> TaskSpec {
    let epoch = st.epoch;
    let job = &mut st.jobs[j];
    job.count(&format!("TOTAL_LAUNCHED_{}", r.kind.counter_suffix()));
    let maps = job.stages[r.stage].maps.len() as u32;
    let stage = &mut job.stages[r.stage];
    stage.started.get_or_insert(cx.now);
    let task = &mut stage.tasks_mut(r.kind)[r.index];
    let index = task.attempts.len();
    // Numbered after this run's epoch: never the id of an attempt an earlier run launched.
    let number = (epoch * crate::state::ATTEMPTS_PER_EPOCH) as u32 + index as u32;
    let id = AttemptId(format!(
        "attempt_{}_{}_{}_{:06}_{number}",
        job.id.as_str().trim_start_matches("job_"),
        r.stage,
        r.kind.letter(),
        r.index
    ));
    task.attempts.push(AttemptRun {
        id: id.clone(),
        worker: host.to_string(),
        phase: AttemptPhase::Running,
        started: cx.now,
        progress: 0.0,
        progressed: cx.now,
        counters: Default::default(),
    });
    task.phase = TaskPhase::Running;
    let kind = match &task.split {
        Some(split) => TaskWork::Map {
            index: r.index as u32,
            split: split.clone(),
        },
        None => TaskWork::Reduce {
            partition: r.index as u32,
            maps,
        },
    };
    let spec = TaskSpec {
        job_id: job.id.clone(),
        attempt_id: id.clone(),
        attempt: number,
        stage: r.stage,
        kind,
        job: job.spec.clone(),
        namenode_addr: cx.config.namenode_addr.clone(),
        host: host.to_string(),
        // The worker puts it under its own root.
        local_dir: PathBuf::new(),
        credentials: job.credentials.clone(),
        // The worker names its own CA.
        tls_ca: None,
    };
    st.attempts.insert(
        id,
        AttemptAt {
            job: j,
            task: r,
            attempt: index,
        },
    );
    spec
}
