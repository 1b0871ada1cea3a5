//! Crash-safe file helpers: a file is either its old or its new contents, never a mix.

use crate::error::{IoContext, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    fsync_parent(path)
}

/// Fsyncs the directory holding `path`, making a create, rename or delete in it durable.
pub fn fsync_parent(path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fsync_dir(dir)
}

/// Fsyncs a directory.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    let d = OpenOptions::new().read(true).open(dir).at(dir)?;
    d.sync_all().at(dir)
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn free_space(path: &Path) -> u64 {
    disk_stats(path).map(|s| s.available).unwrap_or(0)
}

/// The size of a file system, and what an unprivileged writer may still use of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskStats {
    pub total: u64,
    pub available: u64,
}

/// Total and free bytes of the file system holding `path`.
pub fn disk_stats(path: &Path) -> Option<DiskStats> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    #[allow(unsafe_code)]
    let st = unsafe { st.assume_init() };
    // The field types differ between platforms (u32 or u64): widen explicitly.
    #[allow(clippy::unnecessary_cast)]
    let (frsize, blocks, avail) = (st.f_frsize as u64, st.f_blocks as u64, st.f_bavail as u64);
    Some(DiskStats {
        total: blocks * frsize,
        available: avail * frsize,
    })
}
