//! Directory quotas, as HDFS's: a name quota (files and directories under a directory, the
//! directory itself counted) and a space quota (bytes times replication; a block being written
//! counts as a full block). The usage is cached on the directories that have a quota (HDFS's
//! DirectoryWithQuotaFeature) and kept up to date by [`Namespace::apply_at`]: each edit charges
//! its change to the quota directories above it, a walk up the parents, never down a subtree
//! (except a rename or delete, which moves or drops the subtree's usage, and setting a quota,
//! which counts what is already there once).

use super::{FileMeta, Kind, Namespace, ROOT};
use super::{InodeId, NnError, NnResult};

/// What a subtree uses: names (files and directories) and space (bytes times replication).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub names: u64,
    pub space: u64,
}

/// A directory's quotas and its cached usage.
#[derive(Clone, Debug, Default)]
pub struct DirQuota {
    pub names: Option<u64>,
    pub space: Option<u64>,
    pub used: Usage,
}

/// The space a file takes against a quota: its bytes times its replication, a block still
/// being written counted as a full block (the most it can grow to).
pub fn file_space(f: &FileMeta) -> u64 {
    let bytes: u64 = f
        .blocks
        .iter()
        .map(|b| {
            if !b.committed && f.under_construction() {
                b.len.max(f.block_size)
            } else {
                b.len
            }
        })
        .sum();
    bytes.saturating_mul(f.replication as u64)
}

/// Bytes for a person: "10 GiB", "10.2 GiB", "512 B".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut v = n as f64;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

impl Namespace {
    /// The quota of directory `id`, if it has one.
    pub fn quota(&self, id: InodeId) -> Option<&DirQuota> {
        self.quotas.get(&id)
    }

    /// Every directory with a quota.
    pub fn quota_dirs(&self) -> impl Iterator<Item = (InodeId, &DirQuota)> {
        self.quotas.iter().map(|(&id, q)| (id, q))
    }

