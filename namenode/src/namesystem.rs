//! The namesystem: namespace, datanodes, leases and replication state behind one lock, and
//! every operation on them. Mutations are applied in memory and appended to the journal under
//! the lock; callers wait for durability after releasing it, so concurrent mutations share one
//! fsync (group commit).

use crate::datanodes::{Datanodes, Liveness};
use crate::error::{NnError, NnResult};
use crate::namespace::{self, encode, ApplyEffect, Edit, Kind, Namespace, NodeIdx, Perm};
use crate::placement;
use common::config::NamenodeConfig;
use common::ids::NodeId;
use common::journal::{Commit, Journal};
use common::topology::Topology;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A writer's lease on the files it has open.
#[derive(Debug)]
pub struct Lease {
    pub renewed: Instant,
    pub paths: BTreeSet<String>,
}

/// A copy scheduled but not yet reported done.
#[derive(Debug)]
pub struct PendingCopy {
    pub source: NodeIdx,
    pub targets: Vec<NodeIdx>,
    pub deadline: Instant,
}

/// Everything behind the namesystem lock.
#[derive(Debug)]
pub struct State {
    pub ns: Namespace,
    pub dns: Datanodes,
    pub leases: HashMap<String, Lease>,
    pub safe_mode: Option<String>,
    /// Replicas known to be corrupt, per block.
    pub corrupt: HashMap<u64, SmallVec<[NodeIdx; 2]>>,
    /// Nodes of the write pipeline of each block under construction.
    pub expected: HashMap<u64, Vec<NodeIdx>>,
    /// Blocks whose replication should be checked by the monitor.
    pub needed: BTreeSet<u64>,
    pub pending: HashMap<u64, PendingCopy>,
    /// Blocks under lease recovery: their file's path and the generation the recovery stamps.
    pub recovering: HashMap<u64, (String, u64)>,
    pub last_checkpoint_txid: u64,
    pub last_checkpoint: Instant,
}

pub struct Namesystem {
    pub config: NamenodeConfig,
    pub topology: Topology,
    pub state: Mutex<State>,
    journal: Journal,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A block with its located replicas, for a reader.
#[derive(Debug)]
pub struct LocatedBlock {
    pub id: u64,
    pub gen: u64,
    pub len: u64,
    pub offset: u64,
    pub nodes: Vec<NodeIdx>,
    pub corrupt: bool,
}

/// A file's blocks for a reader.
#[derive(Debug)]
pub struct Located {
    pub length: u64,
    pub blocks: Vec<LocatedBlock>,
    pub under_construction: bool,
}

/// One file or directory, as listed.
#[derive(Debug)]
pub struct Status {
    pub path: String,
    pub is_dir: bool,
    pub length: u64,
    pub replication: u32,
    pub block_size: u64,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub mtime: u64,
    pub under_construction: bool,
    pub children: u64,
}

/// How a block stands, as fsck reports it.
#[derive(Debug)]
pub struct BlockHealth {
    pub path: String,
    pub id: u64,
    pub gen: u64,
    pub len: u64,
    pub expected: u32,
    pub replicas: Vec<(NodeIdx, bool)>,
    pub under_replicated: bool,
    pub mis_replicated: bool,
    pub corrupt: bool,
    pub missing: bool,
}

impl Namesystem {
    /// Loads the last checkpoint, replays the edit log and starts the journal.
    pub fn open(config: NamenodeConfig, topology: Topology) -> NnResult<Namesystem> {
        let bpc = config.bytes_per_checksum as u64;
        if bpc == 0 || !config.default_block_size.is_multiple_of(bpc) {
            return Err(NnError::InvalidArgument(format!(
                "config: default_block_size {} must be a positive multiple of bytes_per_checksum {bpc}",
                config.default_block_size
            )));
        }
        if config.default_replication == 0 || config.default_replication > config.max_replication {
            return Err(NnError::InvalidArgument(format!(
                "config: default_replication {} must be in 1..=max_replication ({})",
                config.default_replication, config.max_replication
            )));
        }
        let dir = config.meta_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| {
            NnError::Journal(common::Error::Io {
                path: dir.clone(),
                cause: e,
            })
        })?;
        let (image_txid, mut ns) = match common::journal::load_latest_image(&dir)? {
            Some((txid, image)) => (txid, Namespace::from_image(&image)?),
            None => (0, Namespace::new()),
        };
        let mut replayed = 0u64;
        let last = Journal::replay(&dir, image_txid, |txid, payload| {
            let edit: Edit = postcard::from_bytes(payload).map_err(|e| common::Error::Corrupt {
                path: dir.clone(),
                message: format!("edit {txid} does not decode: {e}"),
            })?;
            ns.apply(&edit).map_err(|e| common::Error::Corrupt {
                path: dir.clone(),
                message: format!("edit {txid} ({edit:?}) cannot be applied: {e}"),
            })?;
            replayed += 1;
            Ok(())
        })?;
        tracing::info!(image_txid, replayed, last_txid = last, "namespace loaded");
        let journal = Journal::start(&dir, last)?;
        let mut leases: HashMap<String, Lease> = HashMap::new();
        ns.walk("/", |path, inode| {
            if let Kind::File(f) = &inode.kind {
                if let Some(c) = ns.client_of(f) {
                    add_lease_path(&mut leases, c, path);
                }
            }
            Ok(())
        })?;
        let dns = Datanodes::new(
            Duration::from_millis(config.stale_after_ms),
            Duration::from_millis(config.dead_after_ms),
        );
        let state = State {
            ns,
            dns,
            leases,
            safe_mode: Some("waiting for block reports".into()),
            corrupt: HashMap::new(),
            expected: HashMap::new(),
            needed: BTreeSet::new(),
            pending: HashMap::new(),
            recovering: HashMap::new(),
            last_checkpoint_txid: last,
            last_checkpoint: Instant::now(),
        };
        Ok(Namesystem {
            config,
            topology,
            state: Mutex::new(state),
            journal,
        })
    }

