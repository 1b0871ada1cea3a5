//! The namenode's durability: kill -9 at any moment loses no acknowledged operation; a restart
//! is checkpoint + replay, in safe mode until the datanodes report.

#![allow(clippy::unwrap_used)]

use client::{ClientError, CreateOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{data, start, wait};

#[test]
fn kill_9_during_creates_and_writes_loses_no_acknowledged_file() {
    // Frequent checkpoints so the restart exercises image + replay.
    let t = start(3, 2, |s| {
        s.namenode.checkpoint_txns = 40;
        s.namenode.default_block_size = 64 << 10;
    });
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (dfs, acked, stop) = (t.dfs.clone(), acked.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let seed = w * 1_000_000 + i;
                let path = format!("/crash/w{w}/f{i}");
                let size = 1000 + (seed % 7) as usize * 40_000;
                let r = dfs.write_file(
                    &path,
                    &data(size, seed),
                    CreateOptions {
                        create_parent: true,
                        ..Default::default()
                    },
                );
                if r.is_ok() {
                    acked.lock().unwrap().push((path, seed));
                }
                i += 1;
            }
        }));
    }
    let has_image = || {
        std::fs::read_dir(t.cluster.dir.join("namenode"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("image_"))
    };
    wait(
        Duration::from_secs(60),
        "acknowledged files and a checkpoint",
        || (acked.lock().unwrap().len() >= 60 && has_image()).then_some(()),
    );
    t.cluster.kill("namenode").unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    t.cluster.start("namenode").unwrap();
    t.cluster.wait_healthy(Duration::from_secs(60)).unwrap();
    let dfs = t.cluster.client().unwrap();
    for (path, seed) in &acked {
        let size = 1000 + (seed % 7) as usize * 40_000;
        let got = dfs
            .read_file(path)
            .unwrap_or_else(|e| panic!("{path} lost after restart: {e}"));
        assert!(
            got == data(size, *seed),
            "{path}: contents differ after restart"
        );
    }
    eprintln!("{} acknowledged files survived", acked.len());
}

#[test]
fn restart_stays_in_safe_mode_until_blocks_are_reported() {
    let t = start(2, 1, |_| {});
    t.dfs
        .write_file("/safe/f", &data(5000, 30), CreateOptions::default())
        .unwrap();
    t.dfs.mkdirs("/safe/dir").unwrap();
    t.cluster.down().unwrap();
    t.cluster.start("namenode").unwrap();
    let dfs = t.cluster.client().unwrap();
    // No datanode yet: reads of the namespace work, mutations are refused saying why.
    let err = wait(
        Duration::from_secs(20),
        "the namenode to answer",
        || match dfs.mkdirs("/safe/new") {
            Err(ClientError::Unreachable { .. }) => None,
            other => Some(other),
        },
    );
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("safe mode"), "{msg}");
    assert!(dfs.stat("/safe/dir").unwrap().is_dir);
    t.cluster.start_all().unwrap();
    t.cluster.wait_healthy(Duration::from_secs(30)).unwrap();
    dfs.mkdirs("/safe/new").unwrap();
    assert_eq!(dfs.read_file("/safe/f").unwrap(), data(5000, 30));
    // Owner and group are kept across the restart.
    let st = dfs.stat("/safe/f").unwrap();
    assert_eq!(st.owner, common::user::current());
    assert_eq!(st.group, "supergroup");
    assert_eq!(
        (st.mode, dfs.stat("/safe").unwrap().mode),
        (0o644, 0o755),
        "a parent made by create is a 0755 directory"
    );
}

#[test]
fn a_vanished_writers_file_is_recovered_with_the_acknowledged_bytes() {
    let t = start(3, 2, |s| s.namenode.default_block_size = 4 << 20);
    let bytes = data(3 * (512 << 10), 40);
    // A real writer process that is killed -9 before it closes the file.
    let mut writer = std::process::Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .arg("--config")
        .arg(t.cluster.client_config_path())
        .args(["fs", "put", "-", "/lease/f"])
        // put writes /lease/f._COPYING_ and renames it when complete, as HDFS does: a killed
        // put leaves that name.
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writer.stdin.as_mut().unwrap().write_all(&bytes).unwrap();
    writer.stdin.as_mut().unwrap().flush().unwrap();
    // Every full packet is sent; wait until each replica holds all of them.
    let id = wait(Duration::from_secs(10), "the block to exist", || {
        Some(
            t.dfs
                .block_locations("/lease/f._COPYING_")
                .ok()?
                .blocks
                .first()?
                .block?
                .id,
        )
    });
    wait(
        Duration::from_secs(10),
        "replicas to receive the bytes",
        || {
            let lens: Vec<u64> = (0..3)
                .flat_map(|i| tests::replica_files(&t.data_dirs(i), id))
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .collect();
            (lens.len() == 3 && lens.iter().all(|&l| l == bytes.len() as u64)).then_some(())
        },
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert!(t.dfs.stat("/lease/f._COPYING_").unwrap().under_construction);
    wait(
        Duration::from_secs(40),
        "lease recovery to close the file",
        || {
            let s = t.dfs.stat("/lease/f._COPYING_").ok()?;
            (!s.under_construction).then_some(())
        },
    );
    assert_eq!(
        t.dfs.stat("/lease/f._COPYING_").unwrap().length,
        bytes.len() as u64
    );
    assert_eq!(t.dfs.read_file("/lease/f._COPYING_").unwrap(), bytes);
    let f = t.dfs.fsck("/lease").unwrap();
    assert_eq!(f.blocks[0].replicas.len(), 3);
}

#[test]
fn a_damaged_edit_log_is_a_clear_start_up_error() {
    let t = start(1, 1, |_| {});
    for i in 0..50 {
        t.dfs.mkdirs(&format!("/edits/d{i}")).unwrap();
    }
    t.cluster.kill("namenode").unwrap();
    let meta = t.cluster.dir.join("namenode");
    let segment = std::fs::read_dir(&meta)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("edits_")
        })
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    t.cluster.start("namenode").unwrap();
    wait(
        Duration::from_secs(20),
        "the namenode to refuse to start",
        || t.cluster.pid("namenode").is_none().then_some(()),
    );
    let log = std::fs::read_to_string(t.cluster.dir.join("logs/namenode.log")).unwrap();
    let name = segment.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        log.contains(&name) && log.contains("corrupt"),
        "log must name the damaged file: {log}"
    );
}
