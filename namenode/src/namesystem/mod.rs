//! The namesystem: the namespace, the datanode table, the leases and the block manager behind
//! one lock, and the edit/apply/journal glue every mutation goes through. Mutations are applied
//! in memory and appended to the journal under the lock; callers wait for durability after
//! releasing it, so concurrent mutations share one fsync (group commit).
//!
//! The operations live beside this file, one concern each: [`client`] (namespace mutations),
//! [`queries`] (reads, fsck, the cluster report), [`reports`] (the datanode protocol and dead
//! nodes), [`replication`] (the monitor), [`decommission`] (include/exclude lists, taking
//! datanodes out of service), [`racks`] (topology changes), [`balancer`] (replica moves),
//! [`leases`] (expiry and recovery), [`safe_mode`], [`quotas`] (setting them, and the checks
//! before an edit), [`checkpoint`], [`snapshots`], [`append`] (reopening a file), [`trash`]
//! (the emptier), and [`blocks`] (the block manager: where every replica is).

mod append;
mod balancer;
mod blocks;
mod checkpoint;
mod client;
mod decommission;
mod leases;
#[cfg(test)]
mod permission_tests;
mod queries;
mod quotas;
mod racks;
mod replication;
mod reports;
mod safe_mode;
mod snapshots;
#[cfg(test)]
mod tests;
mod trash;

pub use append::AppendFrom;
pub use client::{LastBlock, LocatedBlock};
pub use queries::{
    BlockHealth, ClusterReport, ContentSummary, FileInfo, FsckReport, Located, NodeReport,
    ReplicaHealth,
};
pub use quotas::{QuotaChange, QuotaInfo};
pub use reports::{BadReplica, ReportDiff, ReportedReplica};
pub use safe_mode::{SafeModeAction, SafeModeStatus};
pub use snapshots::SnapshottableDir;

use crate::datanodes::Datanodes;
use crate::error::{NnError, NnResult};
use crate::namespace::{encode, ApplyEffect, Edit, Kind, Namespace};
use crate::permission::Subject;
use blocks::BlockManager;
use checkpoint::CheckpointMark;
use common::auth::Identity;
use common::clock::SharedClock;
use common::config::NamenodeConfig;
use common::journal::{Commit, Journal};
use common::topology::Topology;
use leases::Leases;
use parking_lot::Mutex;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The namenode's metadata: everything the namesystem lock guards.
#[derive(Debug)]
struct Metadata {
    ns: Namespace,
    dns: Datanodes,
    leases: Leases,
    blocks: BlockManager,
    /// Why mutations are refused, while in safe mode.
    safe_mode: Option<String>,
    /// The administrator who entered safe mode by hand: it stays on until they leave it.
    safe_mode_by: Option<String>,
    checkpoint: CheckpointMark,
    /// Who may register and who must leave.
    admin: decommission::AdminLists,
}

pub struct Namesystem {
    pub config: NamenodeConfig,
    /// The OS user the namenode runs as: a superuser, and the owner of a new namespace's root.
    nn_user: String,
    topology: Topology,
    clock: SharedClock,
    meta: Mutex<Metadata>,
    journal: Journal,
}

