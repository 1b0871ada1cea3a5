//! Maps go to the node holding their split, else (after the locality delay) to its rack, else
//! (after twice the delay) anywhere; no wait when no live worker is nearer.

use crate::scheduler::test_harness::SchedulerTest;
use common::ids::TaskKind;
use std::time::Duration;

fn delay(t: &SchedulerTest) -> Duration {
    Duration::from_millis(t.config.locality_delay_ms)
}

#[test]
fn maps_run_on_the_nodes_holding_their_splits() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1), ("h3", "/r2", 1)]);
    let job = t.submit(&[&["h3"], &["h1"], &["h2"]], 0);
    let launched = t.tick();
    assert_eq!(launched.len(), 3);
    for l in &launched {
        let wanted = ["h3", "h1", "h2"][l.index];
        assert_eq!(l.host, wanted, "map {} ran away from its data", l.index);
    }
    assert_eq!(t.job_counter(&job, "DATA_LOCAL_MAPS"), 3);
    assert_eq!(t.job_counter(&job, "RACK_LOCAL_MAPS"), 0);
}

#[test]
fn a_map_waits_the_delay_before_running_on_its_rack() {
    // h1 holds the split but has no slot; h2 shares its rack; h3 is on another rack.
    let mut t = SchedulerTest::new(&[("h1", "/r1", 0), ("h2", "/r1", 1), ("h3", "/r2", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    assert!(t.tick().is_empty(), "no wait before leaving the node");
    t.advance(delay(&t) - Duration::from_millis(1));
    assert!(t.tick().is_empty(), "left the node before the delay");
    t.advance(Duration::from_millis(1));
    let launched = t.tick();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].host, "h2");
    assert_eq!(t.job_counter(&job, "RACK_LOCAL_MAPS"), 1);
}

#[test]
fn a_map_runs_off_its_rack_only_after_twice_the_delay() {
    // Nothing on the split's rack has a slot: only h3, on another rack, does.
    let mut t = SchedulerTest::new(&[("h1", "/r1", 0), ("h3", "/r2", 1)]);
    let job = t.submit(&[&["h1"]], 0);
    t.advance(delay(&t));
    assert!(t.tick().is_empty(), "left the rack after one delay");
    t.advance(delay(&t));
    let launched = t.tick();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].host, "h3");
    assert_eq!(t.job_counter(&job, "OTHER_LOCAL_MAPS"), 1);
}

#[test]
fn a_map_whose_data_has_no_live_worker_does_not_wait() {
    let mut t = SchedulerTest::new(&[("h3", "/r2", 1)]);
    let job = t.submit(&[&["gone"]], 0);
    let launched = t.tick();
    assert_eq!(launched.len(), 1);
    assert_eq!(t.launches_of(&job, TaskKind::Map, 0)[0].host, "h3");
}

#[test]
fn reduces_start_only_once_every_map_is_placed() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 2)]);
    let job = t.submit(&[&["h1"], &["h1"]], 1);
    t.tick();
    assert!(t.launches_of(&job, TaskKind::Reduce, 0).is_empty());
    t.advance(delay(&t));
    t.tick();
    let reduce = t.launches_of(&job, TaskKind::Reduce, 0);
    assert_eq!(
        reduce.len(),
        1,
        "the reduce follows the last map's placement"
    );
    assert_eq!(reduce[0].host, "h2");
}
