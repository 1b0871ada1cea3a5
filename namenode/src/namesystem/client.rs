//! Client operations that change the namespace: mkdirs, create, the write path (add a block,
//! rebuild a pipeline, complete), rename, delete, set replication. Each validates, builds its
//! edit and logs it under the lock; the caller awaits the returned [`Commit`] after. Each checks
//! the caller's permissions ([`crate::permission`]) under the same lock, so no change slips
//! between the check and the edit.

use super::queries::FileInfo;
use super::{now_ms, Metadata, Namesystem};
use crate::datanodes::{NodeIdx, NodeInfo};
use crate::error::{NnError, NnResult};
use crate::namespace::{self, Edit, Kind, Perm};
use crate::permission::{self, Access, Need, Subject};
use crate::placement;
use common::ids::{BlockId, GenStamp, NodeId};
use common::journal::Commit;

/// A block with its replicas located, for a reader or a writer.
#[derive(Debug)]
pub struct LocatedBlock {
    pub id: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    /// Where the block starts in its file.
    pub offset: u64,
    /// Nearest first, for a reader; the pipeline, for a writer.
    pub nodes: Vec<NodeInfo>,
    /// Every replica is corrupt: they are handed out so the reader fails loudly.
    pub corrupt: bool,
}

/// The block a writer finished, as it names it: its id and final length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastBlock {
    pub block: BlockId,
    pub len: u64,
}

