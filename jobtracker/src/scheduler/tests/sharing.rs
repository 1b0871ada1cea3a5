//! Sharing slots between jobs: queues share by weight, a queue below its minimum share is
//! served first, jobs of a fair queue share by priority weight, a FIFO queue serves the highest
//! priority then the oldest, a short job gets the first slot that frees, and a job waiting for
//! locality passes a slot on to the others.

use crate::scheduler::fair_share::running_per_job;
use crate::scheduler::fair_share::tests::queue;
use crate::scheduler::test_harness::SchedulerTest;
use crate::state::AttemptPhase;
use common::config::QueuePolicy;
use common::ids::{AttemptId, JobId};

/// `workers` 2-slot workers on one rack.
fn cluster(workers: usize) -> SchedulerTest {
    let hosts: Vec<String> = (1..=workers).map(|i| format!("h{i}")).collect();
    let spec: Vec<(&str, &str, u32)> = hosts.iter().map(|h| (h.as_str(), "/r1", 2)).collect();
    SchedulerTest::new(&spec)
}

/// A map-only job of `maps` maps whose data no live worker holds (no locality wait), in
/// `queue` at `priority`.
fn submit(t: &mut SchedulerTest, maps: usize, queue: &str, priority: i32) -> JobId {
    let splits: Vec<&[&str]> = vec![&["elsewhere"]; maps];
    let job = t.submit(&splits, 0);
    t.settings(&job, |s| {
        s.queue = queue.into();
        s.priority = priority;
    });
    job
}

fn running(t: &SchedulerTest, job: &JobId) -> u32 {
    running_per_job(&t.st)[t.st.by_id[job]]
}

/// The job's attempts the job tracker sees running, oldest first.
fn running_attempts(t: &SchedulerTest, job: &JobId) -> Vec<AttemptId> {
    t.launches
        .iter()
        .filter(|l| &l.job == job && t.phase(&l.attempt) == AttemptPhase::Running)
        .map(|l| l.attempt.clone())
        .collect()
}

/// The first `n` running attempts of `job` succeed; every worker heartbeats once.
fn finish(t: &mut SchedulerTest, job: &JobId, n: usize) {
    for a in running_attempts(t, job).into_iter().take(n) {
        t.succeed(&a);
    }
    t.tick();
}

#[test]
fn two_queues_weighted_two_to_one_share_the_slots_two_to_one() {
    let mut t = cluster(3);
    t.config.queues = vec![
        queue("prod", 2.0, 0, QueuePolicy::Fair),
        queue("adhoc", 1.0, 0, QueuePolicy::Fair),
    ];
    let prod = submit(&mut t, 40, "prod", 0);
    let adhoc = submit(&mut t, 40, "adhoc", 0);
    t.tick();
    assert_eq!((running(&t, &prod), running(&t, &adhoc)), (4, 2));
    // Under contention, every slot that frees keeps the ratio.
    for round in 0..5 {
        finish(&mut t, &prod, 2);
        finish(&mut t, &adhoc, 1);
        assert_eq!(
            (running(&t, &prod), running(&t, &adhoc)),
            (4, 2),
            "round {round}"
        );
    }
}

#[test]
fn a_share_is_not_a_reservation_a_queue_without_work_leaves_its_slots_to_others() {
    let mut t = cluster(3);
    t.config.queues = vec![
        queue("prod", 1.0, 0, QueuePolicy::Fair),
        queue("adhoc", 5.0, 4, QueuePolicy::Fair),
    ];
    let prod = submit(&mut t, 40, "prod", 0);
    let adhoc = submit(&mut t, 1, "adhoc", 0);
    t.tick();
    assert_eq!((running(&t, &prod), running(&t, &adhoc)), (5, 1));
}

#[test]
fn a_queue_below_its_minimum_share_is_served_first() {
    let mut t = cluster(2);
    // Without a minimum, weight 1 against 10 would get one slot of four.
    t.config.queues = vec![
        queue("batch", 10.0, 0, QueuePolicy::Fair),
        queue("interactive", 1.0, 2, QueuePolicy::Fair),
    ];
    let batch = submit(&mut t, 20, "batch", 0);
    let interactive = submit(&mut t, 20, "interactive", 0);
    t.tick();
    assert_eq!((running(&t, &batch), running(&t, &interactive)), (2, 2));

    // The same with no minimum share: weight alone decides.
    let mut t = cluster(2);
    t.config.queues = vec![
        queue("batch", 10.0, 0, QueuePolicy::Fair),
        queue("interactive", 1.0, 0, QueuePolicy::Fair),
    ];
    let batch = submit(&mut t, 20, "batch", 0);
    let interactive = submit(&mut t, 20, "interactive", 0);
    t.tick();
    assert_eq!((running(&t, &batch), running(&t, &interactive)), (3, 1));
}

