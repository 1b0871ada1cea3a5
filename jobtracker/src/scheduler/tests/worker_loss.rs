//! A worker that falls silent past the expiry (or restarts) is lost: its running attempts are
//! killed and re-run, and the map outputs it held for unfinished reduces run again elsewhere.

use crate::scheduler::test_harness::SchedulerTest;
use crate::state::AttemptPhase;
use common::ids::TaskKind;
use std::time::Duration;

#[test]
fn a_silent_worker_loses_its_attempts_and_needed_map_outputs() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
    let job = t.submit(&[&["h1"], &["h2"]], 1);
    t.tick();
    let map0 = t.launches_of(&job, TaskKind::Map, 0)[0].clone();
    assert_eq!(map0.host, "h1");
    t.succeed(&map0.attempt);
    t.tick();
    let reduce = t.launches_of(&job, TaskKind::Reduce, 0)[0].clone();
    assert_eq!(reduce.host, "h1", "the reduce took the slot map 0 freed");

    t.lose_worker("h1");
    t.advance(Duration::from_millis(t.config.worker_expiry_ms));
    t.tick();
    assert!(
        t.st.workers.contains_key("h1"),
        "lost before the expiry passed"
    );
    t.advance(Duration::from_millis(1));
    t.tick();
    assert!(!t.st.workers.contains_key("h1"));
    assert_eq!(t.phase(&reduce.attempt), AttemptPhase::Killed);
    assert_eq!(t.job_counter(&job, "NUM_KILLED_REDUCES"), 1);

    // h2 frees its slot: the lost map output is made again first, then the reduce reruns.
    let map1 = t.first_attempt(&job, TaskKind::Map, 1);
    t.succeed(&map1);
    t.tick();
    let map0_again = t.launches_of(&job, TaskKind::Map, 0);
    assert_eq!(map0_again.len(), 2, "map 0's output was on the lost worker");
    assert_eq!(map0_again[1].host, "h2");
    t.succeed(&map0_again[1].attempt);
    t.tick();
    let reduces = t.launches_of(&job, TaskKind::Reduce, 0);
    assert_eq!(reduces.len(), 2);
    assert_eq!(reduces[1].host, "h2");
}

#[test]
fn a_restarted_worker_is_a_new_worker() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.tick();
    let first = t.first_attempt(&job, TaskKind::Map, 0);
    t.add_worker("h1", 1);
    let relaunched = t.tick();
    assert_eq!(t.phase(&first), AttemptPhase::Killed);
    assert_eq!(
        relaunched.len(),
        1,
        "the map runs again on the new incarnation"
    );
    assert_eq!(relaunched[0].index, 0);
}
