//! Replica files on the data dirs (one per disk).
//!
//! Layout of a data dir: `current/{finalized,rbw,tmp}/subdirNN/blk_<id>` with a sidecar
//! `blk_<id>_<gen>.meta` holding a header and one CRC32 per chunk. Replicas being written by a
//! client live in `rbw/`, copies arriving from another datanode in `tmp/`; both move to
//! `finalized/` once complete. A start-up scan rebuilds the replica map: finalized replicas as
//! they are, replicas being written cut back to their last whole verified chunk (and never
//! reported as finalized), temporary copies deleted. While running, a copy that fails is
//! dropped at once, and [`Storage::sweep`] ages out what no writer touches any more.

use common::checksum::{self, META_HEADER_LEN};
use common::error::{Error, IoContext, Result};
use common::ids::NodeId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    Finalized,
    /// Being written by a client pipeline.
    Rbw,
    /// A copy arriving from another datanode; invisible until finalized.
    Temporary,
}

impl ReplicaState {
    fn folder(self) -> &'static str {
        match self {
            ReplicaState::Finalized => "finalized",
            ReplicaState::Rbw => "rbw",
            ReplicaState::Temporary => "tmp",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Replica {
    pub id: u64,
    pub dir: usize,
    pub gen: u64,
    pub state: ReplicaState,
    pub bytes_per_checksum: u32,
    /// Bytes as of the last change of state (exact for finalized replicas; a replica being
    /// written grows past it).
    pub len: u64,
}

pub struct Storage {
    dirs: Vec<PathBuf>,
    replicas: Mutex<HashMap<u64, Replica>>,
    /// The writer of each replica being written, while it lives: a replica whose writer is
    /// gone gets no more data and may be aged out; a writer whose replica was replaced since
    /// must not finalize (it would move the new replica's files). Taken after `replicas`.
    writers: Mutex<HashMap<u64, Weak<()>>>,
    next_dir: AtomicUsize,
    pub node_id: NodeId,
    reserved: u64,
    /// The most bytes replicas may hold (`capacity_bytes`); 0: the disks' size.
    capacity_cap: u64,
}

fn subdir(id: u64) -> String {
    format!("subdir{:02x}", (id >> 8) & 0x3f)
}

impl Storage {
    /// Opens (or initializes) the data dirs and scans them.
    pub fn open(dirs: &[PathBuf], reserved: u64) -> Result<Storage> {
        if dirs.is_empty() {
            return Err(Error::Config {
                path: PathBuf::new(),
                message: "no data_dirs configured".into(),
            });
        }
        let mut node_id = None;
        for d in dirs {
            for f in ["finalized", "rbw", "tmp"] {
                fs::create_dir_all(d.join("current").join(f)).at(d)?;
            }
            // Private to the datanode: clients get replicas through it (over the network, or
            // as descriptors for a short-circuit read), after its checks.
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(d, fs::Permissions::from_mode(0o700)).at(d)?;
            }
            let idf = d.join("node_id");
            if let Ok(text) = fs::read_to_string(&idf) {
                let id = u64::from_str_radix(text.trim(), 16).map_err(|_| Error::Corrupt {
                    path: idf.clone(),
                    message: "not a node id".into(),
                })?;
                if node_id.is_some_and(|n| n != id) {
                    return Err(Error::Corrupt {
                        path: idf,
                        message: "data dirs belong to different datanodes".into(),
                    });
                }
                node_id = Some(id);
            }
        }
        let node_id = node_id.unwrap_or_else(rand::random::<u64>);
        for d in dirs {
            common::fsutil::atomic_write(
                &d.join("node_id"),
                format!("{node_id:016x}\n").as_bytes(),
            )?;
        }
        let s = Storage {
            dirs: dirs.to_vec(),
            replicas: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
            next_dir: AtomicUsize::new(0),
            node_id: NodeId(node_id),
            reserved,
            capacity_cap: 0,
        };
        s.scan()?;
        Ok(s)
    }

    /// Caps the capacity this node reports and fills at `cap` bytes (0: no cap).
    pub fn capped(mut self, cap: u64) -> Self {
        self.capacity_cap = cap;
        self
    }

    pub fn data_path(&self, r: &Replica) -> PathBuf {
        self.dirs[r.dir]
            .join("current")
            .join(r.state.folder())
            .join(subdir(r.id))
            .join(format!("blk_{}", r.id))
    }

    pub fn meta_path(&self, r: &Replica) -> PathBuf {
        self.dirs[r.dir]
            .join("current")
            .join(r.state.folder())
            .join(subdir(r.id))
            .join(format!("blk_{}_{}.meta", r.id, r.gen))
    }

    fn scan(&self) -> Result<()> {
        let mut map: HashMap<u64, Replica> = HashMap::new();
        for (di, d) in self.dirs.iter().enumerate() {
            for state in [
                ReplicaState::Finalized,
                ReplicaState::Rbw,
                ReplicaState::Temporary,
            ] {
                let root = d.join("current").join(state.folder());
                for sub in fs::read_dir(&root).at(&root)? {
                    let sub = sub.at(&root)?.path();
                    if !sub.is_dir() {
                        continue;
                    }
                    for entry in fs::read_dir(&sub).at(&sub)? {
                        let p = entry.at(&sub)?.path();
                        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                            continue;
                        };
                        let Some(rest) = name
                            .strip_prefix("blk_")
                            .and_then(|r| r.strip_suffix(".meta"))
                        else {
                            continue;
                        };
                        let Some((id, gen)) = rest
                            .split_once('_')
                            .and_then(|(i, g)| Some((i.parse().ok()?, g.parse().ok()?)))
                        else {
                            continue;
                        };
                        let mut r = Replica {
                            id,
                            dir: di,
                            gen,
                            state,
                            bytes_per_checksum: 0,
                            len: 0,
                        };
                        if state == ReplicaState::Temporary {
                            let _ = fs::remove_file(self.data_path(&r));
                            let _ = fs::remove_file(&p);
                            continue;
                        }
                        match self.load_replica(&mut r) {
                            Ok(()) => {}
                            Err(e) => {
                                tracing::warn!(block = id, error = %e, "unreadable replica ignored");
                                continue;
                            }
                        }
                        match map.get(&id) {
                            Some(old) if old.gen >= gen => self.remove_files(&r),
                            Some(old) => {
                                self.remove_files(old);
                                map.insert(id, r);
                            }
                            None => {
                                map.insert(id, r);
                            }
                        }
                    }
                }
            }
        }
        tracing::info!(replicas = map.len(), "data dirs scanned");
        *self.replicas.lock() = map;
        Ok(())
    }

