//! A job tracker killed with `kill -9` while a job runs starts again (its recovery must not
//! block an async thread: it once exited with "Cannot block the current thread from within a
//! runtime"), answers for the interrupted job, and runs new jobs.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::jobs::JOB_COUNTERS;
use std::time::Duration;
use tests::{count_words, read_counts, start, submit_no_wait, submit_wait, wait, words};

#[test]
fn a_job_tracker_killed_while_a_job_runs_comes_back_and_runs_the_next_job() {
    let tc = start(3, 2, |_| {});
    let text = words(2_000, 300, 5);
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let id = submit_no_wait(
        &tc,
        "faultyjob",
        &["/in", "/slow", "--sleep-per-line", "1000"],
    );
    let jobs = tc.cluster.job_client().unwrap();
    wait(Duration::from_secs(60), "the job's maps to start", || {
        let r = jobs.job(&id).ok()?;
        (r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_MAPS") > 0).then_some(())
    });

    tc.cluster.kill("jobtracker").unwrap();
    tc.cluster.start("jobtracker").unwrap();

    let jobs = tc.cluster.job_client().unwrap();
    let back = wait(Duration::from_secs(30), "the job tracker to answer", || {
        jobs.job(&id).ok()
    });
    assert_eq!(back.id, id);
    let r = submit_wait(&tc, "wordcount", &["/in", "/out"]);
    assert!(r.ok, "a job after the restart failed: {}", r.stderr);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
}
