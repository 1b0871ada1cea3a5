//! `mrctl fs ...`: the file verbs (put, get, cat, ls, mkdir, rm, mv, stat, setrep, du, chmod,
//! chown, chgrp, appendToFile, expunge), with a progress bar on a terminal.

use crate::admin;
use crate::mode::{mode_string, ModeSpec};
use crate::printable::escape;
use anyhow::{bail, Context};
use clap::Subcommand;
use client::{CreateOptions, DfsClient};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Fs {
    /// Copies a local file (or `-` for stdin) into the DFS.
    Put {
        src: String,
        dst: String,
        /// Replicas per block (default: the cluster's).
        #[arg(short, long, default_value_t = 0)]
        replication: u32,
        /// Block size in bytes (default: the cluster's).
        #[arg(short, long, default_value_t = 0)]
        block_size: u64,
    },
    /// Copies a DFS file, or a directory recursively, to the local disk (`-`: stdout).
    Get { src: String, dst: String },
    /// Prints files to stdout.
    Cat { paths: Vec<String> },
    /// Lists a directory: mode, replication, owner, group, length, time, path.
    Ls {
        path: String,
        /// Recurse into subdirectories.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// One JSON object per entry, a line each, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Creates a directory and its missing parents.
    Mkdir { paths: Vec<String> },
    /// Moves files (directories with -r) to your trash, /user/NAME/.Trash/Current, emptied
    /// after the namenode's trash_interval_ms; deletes them at once with -skipTrash, when the
    /// trash is off, or when they are in a trash.
    Rm {
        paths: Vec<String>,
        /// Delete directories and everything under them.
        #[arg(short, long)]
        recursive: bool,
        /// Delete at once instead of moving to the trash.
        #[arg(long = "skipTrash")]
        skip_trash: bool,
    },
    /// Appends local files (`-`: stdin) to a DFS file, creating it if missing: SRC... DST.
    #[command(name = "appendToFile")]
    AppendToFile {
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Checkpoints your trash and deletes its checkpoints older than the trash interval.
    Expunge {
        /// Delete every checkpoint now, whatever its age.
        #[arg(long)]
        immediate: bool,
    },
    /// Renames or moves a file or directory.
    Mv { src: String, dst: String },
    /// Shows a file's or directory's attributes.
    Stat { path: String },
    /// Changes a file's replication (directories: every file under them).
    Setrep { replication: u32, path: String },
    /// Space used under each entry of a directory (or in total with -s).
    Du {
        path: String,
        #[arg(short, long)]
        summary: bool,
    },
    /// Changes permission bits: octal (640, 1777) or symbolic (u+x,go-w, a=rX, +t). Only the
    /// owner or the superuser may.
    Chmod {
        /// Every entry under a directory too.
        #[arg(short = 'R', long)]
        recursive: bool,
        mode: ModeSpec,
        path: String,
    },
    /// Changes the owner (the superuser only) and optionally the group: USER[:GROUP].
    Chown {
        #[arg(short = 'R', long)]
        recursive: bool,
        owner: String,
        path: String,
    },
    /// Changes the group: the owner may pick one of their own groups, the superuser any.
    Chgrp {
        #[arg(short = 'R', long)]
        recursive: bool,
        group: String,
        path: String,
    },
    /// Snapshots: create, delete, rename, list, diff.
    #[command(subcommand)]
    Snapshot(crate::snapshot::SnapshotCmd),
    /// Checks the health of every block under a path.
    Fsck {
        path: String,
        /// One JSON object for scripts.
        #[arg(long)]
        json: bool,
        /// List every block with its replicas.
        #[arg(long)]
        blocks: bool,
    },
}

pub fn run(dfs: &DfsClient, cmd: Fs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        Fs::Put {
            src,
            dst,
            replication,
            block_size,
        } => put(
            dfs,
            &src,
            &dst,
            CreateOptions {
                replication,
                block_size,
                create_parent: true,
            },
        )?,
        Fs::Get { src, dst } => {
            if dst == "-" {
                copy_stream(dfs.open(&src)?, out, &ProgressBar::hidden())?;
            } else {
                get(dfs, &src, Path::new(&dst))?;
            }
        }
        Fs::Cat { paths } => {
            for p in paths {
                copy_stream(dfs.open(&p)?, &mut out, &ProgressBar::hidden())?;
            }
        }
        Fs::Ls {
            path,
            recursive,
            json,
        } => ls(dfs, &path, recursive, json, &mut out)?,
        Fs::Mkdir { paths } => {
            for p in paths {
                dfs.mkdirs(&p)?;
            }
        }
        Fs::Rm {
            paths,
            recursive,
            skip_trash,
        } => crate::trash::rm(dfs, &paths, recursive, skip_trash, &mut out)?,
        Fs::AppendToFile { mut paths } => {
            let dst = paths.pop().unwrap_or_default();
            crate::append::append_to_file(dfs, &paths, &dst)?;
        }
        Fs::Expunge { immediate } => crate::trash::expunge(dfs, immediate, &mut out)?,
        Fs::Mv { src, dst } => dfs.rename(&src, &dst)?,
        Fs::Stat { path } => {
            let s = dfs.stat(&path)?;
            writeln!(out, "path: {}", escape(&s.path))?;
            writeln!(out, "type: {}", if s.is_dir { "directory" } else { "file" })?;
            writeln!(out, "length: {}", s.length)?;
            writeln!(out, "replication: {}", s.replication)?;
            writeln!(out, "block_size: {}", s.block_size)?;
            writeln!(out, "owner: {}", escape(&s.owner))?;
            writeln!(out, "group: {}", escape(&s.group))?;
            writeln!(
                out,
                "mode: {:o} ({})",
                s.mode,
                mode_string(s.is_dir, s.mode)
            )?;
            writeln!(out, "modified: {} UTC", when(s.mtime_ms))?;
            writeln!(out, "under_construction: {}", s.under_construction)?;
        }
        Fs::Setrep { replication, path } => setrep(dfs, &path, replication)?,
        Fs::Du { path, summary } => {
            let st = dfs.stat(&path)?;
            let entries = if summary || !st.is_dir {
                vec![st.path]
            } else {
                dfs.list(&path)?.into_iter().map(|e| e.path).collect()
            };
            for p in entries {
                let c = dfs.content_summary(&p)?;
                writeln!(
                    out,
                    "{:>14} {:>14} {}",
                    c.length,
                    c.space_consumed,
                    escape(&p)
                )?;
            }
        }
        Fs::Chmod {
            recursive,
            mode,
            path,
        } => each_entry(dfs, &path, recursive, |e| {
            dfs.set_permission(e.path, mode.apply(e.mode, e.is_dir))
        })?,
        Fs::Chown {
            recursive,
            owner,
            path,
        } => {
            let (user, group) = match owner.split_once(':') {
                Some((u, g)) => (u, Some(g).filter(|g| !g.is_empty())),
                None => (owner.as_str(), None),
            };
            let user = Some(user).filter(|u| !u.is_empty());
            if user.is_none() && group.is_none() {
                bail!("chown: give USER, USER:GROUP or :GROUP (got '{owner}')");
            }
            each_entry(dfs, &path, recursive, |e| {
                dfs.set_owner(e.path, user, group)
            })?
        }
        Fs::Chgrp {
            recursive,
            group,
            path,
        } => each_entry(dfs, &path, recursive, |e| {
            dfs.set_owner(e.path, None, Some(&group))
        })?,
        Fs::Fsck { path, json, blocks } => return admin::fsck(dfs, &path, json, blocks, &mut out),
        Fs::Snapshot(cmd) => return crate::snapshot::run(dfs, cmd, &mut out),
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}

fn base_name(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

fn copy_stream(mut from: impl Read, mut to: impl Write, pb: &ProgressBar) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
        pb.inc(n as u64);
    }
    to.flush()?;
    Ok(total)
}

fn put(dfs: &DfsClient, src: &str, dst: &str, opts: CreateOptions) -> anyhow::Result<()> {
    let mut dst = dst.to_string();
    if let Ok(st) = dfs.stat(&dst) {
        if st.is_dir && src != "-" {
            dst = join(&dst, base_name(src));
        }
    }
    let (input, len): (Box<dyn Read>, u64) = if src == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = std::fs::File::open(src).with_context(|| src.to_string())?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), len)
    };
    let pb = progress(len, &dst);
    let mut w = dfs.create(&dst, opts)?;
    copy_stream(input, &mut w, &pb).with_context(|| format!("{dst}: writing"))?;
    w.close()?;
    pb.finish_and_clear();
    Ok(())
}