    /// Reads the meta header; a replica being written is cut to its last verified chunk.
    fn load_replica(&self, r: &mut Replica) -> Result<()> {
        let meta_path = self.meta_path(r);
        let mut meta = File::open(&meta_path).at(&meta_path)?;
        let mut h = [0u8; 8];
        meta.read_exact(&mut h).at(&meta_path)?;
        r.bytes_per_checksum = checksum::parse_meta_header(&h).ok_or_else(|| Error::Corrupt {
            path: meta_path.clone(),
            message: "bad meta header".into(),
        })?;
        if r.state == ReplicaState::Rbw {
            let data_path = self.data_path(r);
            let data_len = fs::metadata(&data_path).at(&data_path)?.len();
            let meta_len = meta.metadata().at(&meta_path)?.len();
            let bpc = r.bytes_per_checksum as u64;
            let sums = (meta_len - META_HEADER_LEN) / 4;
            let mut len = data_len.min(sums * bpc);
            // The last chunk may be half-written: keep it only if its checksum holds.
            if len > 0 {
                let last_start = (len - 1) / bpc * bpc;
                let mut data = vec![0u8; (len - last_start) as usize];
                let f = File::open(&data_path).at(&data_path)?;
                f.read_exact_at(&mut data, last_start).at(&data_path)?;
                let mut sum = [0u8; 4];
                meta.read_exact_at(&mut sum, META_HEADER_LEN + last_start / bpc * 4)
                    .at(&meta_path)?;
                if checksum::verify(&data, &sum, bpc as usize).is_err() {
                    len = last_start;
                }
            }
            self.truncate_files(r, len)?;
            r.len = len;
        } else {
            let data_path = self.data_path(r);
            r.len = fs::metadata(&data_path).at(&data_path)?.len();
        }
        Ok(())
    }

    fn remove_files(&self, r: &Replica) {
        let _ = fs::remove_file(self.data_path(r));
        let _ = fs::remove_file(self.meta_path(r));
    }

