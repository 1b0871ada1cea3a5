//! Which job a free slot is offered to first, as YARN's Fair Scheduler decides: the queue
//! furthest below its share (first the queues below their minimum share, by the fraction of it
//! they hold, then by running slots per unit of weight), and within it the job its policy puts
//! first (fair: fewest running tasks per unit of weight, the weight being 2^priority; FIFO:
//! highest priority, then oldest). Also each queue's use, for `mrctl job queues`.

use super::assign::ready_reduces;
use crate::state::{StagePhase, TaskPhase, TrackerState};
use common::config::{JobTrackerConfig, QueueConfig, QueuePolicy};
use common::jobs::{JobState, QueueJobReport, QueueReport};
use std::cmp::Ordering;

/// A job that may be offered a slot, as ordering sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Its slot in [`TrackerState::jobs`] (submission order, so a lower slot is older).
    pub slot: usize,
    pub queue: String,
    pub priority: i32,
    /// Slots its running attempts hold.
    pub running: u32,
}

/// A job's weight within a fair queue: 2^priority, so `high` gets twice `normal`'s share.
pub fn job_weight(priority: i32) -> f64 {
    2f64.powi(priority)
}

/// The queues in force plus, for jobs whose queue is no longer configured (the config changed
/// across a restart), a queue of weight 1 under that name, so they still run.
fn queues_with_orphans<'a>(
    config: &[QueueConfig],
    jobs: impl IntoIterator<Item = &'a str>,
) -> Vec<QueueConfig> {
    let mut queues = config.to_vec();
    for q in jobs {
        if !queues.iter().any(|c| c.name == q) {
            queues.push(QueueConfig::named(q));
        }
    }
    queues
}

/// How queue `a` (running `ra`) compares with queue `b` (running `rb`): less is served first.
fn queue_cmp(a: &QueueConfig, ra: u32, b: &QueueConfig, rb: u32) -> Ordering {
    let needy = |q: &QueueConfig, r: u32| r < q.min_share;
    match (needy(a, ra), needy(b, rb)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // Both below their minimum: the one holding the smallest fraction of it, then the one
        // missing the most slots.
        (true, true) => {
            let frac = |q: &QueueConfig, r: u32| f64::from(r) / f64::from(q.min_share);
            frac(a, ra)
                .total_cmp(&frac(b, rb))
                .then((b.min_share - rb).cmp(&(a.min_share - ra)))
        }
        (false, false) => (f64::from(ra) / a.weight).total_cmp(&(f64::from(rb) / b.weight)),
    }
}

/// How job `a` compares with job `b` of the same queue under `policy`: less is served first.
fn job_cmp(policy: QueuePolicy, a: &Candidate, b: &Candidate) -> Ordering {
    let older = a.slot.cmp(&b.slot);
    let higher = b.priority.cmp(&a.priority);
    match policy {
        QueuePolicy::Fifo => higher.then(older),
        QueuePolicy::Fair => {
            let share = |c: &Candidate| f64::from(c.running) / job_weight(c.priority);
            share(a).total_cmp(&share(b)).then(higher).then(older)
        }
    }
}

/// The job slots of `jobs` in the order a free slot is offered to them: queue by queue, the
/// neediest queue first, each queue's jobs in its policy's order.
pub fn order(queues: &[QueueConfig], jobs: &[Candidate]) -> Vec<usize> {
    let queues = queues_with_orphans(queues, jobs.iter().map(|c| c.queue.as_str()));
    let mut by_queue: Vec<(usize, u32, Vec<&Candidate>)> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let members: Vec<&Candidate> = jobs.iter().filter(|c| c.queue == q.name).collect();
            (i, members.iter().map(|c| c.running).sum(), members)
        })
        .filter(|(_, _, members)| !members.is_empty())
        .collect();
    // Stable: equal queues keep their configured order.
    by_queue.sort_by(|(a, ra, _), (b, rb, _)| queue_cmp(&queues[*a], *ra, &queues[*b], *rb));
    by_queue
        .into_iter()
        .flat_map(|(q, _, mut members)| {
            members.sort_by(|a, b| job_cmp(queues[q].policy, a, b));
            members.into_iter().map(|c| c.slot).collect::<Vec<_>>()
        })
        .collect()
}

/// Slots each job's running attempts hold, by job slot.
pub fn running_per_job(st: &TrackerState) -> Vec<u32> {
    st.jobs
        .iter()
        .map(|job| {
            job.stages
                .iter()
                .flat_map(|s| s.maps.iter().chain(&s.reduces))
                .map(|t| t.running_attempts().count() as u32)
                .sum()
        })
        .collect()
}

/// The running jobs that may be offered a slot, with their running counts.
pub fn candidates(st: &TrackerState, running: &[u32]) -> Vec<Candidate> {
    st.jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| j.state == JobState::Running)
        .map(|(slot, j)| Candidate {
            slot,
            queue: j.spec.settings.queue.clone(),
            priority: j.spec.settings.priority,
            running: running[slot],
        })
        .collect()
}

