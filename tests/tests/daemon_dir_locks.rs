//! Every daemon locks the directories it owns (`in_use.lock`, as HDFS's): a second namenode,
//! datanode, job tracker or worker on the same directory refuses to start naming the holder's
//! pid, and after a kill -9 of the holder the lock file left behind does not block.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::{start, TestCluster};

/// Runs a second copy of `daemon` on its config; it must exit (not serve) and say why.
fn second_copy_refused(t: &TestCluster, daemon: &str) -> String {
    let binary = daemon.split('-').next().unwrap();
    let mut child = Command::new(cluster::bin_dir().unwrap().join(binary))
        .arg("--config")
        .arg(t.cluster.dir.join(format!("{daemon}.toml")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(!status.success(), "a second {daemon} exited successfully");
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second {daemon} on the same directory kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_daemon_on_a_locked_directory_is_refused_and_a_killed_holder_does_not_block() {
    let t = start(1, 1, |_| {});
    for daemon in ["namenode", "datanode-0", "jobtracker", "worker-0"] {
        let pid = t.cluster.pid(daemon).unwrap();
        let e = second_copy_refused(&t, daemon);
        assert!(
            e.contains(&format!("is in use by pid {pid} (in_use.lock)"))
                && e.contains("stop that daemon or pick another directory"),
            "{daemon}: {e}"
        );
    }
    // The holder is still the one serving.
    t.dfs.mkdirs("/still/here").unwrap();

    // kill -9 leaves the lock file; the kernel released the lock, so a new one starts.
    let meta = t.cluster.dir.join("namenode");
    t.cluster.kill("namenode").unwrap();
    t.cluster.kill("datanode-0").unwrap();
    assert!(meta.join("in_use.lock").exists());
    t.cluster.start("namenode").unwrap();
    t.cluster.start("datanode-0").unwrap();
    t.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    let dfs = t.cluster.client().unwrap();
    assert!(dfs.stat("/still/here").unwrap().is_dir);
    let pid = t.cluster.pid("namenode").unwrap();
    let held = std::fs::read_to_string(meta.join("in_use.lock")).unwrap();
    assert_eq!(held.trim(), pid.to_string(), "the new namenode's pid");
}