    /// What the subtree at `id` uses, itself included. A directory below it with a quota
    /// answers from its cache; `id`'s own cache is not trusted (this is how it is rebuilt).
    pub fn subtree_usage(&self, id: InodeId) -> NnResult<Usage> {
        let mut total = Usage::default();
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            if cur != id {
                if let Some(q) = self.quotas.get(&cur) {
                    total.names += q.used.names;
                    total.space += q.used.space;
                    continue;
                }
            }
            total.names += 1;
            match &self.inode(cur)?.kind {
                Kind::Dir(ch) => stack.extend(ch.values()),
                Kind::File(f) => total.space += file_space(f),
            }
        }
        Ok(total)
    }

    /// What moving or deleting the subtree at `id` takes from the quotas above it: nothing to
    /// count without quotas, its own cache when it has a quota.
    pub fn usage_to_move(&self, id: InodeId) -> NnResult<Usage> {
        if self.quotas.is_empty() {
            return Ok(Usage::default());
        }
        match self.quotas.get(&id) {
            Some(q) => Ok(q.used),
            None => self.subtree_usage(id),
        }
    }

    /// Adds a change of usage to every directory with a quota from `from` up to the root.
    pub(super) fn charge(&mut self, from: InodeId, names: i64, space: i64) -> NnResult<()> {
        if self.quotas.is_empty() || (names == 0 && space == 0) {
            return Ok(());
        }
        let mut cur = from;
        loop {
            if let Some(q) = self.quotas.get_mut(&cur) {
                q.used.names = q.used.names.saturating_add_signed(names);
                q.used.space = q.used.space.saturating_add_signed(space);
            }
            if cur == ROOT {
                return Ok(());
            }
            cur = self.inode(cur)?.parent;
        }
    }

    /// The space of the file at inode `id` now (0 for a directory).
    pub(super) fn space_of(&self, id: InodeId) -> NnResult<u64> {
        Ok(match &self.inode(id)?.kind {
            Kind::File(f) => file_space(f),
            Kind::Dir(_) => 0,
        })
    }

    /// Refuses adding `names` and `space` under `under` when a directory with a quota from
    /// there up to the root would go over it. Directories that also hold `already_under`
    /// (a rename's source) are skipped: a move inside them does not change their usage.
    pub fn check_quota(
        &self,
        under: InodeId,
        names: u64,
        space: u64,
        already_under: Option<InodeId>,
    ) -> NnResult<()> {
        if self.quotas.is_empty() || (names == 0 && space == 0) {
            return Ok(());
        }
        let skip = match already_under {
            Some(src) => self.ancestors(src)?,
            None => Vec::new(),
        };
        for dir in self.ancestors(under)? {
            let Some(q) = self.quotas.get(&dir) else {
                continue;
            };
            if skip.contains(&dir) {
                continue;
            }
            if let Some(limit) = q.names {
                let would = q.used.names.saturating_add(names);
                if names > 0 && would > limit {
                    return Err(NnError::QuotaExceeded(format!(
                        "name quota of {} exceeded: {limit} allowed, {would} would be used",
                        self.path_of(dir)?
                    )));
                }
            }
            if let Some(limit) = q.space {
                let would = q.used.space.saturating_add(space);
                if space > 0 && would > limit {
                    return Err(NnError::QuotaExceeded(format!(
                        "space quota of {} exceeded: {} allowed, {} would be used \
                         ({limit} and {would} bytes, counting every replica)",
                        self.path_of(dir)?,
                        human_bytes(limit),
                        human_bytes(would)
                    )));
                }
            }
        }
        Ok(())
    }

    /// `id` and its ancestors up to the root, each with a quota or not.
    fn ancestors(&self, mut id: InodeId) -> NnResult<Vec<InodeId>> {
        let mut out = vec![id];
        while id != ROOT {
            id = self.inode(id)?.parent;
            out.push(id);
        }
        Ok(out)
    }

    /// Applies a SetQuota edit: both quotas as they are to be (none: no quota).
    pub(super) fn set_quota(
        &mut self,
        path: &str,
        names: Option<u64>,
        space: Option<u64>,
    ) -> NnResult<()> {
        let id = self
            .lookup(path)?
            .ok_or_else(|| NnError::NotFound(path.into()))?;
        if !matches!(self.inode(id)?.kind, Kind::Dir(_)) {
            return Err(NnError::InvalidArgument(format!(
                "{path}: a quota is set on a directory, and this is a file"
            )));
        }
        if names.is_none() && space.is_none() {
            self.quotas.remove(&id);
            return Ok(());
        }
        let used = match self.quotas.get(&id) {
            Some(q) => q.used,
            None => self.subtree_usage(id)?,
        };
        self.quotas.insert(id, DirQuota { names, space, used });
        Ok(())
    }

    /// Recounts every quota directory's usage from the tree: once, after loading.
    pub fn recompute_quotas(&mut self) -> NnResult<()> {
        // Innermost first, so an outer directory adds up its inner ones' fresh counts.
        let mut dirs: Vec<(usize, InodeId)> = Vec::new();
        for &id in self.quotas.keys() {
            dirs.push((self.ancestors(id)?.len(), id));
        }
        dirs.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in dirs {
            let used = self.subtree_usage(id)?;
            if let Some(q) = self.quotas.get_mut(&id) {
                q.used = used;
            }
        }
        Ok(())
    }

    /// Forgets the quotas of the directories in a deleted subtree.
    pub(super) fn forget_quota(&mut self, id: InodeId) {
        if !self.quotas.is_empty() {
            self.quotas.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Edit, Perm};
    use super::*;
    use common::ids::{BlockId, GenStamp};

    fn perm() -> Perm {
        Perm {
            owner: "alice".into(),
            group: "staff".into(),
            mode: 0o755,
        }
    }

    fn create(path: &str) -> Edit {
        Edit::Create {
            path: path.into(),
            perm: perm(),
            mtime: 1,
            replication: 2,
            block_size: 100,
            client: "c".into(),
        }
    }

    fn used(ns: &Namespace, path: &str) -> Usage {
        let id = ns.lookup(path).expect("ok").expect("exists");
        ns.quota(id).expect("a quota").used
    }

    /// The cache after each edit must equal a fresh count of the tree.
    fn assert_cache_is_exact(ns: &mut Namespace) {
        let cached: Vec<_> = ns.quota_dirs().map(|(id, q)| (id, q.used)).collect();
        ns.recompute_quotas().expect("recount");
        for (id, before) in cached {
            assert_eq!(ns.quota(id).expect("quota").used, before, "inode {id}");
        }
    }

    #[test]
    fn cached_usage_follows_every_edit_and_matches_a_recount() {
        let mut ns = Namespace::new();
        let edits = [
            Edit::Mkdirs {
                path: "/p/in".into(),
                perm: perm(),
                mtime: 1,
            },
            Edit::SetQuota {
                path: "/p".into(),
                names: Some(100),
                space: Some(10_000),
            },
            Edit::SetQuota {
                path: "/p/in".into(),
                names: None,
                space: Some(5_000),
            },
            create("/p/in/f"),
            Edit::AddBlock {
                path: "/p/in/f".into(),
                block: BlockId(1),
                gen: GenStamp(1),
                prev_len: None,
            },
        ];
        for e in &edits {
            ns.apply(e).expect("apply");
            assert_cache_is_exact(&mut ns);
        }
        // /p, /p/in, /p/in/f; the block being written counts in full, twice.
        assert_eq!(
            used(&ns, "/p"),
            Usage {
                names: 3,
                space: 200
            }
        );
        assert_eq!(
            used(&ns, "/p/in"),
            Usage {
                names: 2,
                space: 200
            }
        );
        let more = [
            Edit::AddBlock {
                path: "/p/in/f".into(),
                block: BlockId(2),
                gen: GenStamp(2),
                prev_len: Some(100),
            },
            Edit::Close {
                path: "/p/in/f".into(),
                last_len: Some(30),
                drop_last: false,
                mtime: 2,
            },
            Edit::SetReplication {
                path: "/p/in/f".into(),
                replication: 3,
            },
            Edit::Mkdirs {
                path: "/out".into(),
                perm: perm(),
                mtime: 3,
            },
            Edit::Rename {
                src: "/p/in/f".into(),
                dst: "/out/f".into(),
                mtime: 4,
            },
            Edit::Rename {
                src: "/out".into(),
                dst: "/p/in/out".into(),
                mtime: 5,
            },
            create("/p/g"),
            Edit::Delete {
                path: "/p/in/out".into(),
                mtime: 6,
            },
        ];
        for e in &more {
            ns.apply(e).expect("apply");
            assert_cache_is_exact(&mut ns);
        }
        assert_eq!(used(&ns, "/p"), Usage { names: 3, space: 0 });
        // A deleted quota directory forgets its quota (its inode may be reused).
        ns.apply(&Edit::Delete {
            path: "/p/in".into(),
            mtime: 7,
        })
        .expect("delete");
        assert_eq!(ns.quota_dirs().count(), 1);
        assert_eq!(used(&ns, "/p"), Usage { names: 2, space: 0 });
        let e = ns
            .check_quota(ns.lookup("/p").expect("ok").expect("p"), 0, 10_001, None)
            .expect_err("over")
            .to_string();
        assert!(e.contains("space quota of /p exceeded"), "{e}");
    }

    #[test]
    fn quotas_survive_an_image_round_trip() {
        let mut ns = Namespace::new();
        ns.apply(&create("/d/f")).expect("create");
        ns.apply(&Edit::SetQuota {
            path: "/d".into(),
            names: Some(7),
            space: None,
        })
        .expect("quota");
        let dir = tempfile::tempdir().expect("tempdir");
        let j = common::journal::Journal::start(dir.path(), 0).expect("journal");
        j.write_image(3, ns.image().expect("image")).expect("write");
        let (_, image) = common::journal::load_latest_image(dir.path())
            .expect("load")
            .expect("image");
        let mut back = Namespace::from_image(&image).expect("load");
        back.recompute_quotas().expect("recount");
        let id = back.lookup("/d").expect("ok").expect("d");
        let q = back.quota(id).expect("quota kept");
        assert_eq!((q.names, q.space), (Some(7), None));
        assert_eq!(q.used, Usage { names: 2, space: 0 });
    }

    #[test]
    fn human_bytes_reads_like_the_examples() {
        assert_eq!(human_bytes(10 << 30), "10 GiB");
        assert_eq!(human_bytes((10 << 30) + (1 << 28)), "10.2 GiB");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3 MiB");
    }
}
