//! Losing a datanode, for real: its blocks come back to full replication on live nodes, and a
//! write that was going through it carries on. Replication changes are carried out.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::io::Write;
use std::time::{Duration, Instant};
use tests::{data, start, wait};

#[test]
fn blocks_return_to_full_replication_after_a_datanode_is_killed() {
    let t = start(4, 2, |s| {
        s.namenode.default_block_size = 256 << 10;
        s.disks = 2;
    });
    let bytes = data(40 * (256 << 10), 10);
    t.dfs
        .write_file("/loss/file", &bytes, CreateOptions::default())
        .unwrap();
    let victim = t.cluster.datanode_config(1).unwrap().data_addr;
    let held = t
        .dfs
        .fsck("/loss")
        .unwrap()
        .blocks
        .iter()
        .filter(|b| b.replicas.iter().any(|r| r.node == victim))
        .count();
    assert!(held > 0, "the victim must hold some blocks");

    let killed = Instant::now();
    t.cluster.kill("datanode-1").unwrap();
    let dead_after = Duration::from_millis(t.cluster.spec.namenode.dead_after_ms);
    let healed = wait(
        dead_after + Duration::from_secs(30),
        "re-replication",
        || {
            let f = t.dfs.fsck("/loss").ok()?;
            let ok = f.blocks.iter().all(|b| {
                b.replicas.len() == 3 && b.replicas.iter().all(|r| r.node != victim && !r.stale)
            });
            (ok && f.under_replicated == 0).then_some(f)
        },
    );
    eprintln!("re-replicated {held} blocks in {:?}", killed.elapsed());
    assert_eq!(healed.mis_replicated, 0);
    let report = t.dfs.cluster_report().unwrap();
    let dead = report
        .datanodes
        .iter()
        .find(|d| d.info.as_ref().unwrap().data_addr == victim)
        .unwrap();
    assert_eq!(dead.state, "dead");
    assert_eq!(t.dfs.read_file("/loss/file").unwrap(), bytes);
    // Replicas are spread over both data dirs of a node.
    for disk in t.data_dirs(0) {
        let blocks = std::fs::read_dir(disk.join("current/finalized"))
            .unwrap()
            .count();
        assert!(blocks > 0, "{} holds no replica", disk.display());
    }
}

#[test]
fn a_put_survives_a_datanode_killed_in_the_middle() {
    let t = start(4, 2, |s| s.namenode.default_block_size = 2 << 20);
    let bytes = data(24 << 20, 11);
    let mut w = t
        .dfs
        .create(
            "/midput/file",
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    // Write a third, kill a datanode of the current pipeline, write the rest.
    w.write_all(&bytes[..8 << 20]).unwrap();
    let loc = t.dfs.block_locations("/midput/file").unwrap();
    let current = loc.blocks.last().unwrap();
    let victim = t.datanode_index(&current.locations[1].data_addr);
    t.cluster.kill(&format!("datanode-{victim}")).unwrap();
    w.write_all(&bytes[8 << 20..]).unwrap();
    w.close().unwrap();
    assert_eq!(t.dfs.read_file("/midput/file").unwrap(), bytes);
    // The block that lost a replica mid-write is brought back to 3 on live nodes.
    let victim_addr = t.cluster.datanode_config(victim).unwrap().data_addr;
    wait(
        Duration::from_secs(40),
        "full replication after the put",
        || {
            let f = t.dfs.fsck("/midput").ok()?;
            f.blocks
                .iter()
                .all(|b| b.replicas.len() == 3 && b.replicas.iter().all(|r| r.node != victim_addr))
                .then_some(())
        },
    );
    assert_eq!(t.dfs.read_file("/midput/file").unwrap(), bytes);

    // Restarted, the killed node finds its half-written replica: it is never reported as
    // finalized, so the namenode has it deleted and the file stays healthy.
    t.cluster.start(&format!("datanode-{victim}")).unwrap();
    let rbw: Vec<std::path::PathBuf> = t
        .data_dirs(victim)
        .iter()
        .map(|d| d.join("current/rbw"))
        .collect();
    wait(
        Duration::from_secs(30),
        "the half-written replica to be deleted",
        || {
            let left: usize = loc
                .blocks
                .iter()
                .map(|b| tests::replica_files(&rbw, b.block.unwrap().id).len())
                .sum();
            (left == 0).then_some(())
        },
    );
    let f = t.dfs.fsck("/midput").unwrap();
    assert_eq!(f.under_replicated + f.corrupt + f.missing, 0);
    assert_eq!(t.dfs.read_file("/midput/file").unwrap(), bytes);
}

#[test]
fn setrep_up_and_down_is_carried_out() {
    let t = start(4, 2, |_| {});
    t.dfs
        .write_file(
            "/rep/f",
            &data(300_000, 12),
            CreateOptions {
                replication: 2,
                ..Default::default()
            },
        )
        .unwrap();
    let count = |n: usize| {
        move |f: proto::dfs::FsckResponse| f.blocks.iter().all(|b| b.replicas.len() == n)
    };
    assert!(count(2)(t.dfs.fsck("/rep").unwrap()));
    t.dfs.set_replication("/rep/f", 4).unwrap();
    wait(Duration::from_secs(20), "4 replicas", || {
        count(4)(t.dfs.fsck("/rep").ok()?).then_some(())
    });
    t.dfs.set_replication("/rep/f", 1).unwrap();
    wait(Duration::from_secs(20), "1 replica", || {
        count(1)(t.dfs.fsck("/rep").ok()?).then_some(())
    });
    // The deleted replicas are really gone from the disks.
    wait(Duration::from_secs(20), "replica files deleted", || {
        let id = t.dfs.fsck("/rep").ok()?.blocks[0].block.unwrap().id;
        let files: usize = (0..4)
            .map(|i| tests::replica_files(&t.data_dirs(i), id).len())
            .sum();
        (files == 1).then_some(())
    });
    assert_eq!(t.dfs.read_file("/rep/f").unwrap(), data(300_000, 12));
}

#[test]
fn a_silent_datanode_turns_stale_and_is_read_last_then_live_again() {
    let t = start(3, 1, |_| {});
    t.dfs
        .write_file("/stale/f", &data(100_000, 13), CreateOptions::default())
        .unwrap();
    let frozen = t.cluster.datanode_config(0).unwrap().data_addr;
    let state = |addr: &str| -> Option<String> {
        let r = t.dfs.cluster_report().ok()?;
        let d = r
            .datanodes
            .iter()
            .find(|d| d.info.as_ref().unwrap().data_addr == addr)?;
        Some(d.state.clone())
    };
    t.cluster.send_signal("datanode-0", libc::SIGSTOP).unwrap();
    wait(
        Duration::from_secs(10),
        "the frozen datanode to be stale",
        || (state(&frozen)? == "stale").then_some(()),
    );
    let loc = t.dfs.block_locations("/stale/f").unwrap();
    let last = loc.blocks[0].locations.last().unwrap();
    assert_eq!(last.data_addr, frozen, "a stale node is read last");
    // Reads still work while it is frozen: the other replicas come first.
    assert_eq!(t.dfs.read_file("/stale/f").unwrap(), data(100_000, 13));
    t.cluster.send_signal("datanode-0", libc::SIGCONT).unwrap();
    wait(
        Duration::from_secs(10),
        "the datanode to be live again",
        || (state(&frozen)? == "live").then_some(()),
    );
}