/// Every queue's settings and use, configured ones first.
pub fn queue_reports(st: &TrackerState, config: &JobTrackerConfig) -> Vec<QueueReport> {
    let running = running_per_job(st);
    let queues = queues_with_orphans(
        &config.queues(),
        st.jobs.iter().map(|j| j.spec.settings.queue.as_str()),
    );
    queues
        .into_iter()
        .map(|q| {
            let jobs: Vec<QueueJobReport> = st
                .jobs
                .iter()
                .enumerate()
                .filter(|(_, j)| j.spec.settings.queue == q.name && j.state == JobState::Running)
                .map(|(slot, j)| QueueJobReport {
                    id: j.id.clone(),
                    priority: j.spec.settings.priority,
                    running: running[slot],
                    pending: j
                        .stages
                        .iter()
                        .filter(|s| s.phase == StagePhase::Running)
                        .map(|s| {
                            let maps = s.maps.iter().filter(|t| t.phase == TaskPhase::Pending);
                            maps.count() + ready_reduces(s, config.reduce_slow_start).count()
                        })
                        .sum::<usize>() as u32,
                })
                .collect();
            QueueReport {
                running: jobs.iter().map(|j| j.running).sum(),
                pending: jobs.iter().map(|j| j.pending).sum(),
                policy: match q.policy {
                    QueuePolicy::Fair => "fair",
                    QueuePolicy::Fifo => "fifo",
                }
                .into(),
                name: q.name,
                weight: q.weight,
                min_share: q.min_share,
                jobs,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A queue's settings, for the scheduler's tests.
    pub(crate) fn queue(
        name: &str,
        weight: f64,
        min_share: u32,
        policy: QueuePolicy,
    ) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            weight,
            min_share,
            policy,
            admins: Vec::new(),
        }
    }

    fn job(slot: usize, queue: &str, priority: i32, running: u32) -> Candidate {
        Candidate {
            slot,
            queue: queue.into(),
            priority,
            running,
        }
    }

    #[test]
    fn the_queue_with_the_fewest_running_slots_per_weight_goes_first() {
        let qs = [
            queue("a", 2.0, 0, QueuePolicy::Fair),
            queue("b", 1.0, 0, QueuePolicy::Fair),
        ];
        // a: 3 slots / 2 = 1.5 per weight; b: 2 / 1 = 2.
        assert_eq!(order(&qs, &[job(0, "a", 0, 3), job(1, "b", 0, 2)]), [0, 1]);
        // a: 4 / 2 = 2; b: 1 / 1 = 1.
        assert_eq!(order(&qs, &[job(0, "a", 0, 4), job(1, "b", 0, 1)]), [1, 0]);
    }

    #[test]
    fn a_queue_below_its_minimum_share_goes_first_and_the_furthest_below_before_others() {
        let qs = [
            queue("big", 10.0, 0, QueuePolicy::Fair),
            queue("m4", 1.0, 4, QueuePolicy::Fair),
            queue("m2", 1.0, 2, QueuePolicy::Fair),
        ];
        // m4 holds 3 of 4 (75%), m2 1 of 2 (50%): m2, then m4, then big despite its weight.
        let jobs = [job(0, "big", 0, 0), job(1, "m4", 0, 3), job(2, "m2", 0, 1)];
        assert_eq!(order(&qs, &jobs), [2, 1, 0]);
        // At its minimum a queue competes by weight again.
        let jobs = [job(0, "big", 0, 1), job(1, "m4", 0, 4), job(2, "m2", 0, 2)];
        assert_eq!(order(&qs, &jobs), [0, 2, 1]);
    }

    #[test]
    fn a_fair_queue_serves_the_job_with_the_fewest_running_tasks_per_weight() {
        let qs = [queue("q", 1.0, 0, QueuePolicy::Fair)];
        assert_eq!(
            order(
                &qs,
                &[job(0, "q", 0, 5), job(1, "q", 0, 1), job(2, "q", 0, 3)]
            ),
            [1, 2, 0]
        );
        // high (weight 2) with 3 running holds 1.5 per weight: before normal's 2.
        assert_eq!(order(&qs, &[job(0, "q", 0, 2), job(1, "q", 1, 3)]), [1, 0]);
        // Equal shares: the higher priority, then the older.
        assert_eq!(
            order(
                &qs,
                &[job(0, "q", 0, 0), job(1, "q", 0, 0), job(2, "q", 1, 0)]
            ),
            [2, 0, 1]
        );
    }

    #[test]
    fn a_fifo_queue_serves_the_highest_priority_then_the_oldest() {
        let qs = [queue("q", 1.0, 0, QueuePolicy::Fifo)];
        assert_eq!(
            order(
                &qs,
                &[job(0, "q", 0, 9), job(1, "q", 0, 0), job(2, "q", 2, 9)]
            ),
            [2, 0, 1]
        );
    }

    #[test]
    fn a_job_whose_queue_is_no_longer_configured_still_gets_slots() {
        let qs = [queue("q", 1.0, 0, QueuePolicy::Fair)];
        assert_eq!(order(&qs, &[job(0, "gone", 0, 0)]), [0]);
    }
}
