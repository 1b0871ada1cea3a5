//! Task limits with real daemons: an attempt that makes no progress for its job's task timeout
//! is killed and retried (the job fails naming the timeout when every attempt hangs); an
//! attempt over its job's task memory is killed and fails naming the limit and its peak; a job
//! killed while its reduces write leaves no `_temporary` behind, so the next submit to that
//! output succeeds.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::jobs::JobState;
use std::time::Duration;
use tests::{
    all_paths, count_words, mrctl, read_counts, start, submit_no_wait, submit_wait, wait, words,
};

#[test]
fn a_hanging_attempt_is_timed_out_and_retried_and_a_job_that_always_hangs_fails_naming_it() {
    let tc = start(2, 1, |_| {});
    let text = "one two three\nfour five six\n";
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();

    // The first attempt of map 0 sleeps for ten minutes: timed out after 4 s, then retried.
    let r = submit_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/out",
            "--reducers",
            "1",
            "--slow-first-attempt",
            "0:600000",
            "--task-timeout-ms",
            "4000",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(r.counter("NUM_FAILED_MAPS"), 1, "{}", r.stdout);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(text));

    // Every attempt hangs on its first line: the job fails at its attempt limit, saying why.
    let r = submit_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/out2",
            "--sleep-per-line",
            "600000",
            "--task-timeout-ms",
            "3000",
            "--max-attempts",
            "2",
        ],
    );
    assert!(!r.ok, "every attempt hangs: the job must fail");
    assert!(
        r.stderr.contains("map 0 of stage \"count\" failed 2 times")
            && r.stderr.contains("timed out after 3 s without progress"),
        "{}",
        r.stderr
    );
    assert!(!tc.dfs.exists("/out2").unwrap());
}

#[test]
fn an_attempt_over_its_memory_limit_fails_naming_the_limit_and_one_under_it_runs() {
    let tc = start(2, 1, |_| {});
    let text = "alpha beta\ngamma\n";
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();

    let r = submit_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/big",
            "--allocate-mb",
            "400",
            "--task-memory-mb",
            "150",
            "--max-attempts",
            "2",
        ],
    );
    assert!(!r.ok, "400 MiB in a 150 MiB limit must fail");
    assert!(
        r.stderr.contains("failed 2 times")
            && r.stderr
                .contains("exceeded its memory limit of 150 MiB (peak "),
        "{}",
        r.stderr
    );
    assert!(!tc.dfs.exists("/big").unwrap());

    let r = submit_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/small",
            "--allocate-mb",
            "20",
            "--task-memory-mb",
            "400",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(read_counts(&tc.dfs, "/small"), count_words(text));
}

#[test]
fn a_job_killed_while_its_reduces_write_leaves_no_temporary_and_the_output_can_be_reused() {
    let tc = start(4, 2, |_| {});
    let text = words(4_000, 3_000, 11);
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let jobs = tc.cluster.job_client().unwrap();
    // Many short reduces: reduce attempts keep starting and creating their files, so some
    // are about to create theirs as the kill comes.
    let id = submit_no_wait(
        &tc,
        "faultyjob",
        &["/in", "/out", "--reducers", "200", "--sleep-per-key", "2"],
    );
    wait(Duration::from_secs(120), "reduces to be writing", || {
        let r = jobs.job(&id).ok()?;
        let writing = all_paths(&tc.dfs, "/out")
            .iter()
            .any(|p| p.contains("/_temporary/attempt_") && p.contains("/part-r-"));
        (r.stages[0].reduces_done >= 4 && writing).then_some(())
    });
    let o = mrctl(&tc, &["job", "kill", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, JobState::Killed);
    // Reported killed only once cleaned: nothing of the job is left, attempt files included.
    let left = all_paths(&tc.dfs, "/");
    assert!(
        !left.iter().any(|p| p.starts_with("/out")),
        "the killed job left {left:?}"
    );

    let r = submit_wait(&tc, "faultyjob", &["/in", "/out", "--reducers", "3"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
    assert!(!all_paths(&tc.dfs, "/out")
        .iter()
        .any(|p| p.contains("_temporary")));
}

#[test]
fn a_worker_failing_attempts_of_several_jobs_is_shown_excluded_and_comes_back() {
    let tc = start(1, 1, |s| {
        s.jobtracker.worker_exclusion_jobs = 2;
        s.jobtracker.worker_exclusion_ms = 8_000;
    });
    tc.dfs
        .write_file("/in/a.txt", b"fine\npoison\n", CreateOptions::default())
        .unwrap();
    for out in ["/o1", "/o2"] {
        let r = submit_wait(
            &tc,
            "faultyjob",
            &["/in", out, "--panic-on", "poison", "--max-attempts", "1"],
        );
        assert!(!r.ok, "the poison fails the job");
    }
    let text = String::from_utf8(mrctl(&tc, &["cluster", "report"]).stdout).unwrap();
    assert!(
        text.contains("Workers: 1 live, 1 excluded from scheduling")
            && text.contains("EXCLUDED until")
            && text.contains("attempts of 2 jobs failed here"),
        "{text}"
    );
    let o = mrctl(&tc, &["cluster", "report", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = &v["workers"][0];
    assert_eq!(w["excluded"], true, "{v}");
    assert!(w["excluded_until_ms"].as_u64().unwrap() > common::jobs::now_ms());
    assert!(w["excluded_reason"]
        .as_str()
        .unwrap()
        .contains("failed here"));
    // The only worker: a job still runs there rather than stall.
    let r = submit_wait(&tc, "faultyjob", &["/in", "/o3", "--reducers", "1"]);
    assert!(r.ok, "{}", r.stderr);
    // The exclusion ends on its own.
    wait(Duration::from_secs(60), "the worker to be back", || {
        let o = mrctl(&tc, &["cluster", "report", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["workers"][0]["excluded"] == false).then_some(())
    });
}