    /// Cuts a replica to `len` bytes, rewriting the checksum of a partial last chunk.
    fn truncate_files(&self, r: &Replica, len: u64) -> Result<()> {
        let bpc = r.bytes_per_checksum as u64;
        let data_path = self.data_path(r);
        let meta_path = self.meta_path(r);
        let data = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&data_path)
            .at(&data_path)?;
        data.set_len(len).at(&data_path)?;
        let meta = OpenOptions::new()
            .write(true)
            .open(&meta_path)
            .at(&meta_path)?;
        let chunks = len.div_ceil(bpc);
        meta.set_len(META_HEADER_LEN + chunks * 4).at(&meta_path)?;
        if !len.is_multiple_of(bpc) {
            let start = len / bpc * bpc;
            let mut buf = vec![0u8; (len - start) as usize];
            data.read_exact_at(&mut buf, start).at(&data_path)?;
            meta.write_all_at(
                &crc32fast::hash(&buf).to_le_bytes(),
                META_HEADER_LEN + start / bpc * 4,
            )
            .at(&meta_path)?;
        }
        Ok(())
    }

    /// Every replica with its length, for a block report. Only replicas still being written
    /// are measured on disk.
    pub fn report(&self) -> Vec<(Replica, u64)> {
        let all: Vec<Replica> = self
            .replicas
            .lock()
            .values()
            .filter(|r| r.state != ReplicaState::Temporary)
            .cloned()
            .collect();
        all.into_iter()
            .filter_map(|r| {
                let len = match r.state {
                    ReplicaState::Finalized => r.len,
                    _ => fs::metadata(self.data_path(&r)).ok()?.len(),
                };
                Some((r, len))
            })
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Replica> {
        self.replicas.lock().get(&id).cloned()
    }

    pub fn finalized(&self) -> Vec<Replica> {
        self.replicas
            .lock()
            .values()
            .filter(|r| r.state == ReplicaState::Finalized)
            .cloned()
            .collect()
    }

    /// Starts a new replica (a client write or an incoming copy).
    pub fn create(
        &self,
        id: u64,
        gen: u64,
        bpc: u32,
        state: ReplicaState,
    ) -> Result<ReplicaWriter> {
        let mut map = self.replicas.lock();
        if self.capacity_cap > 0 {
            let used: u64 = map.values().map(|r| r.len).sum();
            if used >= self.capacity_cap {
                return Err(Error::Protocol(format!(
                    "blk_{id}: this datanode is full: its replicas hold {used} bytes of the \
                     {} its capacity_bytes allows (raise capacity_bytes or balance the cluster)",
                    self.capacity_cap
                )));
            }
        }
        if let Some(old) = map.get(&id) {
            // A temporary copy no one is writing any more (its transfer failed or stalled)
            // is replaced by a new copy of the same generation, as HDFS does; anything else
            // of that generation or newer stays.
            let replaceable =
                old.state == ReplicaState::Temporary && old.gen <= gen && !self.being_written(id);
            if old.state == ReplicaState::Finalized || (old.gen >= gen && !replaceable) {
                return Err(Error::Protocol(format!(
                    "blk_{id}: a replica (generation {}, {:?}) already exists{}",
                    old.gen,
                    old.state,
                    if self.being_written(id) {
                        " and is being written"
                    } else {
                        ""
                    }
                )));
            }
            self.remove_files(old);
            map.remove(&id);
        }
        let dir = self.pick_dir();
        let r = Replica {
            id,
            dir,
            gen,
            state,
            bytes_per_checksum: bpc,
            len: 0,
        };
        let data_path = self.data_path(&r);
        let meta_path = self.meta_path(&r);
        if let Some(parent) = data_path.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let opened = (|| -> Result<(File, File)> {
            let data = File::create(&data_path).at(&data_path)?;
            let mut meta = File::create(&meta_path).at(&meta_path)?;
            meta.write_all(&checksum::meta_header(bpc)).at(&meta_path)?;
            Ok((data, meta))
        })();
        let (data, meta) = match opened {
            Ok(f) => f,
            Err(e) => {
                // A full disk must not leave files no replica map knows of.
                self.remove_files(&r);
                return Err(e);
            }
        };
        map.insert(id, r.clone());
        let token = self.new_writer(id);
        Ok(ReplicaWriter {
            replica: r,
            data,
            meta,
            len: 0,
            data_path,
            meta_path,
            token,
        })
    }

    /// Registers the writer of replica `id`, replacing any earlier one.
    fn new_writer(&self, id: u64) -> Arc<()> {
        let token = Arc::new(());
        self.writers.lock().insert(id, Arc::downgrade(&token));
        token
    }

    /// Whether a writer of replica `id` is still at work.
    fn being_written(&self, id: u64) -> bool {
        self.writers
            .lock()
            .get(&id)
            .is_some_and(|w| w.strong_count() > 0)
    }

    /// Whether `w` is the current writer of its replica.
    fn is_current(&self, w: &ReplicaWriter) -> bool {
        self.writers
            .lock()
            .get(&w.replica.id)
            .is_some_and(|cur| std::ptr::eq(cur.as_ptr(), Arc::as_ptr(&w.token)))
    }

    /// A copy from another datanode failed: its temporary replica is useless (the namenode
    /// plans the copy again), so it goes now rather than blocking the next copy. Replicas
    /// being written by a client stay: pipeline recovery may resume them.
    pub fn abandon(&self, w: ReplicaWriter) {
        let id = w.replica.id;
        let mut map = self.replicas.lock();
        let current = self.is_current(&w);
        drop((w.data, w.meta));
        match map.get(&id) {
            Some(r) if current && r.state == ReplicaState::Temporary && r.gen == w.replica.gen => {
                self.remove_files(r);
                map.remove(&id);
                tracing::info!(block = id, "partial copy dropped");
            }
            _ => {}
        }
    }

    fn pick_dir(&self) -> usize {
        // Round robin over dirs with room, like HDFS's default volume choice.
        for _ in 0..self.dirs.len() {
            let i = self.next_dir.fetch_add(1, Ordering::Relaxed) % self.dirs.len();
            if common::fsutil::free_space(&self.dirs[i]) > self.reserved {
                return i;
            }
        }
        self.next_dir.fetch_add(1, Ordering::Relaxed) % self.dirs.len()
    }

    /// Reopens a replica to append to: a finalized one must hold exactly the block's `len`
    /// bytes with a sound partial last chunk (the chunk the first appended packet completes);
    /// it is restamped with `new_gen` and moved back to `rbw/`. A replica an earlier, failed
    /// attempt already reopened is taken up as a pipeline recovery takes it.
    pub fn reopen_for_append(
        &self,
        id: u64,
        old_gen: u64,
        new_gen: u64,
        len: u64,
    ) -> Result<ReplicaWriter> {
        let r = self
            .get(id)
            .ok_or_else(|| Error::Protocol(format!("blk_{id}: no replica here to append to")))?;
        if r.state == ReplicaState::Finalized {
            let data_path = self.data_path(&r);
            let on_disk = fs::metadata(&data_path).at(&data_path)?.len();
            if on_disk != len {
                return Err(Error::Protocol(format!(
                    "blk_{id}: the replica has {on_disk} bytes, the block {len}: not appending \
                     to it (the namenode replaces it)"
                )));
            }
            self.verify_last_chunk(&r, len)?;
        }
        self.recover(id, old_gen, new_gen, len)
    }

    /// Checks the CRC of the chunk holding byte `len - 1`: appending rewrites it over more
    /// bytes, so a bad one must not be blessed.
    fn verify_last_chunk(&self, r: &Replica, len: u64) -> Result<()> {
        let bpc = r.bytes_per_checksum as u64;
        if len == 0 || len.is_multiple_of(bpc) {
            return Ok(());
        }
        let start = len / bpc * bpc;
        let (data_path, meta_path) = (self.data_path(r), self.meta_path(r));
        let mut data = vec![0u8; (len - start) as usize];
        File::open(&data_path)
            .and_then(|f| f.read_exact_at(&mut data, start))
            .at(&data_path)?;
        let mut sum = [0u8; 4];
        File::open(&meta_path)
            .and_then(|f| f.read_exact_at(&mut sum, META_HEADER_LEN + start / bpc * 4))
            .at(&meta_path)?;
        checksum::verify(&data, &sum, bpc as usize).map_err(|_| {
            Error::Protocol(format!(
                "blk_{}: the replica's last chunk fails its checksum: not appending to it",
                r.id
            ))
        })
    }

    /// Rebuilds a replica for a recovered pipeline: cut to `len`, restamped with `new_gen`.
    pub fn recover(&self, id: u64, old_gen: u64, new_gen: u64, len: u64) -> Result<ReplicaWriter> {
        let mut map = self.replicas.lock();
        let r = map
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Protocol(format!("blk_{id}: no replica to recover")))?;
        // A replica restamped by an earlier, failed recovery attempt is fine too. So is one
        // this node already finalized (the failure came while the block's last packet was in
        // flight, after this node stored it): it is cut back to the acknowledged length and
        // written again like the others, so every survivor takes part (HDFS's close recovery).
        let writable = matches!(r.state, ReplicaState::Rbw | ReplicaState::Finalized);
        if r.gen < old_gen || r.gen >= new_gen || !writable {
            return Err(Error::Protocol(format!(
                "blk_{id}: replica is generation {} ({:?}), not one in {old_gen}..{new_gen} being written or finalized",
                r.gen, r.state
            )));
        }
        let new = self.restamp(&r, new_gen, len, ReplicaState::Rbw)?;
        map.insert(id, new.clone());
        let data_path = self.data_path(&new);
        let meta_path = self.meta_path(&new);
        // Readable too: a packet that completes a partial last chunk rereads its start.
        let mut data = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&data_path)
            .at(&data_path)?;
        data.seek(SeekFrom::End(0)).at(&data_path)?;
        let mut meta = OpenOptions::new()
            .write(true)
            .open(&meta_path)
            .at(&meta_path)?;
        meta.seek(SeekFrom::End(0)).at(&meta_path)?;
        let token = self.new_writer(id);
        Ok(ReplicaWriter {
            replica: new,
            data,
            meta,
            len,
            data_path,
            meta_path,
            token,
        })
    }

    /// Cuts, restamps and moves a replica; the caller holds the map lock.
    fn restamp(&self, r: &Replica, new_gen: u64, len: u64, state: ReplicaState) -> Result<Replica> {
        let cur_len = fs::metadata(self.data_path(r)).at(self.data_path(r))?.len();
        if cur_len < len {
            return Err(Error::Protocol(format!(
                "blk_{}: replica has {cur_len} bytes, fewer than the {len} asked for",
                r.id
            )));
        }
        self.truncate_files(r, len)?;
        let new = Replica {
            gen: new_gen,
            state,
            len,
            ..r.clone()
        };
        if let Some(parent) = self.data_path(&new).parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        fs::rename(self.meta_path(r), self.meta_path(&new)).at(self.meta_path(r))?;
        fs::rename(self.data_path(r), self.data_path(&new)).at(self.data_path(r))?;
        Ok(new)
    }

    /// Lease recovery's last step: cut to `len`, stamp `new_gen`, finalize.
    pub fn finalize_recovered(&self, id: u64, new_gen: u64, len: u64) -> Result<Replica> {
        let mut map = self.replicas.lock();
        let r = map
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Protocol(format!("blk_{id}: no replica to recover")))?;
        let new = self.restamp(&r, new_gen, len, ReplicaState::Finalized)?;
        map.insert(id, new.clone());
        Ok(new)
    }

    /// Moves a fully written replica to `finalized/`.
    pub fn finalize(&self, w: ReplicaWriter) -> Result<Replica> {
        let mut map = self.replicas.lock();
        let current = self.is_current(&w);
        drop((w.data, w.meta));
        match map.get(&w.replica.id) {
            Some(cur) if current && cur.gen == w.replica.gen && cur.state == w.replica.state => {}
            _ => {
                return Err(Error::Protocol(format!(
                    "blk_{}: replica changed while being written",
                    w.replica.id
                )))
            }
        }
        let fin = Replica {
            state: ReplicaState::Finalized,
            len: w.len,
            ..w.replica.clone()
        };
        if let Some(parent) = self.data_path(&fin).parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        fs::rename(&w.meta_path, self.meta_path(&fin)).at(&w.meta_path)?;
        fs::rename(&w.data_path, self.data_path(&fin)).at(&w.data_path)?;
        map.insert(fin.id, fin.clone());
        Ok(fin)
    }

    /// Deletes a replica if its generation is at most `gen`; returns whether it did.
    pub fn delete(&self, id: u64, gen: u64) -> bool {
        let mut map = self.replicas.lock();
        match map.get(&id) {
            Some(r) if r.gen <= gen => {
                self.remove_files(r);
                map.remove(&id);
                true
            }
            _ => false,
        }
    }

    /// Ages out what the being-written areas hold without a writer for `max_age`: temporary
    /// copies are removed (the namenode plans a failed copy again), files no replica owns
    /// (left by a write that failed half-way) too. Replicas being written by a client whose
    /// writer is gone are returned with their length, for the namenode to judge: it has the
    /// ones of deleted or already completed blocks deleted, and keeps those it still expects
    /// (lease recovery needs them).
    pub fn sweep(&self, max_age: Duration) -> Vec<(Replica, u64)> {
        let now = SystemTime::now();
        let idle = |p: &Path| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= max_age)
        };
        let unwritten: Vec<Replica> = self
            .replicas
            .lock()
            .values()
            .filter(|r| r.state != ReplicaState::Finalized && !self.being_written(r.id))
            .cloned()
            .collect();
        let mut stale = Vec::new();
        for r in unwritten {
            if !idle(&self.data_path(&r)) || !idle(&self.meta_path(&r)) {
                continue;
            }
            if r.state == ReplicaState::Rbw {
                if let Ok(m) = fs::metadata(self.data_path(&r)) {
                    stale.push((r, m.len()));
                }
                continue;
            }
            let mut map = self.replicas.lock();
            let unchanged = map
                .get(&r.id)
                .is_some_and(|cur| cur.gen == r.gen && cur.state == r.state && cur.dir == r.dir);
            if unchanged && !self.being_written(r.id) {
                self.remove_files(&r);
                map.remove(&r.id);
                tracing::info!(block = r.id, "abandoned temporary copy removed");
            }
        }
        for (di, d) in self.dirs.iter().enumerate() {
            for state in [ReplicaState::Rbw, ReplicaState::Temporary] {
                for p in files_under(&d.join("current").join(state.folder())) {
                    let Some(id) = p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix("blk_"))
                        .and_then(|n| n.split(['_', '.']).next())
                        .and_then(|n| n.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    if !idle(&p) {
                        continue;
                    }
                    let map = self.replicas.lock();
                    let owned = map.get(&id).is_some_and(|r| {
                        r.dir == di
                            && r.state == state
                            && (self.data_path(r) == p || self.meta_path(r) == p)
                    });
                    if !owned {
                        let _ = fs::remove_file(&p);
                        tracing::info!(path = %p.display(), "file of no replica removed");
                    }
                }
            }
        }
        self.writers.lock().retain(|_, w| w.strong_count() > 0);
        stale
    }

    /// Opens a replica for reading: data, meta, length, chunk size.
    pub fn open_read(&self, id: u64, gen: u64) -> Result<(Replica, File, File, u64)> {
        let r = self
            .get(id)
            .ok_or_else(|| Error::Protocol(format!("blk_{id}: no such replica here")))?;
        if r.gen < gen || r.state == ReplicaState::Temporary {
            return Err(Error::Protocol(format!(
                "blk_{id}: replica is generation {}, reader wants {gen}",
                r.gen
            )));
        }
        let data = File::open(self.data_path(&r)).at(self.data_path(&r))?;
        let meta = File::open(self.meta_path(&r)).at(self.meta_path(&r))?;
        let len = data.metadata().at(self.data_path(&r))?.len();
        Ok((r, data, meta, len))
    }

    /// Total, used (by replicas) and remaining bytes over all dirs.
    pub fn usage(&self) -> Usage {
        let mut seen = Vec::new();
        let (mut capacity, mut remaining) = (0, 0);
        for d in &self.dirs {
            if let Some(s) = common::fsutil::disk_stats(d) {
                // Several dirs on one file system count once.
                let fs = (s.total, s.available / (1 << 30));
                if !seen.contains(&fs) {
                    seen.push(fs);
                    capacity += s.total;
                    remaining += s.available.saturating_sub(self.reserved);
                }
            }
        }
        let used: u64 = self.replicas.lock().values().map(|r| r.len).sum();
        if self.capacity_cap > 0 {
            capacity = capacity.min(self.capacity_cap);
            remaining = remaining.min(self.capacity_cap.saturating_sub(used));
        }
        Usage {
            capacity,
            used,
            remaining,
        }
    }
}

