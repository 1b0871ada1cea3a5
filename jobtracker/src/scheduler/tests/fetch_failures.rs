//! Reducers that cannot fetch a map's output report it; after three reports about the same
//! map attempt the map runs again.

use crate::scheduler::test_harness::SchedulerTest;
use common::ids::TaskKind;

#[test]
fn a_map_runs_again_after_three_fetch_failures() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 2)]);
    let job = t.submit(&[&["h1"]], 1);
    t.tick();
    let map = t.first_attempt(&job, TaskKind::Map, 0);
    let reduce = t.first_attempt(&job, TaskKind::Reduce, 0);
    t.succeed(&map);
    t.tick();
    assert_eq!(t.config.fetch_failures_before_rerun, 3);
    for report in 1..=3 {
        t.fetch_failure(&reduce, &map);
        t.tick();
        let runs = t.launches_of(&job, TaskKind::Map, 0).len();
        assert_eq!(
            runs,
            if report < 3 { 1 } else { 2 },
            "after {report} reports"
        );
    }
}

#[test]
fn reports_about_an_attempt_whose_output_does_not_count_are_ignored() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 2)]);
    let job = t.submit(&[&["h1"]], 1);
    t.tick();
    let map = t.first_attempt(&job, TaskKind::Map, 0);
    let reduce = t.first_attempt(&job, TaskKind::Reduce, 0);
    // The map has not succeeded: its output is not the one reduces read.
    for _ in 0..3 {
        t.fetch_failure(&reduce, &map);
        t.tick();
    }
    assert_eq!(t.launches_of(&job, TaskKind::Map, 0).len(), 1);
}
