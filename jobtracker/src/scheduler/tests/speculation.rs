//! A straggler gets a twin on another worker; the first to succeed wins and the other is
//! killed. A task keeping its stage's pace gets none.

use crate::scheduler::test_harness::SchedulerTest;
use crate::state::AttemptPhase;
use common::ids::TaskKind;
use std::time::Duration;

/// Three maps; the first two finish in two seconds; the third has made `progress` when the
/// clock reaches three seconds.
fn straggling(progress: f32) -> (SchedulerTest, common::ids::JobId) {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1), ("h3", "/r1", 1)]);
    let job = t.submit(&[&["h1"], &["h2"], &["h3"]], 0);
    t.tick();
    t.advance(Duration::from_secs(2));
    for m in 0..2 {
        let a = t.first_attempt(&job, TaskKind::Map, m);
        t.succeed(&a);
    }
    let slow = t.first_attempt(&job, TaskKind::Map, 2);
    t.progress(&slow, progress);
    assert!(
        t.tick().is_empty(),
        "no twin while the task is within its expected time"
    );
    t.advance(Duration::from_secs(1));
    (t, job)
}

#[test]
fn a_straggler_gets_a_twin_on_another_worker_and_the_loser_is_killed() {
    let (mut t, job) = straggling(0.1);
    let twins = t.tick();
    assert_eq!(twins.len(), 1, "{twins:?}");
    assert_eq!(twins[0].index, 2);
    assert_ne!(twins[0].host, "h3");
    assert_eq!(t.job_counter(&job, "SPECULATIVE_ATTEMPTS"), 1);

    let first = t.first_attempt(&job, TaskKind::Map, 2);
    t.succeed(&twins[0].attempt);
    t.tick();
    assert_eq!(t.phase(&twins[0].attempt), AttemptPhase::Succeeded);
    assert_eq!(t.phase(&first), AttemptPhase::Killed);
    assert!(
        t.kills.contains(&first),
        "the losing attempt's worker is told"
    );
}

#[test]
fn a_task_keeping_pace_gets_no_twin() {
    let (mut t, job) = straggling(0.9);
    assert!(t.tick().is_empty());
    assert_eq!(t.job_counter(&job, "SPECULATIVE_ATTEMPTS"), 0);
}

#[test]
fn no_twins_when_the_job_turns_speculation_off() {
    let (mut t, job) = straggling(0.1);
    t.settings(&job, |s| s.speculative = false);
    assert!(t.tick().is_empty());
}
