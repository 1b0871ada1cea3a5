//! `mrctl fs rm` with the trash, and `mrctl fs expunge` (HDFS's `-rm` and `-expunge`): rm moves
//! to the caller's `/user/NAME/.Trash/Current` unless the trash is off, the path is in a trash,
//! or `-skipTrash` is given.

use crate::printable::escape;
use anyhow::bail;
use client::DfsClient;
use std::io::Write;

/// HDFS spells some flags with one dash and a word (`-skipTrash`, `-immediate`): read them as
/// the long flags they are.
pub fn hdfs_flags(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.map(|a| match a.to_str() {
        Some("-skipTrash") => "--skipTrash".into(),
        Some("-immediate") => "--immediate".into(),
        _ => a,
    })
    .collect()
}

/// Removes each path: to the trash, or at once.
pub fn rm(
    dfs: &DfsClient,
    paths: &[String],
    recursive: bool,
    skip_trash: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for p in paths {
        if !skip_trash {
            let st = dfs.stat(p)?;
            if st.is_dir && !recursive && st.children > 0 {
                bail!(
                    "{}: directory is not empty (delete it recursively)",
                    escape(p)
                );
            }
            if let Some(to) = dfs.move_to_trash(p)? {
                writeln!(out, "Moved: '{}' to trash at: {}", escape(p), escape(&to))?;
                continue;
            }
        }
        dfs.delete(p, recursive)?;
        writeln!(out, "Deleted {}", escape(p))?;
    }
    Ok(())
}

/// Checkpoints the caller's trash and deletes expired checkpoints (all with `immediate`).
pub fn expunge(dfs: &DfsClient, immediate: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let done = dfs.expunge(immediate)?;
    if let Some(c) = &done.created {
        writeln!(out, "Created trash checkpoint: {}", escape(c))?;
    }
    for d in &done.deleted {
        writeln!(out, "Deleted trash checkpoint: {}", escape(d))?;
    }
    Ok(())
}