/// Every file in the subdirs of `root` (a state's folder).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(subs) = fs::read_dir(root) else {
        return out;
    };
    for sub in subs.flatten() {
        let sub = sub.path();
        if let Ok(entries) = fs::read_dir(&sub) {
            out.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    out
}

/// A datanode's space, as its heartbeats report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub capacity: u64,
    /// Bytes held by replicas.
    pub used: u64,
    /// Bytes still free for replicas, after the reserved space.
    pub remaining: u64,
}

/// Appends packets to a replica being written.
pub struct ReplicaWriter {
    pub replica: Replica,
    data: File,
    meta: File,
    pub len: u64,
    data_path: PathBuf,
    meta_path: PathBuf,
    /// Alive while this writer is: see `Storage::writers`.
    token: Arc<()>,
}

impl ReplicaWriter {
    /// Appends one packet's data and checksums; the packet must start where the replica ends,
    /// on a chunk boundary, or (after an append reopened the replica) inside a partial last
    /// chunk that it does not go past: then that chunk's CRC is rewritten over its old and new
    /// bytes.
    pub fn append(&mut self, offset: u64, data: &[u8], sums: &[u8]) -> Result<()> {
        let bpc = self.replica.bytes_per_checksum as u64;
        let in_chunk = offset % bpc;
        if offset != self.len || (in_chunk != 0 && in_chunk + data.len() as u64 > bpc) {
            return Err(Error::Protocol(format!(
                "blk_{}: packet of {} bytes at offset {offset}, replica has {} bytes (a packet \
                 must start on a chunk boundary or end within the partial last chunk)",
                self.replica.id,
                data.len(),
                self.len
            )));
        }
        if in_chunk != 0 {
            return self.complete_partial_chunk(offset, data);
        }
        self.data.write_all(data).at(&self.data_path)?;
        self.meta.write_all(sums).at(&self.meta_path)?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Adds `data` to the partial chunk the replica ends in, and rewrites that chunk's CRC
    /// in place (the meta file keeps its length: still one CRC for the chunk).
    fn complete_partial_chunk(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let bpc = self.replica.bytes_per_checksum as u64;
        let start = offset / bpc * bpc;
        let mut chunk = vec![0u8; (offset - start) as usize];
        self.data
            .read_exact_at(&mut chunk, start)
            .at(&self.data_path)?;
        chunk.extend_from_slice(data);
        self.data.write_all(data).at(&self.data_path)?;
        self.meta
            .write_all_at(
                &crc32fast::hash(&chunk).to_le_bytes(),
                META_HEADER_LEN + start / bpc * 4,
            )
            .at(&self.meta_path)?;
        self.len += data.len() as u64;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.data_path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Storage::open(&[dir.path().to_path_buf()], 0).expect("open");
        (dir, s)
    }

    fn append(w: &mut ReplicaWriter, n: usize) {
        let data = vec![7u8; n];
        let mut sums = Vec::new();
        checksum::compute(&data, w.replica.bytes_per_checksum as usize, &mut sums);
        let at = w.len;
        w.append(at, &data, &sums).expect("append");
    }

    fn files(dir: &Path, area: &str) -> Vec<PathBuf> {
        files_under(&dir.join("current").join(area))
    }

    #[test]
    fn a_failed_copy_is_dropped_and_a_new_copy_replaces_an_idle_one() {
        let (dir, s) = open();
        let mut w = s
            .create(1, 1000, 512, ReplicaState::Temporary)
            .expect("create");
        append(&mut w, 1024);
        s.abandon(w);
        assert!(s.get(1).is_none(), "the failed copy is forgotten");
        assert!(
            files(dir.path(), "tmp").is_empty(),
            "and its files are gone"
        );

        // A copy whose writer went away without a word (a stalled transfer) is replaced.
        let mut w = s
            .create(1, 1000, 512, ReplicaState::Temporary)
            .expect("create");
        append(&mut w, 512);
        drop(w);
        let w = s
            .create(1, 1000, 512, ReplicaState::Temporary)
            .expect("replaces the idle copy");
        // One still being written is not.
        let e = s
            .create(1, 1000, 512, ReplicaState::Temporary)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("being written"), "{e}");
        drop(w);
        let fresh = s
            .create(1, 1000, 512, ReplicaState::Temporary)
            .expect("create");
        let fin = s.finalize(fresh).expect("finalize");
        assert_eq!(fin.state, ReplicaState::Finalized);
        // A finalized replica is never replaced by a copy.
        assert!(s.create(1, 1000, 512, ReplicaState::Temporary).is_err());
    }

