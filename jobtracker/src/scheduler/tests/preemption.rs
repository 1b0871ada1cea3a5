//! Never stall: slow start holds reducers back until a fraction of the maps is done, and
//! reducers that hold the slots pending maps need are preempted (killed, queued again,
//! counted as killed, not failed).

use crate::scheduler::test_harness::SchedulerTest;
use crate::state::AttemptPhase;
use common::ids::TaskKind;
use common::jobs::JobState;
use std::time::Duration;

#[test]
fn slow_start_holds_reducers_until_the_fraction_of_maps_is_done() {
    // One slot free beside the maps that wait for their data's node: only slow start decides.
    let mut t = SchedulerTest::new(&[("h1", "/r1", 2), ("h2", "/r1", 1)]);
    t.config.reduce_slow_start = 0.5;
    let job = t.submit(&[&["h1"], &["h1"], &["h1"], &["h1"]], 1);
    t.tick();
    assert!(t.launches_of(&job, TaskKind::Reduce, 0).is_empty());
    let map0 = t.first_attempt(&job, TaskKind::Map, 0);
    t.succeed(&map0);
    t.tick();
    assert!(
        t.launches_of(&job, TaskKind::Reduce, 0).is_empty(),
        "1 of 4 maps done is below the slow start of 0.5"
    );
    let map1 = t.first_attempt(&job, TaskKind::Map, 1);
    t.succeed(&map1);
    t.tick();
    let reduce = t.launches_of(&job, TaskKind::Reduce, 0);
    assert_eq!(reduce.len(), 1, "2 of 4 maps done reaches the slow start");
    assert_eq!(
        reduce[0].host, "h2",
        "maps still wait for h1, the reduce takes h2"
    );
}

#[test]
fn slow_start_zero_launches_reducers_with_the_maps_and_one_waits_for_every_map() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
    t.config.reduce_slow_start = 0.0;
    let job = t.submit(&[&["h1"], &["h1"]], 1);
    t.tick();
    let reduce = t.launches_of(&job, TaskKind::Reduce, 0);
    assert_eq!(
        reduce.len(),
        1,
        "with slow start 0 the reduce starts at once"
    );
    assert_eq!(reduce[0].host, "h2");

    let mut t = SchedulerTest::new(&[("h1", "/r1", 1), ("h2", "/r1", 1)]);
    t.config.reduce_slow_start = 1.0;
    let job = t.submit(&[&["h1"], &["h2"]], 1);
    t.tick();
    assert_eq!(t.launches_of(&job, TaskKind::Map, 1).len(), 1);
    let map0 = t.first_attempt(&job, TaskKind::Map, 0);
    t.succeed(&map0);
    t.tick();
    assert!(
        t.launches_of(&job, TaskKind::Reduce, 0).is_empty(),
        "every map is placed but slow start 1.0 waits for every map to finish"
    );
    let map1 = t.first_attempt(&job, TaskKind::Map, 1);
    t.succeed(&map1);
    t.tick();
    assert_eq!(t.launches_of(&job, TaskKind::Reduce, 0).len(), 1);
}

/// Four 1-slot workers, six maps (h4 holds the data of maps 0 and 1), three reducers with slow
/// start 0: once every map is placed the reducers take the free slots. Returns the test, the
/// job, and the reducers' attempts in launch order.
fn reducers_hold_the_slots() -> (SchedulerTest, common::ids::JobId) {
    let mut t = SchedulerTest::new(&[
        ("h1", "/r1", 1),
        ("h2", "/r1", 1),
        ("h3", "/r1", 1),
        ("h4", "/r1", 1),
    ]);
    t.config.reduce_slow_start = 0.0;
    let job = t.submit(&[&["h4"], &["h4"], &["h1"], &["h2"], &["h3"], &["h1"]], 3);
    // Run maps until all six are done except those still running, letting reducers in.
    for _ in 0..20 {
        t.advance(Duration::from_millis(t.config.locality_delay_ms * 2));
        t.tick();
        let running: Vec<_> = t
            .launches
            .iter()
            .filter(|l| l.kind == TaskKind::Map && t.phase(&l.attempt) == AttemptPhase::Running)
            .map(|l| l.attempt.clone())
            .collect();
        let all_placed = (0..6).all(|i| !t.launches_of(&job, TaskKind::Map, i).is_empty());
        if all_placed && running.is_empty() {
            break;
        }
        for a in running {
            t.succeed(&a);
        }
    }
    (t, job)
}

