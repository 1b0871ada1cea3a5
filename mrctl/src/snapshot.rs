//! `mrctl fs snapshot ...` (create, delete, rename, list, diff) and `mrctl admin
//! allow-snapshot|disallow-snapshot`, as HDFS's `hdfs dfs -createSnapshot`, `lsSnapshottableDir`,
//! `snapshotDiff` and `hdfs dfsadmin -allowSnapshot`.

use clap::Subcommand;
use client::DfsClient;
use std::io::Write;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SnapshotCmd {
    /// Takes a snapshot of DIR (its owner or a superuser); NAME defaults to
    /// s<yyyyMMdd-HHmmss.SSS>. Read it at DIR/.snapshot/NAME.
    Create { dir: String, name: Option<String> },
    /// Deletes snapshot NAME of DIR; blocks only it held are freed.
    Delete { dir: String, name: String },
    /// Renames snapshot OLD of DIR to NEW.
    Rename {
        dir: String,
        old: String,
        new: String,
    },
    /// The snapshottable directories you own (every one, for a superuser).
    List,
    /// What changed under DIR from snapshot FROM to snapshot TO ("." is the current state):
    /// `+` created, `-` deleted, `M` modified, `R` renamed.
    Diff {
        dir: String,
        from: String,
        to: String,
    },
}

pub fn run(dfs: &DfsClient, cmd: SnapshotCmd, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCmd::Create { dir, name } => {
            let path = dfs.create_snapshot(&dir, name.as_deref())?;
            writeln!(out, "Created snapshot {path}")?;
        }
        SnapshotCmd::Delete { dir, name } => dfs.delete_snapshot(&dir, &name)?,
        SnapshotCmd::Rename { dir, old, new } => dfs.rename_snapshot(&dir, &old, &new)?,
        SnapshotCmd::List => {
            for d in dfs.snapshottable_dirs()? {
                writeln!(
                    out,
                    "{} {} {} {} snapshot(s) {}",
                    crate::mode::mode_string(true, d.mode),
                    d.owner,
                    d.group,
                    d.snapshots,
                    d.path
                )?;
            }
        }
        SnapshotCmd::Diff { dir, from, to } => {
            let entries = dfs.snapshot_diff(&dir, &from, &to)?;
            let name = |s: &str| {
                if s == "." || s.is_empty() {
                    "current directory".to_string()
                } else {
                    format!("snapshot {s}")
                }
            };
            writeln!(
                out,
                "Difference between {} and {} under directory {dir}:",
                name(&from),
                name(&to)
            )?;
            for e in entries {
                writeln!(out, "{e}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mrctl admin allow-snapshot DIR` / `disallow-snapshot DIR` (superuser).
pub fn allow(dfs: &DfsClient, dir: &str, allow: bool) -> anyhow::Result<ExitCode> {
    if allow {
        dfs.allow_snapshot(dir)?;
        outln!("Allowing snapshot on {dir} succeeded");
    } else {
        dfs.disallow_snapshot(dir)?;
        outln!("Disallowing snapshot on {dir} succeeded");
    }
    Ok(ExitCode::SUCCESS)
}
