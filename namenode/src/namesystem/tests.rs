//! The namesystem's decision rules driven without processes: virtual datanodes register,
//! heartbeat and report through the namesystem's own methods, a [`ManualClock`] stands for
//! time, and a temp dir holds the journal.

use super::{LastBlock, Namesystem, ReportDiff, ReportedReplica};
use crate::datanodes::{Commands, Invalidate, NodeInfo};
use crate::error::NnError;
use crate::namespace::Perm;
use crate::permission::Subject;
use common::clock::{ManualClock, SharedClock};
use common::config::{NamenodeConfig, TopologyConfig};
use common::ids::{BlockId, GenStamp, NodeId};
use common::topology::Topology;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const LEN: u64 = 1000;

/// A namesystem and its virtual datanodes, each `(host, rack)`.
struct Harness {
    ns: Namesystem,
    clock: Arc<ManualClock>,
    dir: TempDir,
    nodes: Vec<NodeId>,
    hosts: HashMap<NodeId, String>,
}

fn config(dir: &TempDir) -> NamenodeConfig {
    NamenodeConfig {
        meta_dir: dir.path().join("meta"),
        default_block_size: 1 << 20,
        dead_after_ms: 30_000,
        stale_after_ms: 10_000,
        lease_hard_limit_ms: 60_000,
        ..NamenodeConfig::default()
    }
}

fn topology(racks: &[(&str, &str)]) -> Topology {
    let mut t = TopologyConfig::default();
    for (host, rack) in racks {
        t.racks.insert((*host).into(), (*rack).into());
    }
    Topology::new(t)
}

fn perm() -> Perm {
    Perm {
        owner: "alice".into(),
        group: "staff".into(),
        mode: 0o644,
    }
}

/// The namesystem's own rules are tested as a caller no permission check stops.
fn su() -> Subject {
    Subject::superuser("root")
}

