//! Jobs through `mrctl submit` on a real cluster: wordcount against a direct count, locality,
//! terasort through teravalidate, refusals at submit time, history across a job tracker
//! restart.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::time::Duration;
use tests::{count_words, mrctl, read_counts, start, submit_wait, words};

#[test]
fn wordcount_matches_a_direct_count_runs_maps_next_to_their_data_and_is_remembered() {
    let tc = start(4, 2, |_| {});
    let mut all = String::new();
    for (i, seed) in [11u64, 12, 13].iter().enumerate() {
        let text = words(40_000, 5_000, *seed);
        tc.dfs
            .write_file(
                &format!("/in/part{i}.txt"),
                text.as_bytes(),
                CreateOptions::default(),
            )
            .unwrap();
        all.push_str(&text);
    }
    let r = submit_wait(&tc, "wordcount", &["/in", "/out", "--reducers", "3"]);
    assert!(r.ok, "wordcount failed: {}", r.stderr);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&all));
    assert!(tc.dfs.exists("/out/_SUCCESS").unwrap());
    let maps = r.counter("TOTAL_LAUNCHED_MAPS");
    assert!(maps >= 6, "one map per block: {}", r.stdout);
    assert!(
        r.counter("DATA_LOCAL_MAPS") * 2 >= maps,
        "most maps should run where their block is: {}",
        r.stdout
    );
    assert!(r.counter("COMBINE_OUTPUT_RECORDS") < r.counter("COMBINE_INPUT_RECORDS"));

    // The job tracker's history survives a crash.
    let id = r.job_id();
    tc.cluster.kill("jobtracker").unwrap();
    tc.cluster.start("jobtracker").unwrap();
    let jobs = tc.cluster.job_client().unwrap();
    let listed = tests::wait(Duration::from_secs(20), "the job tracker back", || {
        jobs.list().ok()
    });
    let job = listed.iter().find(|j| j.id == id).expect("job in history");
    assert_eq!(job.state, common::jobs::JobState::Succeeded);
    let out = mrctl(&tc, &["job", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&id) && text.contains("succeeded"), "{text}");
}

#[test]
fn terasort_output_passes_teravalidate_and_an_unsorted_input_does_not() {
    let tc = start(3, 2, |_| {});
    let r = submit_wait(
        &tc,
        "terasort",
        &["gen", "60000", "/tera/in", "--maps", "3"],
    );
    assert!(r.ok, "gen failed: {}", r.stderr);
    let size: u64 = tc
        .dfs
        .list_files("/tera/in")
        .unwrap()
        .iter()
        .map(|f| f.length)
        .sum();
    assert_eq!(size, 6_000_000);
    let r = submit_wait(
        &tc,
        "terasort",
        &["sort", "/tera/in", "/tera/out", "--reducers", "3"],
    );
    assert!(r.ok, "sort failed: {}", r.stderr);
    let r = submit_wait(
        &tc,
        "terasort",
        &[
            "validate",
            "/tera/out",
            "/tera/report",
            "--input",
            "/tera/in",
        ],
    );
    assert!(r.ok, "validate failed: {}", r.stderr);
    let report = String::from_utf8(tc.dfs.read_file("/tera/report/part-r-00000").unwrap()).unwrap();
    assert!(report.contains("records\t60000"), "{report}");
    assert!(report.contains("misordered\t0"), "{report}");

    // The generated input is not sorted: validating it fails, and says why.
    let r = submit_wait(
        &tc,
        "terasort",
        &["validate", "/tera/in", "/tera/bad", "--input", "/tera/in"],
    );
    assert!(!r.ok);
    assert!(r.stderr.contains("out of order"), "{}", r.stderr);
    assert!(
        !tc.dfs.exists("/tera/bad").unwrap(),
        "a failed job leaves no output"
    );
}

#[test]
fn bad_submissions_are_refused_at_submit_time_with_clear_errors() {
    let tc = start(2, 1, |_| {});
    tc.dfs
        .write_file("/in/a.txt", b"a b c\n", CreateOptions::default())
        .unwrap();
    tc.dfs.mkdirs("/exists").unwrap();
    let cases: [(&str, Vec<&str>, &str); 4] = [
        (
            "wordcount",
            vec!["/missing", "/o1"],
            "input path /missing of stage \"count\" does not exist",
        ),
        (
            "wordcount",
            vec!["/in", "/exists"],
            "output path /exists of stage \"count\" already exists",
        ),
        (
            "wordcount",
            vec!["/in", "/o2", "--reducers", "0"],
            "reducer count of 0",
        ),
        ("mrctl", vec!["/in", "/o3"], "is not a MapReduce job binary"),
    ];
    for (binary, args, expected) in cases {
        let r = submit_wait(&tc, binary, &args);
        assert!(!r.ok, "{binary} {args:?} was accepted");
        assert!(
            r.stderr.contains(expected),
            "{binary} {args:?}: expected {expected:?} in {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("submitted"),
            "nothing may run: {}",
            r.stderr
        );
    }
}