/// A long name cut for an error message: its start and its length.
fn abbreviate(s: &str) -> String {
    const SHOWN: usize = 64;
    if s.len() <= SHOWN {
        return s.into();
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

impl Namesystem {
    /// Refuses a new name that is longer, or a path that is deeper, than the configured
    /// limits (HDFS: 255 bytes, 1,000 components). Checked where a name is made (mkdirs,
    /// create, rename's destination), never on replay: what exists stays readable.
    fn check_name_limits(&self, path: &str) -> NnResult<()> {
        let comps = namespace::components(path)?;
        let max_depth = self.config.max_path_depth as usize;
        if comps.len() > max_depth {
            return Err(NnError::InvalidPath(
                abbreviate(path),
                format!(
                    "{} components, deeper than the limit of {max_depth} (max_path_depth)",
                    comps.len()
                ),
            ));
        }
        let max_len = self.config.max_component_length as usize;
        if let Some(c) = comps.iter().find(|c| c.len() > max_len) {
            return Err(NnError::InvalidPath(
                abbreviate(path),
                format!(
                    "the name '{}' is longer than the limit of {max_len} bytes (max_component_length)",
                    abbreviate(c)
                ),
            ));
        }
        Ok(())
    }

    /// The current path of the file a writer names: by its file id when it gives one (the
    /// file may have been renamed, or its directory moved, since create: the lease follows
    /// it), else by the path it sends.
    fn writer_path(st: &Metadata, path: &str, file_id: u64, client: &str) -> NnResult<String> {
        if file_id == 0 {
            return namespace::normalize(path);
        }
        let Some(inode) = st.ns.open_file(file_id) else {
            // No longer being written: closed by lease recovery (the file is still there) or
            // deleted.
            return Err(match st.ns.lookup(path) {
                Ok(Some(_)) => NnError::NoLease(path.into(), client.into()),
                _ => NnError::NotFound(format!(
                    "{path} (deleted, or closed by lease recovery, while being written)"
                )),
            });
        };
        st.leases
            .by_client
            .get(client)
            .and_then(|l| {
                l.paths
                    .iter()
                    .find(|p| st.ns.lookup(p).ok().flatten() == Some(inode))
            })
            .cloned()
            .ok_or_else(|| NnError::NoLease(path.into(), client.into()))
    }

    /// Only the user who writes a file (its owner: the creator) may add to, restamp or close
    /// it: a client name alone is no proof, anyone can send one.
    fn check_writer(st: &Metadata, who: &Subject, path: &str) -> NnResult<()> {
        let (id, _) = st.ns.file(path)?;
        let inode = st.ns.inode(id)?;
        if who.superuser || st.ns.name(inode.owner) == who.user {
            return Ok(());
        }
        Err(NnError::PermissionDenied(format!(
            "user={}, access=WRITE, path={path} ({} {}:{}): the file is being written by its owner",
            who.user,
            permission::mode_string(inode.mode),
            st.ns.name(inode.owner),
            st.ns.name(inode.group)
        )))
    }

    fn check_lease(st: &Metadata, path: &str, client: &str) -> NnResult<()> {
        let (_, f) = st.ns.file(path)?;
        match st.ns.client_of(f) {
            Some(c) if c == client => Ok(()),
            _ => Err(NnError::NoLease(path.into(), client.into())),
        }
    }

    pub fn mkdirs(&self, who: &Subject, path: &str, perm: Perm) -> NnResult<Option<Commit>> {
        let path = namespace::normalize(path)?;
        let mut st = self.meta.lock();
        let exists = st.ns.lookup(&path)?;
        // A new directory needs write on the nearest existing ancestor (mkdir -p).
        let need = Need {
            ancestor: exists.is_none().then_some(Access::WRITE),
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        match exists {
            Some(id) => match st.ns.inode(id)?.kind {
                Kind::Dir(_) => return Ok(None),
                Kind::File(_) => return Err(NnError::AlreadyExists(path)),
            },
            None => st.check_writable()?,
        }
        self.check_name_limits(&path)?;
        st.check_new_names(&path)?;
        let perm = self.inherit_group(&st, &path, perm)?;
        let edit = Edit::Mkdirs {
            path,
            perm,
            mtime: now_ms(),
        };
        self.log(&mut st, edit).map(Some)
    }

    /// HDFS semantics: a new entry's group is its nearest existing ancestor's group.
    fn inherit_group(&self, st: &Metadata, path: &str, mut perm: Perm) -> NnResult<Perm> {
        if !perm.group.is_empty() {
            return Ok(perm);
        }
        let mut p = path.to_string();
        loop {
            p = match p.rfind('/') {
                Some(0) => "/".into(),
                Some(i) => p[..i].into(),
                None => "/".into(),
            };
            if let Some(id) = st.ns.lookup(&p).ok().flatten() {
                perm.group = st.ns.name(st.ns.inode(id)?.group).to_string();
                return Ok(perm);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        who: &Subject,
        path: &str,
        perm: Perm,
        replication: u32,
        block_size: u64,
        client: &str,
        create_parent: bool,
    ) -> NnResult<(FileInfo, Commit)> {
        let path = namespace::normalize(path)?;
        let replication = if replication == 0 {
            self.config.default_replication
        } else {
            replication
        };
        let block_size = if block_size == 0 {
            self.config.default_block_size
        } else {
            block_size
        };
        if replication > self.config.max_replication {
            return Err(NnError::InvalidArgument(format!(
                "{path}: replication {replication} is above the maximum of {}",
                self.config.max_replication
            )));
        }
        let bpc = self.config.bytes_per_checksum as u64;
        if block_size == 0 || !block_size.is_multiple_of(bpc) {
            return Err(NnError::InvalidArgument(format!(
                "{path}: block size {block_size} is not a multiple of the checksum chunk ({bpc} bytes)"
            )));
        }
        if client.is_empty() {
            return Err(NnError::InvalidArgument(format!("{path}: no client name")));
        }
        self.check_name_limits(&path)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        let need = if create_parent {
            Need {
                ancestor: Some(Access::WRITE),
                ..Need::default()
            }
        } else {
            Need {
                parent: Some(Access::WRITE),
                ..Need::default()
            }
        };
        permission::check(&st.ns, who, &path, need)?;
        if path == "/" || st.ns.lookup(&path)?.is_some() {
            return Err(NnError::AlreadyExists(path));
        }
        let (parent_exists, parent) = {
            let trimmed = &path[..path.rfind('/').unwrap_or(0)];
            let parent = if trimmed.is_empty() { "/" } else { trimmed };
            (st.ns.lookup(parent)?.is_some(), parent.to_string())
        };
        if !parent_exists && !create_parent {
            return Err(NnError::NotFound(parent));
        }
        st.check_new_names(&path)?;
        let perm = self.inherit_group(&st, &path, perm)?;
        let edit = Edit::Create {
            path: path.clone(),
            perm,
            mtime: now_ms(),
            replication: replication as u16,
            block_size,
            client: client.into(),
        };
        let commit = self.log(&mut st, edit)?;
        let now = self.clock.now();
        st.leases.add_path(client, &path, now);
        let status = st.status_of(&path)?;
        Ok((status, commit))
    }

    /// A new block for the file `client` writes: the one with `file_id` (wherever it was
    /// renamed to), or at `path` when the writer gives no id.
    #[allow(clippy::too_many_arguments)]
    pub fn add_block(
        &self,
        who: &Subject,
        path: &str,
        file_id: u64,
        client: &str,
        previous: Option<LastBlock>,
        excluded: &[NodeId],
        writer_host: &str,
    ) -> NnResult<(LocatedBlock, Commit)> {
        let mut st = self.meta.lock();
        st.check_writable()?;
        let path = Self::writer_path(&st, path, file_id, client)?;
        Self::check_lease(&st, &path, client)?;
        Self::check_writer(&st, who, &path)?;
        let (inode, f) = st.ns.file(&path)?;
        let last = f.last_block().map(|b| b.id);
        let (replication, block_size) = (f.replication as usize, f.block_size);
        let prev_len = match (previous, last) {
            (Some(LastBlock { block, len }), Some(last)) if block == last => Some(len),
            (None, None) => None,
            (prev, last) => {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: previous block {:?} is not the file's last block {:?}",
                    prev.map(|p| (p.block.0, p.len)),
                    last.map(|l| l.0)
                )))
            }
        };
        if let Some(len) = prev_len {
            if len > block_size {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: block length {len} exceeds the block size {block_size}"
                )));
            }
        }
        st.check_new_block(inode, prev_len)?;
        let excluded: Vec<NodeIdx> = excluded
            .iter()
            .filter_map(|&id| st.dns.index_of(id))
            .collect();
        let writer = (!writer_host.is_empty()).then_some(writer_host);
        let targets =
            placement::choose_targets(&st.dns, replication, writer, &[], &excluded, block_size);
        if targets.is_empty() {
            return Err(NnError::NoDatanodes(format!(
                "{path}: could not place any replica: no live datanode with space{}",
                if excluded.is_empty() {
                    ""
                } else {
                    " (after excluding failed ones)"
                }
            )));
        }
        let (block, gen) = (st.ns.next_block, st.ns.next_gen);
        let commit = self.log(
            &mut st,
            Edit::AddBlock {
                path: path.clone(),
                block,
                gen,
                prev_len,
            },
        )?;
        if let Some(prev) = last {
            st.blocks.expected.remove(&prev);
        }
        let nodes = targets.iter().map(|&n| st.dns.info(n)).collect();
        st.blocks.expected.insert(block, targets);
        let offset = st.ns.file(&path)?.1.length();
        Ok((
            LocatedBlock {
                id: block,
                gen,
                len: 0,
                offset,
                nodes,
                corrupt: false,
            },
            commit,
        ))
    }

    /// Finds the file whose last block under construction is `block`, held by `client`.
    fn uc_block_path(st: &Metadata, block: BlockId, client: &str) -> NnResult<String> {
        if st.ns.block(block).is_none() {
            return Err(NnError::NotFound(format!(
                "block {} (its file was deleted while being written)",
                block.0
            )));
        }
        let lease = st
            .leases
            .by_client
            .get(client)
            .ok_or_else(|| NnError::NoLease(format!("block {}", block.0), client.into()))?;
        for p in &lease.paths {
            if let Ok((_, f)) = st.ns.file(p) {
                if f.last_block().map(|b| b.id) == Some(block) {
                    return Ok(p.clone());
                }
            }
        }
        Err(NnError::NoLease(
            format!("block {}", block.0),
            client.into(),
        ))
    }

    /// A new generation stamp for a pipeline being rebuilt.
    pub fn update_block_for_pipeline(
        &self,
        who: &Subject,
        block: BlockId,
        client: &str,
    ) -> NnResult<(GenStamp, Commit)> {
        let mut st = self.meta.lock();
        st.check_writable()?;
        let path = Self::uc_block_path(&st, block, client)?;
        Self::check_writer(&st, who, &path)?;
        let gen = st.ns.next_gen;
        let commit = self.log(&mut st, Edit::GenStamp { gen })?;
        Ok((gen, commit))
    }

    pub fn update_pipeline(
        &self,
        who: &Subject,
        client: &str,
        block: BlockId,
        new_gen: GenStamp,
        nodes: &[NodeId],
    ) -> NnResult<Commit> {
        let mut st = self.meta.lock();
        st.check_writable()?;
        let path = Self::uc_block_path(&st, block, client)?;
        Self::check_writer(&st, who, &path)?;
        let commit = self.log(
            &mut st,
            Edit::UpdateBlock {
                path,
                block,
                gen: new_gen,
                len: None,
            },
        )?;
        let nodes = nodes.iter().filter_map(|&n| st.dns.index_of(n)).collect();
        st.blocks.expected.insert(block, nodes);
        Ok(commit)
    }

    /// Closes the file `client` writes, named as for [`Namesystem::add_block`].
    pub fn complete(
        &self,
        who: &Subject,
        path: &str,
        file_id: u64,
        client: &str,
        last: Option<LastBlock>,
    ) -> NnResult<Commit> {
        let mut st = self.meta.lock();
        st.check_writable()?;
        let path = Self::writer_path(&st, path, file_id, client)?;
        Self::check_lease(&st, &path, client)?;
        Self::check_writer(&st, who, &path)?;
        let (_, f) = st.ns.file(&path)?;
        let file_last = f.last_block().map(|b| b.id);
        let last_len = match (last, file_last) {
            (Some(LastBlock { block, len }), Some(fl)) if block == fl => Some(len),
            (None, None) => None,
            (l, fl) => {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: last block {:?} is not the file's last block {:?}",
                    l.map(|l| (l.block.0, l.len)),
                    fl.map(|f| f.0)
                )))
            }
        };
        let commit = self.log(
            &mut st,
            Edit::Close {
                path: path.clone(),
                last_len,
                drop_last: false,
                mtime: now_ms(),
            },
        )?;
        if let Some(b) = file_last {
            st.blocks.expected.remove(&b);
        }
        st.leases.release_path(client, &path);
        Ok(commit)
    }

    pub fn rename(&self, who: &Subject, src: &str, dst: &str) -> NnResult<Commit> {
        let src = namespace::normalize(src)?;
        let mut dst = namespace::normalize(dst)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        if src == "/" {
            return Err(NnError::InvalidArgument("cannot rename the root".into()));
        }
        let parent_write = Need {
            parent: Some(Access::WRITE),
            ..Need::default()
        };
        // Moving an entry out takes write on its directory (and the sticky bit's consent).
        permission::check(&st.ns, who, &src, parent_write)?;
        if st.ns.lookup(&src)?.is_none() {
            return Err(NnError::NotFound(src));
        }
        // Moving into an existing directory keeps the name, as `mv` does.
        if let Some(id) = st.ns.lookup(&dst)? {
            match st.ns.inode(id)?.kind {
                Kind::Dir(_) => {
                    let name = &src[src.rfind('/').map_or(0, |i| i + 1)..];
                    dst = if dst == "/" {
                        format!("/{name}")
                    } else {
                        format!("{dst}/{name}")
                    };
                    if st.ns.lookup(&dst)?.is_some() {
                        return Err(NnError::AlreadyExists(dst));
                    }
                }
                Kind::File(_) => return Err(NnError::AlreadyExists(dst)),
            }
        }
        if dst == src {
            return Err(NnError::AlreadyExists(dst));
        }
        self.check_name_limits(&dst)?;
        // Moving it in takes write on the destination's directory.
        permission::check(&st.ns, who, &dst, parent_write)?;
        if dst.starts_with(&format!("{src}/")) {
            return Err(NnError::InvalidArgument(format!(
                "cannot move {src} under itself ({dst})"
            )));
        }
        let parent = &dst[..dst.rfind('/').unwrap_or(0)];
        let parent = if parent.is_empty() { "/" } else { parent };
        let dst_parent = match st.ns.lookup(parent)? {
            Some(id) if matches!(st.ns.inode(id)?.kind, Kind::Dir(_)) => id,
            Some(_) => return Err(NnError::NotDir(parent.into())),
            None => return Err(NnError::NotFound(parent.into())),
        };
        if let Some(src_id) = st.ns.lookup(&src)? {
            st.check_move(src_id, dst_parent)?;
        }
        let commit = self.log(
            &mut st,
            Edit::Rename {
                src: src.clone(),
                dst: dst.clone(),
                mtime: now_ms(),
            },
        )?;
        st.leases.renamed(&src, &dst);
        Ok(commit)
    }

    pub fn delete(&self, who: &Subject, path: &str, recursive: bool) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        let mut st = self.meta.lock();
        st.check_writable()?;
        if path == "/" {
            return Err(NnError::InvalidArgument("cannot delete the root".into()));
        }
        // Write on the parent (and the sticky bit's consent); emptying a subtree takes write
        // and execute on each of its non-empty directories (HDFS's subAccess).
        let need = Need {
            parent: Some(Access::WRITE),
            sub: Some(Access::WRITE_EXECUTE),
            ignore_empty_dir: true,
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        if let Kind::Dir(ch) = &st.ns.inode(id)?.kind {
            if !ch.is_empty() && !recursive {
                return Err(NnError::NotEmpty(path));
            }
        }
        if let Some(root) = st.ns.snapshots_under(id)? {
            return Err(NnError::InvalidArgument(format!(
                "{path}: cannot be deleted: {} is snapshottable and has snapshots (delete them first)",
                st.ns.path_of(root)?
            )));
        }
        let commit = self.log(
            &mut st,
            Edit::Delete {
                path: path.clone(),
                mtime: now_ms(),
            },
        )?;
        st.leases.deleted(&path);
        Ok(commit)
    }

    pub fn set_replication(&self, who: &Subject, path: &str, replication: u32) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        if replication == 0 || replication > self.config.max_replication {
            return Err(NnError::InvalidArgument(format!(
                "{path}: replication {replication} is outside 1..={}",
                self.config.max_replication
            )));
        }
        let mut st = self.meta.lock();
        st.check_writable()?;
        let need = Need {
            access: Some(Access::WRITE),
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        let (id, _) = st.ns.file(&path)?;
        st.check_replication(id, replication as u16)?;
        self.log(
            &mut st,
            Edit::SetReplication {
                path,
                replication: replication as u16,
            },
        )
    }

    /// chmod: only the owner or the superuser; `mode` keeps the rwx bits and the sticky bit.
    pub fn set_permission(&self, who: &Subject, path: &str, mode: u32) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        if mode & !0o1777 != 0 {
            return Err(NnError::InvalidArgument(format!(
                "{path}: mode {mode:o} has bits beyond rwx and the sticky bit (1777)"
            )));
        }
        let mut st = self.meta.lock();
        st.check_writable()?;
        let need = Need {
            owner: true,
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        if st.ns.lookup(&path)?.is_none() {
            return Err(NnError::NotFound(path));
        }
        self.log(
            &mut st,
            Edit::SetPermission {
                path,
                mode: mode as u16,
            },
        )
    }

    /// chown/chgrp: only the superuser gives an entry to another user; its owner may change
    /// its group to one of the owner's groups.
    pub fn set_owner(
        &self,
        who: &Subject,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        let owner = owner.filter(|o| !o.is_empty());
        let group = group.filter(|g| !g.is_empty());
        if owner.is_none() && group.is_none() {
            return Err(NnError::InvalidArgument(format!(
                "{path}: give a new owner, a new group, or both"
            )));
        }
        for name in owner.iter().chain(group.iter()) {
            if name.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: '{name}' is not a valid user or group name"
                )));
            }
        }
        let mut st = self.meta.lock();
        st.check_writable()?;
        permission::check_set_owner(&st.ns, who, &path, owner, group)?;
        if st.ns.lookup(&path)?.is_none() {
            return Err(NnError::NotFound(path));
        }
        self.log(
            &mut st,
            Edit::SetOwner {
                path,
                owner: owner.map(String::from),
                group: group.map(String::from),
            },
        )
    }
}
