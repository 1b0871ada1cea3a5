//! The balancer on real daemons with security on: a new empty datanode added to a running
//! cluster with `mrctl cluster up --datanodes 4` is brought within the threshold of the mean by
//! `mrctl admin balance`, every file reads back identical, no block is under-replicated and
//! the rack rule holds; the capacity cap is what the datanodes report; a non-superuser may not
//! balance.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use cluster::{ClusterSpec, LocalCluster};
use std::collections::HashSet;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, wait};

const CAP: u64 = 16 << 20;

#[test]
fn balance_brings_a_new_empty_datanode_within_the_threshold_keeping_every_replica_and_the_rack_rule(
) {
    let t = start(3, 2, |s| {
        s.namenode.default_block_size = 256 << 10;
        s.datanode.capacity_bytes = CAP;
    });
    // The cap is what each datanode reports as its capacity (the disk is far larger).
    wait(Duration::from_secs(20), "capped capacities", || {
        let r = t.dfs.cluster_report().ok()?;
        r.datanodes.iter().all(|d| d.capacity == CAP).then_some(())
    });
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("/bal/f{i}"), data(2 << 20, 40 + i as u64)))
        .collect();
    for (path, bytes) in &files {
        t.dfs
            .write_file(path, bytes, CreateOptions::default())
            .unwrap();
    }
    // A fourth, empty datanode joins through `mrctl cluster up` on the existing directory.
    let dir = t.cluster.dir.clone();
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    let up = std::process::Command::new(bin)
        .args(["cluster", "up", "--dir"])
        .arg(&dir)
        .args(["--datanodes", "4"])
        .output()
        .unwrap();
    // Stops every daemon of the grown cluster when the test ends.
    let grown = LocalCluster::prepare(&dir, ClusterSpec::default()).unwrap();
    assert!(
        up.status.success(),
        "cluster up --datanodes 4: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(grown.spec.datanodes, 4);
    let new_addr = grown.datanode_config(3).unwrap().data_addr;
    // Live, on the rack `cluster up` wrote for it in the shared topology file.
    wait(Duration::from_secs(30), "the new datanode live", || {
        let r = t.dfs.cluster_report().ok()?;
        r.datanodes
            .iter()
            .any(|d| {
                d.state == "live"
                    && d.info
                        .as_ref()
                        .is_some_and(|i| i.data_addr == new_addr && i.rack == "/rack1")
            })
            .then_some(())
    });

    // bob is no superuser: refused.
    let bob = t.cluster.client_config_for("bob", &[]).unwrap();
    let o = mrctl_with(&bob, &[("USER", "bob")], &["admin", "balance"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "bob balanced the cluster");
    assert!(err.contains("only superusers"), "{err}");

    let o = mrctl(
        &t,
        &["admin", "balance", "--threshold", "10", "--bandwidth", "50"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "balance failed: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("iteration 1"), "{out}");
    assert!(out.contains("balanced"), "{out}");

    // The datanodes' own reports agree once the moved-away replicas are deleted.
    wait(
        Duration::from_secs(30),
        "heartbeats showing balance",
        || {
            let r = t.dfs.cluster_report().ok()?;
            let live: Vec<_> = r.datanodes.iter().filter(|d| d.state == "live").collect();
            let used: u64 = live.iter().map(|d| d.used).sum();
            let cap: u64 = live.iter().map(|d| d.capacity).sum();
            let mean = 100.0 * used as f64 / cap as f64;
            (live.len() == 4
                && live.iter().all(|d| {
                    let u = 100.0 * d.used as f64 / d.capacity as f64;
                    (u - mean).abs() <= 10.0
                }))
            .then_some(())
        },
    );
    let fsck = wait(Duration::from_secs(30), "no excess replicas", || {
        let o = mrctl(&t, &["fs", "fsck", "/bal", "--blocks", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        let blocks = v["blocks"].as_array()?;
        blocks
            .iter()
            .all(|b| b["replicas"].as_array().is_some_and(|r| r.len() == 3))
            .then_some(v)
    });
    assert_eq!(fsck["under_replicated"], 0);
    assert_eq!(fsck["mis_replicated"], 0);
    let mut on_new = 0;
    for b in fsck["blocks"].as_array().unwrap() {
        let reps = b["replicas"].as_array().unwrap();
        let nodes: HashSet<&str> = reps.iter().map(|r| r["node"].as_str().unwrap()).collect();
        let racks: HashSet<&str> = reps.iter().map(|r| r["rack"].as_str().unwrap()).collect();
        assert_eq!(nodes.len(), 3, "two replicas on one node: {b}");
        assert!(racks.len() >= 2, "rack rule broken: {b}");
        on_new += nodes.contains(new_addr.as_str()) as usize;
    }
    assert!(on_new > 0, "nothing moved to the new datanode");
    for (path, bytes) in &files {
        assert_eq!(&t.dfs.read_file(path).unwrap(), bytes, "{path} changed");
    }
}
