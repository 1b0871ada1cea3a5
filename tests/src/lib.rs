//! Helpers shared by the integration tests: a fast local cluster in a temp dir, test data,
//! and waiting on a condition with a deadline (never sleeping and hoping).
//!
//! The tests run the release binaries of `namenode`, `datanode` and `mrctl` from
//! `target/release` (or `MR_BIN_DIR`); `scripts/test.sh` builds them before testing, since
//! `cargo test` alone does not rebuild other packages' binaries.

#![allow(clippy::unwrap_used)]

use client::cluster::{ClusterSpec, LocalCluster};
use client::DfsClient;
use std::path::PathBuf;
use std::time::Duration;

pub struct TestCluster {
    pub cluster: LocalCluster,
    pub dfs: DfsClient,
    // Dropped after the cluster handle, which stops the daemons first.
    _dir: tempfile::TempDir,
}

/// Starts a cluster with short intervals; `tweak` adjusts the spec first.
pub fn start(datanodes: usize, racks: usize, tweak: impl FnOnce(&mut ClusterSpec)) -> TestCluster {
    let dir = tempfile::Builder::new()
        .prefix("mr-test-")
        .tempdir()
        .unwrap();
    let mut spec = ClusterSpec::fast(datanodes, racks);
    tweak(&mut spec);
    let cluster = LocalCluster::up(dir.path(), spec).unwrap();
    let dfs = cluster.client().unwrap();
    TestCluster {
        cluster,
        dfs,
        _dir: dir,
    }
}

impl TestCluster {
    /// Data dirs of datanode `i`.
    pub fn data_dirs(&self, i: usize) -> Vec<PathBuf> {
        self.cluster.datanode_config(i).unwrap().data_dirs
    }

    /// Index of the datanode serving `data_addr`.
    pub fn datanode_index(&self, data_addr: &str) -> usize {
        (0..self.cluster.spec.datanodes)
            .find(|&i| self.cluster.datanode_config(i).unwrap().data_addr == data_addr)
            .unwrap()
    }
}

/// Deterministic bytes that differ per seed and position.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Polls until `check` yields a value; panics naming `what` after `timeout`.
pub fn wait<T>(timeout: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    client::cluster::wait_for(timeout, what, check).unwrap()
}

/// Every replica file of block `id` under the given data dirs.
pub fn replica_files(dirs: &[PathBuf], id: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let name = format!("blk_{id}");
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name.as_str()) {
                out.push(p);
            }
        }
    }
    out
}
