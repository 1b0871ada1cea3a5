//! The engine under faults, with real processes: a worker killed with SIGKILL mid-job, a
//! mapper that panics, a straggler that gets a speculative twin (and maps that only look
//! slow next to a tiny split get none), a reduce partition larger than the reduce memory.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::time::Duration;
use tests::{
    all_paths, count_words, mrctl, read_counts, start, submit_wait, wait, words, TestCluster,
};

/// Writes `files` text files of `lines` lines in small blocks (many splits); returns the text.
fn input(tc: &TestCluster, files: usize, lines: usize, vocab: usize, block: u64) -> String {
    let mut all = String::new();
    for i in 0..files {
        let text = words(lines, vocab, 100 + i as u64);
        let opts = CreateOptions {
            block_size: block,
            ..Default::default()
        };
        tc.dfs
            .write_file(&format!("/in/f{i}.txt"), text.as_bytes(), opts)
            .unwrap();
        all.push_str(&text);
    }
    all
}

#[test]
fn a_worker_killed_mid_job_leaves_the_output_unchanged() {
    let tc = start(4, 2, |_| {});
    let all = input(&tc, 2, 3_000, 2_000, 64 << 10);
    let jobs = tc.cluster.job_client().unwrap();
    let id = tests::submit_no_wait(
        &tc,
        "faultyjob",
        &["/in", "/out", "--sleep-per-line", "1", "--reducers", "3"],
    );
    // Kill a worker once some maps are done and the rest still run.
    wait(Duration::from_secs(60), "maps to finish", || {
        let r = jobs.job(&id).ok()?;
        (r.stages[0].maps_done >= 2).then_some(())
    });
    tc.cluster.kill("worker-1").unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, common::jobs::JobState::Succeeded, "{:?}", r.error);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&all));
}

#[test]
fn a_panicking_mapper_fails_the_job_naming_the_task_and_the_panic_leaving_no_output() {
    let tc = start(2, 1, |_| {});
    tc.dfs
        .write_file(
            "/in/a.txt",
            b"fine words\nthen poison here\n",
            CreateOptions::default(),
        )
        .unwrap();
    let r = submit_wait(&tc, "faultyjob", &["/in", "/out", "--panic-on", "poison"]);
    assert!(!r.ok, "the job should fail");
    assert!(
        r.stderr.contains("map 0 of stage \"count\" failed 4 times"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("found the poison word"), "{}", r.stderr);
    assert!(r.stderr.contains("/in/a.txt at offset 11"), "{}", r.stderr);
    assert!(
        !tc.dfs.exists("/out").unwrap(),
        "no partial output may remain"
    );
    // The attempts' logs hold the panic too.
    let logs = mrctl(&tc, &["job", "logs", &r.job_id()]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("poison"));
}

#[test]
fn a_straggler_gets_a_speculative_twin_and_only_the_winner_s_output_is_kept() {
    let tc = start(3, 1, |_| {});
    let all = input(&tc, 1, 4_000, 500, 32 << 10);
    let r = submit_wait(
        &tc,
        "faultyjob",
        &["/in", "/out", "--slow-first-attempt", "0:30000"],
    );
    assert!(r.ok, "{}", r.stderr);
    assert!(r.counter("SPECULATIVE_ATTEMPTS") >= 1, "{}", r.stdout);
    assert!(
        r.counter("NUM_KILLED_MAPS") >= 1,
        "the straggler is killed: {}",
        r.stdout
    );
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&all));
    assert_eq!(
        all_paths(&tc.dfs, "/out"),
        ["/out/_SUCCESS", "/out/part-r-00000", "/out/part-r-00001"]
    );
}

#[test]
fn a_small_last_split_does_not_make_the_other_maps_look_like_stragglers() {
    let tc = start(3, 1, |_| {});
    // Two full 32 KiB splits of slow lines, then a split of one short line that ends at once.
    let block = 32 << 10;
    let mut text = words(3_000, 500, 9)[..2 * block - 1].to_string();
    text.push('\n');
    text.push_str("tail words\n");
    let opts = CreateOptions {
        block_size: block as u64,
        ..Default::default()
    };
    tc.dfs
        .write_file("/in/f.txt", text.as_bytes(), opts)
        .unwrap();
    let r = submit_wait(&tc, "faultyjob", &["/in", "/out", "--sleep-per-line", "4"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(r.counter("TOTAL_LAUNCHED_MAPS"), 3, "{}", r.stdout);
    assert_eq!(r.counter("SPECULATIVE_ATTEMPTS"), 0, "{}", r.stdout);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
}

#[test]
fn a_reduce_partition_larger_than_the_reduce_memory_completes() {
    let tc = start(2, 1, |_| {});
    // Mostly distinct words: the combiner cannot shrink them below the 1 MiB budget.
    let all = input(&tc, 2, 40_000, 2_000_000, 1 << 20);
    let r = submit_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/out",
            "--reducers",
            "1",
            "--reduce-memory-mb",
            "1",
            "--sort-buffer-mb",
            "1",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert!(r.counter("REDUCE_SHUFFLE_BYTES") > 1 << 20, "{}", r.stdout);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&all));
}
