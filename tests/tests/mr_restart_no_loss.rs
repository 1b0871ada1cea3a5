//! Restart without loss (issue 11): a job tracker killed with `kill -9` during a job's maps,
//! during its reduces or in the middle of its commit starts again and the job goes on from its
//! journal: `mrctl submit --wait` and `mrctl job wait` ride out the outage and exit 0, maps
//! finished before the kill on workers still alive do not run again, and the output is
//! byte-identical to an undisturbed run of the same job. Restarting one daemon of a cluster
//! never stops the others, even when the cluster is slow to become healthy again.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use cluster::LocalCluster;
use common::jobs::{JobReport, JobState, JOB_COUNTERS};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tests::{job_binary, start, submit_wait, wait, words, TestCluster};

const MAPS: usize = 6;
const REDUCERS: &str = "3";

/// A cluster of four 2-slot workers and six small input files (one map each).
fn cluster() -> TestCluster {
    let tc = start(4, 2, |_| {});
    for i in 0..MAPS {
        let text = words(400, 300, i as u64 + 1);
        tc.dfs
            .write_file(
                &format!("/in/f{i}.txt"),
                text.as_bytes(),
                CreateOptions::default(),
            )
            .unwrap();
    }
    tc
}

/// Every file under `dir` (names starting `_` included), by path below `dir`, with its bytes.
fn tree(tc: &TestCluster, dir: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_string()];
    while let Some(d) = stack.pop() {
        for e in tc.dfs.list(&d).unwrap() {
            if e.is_dir {
                out.insert(format!("{}/", &e.path[dir.len()..]), Vec::new());
                stack.push(e.path);
            } else {
                out.insert(
                    e.path[dir.len()..].to_string(),
                    tc.dfs.read_file(&e.path).unwrap(),
                );
            }
        }
    }
    out
}

/// The undisturbed run the interrupted one must match, byte for byte.
fn reference(tc: &TestCluster, out: &str) -> BTreeMap<String, Vec<u8>> {
    let r = submit_wait(tc, "faultyjob", &["/in", out, "--reducers", REDUCERS]);
    assert!(r.ok, "the undisturbed run failed: {}", r.stderr);
    tree(tc, out)
}