fn get(dfs: &DfsClient, src: &str, dst: &Path) -> anyhow::Result<()> {
    let st = dfs.stat(src)?;
    let target = if dst.is_dir() {
        dst.join(base_name(src))
    } else {
        dst.to_path_buf()
    };
    if st.is_dir {
        std::fs::create_dir_all(&target).with_context(|| target.display().to_string())?;
        for e in dfs.list(src)? {
            get(dfs, &e.path, &target.join(base_name(&e.path)))?;
        }
        return Ok(());
    }
    if target.exists() {
        bail!("{}: already exists (remove it first)", target.display());
    }
    let r = dfs.open(src)?;
    let pb = progress(r.len(), src);
    let tmp = target.with_extension("mrctl-partial");
    let f = std::fs::File::create(&tmp).with_context(|| tmp.display().to_string())?;
    copy_stream(r, std::io::BufWriter::new(f), &pb).with_context(|| src.to_string())?;
    std::fs::rename(&tmp, &target).with_context(|| target.display().to_string())?;
    pb.finish_and_clear();
    Ok(())
}

/// What `chmod`, `chown` and `chgrp` need of an entry.
struct Entry<'a> {
    path: &'a str,
    mode: u32,
    is_dir: bool,
}

/// Calls `f` on `path`'s entry, and with `recursive` on every entry under it, parents first
/// (so a chmod that opens a directory lets the walk go on into it). Its own stack: a tree
/// thousands of levels deep cannot overflow ours.
fn each_entry(
    dfs: &DfsClient,
    path: &str,
    recursive: bool,
    mut f: impl FnMut(Entry) -> Result<(), client::ClientError>,
) -> anyhow::Result<()> {
    let mut todo = vec![dfs.stat(path)?];
    while let Some(st) = todo.pop() {
        f(Entry {
            path: &st.path,
            mode: st.mode,
            is_dir: st.is_dir,
        })?;
        if recursive && st.is_dir {
            todo.extend(dfs.list(&st.path)?.into_iter().rev());
        }
    }
    Ok(())
}

