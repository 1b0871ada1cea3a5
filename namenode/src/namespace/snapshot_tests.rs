//! Snapshot semantics on the namespace alone: what creating costs, what a snapshot shows after
//! deletes, overwrites, growth and renames, when blocks are freed, and checkpoints.

use super::*;
use crate::namespace::{Edit, Perm};

fn perm() -> Perm {
    Perm {
        owner: "alice".into(),
        group: "staff".into(),
        mode: 0o755,
    }
}

fn apply(ns: &mut Namespace, e: Edit) -> ApplyEffect {
    ns.apply(&e).unwrap_or_else(|err| panic!("{e:?}: {err}"))
}

/// A closed one-block file of `len` bytes at `path`, with block `block`.
fn file(ns: &mut Namespace, path: &str, block: u64, len: u64) {
    apply(
        ns,
        Edit::Create {
            path: path.into(),
            perm: perm(),
            mtime: 1,
            replication: 1,
            block_size: 1 << 20,
            client: "c".into(),
        },
    );
    apply(
        ns,
        Edit::AddBlock {
            path: path.into(),
            block: BlockId(block),
            gen: GenStamp(1000 + block),
            prev_len: None,
        },
    );
    apply(
        ns,
        Edit::Close {
            path: path.into(),
            last_len: Some(len),
            drop_last: false,
            mtime: 2,
        },
    );
}

fn snapshot(ns: &mut Namespace, dir: &str, name: &str) -> SnapshotId {
    apply(
        ns,
        Edit::CreateSnapshot {
            path: dir.into(),
            name: name.into(),
            ctime: 3,
        },
    );
    let root = ns.lookup(dir).expect("ok").expect("dir");
    ns.snapshottable(root)
        .and_then(|l| l.iter().find(|s| s.name == name))
        .map(|s| s.id)
        .expect("snapshot")
}

fn delete(ns: &mut Namespace, path: &str) -> ApplyEffect {
    apply(
        ns,
        Edit::Delete {
            path: path.into(),
            mtime: 9,
        },
    )
}

/// The inode at `rest` (components under the root) as snapshot `s` shows it.
fn at(ns: &Namespace, root: &str, s: SnapshotId, rest: &[&str]) -> Option<InodeId> {
    let mut cur = ns.lookup(root).expect("ok").expect("root");
    for c in rest {
        cur = ns.child_at(cur, c, s).expect("ok")?;
    }
    Some(cur)
}

fn length_at(ns: &Namespace, id: InodeId, s: SnapshotId) -> u64 {
    let f = ns.attrs_at(id, s).expect("attrs").file.expect("a file");
    f.blocks.iter().map(|b| b.len).sum()
}

fn allowed(dir: &str) -> Namespace {
    let mut ns = Namespace::new();
    apply(
        &mut ns,
        Edit::Mkdirs {
            path: dir.into(),
            perm: perm(),
            mtime: 0,
        },
    );
    apply(&mut ns, Edit::AllowSnapshot { path: dir.into() });
    ns
}

#[test]
fn a_snapshot_costs_what_changed_not_the_tree() {
    let mut ns = allowed("/big");
    for i in 0..10_000u64 {
        apply(
            &mut ns,
            Edit::Create {
                path: format!("/big/f{i}"),
                perm: perm(),
                mtime: 1,
                replication: 1,
                block_size: 1 << 20,
                client: "c".into(),
            },
        );
        apply(
            &mut ns,
            Edit::Close {
                path: format!("/big/f{i}"),
                last_len: None,
                drop_last: false,
                mtime: 1,
            },
        );
    }
    let inodes = ns.inodes().count();
    let s = snapshot(&mut ns, "/big", "s1");
    assert_eq!(ns.snapshots().diff_entries(), 0, "creating copies nothing");
    assert_eq!(ns.inodes().count(), inodes, "no inode copied");
    delete(&mut ns, "/big/f7");
    apply(
        &mut ns,
        Edit::SetPermission {
            path: "/big/f8".into(),
            mode: 0o600,
        },
    );
    // The directory's attributes, its removed entry, the chmodded file's attributes.
    assert_eq!(ns.snapshots().diff_entries(), 3);
    let root = ns.lookup("/big").expect("ok").expect("big");
    assert_eq!(ns.children_at(root, s).expect("ok").len(), 10_000);
    let f8 = at(&ns, "/big", s, &["f8"]).expect("f8");
    assert_eq!(ns.attrs_at(f8, s).expect("ok").mode, 0o755);
    assert!(
        at(&ns, "/big", s, &["f7"]).is_some(),
        "the snapshot still has f7"
    );
}