#[test]
fn a_lost_worker_s_maps_run_again_by_preempting_a_reducer_and_the_job_completes() {
    let (mut t, job) = reducers_hold_the_slots();
    let reduces: Vec<_> = (0..3)
        .map(|p| t.launches_of(&job, TaskKind::Reduce, p))
        .collect();
    assert!(reduces.iter().all(|r| r.len() == 1), "{reduces:?}");
    // The worker without a reducer is the one lost, with map outputs on it.
    let reducer_hosts: Vec<&str> = reduces.iter().map(|r| r[0].host.as_str()).collect();
    let lost = ["h1", "h2", "h3", "h4"]
        .into_iter()
        .find(|h| !reducer_hosts.contains(h))
        .expect("a worker without a reducer")
        .to_string();
    let maps_there: Vec<usize> = (0..6)
        .filter(|&i| t.launches_of(&job, TaskKind::Map, i)[0].host == lost)
        .collect();
    assert!(!maps_there.is_empty(), "the lost worker ran maps");

    t.lose_worker(&lost);
    t.advance(Duration::from_millis(t.config.worker_expiry_ms + 1));
    t.tick();
    assert!(!t.st.workers.contains_key(&lost));
    // The next heartbeats deliver the kill, then place the map in the freed slot.
    t.tick();
    t.tick();
    let newest = reduces
        .iter()
        .map(|r| r[0].clone())
        .max_by_key(|l| {
            t.launches
                .iter()
                .position(|x| x.attempt == l.attempt)
                .unwrap_or(0)
        })
        .expect("three reducers");
    assert_eq!(
        t.phase(&newest.attempt),
        AttemptPhase::Killed,
        "the most recently started reducer is preempted"
    );
    assert!(t.kills.contains(&newest.attempt));
    // One reducer per lost map output (each needs a slot), no more.
    let preempted = maps_there.len() as u64;
    assert_eq!(t.job_counter(&job, "NUM_KILLED_REDUCES"), preempted);
    assert_eq!(t.kills.len() as u64, preempted);
    assert_eq!(t.job_counter(&job, "NUM_FAILED_REDUCES"), 0);
    for &m in &maps_there {
        let rerun = t.launches_of(&job, TaskKind::Map, m);
        assert_eq!(rerun.len(), 2, "lost map {m} runs again in a freed slot");
        assert!(reducer_hosts.contains(&rerun[1].host.as_str()));
    }

    // The job completes: every map, then every reduce (the preempted one relaunched).
    for _ in 0..30 {
        if t.job_state(&job) != JobState::Running
            || t.st.jobs[t.st.by_id[&job]].stages[0].all_done()
        {
            break;
        }
        t.advance(Duration::from_millis(t.config.locality_delay_ms * 2));
        let running: Vec<_> = t
            .launches
            .iter()
            .filter(|l| l.host != lost && t.phase(&l.attempt) == AttemptPhase::Running)
            .filter(|l| {
                // Reduces finish only once every map is done.
                l.kind == TaskKind::Map || t.st.jobs[t.st.by_id[&job]].stages[0].maps_done() == 6
            })
            .map(|l| l.attempt.clone())
            .collect();
        for a in running {
            t.succeed(&a);
        }
        t.tick();
    }
    assert!(t.st.jobs[t.st.by_id[&job]].stages[0].all_done());
    assert_eq!(t.launches_of(&job, TaskKind::Reduce, newest.index).len(), 2);
    assert_eq!(t.job_counter(&job, "NUM_KILLED_REDUCES"), preempted);
}

#[test]
fn no_reducer_is_preempted_while_a_slot_is_free() {
    let (mut t, job) = reducers_hold_the_slots();
    // A fifth worker joins with two slots: every map output lost (at most two) has a free
    // slot.
    t.add_worker("h5", 2);
    let lost = (1..=4)
        .map(|i| format!("h{i}"))
        .find(|h| (0..3).all(|p| &t.launches_of(&job, TaskKind::Reduce, p)[0].host != h))
        .expect("a worker without a reducer");
    t.lose_worker(&lost);
    t.advance(Duration::from_millis(t.config.worker_expiry_ms + 1));
    t.tick();
    t.tick();
    t.tick();
    assert!(t.kills.is_empty(), "{:?}", t.kills);
    assert_eq!(t.job_counter(&job, "NUM_KILLED_REDUCES"), 0);
    assert!(t
        .launches
        .iter()
        .any(|l| l.host == "h5" && l.kind == TaskKind::Map));
}

#[test]
fn a_preempted_reduce_does_not_use_up_its_attempts() {
    let (mut t, job) = reducers_hold_the_slots();
    t.settings(&job, |s| s.max_attempts = 1);
    let lost = (1..=4)
        .map(|i| format!("h{i}"))
        .find(|h| (0..3).all(|p| &t.launches_of(&job, TaskKind::Reduce, p)[0].host != h))
        .expect("a worker without a reducer");
    t.lose_worker(&lost);
    t.advance(Duration::from_millis(t.config.worker_expiry_ms + 1));
    t.tick();
    t.tick();
    assert!(t.job_counter(&job, "NUM_KILLED_REDUCES") >= 1);
    assert_eq!(t.job_counter(&job, "NUM_FAILED_REDUCES"), 0);
    assert_eq!(
        t.job_state(&job),
        JobState::Running,
        "a preemption is no failure, even with an attempt limit of 1"
    );
    let j = t.st.by_id[&job];
    assert!(t.st.jobs[j].stages[0]
        .reduces
        .iter()
        .all(|r| r.failures == 0));
}