    pub fn meta_dir(&self) -> &Path {
        &self.config.meta_dir
    }

    /// Applies an edit, follows up its effects and journals it.
    fn log(&self, st: &mut State, edit: Edit) -> NnResult<Commit> {
        let payload = encode(&edit)?;
        let effect = st.ns.apply(&edit)?;
        st.follow_up(effect);
        Ok(self.journal.append(payload).1)
    }

    fn check_writable(st: &State) -> NnResult<()> {
        match &st.safe_mode {
            Some(reason) => Err(NnError::SafeMode(reason.clone())),
            None => Ok(()),
        }
    }

    fn check_lease(st: &State, path: &str, client: &str) -> NnResult<()> {
        let (_, f) = st.ns.file(path)?;
        match st.ns.client_of(f) {
            Some(c) if c == client => Ok(()),
            _ => Err(NnError::NoLease(path.into(), client.into())),
        }
    }

    pub fn mkdirs(&self, path: &str, perm: Perm) -> NnResult<Option<Commit>> {
        let path = namespace::normalize(path)?;
        let mut st = self.state.lock();
        match st.ns.lookup(&path)? {
            Some(id) => match st.ns.inode(id)?.kind {
                Kind::Dir(_) => return Ok(None),
                Kind::File(_) => return Err(NnError::AlreadyExists(path)),
            },
            None => Self::check_writable(&st)?,
        }
        let perm = self.inherit_group(&st, &path, perm)?;
        let edit = Edit::Mkdirs {
            path,
            perm,
            mtime: now_ms(),
        };
        self.log(&mut st, edit).map(Some)
    }

    /// HDFS semantics: a new entry's group is its nearest existing ancestor's group.
    fn inherit_group(&self, st: &State, path: &str, mut perm: Perm) -> NnResult<Perm> {
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
        path: &str,
        perm: Perm,
        replication: u32,
        block_size: u64,
        client: &str,
        create_parent: bool,
    ) -> NnResult<(Status, Commit)> {
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
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
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
        add_lease_path(&mut st.leases, client, &path);
        let status = self.status_of(&st, &path)?;
        Ok((status, commit))
    }

