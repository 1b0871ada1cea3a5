//! `mrctl` as a user runs it: cluster up/down/restart, every `fs` command, one-line errors.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};
use tests::data;

fn mrctl(args: &[&str]) -> Output {
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = mrctl(args);
    assert!(
        o.status.success(),
        "mrctl {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let o = mrctl(args);
    assert!(!o.status.success(), "mrctl {args:?} should fail");
    let e = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        e.trim_end().lines().count(),
        1,
        "error must be one line: {e}"
    );
    e
}

#[test]
fn cluster_and_fs_commands_work_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let d = dir.to_str().unwrap();
    ok(&[
        "cluster",
        "up",
        "--dir",
        d,
        "--datanodes",
        "4",
        "--racks",
        "2",
    ]);
    let cfg = dir.join("client.toml");
    let cfg = cfg.to_str().unwrap();
    let fs = |args: &[&str]| -> Vec<String> {
        let mut v = vec!["--config".to_string(), cfg.to_string(), "fs".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let run_ok = |args: &[&str]| ok(&fs(args).iter().map(String::as_str).collect::<Vec<_>>());
    let run_fail = |args: &[&str]| fails(&fs(args).iter().map(String::as_str).collect::<Vec<_>>());

    let local = tmp.path().join("in.bin");
    let bytes = data(3_000_000, 1);
    std::fs::write(&local, &bytes).unwrap();
    run_ok(&["mkdir", "-p", "/data/sub"]);
    run_ok(&["put", local.to_str().unwrap(), "/data/in.bin"]);
    run_ok(&["put", local.to_str().unwrap(), "/data/sub"]); // into a directory keeps the name
    let listing = run_ok(&["ls", "-R", "/data"]);
    assert!(
        listing.contains("/data/in.bin") && listing.contains("/data/sub/in.bin"),
        "{listing}"
    );
    assert!(listing.contains("3000000"), "{listing}");
    let cat = mrctl(&["--config", cfg, "fs", "cat", "/data/in.bin"]);
    assert!(cat.stdout == bytes);
    let stat = run_ok(&["stat", "/data/in.bin"]);
    assert!(
        stat.contains("length: 3000000") && stat.contains("replication: 3"),
        "{stat}"
    );
    run_ok(&["mv", "/data/in.bin", "/data/moved.bin"]);
    run_ok(&["setrep", "2", "/data/moved.bin"]);
    assert!(run_ok(&["stat", "/data/moved.bin"]).contains("replication: 2"));
    let du = run_ok(&["du", "-s", "/data"]);
    assert!(du.contains("6000000"), "{du}");

    // get: a file, and a directory recursively.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    run_ok(&["get", "/data", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(out.join("data/moved.bin")).unwrap(), bytes);
    assert_eq!(std::fs::read(out.join("data/sub/in.bin")).unwrap(), bytes);
    let again = out.join("data/moved.bin");
    assert!(
        run_fail(&["get", "/data/moved.bin", again.to_str().unwrap()]).contains("already exists")
    );

    // fsck --json for scripts.
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["fsck", "/data", "--json"])).unwrap();
    for key in ["under_replicated", "mis_replicated", "corrupt", "missing"] {
        assert!(json[key].is_u64(), "{key} must be an integer: {json}");
    }
    let blocks = json["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty());
    for b in blocks {
        for r in b["replicas"].as_array().unwrap() {
            assert!(r["node"].is_string() && r["rack"].as_str().unwrap().starts_with("/rack"));
        }
    }
    let report = ok(&["--config", cfg, "cluster", "report"]);
    assert!(
        report.contains("4 live, 0 stale, 0 dead, on 2 racks"),
        "{report}"
    );

    // Errors: one line, naming the path, non-zero exit.
    assert!(run_fail(&["cat", "/nope"]).contains("/nope: no such file"));
    assert!(run_fail(&["rm", "/data"]).contains("/data: Is a directory (use -r)"));
    assert!(run_fail(&["put", "/definitely/not/here", "/x"]).contains("/definitely/not/here"));
    // A relative path is under /user/NAME, which this cluster has not made.
    assert!(run_fail(&["mkdir", "rel"]).contains("/rel: No such file or directory"));
    run_ok(&["rm", "-r", "/data/sub"]);

    // Down, then up on the same directory: the same cluster, with its files.
    ok(&["cluster", "down", "--dir", d]);
    assert!(fails(&["--config", cfg, "fs", "ls", "/"]).contains("cannot reach the namenode"));
    ok(&["cluster", "up", "--dir", d]);
    let back = mrctl(&["--config", cfg, "fs", "cat", "/data/moved.bin"]);
    assert!(
        back.stdout == bytes,
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    ok(&["cluster", "down", "--dir", d]);
}
