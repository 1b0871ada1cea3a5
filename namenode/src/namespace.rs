//! The namespace: the directory tree, files and their blocks, and the edits that change them.
//!
//! Every mutation is an [`Edit`]. The live path validates a request, builds its edit and
//! applies it with [`Namespace::apply`]; start-up applies the journaled edits with the same
//! function, so replay cannot drift from what was acknowledged.

use crate::error::{NnError, NnResult};
use common::ids::{BlockId, GenStamp};
use common::journal::{Image, ImageBuilder};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::{BTreeMap, HashMap, HashSet};

mod snapshot;
use snapshot::SavedInode;
pub use snapshot::{DiffEntry, SnapshotId, SnapshotMeta, Snapshots, SNAPSHOT_DIR};

mod quota;
pub use quota::{file_space, human_bytes, DirQuota, Usage};

pub type InodeId = u32;

/// The root directory's inode.
pub const ROOT: InodeId = 0;

/// Owner, group and permission bits of a file or directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perm {
    pub owner: String,
    pub group: String,
    pub mode: u16,
}

/// A change to the namespace, as journaled. Block ids and stamps are newtypes over `u64`, which
/// postcard encodes exactly as the bare integers: edit logs written before them still replay.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Edit {
    Mkdirs {
        path: String,
        perm: Perm,
        mtime: u64,
    },
    Create {
        path: String,
        perm: Perm,
        mtime: u64,
        replication: u16,
        block_size: u64,
        client: String,
    },
    /// Appends a new block; `prev_len` commits the length of the file's previous last block.
    AddBlock {
        path: String,
        block: BlockId,
        gen: GenStamp,
        prev_len: Option<u64>,
    },
    /// A pipeline or lease recovery restamped a block (and, from recovery, fixed its length).
    UpdateBlock {
        path: String,
        block: BlockId,
        gen: GenStamp,
        len: Option<u64>,
    },
    /// Closes a file under construction; `last_len` commits its last block, `drop_last` removes
    /// a last block that no live node ever held.
    Close {
        path: String,
        last_len: Option<u64>,
        drop_last: bool,
        mtime: u64,
    },
    Rename {
        src: String,
        dst: String,
        mtime: u64,
    },
    Delete {
        path: String,
        mtime: u64,
    },
    SetReplication {
        path: String,
        replication: u16,
    },
    /// A generation stamp was handed out outside AddBlock.
    GenStamp {
        gen: GenStamp,
    },
    /// chmod: new permission bits (with the sticky bit).
    SetPermission {
        path: String,
        mode: u16,
    },
    /// chown/chgrp: a new owner, a new group, or both.
    SetOwner {
        path: String,
        owner: Option<String>,
        group: Option<String>,
    },
    /// The directory may have snapshots.
    AllowSnapshot {
        path: String,
    },
    DisallowSnapshot {
        path: String,
    },
    CreateSnapshot {
        path: String,
        name: String,
        ctime: u64,
    },
    DeleteSnapshot {
        path: String,
        name: String,
    },
    RenameSnapshot {
        path: String,
        old: String,
        new: String,
    },
    /// A closed file reopened for writing at its end: `client` holds its lease, and a partial
    /// last block is under construction again (`reopen_last`), its length no longer final.
    /// The file's id is this edit's txid.
    Append {
        path: String,
        client: String,
        reopen_last: bool,
    },
    /// A directory's quotas as they are to be from now on (None: no such quota).
    SetQuota {
        path: String,
        names: Option<u64>,
        space: Option<u64>,
    },
}

/// One block's metadata. Kept inside its file's inode; the namespace's block index finds the
/// file from the block id. Where its replicas are is the block manager's business
/// (`namesystem::blocks`), not the namespace's.
#[derive(Debug)]
pub struct BlockMeta {
    pub id: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    /// Length is final (the writer moved past it or closed the file).
    pub committed: bool,
}

#[derive(Debug)]
pub struct Inode {
    pub parent: InodeId,
    pub owner: u32,
    pub group: u32,
    pub mode: u16,
    pub mtime: u64,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    Dir(BTreeMap<CompactString, InodeId>),
    File(FileMeta),
}

#[derive(Debug)]
pub struct FileMeta {
    pub replication: u16,
    pub block_size: u64,
    /// In allocation order, so block ids increase.
    pub blocks: SmallVec<[BlockMeta; 1]>,
    /// The lease holder while the file is being written (an interned name).
    client: Option<u32>,
}

impl FileMeta {
    pub fn block(&self, id: BlockId) -> Option<&BlockMeta> {
        let i = self.blocks.binary_search_by_key(&id, |b| b.id).ok()?;
        self.blocks.get(i)
    }

    pub fn last_block(&self) -> Option<&BlockMeta> {
        self.blocks.last()
    }

    /// The file's length: the sum of its blocks' known lengths.
    pub fn length(&self) -> u64 {
        self.blocks.iter().map(|b| b.len).sum()
    }

    pub fn under_construction(&self) -> bool {
        self.client.is_some()
    }
}

