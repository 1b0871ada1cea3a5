//! The DFS cache of job binaries: a binary no job has used for the configured time is removed,
//! and submitting it again uploads it anew and runs.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::time::Duration;
use tests::{start, submit_wait, wait};

fn cached_binaries(tc: &tests::TestCluster) -> Vec<String> {
    match tc.dfs.list("/.mr/binaries") {
        Ok(entries) => entries.into_iter().map(|e| e.path).collect(),
        Err(client::ClientError::NotFound(_)) => Vec::new(),
        Err(e) => panic!("listing the binary cache: {e}"),
    }
}

#[test]
fn a_binary_no_job_used_for_the_ttl_is_removed_and_uploaded_again_on_the_next_submit() {
    let tc = start(3, 2, |s| s.jobtracker.binary_cache_ttl_ms = 2_000);
    tc.dfs
        .write_file("/in/a.txt", b"a b a\n", CreateOptions::default())
        .unwrap();

    let r = submit_wait(&tc, "wordcount", &["/in", "/out1"]);
    assert!(r.ok, "wordcount failed: {}", r.stderr);
    let cached = cached_binaries(&tc);
    assert_eq!(cached.len(), 1, "one binary cached: {cached:?}");

    // Unused for longer than the TTL: the job tracker's sweep removes it.
    wait(Duration::from_secs(30), "the unused binary removed", || {
        cached_binaries(&tc).is_empty().then_some(())
    });

    // The next submit of the same binary uploads it again and runs.
    let r = submit_wait(&tc, "wordcount", &["/in", "/out2"]);
    assert!(r.ok, "wordcount after the sweep failed: {}", r.stderr);
    assert!(tc.dfs.exists("/out2/_SUCCESS").unwrap());
}
