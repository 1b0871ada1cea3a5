//! Snapshots against real daemons with security on: a snapshot keeps deleted, overwritten and
//! renamed files readable at DIR/.snapshot/NAME across a checkpoint and a namenode kill -9; its
//! diff report reads as HDFS's; everything under .snapshot is read-only; deleting the snapshot
//! makes the datanodes delete the blocks only it held. Only the superuser allows snapshots,
//! only a directory's owner takes them, and a snapshot is read with the permissions it recorded.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, replica_files, start, wait, TestCluster};

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The command failed and its error says `why`.
fn fails(o: Output, what: &str, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{what} should fail");
    assert!(err.contains(why), "{what}: '{why}' missing from: {err}");
}

fn write(tc: &TestCluster, path: &str, bytes: &[u8]) {
    tc.dfs
        .write_file(path, bytes, CreateOptions::default())
        .unwrap();
}

fn block_of(tc: &TestCluster, path: &str) -> u64 {
    let l = tc.dfs.block_locations(path).unwrap();
    l.blocks[0].block.as_ref().unwrap().id
}

/// Replica files of `block` on every datanode.
fn replicas(tc: &TestCluster, datanodes: usize, block: u64) -> usize {
    (0..datanodes)
        .map(|i| replica_files(&tc.data_dirs(i), block).len())
        .sum()
}

fn images(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("image_"))
        .collect()
}

#[test]
fn a_snapshot_keeps_old_files_across_a_crash_until_it_is_deleted() {
    let tc = start(2, 1, |s| s.namenode.checkpoint_txns = 10);
    let (a, b, b2, d) = (data(3000, 1), data(2000, 2), data(500, 3), data(100, 4));
    ok(mrctl(&tc, &["fs", "mkdir", "/proj"]), "mkdir");
    write(&tc, "/proj/a", &a);
    write(&tc, "/proj/b", &b);
    write(&tc, "/proj/d", &d);
    let (block_a, block_b) = (block_of(&tc, "/proj/a"), block_of(&tc, "/proj/b"));
    fails(
        mrctl(&tc, &["fs", "snapshot", "create", "/proj", "s1"]),
        "a snapshot of a directory not snapshottable",
        "not a snapshottable directory",
    );
    ok(mrctl(&tc, &["admin", "allow-snapshot", "/proj"]), "allow");
    let made = ok(
        mrctl(&tc, &["fs", "snapshot", "create", "/proj", "s1"]),
        "create",
    );
    assert!(made.contains("/proj/.snapshot/s1"), "{made}");

    // After the snapshot: a delete, an overwrite, a new file, a rename.
    tc.dfs.delete("/proj/a", false).unwrap();
    tc.dfs.delete("/proj/b", false).unwrap();
    write(&tc, "/proj/b", &b2);
    write(&tc, "/proj/c", b"new");
    ok(mrctl(&tc, &["fs", "mv", "/proj/d", "/proj/e"]), "mv");

    let check = |tc: &TestCluster| {
        let dfs = &tc.dfs;
        assert!(
            dfs.read_file("/proj/.snapshot/s1/a").unwrap() == a,
            "a as of s1"
        );
        assert!(
            dfs.read_file("/proj/.snapshot/s1/b").unwrap() == b,
            "b as of s1"
        );
        assert!(
            dfs.read_file("/proj/.snapshot/s1/d").unwrap() == d,
            "d as of s1"
        );
        assert!(dfs.read_file("/proj/b").unwrap() == b2, "b now");
        let cat = mrctl(tc, &["fs", "cat", "/proj/.snapshot/s1/d"]);
        assert!(
            cat.status.success() && cat.stdout == d,
            "cat of a snapshot's file"
        );
        let ls = ok(mrctl(tc, &["fs", "ls", "/proj/.snapshot"]), "ls .snapshot");
        assert!(ls.contains("/proj/.snapshot/s1"), "{ls}");
        let ls = ok(mrctl(tc, &["fs", "ls", "/proj/.snapshot/s1"]), "ls s1");
        for name in ["/a", "/b", "/d"] {
            assert!(ls.contains(&format!("/proj/.snapshot/s1{name}")), "{ls}");
        }
        assert!(!ls.contains("/proj/.snapshot/s1/c"), "c came later: {ls}");
        let sum = dfs.content_summary("/proj/.snapshot/s1").unwrap();
        assert_eq!((sum.files, sum.length), (3, 5100));
    };
    check(&tc);

    let diff = ok(
        mrctl(&tc, &["fs", "snapshot", "diff", "/proj", "s1", "."]),
        "diff",
    );
    for line in [
        "M\t.",
        "-\t./a",
        "-\t./b",
        "+\t./b",
        "+\t./c",
        "R\t./d -> ./e",
    ] {
        assert!(diff.lines().any(|l| l == line), "'{line}' missing: {diff}");
    }

    for (args, what) in [
        (
            &["fs", "mkdir", "/proj/.snapshot/x"][..],
            "mkdir in .snapshot",
        ),
        (&["fs", "rm", "/proj/.snapshot/s1/b"], "rm in a snapshot"),
        (
            &["fs", "mv", "/proj/.snapshot/s1/b", "/proj/z"],
            "mv out of a snapshot",
        ),
        (
            &["fs", "chmod", "777", "/proj/.snapshot/s1/b"],
            "chmod in a snapshot",
        ),
    ] {
        fails(mrctl(&tc, args), what, "snapshots are read-only");
    }
    assert!(
        tc.dfs
            .write_file("/proj/.snapshot/s1/new", b"x", CreateOptions::default())
            .unwrap_err()
            .to_string()
            .contains("snapshots are read-only"),
        "a write under .snapshot"
    );
    fails(
        mrctl(&tc, &["admin", "disallow-snapshot", "/proj"]),
        "disallow with snapshots",
        "delete them",
    );
    fails(
        mrctl(&tc, &["fs", "rm", "-r", "-skipTrash", "/proj"]),
        "deleting a directory with snapshots",
        "has snapshots",
    );

    // A checkpoint with the snapshot state in it, then kill -9: image plus replay.
    let meta = tc.cluster.dir.join("namenode");
    let before = images(&meta);
    for i in 0..12 {
        tc.dfs.mkdirs(&format!("/pad/{i}")).unwrap();
    }
    wait(Duration::from_secs(60), "a new checkpoint", || {
        (images(&meta) != before).then_some(())
    });
    ok(
        mrctl(&tc, &["fs", "snapshot", "rename", "/proj", "s1", "first"]),
        "rename",
    );
    tc.cluster.kill("namenode").unwrap();
    tc.cluster.start("namenode").unwrap();
    tc.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    let dfs = tc.cluster.client().unwrap();
    assert!(dfs.read_file("/proj/.snapshot/first/a").unwrap() == a);
    assert!(dfs.read_file("/proj/.snapshot/first/b").unwrap() == b);
    assert!(replicas(&tc, 2, block_a) > 0);

    ok(
        mrctl(&tc, &["fs", "snapshot", "delete", "/proj", "first"]),
        "delete",
    );
    wait(
        Duration::from_secs(60),
        "the datanodes deleting the blocks only the snapshot held",
        || (replicas(&tc, 2, block_a) + replicas(&tc, 2, block_b) == 0).then_some(()),
    );
    assert!(dfs.read_file("/proj/.snapshot/first/a").is_err());
    assert!(dfs.read_file("/proj/e").unwrap() == d, "live files stay");
    ok(
        mrctl(&tc, &["admin", "disallow-snapshot", "/proj"]),
        "disallow",
    );
}

