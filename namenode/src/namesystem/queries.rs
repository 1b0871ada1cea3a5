//! Reads: block locations for a reader, file status and listings, content summaries, fsck and
//! the cluster report. Each returns a named struct with node addresses already resolved, so
//! the RPC layer never touches the namesystem's state.

use super::client::LocatedBlock;
use super::snapshots::split_snapshot_path;
use super::{Metadata, Namesystem};
use crate::datanodes::{Liveness, NodeIdx, NodeInfo};
use crate::error::{NnError, NnResult};
use crate::namespace::{self, Kind};
use crate::permission::{self, Access, Need, Subject};
use crate::placement;
use common::ids::{BlockId, GenStamp};

/// A file's blocks for a reader.
#[derive(Debug)]
pub struct Located {
    pub length: u64,
    pub blocks: Vec<LocatedBlock>,
    pub under_construction: bool,
}

/// One file or directory, as listed.
#[derive(Debug)]
pub struct FileInfo {
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
    /// A file being written: the id its writer names it by (0 otherwise).
    pub file_id: u64,
}

/// What is under a path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentSummary {
    pub length: u64,
    pub files: u64,
    pub directories: u64,
    /// Bytes stored, counting every replica the files ask for.
    pub space_consumed: u64,
    /// The quotas of the directory summed up, if it has any.
    pub quota: super::QuotaInfo,
}

/// One replica of a block, as fsck shows it.
#[derive(Debug)]
pub struct ReplicaHealth {
    pub node: NodeInfo,
    pub corrupt: bool,
    /// The node is not live (stale or dead).
    pub stale: bool,
}

/// How a block stands, as fsck reports it.
#[derive(Debug)]
pub struct BlockHealth {
    pub path: String,
    pub id: BlockId,
    pub gen: GenStamp,
    pub len: u64,
    pub expected: u32,
    pub replicas: Vec<ReplicaHealth>,
    pub under_replicated: bool,
    pub mis_replicated: bool,
    pub corrupt: bool,
    pub missing: bool,
}

/// Health of every committed block under a path, and how many files and directories it holds.
#[derive(Debug, Default)]
pub struct FsckReport {
    pub blocks: Vec<BlockHealth>,
    pub files: u64,
    pub directories: u64,
}

/// One datanode in the cluster report.
#[derive(Debug)]
pub struct NodeReport {
    pub node: NodeInfo,
    pub liveness: Liveness,
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    /// Good replicas it holds.
    pub blocks: u64,
    pub last_heartbeat_ms_ago: u64,
    pub admin: crate::datanodes::AdminState,
    /// While decommissioning: blocks still to be copied elsewhere.
    pub decommission_blocks_left: u64,
}

/// The whole cluster at a glance.
#[derive(Debug)]
pub struct ClusterReport {
    pub datanodes: Vec<NodeReport>,
    /// Why mutations are refused, while in safe mode.
    pub safe_mode: Option<String>,
    pub total_blocks: u64,
    /// Blocks queued for the replication monitor.
    pub under_replicated: u64,
    pub pending_deletions: u64,
    pub files: u64,
}