    pub fn add_block(
        &self,
        path: &str,
        client: &str,
        previous: Option<(u64, u64)>,
        excluded: &[NodeId],
        writer_host: &str,
    ) -> NnResult<(LocatedBlock, Commit)> {
        let path = namespace::normalize(path)?;
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        Self::check_lease(&st, &path, client)?;
        let (_, f) = st.ns.file(&path)?;
        let last = f.last_block().map(|b| b.id);
        let (replication, block_size) = (f.replication as usize, f.block_size);
        let prev_len = match (previous, last) {
            (Some((id, len)), Some(last)) if id == last => Some(len),
            (None, None) => None,
            (prev, last) => {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: previous block {prev:?} is not the file's last block {last:?}"
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
            st.expected.remove(&prev);
        }
        st.expected.insert(block, targets.clone());
        let offset = st.ns.file(&path)?.1.length();
        Ok((
            LocatedBlock {
                id: block,
                gen,
                len: 0,
                offset,
                nodes: targets,
                corrupt: false,
            },
            commit,
        ))
    }

    /// Finds the file whose last block under construction is `block`, held by `client`.
    fn uc_block_path(&self, st: &State, block: u64, client: &str) -> NnResult<String> {
        let lease = st
            .leases
            .get(client)
            .ok_or_else(|| NnError::NoLease(format!("block {block}"), client.into()))?;
        for p in &lease.paths {
            if let Ok((_, f)) = st.ns.file(p) {
                if f.last_block().map(|b| b.id) == Some(block) {
                    return Ok(p.clone());
                }
            }
        }
        Err(NnError::NoLease(format!("block {block}"), client.into()))
    }

    /// A new generation stamp for a pipeline being rebuilt.
    pub fn update_block_for_pipeline(&self, block: u64, client: &str) -> NnResult<(u64, Commit)> {
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        self.uc_block_path(&st, block, client)?;
        let gen = st.ns.next_gen;
        let commit = self.log(&mut st, Edit::GenStamp { gen })?;
        Ok((gen, commit))
    }

    pub fn update_pipeline(
        &self,
        client: &str,
        block: u64,
        new_gen: u64,
        nodes: &[NodeId],
    ) -> NnResult<Commit> {
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        let path = self.uc_block_path(&st, block, client)?;
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
        st.expected.insert(block, nodes);
        Ok(commit)
    }

    pub fn complete(&self, path: &str, client: &str, last: Option<(u64, u64)>) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        Self::check_lease(&st, &path, client)?;
        let (_, f) = st.ns.file(&path)?;
        let file_last = f.last_block().map(|b| b.id);
        let last_len = match (last, file_last) {
            (Some((id, len)), Some(fl)) if id == fl => Some(len),
            (None, None) => None,
            (l, fl) => {
                return Err(NnError::InvalidArgument(format!(
                    "{path}: last block {l:?} is not the file's last block {fl:?}"
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
            st.expected.remove(&b);
        }
        st.release_lease_path(client, &path);
        Ok(commit)
    }

    pub fn renew_lease(&self, client: &str) {
        if let Some(l) = self.state.lock().leases.get_mut(client) {
            l.renewed = Instant::now();
        }
    }

    pub fn locations(&self, path: &str, reader_host: &str) -> NnResult<Located> {
        let path = namespace::normalize(path)?;
        let st = self.state.lock();
        let (_, f) = st.ns.file(&path)?;
        let mut offset = 0;
        let mut blocks = Vec::with_capacity(f.blocks.len());
        for meta in &f.blocks {
            let b = meta.id;
            let mut nodes: Vec<NodeIdx> = if meta.committed || !meta.locations.is_empty() {
                meta.locations.to_vec()
            } else {
                st.expected.get(&b).cloned().unwrap_or_default()
            };
            let mut corrupt = false;
            if nodes.is_empty() {
                if let Some(c) = st.corrupt.get(&b) {
                    // Every replica is corrupt: hand them out so the reader fails loudly.
                    nodes = c.to_vec();
                    corrupt = true;
                }
            }
            placement::sort_for_reader(&st.dns, &self.topology, reader_host, &mut nodes);
            blocks.push(LocatedBlock {
                id: b,
                gen: meta.gen,
                len: meta.len,
                offset,
                nodes,
                corrupt,
            });
            offset += meta.len;
        }
        Ok(Located {
            length: offset,
            blocks,
            under_construction: f.under_construction(),
        })
    }

    fn status_of(&self, st: &State, path: &str) -> NnResult<Status> {
        let id = st
            .ns
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        let inode = st.ns.inode(id)?;
        let mut s = Status {
            path: namespace::normalize(path)?,
            is_dir: false,
            length: 0,
            replication: 0,
            block_size: 0,
            owner: st.ns.name(inode.owner).into(),
            group: st.ns.name(inode.group).into(),
            mode: inode.mode as u32,
            mtime: inode.mtime,
            under_construction: false,
            children: 0,
        };
        match &inode.kind {
            Kind::Dir(ch) => {
                s.is_dir = true;
                s.children = ch.len() as u64;
            }
            Kind::File(f) => {
                s.length = f.length();
                s.replication = f.replication as u32;
                s.block_size = f.block_size;
                s.under_construction = f.under_construction();
            }
        }
        Ok(s)
    }

    pub fn file_info(&self, path: &str) -> NnResult<Status> {
        let st = self.state.lock();
        self.status_of(&st, path)
    }

    pub fn listing(&self, path: &str) -> NnResult<Vec<Status>> {
        let path = namespace::normalize(path)?;
        let st = self.state.lock();
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        match &st.ns.inode(id)?.kind {
            Kind::File(_) => Ok(vec![self.status_of(&st, &path)?]),
            Kind::Dir(ch) => ch
                .keys()
                .map(|name| {
                    let child = if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    };
                    self.status_of(&st, &child)
                })
                .collect(),
        }
    }

    pub fn rename(&self, src: &str, dst: &str) -> NnResult<Commit> {
        let src = namespace::normalize(src)?;
        let mut dst = namespace::normalize(dst)?;
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        if src == "/" {
            return Err(NnError::InvalidArgument("cannot rename the root".into()));
        }
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
        if dst.starts_with(&format!("{src}/")) {
            return Err(NnError::InvalidArgument(format!(
                "cannot move {src} under itself ({dst})"
            )));
        }
        let parent = &dst[..dst.rfind('/').unwrap_or(0)];
        let parent = if parent.is_empty() { "/" } else { parent };
        match st.ns.lookup(parent)? {
            Some(id) if matches!(st.ns.inode(id)?.kind, Kind::Dir(_)) => {}
            Some(_) => return Err(NnError::NotDir(parent.into())),
            None => return Err(NnError::NotFound(parent.into())),
        }
        let commit = self.log(
            &mut st,
            Edit::Rename {
                src: src.clone(),
                dst: dst.clone(),
                mtime: now_ms(),
            },
        )?;
        for lease in st.leases.values_mut() {
            let moved: Vec<String> = lease
                .paths
                .iter()
                .filter(|p| **p == src || p.starts_with(&format!("{src}/")))
                .cloned()
                .collect();
            for p in moved {
                lease.paths.remove(&p);
                lease.paths.insert(format!("{dst}{}", &p[src.len()..]));
            }
        }
        for (p, _) in st.recovering.values_mut() {
            if *p == src || p.starts_with(&format!("{src}/")) {
                *p = format!("{dst}{}", &p[src.len()..]);
            }
        }
        Ok(commit)
    }

    pub fn delete(&self, path: &str, recursive: bool) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        if path == "/" {
            return Err(NnError::InvalidArgument("cannot delete the root".into()));
        }
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        if let Kind::Dir(ch) = &st.ns.inode(id)?.kind {
            if !ch.is_empty() && !recursive {
                return Err(NnError::NotEmpty(path));
            }
        }
        let commit = self.log(
            &mut st,
            Edit::Delete {
                path: path.clone(),
                mtime: now_ms(),
            },
        )?;
        let prefix = format!("{path}/");
        for lease in st.leases.values_mut() {
            lease
                .paths
                .retain(|p| *p != path && !p.starts_with(&prefix));
        }
        st.leases.retain(|_, l| !l.paths.is_empty());
        Ok(commit)
    }

    pub fn set_replication(&self, path: &str, replication: u32) -> NnResult<Commit> {
        let path = namespace::normalize(path)?;
        if replication == 0 || replication > self.config.max_replication {
            return Err(NnError::InvalidArgument(format!(
                "{path}: replication {replication} is outside 1..={}",
                self.config.max_replication
            )));
        }
        let mut st = self.state.lock();
        Self::check_writable(&st)?;
        st.ns.file(&path)?;
        self.log(
            &mut st,
            Edit::SetReplication {
                path,
                replication: replication as u16,
            },
        )
    }

    /// Length, file and directory counts, and bytes used with replication, under `path`.
    pub fn content_summary(&self, path: &str) -> NnResult<(u64, u64, u64, u64)> {
        let st = self.state.lock();
        let (mut len, mut files, mut dirs, mut space) = (0, 0, 0, 0);
        st.ns.walk(path, |_, inode| {
            match &inode.kind {
                Kind::Dir(_) => dirs += 1,
                Kind::File(f) => {
                    let l = f.length();
                    files += 1;
                    len += l;
                    space += l * f.replication as u64;
                }
            }
            Ok(())
        })?;
        Ok((len, files, dirs, space))
    }

    /// Health of every block under `path`, plus file and directory counts.
    pub fn fsck(&self, path: &str) -> NnResult<(Vec<BlockHealth>, u64, u64)> {
        let st = self.state.lock();
        let now = Instant::now();
        let racks = st.dns.live_racks(now);
        let (mut out, mut files, mut dirs) = (Vec::new(), 0, 0);
        st.ns.walk(path, |p, inode| {
            let f = match &inode.kind {
                Kind::Dir(_) => {
                    dirs += 1;
                    return Ok(());
                }
                Kind::File(f) => f,
            };
            files += 1;
            for meta in &f.blocks {
                let b = meta.id;
                if !meta.committed {
                    continue; // still being written
                }
                let mut replicas: Vec<(NodeIdx, bool)> =
                    meta.locations.iter().map(|&n| (n, false)).collect();
                if let Some(c) = st.corrupt.get(&b) {
                    replicas.extend(c.iter().map(|&n| (n, true)));
                }
                let good = meta.locations.len();
                let expected = f.replication as usize;
                let mut used: Vec<&str> = meta
                    .locations
                    .iter()
                    .map(|&n| st.dns.get(n).rack.as_str())
                    .collect();
                used.sort_unstable();
                used.dedup();
                let want_racks = expected.min(racks).min(2);
                out.push(BlockHealth {
                    path: p.into(),
                    id: b,
                    gen: meta.gen,
                    len: meta.len,
                    expected: expected as u32,
                    replicas,
                    under_replicated: good > 0 && good < expected,
                    mis_replicated: good > 0 && used.len() < want_racks,
                    corrupt: good == 0 && st.corrupt.contains_key(&b),
                    missing: good == 0 && !st.corrupt.contains_key(&b),
                });
            }
            Ok(())
        })?;
        Ok((out, files, dirs))
    }

    // ------------------------------------------------------------ datanode protocol

    pub fn register(&self, id: NodeId, host: String, data_addr: String) -> String {
        let rack = self.topology.rack_of(&data_addr);
        let mut st = self.state.lock();
        if let Some(idx) = st.dns.index_of(id) {
            st.drop_node_replicas(idx);
        }
        let idx = st
            .dns
            .register(id, host.clone(), data_addr.clone(), rack.clone());
        tracing::info!(node = %id, idx, %data_addr, %rack, "datanode registered");
        rack
    }

    /// Records a heartbeat; `None` tells the node to register again.
    pub fn heartbeat(
        &self,
        id: NodeId,
        capacity: u64,
        used: u64,
        remaining: u64,
    ) -> Option<crate::datanodes::CommandQueue> {
        let mut st = self.state.lock();
        let idx = st.dns.index_of(id)?;
        if st.dns.get(idx).dead {
            return None;
        }
        let n = st.dns.get_mut(idx);
        n.last_heartbeat = Instant::now();
        (n.capacity, n.used, n.remaining) = (capacity, used, remaining);
        let mut out = std::mem::take(&mut n.commands);
        // Hand out deletions in bounded batches so one reply stays small.
        if out.invalidate.len() > 1000 {
            n.commands.invalidate = out.invalidate.split_off(1000);
        }
        Some(out)
    }

    /// A full block report: the node's replicas replace what we believed it had.
    pub fn block_report(&self, id: NodeId, replicas: &[(u64, u64, u64, bool)]) -> NnResult<()> {
        let mut st = self.state.lock();
        let idx = st
            .dns
            .index_of(id)
            .ok_or_else(|| NnError::InvalidArgument(format!("{id} is not registered")))?;
        let reported: std::collections::HashSet<u64> = replicas.iter().map(|r| r.0).collect();
        let gone: Vec<u64> = st
            .ns
            .all_blocks()
            .filter(|m| m.locations.contains(&idx) && !reported.contains(&m.id))
            .map(|m| m.id)
            .collect();
        for b in gone {
            st.remove_location(b, idx);
        }
        for &(b, gen, len, finalized) in replicas {
            st.process_replica(idx, b, gen, len, finalized);
        }
        tracing::info!(node = %id, replicas = replicas.len(), "block report processed");
        Ok(())
    }

    pub fn incremental_report(
        &self,
        id: NodeId,
        received: &[(u64, u64, u64, bool)],
        deleted: &[u64],
    ) -> NnResult<()> {
        let mut st = self.state.lock();
        let idx = st
            .dns
            .index_of(id)
            .ok_or_else(|| NnError::InvalidArgument(format!("{id} is not registered")))?;
        for &(b, gen, len, finalized) in received {
            st.process_replica(idx, b, gen, len, finalized);
        }
        for &b in deleted {
            st.remove_location(b, idx);
            if let Some(c) = st.corrupt.get_mut(&b) {
                c.retain(|n| *n != idx);
            }
        }
        Ok(())
    }

    pub fn report_bad(&self, bad: &[(u64, u64, NodeId)]) {
        let mut st = self.state.lock();
        for &(b, gen, node) in bad {
            let Some(idx) = st.dns.index_of(node) else {
                continue;
            };
            if st.ns.block(b).is_some_and(|m| m.gen == gen) {
                tracing::warn!(block = b, node = %node, "corrupt replica reported");
                st.mark_corrupt(b, idx);
            }
        }
    }

    pub fn commit_block_synchronization(
        &self,
        block: u64,
        new_gen: u64,
        len: u64,
        nodes: &[NodeId],
    ) -> NnResult<Commit> {
        let mut st = self.state.lock();
        let path = match st.recovering.get(&block) {
            Some((path, gen)) if *gen == new_gen => path.clone(),
            Some((_, gen)) => {
                return Err(NnError::InvalidArgument(format!(
                    "block {block}: recovery with generation {new_gen} was superseded by {gen}"
                )))
            }
            None => {
                return Err(NnError::InvalidArgument(format!(
                    "block {block} is not under recovery"
                )))
            }
        };
        st.recovering.remove(&block);
        self.log(
            &mut st,
            Edit::UpdateBlock {
                path: path.clone(),
                block,
                gen: new_gen,
                len: Some(len),
            },
        )?;
        let commit = self.log(
            &mut st,
            Edit::Close {
                path: path.clone(),
                last_len: None,
                drop_last: false,
                mtime: now_ms(),
            },
        )?;
        let idxs: Vec<NodeIdx> = nodes.iter().filter_map(|&n| st.dns.index_of(n)).collect();
        for idx in idxs {
            st.process_replica(idx, block, new_gen, len, true);
        }
        st.expected.remove(&block);
        let holders: Vec<String> = st
            .leases
            .iter()
            .filter(|(_, l)| l.paths.contains(&path))
            .map(|(c, _)| c.clone())
            .collect();
        for c in holders {
            st.release_lease_path(&c, &path);
        }
        tracing::info!(%path, block, len, "lease recovery closed the file");
        Ok(commit)
    }

    // ------------------------------------------------------------ background work

    /// Declares silent datanodes dead and queues their blocks for re-replication.
    pub fn check_heartbeats(&self) {
        let mut st = self.state.lock();
        for idx in st.dns.newly_dead(Instant::now()) {
            tracing::warn!(node = %st.dns.get(idx).id, "datanode is dead");
            st.drop_node_replicas(idx);
            st.dns.get_mut(idx).dead = true;
        }
    }

    /// Leaves safe mode once enough blocks have a replica.
    pub fn check_safe_mode(&self) {
        let mut st = self.state.lock();
        if st.safe_mode.is_none() {
            return;
        }
        let total = st.ns.all_blocks().filter(|b| b.committed).count();
        let safe = st
            .ns
            .all_blocks()
            .filter(|b| b.committed && !b.locations.is_empty())
            .count();
        let live = st
            .dns
            .all()
            .filter(|&i| st.dns.liveness(i, Instant::now()) == Liveness::Live)
            .count();
        if total == 0 || safe as f64 >= self.config.safe_mode_threshold * total as f64 {
            tracing::info!(safe, total, live, "leaving safe mode");
            st.safe_mode = None;
            let all: Vec<u64> = st.ns.all_blocks().map(|b| b.id).collect();
            st.needed.extend(all);
        } else {
            st.safe_mode = Some(format!(
                "{safe} of {total} blocks have a reported replica, {:.1}% needed; {live} datanodes live",
                self.config.safe_mode_threshold * 100.0
            ));
        }
    }

    /// Schedules copies of under-replicated blocks and deletions of excess replicas.
    pub fn check_replication(&self) {
        let mut st = self.state.lock();
        if st.safe_mode.is_some() {
            return;
        }
        let now = Instant::now();
        let expired: Vec<u64> = st
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(b, _)| *b)
            .collect();
        for b in expired {
            if let Some(p) = st.pending.remove(&b) {
                let src = st.dns.get_mut(p.source);
                src.transfers_scheduled = src.transfers_scheduled.saturating_sub(1);
            }
            st.needed.insert(b);
        }
        let batch: Vec<u64> = st.needed.iter().take(10_000).copied().collect();
        let timeout = Duration::from_millis(self.config.pending_replication_timeout_ms);
        for b in batch {
            if !self.check_block(&mut st, b, now + timeout) {
                st.needed.remove(&b);
            }
        }
    }

    /// One block's replication decision; returns true when it must be looked at again later.
    fn check_block(&self, st: &mut State, b: u64, deadline: Instant) -> bool {
        let Some((f, meta)) = st.ns.block_file(b) else {
            return false;
        };
        if !meta.committed {
            return false;
        }
        let (gen, len, expected) = (meta.gen, meta.len, f.replication as usize);
        let live: Vec<NodeIdx> = meta.locations.to_vec();
        let pending: Vec<NodeIdx> = st
            .pending
            .get(&b)
            .map(|p| p.targets.clone())
            .unwrap_or_default();
        let corrupt: Vec<NodeIdx> = st.corrupt.get(&b).map(|c| c.to_vec()).unwrap_or_default();
        let racks = st.dns.live_racks(Instant::now());
        let mis_replicated = expected >= 2 && racks >= 2 && rack_count(&st.dns, &live) < 2;
        let want = if mis_replicated && live.len() >= expected {
            live.len() + 1
        } else {
            expected
        };
        if live.len() + pending.len() < want {
            if !pending.is_empty() {
                return true; // wait for the scheduled copy first
            }
            let source = live
                .iter()
                .copied()
                .filter(|&n| st.dns.liveness(n, Instant::now()) == Liveness::Live)
                .find(|&n| st.dns.get(n).transfers_scheduled < self.config.max_replication_streams);
            let Some(source) = source else {
                // Every holder is busy: later. No good replica at all: nothing to copy from
                // until a report brings one, which queues the block again.
                return !live.is_empty();
            };
            let mut existing = live.clone();
            existing.extend(&pending);
            let targets = placement::choose_targets(
                &st.dns,
                want - live.len(),
                None,
                &existing,
                &corrupt,
                len.max(1),
            );
            if targets.is_empty() {
                return true;
            }
            tracing::info!(block = b, source = %st.dns.get(source).id, targets = targets.len(), "scheduling replication");
            let src = st.dns.get_mut(source);
            src.transfers_scheduled += 1;
            src.commands
                .replicate
                .push_back((b, gen, len, targets.clone()));
            st.pending.insert(
                b,
                PendingCopy {
                    source,
                    targets,
                    deadline,
                },
            );
            return true;
        }
        if live.len() >= expected {
            for n in corrupt {
                st.dns.get_mut(n).commands.invalidate.push((b, gen));
                if let Some(c) = st.corrupt.get_mut(&b) {
                    c.retain(|x| *x != n);
                }
            }
            st.corrupt.retain(|_, c| !c.is_empty());
        }
        if live.len() > expected && pending.is_empty() {
            let mut keep = live.clone();
            while keep.len() > expected {
                // Delete from a rack holding more than one replica, the fullest node first.
                let victim = keep
                    .iter()
                    .copied()
                    .filter(|&n| {
                        let rack = &st.dns.get(n).rack;
                        keep.iter()
                            .filter(|&&m| &st.dns.get(m).rack == rack)
                            .count()
                            > 1
                            || rack_count(&st.dns, &keep) > 2
                    })
                    .min_by_key(|&n| st.dns.get(n).remaining)
                    .or_else(|| {
                        keep.iter()
                            .copied()
                            .min_by_key(|&n| st.dns.get(n).remaining)
                    });
                let Some(v) = victim else { break };
                keep.retain(|&n| n != v);
                st.remove_location(b, v);
                st.dns.get_mut(v).commands.invalidate.push((b, gen));
            }
        }
        false
    }

    /// Recovers the files of writers whose lease expired.
    pub fn check_leases(&self) {
        let hard = Duration::from_millis(self.config.lease_hard_limit_ms);
        let mut st = self.state.lock();
        if st.safe_mode.is_some() {
            return;
        }
        let now = Instant::now();
        let expired: Vec<(String, Vec<String>)> = st
            .leases
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.renewed) > hard)
            .map(|(c, l)| (c.clone(), l.paths.iter().cloned().collect()))
            .collect();
        for (client, paths) in expired {
            if let Some(l) = st.leases.get_mut(&client) {
                // Retry the recovery if it has not finished within a few heartbeats.
                l.renewed =
                    now - hard + Duration::from_millis(self.config.heartbeat_interval_ms * 5);
            }
            for path in paths {
                if let Err(e) = self.recover_lease(&mut st, &client, &path) {
                    tracing::warn!(%path, %client, error = %e, "lease recovery failed");
                }
            }
        }
    }

    fn recover_lease(&self, st: &mut State, client: &str, path: &str) -> NnResult<()> {
        let (_, f) = st.ns.file(path)?;
        let last_meta = f.last_block().map(|m| (m.id, m.gen, m.len, m.committed));
        tracing::info!(%path, %client, "lease expired; recovering the file");
        match last_meta {
            None | Some((_, _, _, true)) => {
                self.log(
                    st,
                    Edit::Close {
                        path: path.into(),
                        last_len: None,
                        drop_last: false,
                        mtime: now_ms(),
                    },
                )?;
                st.release_lease_path(client, path);
            }
            Some((b, gen, len, false)) => {
                let now = Instant::now();
                let holders: Vec<NodeIdx> = st
                    .expected
                    .get(&b)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&n| st.dns.liveness(n, now) == Liveness::Live)
                    .collect();
                let Some(&primary) = holders.first() else {
                    // No live node holds any byte of it: nothing acknowledged can be saved.
                    self.log(
                        st,
                        Edit::Close {
                            path: path.into(),
                            last_len: None,
                            drop_last: true,
                            mtime: now_ms(),
                        },
                    )?;
                    st.release_lease_path(client, path);
                    return Ok(());
                };
                let new_gen = st.ns.next_gen;
                self.log(st, Edit::GenStamp { gen: new_gen })?;
                st.recovering.insert(b, (path.into(), new_gen));
                st.dns
                    .get_mut(primary)
                    .commands
                    .recover
                    .push((b, gen, len, new_gen, holders));
            }
        }
        Ok(())
    }

    /// Writes a checkpoint when enough edits or time have accumulated.
    pub fn maybe_checkpoint(&self) -> NnResult<()> {
        let (txid, image, roll) = {
            let mut st = self.state.lock();
            let last = self.journal.last_txid();
            let edits = last - st.last_checkpoint_txid;
            let due = edits >= self.config.checkpoint_txns
                || (edits > 0
                    && st.last_checkpoint.elapsed()
                        >= Duration::from_millis(self.config.checkpoint_period_ms));
            if !due {
                return Ok(());
            }
            let (txid, roll) = self.journal.roll();
            let image = st.ns.image()?;
            st.last_checkpoint_txid = txid;
            st.last_checkpoint = Instant::now();
            (txid, image, roll)
        };
        roll.wait()?;
        self.journal.write_image(txid, image)?;
        tracing::info!(txid, "checkpoint written");
        Ok(())
    }
}