/// `yyyy-mm-dd hh:mm` (UTC), as `hdfs dfs -ls` shows times.
fn when(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.replace('T', " ").chars().take(16).collect()
}

/// Lists `path`; with `recursive`, each directory's entries follow it, depth first. The walk
/// keeps its own stack of listings: a tree thousands of levels deep cannot overflow ours.
fn ls(
    dfs: &DfsClient,
    path: &str,
    recursive: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut stack = vec![dfs.list(path)?.into_iter()];
    while let Some(level) = stack.last_mut() {
        let Some(e) = level.next() else {
            stack.pop();
            continue;
        };
        if json {
            let v = serde_json::json!({
                "path": e.path,
                "is_dir": e.is_dir,
                "mode": format!("{:o}", e.mode),
                "permission": mode_string(e.is_dir, e.mode),
                "owner": e.owner,
                "group": e.group,
                "length": e.length,
                "replication": e.replication,
                "block_size": e.block_size,
                "mtime_ms": e.mtime_ms,
            });
            writeln!(out, "{v}")?;
            if recursive && e.is_dir {
                stack.push(dfs.list(&e.path)?.into_iter());
            }
            continue;
        }
        let repl = if e.is_dir {
            "-".into()
        } else {
            e.replication.to_string()
        };
        writeln!(
            out,
            "{} {:>3} {:<8} {:<10} {:>12} {} {}",
            mode_string(e.is_dir, e.mode),
            repl,
            escape(&e.owner),
            escape(&e.group),
            e.length,
            when(e.mtime_ms),
            escape(&e.path)
        )?;
        if recursive && e.is_dir {
            stack.push(dfs.list(&e.path)?.into_iter());
        }
    }
    Ok(())
}

/// Sets the replication of a file, or of every file under a directory (walked with its own
/// stack, however deep).
fn setrep(dfs: &DfsClient, path: &str, replication: u32) -> anyhow::Result<()> {
    let mut todo = vec![dfs.stat(path)?];
    while let Some(st) = todo.pop() {
        if st.is_dir {
            todo.extend(dfs.list(&st.path)?.into_iter().rev());
            continue;
        }
        dfs.set_replication(&st.path, replication)?;
        println!("replication of {} set to {replication}", escape(&st.path));
    }
    Ok(())
}
