//! The namesystem's operations with permissions: each client operation makes its check for
//! the caller, new entries get the caller as owner and their parent's group, and chmod/chown
//! are journaled (they survive a restart from the edit log and from a checkpoint).

use super::Namesystem;
use crate::error::NnError;
use crate::namespace::Perm;
use crate::permission::Subject;
use common::auth::Identity;
use common::clock::{ManualClock, SharedClock};
use common::config::{NamenodeConfig, TopologyConfig};
use common::topology::Topology;
use tempfile::TempDir;

fn config(dir: &TempDir) -> NamenodeConfig {
    let mut c = NamenodeConfig {
        meta_dir: dir.path().join("meta"),
        default_block_size: 1 << 20,
        ..NamenodeConfig::default()
    };
    c.security.supergroup = "admins".into();
    c
}

fn open(dir: &TempDir) -> Namesystem {
    let clock: SharedClock = ManualClock::new();
    let ns = Namesystem::open(config(dir), Topology::new(TopologyConfig::default()), clock)
        .expect("open");
    ns.check_safe_mode();
    assert_eq!(ns.cluster_report().safe_mode, None);
    ns
}

fn su() -> Subject {
    Subject::superuser("root")
}

fn user(name: &str) -> Subject {
    Subject::user(name, &[name])
}

fn perm(owner: &str, mode: u16) -> Perm {
    Perm {
        owner: owner.into(),
        group: String::new(),
        mode,
    }
}

fn wait(c: common::journal::Commit) {
    c.wait().expect("durable");
}

fn denied<T>(r: Result<T, NnError>, what: &str) -> String {
    match r {
        Err(e @ NnError::PermissionDenied(_)) => e.to_string(),
        Err(e) => panic!("{what}: expected a permission refusal, got {e}"),
        Ok(_) => panic!("{what}: expected a permission refusal, it was allowed"),
    }
}

/// `/user/alice` (alice, 0755) holding `secret.txt` (0600) and `dir` (0700), all made by
/// alice; `/tmp` (1777) holding alice's `a`.
fn alices_tree(ns: &Namesystem) {
    let alice = user("alice");
    wait(
        ns.mkdirs(&su(), "/user", perm("root", 0o755))
            .expect("mkdirs")
            .expect("new"),
    );
    wait(
        ns.mkdirs(&su(), "/user/alice", perm("root", 0o755))
            .expect("mkdirs")
            .expect("new"),
    );
    wait(
        ns.set_owner(&su(), "/user/alice", Some("alice"), Some("alice"))
            .expect("chown"),
    );
    let (_, c) = ns
        .create(
            &alice,
            "/user/alice/secret.txt",
            perm("alice", 0o600),
            1,
            0,
            "w1",
            false,
        )
        .expect("alice creates in her home");
    wait(c);
    wait(
        ns.complete(&alice, "/user/alice/secret.txt", 0, "w1", None)
            .expect("close"),
    );
    wait(
        ns.mkdirs(&alice, "/user/alice/dir", perm("alice", 0o700))
            .expect("mkdirs")
            .expect("new"),
    );
    wait(
        ns.mkdirs(&su(), "/tmp", perm("root", 0o777))
            .expect("mkdirs")
            .expect("new"),
    );
    wait(ns.set_permission(&su(), "/tmp", 0o1777).expect("chmod"));
    let (_, c) = ns
        .create(&alice, "/tmp/a", perm("alice", 0o644), 1, 0, "w2", false)
        .expect("alice creates in /tmp");
    wait(c);
    wait(ns.complete(&alice, "/tmp/a", 0, "w2", None).expect("close"));
}

#[test]
fn a_new_namespace_root_belongs_to_the_namenode_user_and_the_supergroup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = open(&dir);
    let root = ns.file_info(&su(), "/").expect("root");
    assert_eq!(
        (root.owner.as_str(), root.group.as_str(), root.mode),
        (common::user::current().as_str(), "admins", 0o755)
    );
    let nn = ns.subject(&Identity::user(common::user::current(), vec![]));
    assert!(nn.superuser, "the namenode's own user");
    assert!(
        ns.subject(&Identity::user("x", vec!["admins".into()]))
            .superuser
    );
    assert!(!ns.subject(&Identity::user("bob", vec![])).superuser);
}

#[test]
fn new_entries_take_the_parents_group_and_the_callers_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = open(&dir);
    alices_tree(&ns);
    wait(
        ns.set_owner(&su(), "/user/alice", None, Some("staff"))
            .expect("chgrp"),
    );
    let alice = user("alice");
    let (st, c) = ns
        .create(
            &alice,
            "/user/alice/new",
            perm("alice", 0o640),
            1,
            0,
            "w3",
            false,
        )
        .expect("create");
    wait(c);
    assert_eq!(
        (st.owner.as_str(), st.group.as_str(), st.mode),
        ("alice", "staff", 0o640)
    );
}

