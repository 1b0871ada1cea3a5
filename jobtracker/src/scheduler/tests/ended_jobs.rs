//! An ended job, once cleaned, leaves memory: only its final report stays, and clients and
//! workers are answered from it.

use crate::history::{apply, HistoryRecord};
use crate::scheduler::test_harness::SchedulerTest;
use common::clock::Clock;
use common::ids::TaskKind;
use common::jobs::{JobState, JOB_COUNTERS};

#[test]
fn a_cleaned_job_leaves_memory_and_is_answered_from_its_final_report() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 2)]);
    let first = t.submit(&[&["h1"]], 0);
    let second = t.submit(&[&["h1"]], 0);
    t.tick();
    let j = t.st.by_id[&first];
    crate::driver::kill(&mut t.st, j);
    let now = t.clock.now();
    assert_eq!(
        t.st.report(first.as_str(), now).map(|r| r.state),
        Some(JobState::Running),
        "shown running until cleaned"
    );

    let report = t.st.cleaned(&first, now).expect("in memory");
    assert_eq!(report.state, JobState::Killed);
    assert_eq!(report.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_MAPS"), 1);
    assert!(!t.st.by_id.contains_key(&first));
    assert_eq!(t.st.jobs.len(), 1);
    assert!(
        t.st.attempts.values().all(|at| at.job == 0),
        "only the second job's attempts are left, at its new slot"
    );
    assert_eq!(t.st.report(first.as_str(), now), Some(report));
    let listed: Vec<_> = t.st.reports(now).into_iter().map(|r| r.id).collect();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert_eq!(t.st.finished_jobs(), vec![first.clone()]);

    // The job that moved slots still runs to its end.
    let map = t.first_attempt(&second, TaskKind::Map, 0);
    t.succeed(&map);
    t.tick();
    assert_eq!(
        t.st.jobs[0].stages[0].phase,
        crate::state::StagePhase::Committing
    );
}

#[test]
fn history_replay_keeps_only_the_reports_of_ended_jobs() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let ended = t.submit(&[&["h1"]], 0);
    let running = t.submit(&[&["h1"]], 0);
    let now = t.clock.now();
    let mut records = Vec::new();
    for id in [&ended, &running] {
        let job = &t.st.jobs[t.st.by_id[id]];
        records.push(HistoryRecord::Submitted {
            id: id.clone(),
            spec: job.spec.clone(),
            submitted_ms: job.submitted_ms,
            delegation: None,
        });
    }
    let j = t.st.by_id[&ended];
    crate::driver::kill(&mut t.st, j);
    let report = t.st.jobs[j].final_report(now);
    records.push(HistoryRecord::Finished { report });

    let mut replayed = crate::state::TrackerState::default();
    for r in records {
        let bytes = r.encode();
        apply(
            &mut replayed,
            serde_json::from_slice(&bytes).expect("a record"),
            now,
        );
    }
    assert_eq!(replayed.jobs.len(), 1);
    assert!(replayed.by_id.contains_key(&running));
    assert_eq!(replayed.ended[&ended].state, JobState::Killed);
    assert!(
        replayed.finished_jobs().is_empty(),
        "workers of this run never held the replayed job's files"
    );
}

#[test]
fn a_slot_held_by_an_attempt_of_a_retired_job_stays_taken_until_its_kill_lands() {
    let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
    let first = t.submit(&[&["h1"]], 0);
    t.tick();
    let old = t.first_attempt(&first, TaskKind::Map, 0);
    let j = t.st.by_id[&first];
    crate::driver::kill(&mut t.st, j);
    t.st.cleaned(&first, t.clock.now()).expect("in memory");
    let second = t.submit(&[&["h1"]], 0);

    assert!(t.tick().is_empty(), "the killed attempt still runs on h1");
    assert!(t.kills.contains(&old));
    let launched = t.tick();
    assert_eq!(launched.len(), 1, "the kill landed: the slot is free");
    assert_eq!(launched[0].job, second);
}
