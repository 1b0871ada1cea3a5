//! The OS user each job's tasks run as. A worker running as root lends every job a uid of its
//! own from a configured range (for as long as the job has files on this node), so a task can
//! read neither the worker's cluster secret nor another job's spills and map outputs; a worker
//! that is not root runs tasks as itself, and says at start that tasks can then read what it can.

use common::config::WorkerConfig;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The uids lent to jobs.
#[derive(Debug)]
pub struct TaskUsers {
    /// `[first, first + count)`, when tasks are isolated.
    range: Option<(u32, u32)>,
    lent: Mutex<HashMap<String, u32>>,
}

impl TaskUsers {
    /// Isolation is on when the worker runs as root and the configured range is not empty.
    pub fn new(config: &WorkerConfig) -> TaskUsers {
        // SAFETY: geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        let range = (root && config.task_uid_count > 0)
            .then_some((config.task_uid_first, config.task_uid_count));
        TaskUsers::with_range(range)
    }

    fn with_range(range: Option<(u32, u32)>) -> TaskUsers {
        TaskUsers {
            range,
            lent: Mutex::new(HashMap::new()),
        }
    }

    pub fn isolated(&self) -> bool {
        self.range.is_some()
    }

    /// The uid `job`'s tasks run as (the lowest free one on first use); `None` without
    /// isolation.
    pub fn uid_for(&self, job: &str) -> Result<Option<u32>, String> {
        let Some((first, count)) = self.range else {
            return Ok(None);
        };
        let mut lent = self.lent.lock();
        if let Some(uid) = lent.get(job) {
            return Ok(Some(*uid));
        }
        let used: std::collections::HashSet<u32> = lent.values().copied().collect();
        let uid = (first..first.saturating_add(count))
            .find(|u| !used.contains(u))
            .ok_or_else(|| {
                format!(
                    "all {count} task uids from {first} are lent to running jobs: raise \
                     [worker] task_uid_count"
                )
            })?;
        lent.insert(job.to_string(), uid);
        Ok(Some(uid))
    }

    /// Takes back `job`'s uid once its files on this node are gone.
    pub fn release(&self, job: &str) {
        self.lent.lock().remove(job);
    }

    /// Hands `dir` to `uid`, readable by it (and root) only.
    pub fn give(dir: &Path, uid: u32) -> Result<(), String> {
        std::os::unix::fs::chown(dir, Some(uid), Some(uid))
            .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| format!("handing {} to task uid {uid}: {e}", dir.display()))
    }

    /// Makes the worker's local root reachable by task uids: the root and its `jobs` and
    /// `binaries` folders searchable by all (`jobs/<job>` folders stay private to their job),
    /// and refuses a root with an ancestor that others cannot search.
    pub fn prepare_root(&self, root: &Path) -> Result<(), String> {
        if !self.isolated() {
            tracing::warn!(
                "the worker is not root: tasks run as the worker's own user and can read what it \
                 can, its cluster secret included; run the worker as root so each job's tasks run \
                 under a uid of their own"
            );
            return Ok(());
        }
        let root = std::fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
        for dir in root.ancestors().skip(1) {
            let mode = std::fs::metadata(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .permissions()
                .mode();
            if mode & 0o001 == 0 {
                return Err(format!(
                    "{} (an ancestor of the worker's local_dir) is not searchable by others (mode \
                     {:o}): tasks run under uids of their own and must reach their folders; run \
                     `chmod o+x {}` or move local_dir",
                    dir.display(),
                    mode & 0o7777,
                    dir.display()
                ));
            }
        }
        for (dir, mode) in [
            (root.clone(), 0o711),
            (root.join("jobs"), 0o711),
            (root.join("binaries"), 0o755),
        ] {
            std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_running_job_gets_its_own_uid_and_a_released_one_is_reused() {
        let users = TaskUsers::with_range(Some((500, 2)));
        assert_eq!(users.uid_for("a"), Ok(Some(500)));
        assert_eq!(users.uid_for("a"), Ok(Some(500)));
        assert_eq!(users.uid_for("b"), Ok(Some(501)));
        let full = users.uid_for("c").expect_err("range exhausted");
        assert!(full.contains("task_uid_count"), "{full}");
        users.release("a");
        assert_eq!(users.uid_for("c"), Ok(Some(500)));
    }

    #[test]
    fn without_isolation_tasks_keep_the_workers_uid() {
        let users = TaskUsers::with_range(None);
        assert_eq!(users.uid_for("a"), Ok(None));
        assert!(!users.isolated());
    }
}