#[test]
fn every_operation_refuses_bob_on_alices_files_and_lets_alice_and_the_superuser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = open(&dir);
    alices_tree(&ns);
    let bob = user("bob");
    let secret = "/user/alice/secret.txt";
    let e = denied(ns.locations(&bob, secret, ""), "read");
    assert_eq!(
        e,
        "permission denied: user=bob, access=READ, path=/user/alice/secret.txt (rw------- alice:alice)"
    );
    let e = denied(
        ns.create(&bob, "/user/alice/x", perm("bob", 0o644), 1, 0, "wb", false),
        "create",
    );
    assert!(
        e.contains("access=WRITE, path=/user/alice (rwxr-xr-x alice:alice)"),
        "{e}"
    );
    denied(ns.delete(&bob, secret, false), "delete");
    denied(ns.rename(&bob, secret, "/tmp/stolen"), "move out");
    let (_, c) = ns
        .create(&bob, "/tmp/b", perm("bob", 0o644), 1, 0, "wb", false)
        .expect("bob creates in /tmp");
    wait(c);
    wait(ns.complete(&bob, "/tmp/b", 0, "wb", None).expect("close"));
    let e = denied(ns.rename(&bob, "/tmp/b", "/user/alice"), "move in");
    assert!(
        e.contains("access=WRITE, path=/user/alice (rwxr-xr-x"),
        "{e}"
    );
    let e = denied(
        ns.rename(&bob, "/tmp/a", "/tmp/mine"),
        "move alice's out of sticky /tmp",
    );
    assert!(e.contains("sticky bit of /tmp"), "{e}");
    let e = denied(ns.listing(&bob, "/user/alice/dir"), "list");
    assert!(
        e.contains("access=READ_EXECUTE, path=/user/alice/dir (rwx------ alice:alice)"),
        "{e}"
    );
    denied(
        ns.mkdirs(&bob, "/user/alice/dir/sub", perm("bob", 0o755)),
        "mkdir inside",
    );
    denied(ns.set_replication(&bob, secret, 2), "setrep");
    denied(ns.set_permission(&bob, secret, 0o644), "chmod");
    denied(ns.set_owner(&bob, secret, Some("bob"), None), "chown");
    denied(ns.content_summary(&bob, "/user/alice"), "du");
    denied(ns.fsck(&bob, "/user/alice"), "fsck");
    denied(ns.delete(&bob, "/user/alice", true), "rm -r");
    denied(ns.delete(&bob, "/tmp/a", false), "sticky /tmp");
    // A writer's calls: a client name is no proof of being the writer.
    let alice = user("alice");
    let (_, c) = ns
        .create(
            &alice,
            "/user/alice/w",
            perm("alice", 0o666),
            1,
            0,
            "wa",
            false,
        )
        .expect("create");
    wait(c);
    denied(
        ns.complete(&bob, "/user/alice/w", 0, "wa", None),
        "complete as bob",
    );
    wait(
        ns.complete(&alice, "/user/alice/w", 0, "wa", None)
            .expect("alice closes"),
    );
    // alice (and the superuser) may do all of it.
    ns.locations(&alice, secret, "").expect("alice reads");
    ns.listing(&alice, "/user/alice/dir").expect("alice lists");
    ns.content_summary(&alice, "/user/alice")
        .expect("alice's du");
    ns.locations(&su(), secret, "")
        .expect("the superuser reads");
    wait(ns.set_replication(&alice, secret, 2).expect("alice setrep"));
    wait(
        ns.set_permission(&alice, secret, 0o640)
            .expect("alice chmod"),
    );
    wait(
        ns.set_owner(&alice, secret, None, Some("alice"))
            .expect("alice chgrp to her group"),
    );
    denied(
        ns.set_owner(&alice, secret, Some("bob"), None),
        "alice gives away",
    );
    wait(
        ns.rename(&alice, secret, "/user/alice/dir/s")
            .expect("alice moves"),
    );
    wait(
        ns.delete(&alice, "/tmp/a", false)
            .expect("alice deletes in /tmp"),
    );
    wait(
        ns.set_owner(&su(), "/user/alice/dir/s", Some("bob"), None)
            .expect("su chown"),
    );
    wait(
        ns.delete(&su(), "/user/alice", true)
            .expect("the superuser deletes anything"),
    );
}

#[test]
fn chmod_and_chown_survive_a_restart_from_the_log_and_from_a_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = open(&dir);
    alices_tree(&ns);
    wait(
        ns.set_permission(&su(), "/user/alice/secret.txt", 0o1640)
            .expect("chmod"),
    );
    wait(
        ns.set_owner(&su(), "/user/alice/dir", Some("carol"), Some("eng"))
            .expect("chown"),
    );
    let check = |ns: &Namesystem| {
        let f = ns.file_info(&su(), "/user/alice/secret.txt").expect("file");
        assert_eq!(f.mode, 0o1640);
        let d = ns.file_info(&su(), "/user/alice/dir").expect("dir");
        assert_eq!((d.owner.as_str(), d.group.as_str()), ("carol", "eng"));
        let t = ns.file_info(&su(), "/tmp").expect("tmp");
        assert_eq!(t.mode, 0o1777);
    };
    drop(ns);
    let ns = open(&dir);
    check(&ns);
    // A checkpoint of everything, then a restart from the image alone.
    let mut c = config(&dir);
    c.checkpoint_txns = 1;
    drop(ns);
    let clock: SharedClock = ManualClock::new();
    let ns = Namesystem::open(c, Topology::new(TopologyConfig::default()), clock).expect("open");
    ns.check_safe_mode();
    wait(
        ns.mkdirs(&su(), "/after", perm("root", 0o755))
            .expect("mkdirs")
            .expect("new"),
    );
    ns.maybe_checkpoint().expect("checkpoint");
    drop(ns);
    let ns = open(&dir);
    check(&ns);
}

#[test]
fn chmod_refuses_bits_beyond_the_sticky_bit_and_chown_needs_a_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = open(&dir);
    alices_tree(&ns);
    let e = ns
        .set_permission(&su(), "/tmp", 0o4755)
        .err()
        .expect("setuid");
    assert!(matches!(e, NnError::InvalidArgument(_)), "{e}");
    let e = ns
        .set_owner(&su(), "/tmp", None, None)
        .err()
        .expect("nothing");
    assert!(matches!(e, NnError::InvalidArgument(_)), "{e}");
    let e = ns
        .set_permission(&su(), "/nope", 0o755)
        .err()
        .expect("missing");
    assert!(matches!(e, NnError::NotFound(_)), "{e}");
}
