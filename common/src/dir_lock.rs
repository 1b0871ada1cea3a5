//! The lock every daemon takes on each directory it owns (HDFS's `in_use.lock`): an exclusive
//! `flock` on `DIR/in_use.lock`, holding the owner's pid, kept for the life of the process. A
//! second daemon pointed at the same directory refuses to start instead of corrupting it. The
//! kernel drops a `flock` when its holder dies, so the file a killed daemon leaves behind does
//! not block the next one. A killed daemon's threads take a moment to exit after its main
//! thread is gone (a zombie), and the lock goes with the last of them: while the holder is
//! dead or a zombie, the next daemon waits for the lock (a few seconds at most) instead of
//! refusing.

use crate::error::{Error, IoContext, Result};
use rustix::fs::{flock, FlockOperation};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for the lock of a holder that is exiting.
const EXITING_HOLDER_WAIT: Duration = Duration::from_secs(10);

/// The lock file's name inside each locked directory.
pub const LOCK_FILE: &str = "in_use.lock";

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    // Never read: holding the open file is what holds the lock.
    _file: File,
}

impl DirLock {
    /// Creates `dir` if missing and locks it, or says which pid holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        std::fs::create_dir_all(dir).at(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        let deadline = Instant::now() + EXITING_HOLDER_WAIT;
        while let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if e != rustix::io::Errno::WOULDBLOCK {
                return Err(std::io::Error::from(e)).at(&path);
            }
            let mut holder = String::new();
            // The holder's pid, as it wrote it; a lock taken a moment ago may not have it yet.
            file.rewind().at(&path)?;
            let _ = file.read_to_string(&mut holder);
            let pid = match holder.trim() {
                "" => "unknown".to_string(),
                p => p.to_string(),
            };
            if exiting(&pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            return Err(Error::DirInUse {
                dir: dir.to_path_buf(),
                pid,
            });
        }
        file.set_len(0).at(&path)?;
        file.rewind().at(&path)?;
        writeln!(file, "{}", std::process::id()).at(&path)?;
        file.sync_all().at(&path)?;
        Ok(DirLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// Locks every directory in `dirs`, all or none.
    pub fn acquire_all<'a>(dirs: impl IntoIterator<Item = &'a PathBuf>) -> Result<Vec<DirLock>> {
        dirs.into_iter().map(|d| DirLock::acquire(d)).collect()
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether process `pid` is gone or a zombie whose other threads are still exiting (Linux's
/// `/proc`; elsewhere nothing is known, and the lock is refused at once).
fn exiting(pid: &str) -> bool {
    if pid.parse::<u32>().is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        Err(_) => Path::new("/proc/self").exists(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_dropped_lock_frees_the_dir() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("meta");
        let first = DirLock::acquire(&dir).expect("first lock");
        assert_eq!(first.dir(), dir);
        // flock locks belong to the open file, so a second open in this process conflicts.
        let e = DirLock::acquire(&dir).expect_err("second lock").to_string();
        let pid = std::process::id().to_string();
        assert!(e.contains(&format!("is in use by pid {pid}")), "{e}");
        assert!(e.contains("in_use.lock"), "{e}");
        drop(first);
        // The stale file stays behind; it does not block.
        assert!(dir.join(LOCK_FILE).exists());
        DirLock::acquire(&dir).expect("relocked after release");
    }
}
