//! Snapshots inside the namespace, as HDFS's: which directories are snapshottable and their
//! snapshots, and per inode the copy-on-write diffs (its attributes before a change, a
//! directory's entries created and removed since) that let a snapshot be read without a copy
//! of the tree. Creating a snapshot touches nothing but its root's list; each later change
//! records the prior state of just what it changes in the latest snapshot that can see it.
//!
//! Snapshot ids are global and increase, so "the first diff at or after snapshot s" answers
//! what an inode was at s from any root. An inode removed from the live tree while a diff
//! names it (deleted, or moved out of its snapshottable tree) stays allocated with its blocks,
//! and is freed when the last diff naming it goes.

use super::{ApplyEffect, BlockMeta, FileMeta, Inode, InodeId, Kind, Namespace, ROOT};
use crate::error::{NnError, NnResult};
use common::ids::{BlockId, GenStamp};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The reserved path component under a snapshottable directory that holds its snapshots.
pub const SNAPSHOT_DIR: &str = ".snapshot";

/// A snapshot's id: global, increasing, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SnapshotId(pub u32);

/// One snapshot of a snapshottable directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub id: SnapshotId,
    pub name: String,
    /// Creation time, milliseconds since the epoch.
    pub ctime: u64,
}

/// A block as a snapshot saw it: the length it had then.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SavedBlock {
    pub id: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    pub committed: bool,
}

/// A file's content as a snapshot saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedFile {
    pub replication: u16,
    pub block_size: u64,
    pub blocks: Vec<SavedBlock>,
    pub under_construction: bool,
}

/// An inode's attributes (owner and group as interned names) before a change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedInode {
    pub owner: u32,
    pub group: u32,
    pub mode: u16,
    pub mtime: u64,
    pub file: Option<SavedFile>,
}

/// What changed in one inode after snapshot `snapshot` (and before the next diff's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InodeDiff {
    pub snapshot: SnapshotId,
    /// Its attributes at the snapshot, once they changed.
    pub saved: Option<SavedInode>,
    /// A directory's entries added since (names).
    pub created: BTreeSet<CompactString>,
    /// A directory's entries removed or replaced since, with the inode each named.
    pub deleted: BTreeMap<CompactString, InodeId>,
}

impl InodeDiff {
    fn new(snapshot: SnapshotId) -> Self {
        InodeDiff {
            snapshot,
            saved: None,
            created: BTreeSet::new(),
            deleted: BTreeMap::new(),
        }
    }

    fn mentions(&self, name: &str) -> bool {
        self.created.contains(name) || self.deleted.contains_key(name)
    }
}

/// Every snapshot and diff of the namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshots {
    /// Snapshottable directories and their snapshots, oldest first.
    pub roots: HashMap<InodeId, Vec<SnapshotMeta>>,
    pub next_id: u32,
    /// Per inode, its diffs by increasing snapshot id.
    pub diffs: HashMap<InodeId, Vec<InodeDiff>>,
    /// How many diff entries name an inode as removed.
    pub refs: HashMap<InodeId, u32>,
    /// Inodes out of every directory that diffs still hold.
    pub unlinked: HashSet<InodeId>,
    /// The latest snapshot that may show an inode moved out of its snapshottable tree.
    pub pins: HashMap<InodeId, SnapshotId>,
    /// The latest snapshot when an inode was made: it has nothing to save for that one.
    pub born: HashMap<InodeId, SnapshotId>,
}

impl Snapshots {
    /// No snapshottable directory and nothing held: images need no inode ids.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty() && self.diffs.is_empty() && self.unlinked.is_empty()
    }

    /// Diff entries in memory (saved attributes and directory entries): what changes cost.
    pub fn diff_entries(&self) -> usize {
        self.diffs
            .values()
            .flatten()
            .map(|d| d.saved.is_some() as usize + d.created.len() + d.deleted.len())
            .sum()
    }

    fn live_ids(&self) -> BTreeSet<SnapshotId> {
        self.roots.values().flatten().map(|s| s.id).collect()
    }
}

/// One line of a snapshot diff report, as HDFS's `snapshotDiff` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffEntry {
    Created(String),
    Deleted(String),
    Modified(String),
    Renamed(String, String),
}