#[test]
fn only_the_superuser_allows_and_only_the_owner_takes_snapshots() {
    let tc = start(1, 1, |_| {});
    let alice = tc.cluster.client_config_for("alice", &["alice"]).unwrap();
    let bob = tc.cluster.client_config_for("bob", &["bob"]).unwrap();
    ok(mrctl(&tc, &["fs", "mkdir", "-p", "/user/alice"]), "mkdir");
    ok(
        mrctl(&tc, &["fs", "chown", "alice:alice", "/user/alice"]),
        "chown",
    );
    let as_alice = |args: &[&str]| mrctl_with(&alice, &[], args);
    let as_bob = |args: &[&str]| mrctl_with(&bob, &[], args);

    fails(
        as_alice(&["admin", "allow-snapshot", "/user/alice"]),
        "allow by a user",
        "superuser",
    );
    ok(
        mrctl(&tc, &["admin", "allow-snapshot", "/user/alice"]),
        "allow",
    );
    fails(
        mrctl(&tc, &["admin", "allow-snapshot", "/user"]),
        "a snapshottable ancestor",
        "may not nest",
    );

    let local = tempfile::tempdir().unwrap();
    let f = local.path().join("f");
    std::fs::write(&f, "alice's secret").unwrap();
    ok(
        as_alice(&["fs", "put", f.to_str().unwrap(), "/user/alice/f"]),
        "put",
    );
    ok(
        as_alice(&["fs", "chmod", "600", "/user/alice/f"]),
        "chmod 600",
    );
    ok(
        as_alice(&["fs", "snapshot", "create", "/user/alice", "s1"]),
        "create by the owner",
    );
    fails(
        as_bob(&["fs", "snapshot", "create", "/user/alice", "s2"]),
        "create by another user",
        "permission denied",
    );
    fails(
        as_bob(&["fs", "snapshot", "delete", "/user/alice", "s1"]),
        "delete by another user",
        "permission denied",
    );
    let listed = ok(as_alice(&["fs", "snapshot", "list"]), "list");
    assert!(listed.contains("/user/alice"), "{listed}");
    let listed = ok(as_bob(&["fs", "snapshot", "list"]), "list");
    assert!(!listed.contains("/user/alice"), "{listed}");

    // Opened up now, but the snapshot recorded 600: bob reads the file, not its snapshot.
    ok(
        as_alice(&["fs", "chmod", "644", "/user/alice/f"]),
        "chmod 644",
    );
    let now = ok(as_bob(&["fs", "cat", "/user/alice/f"]), "cat now");
    assert_eq!(now, "alice's secret");
    fails(
        as_bob(&["fs", "cat", "/user/alice/.snapshot/s1/f"]),
        "bob reading the snapshot",
        "permission denied",
    );
    let old = ok(
        as_alice(&["fs", "cat", "/user/alice/.snapshot/s1/f"]),
        "alice reading the snapshot",
    );
    assert_eq!(old, "alice's secret");
}
