//! The data path under faults (issue 18): re-replication converges when a surviving replica
//! is corrupt and a copy fails half-way; a datanode that dies at a block's last packet does
//! not fail the write; partial replicas of deleted or abandoned blocks are cleaned up.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::transfer::{self, Ack, BlockRef, Op, Packet, Reply, WriteStage};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tests::{data, flip_bytes, mrctl, replica_files, start, wait, TestCluster};

/// The `area` (`rbw` or `tmp`) folders of datanode `i`.
fn area(t: &TestCluster, i: usize, area: &str) -> Vec<PathBuf> {
    t.data_dirs(i)
        .iter()
        .map(|d| d.join("current").join(area))
        .collect()
}

/// Every file under the given folders.
fn files_in(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = dirs.to_vec();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// `mrctl fs fsck PATH`'s output.
fn fsck_text(t: &TestCluster, path: &str) -> String {
    let o = mrctl(t, &["fs", "fsck", path]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn live_count(t: &TestCluster) -> usize {
    t.dfs
        .cluster_report()
        .map(|r| r.datanodes.iter().filter(|d| d.state == "live").count())
        .unwrap_or(0)
}

fn state_of(t: &TestCluster, i: usize) -> String {
    let addr = t.cluster.datanode_config(i).unwrap().data_addr;
    t.dfs
        .cluster_report()
        .ok()
        .and_then(|r| {
            r.datanodes
                .into_iter()
                .find(|d| d.info.as_ref().is_some_and(|n| n.data_addr == addr))
        })
        .map(|d| d.state)
        .unwrap_or_default()
}

#[test]
fn a_block_with_a_dead_and_a_corrupt_replica_converges_to_three_good_replicas() {
    let t = start(5, 2, |s| {
        s.namenode.default_block_size = 4 << 20;
        // The scanner finds the rot if no copy reads it first.
        s.datanode.scan_pass_interval_ms = 1_000;
    });
    // Datanode 4 stays away for now, so the block has nowhere to go and its state holds
    // still long enough to be looked at.
    t.cluster.kill("datanode-4").unwrap();
    wait(Duration::from_secs(60), "datanode-4 to be dead", || {
        (state_of(&t, 4) == "dead").then_some(())
    });
    let bytes = data(4 << 20, 30);
    t.dfs
        .write_file("/heal/file", &bytes, CreateOptions::default())
        .unwrap();
    let loc = t.dfs.block_locations("/heal/file").unwrap();
    let b = loc.blocks[0].clone();
    let id = b.block.unwrap().id;
    assert_eq!(b.locations.len(), 3);
    let holders: Vec<usize> = b
        .locations
        .iter()
        .map(|l| t.datanode_index(&l.data_addr))
        .collect();
    let (dead, rotten) = (holders[0], holders[1]);
    let dead_addr = t.cluster.datanode_config(dead).unwrap().data_addr;
    let rotten_addr = t.cluster.datanode_config(rotten).unwrap().data_addr;
    t.cluster.kill(&format!("datanode-{dead}")).unwrap();
    let files = replica_files(&t.data_dirs(rotten), id);
    assert_eq!(files.len(), 1);
    flip_bytes(&files[0], (3 << 20) / 2);

    // Before: two good replicas (the survivor and a copy to the fourth node), the rotten one
    // known as corrupt, and no fifth node to take a third: fsck says so, not HEALTHY.
    let before = wait(
        Duration::from_secs(60),
        "two good replicas and one known corrupt",
        || {
            let f = t.dfs.fsck("/heal").ok()?;
            let blk = &f.blocks[0];
            let good: Vec<&str> = blk
                .replicas
                .iter()
                .filter(|r| !r.corrupt)
                .map(|r| r.node.as_str())
                .collect();
            let corrupt: Vec<&str> = blk
                .replicas
                .iter()
                .filter(|r| r.corrupt)
                .map(|r| r.node.as_str())
                .collect();
            (good.len() == 2
                && !good.contains(&dead_addr.as_str())
                && corrupt == [rotten_addr.as_str()])
            .then_some(f)
        },
    );
    assert_eq!(before.under_replicated, 1, "{before:?}");
    let text = fsck_text(&t, "/heal");
    assert!(text.contains("Status: DEGRADED"), "{text}");
    assert!(text.contains("UNDER-REPLICATED"), "{text}");
    assert!(text.contains("(corrupt)"), "{text}");
    // Whatever copy failed half-way left nothing in a being-written area.
    for i in (0..4).filter(|&i| i != dead) {
        let mut dirs = area(&t, i, "tmp");
        dirs.extend(area(&t, i, "rbw"));
        wait(Duration::from_secs(30), "no partial copy left", || {
            files_in(&dirs).is_empty().then_some(())
        });
    }

    // After: a fifth node joins; the block gets a third good replica and the corrupt one goes.
    t.cluster.start("datanode-4").unwrap();
    let after = wait(Duration::from_secs(90), "three good replicas", || {
        let f = t.dfs.fsck("/heal").ok()?;
        let blk = &f.blocks[0];
        let ok = blk.replicas.len() == 3
            && blk
                .replicas
                .iter()
                .all(|r| !r.corrupt && !r.stale && r.node != dead_addr && r.node != rotten_addr);
        (ok && f.under_replicated + f.corrupt + f.missing == 0).then_some(f)
    });
    assert_eq!(after.blocks.len(), 1);
    assert!(fsck_text(&t, "/heal").contains("Status: HEALTHY"));
    wait(
        Duration::from_secs(30),
        "the corrupt replica deleted",
        || {
            replica_files(&t.data_dirs(rotten), id)
                .is_empty()
                .then_some(())
        },
    );
    assert_eq!(t.dfs.read_file("/heal/file").unwrap(), bytes);
}

#[test]
fn a_copy_that_fails_midway_leaves_nothing_and_the_same_target_takes_the_next_copy() {
    let t = start(3, 1, |s| s.namenode.default_block_size = 4 << 20);
    let bytes = data(4 << 20, 31);
    t.dfs
        .write_file(
            "/copy/file",
            &bytes,
            CreateOptions {
                replication: 2,
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    let loc = t.dfs.block_locations("/copy/file").unwrap();
    let b = loc.blocks[0].clone();
    let id = b.block.unwrap().id;
    let holders: Vec<usize> = b
        .locations
        .iter()
        .map(|l| t.datanode_index(&l.data_addr))
        .collect();
    assert_eq!(holders.len(), 2);
    let (rotten, away) = (holders[0], holders[1]);
    let target = (0..3).find(|i| !holders.contains(i)).unwrap();
    let rotten_addr = t.cluster.datanode_config(rotten).unwrap().data_addr;
    let files = replica_files(&t.data_dirs(rotten), id);
    flip_bytes(&files[0], (3 << 20) / 2);
    // The only source left is the rotten replica: its copy to the third node fails after
    // 1.5 MiB, and the source reports itself corrupt.
    t.cluster.kill(&format!("datanode-{away}")).unwrap();
    wait(
        Duration::from_secs(60),
        "the failed copy to mark the source corrupt",
        || {
            let f = t.dfs.fsck("/copy").ok()?;
            f.blocks[0]
                .replicas
                .iter()
                .any(|r| r.corrupt && r.node == rotten_addr)
                .then_some(())
        },
    );
    // The target dropped the partial copy.
    let tmp = area(&t, target, "tmp");
    wait(Duration::from_secs(30), "the partial copy dropped", || {
        files_in(&tmp).is_empty().then_some(())
    });
    // A good replica comes back: it is copied to the same target, which takes it.
    t.cluster.start(&format!("datanode-{away}")).unwrap();
    let target_addr = t.cluster.datanode_config(target).unwrap().data_addr;
    wait(
        Duration::from_secs(60),
        "the block copied to the same target",
        || {
            let f = t.dfs.fsck("/copy").ok()?;
            let r = &f.blocks[0].replicas;
            (r.len() == 2
                && r.iter().all(|x| !x.corrupt)
                && r.iter().any(|x| x.node == target_addr))
            .then_some(())
        },
    );
    assert_eq!(t.dfs.read_file("/copy/file").unwrap(), bytes);
}

#[test]
fn a_datanode_dying_at_a_blocks_last_packet_does_not_fail_the_put() {
    let t = start(4, 2, |_| {});
    // Datanode 3 is restarted with the test hook: it exits when a block's last packet
    // arrives, after passing it on, so the others have finalized the block by then.
    let victim = 3;
    t.cluster.kill(&format!("datanode-{victim}")).unwrap();
    let cfg = t.cluster.dir.join(format!("datanode-{victim}.toml"));
    let text = std::fs::read_to_string(&cfg).unwrap();
    let off = "exit_at_last_packet_for_tests = false";
    assert!(text.contains(off), "{text}");
    std::fs::write(
        &cfg,
        text.replace(off, "exit_at_last_packet_for_tests = true"),
    )
    .unwrap();
    t.cluster.start(&format!("datanode-{victim}")).unwrap();
    wait(Duration::from_secs(60), "all four datanodes live", || {
        (live_count(&t) == 4 && state_of(&t, victim) == "live").then_some(())
    });
    let victim_addr = t.cluster.datanode_config(victim).unwrap().data_addr;

    // Block by block until a pipeline through the victim ends: 3 of 4 nodes per block, so
    // a handful of blocks is plenty.
    let bytes = data(12 << 20, 32);
    t.dfs
        .write_file(
            "/last/file",
            &bytes,
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        t.cluster.pid(&format!("datanode-{victim}")).is_none(),
        "the victim must have died at a last packet"
    );
    assert_eq!(t.dfs.read_file("/last/file").unwrap(), bytes);
    wait(Duration::from_secs(90), "full replication", || {
        let f = t.dfs.fsck("/last").ok()?;
        (f.blocks.len() == 12
            && f.blocks.iter().all(|b| {
                b.replicas.len() == 3
                    && b.replicas
                        .iter()
                        .all(|r| !r.corrupt && !r.stale && r.node != victim_addr)
            }))
        .then_some(())
    });
    assert_eq!(t.dfs.read_file("/last/file").unwrap(), bytes);
}

/// Starts a client write of block `id` on `addr` as a pipeline of one, sends one packet and
/// hangs up: a partial replica the namenode never heard of.
fn leave_partial_replica(t: &TestCluster, addr: &str, id: u64) {
    let sock = transfer::connect(addr).unwrap();
    let mut out = std::io::BufWriter::new(sock.try_clone().unwrap());
    let mut input = std::io::BufReader::new(sock);
    transfer::write_op(
        &mut out,
        &Op::Write {
            block: BlockRef { id, gen: 1 },
            stage: WriteStage::Create,
            targets: vec![],
            bytes_per_checksum: 4096,
            client: "test".into(),
            token: t.block_token(id, 1, common::auth::BlockAccess::WRITE),
        },
    )
    .unwrap();
    assert!(matches!(
        transfer::read_reply(&mut input).unwrap(),
        Reply::WriteReady
    ));
    let body = data(8192, 33);
    let mut sums = Vec::new();
    common::checksum::compute(&body, 4096, &mut sums);
    let p = Packet {
        seqno: 0,
        offset: 0,
        last: false,
        sums,
        data: body,
    };
    p.write_to(&mut out).unwrap();
    out.flush().unwrap();
    let ack = Ack::read_from(&mut input).unwrap();
    assert_eq!(ack.seqno, 0);
}

#[test]
fn partial_replicas_of_deleted_or_abandoned_blocks_are_cleaned_up() {
    let t = start(3, 1, |s| {
        // Plain frames to the transfer port (a client's half write): the protocol under TLS.
        s.security.insecure = true;
        s.datanode.abandoned_replica_age_ms = 2_000;
        // No full block report to clean up in the meantime: the sweep must do it.
        s.namenode.block_report_interval_ms = 3_600_000;
    });
    // A client killed mid-write, then its file deleted.
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    let mut put = std::process::Command::new(bin)
        .arg("--config")
        .arg(t.cluster.client_config_path())
        .args(["fs", "put", "-", "/gone-file"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = put.stdin.take().unwrap();
    stdin.write_all(&data((3 << 20) / 2, 34)).unwrap();
    stdin.flush().unwrap();
    let rbw: Vec<PathBuf> = (0..3).flat_map(|i| area(&t, i, "rbw")).collect();
    wait(Duration::from_secs(60), "a replica being written", || {
        (!files_in(&rbw).is_empty()).then_some(())
    });
    put.kill().unwrap();
    put.wait().unwrap();
    drop(stdin);
    // put writes under a temporary name until complete, as HDFS does.
    t.dfs.delete("/gone-file._COPYING_", false).unwrap();

    // A partial replica the namenode never heard of (a write that failed before any report,
    // say on a full disk), and stray files in the temporary area of a running node.
    let addr = t.cluster.datanode_config(0).unwrap().data_addr;
    leave_partial_replica(&t, &addr, 987_654_321);
    assert_eq!(replica_files(&area(&t, 0, "rbw"), 987_654_321).len(), 1);
    let stray = area(&t, 1, "tmp")[0].join("subdir00");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("blk_77"), b"partial").unwrap();
    std::fs::write(stray.join("blk_77_1000.meta"), b"xx").unwrap();

    let mut all: Vec<PathBuf> = (0..3).flat_map(|i| area(&t, i, "rbw")).collect();
    all.extend((0..3).flat_map(|i| area(&t, i, "tmp")));
    wait(
        Duration::from_secs(60),
        "the being-written areas to empty",
        || {
            let left = files_in(&all);
            left.is_empty().then_some(())
        },
    );
    // The cluster still writes and reads.
    let bytes = data(2 << 20, 35);
    t.dfs
        .write_file(
            "/after/file",
            &bytes,
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(t.dfs.read_file("/after/file").unwrap(), bytes);
}