impl Namespace {
    /// The snapshottable directory at or above `id`, and its latest snapshot, if any.
    fn latest_snapshot(&self, id: InodeId) -> Option<SnapshotId> {
        let s = &self.snaps;
        if s.roots.is_empty() && s.pins.is_empty() {
            return None;
        }
        let mut best = None;
        let mut cur = id;
        loop {
            if let Some(last) = s.roots.get(&cur).and_then(|l| l.last()) {
                best = best.max(Some(last.id));
            }
            if let Some(&p) = s.pins.get(&cur) {
                best = best.max(Some(p));
            }
            if cur == ROOT {
                break;
            }
            match self.inode(cur) {
                Ok(i) => cur = i.parent,
                Err(_) => break,
            }
        }
        best
    }

    /// The diff of `id` for snapshot `s`, made if missing (kept sorted by snapshot).
    fn diff_at(&mut self, id: InodeId, s: SnapshotId) -> &mut InodeDiff {
        let list = self.snaps.diffs.entry(id).or_default();
        let i = match list.binary_search_by_key(&s, |d| d.snapshot) {
            Ok(i) => i,
            Err(i) => {
                list.insert(i, InodeDiff::new(s));
                i
            }
        };
        &mut list[i]
    }

    fn save_of(inode: &Inode, client_open: bool) -> SavedInode {
        SavedInode {
            owner: inode.owner,
            group: inode.group,
            mode: inode.mode,
            mtime: inode.mtime,
            file: match &inode.kind {
                Kind::Dir(_) => None,
                Kind::File(f) => Some(SavedFile {
                    replication: f.replication,
                    block_size: f.block_size,
                    blocks: f
                        .blocks
                        .iter()
                        .map(|b| SavedBlock {
                            id: b.id,
                            gen: b.gen,
                            len: b.len,
                            committed: b.committed,
                        })
                        .collect(),
                    under_construction: client_open,
                }),
            },
        }
    }

    /// An inode's attributes and content now.
    pub(super) fn saved_now(inode: &Inode) -> SavedInode {
        Self::save_of(
            inode,
            matches!(&inode.kind, Kind::File(f) if f.client.is_some()),
        )
    }

    /// Rebuilds an inode only a snapshot holds, from the image; its parent and children are
    /// still image ids, fixed by [`Namespace::load_snapshots`].
    pub(super) fn load_kept(
        &mut self,
        parent: InodeId,
        children: Vec<(String, InodeId)>,
        owner: &str,
        group: &str,
        saved: SavedInode,
    ) -> InodeId {
        let kind = match saved.file {
            None => Kind::Dir(
                children
                    .into_iter()
                    .map(|(n, c)| (CompactString::from(n), c))
                    .collect(),
            ),
            Some(f) => Kind::File(FileMeta {
                replication: f.replication,
                block_size: f.block_size,
                blocks: f
                    .blocks
                    .iter()
                    .map(|b| BlockMeta {
                        id: b.id,
                        gen: b.gen,
                        len: b.len,
                        committed: b.committed,
                    })
                    .collect(),
                client: None,
            }),
        };
        let blocks: Vec<BlockId> = match &kind {
            Kind::File(f) => f.blocks.iter().map(|b| b.id).collect(),
            Kind::Dir(_) => Vec::new(),
        };
        let inode = Inode {
            parent,
            owner: self.intern(owner),
            group: self.intern(group),
            mode: saved.mode,
            mtime: saved.mtime,
            kind,
        };
        let id = self.alloc_inode(inode);
        for b in blocks {
            self.block_index.insert(b, id);
        }
        id
    }

