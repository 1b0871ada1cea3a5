//! Jobs under security, with real daemons: a worker's shuffle port serves a map output only to a
//! request signed with its job's key (a raw fetch with no tag, or one signed with another job's
//! key, is refused), and a proper job still completes with the right output; a job's files are
//! its submitter's; only a job's owner, an admin of its queue or the superuser kills it or reads
//! its logs; a job's delegation token dies with its submitter's revoked token.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::auth::{job_key, ClusterSecret};
use common::config::ConfigFile;
use common::config::QueueConfig;
use common::ids::{AttemptId, JobId};
use common::jobs::{JobState, TaskCredentials};
use common::map_output::{index_path, read_index};
use common::shuffle::{self, FetchRequest, MAP_OUTPUT_FILE};
use common::transfer;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tests::{
    count_words, job_binary, read_counts, start, submit_no_wait, wait, words, TestCluster,
};

/// Runs `mrctl --config CONFIG ARGS` (a client config presenting one user's token).
fn mrctl_as(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Submits `faultyjob ARGS` as the user of `config` without waiting; the job id.
fn submit_as(config: &Path, args: &[&str]) -> String {
    let bin = job_binary("faultyjob");
    let mut all = vec!["submit", bin.as_str(), "--"];
    all.extend_from_slice(args);
    let o = mrctl_as(config, &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A client config for `user` (a new token), through the harness.
fn user(tc: &TestCluster, name: &str, groups: &[&str]) -> PathBuf {
    tc.cluster.client_config_for(name, groups).unwrap()
}

/// Sends one fetch to a shuffle server over raw TCP: the segment's length, or the server's
/// error.
fn fetch(tls: &common::tls::ClientTls, addr: &str, req: &FetchRequest) -> Result<u64, String> {
    let mut conn = transfer::connect_secure(addr, tls).map_err(|e| e.to_string())?;
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
    // Test users make their own top-level folders, as in a sticky /tmp.
    tc.dfs.set_permission("/", 0o1777).unwrap();
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
    let tls = tc.client_tls();
    let req = |c: Option<&TaskCredentials>| {
        FetchRequest::new(JobId(id.clone()), AttemptId(attempt.clone()), 0, c)
    };

    let unsigned = fetch(&tls, &addr, &req(None)).expect_err("an unsigned fetch is served");
    assert!(unsigned.contains("refused"), "{unsigned}");
    let other = key_of(&secret, "job_1_9999");
    let foreign = fetch(&tls, &addr, &req(Some(&other))).expect_err("another job's key is served");
    assert!(foreign.contains("refused"), "{foreign}");
    // A tag that signed other bytes (another partition) does not carry over.
    let mine = key_of(&secret, &id);
    let mut moved = req(Some(&mine));
    moved.partition = 1;
    assert!(fetch(&tls, &addr, &moved).unwrap_err().contains("refused"));
    // The job's own key is served: the refusals above were for the signature alone.
    fetch(&tls, &addr, &req(Some(&mine))).expect("the job's own fetch");

    let jobs = tc.cluster.job_client().unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
}

#[test]
fn only_the_owner_a_queue_admin_or_the_superuser_kill_a_job_or_read_its_logs() {
    let tc = start(2, 1, |s| {
        s.jobtracker.queues = vec![QueueConfig {
            admins: vec!["carol".into(), "@ops".into()],
            ..QueueConfig::named("default")
        }];
    });
    // Test users make their own top-level folders, as in a sticky /tmp.
    tc.dfs.set_permission("/", 0o1777).unwrap();
    tc.dfs
        .write_file(
            "/in/a.txt",
            words(400, 50, 3).as_bytes(),
            CreateOptions::default(),
        )
        .unwrap();
    let (alice, bob) = (user(&tc, "alice", &[]), user(&tc, "bob", &["staff"]));
    let (carol, dave) = (user(&tc, "carol", &[]), user(&tc, "dave", &["ops"]));
    // Slow jobs, so each is still running when the kills come.
    let slow = |out: &'static str| {
        let args = ["/in", out, "--sleep-per-line", "200", "--reducers", "1"];
        submit_as(&alice, &args)
    };
    let (a, b, c) = (slow("/o1"), slow("/o2"), slow("/o3"));
    let jobs = tc.cluster.job_client().unwrap();
    assert_eq!(
        jobs.job(&a).unwrap().user,
        "alice",
        "the job is its submitter's"
    );

    // Any authenticated user sees its status.
    let o = mrctl_as(&bob, &["job", "status", &a]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Bob may not kill it nor read its logs; the refusal names him, the action and the job.
    let o = mrctl_as(&bob, &["job", "kill", &a]);
    assert!(!o.status.success(), "bob killed alice's job");
    let e = stderr(&o);
    assert!(
        e.contains("permission denied")
            && e.contains("user=bob")
            && e.contains("kill")
            && e.contains(&a),
        "{e}"
    );
    let o = mrctl_as(&bob, &["job", "logs", &a]);
    assert!(!o.status.success(), "bob read alice's logs");
    assert!(stderr(&o).contains("user=bob"), "{}", stderr(&o));
    assert_eq!(jobs.job(&a).unwrap().state, JobState::Running);

    // A queue admin by name, one by group, and the owner may.
    for (who, id) in [(&carol, &a), (&dave, &b), (&alice, &c)] {
        let o = mrctl_as(who, &["job", "kill", id]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for id in [&a, &b, &c] {
        let r = jobs.wait(id, |_| {}).unwrap();
        assert_eq!(r.state, JobState::Killed, "{id}");
    }
    // The owner reads the logs (whatever the attempts wrote, the call is allowed).
    let o = mrctl_as(&alice, &["job", "logs", &a]);
    assert!(!stderr(&o).contains("permission denied"), "{}", stderr(&o));
}

#[test]
fn a_jobs_files_are_its_submitters_and_its_token_dies_with_the_submitters() {
    let tc = start(2, 1, |_| {});
    // Test users make their own top-level folders, as in a sticky /tmp.
    tc.dfs.set_permission("/", 0o1777).unwrap();
    let text = words(600, 80, 5);
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let alice = user(&tc, "alice", &[]);
    let id = submit_as(&alice, &["/in", "/out", "--reducers", "2"]);
    let jobs = tc.cluster.job_client().unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert_eq!(read_counts(&tc.dfs, "/out"), count_words(&text));
    for f in tc.dfs.list_files("/out").unwrap() {
        if f.path.contains("part-") {
            assert_eq!(f.owner, "alice", "{} is {}'s", f.path, f.owner);
        }
    }
    // What the job tracker made for the job at its commit is hers too, so she can remove it.
    for p in ["/out", "/out/_SUCCESS"] {
        assert_eq!(tc.dfs.stat(p).unwrap().owner, "alice", "{p}");
    }
    let o = mrctl_as(&alice, &["fs", "rm", "-r", "/out"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Alice's token is revoked while her job's reduce waits before writing its output: the
    // job's tasks lose the DFS with it.
    let slow = submit_as(
        &alice,
        &[
            "/in",
            "/out2",
            "--reducers",
            "1",
            "--slow-first-reduce",
            "15000",
            "--max-attempts",
            "2",
        ],
    );
    wait(
        Duration::from_secs(60),
        "the slow job's maps to finish",
        || {
            let r = jobs.job(&slow).ok()?;
            (r.stages[0].maps > 0 && r.stages[0].maps_done == r.stages[0].maps).then_some(())
        },
    );
    let token =
        std::fs::read_to_string(tc.cluster.dir.join("security").join("alice.token")).unwrap();
    let token_id = common::auth::token::unverified_id(&token)
        .unwrap()
        .to_string();
    let o = tests::mrctl(&tc, &["admin", "token", "revoke", &token_id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = jobs.wait(&slow, |_| {}).unwrap();
    assert_eq!(
        r.state,
        JobState::Failed,
        "the job went on after its user's token was revoked"
    );
    let error = r.error.unwrap_or_default();
    assert!(error.contains("revoked"), "{error}");
}

#[test]
fn bobs_job_cannot_read_alices_private_file() {
    let tc = start(2, 1, |_| {});
    tc.dfs.set_permission("/", 0o1777).unwrap();
    let alice = user(&tc, "alice", &[]);
    let bob = user(&tc, "bob", &[]);
    let local = tc.cluster.dir.join("secret.txt");
    std::fs::write(&local, words(50, 20, 9)).unwrap();
    for args in [
        vec!["fs", "mkdir", "/alice"],
        vec!["fs", "put", local.to_str().unwrap(), "/alice/secret.txt"],
        vec!["fs", "chmod", "600", "/alice/secret.txt"],
    ] {
        let o = mrctl_as(&alice, &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let bin = job_binary("faultyjob");
    let o = mrctl_as(
        &bob,
        &[
            "submit",
            &bin,
            "--wait",
            "--",
            "/alice/secret.txt",
            "/bobout",
            "--max-attempts",
            "1",
        ],
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "bob's job read alice's file: {err}");
    assert!(
        err.contains("permission denied")
            && err.contains("user=bob")
            && err.contains("/alice/secret.txt"),
        "{err}"
    );
    assert!(
        tc.dfs
            .list_files("/bobout")
            .map_or(true, |f| f.iter().all(|f| !f.path.contains("part-"))),
        "no output from a job that could not read its input"
    );
}