#[test]
fn a_short_job_gets_the_first_slot_that_frees_while_a_long_job_holds_them_all() {
    let mut t = cluster(2);
    let long = submit(&mut t, 50, "default", 0);
    t.tick();
    assert_eq!(running(&t, &long), 4);
    let short = submit(&mut t, 2, "default", 0);
    t.tick();
    assert_eq!(running(&t, &short), 0, "no preemption of maps");
    finish(&mut t, &long, 1);
    assert_eq!(
        running(&t, &short),
        1,
        "the freed slot went to the short job"
    );
    finish(&mut t, &long, 1);
    assert_eq!((running(&t, &long), running(&t, &short)), (2, 2));
    // The short job's maps end (its stage goes to commit) while the long one has most of its
    // maps to run; the long job takes its slots back.
    finish(&mut t, &short, 2);
    assert_eq!(
        t.st.jobs[t.st.by_id[&short]].stages[0].phase,
        crate::state::StagePhase::Committing
    );
    assert_eq!(running(&t, &long), 4);
}

#[test]
fn jobs_of_a_fair_queue_share_its_slots_by_priority_weight() {
    let mut t = cluster(3);
    let normal = submit(&mut t, 40, "default", 0);
    let high = submit(&mut t, 40, "default", 1);
    t.tick();
    // high weighs 2, normal 1: 4 and 2 of the 6 slots.
    assert_eq!((running(&t, &high), running(&t, &normal)), (4, 2));
    finish(&mut t, &high, 4);
    assert_eq!((running(&t, &high), running(&t, &normal)), (4, 2));
}

#[test]
fn a_fifo_queue_serves_the_highest_priority_then_the_oldest() {
    let mut t = cluster(2);
    t.config.queues = vec![queue("default", 1.0, 0, QueuePolicy::Fifo)];
    let first = submit(&mut t, 20, "default", 0);
    t.tick();
    let second = submit(&mut t, 20, "default", 0);
    finish(&mut t, &first, 2);
    assert_eq!(
        (running(&t, &first), running(&t, &second)),
        (4, 0),
        "the oldest keeps every slot"
    );
    let urgent = submit(&mut t, 20, "default", 2);
    finish(&mut t, &first, 3);
    assert_eq!(
        (
            running(&t, &first),
            running(&t, &second),
            running(&t, &urgent)
        ),
        (1, 0, 3)
    );
}

#[test]
fn a_job_waiting_for_locality_passes_the_slot_to_the_next_job() {
    // h1 holds the first job's data and has no slot; h2 is free.
    let mut t = SchedulerTest::new(&[("h1", "/r1", 0), ("h2", "/r1", 1)]);
    let local = t.submit(&[&["h1"], &["h1"]], 0);
    let anywhere = submit(&mut t, 1, "default", 0);
    t.tick();
    assert_eq!(
        (running(&t, &local), running(&t, &anywhere)),
        (0, 1),
        "the slot went to the job that could use it"
    );
}

#[test]
fn the_queue_report_counts_running_slots_and_tasks_that_may_launch() {
    let mut t = cluster(1);
    t.config.reduce_slow_start = 1.0;
    t.config.queues = vec![
        queue("default", 1.0, 0, QueuePolicy::Fair),
        queue("idle", 3.0, 2, QueuePolicy::Fifo),
    ];
    let splits: Vec<&[&str]> = vec![&["elsewhere"]; 3];
    let job = t.submit(&splits, 2);
    t.tick();
    let qs = crate::scheduler::fair_share::queue_reports(&t.st, &t.config);
    let names: Vec<&str> = qs.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["default", "idle"]);
    // Two maps run, one waits; the reducers wait for slow start, so they are not pending yet.
    assert_eq!((qs[0].running, qs[0].pending), (2, 1));
    assert_eq!(qs[0].jobs.len(), 1);
    assert_eq!(qs[0].jobs[0].id, job);
    assert_eq!(
        (qs[1].weight, qs[1].min_share, qs[1].policy.as_str()),
        (3.0, 2, "fifo")
    );
    assert!(qs[1].jobs.is_empty());
}