    #[test]
    fn a_writer_whose_replica_was_replaced_cannot_finalize() {
        let (_dir, s) = open();
        let old = s.create(2, 1000, 512, ReplicaState::Rbw).expect("create");
        let new = s
            .create(2, 1001, 512, ReplicaState::Rbw)
            .expect("newer stamp");
        assert!(s.finalize(old).is_err());
        assert!(s.finalize(new).is_ok());
    }

    #[test]
    fn a_finalized_replica_takes_part_in_pipeline_recovery() {
        let (_dir, s) = open();
        let mut w = s.create(3, 1000, 512, ReplicaState::Rbw).expect("create");
        append(&mut w, 1024);
        s.finalize(w).expect("finalize");
        // The last packet (bytes 512..1024) was not acknowledged everywhere: cut back,
        // restamped, written again, finalized at the new stamp.
        let mut w = s
            .recover(3, 1000, 1001, 512)
            .expect("finalized replica recovers");
        assert_eq!((w.len, w.replica.gen), (512, 1001));
        append(&mut w, 512);
        let fin = s.finalize(w).expect("finalize");
        assert_eq!(
            (fin.gen, fin.len, fin.state),
            (1001, 1024, ReplicaState::Finalized)
        );
        // A stamp outside the recovery's range is refused.
        let e = s.recover(3, 1002, 1003, 512).err().expect("refused");
        assert!(e.to_string().contains("generation 1001"), "{e}");
    }

