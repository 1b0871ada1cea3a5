//! Directory quotas through the real path (`mrctl admin quota`, real daemons, security on):
//! the name quota and the space quota refuse exactly past the limit, on create, mkdir, a new
//! block, a raised replication and a rename into the directory; they survive a namenode
//! restart; clearing lifts them; only superusers set them.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, TestCluster};

fn ok(t: &TestCluster, args: &[&str]) -> String {
    let out = mrctl(t, args);
    assert!(
        out.status.success(),
        "mrctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(t: &TestCluster, args: &[&str]) -> String {
    let out = mrctl(t, args);
    assert!(!out.status.success(), "mrctl {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn opts(replication: u32) -> CreateOptions {
    CreateOptions {
        replication,
        ..Default::default()
    }
}

#[test]
fn name_quota_refuses_the_name_past_the_limit_survives_a_restart_and_clears() {
    let t = start(1, 1, |_| {});
    ok(&t, &["fs", "mkdir", "/proj"]);
    let set = ok(&t, &["admin", "quota", "set", "/proj", "--names", "4"]);
    assert!(set.contains("name quota 4"), "{set}");
    // /proj itself is the first name; three more fit.
    ok(&t, &["fs", "mkdir", "/proj/a"]);
    t.dfs.write_file("/proj/a/f1", b"x", opts(1)).unwrap();
    t.dfs.write_file("/proj/f2", b"y", opts(1)).unwrap();
    let e = t
        .dfs
        .write_file("/proj/f3", b"z", opts(1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("name quota of /proj exceeded: 4 allowed, 5 would be used"),
        "{e}"
    );
    let e = refused(&t, &["fs", "mkdir", "-p", "/proj/b/c"]);
    assert!(
        e.contains("name quota of /proj exceeded: 4 allowed, 6 would be used"),
        "{e}"
    );
    let s = t.dfs.content_summary("/proj").unwrap();
    assert_eq!((s.name_quota, s.space_quota), (Some(4), None));
    assert_eq!(s.files + s.directories, 4);

    // Only a superuser sets quotas.
    let alice = t.cluster.client_config_for("alice", &["alice"]).unwrap();
    let out = mrctl_with(
        &alice,
        &[],
        &["admin", "quota", "set", "/proj", "--names", "9"],
    );
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("only superusers"), "{e}");

    // The quota is journaled: a restart keeps it and recounts the usage.
    t.cluster.kill("namenode").unwrap();
    t.cluster.start("namenode").unwrap();
    t.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    let dfs = t.cluster.client().unwrap();
    let e = dfs.write_file("/proj/f3", b"z", opts(1)).unwrap_err();
    assert!(
        e.to_string().contains("name quota of /proj exceeded"),
        "{e}"
    );
    // Deleting frees a name.
    ok(&t, &["fs", "rm", "/proj/f2"]);
    dfs.write_file("/proj/f3", b"z", opts(1)).unwrap();

    let cleared = ok(&t, &["admin", "quota", "clear", "/proj"]);
    assert!(cleared.contains("cleared"), "{cleared}");
    for i in 0..3 {
        dfs.write_file(&format!("/proj/more{i}"), b"m", opts(1))
            .unwrap();
    }
    let s = dfs.content_summary("/proj").unwrap();
    assert_eq!((s.name_quota, s.space_quota), (None, None));
}

#[test]
fn space_quota_counts_replicas_and_refuses_the_block_setrep_and_rename_past_it() {
    // 1 MiB blocks (the fast spec); two datanodes so replication 2 is real.
    let t = start(2, 1, |_| {});
    let mib = 1u64 << 20;
    ok(&t, &["fs", "mkdir", "/q", "/other"]);
    // Room for three block replicas... times two replicas: 6 MiB of 2x-replicated bytes.
    ok(&t, &["admin", "quota", "set", "/q", "--space", "6m"]);
    let s = t.dfs.content_summary("/q").unwrap();
    assert_eq!(s.space_quota, Some(6 * mib as i64));

    // Up to the limit: 2 MiB and 1 MiB at replication 2 = 6 MiB.
    let a = data(2 * mib as usize, 1);
    t.dfs.write_file("/q/a", &a, opts(2)).unwrap();
    t.dfs
        .write_file("/q/b", &data(mib as usize, 2), opts(2))
        .unwrap();
    // One more block, even of one byte, counts as a full block being written: refused.
    let e = t
        .dfs
        .write_file("/q/c", b"1", opts(2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("space quota of /q exceeded: 6 MiB allowed, 8 MiB would be used"),
        "{e}"
    );
    ok(&t, &["fs", "rm", "/q/c"]);

    // Raising a file's replication past the quota is refused; lowering it frees space.
    let e = refused(&t, &["fs", "setrep", "3", "/q/b"]);
    assert!(
        e.contains("space quota of /q exceeded: 6 MiB allowed, 7 MiB would be used"),
        "{e}"
    );
    ok(&t, &["fs", "setrep", "1", "/q/b"]);
    t.dfs.write_file("/q/d", b"1", opts(1)).unwrap();

    // Moving 1 MiB in from outside would exceed it; a move inside /q changes nothing.
    t.dfs
        .write_file("/other/big", &data(mib as usize, 3), opts(1))
        .unwrap();
    let e = refused(&t, &["fs", "mv", "/other/big", "/q/big"]);
    assert!(e.contains("space quota of /q exceeded"), "{e}");
    ok(&t, &["fs", "mkdir", "/q/sub"]);
    ok(&t, &["fs", "mv", "/q/a", "/q/sub/a"]);
    assert_eq!(t.dfs.read_file("/q/sub/a").unwrap(), a);

    // Raising the quota lets the move through.
    ok(&t, &["admin", "quota", "set", "/q", "--space", "1g"]);
    ok(&t, &["fs", "mv", "/other/big", "/q/big"]);
    ok(&t, &["admin", "quota", "clear", "/q", "--space"]);
    assert_eq!(t.dfs.content_summary("/q").unwrap().space_quota, None);
}