    /// Loads the image's snapshot state, turning its inode ids and interned names into ours.
    pub(super) fn load_snapshots(
        &mut self,
        ids: &HashMap<InodeId, InodeId>,
        kept: &[InodeId],
        names: &[String],
        mut state: Snapshots,
    ) -> NnResult<()> {
        let map = |id: InodeId| -> NnResult<InodeId> {
            ids.get(&id).copied().ok_or_else(|| {
                NnError::Internal(format!("image: snapshot state names unknown inode {id}"))
            })
        };
        for &k in kept {
            let inode = self.inode_mut(k)?;
            let old_parent = inode.parent;
            let old_children = match &mut inode.kind {
                Kind::Dir(ch) => std::mem::take(ch),
                Kind::File(_) => BTreeMap::new(),
            };
            let parent = ids.get(&old_parent).copied().unwrap_or(ROOT);
            let mut children = BTreeMap::new();
            for (n, c) in old_children {
                children.insert(n, map(c)?);
            }
            let inode = self.inode_mut(k)?;
            inode.parent = parent;
            if let Kind::Dir(ch) = &mut inode.kind {
                *ch = children;
            }
        }
        let name = |i: u32, ns: &mut Namespace| {
            let n = names.get(i as usize).map(String::as_str).unwrap_or("?");
            ns.intern(n)
        };
        let mut out = Snapshots {
            next_id: state.next_id,
            ..Snapshots::default()
        };
        for (k, v) in state.roots.drain() {
            out.roots.insert(map(k)?, v);
        }
        for (k, list) in state.diffs.drain() {
            let mut new_list = Vec::with_capacity(list.len());
            for mut d in list {
                if let Some(saved) = &mut d.saved {
                    saved.owner = name(saved.owner, self);
                    saved.group = name(saved.group, self);
                }
                let mut deleted = BTreeMap::new();
                for (n, z) in d.deleted {
                    deleted.insert(n, map(z)?);
                }
                d.deleted = deleted;
                new_list.push(d);
            }
            out.diffs.insert(map(k)?, new_list);
        }
        for (k, v) in state.refs.drain() {
            out.refs.insert(map(k)?, v);
        }
        for k in state.unlinked.drain() {
            out.unlinked.insert(map(k)?);
        }
        for (k, v) in state.pins.drain() {
            out.pins.insert(map(k)?, v);
        }
        for (k, v) in state.born.drain() {
            // Born entries of inodes gone only cost an extra diff: drop what does not map.
            if let Some(&k) = ids.get(&k) {
                out.born.insert(k, v);
            }
        }
        self.snaps = out;
        Ok(())
    }

    /// Records `id`'s attributes in snapshot `s`'s diff, unless already recorded there.
    fn save_in(&mut self, id: InodeId, s: SnapshotId) -> NnResult<()> {
        if self.snaps.born.get(&id).is_some_and(|&b| b >= s) {
            return Ok(());
        }
        let has = self
            .snaps
            .diffs
            .get(&id)
            .and_then(|l| l.iter().find(|d| d.snapshot == s))
            .is_some_and(|d| d.saved.is_some());
        if has {
            return Ok(());
        }
        let inode = self.inode(id)?;
        let open = matches!(&inode.kind, Kind::File(f) if f.client.is_some());
        let saved = Self::save_of(inode, open);
        self.diff_at(id, s).saved = Some(saved);
        Ok(())
    }

    /// Before `id`'s attributes or blocks change: its prior state goes to the latest snapshot
    /// that can see it.
    pub(super) fn before_change(&mut self, id: InodeId) -> NnResult<()> {
        match self.latest_snapshot(id) {
            Some(s) => self.save_in(id, s),
            None => Ok(()),
        }
    }

    /// `name` was added to directory `dir` (a new inode `child`, or one moved in).
    pub(super) fn entry_created(
        &mut self,
        dir: InodeId,
        name: &str,
        child: InodeId,
        new_inode: bool,
    ) -> NnResult<()> {
        let Some(s) = self.latest_snapshot(dir) else {
            return Ok(());
        };
        if new_inode {
            self.snaps.born.insert(child, s);
        }
        if self.snaps.born.get(&dir).is_some_and(|&b| b >= s) {
            return Ok(());
        }
        self.save_in(dir, s)?;
        self.diff_at(dir, s).created.insert(name.into());
        Ok(())
    }

