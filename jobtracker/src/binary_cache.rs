//! The DFS cache of job binaries (`/.mr/binaries/<sha256>`): every submitted job marks its
//! binary used, and a binary that no job has used for `binary_cache_ttl_ms` (default 7 days)
//! and that no unfinished job needs is removed, so builds submitted once do not stay at high
//! replication forever. Last uses come from the job history, so they survive a restart; a
//! binary the history never saw counts from its upload time (its DFS mtime).

use crate::error::{JtError, JtResult};
use crate::service::JobTracker;
use client::jobs::BINARIES_DIR;
use client::{ClientError, DfsClient};
use common::jobs::now_ms;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Sweeps the cache forever, every quarter of the TTL (at least every 10 minutes).
pub async fn run(jt: Arc<JobTracker>) {
    // The folder first (again each start, in case an operator changed it), once the namenode
    // answers.
    loop {
        let dfs = jt.dfs.clone();
        match tokio::task::spawn_blocking(move || open(&dfs)).await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "making the job binary cache folder; retrying")
            }
            Err(e) => tracing::error!(error = %e, "making the job binary cache folder panicked"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ttl_ms = jt.config.binary_cache_ttl_ms;
    let period = Duration::from_millis((ttl_ms / 4).clamp(200, 600_000));
    loop {
        tokio::time::sleep(period).await;
        let jt = jt.clone();
        match tokio::task::spawn_blocking(move || sweep(&jt, ttl_ms)).await {
            Ok(Ok(removed)) => {
                for path in removed {
                    tracing::info!(binary = %path, "removed a job binary no job used for {ttl_ms} ms");
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "sweeping the job binary cache failed; trying again later")
            }
            Err(e) => tracing::error!(error = %e, "the job binary cache sweep panicked"),
        }
    }
}

/// Makes the cache a sticky folder every user may write to, as `/tmp`: anyone uploads a binary,
/// nobody removes or replaces another's (and workers check each binary's hash anyway).
fn open(dfs: &DfsClient) -> Result<(), ClientError> {
    dfs.mkdirs(BINARIES_DIR)?;
    dfs.set_permission(BINARIES_DIR, 0o1777)
}

/// One pass: lists the cache, decides under the lock, removes outside it. Returns what went.
fn sweep(jt: &JobTracker, ttl_ms: u64) -> JtResult<Vec<String>> {
    let cached = list(&jt.dfs).map_err(|e| JtError::dfs("listing the job binary cache", e))?;
    let expired = {
        let st = jt.state.lock();
        let needed: HashSet<String> = st.jobs.iter().map(|j| j.spec.binary.path.clone()).collect();
        st.binary_uses.expired(&cached, &needed, now_ms(), ttl_ms)
    };
    let mut removed = Vec::new();
    let mut failed = None;
    for path in expired {
        match jt.dfs.delete(&path, false) {
            Ok(()) | Err(ClientError::NotFound(_)) => removed.push(path),
            Err(e) => {
                failed = Some(JtError::dfs(format!("removing {path}"), e));
                break;
            }
        }
    }
    jt.state.lock().binary_uses.forget(&removed);
    match failed {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// When each binary (by DFS path) was last used by a submitted job, in ms since the epoch.
#[derive(Debug, Default)]
pub struct BinaryUses {
    last_used_ms: HashMap<String, u64>,
}

impl BinaryUses {
    /// Records a job submitted at `at_ms` with the binary at `path`.
    pub fn used(&mut self, path: &str, at_ms: u64) {
        let last = self.last_used_ms.entry(path.to_string()).or_default();
        *last = (*last).max(at_ms);
    }

    /// The cached binaries to remove now: unused for longer than `ttl_ms` (counting from the
    /// later of the last submit and the upload) and needed by no unfinished job.
    pub fn expired(
        &self,
        cached: &[CachedBinary],
        needed: &HashSet<String>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Vec<String> {
        cached
            .iter()
            .filter(|b| !needed.contains(&b.path))
            .filter(|b| {
                let last = self
                    .last_used_ms
                    .get(&b.path)
                    .copied()
                    .unwrap_or(0)
                    .max(b.uploaded_ms);
                now_ms.saturating_sub(last) > ttl_ms
            })
            .map(|b| b.path.clone())
            .collect()
    }

    /// Forgets binaries that were removed.
    pub fn forget(&mut self, paths: &[String]) {
        for p in paths {
            self.last_used_ms.remove(p);
        }
    }
}

/// A binary found in the DFS cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedBinary {
    pub path: String,
    pub uploaded_ms: u64,
}

/// Lists the cache; an absent cache directory is an empty one.
pub fn list(dfs: &DfsClient) -> Result<Vec<CachedBinary>, ClientError> {
    match dfs.list(BINARIES_DIR) {
        Ok(entries) => Ok(entries
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| CachedBinary {
                path: e.path,
                uploaded_ms: e.mtime_ms,
            })
            .collect()),
        Err(ClientError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    fn cached(path: &str, uploaded_ms: u64) -> CachedBinary {
        CachedBinary {
            path: path.into(),
            uploaded_ms,
        }
    }

    #[test]
    fn a_binary_unused_past_the_ttl_is_removed() {
        let mut uses = BinaryUses::default();
        uses.used("/b/old", DAY);
        uses.used("/b/recent", 9 * DAY);
        let all = [cached("/b/old", 0), cached("/b/recent", 0)];
        assert_eq!(
            uses.expired(&all, &HashSet::new(), 10 * DAY, 7 * DAY),
            vec!["/b/old".to_string()]
        );
    }

    #[test]
    fn the_latest_use_counts() {
        let mut uses = BinaryUses::default();
        uses.used("/b/x", 9 * DAY);
        uses.used("/b/x", DAY);
        assert!(uses
            .expired(&[cached("/b/x", 0)], &HashSet::new(), 10 * DAY, 7 * DAY)
            .is_empty());
    }

    #[test]
    fn a_fresh_upload_never_submitted_is_kept() {
        let uses = BinaryUses::default();
        let all = [cached("/b/new", 9 * DAY), cached("/b/stale", DAY)];
        assert_eq!(
            uses.expired(&all, &HashSet::new(), 10 * DAY, 7 * DAY),
            vec!["/b/stale".to_string()]
        );
    }

    #[test]
    fn a_binary_an_unfinished_job_needs_is_kept() {
        let mut uses = BinaryUses::default();
        uses.used("/b/long", 0);
        let needed: HashSet<String> = ["/b/long".to_string()].into();
        assert!(uses
            .expired(&[cached("/b/long", 0)], &needed, 30 * DAY, 7 * DAY)
            .is_empty());
    }
}
