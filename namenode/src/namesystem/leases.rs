//! Leases: which writer holds which files open, renewals, and the recovery of the files of a
//! writer that stopped renewing past the hard limit (its last block's length is agreed by the
//! datanodes that hold it, under a new generation stamp, then the file is closed).

use super::{now_ms, Metadata, Namesystem};
use crate::datanodes::{Liveness, NodeIdx, Recover};
use crate::error::NnResult;
use crate::namespace::Edit;
use common::ids::{BlockId, GenStamp};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A writer's lease on the files it has open.
#[derive(Debug)]
pub(super) struct Lease {
    pub renewed: Instant,
    pub paths: BTreeSet<String>,
}

/// A block under lease recovery: its file, and the stamp the recovery gives it.
#[derive(Debug)]
pub(super) struct Recovery {
    pub path: String,
    pub gen: GenStamp,
}

#[derive(Debug, Default)]
pub(super) struct Leases {
    /// Per writer (client name).
    pub by_client: HashMap<String, Lease>,
    pub recovering: HashMap<BlockId, Recovery>,
}

/// `p` is `prefix` or under it.
fn is_under(p: &str, prefix: &str) -> bool {
    p == prefix || (p.starts_with(prefix) && p[prefix.len()..].starts_with('/'))
}

impl Leases {
    /// Records that `client` holds the lease on `path` (a new lease starts `now`).
    pub fn add_path(&mut self, client: &str, path: &str, now: Instant) {
        self.by_client
            .entry(client.into())
            .or_insert_with(|| Lease {
                renewed: now,
                paths: BTreeSet::new(),
            })
            .paths
            .insert(path.into());
    }

    pub fn release_path(&mut self, client: &str, path: &str) {
        if let Some(l) = self.by_client.get_mut(client) {
            l.paths.remove(path);
            if l.paths.is_empty() {
                self.by_client.remove(client);
            }
        }
    }

    /// Releases `path` from whoever holds it.
    pub fn release_everyone(&mut self, path: &str) {
        let holders: Vec<String> = self
            .by_client
            .iter()
            .filter(|(_, l)| l.paths.contains(path))
            .map(|(c, _)| c.clone())
            .collect();
        for c in holders {
            self.release_path(&c, path);
        }
    }

    pub fn renew(&mut self, client: &str, now: Instant) {
        if let Some(l) = self.by_client.get_mut(client) {
            l.renewed = now;
        }
    }

    /// Follows a rename of `src` (a file or a directory) to `dst`.
    pub fn renamed(&mut self, src: &str, dst: &str) {
        for lease in self.by_client.values_mut() {
            let moved: Vec<String> = lease
                .paths
                .iter()
                .filter(|p| is_under(p, src))
                .cloned()
                .collect();
            for p in moved {
                lease.paths.remove(&p);
                lease.paths.insert(format!("{dst}{}", &p[src.len()..]));
            }
        }
        for r in self.recovering.values_mut() {
            if is_under(&r.path, src) {
                r.path = format!("{dst}{}", &r.path[src.len()..]);
            }
        }
    }

    /// Follows the delete of `path` and everything under it.
    pub fn deleted(&mut self, path: &str) {
        for lease in self.by_client.values_mut() {
            lease.paths.retain(|p| !is_under(p, path));
        }
        self.by_client.retain(|_, l| !l.paths.is_empty());
    }
}

impl Namesystem {
    pub fn renew_lease(&self, client: &str) {
        let now = self.clock.now();
        self.meta.lock().leases.renew(client, now);
    }

    /// Recovers the files of writers whose lease expired.
    pub fn check_leases(&self) {
        let hard = Duration::from_millis(self.config.lease_hard_limit_ms);
        let mut st = self.meta.lock();
        if st.safe_mode.is_some() {
            return;
        }
        let now = self.clock.now();
        let expired: Vec<(String, Vec<String>)> = st
            .leases
            .by_client
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.renewed) > hard)
            .map(|(c, l)| (c.clone(), l.paths.iter().cloned().collect()))
            .collect();
        for (client, paths) in expired {
            if let Some(l) = st.leases.by_client.get_mut(&client) {
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

    fn recover_lease(&self, st: &mut Metadata, client: &str, path: &str) -> NnResult<()> {
        let (_, f) = st.ns.file(path)?;
        let last = f.last_block().map(|m| (m.id, m.gen, m.len, m.committed));
        tracing::info!(%path, %client, "lease expired; recovering the file");
        let Some((block, gen, len, false)) = last else {
            // No block, or the last one's length is final: nothing to agree on.
            self.log(
                st,
                Edit::Close {
                    path: path.into(),
                    last_len: None,
                    drop_last: false,
                    mtime: now_ms(),
                },
            )?;
            st.leases.release_path(client, path);
            return Ok(());
        };
        let holders: Vec<NodeIdx> = st
            .blocks
            .expected
            .get(&block)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|&n| st.dns.liveness(n) == Liveness::Live)
            .collect();
        let Some(&primary) = holders.first() else {
            // No live node holds any byte of it: nothing acknowledged can be saved. A block
            // reopened for append keeps the length it was closed with (its replicas may come
            // back); a new one goes.
            self.log(
                st,
                Edit::Close {
                    path: path.into(),
                    last_len: (len > 0).then_some(len),
                    drop_last: len == 0,
                    mtime: now_ms(),
                },
            )?;
            st.leases.release_path(client, path);
            return Ok(());
        };
        let new_gen = st.ns.next_gen;
        self.log(st, Edit::GenStamp { gen: new_gen })?;
        st.leases.recovering.insert(
            block,
            Recovery {
                path: path.into(),
                gen: new_gen,
            },
        );
        st.dns.get_mut(primary).commands.recover.push(Recover {
            block,
            gen,
            len,
            new_gen,
            holders,
        });
        Ok(())
    }
}