impl Harness {
    /// A fresh namespace with datanodes on the given `(host, rack)`s, out of safe mode.
    fn new(racks: &[(&str, &str)]) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new();
        let shared: SharedClock = clock.clone();
        let ns = Namesystem::open(config(&dir), topology(racks), shared).expect("open");
        let mut h = Harness {
            ns,
            clock,
            dir,
            nodes: Vec::new(),
            hosts: HashMap::new(),
        };
        for (host, _) in racks {
            h.add_node(host);
        }
        h.ns.check_safe_mode();
        assert_eq!(h.ns.cluster_report().safe_mode, None);
        h
    }

    fn add_node(&mut self, host: &str) -> NodeId {
        let id = NodeId(self.nodes.len() as u64 + 1);
        self.ns
            .register(id, host.into(), format!("{host}:9866"))
            .expect("register");
        self.nodes.push(id);
        self.hosts.insert(id, host.into());
        id
    }

    fn node(&self, host: &str) -> NodeId {
        self.nodes
            .iter()
            .copied()
            .find(|n| self.hosts[n] == host)
            .expect("known host")
    }

    /// Moves time on while every node but `silent` keeps heartbeating; returns the commands
    /// each live node was handed.
    fn advance(&self, by: Duration, silent: &[NodeId]) -> HashMap<NodeId, Commands> {
        let step = Duration::from_secs(3);
        let mut out: HashMap<NodeId, Commands> = HashMap::new();
        let mut gone = Duration::ZERO;
        while gone < by {
            let d = step.min(by - gone);
            self.clock.advance(d);
            gone += d;
            for (n, c) in self.heartbeat_all(silent) {
                let e = out.entry(n).or_default();
                e.replicate.extend(c.replicate);
                e.invalidate.extend(c.invalidate);
                e.recover.extend(c.recover);
            }
        }
        out
    }

    fn heartbeat_all(&self, silent: &[NodeId]) -> HashMap<NodeId, Commands> {
        self.nodes
            .iter()
            .filter(|n| !silent.contains(n))
            .filter_map(|&n| self.ns.heartbeat(n, 1 << 40, 0, 1 << 40).map(|c| (n, c)))
            .collect()
    }

    /// Creates `path` and allocates its first block from `writer`; returns it and its pipeline.
    fn start_file(&self, path: &str, replication: u32, writer: &str) -> (BlockId, Vec<NodeId>) {
        self.ns
            .create(&su(), path, perm(), replication, 0, "writer", true)
            .expect("create");
        let (b, _) = self
            .ns
            .add_block(&su(), path, 0, "writer", None, &[], writer)
            .expect("add_block");
        (b.id, b.nodes.iter().map(|n| n.id).collect())
    }

    /// The pipeline nodes report a finalized replica and the writer closes the file.
    fn finish_file(&self, path: &str, block: BlockId, pipeline: &[NodeId]) {
        let gen = self.gen_of(path);
        for &n in pipeline {
            self.report(n, block, gen, LEN, true);
        }
        self.ns
            .complete(
                &su(),
                path,
                0,
                "writer",
                Some(LastBlock { block, len: LEN }),
            )
            .expect("complete");
    }

    fn write_file(&self, path: &str, replication: u32, writer: &str) -> (BlockId, Vec<NodeId>) {
        let (b, pipeline) = self.start_file(path, replication, writer);
        self.finish_file(path, b, &pipeline);
        (b, pipeline)
    }

    fn report(&self, node: NodeId, block: BlockId, gen: GenStamp, len: u64, finalized: bool) {
        let r = ReportedReplica {
            block,
            gen,
            len,
            finalized,
        };
        self.ns.incremental_report(node, &[r], &[]).expect("report");
    }

    fn gen_of(&self, path: &str) -> GenStamp {
        self.ns
            .locations(&su(), path, "")
            .expect("locations")
            .blocks[0]
            .gen
    }

    /// Where the first block of `path` has good replicas.
    fn holders(&self, path: &str) -> Vec<NodeInfo> {
        let l = self.ns.locations(&su(), path, "").expect("locations");
        l.blocks[0].nodes.clone()
    }

    fn rack_of(&self, n: NodeId) -> String {
        let info = self.ns.cluster_report();
        info.datanodes
            .into_iter()
            .find(|d| d.node.id == n)
            .expect("node")
            .node
            .rack
    }
}

fn two_racks() -> Vec<(&'static str, &'static str)> {
    vec![
        ("h1", "/r1"),
        ("h2", "/r1"),
        ("h3", "/r1"),
        ("h4", "/r2"),
        ("h5", "/r2"),
        ("h6", "/r2"),
    ]
}

#[test]
fn placement_puts_the_first_replica_on_the_writer_and_spreads_over_two_racks() {
    let h = Harness::new(&two_racks());
    for i in 0..20 {
        let (_, pipeline) = h.start_file(&format!("/f{i}"), 3, "h2");
        assert_eq!(pipeline.len(), 3);
        assert_eq!(
            pipeline[0],
            h.node("h2"),
            "first replica on the writer's node"
        );
        let racks: Vec<String> = pipeline.iter().map(|&n| h.rack_of(n)).collect();
        assert_ne!(racks[1], racks[0], "second replica on another rack");
        assert_eq!(racks[2], racks[1], "third replica on the second's rack");
        let mut distinct = pipeline.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "never two replicas on one node");
    }
}

#[test]
fn placement_never_puts_two_replicas_on_one_node() {
    let h = Harness::new(&[("h1", "/r1"), ("h2", "/r2")]);
    let (_, pipeline) = h.start_file("/f", 3, "");
    assert_eq!(pipeline.len(), 2, "only two nodes: two replicas, not three");
    assert_ne!(pipeline[0], pipeline[1]);
}