/// `mrctl ARGS` started in the background.
fn mrctl_child(tc: &TestCluster, args: &[&str]) -> Child {
    Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(tc.cluster.client_config_path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `mrctl submit faultyjob --wait -- /in OUT --reducers 3 EXTRA...` in the background, and the
/// id of the job it submitted.
fn submit_in_background(tc: &TestCluster, out: &str, extra: &[&str]) -> (Child, String) {
    let bin = job_binary("faultyjob");
    let mut args = vec!["submit", bin.as_str(), "--wait", "--", "/in", out];
    args.extend_from_slice(&["--reducers", REDUCERS]);
    args.extend_from_slice(extra);
    let child = mrctl_child(tc, &args);
    let jobs = tc.cluster.job_client().unwrap();
    let id = wait(Duration::from_secs(60), "the job to be submitted", || {
        jobs.list()
            .ok()?
            .into_iter()
            .find(|r| r.state == JobState::Running)
            .map(|r| r.id.to_string())
    });
    (child, id)
}

/// Waits for a background `mrctl` and asserts it exited 0.
fn exits_ok(child: Child, what: &str) -> String {
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success(),
        "{what} exited {:?}\nstdout: {stdout}\nstderr: {stderr}",
        o.status
    );
    stdout
}

fn report(tc: &TestCluster, id: &str) -> Option<JobReport> {
    tc.cluster.job_client().ok()?.job(id).ok()
}

/// `kill -9` of the job tracker, then a start of the same job tracker.
fn crash_and_restart_job_tracker(tc: &TestCluster) {
    tc.cluster.kill("jobtracker").unwrap();
    tc.cluster.start("jobtracker").unwrap();
}

#[test]
fn killed_during_the_maps_the_job_goes_on_and_finished_maps_do_not_run_again() {
    let tc = cluster();
    let want = reference(&tc, "/ref");
    // Map 0's first attempt takes ten minutes (and gets no speculative twin): the kill comes
    // once the other maps are done.
    let (child, id) = submit_in_background(
        &tc,
        "/out",
        &["--slow-first-attempt", "0:600000", "--no-speculation"],
    );
    wait(
        Duration::from_secs(120),
        "every map but map 0 to finish",
        || {
            let r = report(&tc, &id)?;
            (r.stages[0].maps_done as usize == MAPS - 1).then_some(())
        },
    );

    crash_and_restart_job_tracker(&tc);
    let waiter = mrctl_child(&tc, &["job", "wait", &id]);

    exits_ok(child, "mrctl submit --wait");
    exits_ok(waiter, "mrctl job wait");
    let r = report(&tc, &id).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    // Launched by the restarted job tracker: map 0 again (never the five done on live workers).
    assert_eq!(
        r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_MAPS"),
        1,
        "maps launched after the restart: only map 0 had not finished"
    );
    assert_eq!(
        tree(&tc, "/out"),
        want,
        "the output differs from an undisturbed run"
    );
}

#[test]
fn killed_during_the_reduces_the_job_goes_on_without_running_a_map_again() {
    let tc = cluster();
    let want = reference(&tc, "/ref");
    // Every reduce's first attempt takes ten minutes: the kill comes while they run.
    let (child, id) = submit_in_background(
        &tc,
        "/out",
        &["--slow-first-reduce", "600000", "--no-speculation"],
    );
    wait(
        Duration::from_secs(120),
        "the maps to finish and the reduces to run",
        || {
            let r = report(&tc, &id)?;
            let s = &r.stages[0];
            let reduces = r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_REDUCES");
            (s.maps_done as usize == MAPS && reduces >= 3).then_some(())
        },
    );
    let waiter = mrctl_child(&tc, &["job", "wait", &id]);

    crash_and_restart_job_tracker(&tc);

    exits_ok(child, "mrctl submit --wait");
    exits_ok(waiter, "mrctl job wait");
    let r = report(&tc, &id).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert_eq!(
        r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_MAPS"),
        0,
        "every map had finished on a live worker: none runs again"
    );
    assert!(r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_REDUCES") >= 3);
    assert_eq!(
        tree(&tc, "/out"),
        want,
        "the output differs from an undisturbed run"
    );
}

#[test]
fn killed_in_the_middle_of_the_commit_the_output_is_committed_exactly_once() {
    let tc = cluster();
    let want = reference(&tc, "/ref");
    // This job tracker pauses after each file its commits move.
    tc.cluster.kill("jobtracker").unwrap();
    tc.cluster
        .start_with_env("jobtracker", &[("MR_TEST_COMMIT_PAUSE_MS", "3000")])
        .unwrap();
    wait(Duration::from_secs(60), "the workers to join again", || {
        let n = tc.cluster.job_client().ok()?.workers().ok()?.len();
        (n == 4).then_some(())
    });

    let (child, id) = submit_in_background(&tc, "/out", &[]);
    wait(
        Duration::from_secs(120),
        "the commit to have moved a file",
        || {
            let moved = tc.dfs.list("/out").ok()?;
            moved
                .iter()
                .any(|f| !f.is_dir && f.path.contains("part-"))
                .then_some(())
        },
    );
    assert!(
        !tc.dfs.exists("/out/_SUCCESS").unwrap(),
        "the kill must come before the commit ends"
    );

    crash_and_restart_job_tracker(&tc);

    exits_ok(child, "mrctl submit --wait");
    let r = report(&tc, &id).unwrap();
    assert_eq!(r.state, JobState::Succeeded, "{:?}", r.error);
    assert_eq!(
        r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_MAPS")
            + r.counters.get(JOB_COUNTERS, "TOTAL_LAUNCHED_REDUCES"),
        0,
        "every task had succeeded: the restart only finishes the commit"
    );
    assert_eq!(
        tree(&tc, "/out"),
        want,
        "the output differs from an undisturbed run"
    );
}

#[test]
fn restarting_one_daemon_of_a_cluster_slow_to_become_healthy_stops_no_other() {
    let tc = start(2, 1, |_| {});
    // Frozen: the namenode soon counts it dead, so the cluster cannot become healthy.
    tc.cluster.send_signal("datanode-0", libc::SIGSTOP).unwrap();
    wait(
        Duration::from_secs(60),
        "the namenode to stop counting datanode-0 live",
        || {
            let r = tc.dfs.cluster_report().ok()?;
            let live = r.datanodes.iter().filter(|d| d.state == "live").count();
            (live < 2).then_some(())
        },
    );
    tc.cluster.kill("jobtracker").unwrap();

    let restarted = LocalCluster::up_within(
        &tc.cluster.dir,
        tc.cluster.spec.clone(),
        Duration::from_secs(8),
    );
    let e = restarted.expect_err("a frozen datanode keeps the cluster unhealthy");
    assert!(e.to_string().contains("left running"), "{e}");
    for d in tc.cluster.daemons() {
        assert!(
            tc.cluster.pid(&d).is_some(),
            "{d} was stopped by a restart that timed out: {e}"
        );
    }
    tc.cluster.send_signal("datanode-0", libc::SIGCONT).unwrap();
    tc.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
}
