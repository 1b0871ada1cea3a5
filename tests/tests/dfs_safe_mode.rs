//! Safe mode administration through `mrctl admin safemode` (real daemons, security on): get,
//! enter (it stays until leave), leave, wait; mutations refused while on, saying how to get
//! out; and the way out of a start-up safe mode a lost block holds on.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::process::{Command, Stdio};
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, wait, TestCluster};

fn run(t: &TestCluster, args: &[&str]) -> (bool, String, String) {
    let out = mrctl(t, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn enter_stays_until_leave_refuses_changes_and_wait_follows_it() {
    let t = start(1, 1, |_| {});
    let (ok, out, _) = run(&t, &["admin", "safemode", "get"]);
    assert!(ok && out.contains("Safe mode is OFF"), "{out}");

    // Entering and leaving take a superuser.
    let alice = t.cluster.client_config_for("alice", &["alice"]).unwrap();
    let out = mrctl_with(&alice, &[], &["admin", "safemode", "enter"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("may not enter safe mode"), "{e}");

    let (ok, out, err) = run(&t, &["admin", "safemode", "enter"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Safe mode is ON: entered manually by"),
        "{out}"
    );
    let (ok, _, err) = run(&t, &["fs", "mkdir", "/nope"]);
    assert!(!ok);
    assert!(
        err.contains("safe mode") && err.contains("mrctl admin safemode leave"),
        "{err}"
    );
    // A manual safe mode does not end by itself, though every block is reported: a wait
    // with a timeout runs out (exit 1) across several of the namenode's checks.
    let (ok, _, err) = run(&t, &["admin", "safemode", "wait", "--timeout", "3s"]);
    assert!(!ok);
    assert!(err.contains("safe mode is still ON after"), "{err}");

    // A waiter without a timeout returns once an administrator leaves.
    let waiter = Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(t.cluster.client_config_path())
        .args(["admin", "safemode", "wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, out, err) = run(&t, &["admin", "safemode", "leave"]);
    assert!(ok, "{err}");
    assert!(out.contains("Safe mode is OFF"), "{out}");
    let waited = waiter.wait_with_output().unwrap();
    assert!(waited.status.success());
    assert!(String::from_utf8_lossy(&waited.stdout).contains("Safe mode is OFF"));
    let (ok, _, err) = run(&t, &["fs", "mkdir", "/yes"]);
    assert!(ok, "{err}");
}

#[test]
fn leave_lets_rm_work_when_a_lost_block_holds_the_namenode_in_safe_mode() {
    let t = start(2, 1, |_| {});
    let one = CreateOptions {
        replication: 1,
        ..Default::default()
    };
    for i in 0..4 {
        t.dfs
            .write_file(&format!("/lost/f{i}"), &data(1000, i), one.clone())
            .unwrap();
    }
    // The only replica of f0 goes with its datanode; the namenode restarts without it.
    let loc = t.dfs.block_locations("/lost/f0").unwrap();
    let addr = loc.blocks[0].locations[0].data_addr.clone();
    let holder = t.datanode_index(&addr);
    t.cluster.kill(&format!("datanode-{holder}")).unwrap();
    t.cluster.kill("namenode").unwrap();
    t.cluster.start("namenode").unwrap();
    let out = wait(
        Duration::from_secs(60),
        "the other datanode to report",
        || {
            let (ok, out, _) = run(&t, &["admin", "safemode", "get"]);
            (ok && out.contains("1 datanodes live")).then_some(out)
        },
    );
    assert!(
        out.contains("Safe mode is ON") && out.contains("blocks have a reported replica"),
        "{out}"
    );
    let (ok, _, err) = run(&t, &["fs", "rm", "/lost/f0"]);
    assert!(!ok);
    assert!(err.contains("safe mode"), "{err}");

    let (ok, out, err) = run(&t, &["admin", "safemode", "leave"]);
    assert!(ok && out.contains("Safe mode is OFF"), "{out}{err}");
    let (ok, _, err) = run(&t, &["fs", "rm", "/lost/f0"]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&t, &["admin", "safemode", "wait", "--timeout", "5s"]);
    assert!(ok && out.contains("OFF"), "{out}");
}