    /// `name` (inode `child`) left directory `dir`. True when a snapshot still shows it there:
    /// the inode must stay allocated.
    pub(super) fn entry_removed(
        &mut self,
        dir: InodeId,
        name: &str,
        child: InodeId,
    ) -> NnResult<bool> {
        let Some(s) = self.latest_snapshot(dir) else {
            return Ok(false);
        };
        if self.snaps.born.get(&dir).is_some_and(|&b| b >= s) {
            return Ok(false);
        }
        self.save_in(dir, s)?;
        let d = self.diff_at(dir, s);
        if d.created.remove(name) {
            // Made after the snapshot: no snapshot shows it here.
            return Ok(false);
        }
        d.deleted.insert(name.into(), child);
        *self.snaps.refs.entry(child).or_default() += 1;
        let pin = self.snaps.pins.entry(child).or_insert(s);
        *pin = (*pin).max(s);
        Ok(true)
    }

    /// Frees `id` and what it holds, except what a diff still names; returns freed blocks in
    /// `effect`.
    pub(super) fn free_subtree(&mut self, id: InodeId, effect: &mut ApplyEffect) {
        // (inode, whether it is to be freed): what a snapshot holds stays, with what is under
        // it, but nobody writes it any more.
        let mut stack = vec![(id, true)];
        while let Some((id, free)) = stack.pop() {
            self.forget_open(id);
            self.forget_quota(id);
            let held = self.snaps.refs.get(&id).is_some_and(|&r| r > 0);
            if !free || held {
                if free {
                    self.snaps.unlinked.insert(id);
                }
                if let Ok(Inode {
                    kind: Kind::Dir(ch),
                    ..
                }) = self.inode(id)
                {
                    stack.extend(ch.values().map(|&c| (c, false)));
                }
                continue;
            }
            let Some(inode) = self.inodes.get_mut(id as usize).and_then(Option::take) else {
                continue;
            };
            self.free.push(id);
            self.snaps.unlinked.remove(&id);
            // A snapshottable directory without snapshots may go (HDFS forgets it too).
            self.snaps.roots.remove(&id);
            self.snaps.born.remove(&id);
            self.snaps.pins.remove(&id);
            self.snaps.refs.remove(&id);
            for d in self.snaps.diffs.remove(&id).unwrap_or_default() {
                let orphans = self.drop_entries(d.deleted.into_values());
                stack.extend(orphans.into_iter().map(|z| (z, true)));
            }
            match inode.kind {
                Kind::Dir(ch) => stack.extend(ch.values().map(|&c| (c, true))),
                Kind::File(f) => {
                    for b in f.blocks {
                        self.block_index.remove(&b.id);
                        effect.removed_blocks.push(b);
                    }
                }
            }
        }
    }

    /// Drops diff references to `ids`; returns those now held by nothing.
    fn drop_entries(&mut self, ids: impl Iterator<Item = InodeId>) -> Vec<InodeId> {
        let mut out = Vec::new();
        for z in ids {
            if let Some(r) = self.snaps.refs.get_mut(&z) {
                *r = r.saturating_sub(1);
                if *r == 0 {
                    self.snaps.refs.remove(&z);
                    if self.snaps.unlinked.remove(&z) {
                        out.push(z);
                    }
                }
            }
        }
        out
    }

    pub fn snapshottable(&self, dir: InodeId) -> Option<&[SnapshotMeta]> {
        self.snaps.roots.get(&dir).map(Vec::as_slice)
    }

    /// Every snapshottable directory with its snapshots.
    pub fn snapshot_roots(&self) -> impl Iterator<Item = (InodeId, &[SnapshotMeta])> {
        self.snaps.roots.iter().map(|(&i, l)| (i, l.as_slice()))
    }

    pub fn snapshots(&self) -> &Snapshots {
        &self.snaps
    }

