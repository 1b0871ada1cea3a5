//! `mrctl fs appendToFile LOCAL... DST` (HDFS's `-appendToFile`): appends local files, or stdin
//! for `-`, to a DFS file, creating it when missing.

use anyhow::Context;
use client::{CreateOptions, DfsClient};
use std::io::Read;

/// Appends every source, in order, to `dst`.
pub fn append_to_file(dfs: &DfsClient, sources: &[String], dst: &str) -> anyhow::Result<()> {
    // Open every local file first: a missing one fails before the DFS file changes.
    let mut inputs: Vec<(String, Box<dyn Read>)> = Vec::new();
    for s in sources {
        let input: Box<dyn Read> = if s == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(s).with_context(|| format!("{s}: cannot read"))?)
        };
        inputs.push((s.clone(), input));
    }
    let mut w = if dfs.exists(dst)? {
        dfs.append(dst)?
    } else {
        dfs.create(dst, CreateOptions::default())?
    };
    for (name, mut input) in inputs {
        std::io::copy(&mut input, &mut w).with_context(|| format!("appending {name} to {dst}"))?;
    }
    w.close()?;
    Ok(())
}