/// Records that `client` holds the lease on `path` (a new lease starts now).
fn add_lease_path(leases: &mut HashMap<String, Lease>, client: &str, path: &str) {
    leases
        .entry(client.into())
        .or_insert_with(|| Lease {
            renewed: Instant::now(),
            paths: BTreeSet::new(),
        })
        .paths
        .insert(path.into());
}

/// Distinct racks among `nodes`.
fn rack_count(dns: &Datanodes, nodes: &[NodeIdx]) -> usize {
    let mut r: Vec<&str> = nodes.iter().map(|&n| dns.get(n).rack.as_str()).collect();
    r.sort_unstable();
    r.dedup();
    r.len()
}

impl State {
    fn follow_up(&mut self, effect: ApplyEffect) {
        for meta in effect.removed_blocks {
            let b = meta.id;
            for n in meta.locations {
                self.dns.get_mut(n).commands.invalidate.push((b, meta.gen));
            }
            if let Some(c) = self.corrupt.remove(&b) {
                for n in c {
                    self.dns.get_mut(n).commands.invalidate.push((b, meta.gen));
                }
            }
            if let Some(nodes) = self.expected.remove(&b) {
                for n in nodes {
                    self.dns.get_mut(n).commands.invalidate.push((b, u64::MAX));
                }
            }
            self.needed.remove(&b);
            self.pending.remove(&b);
        }
        self.needed.extend(effect.closed_blocks);
    }