#[test]
fn a_deleted_file_keeps_its_blocks_until_its_last_snapshot_goes() {
    let mut ns = allowed("/d");
    file(&mut ns, "/d/f", 7, 100);
    let s1 = snapshot(&mut ns, "/d", "s1");
    let s2 = snapshot(&mut ns, "/d", "s2");
    let effect = delete(&mut ns, "/d/f");
    assert!(
        effect.removed_blocks.is_empty(),
        "the snapshots hold block 7"
    );
    assert!(
        ns.block(BlockId(7)).is_some(),
        "still known to block reports"
    );
    let f = at(&ns, "/d", s1, &["f"]).expect("in s1");
    assert_eq!(length_at(&ns, f, s1), 100);
    assert_eq!(at(&ns, "/d", s2, &["f"]), Some(f));

    let mut effect = ApplyEffect::default();
    ns.delete_snapshot("/d", "s2", &mut effect)
        .expect("delete s2");
    assert!(effect.removed_blocks.is_empty(), "s1 still shows f");
    assert_eq!(at(&ns, "/d", s1, &["f"]), Some(f), "merged into s1");
    ns.delete_snapshot("/d", "s1", &mut effect)
        .expect("delete s1");
    assert_eq!(
        effect
            .removed_blocks
            .iter()
            .map(|b| b.id)
            .collect::<Vec<_>>(),
        vec![BlockId(7)]
    );
    assert!(ns.block(BlockId(7)).is_none());
    assert_eq!(ns.snapshots().diff_entries(), 0);
}

#[test]
fn an_overwritten_or_grown_file_reads_as_it_was() {
    let mut ns = allowed("/d");
    file(&mut ns, "/d/f", 7, 100);
    file(&mut ns, "/d/g", 8, 50);
    let s = snapshot(&mut ns, "/d", "s");
    // Overwrite: delete and create anew.
    delete(&mut ns, "/d/f");
    file(&mut ns, "/d/f", 9, 5);
    let old = at(&ns, "/d", s, &["f"]).expect("old f");
    assert_ne!(Some(old), ns.lookup("/d/f").expect("ok"));
    assert_eq!(length_at(&ns, old, s), 100);
    // Growth (as an append would): a new block after the snapshot.
    apply(
        &mut ns,
        Edit::AddBlock {
            path: "/d/g".into(),
            block: BlockId(10),
            gen: GenStamp(2000),
            prev_len: None,
        },
    );
    let g = ns.lookup("/d/g").expect("ok").expect("g");
    assert_eq!(length_at(&ns, g, s), 50);
    let report = ns
        .snapshot_diff(ns.lookup("/d").expect("ok").expect("d"), s, None)
        .expect("diff");
    assert_eq!(
        report,
        vec![
            DiffEntry::Modified(".".into()),
            DiffEntry::Deleted("./f".into()),
            DiffEntry::Created("./f".into()),
            DiffEntry::Modified("./g".into()),
        ]
    );
}

