//! `mrctl fs` against HDFS's `hdfs dfs` semantics: the real `mrctl` binary against a real
//! secure cluster. Every verb and flag, globs, paths relative to `/user/NAME`, a checksum that
//! does not depend on the block size, a failed put that leaves nothing, a reader closing stdout
//! early, and `--version` on every binary.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tests::{data, mrctl, mrctl_with, start, TestCluster};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `mrctl fs ARGS` as the superuser; must succeed; its stdout.
fn ok(t: &TestCluster, args: &[&str]) -> String {
    let o = fs(t, args);
    assert!(
        o.status.success(),
        "mrctl fs {args:?} failed: {}",
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs `mrctl fs ARGS`; must fail with exit status 1 and a one-line error; that error.
fn fails(t: &TestCluster, args: &[&str]) -> String {
    let o = fs(t, args);
    assert_eq!(o.status.code(), Some(1), "mrctl fs {args:?} should fail");
    let e = text(&o.stderr);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

fn fs(t: &TestCluster, args: &[&str]) -> Output {
    let mut v = vec!["fs"];
    v.extend_from_slice(args);
    mrctl(t, &v)
}

fn test_status(t: &TestCluster, flag: &str, path: &str) -> i32 {
    let o = fs(t, &["test", flag, path]);
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "{}",
        text(&o.stderr)
    );
    o.status.code().unwrap()
}

fn local(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn every_verb_behaves_as_hdfs_dfs() {
    let t = start(3, 1, |_| {});
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("b.txt"), "beta\n").unwrap();
    std::fs::write(src.join("sub/c.txt"), "gamma\n").unwrap();
    let big = data(300_001, 7);
    std::fs::write(tmp.path().join("big.bin"), &big).unwrap();

    // mkdir: without -p a missing parent or an existing path is an error, as HDFS.
    assert!(fails(&t, &["mkdir", "/x/y"]).contains("/x/y: No such file or directory"));
    ok(&t, &["mkdir", "-p", "/x/y"]);
    assert!(fails(&t, &["mkdir", "/x/y"]).contains("/x/y: File exists"));
    ok(&t, &["mkdir", "-p", "/x/y"]);
    ok(&t, &["mkdir", "/x/z"]);

    // put: a directory recursively; an existing file only with -f; several sources into a
    // directory.
    ok(&t, &["put", src.to_str().unwrap(), "/in"]);
    assert_eq!(ok(&t, &["cat", "/in/sub/c.txt"]), "gamma\n");
    let a = local(&src, "a.txt");
    assert!(fails(&t, &["put", &a, "/in/a.txt"]).contains("/in/a.txt: File exists"));
    std::fs::write(tmp.path().join("a2.txt"), "alpha two\n").unwrap();
    ok(
        &t,
        &["put", "-f", &local(tmp.path(), "a2.txt"), "/in/a.txt"],
    );
    assert_eq!(ok(&t, &["cat", "/in/a.txt"]), "alpha two\n");
    ok(&t, &["put", "-f", &a, "/in/a.txt"]);
    let b = local(&src, "b.txt");
    assert!(fails(&t, &["put", &a, &b, "/multi"]).contains("/multi"));
    ok(&t, &["mkdir", "/multi"]);
    ok(&t, &["put", &a, &b, "/multi"]);
    assert_eq!(
        ok(&t, &["cat", "/multi/a.txt", "/multi/b.txt"]),
        "alpha\nbeta\n"
    );
    let bigl = local(tmp.path(), "big.bin");
    ok(
        &t,
        &[
            "put",
            "--replication",
            "1",
            "--block-size",
            "65536",
            &bigl,
            "/big64k",
        ],
    );
    ok(&t, &["put", &bigl, "/big1m"]);
    assert_eq!(
        ok(&t, &["stat", "%r %o %b %F %n", "/big64k"]).trim(),
        "1 65536 300001 regular file big64k"
    );

    // get: -f to overwrite, several sources into a directory, a directory recursively.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let outs = out.to_str().unwrap();
    ok(&t, &["get", "/in", outs]);
    assert_eq!(
        std::fs::read_to_string(out.join("in/sub/c.txt")).unwrap(),
        "gamma\n"
    );
    let e = fails(&t, &["get", "/in/a.txt", &local(&out, "in/a.txt")]);
    assert!(e.contains("already exists"), "{e}");
    ok(&t, &["get", "-f", "/multi/b.txt", &local(&out, "in/a.txt")]);
    assert_eq!(
        std::fs::read_to_string(out.join("in/a.txt")).unwrap(),
        "beta\n"
    );
    ok(
        &t,
        &[
            "get",
            "/multi/a.txt",
            "/multi/b.txt",
            &local(&out, "in/sub"),
        ],
    );
    assert!(out.join("in/sub/b.txt").exists());

    // Globs on every path argument.
    let ls = ok(&t, &["ls", "/in/*.txt"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");
    assert!(ls.contains("/in/a.txt") && ls.contains("/in/b.txt"), "{ls}");
    assert_eq!(ok(&t, &["cat", "/in/{a,b}.txt"]), "alpha\nbeta\n");
    assert_eq!(ok(&t, &["cat", "/in/[b-z].txt"]), "beta\n");
    assert_eq!(ok(&t, &["cat", "/in/?.txt"]), "alpha\nbeta\n");
    assert_eq!(ok(&t, &["cat", "/*/sub/c.txt"]), "gamma\n");
    let e = fails(&t, &["ls", "/in/*.csv"]);
    assert!(e.contains("/in/*.csv: no such file or directory"), "{e}");

    // ls -d, -R, -h, --json.
    let d = ok(&t, &["ls", "-d", "/in"]);
    assert_eq!(d.lines().count(), 1);
    assert!(d.starts_with('d') && d.trim_end().ends_with(" /in"), "{d}");
    assert!(ok(&t, &["ls", "-R", "/in"]).contains("/in/sub/c.txt"));
    let h = ok(&t, &["ls", "-h", "/big64k"]);
    assert!(h.contains("293 K"), "{h}");
    let j: serde_json::Value =
        serde_json::from_str(ok(&t, &["ls", "--json", "/big1m"]).trim()).unwrap();
    assert_eq!(j["length"], 300_001);

    // cat, head, tail.
    assert!(fails(&t, &["cat", "/in"]).contains("/in: Is a directory"));
    let o = fs(&t, &["head", "/big1m"]);
    assert_eq!(o.stdout, big[..1024]);
    let o = fs(&t, &["tail", "/big1m"]);
    assert_eq!(o.stdout, big[big.len() - 1024..]);

    // tail -f prints the last KiB and keeps following until stopped.
    let mut child = Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(t.cluster.client_config_path())
        .args(["fs", "tail", "-f", "/big1m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = vec![0u8; 1024];
    child.stdout.take().unwrap().read_exact(&mut last).unwrap();
    assert_eq!(last, big[big.len() - 1024..]);
    assert!(
        child.try_wait().unwrap().is_none(),
        "tail -f must keep running"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // text: gzip and zstd by extension, the SDK's record files as KEY<TAB>VALUE lines.
    let lines = "one\ntwo\nthree\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(lines.as_bytes()).unwrap();
    std::fs::write(tmp.path().join("l.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        tmp.path().join("l.zst"),
        zstd::encode_all(lines.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let mut w = mapreduce::ifile::Writer::new(Vec::new(), mapreduce::ifile::Compression::Zstd);
    w.append(b"apple", b"1").unwrap();
    w.append(b"pear", b"\xff2").unwrap();
    let (records, _) = w.finish().unwrap();
    std::fs::write(tmp.path().join("part-r-00000"), records).unwrap();
    for name in ["l.gz", "l.zst", "part-r-00000"] {
        ok(
            &t,
            &["put", &local(tmp.path(), name), &format!("/text/{name}")],
        );
    }
    assert_eq!(ok(&t, &["text", "/text/l.gz"]), lines);
    assert_eq!(ok(&t, &["text", "/text/l.zst"]), lines);
    assert_eq!(
        ok(&t, &["text", "/text/part-r-00000"]),
        "apple\t1\npear\t\\xff2\n"
    );
    assert_eq!(ok(&t, &["text", "/in/a.txt"]), "alpha\n");

    // touchz and test (exit status only).
    ok(&t, &["touchz", "/in/empty"]);
    ok(&t, &["touchz", "/in/empty"]);
    assert!(fails(&t, &["touchz", "/in/a.txt"]).contains("Not a zero-length file"));
    assert_eq!(test_status(&t, "-e", "/in/empty"), 0);
    assert_eq!(test_status(&t, "-e", "/in/nothing"), 1);
    assert_eq!(test_status(&t, "-d", "/in"), 0);
    assert_eq!(test_status(&t, "-d", "/in/a.txt"), 1);
    assert_eq!(test_status(&t, "-f", "/in/a.txt"), 0);
    assert_eq!(test_status(&t, "-f", "/in"), 1);
    assert_eq!(test_status(&t, "-z", "/in/empty"), 0);
    assert_eq!(test_status(&t, "-z", "/in/a.txt"), 1);
    assert_eq!(test_status(&t, "-s", "/in/a.txt"), 0);
    assert_eq!(test_status(&t, "-s", "/in/empty"), 1);

    // stat with every HDFS specifier.
    let s = ok(
        &t,
        &["stat", "%b|%F|%g|%n|%o|%r|%u|%y|%Y", "/in/a.txt", "/in"],
    );
    let rows: Vec<Vec<&str>> = s.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 2, "{s}");
    assert_eq!(&rows[0][..3], ["6", "regular file", "supergroup"], "{s}");
    assert_eq!(&rows[0][3..6], ["a.txt", "1048576", "3"], "{s}");
    assert_eq!(&rows[1][..2], ["0", "directory"], "{s}");
    assert_eq!(&rows[1][4..6], ["0", "0"], "{s}");
    assert_eq!(rows[0][7].len(), "2026-01-01 00:00:00".len(), "{s}");
    assert!(
        rows[0][8].parse::<u64>().unwrap() > 1_600_000_000_000,
        "{s}"
    );

    // count (-q quota columns: none/inf while no quota is set), du, df.
    let c: Vec<String> = ok(&t, &["count", "/in"])
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(c[1..], ["4", "17", "/in"], "files, bytes, path");
    assert!(c[0].parse::<u64>().unwrap() >= 1, "directories: {c:?}");
    let q = ok(&t, &["count", "-q", "-h", "/big1m"]);
    let q: Vec<&str> = q.split_whitespace().collect();
    assert_eq!(q[..4], ["none", "inf", "none", "inf"]);
    assert_eq!(q[5..], ["1", "293", "K", "/big1m"]);
    let du = ok(&t, &["du", "-s", "/big1m", "/in"]);
    assert!(
        du.contains("300001") && du.contains("900003") && du.contains("51"),
        "{du}"
    );
    let du = ok(&t, &["du", "/in"]);
    assert_eq!(du.lines().count(), 4, "each entry of /in: {du}");
    assert!(ok(&t, &["du", "-s", "-h", "/big1m"]).contains("878.9 K"));
    let df = ok(&t, &["df", "-h"]);
    let row: Vec<&str> = df.lines().nth(1).unwrap().split_whitespace().collect();
    assert!(
        df.starts_with("Filesystem") && row.last().unwrap().ends_with('%'),
        "{df}"
    );

    // getmerge -nl: the directory's files in name order, a newline after each.
    let merged = tmp.path().join("merged.txt");
    ok(&t, &["getmerge", "-nl", "/multi", merged.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&merged).unwrap(),
        "alpha\n\nbeta\n\n"
    );

    // find -name / -type.
    let f = ok(&t, &["find", "/in", "-name", "*.txt", "-type", "f"]);
    assert_eq!(
        f.lines().collect::<Vec<_>>(),
        ["/in/a.txt", "/in/b.txt", "/in/sub/c.txt"]
    );
    let f = ok(&t, &["find", "/in", "-type", "d"]);
    assert_eq!(f.lines().collect::<Vec<_>>(), ["/in", "/in/sub"]);
    assert!(fails(&t, &["find", "/in", "-type", "x"]).contains("-type takes f or d"));

    // cp -r (through the client), -f to overwrite; mv of several sources into a directory.
    ok(&t, &["cp", "-r", "/in", "/copy"]);
    assert_eq!(ok(&t, &["cat", "/copy/sub/c.txt"]), "gamma\n");
    assert!(fails(&t, &["cp", "/in/b.txt", "/copy/a.txt"]).contains("/copy/a.txt: File exists"));
    ok(&t, &["cp", "-f", "/in/b.txt", "/copy/a.txt"]);
    assert_eq!(ok(&t, &["cat", "/copy/a.txt"]), "beta\n");
    ok(&t, &["mv", "/copy/a.txt", "/copy/b.txt", "/x/y"]);
    assert_eq!(ok(&t, &["cat", "/x/y/a.txt", "/x/y/b.txt"]), "beta\nbeta\n");
    assert_eq!(test_status(&t, "-e", "/copy/a.txt"), 1);

    // rm: -r for a directory, -f quiet about a missing path.
    assert!(fails(&t, &["rm", "/copy"]).contains("/copy: Is a directory"));
    assert!(fails(&t, &["rm", "/missing"]).contains("/missing: no such file or directory"));
    let o = fs(&t, &["rm", "-f", "/missing", "/missing*"]);
    assert!(o.status.success() && o.stdout.is_empty() && o.stderr.is_empty());
    ok(&t, &["rm", "-r", "/copy"]);
    assert_eq!(test_status(&t, "-e", "/copy"), 1);

    // checksum: the same bytes give the same composite CRC whatever the block size, and it
    // is the CRC32 of the content.
    let c64 = ok(&t, &["checksum", "/big64k"]);
    let c1m = ok(&t, &["checksum", "/big1m"]);
    let crc = format!("{:08x}", crc32fast::hash(&big));
    assert_eq!(c64, format!("/big64k\tCOMPOSITE-CRC32\t{crc}\n"));
    assert_eq!(c1m, format!("/big1m\tCOMPOSITE-CRC32\t{crc}\n"));
    let other = ok(&t, &["checksum", "/in/a.txt"]);
    assert!(!other.contains(&crc));
    let empty = format!("{:08x}", crc32fast::hash(b""));
    assert!(ok(&t, &["checksum", "/in/empty"]).contains(&empty));

    // setrep -w waits until every block has exactly that many replicas.
    let out = ok(&t, &["setrep", "-w", "--timeout", "60s", "2", "/big1m"]);
    assert!(out.contains("done"), "{out}");
    let located = t.dfs.block_locations("/big1m").unwrap();
    assert!(located.blocks.iter().all(|b| b.locations.len() == 2));
    ok(&t, &["setrep", "-R", "-w", "1", "/big64k"]);
}

#[test]
fn relative_paths_are_under_the_home_directory_and_failed_puts_leave_nothing() {
    let t = start(1, 1, |_| {});
    let tmp = tempfile::tempdir().unwrap();
    let alice = t.cluster.client_config_for("alice", &["alice"]).unwrap();
    ok(&t, &["mkdir", "-p", "/user/alice"]);
    ok(&t, &["chown", "alice:alice", "/user/alice"]);
    let as_alice = |args: &[&str]| {
        let mut v = vec!["fs"];
        v.extend_from_slice(args);
        mrctl_with(&alice, &[], &v)
    };
    let f = tmp.path().join("notes.txt");
    std::fs::write(&f, "mine\n").unwrap();
    let o = as_alice(&["put", f.to_str().unwrap(), "notes.txt"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(t.dfs.exists("/user/alice/notes.txt").unwrap());
    let o = as_alice(&["ls"]);
    assert!(
        text(&o.stdout).contains("/user/alice/notes.txt"),
        "{}",
        text(&o.stderr)
    );
    let o = as_alice(&["mkdir", "d"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = as_alice(&["mv", "notes.txt", "d/../d/n.txt"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&as_alice(&["cat", "d/*.txt"]).stdout), "mine\n");

    // A directory whose last entry cannot be read: the put fails naming it and leaves
    // nothing behind (not the files before it, not a half-written file).
    let dir = tmp.path().join("bad");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "fine\n").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), dir.join("zz-broken")).unwrap();
    let e = fails(&t, &["put", dir.to_str().unwrap(), "/failed"]);
    assert!(e.contains("zz-broken"), "{e}");
    assert!(!t.dfs.exists("/failed").unwrap());
    // A source that is not there: named, nothing made.
    let e = fails(&t, &["put", "/definitely/not/here", "/nothing"]);
    assert!(e.contains("/definitely/not/here"), "{e}");
    assert!(!t.dfs.exists("/nothing").unwrap());
    let leftovers = ok(&t, &["find", "/", "-name", "*_COPYING_*"]);
    assert!(leftovers.is_empty(), "{leftovers}");
}

#[test]
fn a_reader_closing_stdout_early_ends_quietly_and_every_binary_has_a_version() {
    let t = start(1, 1, |_| {});
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big");
    std::fs::write(&big, data(4 << 20, 3)).unwrap();
    ok(&t, &["put", big.to_str().unwrap(), "/big"]);
    for verb in ["cat", "text"] {
        let mut child = Command::new(cluster::bin_dir().unwrap().join("mrctl"))
            .arg("--config")
            .arg(t.cluster.client_config_path())
            .args(["fs", verb, "/big"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -c 10`: read a little, then close the pipe.
        let mut first = [0u8; 10];
        let mut stdout = child.stdout.take().unwrap();
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let o = child.wait_with_output().unwrap();
        let err = text(&o.stderr);
        assert!(err.is_empty(), "{verb}: nothing on stderr: {err}");
        assert_eq!(o.status.code(), Some(141), "{verb}: the SIGPIPE status");
    }

    let version = env!("CARGO_PKG_VERSION");
    for bin in ["mrctl", "namenode", "datanode", "jobtracker", "worker"] {
        let o = Command::new(cluster::bin_dir().unwrap().join(bin))
            .arg("--version")
            .output()
            .unwrap();
        assert!(o.status.success(), "{bin} --version");
        assert_eq!(text(&o.stdout).trim(), format!("{bin} {version}"));
    }
    let o = Command::new(tests::job_binary("wordcount"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout).trim(), format!("wordcount {version}"));
}
