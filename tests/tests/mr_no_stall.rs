//! Never stall, with real processes: four 1-slot workers, three reducers started early (slow
//! start 0) holding three slots while the last map runs on the fourth worker; that worker is
//! killed with SIGKILL. A reducer is preempted so the map runs again, and the job succeeds
//! with the right output well before any worker comes back.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::jobs::{JobState, JOB_COUNTERS};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::{count_words, read_counts, start, wait, words};

/// The attempt logs (file names) a worker's local dir holds for a job.
fn attempt_logs(worker_dir: &Path, job: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(worker_dir.join("logs").join(job)) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn reducers_holding_every_slot_are_preempted_when_a_killed_worker_s_map_must_run_again() {
    let tc = start(4, 1, |s| {
        s.worker.slots = 1;
        s.jobtracker.reduce_slow_start = 0.0;
    });
    let mut all = String::new();
    for i in 0..5 {
        let text = words(300, 500, 7 + i as u64);
        tc.dfs
            .write_file(
                &format!("/in/f{i}.txt"),
                text.as_bytes(),
                CreateOptions::default(),
            )
            .unwrap();
        all.push_str(&text);
    }
    // Map 0's first attempt takes long: the other maps end and the reducers take their slots.
    let id = tests::submit_no_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/out",
            "--reducers",
            "3",
            "--slow-first-attempt",
            "0:60000",
        ],
    );
    let workers: Vec<PathBuf> = (0..4)
        .map(|i| tc.cluster.dir.join(format!("worker-{i}")))
        .collect();

    // Wait until map 0 runs on one worker and the three reducers on the three others.
    let slow = wait(
        Duration::from_secs(60),
        "reducers on every other worker",
        || {
            let logs: Vec<Vec<String>> = workers.iter().map(|w| attempt_logs(w, &id)).collect();
            let slow = logs
                .iter()
                .position(|l| l.iter().any(|f| f.contains("_m_000000_0")))?;
            let reducers = logs
                .iter()
                .enumerate()
                .filter(|(i, l)| *i != slow && l.iter().any(|f| f.contains("_r_")))
                .count();
            (reducers == 3).then_some(slow)
        },
    );
    let jobs = tc.cluster.job_client().unwrap();
    let before = jobs.job(&id).unwrap();
    assert_eq!(before.state, JobState::Running);
    assert!(before.stages[0].maps_done < before.stages[0].maps);
    tc.cluster.kill(&format!("worker-{slow}")).unwrap();

    let r = wait(Duration::from_secs(60), "the job to end", || {
        let r = jobs.job(&id).ok()?;
        r.state.is_over().then_some(r)
    });
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert!(
        r.counters.get(JOB_COUNTERS, "NUM_KILLED_REDUCES") >= 1,
        "a reducer was preempted: {:?}",
        r.counters
    );
    assert_eq!(r.counters.get(JOB_COUNTERS, "NUM_FAILED_REDUCES"), 0);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&all));
}