#[test]
fn a_dead_nodes_blocks_get_copy_commands() {
    let h = Harness::new(&two_racks());
    let (b, pipeline) = h.write_file("/f", 3, "h1");
    h.ns.check_replication();
    let victim = pipeline[0];
    // Silent past the dead interval: declared dead, its replica forgotten.
    h.advance(Duration::from_secs(31), &[victim]);
    h.ns.check_heartbeats();
    let holders: Vec<NodeId> = h.holders("/f").iter().map(|n| n.id).collect();
    assert_eq!(holders.len(), 2);
    assert!(!holders.contains(&victim));
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[victim]);
    let copies: Vec<_> = cmds
        .iter()
        .flat_map(|(n, c)| c.replicate.iter().map(move |r| (*n, r)))
        .collect();
    assert_eq!(copies.len(), 1, "one copy scheduled: {copies:?}");
    let (source, copy) = copies[0];
    assert!(holders.contains(&source), "copied from a surviving holder");
    assert_eq!(copy.block, b);
    assert_eq!(copy.targets.len(), 1);
    let target = copy.targets[0].id;
    assert!(!pipeline.contains(&target), "to a node without a replica");
    // The copy lands: the block is whole again and nothing more is scheduled.
    h.report(target, b, copy.gen, LEN, true);
    h.ns.check_replication();
    assert_eq!(h.holders("/f").len(), 3);
    let more = h.heartbeat_all(&[victim]);
    assert!(more.values().all(|c| c.replicate.is_empty()));
}

#[test]
fn an_excess_replica_is_deleted() {
    let h = Harness::new(&two_racks());
    let (b, pipeline) = h.write_file("/f", 3, "h1");
    h.ns.check_replication();
    h.ns.set_replication(&su(), "/f", 2)
        .expect("set_replication");
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[]);
    let deleted: Vec<NodeId> = cmds
        .iter()
        .filter(|(_, c)| c.invalidate.iter().any(|i| i.block == b))
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(deleted.len(), 1, "one excess replica deleted");
    assert!(pipeline.contains(&deleted[0]));
    let holders: Vec<NodeId> = h.holders("/f").iter().map(|n| n.id).collect();
    assert_eq!(holders.len(), 2);
    let mut racks: Vec<String> = holders.iter().map(|&n| h.rack_of(n)).collect();
    racks.dedup();
    assert_eq!(racks.len(), 2, "the two left stay on two racks");
}

#[test]
fn a_block_on_one_rack_is_spread_to_the_second_rack() {
    let h = Harness::new(&[("h1", "/r1"), ("h2", "/r1"), ("h3", "/r1"), ("h4", "/r2")]);
    let h4 = h.node("h4");
    // The writer excluded the only node of the second rack: all three replicas on /r1.
    h.ns.create(&su(), "/f", perm(), 3, 0, "writer", true)
        .expect("create");
    let (lb, _) =
        h.ns.add_block(&su(), "/f", 0, "writer", None, &[h4], "h1")
            .expect("add_block");
    let pipeline: Vec<NodeId> = lb.nodes.iter().map(|n| n.id).collect();
    assert!(!pipeline.contains(&h4));
    h.finish_file("/f", lb.id, &pipeline);
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[]);
    let copies: Vec<_> = cmds.values().flat_map(|c| c.replicate.iter()).collect();
    assert_eq!(copies.len(), 1, "one copy to the other rack: {copies:?}");
    assert_eq!(copies[0].targets.len(), 1);
    assert_eq!(copies[0].targets[0].id, h4);
    // Once it lands, one of the /r1 replicas is surplus and goes.
    h.report(h4, lb.id, lb.gen, LEN, true);
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[]);
    let deleted: Vec<NodeId> = cmds
        .iter()
        .filter(|(_, c)| !c.invalidate.is_empty())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_ne!(deleted[0], h4, "the replica on the lone rack stays");
    let holders: Vec<NodeId> = h.holders("/f").iter().map(|n| n.id).collect();
    assert_eq!(holders.len(), 3);
    assert!(holders.contains(&h4));
}