/// The whole namespace. Inodes live in a slab (memory follows the entries in use, not the
/// slack of a hash table); blocks live in their files, found through a compact index.
#[derive(Debug)]
pub struct Namespace {
    inodes: Vec<Option<Inode>>,
    free: Vec<InodeId>,
    block_index: HashMap<BlockId, InodeId>,
    pub next_block: BlockId,
    pub next_gen: GenStamp,
    names: Vec<String>,
    name_ids: HashMap<String, u32>,
    /// Files being written, by file id (the txid of their Create edit, unique and durable):
    /// a writer names its file by id, so a rename does not pull the file from under it.
    open_files: HashMap<u64, InodeId>,
    /// The same, by inode, to forget an id when its file is closed or deleted.
    open_ids: HashMap<InodeId, u64>,
    /// Snapshottable directories, their snapshots and the diffs that keep them readable.
    snaps: Snapshots,
    /// The directories with a quota, with their cached usage ([`quota`]).
    quotas: HashMap<InodeId, DirQuota>,
}

/// Splits an absolute path into its components, rejecting what HDFS rejects.
pub fn components(path: &str) -> NnResult<Vec<&str>> {
    if !path.starts_with('/') {
        return Err(NnError::InvalidPath(path.into(), "not absolute".into()));
    }
    let trimmed = path.trim_end_matches('/');
    let mut out = Vec::new();
    for c in trimmed.split('/').skip(1) {
        match c {
            "" => {
                return Err(NnError::InvalidPath(
                    path.into(),
                    "empty path component".into(),
                ))
            }
            "." | ".." => {
                return Err(NnError::InvalidPath(
                    path.into(),
                    format!("'{c}' is not allowed"),
                ))
            }
            SNAPSHOT_DIR => {
                return Err(NnError::InvalidPath(
                    path.into(),
                    format!("snapshots are read-only ('{SNAPSHOT_DIR}' is reserved for them)"),
                ))
            }
            _ if c.contains('\0') || c.contains(':') => {
                return Err(NnError::InvalidPath(
                    path.into(),
                    format!("'{c}' has a forbidden character"),
                ))
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The normal form of a valid path ("/" or "/a/b").
pub fn normalize(path: &str) -> NnResult<String> {
    let c = components(path)?;
    Ok(if c.is_empty() {
        "/".into()
    } else {
        format!("/{}", c.join("/"))
    })
}

impl Default for Namespace {
    fn default() -> Self {
        Self::new()
    }
}

impl Namespace {
    pub fn new() -> Self {
        Self::with_root("root", "supergroup")
    }

    /// An empty namespace whose root (mode 0755) belongs to `owner` and `group`.
    pub fn with_root(owner: &str, group: &str) -> Self {
        let mut ns = Namespace {
            inodes: Vec::new(),
            free: Vec::new(),
            block_index: HashMap::new(),
            next_block: BlockId(1 << 30),
            next_gen: GenStamp(1000),
            names: Vec::new(),
            name_ids: HashMap::new(),
            open_files: HashMap::new(),
            open_ids: HashMap::new(),
            snaps: Snapshots::default(),
            quotas: HashMap::new(),
        };
        let owner = ns.intern(owner);
        let group = ns.intern(group);
        ns.inodes.push(Some(Inode {
            parent: ROOT,
            owner,
            group,
            mode: 0o755,
            mtime: 0,
            kind: Kind::Dir(BTreeMap::new()),
        }));
        ns
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.name_ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.name_ids.insert(s.to_string(), i);
        i
    }

    pub fn name(&self, i: u32) -> &str {
        self.names
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// The inode at `path`, if any.
    pub fn lookup(&self, path: &str) -> NnResult<Option<InodeId>> {
        let mut cur = ROOT;
        for c in components(path)? {
            match &self.inode(cur)?.kind {
                Kind::Dir(children) => match children.get(c) {
                    Some(&id) => cur = id,
                    None => return Ok(None),
                },
                Kind::File(_) => {
                    return Err(NnError::NotDir(path.into()));
                }
            }
        }
        Ok(Some(cur))
    }

    pub fn inode(&self, id: InodeId) -> NnResult<&Inode> {
        self.inodes
            .get(id as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| NnError::Internal(format!("inode {id} vanished")))
    }

    fn inode_mut(&mut self, id: InodeId) -> NnResult<&mut Inode> {
        self.inodes
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| NnError::Internal(format!("inode {id} vanished")))
    }

    fn alloc_inode(&mut self, inode: Inode) -> InodeId {
        match self.free.pop() {
            Some(id) => {
                self.inodes[id as usize] = Some(inode);
                id
            }
            None => {
                self.inodes.push(Some(inode));
                (self.inodes.len() - 1) as InodeId
            }
        }
    }

    /// Every inode in use.
    pub fn inodes(&self) -> impl Iterator<Item = &Inode> {
        self.inodes.iter().flatten()
    }

    /// The inode of the file being written with id `file_id`, if it still is.
    pub fn open_file(&self, file_id: u64) -> Option<InodeId> {
        self.open_files.get(&file_id).copied()
    }

    /// The id of the file being written at inode `id` (0: none, or created before file ids).
    pub fn file_id_of(&self, id: InodeId) -> u64 {
        self.open_ids.get(&id).copied().unwrap_or(0)
    }

    fn forget_open(&mut self, id: InodeId) {
        if let Some(file_id) = self.open_ids.remove(&id) {
            self.open_files.remove(&file_id);
        }
    }

    fn remember_open(&mut self, id: InodeId, file_id: u64) {
        if file_id != 0 {
            self.open_files.insert(file_id, id);
            self.open_ids.insert(id, file_id);
        }
    }

    /// The lease holder of a file being written.
    pub fn client_of(&self, f: &FileMeta) -> Option<&str> {
        f.client.map(|c| self.name(c))
    }

    pub fn block(&self, id: BlockId) -> Option<&BlockMeta> {
        self.block_file(id).map(|(_, b)| b)
    }

    /// A block and the file it belongs to.
    pub fn block_file(&self, id: BlockId) -> Option<(&FileMeta, &BlockMeta)> {
        let inode = *self.block_index.get(&id)?;
        match &self.inodes.get(inode as usize)?.as_ref()?.kind {
            Kind::File(f) => f.block(id).map(|b| (f, b)),
            Kind::Dir(_) => None,
        }
    }

    fn block_mut(&mut self, id: BlockId) -> Option<&mut BlockMeta> {
        let inode = *self.block_index.get(&id)?;
        match &mut self.inodes.get_mut(inode as usize)?.as_mut()?.kind {
            Kind::File(f) => {
                let i = f.blocks.binary_search_by_key(&id, |b| b.id).ok()?;
                f.blocks.get_mut(i)
            }
            Kind::Dir(_) => None,
        }
    }

    /// Every block of every file.
    pub fn all_blocks(&self) -> impl Iterator<Item = &BlockMeta> {
        self.inodes().flat_map(|i| match &i.kind {
            Kind::File(f) => f.blocks.as_slice(),
            Kind::Dir(_) => &[],
        })
    }

    pub fn block_count(&self) -> usize {
        self.block_index.len()
    }

    /// The file at `path`, or an error naming the path.
    /// The path of live inode `id` (each step searches its parent's entries: for messages,
    /// images and short lists, not for hot paths).
    pub fn path_of(&self, mut id: InodeId) -> NnResult<String> {
        let mut parts = Vec::new();
        while id != ROOT {
            let inode = self.inode(id)?;
            let parent = self.inode(inode.parent)?;
            let Kind::Dir(ch) = &parent.kind else {
                return Err(NnError::Internal(format!("inode {id}'s parent is a file")));
            };
            let name = ch
                .iter()
                .find(|(_, &c)| c == id)
                .map(|(n, _)| n.as_str())
                .ok_or_else(|| NnError::Internal(format!("inode {id} is not in its parent")))?;
            parts.push(name);
            id = inode.parent;
        }
        parts.reverse();
        Ok(format!("/{}", parts.join("/")))
    }

    pub fn file(&self, path: &str) -> NnResult<(InodeId, &FileMeta)> {
        let id = self
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        match &self.inode(id)?.kind {
            Kind::File(f) => Ok((id, f)),
            Kind::Dir(_) => Err(NnError::IsDir(path.into())),
        }
    }

    fn file_mut(&mut self, path: &str) -> NnResult<&mut FileMeta> {
        let id = self.file(path)?.0;
        match &mut self.inode_mut(id)?.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(NnError::IsDir(path.into())),
        }
    }

    /// The parent directory of `path` and the last component.
    fn parent_of<'p>(&self, path: &'p str) -> NnResult<(Option<InodeId>, &'p str)> {
        let comps = components(path)?;
        let Some((last, _)) = comps.split_last() else {
            return Err(NnError::InvalidPath(path.into(), "is the root".into()));
        };
        let parent_path = &path[..path.trim_end_matches('/').len() - last.len()];
        Ok((self.lookup(parent_path)?, last))
    }

    /// Applies one edit that has no txid (tests): a file it creates gets no file id.
    pub fn apply(&mut self, edit: &Edit) -> NnResult<ApplyEffect> {
        self.apply_at(edit, 0)
    }

    /// Applies the edit with txid `txid`. Live requests are validated before; during replay a
    /// failure means the journal contradicts itself. A file it creates gets `txid` as its id.
    pub fn apply_at(&mut self, edit: &Edit, txid: u64) -> NnResult<ApplyEffect> {
        let mut effect = ApplyEffect::default();
        // A file whose space may change: its quota usage is charged after the edit.
        let resized = self.resized_file(edit)?;
        match edit {
            Edit::Mkdirs { path, perm, mtime } => {
                self.mkdirs(path, perm, *mtime)?;
            }
            Edit::Create {
                path,
                perm,
                mtime,
                replication,
                block_size,
                client,
            } => {
                let (parent, name) = self.parent_of(path)?;
                let parent = match parent {
                    Some(p) => p,
                    None => {
                        let parent_path = path.trim_end_matches('/');
                        let parent_path = &parent_path[..parent_path.len() - name.len()];
                        let dir_perm = Perm {
                            mode: 0o755,
                            ..perm.clone()
                        };
                        self.mkdirs(parent_path, &dir_perm, *mtime)?
                    }
                };
                let client = Some(self.intern(client));
                let inode = Inode {
                    parent,
                    owner: self.intern(&perm.owner),
                    group: self.intern(&perm.group),
                    mode: perm.mode,
                    mtime: *mtime,
                    kind: Kind::File(FileMeta {
                        replication: *replication,
                        block_size: *block_size,
                        blocks: SmallVec::new(),
                        client,
                    }),
                };
                let id = self.link(parent, name, inode, path)?;
                self.remember_open(id, txid);
            }
            Edit::AddBlock {
                path,
                block,
                gen,
                prev_len,
            } => {
                let inode = self.file(path)?.0;
                self.before_change(inode)?;
                let f = self.file_mut(path)?;
                if f.blocks.last().is_some_and(|b| b.id >= *block) {
                    return Err(NnError::Internal(format!(
                        "{path}: block {block} is out of order"
                    )));
                }
                if let (Some(len), Some(last)) = (prev_len, f.blocks.last_mut()) {
                    last.len = *len;
                    last.committed = true;
                }
                f.blocks.push(BlockMeta {
                    id: *block,
                    gen: *gen,
                    len: 0,
                    committed: false,
                });
                self.block_index.insert(*block, inode);
                self.next_block = self.next_block.max(BlockId(block.0 + 1));
                self.next_gen = self.next_gen.max(GenStamp(gen.0 + 1));
            }
            Edit::UpdateBlock {
                block, gen, len, ..
            } => {
                if let Some(&file) = self.block_index.get(block) {
                    self.before_change(file)?;
                }
                let b = self
                    .block_mut(*block)
                    .ok_or_else(|| NnError::Internal(format!("block {block} not found")))?;
                if *gen != b.gen {
                    b.gen = *gen;
                    effect.restamped = Some(*block);
                }
                if let Some(len) = len {
                    b.len = *len;
                    b.committed = true;
                }
                self.next_gen = self.next_gen.max(GenStamp(gen.0 + 1));
            }
            Edit::Close {
                path,
                last_len,
                drop_last,
                mtime,
            } => {
                let id = self.file(path)?.0;
                self.before_change(id)?;
                self.forget_open(id);
                let inode = self.inode_mut(id)?;
                inode.mtime = *mtime;
                let Kind::File(f) = &mut inode.kind else {
                    return Err(NnError::IsDir(path.clone()));
                };
                if let (Some(last), Some(len)) = (f.blocks.last_mut(), last_len) {
                    last.len = *len;
                    last.committed = true;
                }
                let dropped = if *drop_last { f.blocks.pop() } else { None };
                f.client = None;
                effect.closed_blocks = f.blocks.iter().map(|b| b.id).collect();
                if let Some(b) = dropped {
                    self.block_index.remove(&b.id);
                    effect.removed_blocks.push(b);
                }
            }
            Edit::Rename { src, dst, mtime } => {
                let id = self
                    .lookup(src)?
                    .ok_or_else(|| NnError::NotFound(src.clone()))?;
                let (old_parent, old_name) = self.parent_of(src)?;
                let (new_parent, new_name) = self.parent_of(dst)?;
                let new_parent = new_parent.ok_or_else(|| NnError::NotFound(dst.clone()))?;
                let old_parent = old_parent.ok_or_else(|| NnError::NotFound(src.clone()))?;
                self.entry_removed(old_parent, old_name, id)?;
                self.entry_created(new_parent, new_name, id, false)?;
                // The subtree's usage moves from the old parent's quotas to the new one's.
                let moved = self.usage_to_move(id)?;
                self.charge(old_parent, -(moved.names as i64), -(moved.space as i64))?;
                if let Kind::Dir(ch) = &mut self.inode_mut(old_parent)?.kind {
                    ch.remove(old_name);
                }
                self.inode_mut(old_parent)?.mtime = *mtime;
                match &mut self.inode_mut(new_parent)?.kind {
                    Kind::Dir(ch) => {
                        if ch.insert(new_name.into(), id).is_some() {
                            return Err(NnError::AlreadyExists(dst.clone()));
                        }
                    }
                    Kind::File(_) => return Err(NnError::NotDir(dst.clone())),
                }
                let p = self.inode_mut(new_parent)?;
                p.mtime = *mtime;
                self.inode_mut(id)?.parent = new_parent;
                self.charge(new_parent, moved.names as i64, moved.space as i64)?;
            }
            Edit::Delete { path, mtime } => {
                let id = self
                    .lookup(path)?
                    .ok_or_else(|| NnError::NotFound(path.clone()))?;
                let (parent, name) = self.parent_of(path)?;
                let parent = parent.ok_or_else(|| NnError::NotFound(path.clone()))?;
                self.entry_removed(parent, name, id)?;
                let gone = self.usage_to_move(id)?;
                self.charge(parent, -(gone.names as i64), -(gone.space as i64))?;
                let p = self.inode_mut(parent)?;
                if let Kind::Dir(ch) = &mut p.kind {
                    ch.remove(name);
                }
                p.mtime = *mtime;
                self.free_subtree(id, &mut effect);
            }
            Edit::SetReplication { path, replication } => {
                let id = self.file(path)?.0;
                self.before_change(id)?;
                let f = self.file_mut(path)?;
                f.replication = *replication;
                effect.closed_blocks = f.blocks.iter().map(|b| b.id).collect();
            }
            Edit::GenStamp { gen } => {
                self.next_gen = self.next_gen.max(GenStamp(gen.0 + 1));
            }
            Edit::SetPermission { path, mode } => {
                let id = self
                    .lookup(path)?
                    .ok_or_else(|| NnError::NotFound(path.clone()))?;
                self.before_change(id)?;
                self.inode_mut(id)?.mode = *mode & 0o7777;
            }
            Edit::SetOwner { path, owner, group } => {
                let id = self
                    .lookup(path)?
                    .ok_or_else(|| NnError::NotFound(path.clone()))?;
                self.before_change(id)?;
                let owner = owner.as_deref().map(|o| self.intern(o));
                let group = group.as_deref().map(|g| self.intern(g));
                let inode = self.inode_mut(id)?;
                if let Some(o) = owner {
                    inode.owner = o;
                }
                if let Some(g) = group {
                    inode.group = g;
                }
            }
            Edit::AllowSnapshot { path } => self.allow_snapshot(path)?,
            Edit::DisallowSnapshot { path } => self.disallow_snapshot(path)?,
            Edit::CreateSnapshot { path, name, ctime } => {
                self.create_snapshot(path, name, *ctime)?
            }
            Edit::DeleteSnapshot { path, name } => self.delete_snapshot(path, name, &mut effect)?,
            Edit::RenameSnapshot { path, old, new } => self.rename_snapshot(path, old, new)?,
            Edit::Append {
                path,
                client,
                reopen_last,
            } => {
                let id = self.file(path)?.0;
                self.before_change(id)?;
                let client = self.intern(client);
                let f = self.file_mut(path)?;
                if f.client.is_some() {
                    return Err(NnError::Internal(format!(
                        "{path}: appended to while being written"
                    )));
                }
                f.client = Some(client);
                if *reopen_last {
                    let last = f.blocks.last_mut().ok_or_else(|| {
                        NnError::Internal(format!("{path}: no last block to reopen"))
                    })?;
                    last.committed = false;
                }
                self.remember_open(id, txid);
            }
            Edit::SetQuota { path, names, space } => {
                self.set_quota(path, *names, *space)?;
            }
        }
        if let Some((id, before)) = resized {
            let after = self.space_of(id)?;
            self.charge(id, 0, after as i64 - before as i64)?;
        }
        Ok(effect)
    }

    /// The file an edit may grow or shrink, and its space before, when quotas are counted.
    fn resized_file(&self, edit: &Edit) -> NnResult<Option<(InodeId, u64)>> {
        if self.quotas.is_empty() {
            return Ok(None);
        }
        let id = match edit {
            Edit::AddBlock { path, .. }
            | Edit::Append { path, .. }
            | Edit::Close { path, .. }
            | Edit::SetReplication { path, .. } => self.file(path)?.0,
            Edit::UpdateBlock { block, .. } => match self.block_index.get(block) {
                Some(&id) => id,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some((id, self.space_of(id)?)))
    }

    fn link(&mut self, parent: InodeId, name: &str, inode: Inode, path: &str) -> NnResult<InodeId> {
        let mtime = inode.mtime;
        match &self.inode(parent)?.kind {
            Kind::Dir(ch) if ch.contains_key(name) => {
                return Err(NnError::AlreadyExists(path.into()))
            }
            Kind::Dir(_) => {}
            Kind::File(_) => return Err(NnError::NotDir(path.into())),
        }
        let id = self.alloc_inode(inode);
        self.entry_created(parent, name, id, true)?;
        let p = self.inode_mut(parent)?;
        if let Kind::Dir(ch) = &mut p.kind {
            ch.insert(name.into(), id);
        }
        p.mtime = p.mtime.max(mtime);
        self.charge(parent, 1, 0)?;
        Ok(id)
    }

    /// Creates `path` and any missing parents; returns the directory's inode.
    fn mkdirs(&mut self, path: &str, perm: &Perm, mtime: u64) -> NnResult<InodeId> {
        let mut cur = ROOT;
        let mut so_far = String::new();
        for c in components(path)? {
            so_far.push('/');
            so_far.push_str(c);
            let next = match &self.inode(cur)?.kind {
                Kind::Dir(ch) => ch.get(c).copied(),
                Kind::File(_) => return Err(NnError::NotDir(so_far)),
            };
            cur = match next {
                Some(id) => id,
                None => {
                    let inode = Inode {
                        parent: cur,
                        owner: self.intern(&perm.owner),
                        group: self.intern(&perm.group),
                        mode: perm.mode,
                        mtime,
                        kind: Kind::Dir(BTreeMap::new()),
                    };
                    self.link(cur, c, inode, &so_far)?
                }
            };
        }
        if let Kind::File(_) = self.inode(cur)?.kind {
            return Err(NnError::AlreadyExists(path.into()));
        }
        Ok(cur)
    }

    /// Visits `path` and everything under it, depth first, parents before children.
    pub fn walk(
        &self,
        path: &str,
        mut visit: impl FnMut(&str, &Inode) -> NnResult<()>,
    ) -> NnResult<()> {
        self.walk_ids(path, |p, _, inode| visit(p, inode))
    }

    /// [`Namespace::walk`], with each inode's id.
    fn walk_ids(
        &self,
        path: &str,
        mut visit: impl FnMut(&str, InodeId, &Inode) -> NnResult<()>,
    ) -> NnResult<()> {
        let start = self
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        let start_path = normalize(path)?;
        let mut stack = vec![(start_path, start)];
        while let Some((p, id)) = stack.pop() {
            let inode = self.inode(id)?;
            visit(&p, id, inode)?;
            if let Kind::Dir(ch) = &inode.kind {
                for (name, &child) in ch.iter().rev() {
                    let cp = if p == "/" {
                        format!("/{name}")
                    } else {
                        format!("{p}/{name}")
                    };
                    stack.push((cp, child));
                }
            }
        }
        Ok(())
    }

    /// The namespace as checkpoint records: a header, then every inode, parents first.
    pub fn image(&self) -> NnResult<ImageBuilder> {
        let mut out = ImageBuilder::default();
        out.push(&encode(&ImageRecord::Header {
            next_block: self.next_block,
            next_gen: self.next_gen,
        })?);
        // With snapshots, records carry inode ids: diffs name inodes by id, and inodes only a
        // snapshot holds follow the tree.
        let with_ids = !self.snaps.is_empty();
        let mut visited = HashSet::new();
        self.walk_ids("/", |path, id, inode| {
            let perm = Perm {
                owner: self.name(inode.owner).into(),
                group: self.name(inode.group).into(),
                mode: inode.mode,
            };
            let rec = match &inode.kind {
                Kind::Dir(_) => ImageRecord::Dir {
                    path: path.into(),
                    perm,
                    mtime: inode.mtime,
                },
                Kind::File(f) => ImageRecord::File {
                    path: path.into(),
                    perm,
                    mtime: inode.mtime,
                    replication: f.replication,
                    block_size: f.block_size,
                    blocks: f
                        .blocks
                        .iter()
                        .map(|m| ImageBlock {
                            id: m.id,
                            gen: m.gen,
                            len: m.len,
                            committed: m.committed,
                        })
                        .collect(),
                    client: self.client_of(f).map(String::from),
                },
            };
            let open = matches!(&inode.kind, Kind::File(f) if f.client.is_some());
            out.push(&encode(&rec)?);
            if with_ids {
                out.push(&encode(&ImageRecord::InodeId { id })?);
                visited.insert(id);
            }
            let open_id = if open { self.lookup(path)? } else { None };
            if let Some(&file_id) = open_id.and_then(|id| self.open_ids.get(&id)) {
                out.push(&encode(&ImageRecord::OpenFileId {
                    path: path.into(),
                    file_id,
                })?);
            }
            Ok(())
        })?;
        if with_ids {
            for (id, slot) in self.inodes.iter().enumerate() {
                let id = id as InodeId;
                let Some(inode) = slot else { continue };
                if !visited.contains(&id) {
                    out.push(&encode(&self.kept_record(id, inode))?);
                }
            }
            out.push(&encode(&ImageRecord::Snapshots {
                names: self.names.clone(),
                state: self.snaps.clone(),
            })?);
        }
        // After every inode, so loading finds the directories; usage is recounted at load.
        let mut quotas: Vec<_> = self.quota_dirs().collect();
        quotas.sort_unstable_by_key(|(id, _)| *id);
        for (id, q) in quotas {
            out.push(&encode(&ImageRecord::Quota {
                path: self.path_of(id)?,
                names: q.names,
                space: q.space,
            })?);
        }
        Ok(out)
    }

    /// An inode out of the live tree that a snapshot holds, as an image record.
    fn kept_record(&self, id: InodeId, inode: &Inode) -> ImageRecord {
        let saved: SavedInode = Self::saved_now(inode);
        ImageRecord::KeptInode {
            id,
            parent: inode.parent,
            children: match &inode.kind {
                Kind::Dir(ch) => ch.iter().map(|(n, &c)| (n.to_string(), c)).collect(),
                Kind::File(_) => Vec::new(),
            },
            owner: self.name(inode.owner).into(),
            group: self.name(inode.group).into(),
            saved,
        }
    }

    /// Rebuilds a namespace from checkpoint records.
    pub fn from_image(image: &Image) -> NnResult<Namespace> {
        let mut ns = Namespace::new();
        // Inode ids as the image names them, to ids here (snapshot diffs name inodes by id).
        let mut ids: HashMap<InodeId, InodeId> = HashMap::new();
        let mut last = ROOT;
        let mut kept = Vec::new();
        for r in image.records() {
            let rec: ImageRecord = postcard::from_bytes(r)
                .map_err(|e| NnError::Internal(format!("undecodable image record: {e}")))?;
            match rec {
                ImageRecord::Header {
                    next_block,
                    next_gen,
                } => {
                    ns.next_block = next_block;
                    ns.next_gen = next_gen;
                }
                ImageRecord::Dir { path, perm, mtime } => {
                    if path == "/" {
                        let owner = ns.intern(&perm.owner);
                        let group = ns.intern(&perm.group);
                        let root = ns.inode_mut(ROOT)?;
                        (root.owner, root.group, root.mode, root.mtime) =
                            (owner, group, perm.mode, mtime);
                        last = ROOT;
                    } else {
                        last = ns.mkdirs(&path, &perm, mtime)?;
                    }
                }
                ImageRecord::File {
                    path,
                    perm,
                    mtime,
                    replication,
                    block_size,
                    blocks,
                    client,
                } => {
                    let (parent, name) = ns.parent_of(&path)?;
                    let parent = parent.ok_or_else(|| NnError::NotFound(path.clone()))?;
                    let client = client.map(|c| ns.intern(&c));
                    let inode = Inode {
                        parent,
                        owner: ns.intern(&perm.owner),
                        group: ns.intern(&perm.group),
                        mode: perm.mode,
                        mtime,
                        kind: Kind::File(FileMeta {
                            replication,
                            block_size,
                            blocks: blocks
                                .iter()
                                .map(|b| BlockMeta {
                                    id: b.id,
                                    gen: b.gen,
                                    len: b.len,
                                    committed: b.committed,
                                })
                                .collect(),
                            client,
                        }),
                    };
                    let id = ns.link(parent, name, inode, &path)?;
                    for b in blocks {
                        ns.block_index.insert(b.id, id);
                    }
                    last = id;
                }
                ImageRecord::InodeId { id } => {
                    ids.insert(id, last);
                }
                ImageRecord::KeptInode {
                    id,
                    parent,
                    children,
                    owner,
                    group,
                    saved,
                } => {
                    let new = ns.load_kept(parent, children, &owner, &group, saved);
                    ids.insert(id, new);
                    kept.push(new);
                }
                ImageRecord::Snapshots { names, state } => {
                    ns.load_snapshots(&ids, &kept, &names, state)?;
                }
                ImageRecord::OpenFileId { path, file_id } => {
                    let id = ns.file(&path)?.0;
                    ns.remember_open(id, file_id);
                }
                ImageRecord::Quota { path, names, space } => {
                    ns.set_quota(&path, names, space)?;
                }
            }
        }
        Ok(ns)
    }
}

/// What applying an edit did that the block manager must follow up on.
#[derive(Debug, Default)]
pub struct ApplyEffect {
    /// Blocks gone from the namespace: their replicas are to be deleted.
    pub removed_blocks: Vec<BlockMeta>,
    /// Blocks whose expected replication should be checked.
    pub closed_blocks: Vec<BlockId>,
    /// A block given a new generation stamp: the replicas it had are now stale.
    pub restamped: Option<BlockId>,
}

/// One block in a checkpoint record; encoded as the `(u64, u64, u64, bool)` tuple it replaced.
#[derive(Serialize, Deserialize)]
struct ImageBlock {
    id: BlockId,
    gen: GenStamp,
    len: u64,
    committed: bool,
}

#[derive(Serialize, Deserialize)]
enum ImageRecord {
    Header {
        next_block: BlockId,
        next_gen: GenStamp,
    },
    Dir {
        path: String,
        perm: Perm,
        mtime: u64,
    },
    File {
        path: String,
        perm: Perm,
        mtime: u64,
        replication: u16,
        block_size: u64,
        blocks: Vec<ImageBlock>,
        client: Option<String>,
    },
    /// Follows the `File` record of a file being written: its file id. A new variant, so
    /// images written before file ids still load (their open files have none).
    OpenFileId { path: String, file_id: u64 },
    /// Follows each `Dir` and `File` record when there are snapshots: the inode's id then.
    InodeId { id: InodeId },
    /// An inode out of the live tree that a snapshot holds (ids as the image names them).
    KeptInode {
        id: InodeId,
        parent: InodeId,
        children: Vec<(String, InodeId)>,
        owner: String,
        group: String,
        saved: SavedInode,
    },
    /// The snapshot state, last; `names` resolves the interned owners in its saved attributes.
    Snapshots {
        names: Vec<String>,
        state: Snapshots,
    },
    /// A directory's quotas (a new variant: older images have none).
    Quota {
        path: String,
        names: Option<u64>,
        space: Option<u64>,
    },
}

pub fn encode<T: Serialize>(v: &T) -> NnResult<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| NnError::Internal(format!("encoding: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm() -> Perm {
        Perm {
            owner: "alice".into(),
            group: "staff".into(),
            mode: 0o755,
        }
    }

    #[test]
    fn bad_paths_are_rejected_with_the_reason() {
        for (p, why) in [
            ("a/b", "not absolute"),
            ("/a/../b", "'..'"),
            ("/a//b", "empty"),
            ("/a/./b", "'.'"),
        ] {
            let e = components(p).expect_err(p).to_string();
            assert!(e.contains(why), "{p}: {e}");
        }
        assert_eq!(normalize("/a/b/").expect("ok"), "/a/b");
    }

    #[test]
    fn per_file_metadata_stays_compact() {
        // The namenode's memory budget (1M one-block files in 250 MB) rests on these sizes.
        assert!(std::mem::size_of::<BlockMeta>() <= 56);
        assert!(std::mem::size_of::<Option<Inode>>() <= 112);
    }

    #[test]
    fn image_round_trip_keeps_tree_blocks_and_owners() {
        let mut ns = Namespace::new();
        let edits = [
            Edit::Mkdirs {
                path: "/x/y".into(),
                perm: perm(),
                mtime: 5,
            },
            Edit::Create {
                path: "/x/y/f".into(),
                perm: perm(),
                mtime: 6,
                replication: 2,
                block_size: 1 << 20,
                client: "c1".into(),
            },
            Edit::AddBlock {
                path: "/x/y/f".into(),
                block: BlockId(77),
                gen: GenStamp(2000),
                prev_len: None,
            },
            Edit::Close {
                path: "/x/y/f".into(),
                last_len: Some(123),
                drop_last: false,
                mtime: 7,
            },
        ];
        for e in &edits {
            ns.apply(e).expect("apply");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let j = common::journal::Journal::start(dir.path(), 0).expect("journal");
        j.write_image(7, ns.image().expect("image")).expect("write");
        let (_, image) = common::journal::load_latest_image(dir.path())
            .expect("load")
            .expect("image");
        let back = Namespace::from_image(&image).expect("load");
        let (_, f) = back.file("/x/y/f").expect("file");
        assert_eq!(
            f.blocks.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![BlockId(77)]
        );
        assert!(!f.under_construction());
        assert_eq!(f.length(), 123);
        let dir = back
            .inode(back.lookup("/x").expect("ok").expect("x"))
            .expect("inode");
        assert_eq!(back.name(dir.owner), "alice");
        assert_eq!(
            (back.next_block, back.next_gen),
            (ns.next_block, ns.next_gen)
        );
    }

    #[test]
    fn typed_ids_keep_the_journaled_encoding() {
        // Edit logs and images written when blocks and stamps were bare u64s must still load.
        let typed = encode(&Edit::AddBlock {
            path: "/f".into(),
            block: BlockId(1 << 30),
            gen: GenStamp(1001),
            prev_len: Some(5),
        })
        .expect("encode");
        #[derive(Serialize)]
        enum Old {
            _Mkdirs,
            _Create,
            AddBlock {
                path: String,
                block: u64,
                gen: u64,
                prev_len: Option<u64>,
            },
        }
        let old = encode(&Old::AddBlock {
            path: "/f".into(),
            block: 1 << 30,
            gen: 1001,
            prev_len: Some(5),
        })
        .expect("encode");
        assert_eq!(typed, old);
        let block = encode(&ImageBlock {
            id: BlockId(7),
            gen: GenStamp(8),
            len: 9,
            committed: true,
        })
        .expect("encode");
        assert_eq!(block, encode(&(7u64, 8u64, 9u64, true)).expect("encode"));
    }

    #[test]
    fn a_file_being_written_keeps_its_id_through_rename_and_checkpoint() {
        let mut ns = Namespace::new();
        let create = Edit::Create {
            path: "/d/f".into(),
            perm: perm(),
            mtime: 1,
            replication: 1,
            block_size: 1 << 20,
            client: "c1".into(),
        };
        ns.apply_at(&create, 42).expect("create");
        let id = ns.open_file(42).expect("open");
        let rename = Edit::Rename {
            src: "/d".into(),
            dst: "/e".into(),
            mtime: 2,
        };
        ns.apply_at(&rename, 43).expect("rename");
        assert_eq!(ns.open_file(42), Some(id), "the id follows the inode");
        assert_eq!(ns.lookup("/e/f").expect("ok"), Some(id));
        let dir = tempfile::tempdir().expect("tempdir");
        let j = common::journal::Journal::start(dir.path(), 0).expect("journal");
        j.write_image(43, ns.image().expect("image"))
            .expect("write");
        let (_, image) = common::journal::load_latest_image(dir.path())
            .expect("load")
            .expect("image");
        let mut back = Namespace::from_image(&image).expect("load");
        let id = back.open_file(42).expect("the id survives a checkpoint");
        assert_eq!(back.lookup("/e/f").expect("ok"), Some(id));
        assert_eq!(back.file_id_of(id), 42);
        let close = Edit::Close {
            path: "/e/f".into(),
            last_len: None,
            drop_last: false,
            mtime: 3,
        };
        back.apply_at(&close, 44).expect("close");
        assert_eq!(back.open_file(42), None, "a closed file has no writer id");
        ns.apply_at(
            &Edit::Delete {
                path: "/e".into(),
                mtime: 3,
            },
            44,
        )
        .expect("delete");
        assert_eq!(ns.open_file(42), None, "a deleted file has no writer id");
    }
}