#[test]
fn renames_keep_the_snapshot_view() {
    let mut ns = allowed("/d");
    file(&mut ns, "/d/a", 7, 10);
    file(&mut ns, "/d/out", 8, 20);
    let s = snapshot(&mut ns, "/d", "s");
    apply(
        &mut ns,
        Edit::Rename {
            src: "/d/a".into(),
            dst: "/d/b".into(),
            mtime: 5,
        },
    );
    apply(
        &mut ns,
        Edit::Rename {
            src: "/d/out".into(),
            dst: "/elsewhere".into(),
            mtime: 5,
        },
    );
    // Moved out of the tree, then changed: the snapshot still shows it as it was.
    apply(
        &mut ns,
        Edit::SetPermission {
            path: "/elsewhere".into(),
            mode: 0o600,
        },
    );
    let out = at(&ns, "/d", s, &["out"]).expect("out");
    assert_eq!(ns.attrs_at(out, s).expect("ok").mode, 0o755);
    let effect = delete(&mut ns, "/elsewhere");
    assert!(effect.removed_blocks.is_empty(), "the snapshot holds it");
    let d = ns.lookup("/d").expect("ok").expect("d");
    let report = ns.snapshot_diff(d, s, None).expect("diff");
    assert!(
        report.contains(&DiffEntry::Renamed("./a".into(), "./b".into())),
        "{report:?}"
    );
    assert!(report.contains(&DiffEntry::Deleted("./out".into())));
}

#[test]
fn snapshots_survive_a_checkpoint() {
    let mut ns = allowed("/d");
    file(&mut ns, "/d/f", 7, 100);
    apply(
        &mut ns,
        Edit::Mkdirs {
            path: "/d/sub".into(),
            perm: perm(),
            mtime: 0,
        },
    );
    file(&mut ns, "/d/sub/g", 8, 30);
    let s = snapshot(&mut ns, "/d", "s1");
    delete(&mut ns, "/d/f");
    delete(&mut ns, "/d/sub");
    let dir = tempfile::tempdir().expect("tempdir");
    let j = common::journal::Journal::start(dir.path(), 0).expect("journal");
    j.write_image(9, ns.image().expect("image")).expect("write");
    let (_, image) = common::journal::load_latest_image(dir.path())
        .expect("load")
        .expect("image");
    let mut back = Namespace::from_image(&image).expect("from image");
    let f = at(&back, "/d", s, &["f"]).expect("f in the snapshot");
    assert_eq!(length_at(&back, f, s), 100);
    let g = at(&back, "/d", s, &["sub", "g"]).expect("g in the snapshot");
    assert_eq!(length_at(&back, g, s), 30);
    assert!(back.block(BlockId(8)).is_some());
    assert_eq!(back.name(back.attrs_at(g, s).expect("ok").owner), "alice");
    let mut effect = ApplyEffect::default();
    back.delete_snapshot("/d", "s1", &mut effect)
        .expect("delete");
    let mut freed: Vec<_> = effect.removed_blocks.iter().map(|b| b.id.0).collect();
    freed.sort_unstable();
    assert_eq!(freed, vec![7, 8]);
}

#[test]
fn nested_and_read_only_rules() {
    let mut ns = allowed("/d");
    apply(
        &mut ns,
        Edit::Mkdirs {
            path: "/d/e".into(),
            perm: perm(),
            mtime: 0,
        },
    );
    let e = ns.lookup("/d/e").expect("ok").expect("e");
    assert!(ns.snapshottable_relative(e).expect("ok").is_some());
    let root = ns.lookup("/").expect("ok").expect("root");
    assert!(ns.snapshottable_relative(root).expect("ok").is_some());
    let err = ns
        .apply(&Edit::Mkdirs {
            path: "/d/.snapshot/x".into(),
            perm: perm(),
            mtime: 0,
        })
        .expect_err("read-only");
    assert!(err.to_string().contains("snapshots are read-only"), "{err}");
    snapshot(&mut ns, "/d", "s");
    let err = ns
        .apply(&Edit::DisallowSnapshot { path: "/d".into() })
        .expect_err("has snapshots");
    assert!(err.to_string().contains("delete them"), "{err}");
    let d = ns.lookup("/d").expect("ok").expect("d");
    assert_eq!(ns.snapshots_under(root).expect("ok"), Some(d));
    assert_eq!(ns.snapshots_under(e).expect("ok"), None);
}
