//! Jobs under security, with real daemons: a worker's shuffle port serves a map output only to a
//! request signed with its job's key (a raw fetch with no tag, or one signed with another job's
//! key, is refused), and a proper job still completes with the right output.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::auth::{job_key, ClusterSecret};
use common::config::ConfigFile;
use common::ids::{AttemptId, JobId};
use common::jobs::{JobState, TaskCredentials};
use common::map_output::{index_path, read_index};
use common::shuffle::{self, FetchRequest, MAP_OUTPUT_FILE};
use std::time::Duration;
use tests::{count_words, read_counts, start, submit_no_wait, wait, words, TestCluster};

/// Sends one fetch to a shuffle server over raw TCP: the segment's length, or the server's
/// error.
fn fetch(addr: &str, req: &FetchRequest) -> Result<u64, String> {
    let mut conn = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    shuffle::write_request(&mut conn, req).map_err(|e| e.to_string())?;
    shuffle::read_reply_header(&mut conn).map_err(|e| e.to_string())
}

/// Worker `i`'s shuffle address and local dir, from its config file.
fn worker(tc: &TestCluster, i: usize) -> (String, std::path::PathBuf) {
    let file = ConfigFile::load(&tc.cluster.dir.join(format!("worker-{i}.toml"))).unwrap();
    let w = file.worker.unwrap();
    (format!("{}:{}", w.host, w.shuffle_port), w.local_dir)
}

/// Credentials signing with `job`'s key under the cluster's secret.
fn key_of(secret: &ClusterSecret, job: &str) -> TaskCredentials {
    let key_id = secret.current_id();
    TaskCredentials {
        token: String::new(),
        key_id,
        job_key: job_key::job_key(secret, key_id, job).unwrap(),
    }
}

#[test]
fn a_shuffle_fetch_not_signed_with_the_jobs_key_is_refused_and_the_job_still_completes() {
    let tc = start(2, 1, |_| {});
    let text = words(3_000, 400, 11);
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    // The reduce waits before fetching, so the map output stays on its worker meanwhile.
    let id = submit_no_wait(
        &tc,
        "faultyjob",
        &[
            "/in",
            "/out",
            "--reducers",
            "1",
            "--no-speculation",
            "--slow-first-reduce",
            "20000",
        ],
    );
    let (addr, attempt) = wait(Duration::from_secs(90), "a finished map output", || {
        (0..2).find_map(|i| {
            let (addr, local) = worker(&tc, i);
            let dir = local.join("jobs").join(&id);
            std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
                let out = e.path().join(MAP_OUTPUT_FILE);
                read_index(&index_path(&out)).ok()?;
                Some((addr.clone(), e.file_name().to_string_lossy().into_owned()))
            })
        })
    });
    let secret = ClusterSecret::load(&tc.cluster.secret_path()).unwrap();
    let req = |c: Option<&TaskCredentials>| {
        FetchRequest::new(JobId(id.clone()), AttemptId(attempt.clone()), 0, c)
    };

    let unsigned = fetch(&addr, &req(None)).expect_err("an unsigned fetch is served");
    assert!(unsigned.contains("refused"), "{unsigned}");
    let other = key_of(&secret, "job_1_9999");
    let foreign = fetch(&addr, &req(Some(&other))).expect_err("another job's key is served");
    assert!(foreign.contains("refused"), "{foreign}");
    // A tag that signed other bytes (another partition) does not carry over.
    let mine = key_of(&secret, &id);
    let mut moved = req(Some(&mine));
    moved.partition = 1;
    assert!(fetch(&addr, &moved).unwrap_err().contains("refused"));
    // The job's own key is served: the refusals above were for the signature alone.
    fetch(&addr, &req(Some(&mine))).expect("the job's own fetch");

    let jobs = tc.cluster.job_client().unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
}
