//! Replica placement follows the HDFS rule over hundreds of blocks, and readers get the
//! nearest replica first.

#![allow(clippy::unwrap_used)]

use client::{CreateOptions, DfsClient};
use std::collections::HashSet;
use tests::{data, start};

#[test]
fn placement_rule_holds_over_hundreds_of_blocks_and_reads_go_nearest_first() {
    let t = start(4, 2, |s| s.namenode.default_block_size = 64 << 10);
    // 300 blocks of 64 KiB, written by a client that is not a datanode.
    let bytes = data(300 * (64 << 10), 1);
    t.dfs
        .write_file(
            "/placement/big",
            &bytes,
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    let fsck = t.dfs.fsck("/placement").unwrap();
    assert_eq!(fsck.blocks.len(), 300);
    let mut first_nodes = HashSet::new();
    for b in &fsck.blocks {
        let nodes: Vec<&str> = b.replicas.iter().map(|r| r.node.as_str()).collect();
        let racks: Vec<&str> = b.replicas.iter().map(|r| r.rack.as_str()).collect();
        assert_eq!(
            nodes.len(),
            3,
            "block {:?} has {} replicas",
            b.block,
            nodes.len()
        );
        let distinct: HashSet<&str> = nodes.iter().copied().collect();
        assert_eq!(distinct.len(), 3, "two replicas on one node: {nodes:?}");
        let distinct_racks: HashSet<&str> = racks.iter().copied().collect();
        assert_eq!(
            distinct_racks.len(),
            2,
            "replicas must span both racks: {racks:?}"
        );
        first_nodes.insert(nodes[0]);
    }
    assert_eq!(fsck.mis_replicated + fsck.under_replicated, 0);

    // A writer on a datanode's host gets the first replica on that node.
    let mut cfg = t.cluster.client_config().unwrap();
    let dn0 = t.cluster.datanode_config(0).unwrap().data_addr;
    cfg.host = dn0.split(':').next().unwrap().to_string();
    let local = DfsClient::connect(cfg).unwrap();
    local
        .write_file(
            "/placement/local",
            &data(10 * (64 << 10), 2),
            CreateOptions::default(),
        )
        .unwrap();
    let located = local.block_locations("/placement/local").unwrap();
    for b in &located.blocks {
        assert_eq!(
            b.locations[0].data_addr, dn0,
            "reader on the node must read it locally first"
        );
        let racks: HashSet<&str> = b.locations.iter().map(|l| l.rack.as_str()).collect();
        assert_eq!(racks.len(), 2);
    }
    // Nearest first for a reader: same node, then same rack, then the other rack.
    let loc = local.block_locations("/placement/big").unwrap();
    let my_rack = t
        .dfs
        .cluster_report()
        .unwrap()
        .datanodes
        .iter()
        .find(|d| d.info.as_ref().unwrap().data_addr == dn0)
        .unwrap()
        .info
        .clone()
        .unwrap()
        .rack;
    for b in &loc.blocks {
        let dist = |l: &proto::dfs::DatanodeInfo| {
            if l.data_addr == dn0 {
                0
            } else if l.rack == my_rack {
                2
            } else {
                4
            }
        };
        let d: Vec<u32> = b.locations.iter().map(dist).collect();
        assert!(
            d.windows(2).all(|w| w[0] <= w[1]),
            "not nearest first: {d:?}"
        );
    }
    // And the bytes come back intact.
    assert_eq!(local.read_file("/placement/big").unwrap(), bytes);
}

#[test]
fn one_rack_spreads_replicas_over_distinct_nodes() {
    let t = start(4, 1, |s| s.namenode.default_block_size = 64 << 10);
    t.dfs
        .write_file(
            "/one-rack",
            &data(100 * (64 << 10), 3),
            CreateOptions::default(),
        )
        .unwrap();
    let fsck = t.dfs.fsck("/one-rack").unwrap();
    let mut per_node = std::collections::HashMap::new();
    for b in &fsck.blocks {
        let nodes: HashSet<&str> = b.replicas.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes.len(), 3);
        for n in nodes {
            *per_node.entry(n.to_string()).or_insert(0) += 1;
        }
    }
    assert_eq!(fsck.mis_replicated, 0, "one rack is not mis-replication");
    // 300 replicas over 4 nodes: each gets a fair share.
    assert_eq!(per_node.len(), 4);
    assert!(
        per_node.values().all(|&c| c > 40),
        "uneven spread: {per_node:?}"
    );
}
