//! Permissions against real daemons: bob, with his own token, is refused at every operation
//! on alice's files (each refusal names the user, the access, the path and its mode); alice and
//! the superuser may do all of it; the sticky bit of /tmp keeps bob from deleting alice's
//! file; chmod survives a namenode restart.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tests::{mrctl, start, TestCluster};

/// `mrctl --config CONFIG ARGS`: a client as the user `config` holds a token for.
fn mrctl_as(config: &Path, args: &[&str]) -> Output {
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The command was refused for permissions, naming `access` and `path (mode owner:group)`.
fn refused(o: Output, what: &str, access: &str, path_and_mode: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{what} should be refused");
    for part in [
        "permission denied".to_string(),
        "user=bob".to_string(),
        format!("access={access}"),
        format!("path={path_and_mode}"),
    ] {
        assert!(err.contains(&part), "{what}: '{part}' missing from: {err}");
    }
}

struct Users {
    alice: PathBuf,
    bob: PathBuf,
}

fn setup(tc: &TestCluster) -> Users {
    let users = Users {
        alice: tc.cluster.client_config_for("alice", &["alice"]).unwrap(),
        bob: tc.cluster.client_config_for("bob", &["bob"]).unwrap(),
    };
    // The superuser (the default client config) makes the shared directories.
    for args in [
        &["fs", "mkdir", "-p", "/user/alice", "/user/bob", "/tmp"][..],
        &["fs", "chown", "alice:alice", "/user/alice"],
        &["fs", "chown", "bob:bob", "/user/bob"],
        &["fs", "chmod", "1777", "/tmp"],
    ] {
        ok(mrctl(tc, args), &format!("{args:?}"));
    }
    users
}

fn local_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn bob_is_refused_on_alices_files_and_alice_and_the_superuser_are_not() {
    let tc = start(1, 1, |_| {});
    let u = setup(&tc);
    let local = tempfile::tempdir().unwrap();
    let secret = local_file(local.path(), "secret.txt", "alice's secret\n");
    let mine = local_file(local.path(), "bob.txt", "bob's\n");
    let f = "/user/alice/secret.txt";
    let alice = |args: &[&str]| ok(mrctl_as(&u.alice, args), &format!("alice {args:?}"));
    alice(&["fs", "put", &secret, f]);
    alice(&["fs", "chmod", "600", f]);
    alice(&["fs", "mkdir", "/user/alice/private"]);
    alice(&["fs", "chmod", "go-rx", "/user/alice/private"]);
    let ls = alice(&["fs", "ls", "/user/alice"]);
    assert!(ls.contains("drwx------"), "{ls}");
    assert!(ls.contains("-rw-------"), "{ls}");
    assert!(ls.contains("alice"), "{ls}");
    let json = alice(&["fs", "ls", "--json", "/user/alice"]);
    assert!(json.contains("\"mode\":\"600\""), "{json}");
    assert!(json.contains("\"owner\":\"alice\""), "{json}");

    let bob = |args: &[&str]| mrctl_as(&u.bob, args);
    let secret_mode = "/user/alice/secret.txt (rw------- alice:alice)";
    let home_mode = "/user/alice (rwxr-xr-x alice:alice)";
    let private_mode = "/user/alice/private (rwx------ alice:alice)";
    refused(bob(&["fs", "cat", f]), "cat", "READ", secret_mode);
    refused(
        bob(&["fs", "put", "-f", &mine, f]),
        "put over",
        "WRITE",
        home_mode,
    );
    refused(bob(&["fs", "rm", f]), "rm", "WRITE", home_mode);
    refused(
        bob(&["fs", "mv", f, "/user/bob/x"]),
        "mv out",
        "WRITE",
        home_mode,
    );
    ok(
        bob(&["fs", "put", &mine, "/user/bob/mine.txt"]),
        "bob's own put",
    );
    refused(
        bob(&["fs", "mv", "/user/bob/mine.txt", "/user/alice/"]),
        "mv into",
        "WRITE",
        home_mode,
    );
    refused(
        bob(&["fs", "ls", "/user/alice/private"]),
        "ls",
        "READ_EXECUTE",
        private_mode,
    );
    refused(
        bob(&["fs", "mkdir", "/user/alice/private/x"]),
        "mkdir inside",
        "EXECUTE",
        private_mode,
    );
    refused(
        bob(&["fs", "setrep", "1", f]),
        "setrep",
        "WRITE",
        secret_mode,
    );
    refused(
        bob(&["fs", "chmod", "644", f]),
        "chmod",
        "OWNER",
        secret_mode,
    );
    refused(
        bob(&["fs", "chown", "bob", f]),
        "chown",
        "OWNER",
        secret_mode,
    );
    refused(
        bob(&["fs", "rm", "-r", "/user/alice"]),
        "rm -r",
        "WRITE",
        "/user (rwxr-xr-x",
    );

    // alice may do each of them.
    assert_eq!(alice(&["fs", "cat", f]), "alice's secret\n");
    alice(&["fs", "setrep", "1", f]);
    alice(&["fs", "ls", "/user/alice/private"]);
    alice(&["fs", "mkdir", "/user/alice/private/x"]);
    alice(&["fs", "mv", f, "/user/alice/private/"]);
    alice(&["fs", "mv", "/user/alice/private/secret.txt", "/user/alice/"]);
    alice(&["fs", "chmod", "u=rw,g=r,o=", f]);
    alice(&["fs", "chgrp", "alice", f]);
    // ...but not give her file away: that is the superuser's.
    let o = mrctl_as(&u.alice, &["fs", "chown", "bob", f]);
    assert!(!o.status.success(), "alice gave her file to bob");

    // The superuser may do anything.
    assert_eq!(
        ok(mrctl(&tc, &["fs", "cat", f]), "superuser cat"),
        "alice's secret\n"
    );
    ok(
        mrctl(&tc, &["fs", "ls", "/user/alice/private"]),
        "superuser ls",
    );
    ok(
        mrctl(
            &tc,
            &["fs", "chown", "-R", "bob:bob", "/user/alice/private"],
        ),
        "su chown",
    );
    let st = ok(mrctl(&tc, &["fs", "stat", "/user/alice/private/x"]), "stat");
    assert!(st.contains("owner: bob"), "{st}");
    alice(&["fs", "rm", f]);
}

#[test]
fn a_sticky_tmp_keeps_bob_from_deleting_alices_file_and_chmod_survives_a_restart() {
    let tc = start(1, 1, |_| {});
    let u = setup(&tc);
    let local = tempfile::tempdir().unwrap();
    let text = local_file(local.path(), "a.txt", "a\n");
    ok(
        mrctl_as(&u.alice, &["fs", "put", &text, "/tmp/a"]),
        "alice put",
    );
    let st = ok(mrctl_as(&u.alice, &["fs", "stat", "/tmp/a"]), "stat");
    assert!(st.contains("mode: 644 (-rw-r--r--)"), "the umask 022: {st}");
    let o = mrctl_as(&u.bob, &["fs", "rm", "/tmp/a"]);
    refused(o, "rm in sticky /tmp", "WRITE", "/tmp/a (rw-r--r-- alice:");
    let o = mrctl_as(&u.bob, &["fs", "rm", "/tmp/a"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("sticky bit of /tmp (rwxrwxrwt"));
    ok(
        mrctl_as(&u.bob, &["fs", "put", &text, "/tmp/b"]),
        "bob writes in /tmp",
    );
    ok(
        mrctl_as(&u.bob, &["fs", "rm", "/tmp/b"]),
        "bob deletes his own",
    );

    ok(
        mrctl_as(&u.alice, &["fs", "chmod", "640", "/tmp/a"]),
        "chmod",
    );
    tc.cluster.kill("namenode").unwrap();
    tc.cluster.start("namenode").unwrap();
    tc.cluster.wait_healthy(Duration::from_secs(90)).unwrap();
    let st = ok(mrctl_as(&u.alice, &["fs", "stat", "/tmp/a"]), "stat");
    assert!(st.contains("mode: 640 (-rw-r-----)"), "{st}");
    let ls = ok(mrctl(&tc, &["fs", "ls", "/"]), "ls /");
    assert!(ls.contains("drwxrwxrwt"), "/tmp keeps its sticky bit: {ls}");
    let o = mrctl_as(&u.bob, &["fs", "cat", "/tmp/a"]);
    refused(o, "cat after restart", "READ", "/tmp/a (rw-r----- alice:");
}
