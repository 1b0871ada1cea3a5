//! Bad workers: a worker where a job's attempts failed `worker_failures_per_job` times gets
//! no more of its tasks; one where attempts of several jobs failed is excluded from all
//! scheduling for a while, then comes back; no rule may leave a job without a worker.

use crate::scheduler::test_harness::SchedulerTest;
use common::ids::JobId;
use std::time::Duration;

fn launches_on(t: &SchedulerTest, job: &JobId, host: &str) -> usize {
    t.launches
        .iter()
        .filter(|l| &l.job == job && l.host == host)
        .count()
}

#[test]
fn a_worker_where_a_job_failed_three_times_gets_no_more_of_its_tasks() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
    let job = t.submit(&[&["h1"], &["h1"], &["h1"], &["h1"]], 0);
    t.settings(&job, |s| s.max_attempts = 10);
    t.make_launches_fail("h1");
    for _ in 0..10 {
        t.tick();
        t.advance(Duration::from_secs(1));
    }
    assert_eq!(launches_on(&t, &job, "h1"), 3, "{:?}", t.launches);
    assert_eq!(t.st.jobs[0].worker_failures["h1"], 3);
    assert!(launches_on(&t, &job, "h2") > 0, "the job goes on elsewhere");
    // Only that job: another job's tasks still go to h1.
    let other = t.submit(&[&["h1"]], 0);
    t.tick();
    assert_eq!(launches_on(&t, &other, "h1"), 1);
    assert!(t.st.health["h1"].excluded.is_none());
}

#[test]
fn a_job_whose_every_worker_is_ruled_out_still_runs() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.settings(&job, |s| s.max_attempts = 20);
    t.make_launches_fail("h1");
    t.make_launches_fail("h2");
    for _ in 0..12 {
        t.tick();
        t.advance(Duration::from_secs(1));
    }
    assert!(launches_on(&t, &job, "h1") > 3, "{:?}", t.launches);
    assert!(launches_on(&t, &job, "h2") >= 3, "{:?}", t.launches);
}

#[test]
fn a_worker_failing_several_jobs_is_excluded_for_a_while_then_comes_back() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 4)]);
    t.config.worker_exclusion_jobs = 2;
    t.config.worker_exclusion_window_ms = 60_000;
    t.config.worker_exclusion_ms = 600_000;
    // The attempts on h2 stay running through the period.
    t.config.task_timeout_ms = 0;
    t.make_launches_fail("h1");
    let a = t.submit(&[&["h1"]], 0);
    t.settings(&a, |s| s.max_attempts = 10);
    t.tick();
    t.tick();
    assert!(t.st.health["h1"].excluded.is_none(), "one job only");
    let b = t.submit(&[&["h1"]], 0);
    t.settings(&b, |s| s.max_attempts = 10);
    for _ in 0..4 {
        t.tick();
    }
    let exclusion = t.st.health["h1"].excluded.clone().expect("h1 excluded");
    assert!(
        exclusion.reason.contains(a.as_str()) && exclusion.reason.contains(b.as_str()),
        "{}",
        exclusion.reason
    );
    assert_eq!(exclusion.until, t.clock_now() + Duration::from_secs(600));
    // No job gets h1 now: a new job whose data is on h1 runs on h2.
    let c = t.submit(&[&["h1"]], 0);
    t.advance(Duration::from_secs(1));
    t.tick();
    t.tick();
    assert_eq!(launches_on(&t, &c, "h1"), 0);
    assert_eq!(launches_on(&t, &c, "h2"), 1);
    // After the period it gets tasks again.
    t.advance(Duration::from_secs(600));
    let d = t.submit(&[&["h1"]], 0);
    t.tick();
    assert!(t.st.health["h1"].excluded.is_none());
    assert_eq!(launches_on(&t, &d, "h1"), 1);
}

#[test]
fn failures_of_jobs_further_apart_than_the_window_do_not_exclude() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 4)]);
    t.config.worker_exclusion_jobs = 2;
    t.config.worker_exclusion_window_ms = 60_000;
    t.make_launches_fail("h1");
    let a = t.submit(&[&["h1"]], 0);
    t.settings(&a, |s| s.max_attempts = 1);
    t.tick();
    t.tick();
    t.advance(Duration::from_secs(61));
    let b = t.submit(&[&["h1"]], 0);
    t.settings(&b, |s| s.max_attempts = 1);
    t.tick();
    t.tick();
    assert_eq!(launches_on(&t, &b, "h1"), 1);
    assert!(t.st.health["h1"].excluded.is_none());
}
