//! The trash (HDFS's TrashPolicyDefault): `rm` moves to `/user/NAME/.Trash/Current/<path>`,
//! `-skipTrash` and paths inside a trash delete at once, the namenode's emptier checkpoints and
//! deletes after the interval, `expunge` does it now, and an interval of 0 turns it off. Also
//! the home directories the harness and `mrctl admin token issue` make. Real daemons, security on.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, wait};

/// Runs mrctl as the user of `config`; its stdout, or a panic with its stderr.
fn ok(config: &Path, args: &[&str]) -> String {
    let o = mrctl_with(config, &[], args);
    assert!(
        o.status.success(),
        "mrctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn rm_moves_to_the_trash_and_mv_brings_it_back() {
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    // The harness made /user and /tmp, and alice's home with her token.
    let alice = t.cluster.client_config_for("alice", &["staff"]).unwrap();
    let home = t.dfs.stat("/user/alice").unwrap();
    assert_eq!(
        (home.owner.as_str(), home.group.as_str(), home.mode),
        ("alice", "staff", 0o755)
    );
    assert_eq!(t.dfs.stat("/tmp").unwrap().mode, 0o1777);

    let local = tempfile::NamedTempFile::new().unwrap();
    let bytes = data(50_000, 1);
    std::fs::write(local.path(), &bytes).unwrap();
    let src = local.path().to_str().unwrap();
    ok(&alice, &["fs", "put", src, "/user/alice/d/f"]);
    let out = ok(&alice, &["fs", "rm", "/user/alice/d/f"]);
    let trashed = "/user/alice/.Trash/Current/user/alice/d/f";
    assert_eq!(
        out.trim(),
        format!("Moved: '/user/alice/d/f' to trash at: {trashed}")
    );
    assert!(!t.dfs.exists("/user/alice/d/f").unwrap());
    assert_eq!(t.dfs.stat("/user/alice/.Trash").unwrap().mode, 0o700);
    ok(&alice, &["fs", "mv", trashed, "/user/alice/d/f"]);
    assert_eq!(t.dfs.read_file("/user/alice/d/f").unwrap(), bytes);

    // The same name twice: the second gets the time appended.
    ok(&alice, &["fs", "rm", "/user/alice/d/f"]);
    ok(&alice, &["fs", "put", src, "/user/alice/d/f"]);
    let out = ok(&alice, &["fs", "rm", "/user/alice/d/f"]);
    let second = out.trim().rsplit(' ').next().unwrap().to_string();
    assert!(
        second.starts_with(trashed) && second.len() > trashed.len(),
        "{out}"
    );
    assert_eq!(t.dfs.read_file(&second).unwrap(), bytes);

    // A directory needs -r; inside the trash, rm deletes.
    ok(&alice, &["fs", "put", src, "/user/alice/dir/g"]);
    let o = mrctl_with(&alice, &[], &["fs", "rm", "/user/alice/dir"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/user/alice/dir: Is a directory (use -r)"));
    ok(&alice, &["fs", "rm", "-r", "/user/alice/dir"]);
    assert!(t
        .dfs
        .exists("/user/alice/.Trash/Current/user/alice/dir/g")
        .unwrap());
    let out = ok(&alice, &["fs", "rm", &second]);
    assert_eq!(out.trim(), format!("Deleted {second}"));
    assert!(!t.dfs.exists(&second).unwrap());

    // -skipTrash deletes at once.
    ok(&alice, &["fs", "put", src, "/user/alice/h"]);
    let out = ok(&alice, &["fs", "rm", "-skipTrash", "/user/alice/h"]);
    assert_eq!(out.trim(), "Deleted /user/alice/h");
    assert!(!t
        .dfs
        .exists("/user/alice/.Trash/Current/user/alice/h")
        .unwrap());
    // Removing the home would remove the trash with it: refused, saying so.
    let o = mrctl_with(&alice, &[], &["fs", "rm", "-r", "/user/alice"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("contains the trash"));

    // expunge: Current becomes a checkpoint (kept: younger than a day); -immediate deletes it.
    let out = ok(&alice, &["fs", "expunge"]);
    assert!(
        out.starts_with("Created trash checkpoint: /user/alice/.Trash/"),
        "{out}"
    );
    let listing = t.dfs.list("/user/alice/.Trash").unwrap();
    assert_eq!(listing.len(), 1);
    assert!(common::trash::checkpoint_time(listing[0].path.rsplit('/').next().unwrap()).is_some());
    let out = ok(&alice, &["fs", "expunge", "-immediate"]);
    assert!(
        out.contains("Deleted trash checkpoint: /user/alice/.Trash/"),
        "{out}"
    );
    assert!(t.dfs.list("/user/alice/.Trash").unwrap().is_empty());

    // `mrctl admin token issue` makes the home of the user it issues for.
    let o = mrctl(
        &t,
        &[
            "admin", "token", "issue", "--user", "carol", "--groups", "eng,ops",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let home = t.dfs.stat("/user/carol").unwrap();
    assert_eq!((home.owner.as_str(), home.group.as_str()), ("carol", "eng"));
}

#[test]
fn the_emptier_checkpoints_then_deletes_after_the_interval() {
    let t = start(1, 1, |s| {
        s.namenode.default_replication = 1;
        s.namenode.trash_interval_ms = 3_000;
        s.namenode.trash_checkpoint_interval_ms = 300;
    });
    let alice = t.cluster.client_config_for("alice", &["alice"]).unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"soon gone").unwrap();
    ok(
        &alice,
        &["fs", "put", local.path().to_str().unwrap(), "/user/alice/f"],
    );
    ok(&alice, &["fs", "rm", "/user/alice/f"]);
    // Current is checkpointed by the emptier...
    wait(Duration::from_secs(20), "a trash checkpoint", || {
        let l = t.dfs.list("/user/alice/.Trash").ok()?;
        let c = l.iter().find(|e| !e.path.ends_with("/Current"))?;
        t.dfs
            .exists(&format!("{}/user/alice/f", c.path))
            .ok()?
            .then_some(())
    });
    // ...and the checkpoint deleted once older than the interval.
    wait(Duration::from_secs(30), "the checkpoint to expire", || {
        t.dfs
            .list("/user/alice/.Trash")
            .ok()?
            .is_empty()
            .then_some(())
    });
}

#[test]
fn a_trash_interval_of_zero_turns_the_trash_off() {
    let t = start(1, 1, |s| {
        s.namenode.default_replication = 1;
        s.namenode.trash_interval_ms = 0;
    });
    let alice = t.cluster.client_config_for("alice", &["alice"]).unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"x").unwrap();
    ok(
        &alice,
        &["fs", "put", local.path().to_str().unwrap(), "/user/alice/f"],
    );
    let out = ok(&alice, &["fs", "rm", "/user/alice/f"]);
    assert_eq!(out.trim(), "Deleted /user/alice/f");
    assert!(!t.dfs.exists("/user/alice/.Trash").unwrap());
}
