//! Handing out tasks to a worker with free slots: maps nearest their data first (node-local,
//! then rack-local, then any, each level after its share of the locality delay), reduces once
//! the slow-start fraction of their stage's maps is done or every map is placed (a preempted reduce waits until no
//! map is pending), then speculative twins; and the launch of an attempt.

use super::Context;
use crate::state::{
    AttemptAt, AttemptPhase, AttemptRun, StagePhase, TaskPhase, TaskRef, TaskRun, TrackerState,
};
use common::ids::{AttemptId, TaskKind};
use common::jobs::{HeartbeatReply, JobState, TaskSpec, TaskWork};
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
    let delay = Duration::from_millis(cx.config.locality_delay_ms);
    for j in 0..st.jobs.len() {
        if st.jobs[j].state != JobState::Running
            || !super::exclusion::may_run(st, cx.config, j, host, cx.now)
        {
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
                        let waited = cx.now.saturating_duration_since(t.pending_since);
                        *level == Locality::NodeLocal
                            || !nearer_alive
                            || waited >= delay * level.delay_shares()
                    })
                    .min_by_key(|(level, i, _)| (*level, *i))
                    .map(|(level, i, _)| (level, i));
                let Some((level, t)) = best else { break };
                st.jobs[j].count(level.counter());
                let task = TaskRef {
                    stage: s,
                    kind: TaskKind::Map,
                    index: t,
                };
                reply.launch.push(launch(st, cx, j, task, host));
                free -= 1;
            }
            // Reduces start once the slow-start fraction of the maps is done, or once every
            // map is placed (no map waits for their slot) unless slow start asks for every map
            // to be done; they fetch as maps finish. A preempted reduce waits until no map is
            // pending.
            let stage = &st.jobs[j].stages[s];
            let slow_start = cx.config.reduce_slow_start.clamp(0.0, 1.0);
            let maps_pending = stage.maps.iter().any(|t| t.phase == TaskPhase::Pending);
            let started = stage.maps_done() as f64 >= slow_start * stage.maps.len() as f64
                || (!maps_pending && slow_start < 1.0);
            while free > 0 && started {
                let Some(t) = st.jobs[j].stages[s]
                    .reduces
                    .iter()
                    .position(|t| t.phase == TaskPhase::Pending && !(t.preempted && maps_pending))
                else {
                    break;
                };
                st.jobs[j].stages[s].reduces[t].preempted = false;
                let task = TaskRef {
                    stage: s,
                    kind: TaskKind::Reduce,
                    index: t,
                };
                reply.launch.push(launch(st, cx, j, task, host));
                free -= 1;
            }
            if free > 0 && st.jobs[j].spec.settings.speculative {
                super::speculation::speculate(st, cx, j, s, host, &mut free, reply);
            }
        }
    }
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
