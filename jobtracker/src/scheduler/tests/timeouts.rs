//! Task timeout: an attempt whose progress does not change for its job's task timeout is
//! killed and retried as a failure; a reduce waiting for its maps is not stuck.

use crate::scheduler::test_harness::SchedulerTest;
use crate::state::AttemptPhase;
use common::ids::TaskKind;
use common::jobs::JobState;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

#[test]
fn an_attempt_without_progress_is_killed_and_retried_as_a_failure() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.settings(&job, |s| s.task_timeout_ms = 10_000);
    t.tick();
    let first = t.first_attempt(&job, TaskKind::Map, 0);
    t.advance(9 * S);
    t.tick();
    assert_eq!(t.phase(&first), AttemptPhase::Running);
    // Progress at 9 s: the timeout counts from there.
    t.progress(&first, 0.5);
    t.tick();
    t.advance(9 * S);
    t.tick();
    assert_eq!(t.phase(&first), AttemptPhase::Running, "progressed 9 s ago");
    assert!(t.kills.is_empty());
    t.advance(S);
    t.tick();
    assert_eq!(t.phase(&first), AttemptPhase::Failed);
    assert_eq!(t.kills, vec![first.clone()], "killed on its worker");
    assert_eq!(t.job_counter(&job, "NUM_FAILED_MAPS"), 1);
    // Its slot frees once the worker reports the kill; then the task runs again.
    t.tick();
    let launches = t.launches_of(&job, TaskKind::Map, 0);
    assert_eq!(launches.len(), 2, "{launches:?}");
    assert_eq!(t.job_state(&job), JobState::Running);
}

#[test]
fn a_timed_out_last_attempt_fails_the_job_with_the_timeout_as_its_cause() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.settings(&job, |s| s.max_attempts = 1);
    // No job setting: the job tracker's default applies.
    t.config.task_timeout_ms = 5_000;
    t.tick();
    t.advance(5 * S);
    t.tick();
    assert_eq!(t.job_state(&job), JobState::Failed);
    let error = t.st.jobs[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("timed out after 5 s without progress"),
        "{error}"
    );
}

#[test]
fn no_timeout_when_it_is_zero() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.config.task_timeout_ms = 0;
    t.tick();
    let first = t.first_attempt(&job, TaskKind::Map, 0);
    t.advance(Duration::from_secs(24 * 3600));
    t.tick();
    assert_eq!(t.phase(&first), AttemptPhase::Running);
}

#[test]
fn a_reduce_waiting_for_maps_is_not_stuck_its_time_counts_from_the_last_map() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 2)]);
    t.config.reduce_slow_start = 0.0;
    let job = t.submit(&[&["h1"]], 1);
    t.settings(&job, |s| s.task_timeout_ms = 10_000);
    t.tick();
    let map = t.first_attempt(&job, TaskKind::Map, 0);
    let reduce = t.first_attempt(&job, TaskKind::Reduce, 0);
    // The map progresses for 30 s while the reduce waits without progress.
    for i in 1..=6 {
        t.advance(5 * S);
        t.progress(&map, i as f32 / 10.0);
        t.tick();
    }
    assert_eq!(t.phase(&reduce), AttemptPhase::Running);
    t.succeed(&map);
    t.tick();
    t.advance(9 * S);
    t.tick();
    assert_eq!(t.phase(&reduce), AttemptPhase::Running, "9 s after the map");
    t.advance(S);
    t.tick();
    assert_eq!(t.phase(&reduce), AttemptPhase::Failed);
    assert!(t.kills.contains(&reduce));
}

#[test]
fn an_ended_attempt_its_worker_still_runs_is_told_to_die_again() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.settings(&job, |s| s.task_timeout_ms = 1_000);
    t.tick();
    let first = t.first_attempt(&job, TaskKind::Map, 0);
    // The kill is lost: the worker goes on reporting the attempt running.
    t.set_ignores_kills("h1", true);
    t.advance(S);
    t.tick();
    assert_eq!(t.kills, vec![first.clone()]);
    t.tick();
    assert_eq!(t.kills, vec![first.clone(), first.clone()], "sent again");
    t.set_ignores_kills("h1", false);
    t.tick();
    t.tick();
    assert_eq!(t.kills.len(), 3, "not once it is gone: {:?}", t.kills);
}