impl Metadata {
    pub(super) fn status_of(&self, path: &str) -> NnResult<FileInfo> {
        let id = self
            .ns
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        let inode = self.ns.inode(id)?;
        let mut s = FileInfo {
            path: namespace::normalize(path)?,
            is_dir: false,
            length: 0,
            replication: 0,
            block_size: 0,
            owner: self.ns.name(inode.owner).into(),
            group: self.ns.name(inode.group).into(),
            mode: inode.mode as u32,
            mtime: inode.mtime,
            under_construction: false,
            children: 0,
            file_id: self.ns.file_id_of(id),
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
}

impl Namesystem {
    /// What reading a whole subtree takes (content summary, fsck): read and execute on every
    /// directory in it.
    fn whole_subtree() -> Need {
        Need {
            sub: Some(Access::READ_EXECUTE),
            ..Need::default()
        }
    }

    /// A file's blocks with their replicas, nearest to `reader_host` first.
    pub fn locations(&self, who: &Subject, path: &str, reader_host: &str) -> NnResult<Located> {
        if let Some((root, rest)) = split_snapshot_path(path) {
            return self.snapshot_locations(who, path, &root, &rest, reader_host);
        }
        let path = namespace::normalize(path)?;
        let st = self.meta.lock();
        let need = Need {
            access: Some(Access::READ),
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        let (_, f) = st.ns.file(&path)?;
        let mut offset = 0;
        let mut blocks = Vec::with_capacity(f.blocks.len());
        for meta in &f.blocks {
            let b = meta.id;
            let good = st.blocks.locations(b);
            let mut nodes: Vec<NodeIdx> = if meta.committed || !good.is_empty() {
                good.to_vec()
            } else {
                st.blocks.expected.get(&b).cloned().unwrap_or_default()
            };
            let mut corrupt = false;
            if nodes.is_empty() {
                let c = st.blocks.corrupt_of(b);
                if !c.is_empty() {
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
                nodes: nodes.into_iter().map(|n| st.dns.info(n)).collect(),
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

    /// A file's or directory's status: any caller who may traverse to it.
    pub fn file_info(&self, who: &Subject, path: &str) -> NnResult<FileInfo> {
        if let Some((root, rest)) = split_snapshot_path(path) {
            return self.snapshot_file_info(who, path, &root, &rest);
        }
        let st = self.meta.lock();
        permission::check(&st.ns, who, path, Need::default())?;
        st.status_of(path)
    }

    /// A directory's entries (or a file's own status). A directory may be huge: call it off
    /// the async threads.
    pub fn listing(&self, who: &Subject, path: &str) -> NnResult<Vec<FileInfo>> {
        if let Some((root, rest)) = split_snapshot_path(path) {
            return self.snapshot_listing(who, path, &root, &rest);
        }
        let path = namespace::normalize(path)?;
        let st = self.meta.lock();
        let id = st
            .ns
            .lookup(&path)?
            .ok_or_else(|| NnError::NotFound(path.clone()))?;
        // Listing a directory reads it (HDFS asks READ_EXECUTE); a file's own status only
        // needs the way to it.
        let need = Need {
            access: matches!(st.ns.inode(id)?.kind, Kind::Dir(_)).then_some(Access::READ_EXECUTE),
            ..Need::default()
        };
        permission::check(&st.ns, who, &path, need)?;
        match &st.ns.inode(id)?.kind {
            Kind::File(_) => Ok(vec![st.status_of(&path)?]),
            Kind::Dir(ch) => ch
                .keys()
                .map(|name| {
                    let child = if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    };
                    st.status_of(&child)
                })
                .collect(),
        }
    }

    /// Length, file and directory counts, and bytes used with replication, under `path`.
    /// Walks the subtree: call it off the async threads.
    pub fn content_summary(&self, who: &Subject, path: &str) -> NnResult<ContentSummary> {
        if let Some((root, rest)) = split_snapshot_path(path) {
            return self.snapshot_content_summary(who, path, &root, &rest);
        }
        let st = self.meta.lock();
        permission::check(&st.ns, who, path, Self::whole_subtree())?;
        let mut sum = ContentSummary::default();
        st.ns.walk(path, |_, inode| {
            match &inode.kind {
                Kind::Dir(_) => sum.directories += 1,
                Kind::File(f) => {
                    let l = f.length();
                    sum.files += 1;
                    sum.length += l;
                    sum.space_consumed += l * f.replication as u64;
                }
            }
            Ok(())
        })?;
        sum.quota = Self::quota_of(&st, path)?;
        Ok(sum)
    }

    /// Health of every block under `path`, plus file and directory counts. Walks the subtree:
    /// call it off the async threads.
    pub fn fsck(&self, who: &Subject, path: &str) -> NnResult<FsckReport> {
        let st = self.meta.lock();
        permission::check(&st.ns, who, path, Self::whole_subtree())?;
        let racks = st.dns.live_racks();
        let replica = |n: NodeIdx, corrupt: bool| ReplicaHealth {
            node: st.dns.info(n),
            corrupt,
            stale: st.dns.liveness(n) != Liveness::Live,
        };
        let mut out = FsckReport::default();
        st.ns.walk(path, |p, inode| {
            let f = match &inode.kind {
                Kind::Dir(_) => {
                    out.directories += 1;
                    return Ok(());
                }
                Kind::File(f) => f,
            };
            out.files += 1;
            for meta in &f.blocks {
                let b = meta.id;
                if !meta.committed {
                    continue; // still being written
                }
                let corrupt = st.blocks.corrupt_of(b);
                let locations = st.blocks.locations(b);
                let mut replicas: Vec<ReplicaHealth> =
                    locations.iter().map(|&n| replica(n, false)).collect();
                replicas.extend(corrupt.iter().map(|&n| replica(n, true)));
                let good = locations.len();
                let expected = f.replication as usize;
                let mut used: Vec<&str> = locations
                    .iter()
                    .map(|&n| st.dns.get(n).rack.as_str())
                    .collect();
                used.sort_unstable();
                used.dedup();
                let want_racks = expected.min(racks).min(2);
                out.blocks.push(BlockHealth {
                    path: p.into(),
                    id: b,
                    gen: meta.gen,
                    len: meta.len,
                    expected: expected as u32,
                    replicas,
                    under_replicated: good > 0 && good < expected,
                    mis_replicated: good > 0 && used.len() < want_racks,
                    corrupt: good == 0 && !corrupt.is_empty(),
                    missing: good == 0 && corrupt.is_empty(),
                });
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every datanode with its load and liveness, and the block store's totals. Per-node
    /// replica counts come from the block manager's per-node lists, not from a scan.
    pub fn cluster_report(&self) -> ClusterReport {
        let st = self.meta.lock();
        let now = self.clock.now();
        let datanodes = st
            .dns
            .all()
            .map(|i| {
                let d = st.dns.get(i);
                NodeReport {
                    node: st.dns.info(i),
                    liveness: st.dns.liveness(i),
                    capacity: d.capacity,
                    used: d.used,
                    remaining: d.remaining,
                    blocks: st.blocks.replica_count(i) as u64,
                    last_heartbeat_ms_ago: now
                        .saturating_duration_since(d.last_heartbeat)
                        .as_millis() as u64,
                    admin: d.admin,
                    decommission_blocks_left: d.decommission_blocks_left,
                }
            })
            .collect();
        let files = st
            .ns
            .inodes()
            .filter(|i| matches!(i.kind, Kind::File(_)))
            .count() as u64;
        ClusterReport {
            datanodes,
            safe_mode: st.safe_mode.clone(),
            total_blocks: st.ns.block_count() as u64,
            under_replicated: st.blocks.needed.len() as u64,
            pending_deletions: st
                .dns
                .all()
                .map(|i| st.dns.get(i).commands.invalidate.len() as u64)
                .sum(),
            files,
        }
    }
}