#[test]
fn a_writer_past_the_hard_limit_has_its_file_recovered() {
    let h = Harness::new(&two_racks());
    let (b, pipeline) = h.start_file("/f", 3, "h1");
    let gen = h.gen_of("/f");
    for &n in &pipeline {
        h.report(n, b, gen, 0, false); // being written
    }
    // Renewing keeps the lease however long the write takes.
    h.advance(Duration::from_secs(50), &[]);
    h.ns.renew_lease("writer");
    h.advance(Duration::from_secs(50), &[]);
    h.ns.check_leases();
    let none = h.heartbeat_all(&[]);
    assert!(none.values().all(|c| c.recover.is_empty()));
    // The writer goes silent past the hard limit: the primary is asked to recover the block.
    h.advance(Duration::from_secs(61), &[]);
    h.ns.check_leases();
    let cmds = h.heartbeat_all(&[]);
    let recoveries: Vec<_> = cmds
        .iter()
        .flat_map(|(n, c)| c.recover.iter().map(move |r| (*n, r)))
        .collect();
    assert_eq!(recoveries.len(), 1, "{recoveries:?}");
    let (primary, r) = recoveries[0];
    assert!(pipeline.contains(&primary));
    assert_eq!(r.block, b);
    assert!(r.new_gen > gen, "recovery restamps the block");
    assert_eq!(r.holders.len(), 3);
    // The primary agrees a length with the holders and reports back: the file is closed.
    h.ns.commit_block_synchronization(b, r.new_gen, 700, &pipeline)
        .expect("commit");
    let info = h.ns.file_info(&su(), "/f").expect("info");
    assert!(!info.under_construction);
    assert_eq!(info.length, 700);
    assert_eq!(h.holders("/f").len(), 3);
    match h.ns.add_block(&su(), "/f", 0, "writer", None, &[], "h1") {
        Err(NnError::NoLease(..)) => {}
        Err(e) => panic!("expected the lease to be gone, got {e}"),
        Ok(_) => panic!("the writer kept its lease after recovery"),
    }
}

#[test]
fn safe_mode_ends_when_the_threshold_of_blocks_is_reported() {
    let h = Harness::new(&[("h1", "/r1")]);
    let node = h.node("h1");
    let (b1, _) = h.write_file("/a", 1, "h1");
    let (b2, _) = h.write_file("/b", 1, "h1");
    let gen1 = h.gen_of("/a");
    let gen2 = h.gen_of("/b");
    // Wait for the edits, then start again from the journal.
    h.ns.mkdirs(&su(), "/sync", perm())
        .expect("mkdirs")
        .expect("new dir")
        .wait()
        .expect("durable");
    let Harness { ns, dir, .. } = h;
    drop(ns);
    let clock = ManualClock::new();
    let ns = Namesystem::open(config(&dir), topology(&[("h1", "/r1")]), clock).expect("reopen");
    assert!(ns.cluster_report().safe_mode.is_some());
    let Err(e) = ns.mkdirs(&su(), "/x", perm()) else {
        panic!("a mutation was accepted in safe mode");
    };
    assert!(matches!(e, NnError::SafeMode(_)), "{e}");
    assert_eq!(
        proto::Reason::of(&tonic::Status::from(e)),
        proto::Reason::SafeMode
    );
    ns.register(node, "h1".into(), "h1:9866".into())
        .expect("register");
    let one = ReportedReplica {
        block: b1,
        gen: gen1,
        len: LEN,
        finalized: true,
    };
    ns.block_report(node, &[one]).expect("report");
    ns.check_safe_mode();
    let why = ns
        .cluster_report()
        .safe_mode
        .expect("1 of 2 blocks is below the threshold");
    assert!(why.contains("1 of 2 blocks"), "{why}");
    let two = ReportedReplica {
        block: b2,
        gen: gen2,
        len: LEN,
        finalized: true,
    };
    ns.block_report(node, &[one, two]).expect("report");
    ns.check_safe_mode();
    assert_eq!(ns.cluster_report().safe_mode, None);
    ns.mkdirs(&su(), "/x", perm()).expect("writable again");
}

