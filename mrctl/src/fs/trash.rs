//! `mrctl fs expunge` (HDFS's `-expunge`): checkpoints the caller's trash and deletes expired
//! checkpoints. (`rm` moves to the trash in [`super::namespace`].)

use crate::printable::escape;
use client::DfsClient;
use std::io::Write;

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