/// Wall-clock milliseconds, for modification times (not for decisions: those use the clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Namesystem {
    /// Loads the last checkpoint, replays the edit log and starts the journal. Every decision
    /// about time (liveness, lease expiry, copy timeouts, checkpoint period) asks `clock`.
    pub fn open(
        config: NamenodeConfig,
        topology: Topology,
        clock: SharedClock,
    ) -> NnResult<Namesystem> {
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
        let nn_user = common::user::current();
        let (image_txid, mut ns) = match common::journal::load_latest_image(&dir)? {
            Some((txid, image)) => (txid, Namespace::from_image(&image)?),
            // A new namespace: the root is the namenode user's, group supergroup, 0755, as
            // HDFS formats it. Every image records the root, so this holds from then on.
            None => (
                0,
                Namespace::with_root(&nn_user, &config.security.supergroup),
            ),
        };
        let mut replayed = 0u64;
        let last = Journal::replay(&dir, image_txid, |txid, payload| {
            let edit: Edit = postcard::from_bytes(payload).map_err(|e| common::Error::Corrupt {
                path: dir.clone(),
                message: format!("edit {txid} does not decode: {e}"),
            })?;
            ns.apply_at(&edit, txid)
                .map_err(|e| common::Error::Corrupt {
                    path: dir.clone(),
                    message: format!("edit {txid} ({edit:?}) cannot be applied: {e}"),
                })?;
            replayed += 1;
            Ok(())
        })?;
        // Quota usage is cached, not journaled: count it once from the loaded tree.
        ns.recompute_quotas()?;
        tracing::info!(image_txid, replayed, last_txid = last, "namespace loaded");
        let journal = Journal::start_with_sync_delay(
            &dir,
            last,
            Duration::from_millis(config.test_edit_sync_delay_ms),
        )?;
        let now = clock.now();
        let mut leases = Leases::default();
        ns.walk("/", |path, inode| {
            if let Kind::File(f) = &inode.kind {
                if let Some(c) = ns.client_of(f) {
                    leases.add_path(c, path, now);
                }
            }
            Ok(())
        })?;
        let dns = Datanodes::new(
            Duration::from_millis(config.stale_after_ms),
            Duration::from_millis(config.dead_after_ms),
            clock.clone(),
        );
        let admin = decommission::AdminLists::open(&config)?;
        let meta = Metadata {
            ns,
            dns,
            leases,
            blocks: BlockManager::default(),
            safe_mode: Some("waiting for block reports".into()),
            safe_mode_by: None,
            checkpoint: CheckpointMark {
                txid: last,
                at: now,
            },
            admin,
        };
        Ok(Namesystem {
            config,
            nn_user,
            topology,
            clock,
            meta: Mutex::new(meta),
            journal,
        })
    }

    /// Whom permission checks are made for, from the caller's verified identity: the
    /// namenode's own user, members of the supergroup and daemons are superusers; in insecure
    /// mode everyone passes.
    pub fn subject(&self, id: &Identity) -> Subject {
        let sec = &self.config.security;
        Subject::of(id, &self.nn_user, &sec.supergroup, sec.insecure)
    }

    pub fn meta_dir(&self) -> &Path {
        &self.config.meta_dir
    }

    /// Waits until every edit logged so far is durable. Called after an answer was read from
    /// the namespace (even "already exists" or "not found"): the state it reports may come from
    /// another call's edit that is still waiting for its sync, and a crash before that sync
    /// would take back what the answer said. Free when nothing is waiting.
    pub async fn settled(&self) -> NnResult<()> {
        match self.journal.durable_through(self.journal.last_txid()) {
            Some(c) => c.durable().await.map_err(NnError::Journal),
            None => Ok(()),
        }
    }

    /// Applies an edit, follows up its effects and journals it.
    fn log(&self, st: &mut Metadata, edit: Edit) -> NnResult<Commit> {
        let payload = encode(&edit)?;
        // Every append happens under the lock, so the edit's txid is the next one; replay
        // gives it the same (a created file's id is its Create edit's txid).
        let txid = self.journal.last_txid() + 1;
        let effect = st.ns.apply_at(&edit, txid)?;
        st.follow_up(effect);
        let (logged, commit) = self.journal.append(payload);
        if logged != txid {
            tracing::error!(
                logged,
                applied = txid,
                "internal error (this is a bug): an edit-log append outside the namesystem lock"
            );
        }
        Ok(commit)
    }
}

impl Metadata {
    /// What the block manager must do after an edit: delete the replicas of removed blocks,
    /// forget replicas a new stamp made stale, check the replication of closed blocks.
    fn follow_up(&mut self, effect: ApplyEffect) {
        for meta in effect.removed_blocks {
            self.blocks.forget_block(&mut self.dns, meta);
        }
        if let Some(b) = effect.restamped {
            self.blocks.forget_stale(b);
        }
        self.blocks.needs_check(effect.closed_blocks);
    }
}