#[test]
fn a_full_report_is_diffed_against_the_nodes_previous_list() {
    let h = Harness::new(&[("h1", "/r1")]);
    let node = h.node("h1");
    let (a, _) = h.write_file("/a", 1, "h1");
    let (b, _) = h.write_file("/b", 1, "h1");
    let (c, _) = h.start_file("/c", 1, "h1");
    h.ns.complete(
        &su(),
        "/c",
        0,
        "writer",
        Some(LastBlock { block: c, len: LEN }),
    )
    .expect("complete");
    let (ga, gb, gc) = (h.gen_of("/a"), h.gen_of("/b"), h.gen_of("/c"));
    let replica = |block, gen, len| ReportedReplica {
        block,
        gen,
        len,
        finalized: true,
    };
    // Believed: a and b. Reported: a as it was, b with the wrong length, c new.
    let diff =
        h.ns.block_report(
            node,
            &[
                replica(a, ga, LEN),
                replica(b, gb, LEN + 1),
                replica(c, gc, LEN),
            ],
        )
        .expect("report");
    assert_eq!(
        diff,
        ReportDiff {
            added: 1,
            removed: 0,
            changed: 1
        }
    );
    assert_eq!(h.holders("/a").len(), 1);
    assert_eq!(h.holders("/c").len(), 1);
    let bl = h.ns.locations(&su(), "/b", "").expect("locations");
    assert!(bl.blocks[0].corrupt, "the mismatched replica is corrupt");
    // Next report: a is gone from the node.
    let diff =
        h.ns.block_report(node, &[replica(c, gc, LEN)])
            .expect("report");
    assert_eq!(
        diff,
        ReportDiff {
            added: 0,
            removed: 1,
            changed: 0
        }
    );
    assert!(h.holders("/a").is_empty());
    assert_eq!(h.ns.cluster_report().datanodes[0].blocks, 1);
    // A replica of a block the namespace does not know is deleted.
    let stray = BlockId(1);
    h.ns.block_report(node, &[replica(c, gc, LEN), replica(stray, GenStamp(1), 5)])
        .expect("report");
    let cmds = h.heartbeat_all(&[]);
    assert!(cmds[&node].invalidate.contains(&Invalidate {
        block: stray,
        gen: Some(GenStamp(1)),
    }));
}

/// Kills the first pipeline node of a fresh `/f` and returns the copy scheduled to replace
/// it: (block, source, target), with the victim.
fn lose_a_replica(h: &Harness) -> (BlockId, NodeId, NodeId, NodeId) {
    let (b, pipeline) = h.write_file("/f", 3, "h1");
    h.ns.check_replication();
    let victim = pipeline[0];
    h.advance(Duration::from_secs(31), &[victim]);
    h.ns.check_heartbeats();
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[victim]);
    let copies: Vec<_> = cmds
        .iter()
        .flat_map(|(n, c)| c.replicate.iter().map(move |r| (*n, r.targets.clone())))
        .collect();
    assert_eq!(copies.len(), 1, "one copy scheduled: {copies:?}");
    let (source, targets) = &copies[0];
    assert_eq!(targets.len(), 1);
    (b, *source, targets[0].id, victim)
}

#[test]
fn a_copy_that_does_not_complete_in_time_is_planned_again_with_another_source_and_target() {
    let h = Harness::new(&two_racks());
    let (b, source, target, victim) = lose_a_replica(&h);
    // Nothing lands: before the timeout nothing more is scheduled...
    h.advance(Duration::from_secs(20), &[victim]);
    h.ns.check_replication();
    assert!(h
        .heartbeat_all(&[victim])
        .values()
        .all(|c| c.replicate.is_empty()));
    // ...after it, the copy is planned again, from the other holder, to another node.
    let cmds = h.advance(Duration::from_secs(11), &[victim]);
    assert!(cmds.values().all(|c| c.replicate.is_empty()));
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[victim]);
    let copies: Vec<_> = cmds
        .iter()
        .flat_map(|(n, c)| c.replicate.iter().map(move |r| (*n, r)))
        .collect();
    assert_eq!(copies.len(), 1, "the copy is planned again: {copies:?}");
    let (again_from, copy) = copies[0];
    assert_eq!(copy.block, b);
    assert_ne!(again_from, source, "another holder is the source");
    assert_ne!(copy.targets[0].id, target, "another node is the target");
    assert_ne!(copy.targets[0].id, victim);
    // It lands: the block is whole and what was tried is forgotten.
    h.report(copy.targets[0].id, b, copy.gen, LEN, true);
    h.ns.check_replication();
    assert_eq!(h.holders("/f").len(), 3);
}