    fn release_lease_path(&mut self, client: &str, path: &str) {
        if let Some(l) = self.leases.get_mut(client) {
            l.paths.remove(path);
            if l.paths.is_empty() {
                self.leases.remove(client);
            }
        }
    }

    fn remove_location(&mut self, b: u64, idx: NodeIdx) {
        if let Some(m) = self.ns.block_mut(b) {
            if let Some(pos) = m.locations.iter().position(|&n| n == idx) {
                m.locations.swap_remove(pos);
                self.needed.insert(b);
            }
        }
    }

    fn mark_corrupt(&mut self, b: u64, idx: NodeIdx) {
        self.remove_location(b, idx);
        let c = self.corrupt.entry(b).or_default();
        if !c.contains(&idx) {
            c.push(idx);
        }
        self.needed.insert(b);
    }

    /// Forgets every replica a node held (it died or registered anew).
    fn drop_node_replicas(&mut self, idx: NodeIdx) {
        let held: Vec<u64> = self
            .ns
            .all_blocks()
            .filter(|m| m.locations.contains(&idx))
            .map(|m| m.id)
            .collect();
        for b in held {
            self.remove_location(b, idx);
        }
        for c in self.corrupt.values_mut() {
            c.retain(|n| *n != idx);
        }
        self.corrupt.retain(|_, c| !c.is_empty());
        let n = self.dns.get_mut(idx);
        n.commands = Default::default();
        n.transfers_scheduled = 0;
    }

