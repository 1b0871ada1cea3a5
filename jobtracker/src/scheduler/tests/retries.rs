//! A failed attempt is retried until the job's attempt limit; then the job fails, naming the
//! task and its last error.

use crate::scheduler::test_harness::SchedulerTest;
use common::ids::TaskKind;
use common::jobs::JobState;

#[test]
fn a_task_failing_on_every_attempt_fails_the_job_at_the_limit() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.make_launches_fail("h1");
    let limit = t.st.jobs[0].spec.settings.max_attempts as usize;
    assert_eq!(limit, 4);
    t.tick();
    for failed in 1..limit {
        t.tick();
        assert_eq!(
            t.job_state(&job),
            JobState::Running,
            "after {failed} failures"
        );
        assert_eq!(t.launches_of(&job, TaskKind::Map, 0).len(), failed + 1);
    }
    t.tick();
    assert_eq!(t.job_state(&job), JobState::Failed);
    assert_eq!(t.launches_of(&job, TaskKind::Map, 0).len(), limit);
    assert_eq!(t.job_counter(&job, "NUM_FAILED_MAPS"), limit as u64);
    let error = t.st.jobs[0].error.clone().unwrap_or_default();
    assert!(
        error.starts_with("map 0 of stage \"only\" failed 4 times"),
        "{error}"
    );
    assert!(error.contains("the job binary cannot start"), "{error}");
}

#[test]
fn a_task_succeeding_before_the_limit_keeps_the_job_running() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.settings(&job, |s| s.max_attempts = 2);
    t.tick();
    let first = t.first_attempt(&job, TaskKind::Map, 0);
    t.fail(&first);
    t.tick();
    let second = t.launches_of(&job, TaskKind::Map, 0)[1].attempt.clone();
    t.succeed(&second);
    t.tick();
    assert_eq!(
        t.job_state(&job),
        JobState::Running,
        "the stage now commits"
    );
    assert_eq!(
        t.st.jobs[0].stages[0].phase,
        crate::state::StagePhase::Committing
    );
}