#[test]
fn a_copy_whose_source_turns_out_corrupt_is_planned_again_at_once_from_a_good_replica() {
    let h = Harness::new(&two_racks());
    let (b, source, _, victim) = lose_a_replica(&h);
    let gen = h.gen_of("/f");
    // The source finds its replica corrupt while sending: it reports it, and the copy is
    // planned again without waiting for the timeout, never from the corrupt replica.
    h.ns.report_bad(&[super::BadReplica {
        block: b,
        gen,
        node: source,
    }]);
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[victim]);
    let copies: Vec<_> = cmds
        .iter()
        .flat_map(|(n, c)| c.replicate.iter().map(move |r| (*n, r)))
        .collect();
    assert_eq!(copies.len(), 1, "planned again at once: {copies:?}");
    let (from, copy) = copies[0];
    assert_ne!(from, source, "never from the corrupt replica");
    assert_ne!(from, victim);
    assert_ne!(
        copy.targets[0].id, source,
        "not onto the corrupt replica's node"
    );
}

/// The error of a call expected to fail (a success carries a `Commit`, which has no Debug).
fn must_fail<T>(r: Result<T, NnError>, what: &str) -> NnError {
    match r {
        Ok(_) => panic!("{what}: expected an error"),
        Err(e) => e,
    }
}

