//! Bit rot on disk: readers still get the right bytes, the namenode is told, and the bad
//! replica is replaced; the block scanner finds rot nobody has read yet.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::time::Duration;
use tests::{data, flip_bytes, replica_files, start, wait};

#[test]
fn corrupt_replica_is_read_around_reported_and_replaced_streamed() {
    corrupt_replica_is_read_around_reported_and_replaced(false);
}

#[test]
fn corrupt_replica_is_read_around_reported_and_replaced_short_circuit() {
    corrupt_replica_is_read_around_reported_and_replaced(true);
}

fn corrupt_replica_is_read_around_reported_and_replaced(short_circuit: bool) {
    let t = start(4, 2, |s| s.datanode.scan_pass_interval_ms = 3_600_000);
    let mut cfg = t.cluster.client_config().unwrap();
    cfg.short_circuit = short_circuit;
    let reader = client::DfsClient::connect(cfg).unwrap();
    let bytes = data(700_000, 20);
    t.dfs
        .write_file("/rot/file", &bytes, CreateOptions::default())
        .unwrap();
    let loc = t.dfs.block_locations("/rot/file").unwrap();
    let b = loc.blocks[0].clone();
    let id = b.block.unwrap().id;
    // Corrupt the replica the reader tries first.
    let first = t.datanode_index(&b.locations[0].data_addr);
    let files = replica_files(&t.data_dirs(first), id);
    assert_eq!(files.len(), 1);
    flip_bytes(&files[0], 100_000);

    assert_eq!(
        reader.read_file("/rot/file").unwrap(),
        bytes,
        "the reader must not see bad bytes"
    );
    let bad_node = b.locations[0].data_addr.clone();
    wait(
        Duration::from_secs(30),
        "the corrupt replica to be replaced",
        || {
            let f = t.dfs.fsck("/rot").ok()?;
            let blk = &f.blocks[0];
            let good = blk.replicas.iter().filter(|r| !r.corrupt).count();
            (good == 3 && blk.replicas.iter().all(|r| r.node != bad_node)).then_some(())
        },
    );
    // The corrupt file is deleted from the node's disk.
    wait(
        Duration::from_secs(20),
        "the corrupt replica file to be deleted",
        || {
            replica_files(&t.data_dirs(first), id)
                .is_empty()
                .then_some(())
        },
    );
    assert_eq!(t.dfs.read_file("/rot/file").unwrap(), bytes);
}

#[test]
fn block_scanner_finds_rot_before_any_reader() {
    let t = start(3, 1, |s| s.datanode.scan_pass_interval_ms = 300);
    let bytes = data(300_000, 21);
    t.dfs
        .write_file("/scan/file", &bytes, CreateOptions::default())
        .unwrap();
    let loc = t.dfs.block_locations("/scan/file").unwrap();
    let id = loc.blocks[0].block.unwrap().id;
    let victim = t.datanode_index(&loc.blocks[0].locations[2].data_addr);
    let victim_addr = loc.blocks[0].locations[2].data_addr.clone();
    flip_bytes(&replica_files(&t.data_dirs(victim), id)[0], 5);
    // Nobody reads; the scanner reports it and it is re-created (it is the only place left
    // with 3 nodes, so the node gets a fresh good copy after the bad one is deleted).
    wait(
        Duration::from_secs(30),
        "the scanner to report the corrupt replica",
        || {
            let f = t.dfs.fsck("/scan").ok()?;
            f.blocks[0]
                .replicas
                .iter()
                .any(|r| r.node == victim_addr && r.corrupt)
                .then_some(())
        },
    );
    assert_eq!(t.dfs.read_file("/scan/file").unwrap(), bytes);
}