    /// Whether `dir` has a snapshottable directory strictly above or below it.
    pub fn snapshottable_relative(&self, dir: InodeId) -> NnResult<Option<InodeId>> {
        for &r in self.snaps.roots.keys() {
            if r == dir {
                continue;
            }
            if self.is_ancestor(r, dir)? || self.is_ancestor(dir, r)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// A snapshottable directory with snapshots at or under `id`: deleting `id` is refused
    /// while there is one, as HDFS refuses it.
    pub fn snapshots_under(&self, id: InodeId) -> NnResult<Option<InodeId>> {
        for (&r, l) in &self.snaps.roots {
            if !l.is_empty() && (r == id || self.is_ancestor(id, r)?) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Whether `a` is a proper ancestor of live inode `b`.
    fn is_ancestor(&self, a: InodeId, b: InodeId) -> NnResult<bool> {
        let mut cur = b;
        while cur != ROOT {
            cur = self.inode(cur)?.parent;
            if cur == a {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) fn allow_snapshot(&mut self, path: &str) -> NnResult<()> {
        let id = self.dir_id(path)?;
        self.snaps.roots.entry(id).or_default();
        Ok(())
    }

    pub(super) fn disallow_snapshot(&mut self, path: &str) -> NnResult<()> {
        let id = self.dir_id(path)?;
        match self.snaps.roots.get(&id) {
            Some(l) if !l.is_empty() => Err(NnError::InvalidArgument(format!(
                "{path}: has {} snapshot(s): delete them before disallowing snapshots",
                l.len()
            ))),
            _ => {
                self.snaps.roots.remove(&id);
                Ok(())
            }
        }
    }

    fn dir_id(&self, path: &str) -> NnResult<InodeId> {
        let id = self
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        match self.inode(id)?.kind {
            Kind::Dir(_) => Ok(id),
            Kind::File(_) => Err(NnError::NotDir(path.into())),
        }
    }

    /// The snapshottable directory at `path`, or an error saying it is not one.
    pub fn snapshot_root(&self, path: &str) -> NnResult<InodeId> {
        let id = self.dir_id(path)?;
        if self.snaps.roots.contains_key(&id) {
            Ok(id)
        } else {
            Err(NnError::InvalidArgument(format!(
                "{path}: not a snapshottable directory (an administrator runs `mrctl admin allow-snapshot {path}`)"
            )))
        }
    }

    /// Creates a snapshot: O(1) in the tree's size, plus a record of each file being written
    /// under it (its length now, as HDFS's capture of open files).
    pub(super) fn create_snapshot(&mut self, path: &str, name: &str, ctime: u64) -> NnResult<()> {
        let root = self.snapshot_root(path)?;
        let list = self
            .snaps
            .roots
            .get(&root)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if list.iter().any(|s| s.name == name) {
            return Err(NnError::AlreadyExists(format!(
                "{path}/{SNAPSHOT_DIR}/{name}"
            )));
        }
        let id = SnapshotId(self.snaps.next_id);
        self.snaps.next_id += 1;
        self.snaps
            .roots
            .entry(root)
            .or_default()
            .push(SnapshotMeta {
                id,
                name: name.into(),
                ctime,
            });
        let open: Vec<InodeId> = self.open_ids.keys().copied().collect();
        for f in open {
            if f == root || self.is_ancestor(root, f)? {
                self.save_in(f, id)?;
            }
        }
        Ok(())
    }

    pub(super) fn rename_snapshot(&mut self, path: &str, old: &str, new: &str) -> NnResult<()> {
        let root = self.snapshot_root(path)?;
        let list = self.snaps.roots.entry(root).or_default();
        if list.iter().any(|s| s.name == new) {
            return Err(NnError::AlreadyExists(format!(
                "{path}/{SNAPSHOT_DIR}/{new}"
            )));
        }
        let s = list
            .iter_mut()
            .find(|s| s.name == old)
            .ok_or_else(|| NnError::NotFound(format!("{path}/{SNAPSHOT_DIR}/{old}")))?;
        s.name = new.into();
        Ok(())
    }

    /// Deletes a snapshot: each diff recorded for it merges into the previous snapshot's (what
    /// that one must still show), or goes; inodes and blocks nothing shows any more are freed.
    pub(super) fn delete_snapshot(
        &mut self,
        path: &str,
        name: &str,
        effect: &mut ApplyEffect,
    ) -> NnResult<()> {
        let root = self.snapshot_root(path)?;
        let list = self.snaps.roots.entry(root).or_default();
        let i = list
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| NnError::NotFound(format!("{path}/{SNAPSHOT_DIR}/{name}")))?;
        let s = list.remove(i).id;
        let prev = self.snaps.live_ids().range(..s).next_back().copied();
        // The previous snapshot (if any) is now the latest that may show a moved inode.
        self.snaps.pins.retain(|_, p| *p != s || prev.is_some());
        for p in self.snaps.pins.values_mut() {
            if *p == s {
                *p = prev.unwrap_or(s);
            }
        }
        let holders: Vec<InodeId> = self
            .snaps
            .diffs
            .iter()
            .filter(|(_, l)| l.iter().any(|d| d.snapshot == s))
            .map(|(&id, _)| id)
            .collect();
        let mut orphans = Vec::new();
        for id in holders {
            let Some(l) = self.snaps.diffs.get_mut(&id) else {
                continue;
            };
            let Ok(k) = l.binary_search_by_key(&s, |d| d.snapshot) else {
                continue;
            };
            let posterior = l.remove(k);
            let dropped: Vec<InodeId> = match prev {
                None => posterior.deleted.into_values().collect(),
                Some(p) => {
                    let prior = k.checked_sub(1).filter(|&j| l[j].snapshot >= p);
                    match prior {
                        Some(j) => {
                            let d = &mut l[j];
                            let mut dropped = Vec::new();
                            if d.saved.is_none() {
                                d.saved = posterior.saved;
                            }
                            for n in posterior.created {
                                if !d.mentions(&n) {
                                    d.created.insert(n);
                                }
                            }
                            for (n, z) in posterior.deleted {
                                if d.mentions(&n) {
                                    dropped.push(z);
                                } else {
                                    d.deleted.insert(n, z);
                                }
                            }
                            dropped
                        }
                        None => {
                            let mut moved = posterior;
                            moved.snapshot = p;
                            l.insert(k, moved);
                            Vec::new()
                        }
                    }
                }
            };
            if l.is_empty() {
                self.snaps.diffs.remove(&id);
            }
            orphans.extend(self.drop_entries(dropped.into_iter()));
        }
        for z in orphans {
            self.free_subtree(z, effect);
        }
        Ok(())
    }

    /// An inode's attributes as snapshot `s` saw them (the live ones when unchanged since).
    pub fn attrs_at(&self, id: InodeId, s: SnapshotId) -> NnResult<SavedInode> {
        if let Some(saved) = self
            .snaps
            .diffs
            .get(&id)
            .and_then(|l| l.iter().find(|d| d.snapshot >= s && d.saved.is_some()))
            .and_then(|d| d.saved.clone())
        {
            return Ok(saved);
        }
        let inode = self.inode(id)?;
        let open = matches!(&inode.kind, Kind::File(f) if f.client.is_some());
        Ok(Self::save_of(inode, open))
    }

    /// A directory's entries as snapshot `s` saw them: the live ones with every later diff
    /// undone, newest first.
    pub fn children_at(
        &self,
        id: InodeId,
        s: SnapshotId,
    ) -> NnResult<BTreeMap<CompactString, InodeId>> {
        let Kind::Dir(live) = &self.inode(id)?.kind else {
            return Ok(BTreeMap::new());
        };
        let mut out = live.clone();
        if let Some(l) = self.snaps.diffs.get(&id) {
            for d in l.iter().rev().take_while(|d| d.snapshot >= s) {
                for n in &d.created {
                    out.remove(n);
                }
                for (n, &z) in &d.deleted {
                    out.insert(n.clone(), z);
                }
            }
        }
        Ok(out)
    }

    /// One entry of a directory as snapshot `s` saw it: the first diff at or after `s` that
    /// names it decides, else the live directory.
    pub fn child_at(&self, id: InodeId, name: &str, s: SnapshotId) -> NnResult<Option<InodeId>> {
        if let Some(l) = self.snaps.diffs.get(&id) {
            for d in l.iter().filter(|d| d.snapshot >= s) {
                if let Some(&z) = d.deleted.get(name) {
                    return Ok(Some(z));
                }
                if d.created.contains(name) {
                    return Ok(None);
                }
            }
        }
        match &self.inode(id)?.kind {
            Kind::Dir(ch) => Ok(ch.get(name).copied()),
            Kind::File(_) => Ok(None),
        }
    }

    /// What changed under snapshottable `root` from snapshot `from` to `to` (None: now), as
    /// HDFS reports it: paths relative to the root.
    pub fn snapshot_diff(
        &self,
        root: InodeId,
        from: SnapshotId,
        to: Option<SnapshotId>,
    ) -> NnResult<Vec<DiffEntry>> {
        let mut entries = Vec::new();
        self.diff_dir(root, ".", from, to, &mut entries)?;
        // An inode removed in one place and added in another was renamed.
        let deleted_at: HashMap<InodeId, usize> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, (e, id))| match (e, id) {
                (DiffEntry::Deleted(_), Some(id)) => Some((*id, i)),
                _ => None,
            })
            .collect();
        let mut paired = HashSet::new();
        let mut result = Vec::new();
        for (i, (e, id)) in entries.iter().enumerate() {
            let (DiffEntry::Created(dst), Some(id)) = (e, id) else {
                continue;
            };
            if let Some(&j) = deleted_at.get(id) {
                if let DiffEntry::Deleted(src) = &entries[j].0 {
                    result.push(DiffEntry::Renamed(src.clone(), dst.clone()));
                    paired.extend([i, j]);
                }
            }
        }
        for (i, (e, _)) in entries.into_iter().enumerate() {
            if !paired.contains(&i) {
                result.push(e);
            }
        }
        result.sort_by(|a, b| diff_key(a).cmp(diff_key(b)));
        Ok(result)
    }

    fn diff_dir(
        &self,
        dir: InodeId,
        path: &str,
        from: SnapshotId,
        to: Option<SnapshotId>,
        out: &mut Vec<(DiffEntry, Option<InodeId>)>,
    ) -> NnResult<()> {
        let before = self.children_at(dir, from)?;
        let after = match to {
            Some(t) => self.children_at(dir, t)?,
            None => match &self.inode(dir)?.kind {
                Kind::Dir(ch) => ch.clone(),
                Kind::File(_) => BTreeMap::new(),
            },
        };
        let attrs = |id: InodeId, at: Option<SnapshotId>| -> NnResult<SavedInode> {
            match at {
                Some(s) => self.attrs_at(id, s),
                None => {
                    let inode = self.inode(id)?;
                    Ok(Self::save_of(
                        inode,
                        matches!(&inode.kind, Kind::File(f) if f.client.is_some()),
                    ))
                }
            }
        };
        let changed = |a: &SavedInode, b: &SavedInode| {
            let content = |f: &Option<SavedFile>| {
                f.as_ref().map(|f| {
                    (
                        f.replication,
                        f.blocks.iter().map(|b| (b.id, b.len)).collect::<Vec<_>>(),
                    )
                })
            };
            (a.owner, a.group, a.mode, a.mtime) != (b.owner, b.group, b.mode, b.mtime)
                || content(&a.file) != content(&b.file)
        };
        if changed(&attrs(dir, Some(from))?, &attrs(dir, to)?) {
            out.push((DiffEntry::Modified(path.into()), None));
        }
        for (name, &id) in &before {
            let child = format!("{path}/{name}");
            match after.get(name) {
                Some(&now) if now == id => {
                    if matches!(self.inode(id)?.kind, Kind::Dir(_)) {
                        self.diff_dir(id, &child, from, to, out)?;
                        continue;
                    }
                    // A file without a diff in the range is the same in both views.
                    let has_diff = self.snaps.diffs.get(&id).is_some_and(|l| {
                        l.iter()
                            .any(|d| d.snapshot >= from && to.is_none_or(|t| d.snapshot < t))
                    });
                    if has_diff && changed(&attrs(id, Some(from))?, &attrs(id, to)?) {
                        out.push((DiffEntry::Modified(child), None));
                    }
                }
                Some(&now) => {
                    out.push((DiffEntry::Deleted(child.clone()), Some(id)));
                    out.push((DiffEntry::Created(child), Some(now)));
                }
                None => out.push((DiffEntry::Deleted(child), Some(id))),
            }
        }
        for (name, &id) in &after {
            if !before.contains_key(name) {
                out.push((DiffEntry::Created(format!("{path}/{name}")), Some(id)));
            }
        }
        Ok(())
    }
}

fn diff_key(e: &DiffEntry) -> &str {
    match e {
        DiffEntry::Created(p)
        | DiffEntry::Deleted(p)
        | DiffEntry::Modified(p)
        | DiffEntry::Renamed(p, _) => p,
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