    /// A replica a node says it has: record it, or mark it stale or corrupt.
    fn process_replica(&mut self, idx: NodeIdx, b: u64, gen: u64, len: u64, finalized: bool) {
        let Some(meta) = self.ns.block(b) else {
            self.dns.get_mut(idx).commands.invalidate.push((b, gen));
            return;
        };
        if !finalized {
            if !meta.committed {
                let e = self.expected.entry(b).or_default();
                if !e.contains(&idx) {
                    e.push(idx);
                }
            } else if !meta.locations.contains(&idx) {
                self.dns.get_mut(idx).commands.invalidate.push((b, gen));
            }
            return;
        }
        if gen < meta.gen {
            self.dns.get_mut(idx).commands.invalidate.push((b, gen));
            return;
        }
        if gen > meta.gen || (meta.committed && len != meta.len) {
            tracing::warn!(
                block = b,
                gen,
                len,
                expected_len = meta.len,
                "replica has the wrong length or generation"
            );
            self.mark_corrupt(b, idx);
            return;
        }
        if self.corrupt.get(&b).is_some_and(|c| c.contains(&idx)) {
            return;
        }
        if let Some(m) = self.ns.block_mut(b) {
            if !m.locations.contains(&idx) {
                m.locations.push(idx);
                self.needed.insert(b);
            }
        }
        if let Some(p) = self.pending.get_mut(&b) {
            if let Some(pos) = p.targets.iter().position(|&t| t == idx) {
                p.targets.swap_remove(pos);
                if p.targets.is_empty() {
                    let source = p.source;
                    self.pending.remove(&b);
                    let s = self.dns.get_mut(source);
                    s.transfers_scheduled = s.transfers_scheduled.saturating_sub(1);
                }
            }
        }
    }
}