    #[test]
    fn an_append_completes_the_partial_last_chunk_and_rewrites_its_crc() {
        let (_dir, s) = open();
        let mut w = s.create(8, 1000, 512, ReplicaState::Rbw).expect("create");
        append(&mut w, 700);
        s.finalize(w).expect("finalize");
        // The namenode's length must match the replica's.
        let e = s
            .reopen_for_append(8, 1000, 1001, 600)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("700 bytes"), "{e}");
        let mut w = s.reopen_for_append(8, 1000, 1001, 700).expect("reopen");
        assert_eq!(
            (w.len, w.replica.gen, w.replica.state),
            (700, 1001, ReplicaState::Rbw)
        );
        // A packet past the partial chunk's end is refused; one that completes it is taken.
        let tail = vec![9u8; 400];
        assert!(w.append(700, &tail, &[0; 4]).is_err());
        w.append(700, &tail[..324], &[0; 4])
            .expect("completes the chunk");
        append(&mut w, 512);
        let fin = s.finalize(w).expect("finalize");
        assert_eq!((fin.len, fin.gen), (1536, 1001));
        let data = fs::read(s.data_path(&fin)).expect("data");
        let meta = fs::read(s.meta_path(&fin)).expect("meta");
        checksum::verify(&data, &meta[META_HEADER_LEN as usize..], 512)
            .expect("every chunk's CRC holds");
        assert_eq!(&data[690..710], &[[7u8; 10], [9u8; 10]].concat()[..]);
    }

    #[test]
    fn the_sweep_drops_idle_copies_and_strays_and_returns_idle_client_replicas() {
        let (dir, s) = open();
        let mut idle = s.create(4, 1000, 512, ReplicaState::Rbw).expect("create");
        append(&mut idle, 512);
        drop(idle);
        let copy = s
            .create(5, 1000, 512, ReplicaState::Temporary)
            .expect("create");
        drop(copy);
        let mut busy = s.create(6, 1000, 512, ReplicaState::Rbw).expect("create");
        append(&mut busy, 512);
        let stray = dir.path().join("current/tmp/subdir00");
        fs::create_dir_all(&stray).expect("mkdir");
        fs::write(stray.join("blk_7"), b"x").expect("write");
        fs::write(stray.join("blk_7_1000.meta"), b"x").expect("write");

        let stale = s.sweep(Duration::ZERO);
        let ids: Vec<(u64, u64)> = stale.iter().map(|(r, len)| (r.id, *len)).collect();
        assert_eq!(ids, [(4, 512)], "only the idle client replica is reported");
        assert!(s.get(5).is_none(), "the idle copy is gone");
        assert!(files(dir.path(), "tmp").is_empty(), "with the strays");
        assert!(s.get(6).is_some() && s.get(4).is_some());
        // Nothing younger than the age is touched.
        drop(busy);
        assert!(s.sweep(Duration::from_secs(3600)).is_empty());
        assert_eq!(files(dir.path(), "rbw").len(), 4);
    }
}