#[test]
fn a_writer_naming_its_file_by_id_follows_renames_and_learns_of_a_delete() {
    let h = Harness::new(&[("h1", "/r1")]);
    let (st, _) =
        h.ns.create(&su(), "/in/f", perm(), 1, 0, "writer", true)
            .expect("create");
    assert_ne!(st.file_id, 0, "a file being written has an id");
    let (b, _) =
        h.ns.add_block(&su(), "/in/f", st.file_id, "writer", None, &[], "h1")
            .expect("add_block");
    // The file, then its directory, move while the writer writes.
    h.ns.rename(&su(), "/in/f", "/in/g").expect("rename file");
    h.ns.mkdirs(&su(), "/out", perm()).expect("mkdirs");
    h.ns.rename(&su(), "/in", "/out").expect("rename dir");
    let prev = Some(LastBlock {
        block: b.id,
        len: LEN,
    });
    let (b2, _) =
        h.ns.add_block(&su(), "/in/f", st.file_id, "writer", prev, &[], "h1")
            .expect("add_block after the renames");
    h.ns.complete(
        &su(),
        "/in/f",
        st.file_id,
        "writer",
        Some(LastBlock {
            block: b2.id,
            len: LEN,
        }),
    )
    .expect("complete after the renames");
    let done = h.ns.file_info(&su(), "/out/in/g").expect("renamed file");
    assert_eq!((done.length, done.under_construction), (2 * LEN, false));
    // A file deleted under its writer: the writer's next call says so.
    let (st, _) =
        h.ns.create(&su(), "/d", perm(), 1, 0, "writer", true)
            .expect("create");
    h.ns.delete(&su(), "/d", false).expect("delete");
    let e = must_fail(
        h.ns.add_block(&su(), "/d", st.file_id, "writer", None, &[], "h1"),
        "deleted",
    );
    assert!(matches!(e, NnError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("deleted"), "{e}");
}

#[test]
fn names_longer_or_paths_deeper_than_the_limits_are_refused_naming_the_limit() {
    let h = Harness::new(&[("h1", "/r1")]);
    let long = "n".repeat(256);
    let e = must_fail(
        h.ns.mkdirs(&su(), &format!("/a/{long}"), perm()),
        "too long",
    );
    assert!(matches!(e, NnError::InvalidPath(..)), "{e}");
    assert!(e.to_string().contains("limit of 255 bytes"), "{e}");
    h.ns.mkdirs(&su(), &format!("/a/{}", "n".repeat(255)), perm())
        .expect("255 bytes is allowed");
    let deep = "/d".repeat(1001);
    let e = must_fail(h.ns.mkdirs(&su(), &deep, perm()), "too deep");
    assert!(e.to_string().contains("limit of 1000"), "{e}");
    h.ns.mkdirs(&su(), &"/d".repeat(1000), perm())
        .expect("1000 components is allowed");
    let e = must_fail(
        h.ns.create(&su(), &format!("/{long}"), perm(), 1, 0, "writer", true),
        "create",
    );
    assert!(e.to_string().contains("max_component_length"), "{e}");
    let e = must_fail(h.ns.rename(&su(), "/a", &format!("/{long}")), "rename");
    assert!(e.to_string().contains("max_component_length"), "{e}");
}

#[test]
fn a_balancer_move_copies_then_deletes_the_source_replica() {
    let h = Harness::new(&two_racks());
    let (b, pipeline) = h.write_file("/f", 3, "h1");
    h.ns.check_replication();
    h.heartbeat_all(&[]);
    // pipeline: h1 (/r1), then two nodes of /r2; move one /r2 replica to the free /r2 node.
    let source = pipeline[1];
    let target = ["h4", "h5", "h6"]
        .iter()
        .map(|host| h.node(host))
        .find(|n| !pipeline.contains(n))
        .expect("a free /r2 node");
    h.ns.move_replica(b, source, target).expect("move");
    let cmds = h.heartbeat_all(&[]);
    let copy = &cmds[&source].replicate;
    assert_eq!(copy.len(), 1, "{cmds:?}");
    assert_eq!(copy[0].targets[0].id, target);
    // A second move of the same block waits for the first.
    let e = must_fail(h.ns.move_replica(b, pipeline[2], target), "second move");
    assert!(e.to_string().contains("under way"), "{e}");
    h.report(target, b, h.gen_of("/f"), LEN, true);
    h.ns.check_replication();
    let cmds = h.heartbeat_all(&[]);
    assert_eq!(
        cmds[&source].invalidate,
        vec![Invalidate {
            block: b,
            gen: Some(h.gen_of("/f"))
        }],
        "the source's replica goes: {cmds:?}"
    );
    let mut holders: Vec<NodeId> = h.holders("/f").iter().map(|n| n.id).collect();
    holders.sort();
    let mut want = vec![pipeline[0], pipeline[2], target];
    want.sort();
    assert_eq!(holders, want);
}

#[test]
fn a_balancer_move_that_breaks_the_rack_rule_or_names_the_wrong_nodes_is_refused() {
    let h = Harness::new(&two_racks());
    let (b, pipeline) = h.write_file("/f", 3, "h1");
    h.ns.check_replication();
    let free_r2 = ["h4", "h5", "h6"]
        .iter()
        .map(|host| h.node(host))
        .find(|n| !pipeline.contains(n))
        .expect("a free /r2 node");
    // h1 holds the only /r1 replica: moving it to /r2 leaves one rack.
    let e = must_fail(h.ns.move_replica(b, pipeline[0], free_r2), "rack rule");
    assert!(e.to_string().contains("racks"), "{e}");
    let e = must_fail(h.ns.move_replica(b, free_r2, pipeline[0]), "non-holder");
    assert!(e.to_string().contains("holds no good replica"), "{e}");
    let e = must_fail(h.ns.move_replica(b, pipeline[1], pipeline[2]), "holder");
    assert!(e.to_string().contains("already holds"), "{e}");
}
