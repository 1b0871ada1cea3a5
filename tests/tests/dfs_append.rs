//! Append (HDFS's): a closed file reopened at its end, a partial last block continued under a
//! new generation stamp through the datanodes' append stage, a full one followed by a new
//! block; the writer's permission checked; a writer killed mid-append leaves the acknowledged
//! prefix after lease recovery; appends survive a namenode restart. Real daemons, security on.

#![allow(clippy::unwrap_used)]

use client::{CreateOptions, DfsClient};
use std::io::Write;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, wait};

fn append(dfs: &DfsClient, path: &str, bytes: &[u8]) {
    let mut w = dfs.append(path).unwrap();
    w.write_all(bytes).unwrap();
    w.close().unwrap();
}

fn block_count(dfs: &DfsClient, path: &str) -> usize {
    dfs.block_locations(path).unwrap().blocks.len()
}

#[test]
fn appends_continue_partial_blocks_and_start_new_ones_after_full_ones() {
    // Blocks of 1 MiB, checksum chunks of 4 KiB.
    let t = start(3, 2, |_| {});
    let dfs = &t.dfs;
    let mut want = data(100_000, 1);
    dfs.write_file("/a/f", &want, CreateOptions::default())
        .unwrap();
    // Into the partial last chunk and block, then across the block boundary.
    for (len, seed) in [(5_000, 2), (3, 3), (1_100_000, 4), (4_096, 5)] {
        let more = data(len, seed);
        append(dfs, "/a/f", &more);
        want.extend_from_slice(&more);
        assert_eq!(
            dfs.read_file("/a/f").unwrap(),
            want,
            "after appending {len}"
        );
    }
    assert_eq!(dfs.stat("/a/f").unwrap().length, want.len() as u64);
    assert_eq!(block_count(dfs, "/a/f"), 2);
    // An append that writes nothing leaves the file as it was.
    dfs.append("/a/f").unwrap().close().unwrap();
    assert_eq!(dfs.read_file("/a/f").unwrap(), want);

    // A file ending on a block boundary gets a new block; an empty file its first.
    let full = data(1 << 20, 6);
    dfs.write_file("/a/full", &full, CreateOptions::default())
        .unwrap();
    append(dfs, "/a/full", b"tail");
    assert_eq!(
        dfs.read_file("/a/full").unwrap(),
        [&full[..], b"tail"].concat()
    );
    assert_eq!(block_count(dfs, "/a/full"), 2);
    dfs.write_file("/a/empty", b"", CreateOptions::default())
        .unwrap();
    append(dfs, "/a/empty", b"first bytes");
    assert_eq!(dfs.read_file("/a/empty").unwrap(), b"first bytes");

    // Every reopened block ends with its full replication at the new stamp, none corrupt.
    wait(
        Duration::from_secs(30),
        "appended blocks fully replicated",
        || {
            let f = dfs.fsck("/a").ok()?;
            (f.under_replicated == 0 && f.corrupt == 0 && f.missing == 0).then_some(())
        },
    );

    // mrctl appendToFile: several local files in order; DST is created when missing.
    let local = tempfile::tempdir().unwrap();
    let (l1, l2) = (local.path().join("one"), local.path().join("two"));
    std::fs::write(&l1, b"one\n").unwrap();
    std::fs::write(&l2, b"two\n").unwrap();
    let (l1, l2) = (l1.to_str().unwrap(), l2.to_str().unwrap());
    for _ in 0..2 {
        let o = mrctl(&t, &["fs", "appendToFile", l1, l2, "/a/log"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(dfs.read_file("/a/log").unwrap(), b"one\ntwo\none\ntwo\n");
    let o = mrctl(&t, &["fs", "appendToFile", "/no/such/local", "/a/log"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/local"));
    assert_eq!(dfs.read_file("/a/log").unwrap(), b"one\ntwo\none\ntwo\n");
}

#[test]
fn only_a_writer_may_append_and_one_at_a_time() {
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    let dfs = &t.dfs;
    dfs.mkdirs("/shared").unwrap();
    dfs.write_file("/shared/f", b"mine", CreateOptions::default())
        .unwrap();
    let bob = t.cluster.client_config_for("bob", &["bob"]).unwrap();
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"bob's").unwrap();
    let o = mrctl_with(
        &bob,
        &[],
        &[
            "fs",
            "appendToFile",
            local.path().to_str().unwrap(),
            "/shared/f",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("permission denied") && err.contains("user=bob") && err.contains("WRITE"),
        "{err}"
    );
    // While one writer appends, a second append is refused, naming the holder.
    let mut w = dfs.append("/shared/f").unwrap();
    let other = t.cluster.client().unwrap();
    let e = other
        .append("/shared/f")
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("being written"), "{e}");
    w.write_all(b" and more").unwrap();
    w.close().unwrap();
    assert_eq!(dfs.read_file("/shared/f").unwrap(), b"mine and more");
}

#[test]
fn a_writer_killed_mid_append_leaves_the_acknowledged_prefix() {
    let t = start(3, 2, |_| {});
    let first = data(100_000, 7);
    t.dfs
        .write_file("/lease/f", &first, CreateOptions::default())
        .unwrap();
    // What completes the partial 4 KiB chunk, then one full packet: all of it is sent (a
    // partial packet would stay in the writer's buffer), and it stays within the 1 MiB block.
    let more = data(4096 - 100_000 % 4096 + (512 << 10), 8);
    let mut writer = std::process::Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(t.cluster.client_config_path())
        .args(["fs", "appendToFile", "-", "/lease/f"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writer.stdin.as_mut().unwrap().write_all(&more).unwrap();
    writer.stdin.as_mut().unwrap().flush().unwrap();
    let id = t.dfs.block_locations("/lease/f").unwrap().blocks[0]
        .block
        .unwrap()
        .id;
    let total = (first.len() + more.len()) as u64;
    wait(
        Duration::from_secs(20),
        "replicas to receive the appended bytes",
        || {
            let lens: Vec<u64> = (0..3)
                .flat_map(|i| tests::replica_files(&t.data_dirs(i), id))
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .collect();
            (lens.len() == 3 && lens.iter().all(|&l| l == total)).then_some(())
        },
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert!(t.dfs.stat("/lease/f").unwrap().under_construction);
    wait(
        Duration::from_secs(40),
        "lease recovery to close the file",
        || (!t.dfs.stat("/lease/f").ok()?.under_construction).then_some(()),
    );
    assert_eq!(t.dfs.stat("/lease/f").unwrap().length, total);
    assert_eq!(t.dfs.read_file("/lease/f").unwrap(), [first, more].concat());
    wait(
        Duration::from_secs(30),
        "the recovered block fully replicated",
        || {
            let f = t.dfs.fsck("/lease").ok()?;
            (f.under_replicated == 0 && f.corrupt == 0).then_some(())
        },
    );
    // And the file takes appends again.
    append(&t.dfs, "/lease/f", b"!");
    assert_eq!(t.dfs.stat("/lease/f").unwrap().length, total + 1);
}

#[test]
fn appends_survive_a_namenode_restart() {
    let t = start(2, 1, |s| s.namenode.default_replication = 2);
    let mut want = data(10_000, 9);
    t.dfs
        .write_file("/r/f", &want, CreateOptions::default())
        .unwrap();
    for seed in 10..13 {
        let more = data(3_000, seed);
        append(&t.dfs, "/r/f", &more);
        want.extend_from_slice(&more);
    }
    t.cluster.kill("namenode").unwrap();
    t.cluster.start("namenode").unwrap();
    t.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    let dfs = t.cluster.client().unwrap();
    let s = dfs.stat("/r/f").unwrap();
    assert!(!s.under_construction);
    assert_eq!(s.length, want.len() as u64);
    assert_eq!(dfs.read_file("/r/f").unwrap(), want);
    append(&dfs, "/r/f", b"after");
    want.extend_from_slice(b"after");
    assert_eq!(dfs.read_file("/r/f").unwrap(), want);
}
