//! Changing the namespace: `mkdir` (`-p`), `rm` (`-r`, `-f`), `mv`, `touchz`, `setrep`
//! (`-w`), and the walk `chmod`, `chown` and `chgrp` share.

use super::{base_name, expand_all, expand_one, join, stat_opt};
use crate::printable::escape;
use anyhow::bail;
use client::{ClientError, CreateOptions, DfsClient};
use proto::dfs::FileStatus;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often `setrep -w` looks at the replica counts.
const REPLICATION_POLL: Duration = Duration::from_millis(500);

/// `mkdir [-p] PATH...`: without `-p` the parent must exist and the path must not, as HDFS.
pub fn mkdir(dfs: &DfsClient, paths: &[String], parents: bool) -> anyhow::Result<()> {
    for arg in paths {
        let path = expand_one(dfs, arg)?;
        if parents {
            dfs.mkdirs(&path)?;
            continue;
        }
        if stat_opt(dfs, &path)?.is_some() {
            bail!("{}: File exists", escape(&path));
        }
        let parent = match path.rsplit_once('/') {
            Some(("", _)) | None => "/".to_string(),
            Some((p, _)) => p.to_string(),
        };
        match stat_opt(dfs, &parent)? {
            Some(p) if p.is_dir => dfs.mkdirs(&path)?,
            Some(_) => bail!(
                "{}: parent {} is not a directory",
                escape(&path),
                escape(&parent)
            ),
            None => bail!(
                "{}: No such file or directory (the parent {} is missing; -p creates it)",
                escape(&path),
                escape(&parent)
            ),
        }
    }
    Ok(())
}

/// `rm [-r] [-f] PATH...`: a directory needs `-r`; with `-f` a missing path is no error.
pub fn rm(
    dfs: &DfsClient,
    paths: &[String],
    recursive: bool,
    force: bool,
    skip_trash: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for arg in paths {
        let matched = match dfs.glob_paths(arg) {
            Ok(m) => m,
            Err(ClientError::NotFound(_)) if force => continue,
            Err(e) => return Err(e.into()),
        };
        for path in matched {
            let Some(st) = stat_opt(dfs, &path)? else {
                if force {
                    continue;
                }
                return Err(ClientError::NotFound(path).into());
            };
            if st.is_dir && !recursive {
                bail!("{}: Is a directory (use -r)", escape(&path));
            }
            if !skip_trash {
                if let Some(to) = dfs.move_to_trash(&path)? {
                    writeln!(
                        out,
                        "Moved: '{}' to trash at: {}",
                        escape(&path),
                        escape(&to)
                    )?;
                    continue;
                }
            }
            match dfs.delete(&path, recursive) {
                Ok(()) => writeln!(out, "Deleted {}", escape(&path))?,
                Err(ClientError::NotFound(_)) if force => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// `mv SRC... DST`: into `DST` when it is a directory (keeping each name), else renamed to it.
pub fn mv(dfs: &DfsClient, paths: &[String]) -> anyhow::Result<()> {
    let (srcs, dst) = paths.split_at(paths.len() - 1);
    let dst = expand_one(dfs, &dst[0])?;
    let srcs = expand_all(dfs, srcs)?;
    let into_dir = match stat_opt(dfs, &dst)? {
        Some(st) => st.is_dir,
        None => false,
    };
    if srcs.len() > 1 && !into_dir {
        bail!(
            "{}: not an existing directory (moving several sources)",
            escape(&dst)
        );
    }
    for src in srcs {
        let target = if into_dir {
            join(&dst, base_name(&src))
        } else {
            dst.clone()
        };
        if stat_opt(dfs, &target)?.is_some() {
            bail!("{}: File exists", escape(&target));
        }
        dfs.rename(&src, &target)?;
    }
    Ok(())
}

/// `touchz PATH...`: creates empty files; an existing one must be empty.
pub fn touchz(dfs: &DfsClient, paths: &[String]) -> anyhow::Result<()> {
    for arg in paths {
        let path = expand_one(dfs, arg)?;
        match stat_opt(dfs, &path)? {
            Some(st) if st.is_dir => bail!("{}: Is a directory", escape(&path)),
            Some(st) if st.length > 0 => bail!("{}: Not a zero-length file", escape(&path)),
            Some(_) => {}
            None => dfs.create(&path, CreateOptions::default())?.close()?,
        }
    }
    Ok(())
}

/// Sets the replication of files, or of every file under directories (walked with its own
/// stack, however deep). `wait`: `Some(deadline)` waits until every block of those files has
/// exactly that many replicas (without a deadline, as long as it takes).
pub fn setrep(
    dfs: &DfsClient,
    paths: &[String],
    replication: u32,
    wait: Option<Option<Duration>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in expand_all(dfs, paths)? {
        let mut todo = vec![dfs.stat(&path)?];
        while let Some(st) = todo.pop() {
            if st.is_dir {
                todo.extend(dfs.list(&st.path)?.into_iter().rev());
                continue;
            }
            dfs.set_replication(&st.path, replication)?;
            writeln!(
                out,
                "replication of {} set to {replication}",
                escape(&st.path)
            )?;
            files.push(st.path);
        }
    }
    let Some(timeout) = wait else {
        return Ok(());
    };
    let started = Instant::now();
    for f in files {
        write!(out, "waiting for {} ...", escape(&f))?;
        out.flush()?;
        loop {
            let located = dfs.block_locations(&f)?;
            let done = located
                .blocks
                .iter()
                .all(|b| b.locations.len() == replication as usize);
            if done {
                break;
            }
            if timeout.is_some_and(|t| started.elapsed() > t) {
                writeln!(out)?;
                bail!(
                    "{}: not every block has {replication} replicas after {} (the namenode \
                     keeps working on it; `mrctl fs fsck` shows where it stands)",
                    escape(&f),
                    humantime::format_duration(started.elapsed())
                );
            }
            std::thread::sleep(REPLICATION_POLL);
        }
        writeln!(out, " done")?;
    }
    Ok(())
}

/// Calls `f` on `path`'s entry, and with `recursive` on every entry under it, parents first
/// (so a chmod that opens a directory lets the walk go on into it). Its own stack: a tree
/// thousands of levels deep cannot overflow ours.
pub fn each_entry(
    dfs: &DfsClient,
    path: &str,
    recursive: bool,
    mut f: impl FnMut(&FileStatus) -> Result<(), ClientError>,
) -> anyhow::Result<()> {
    let mut todo = vec![dfs.stat(path)?];
    while let Some(st) = todo.pop() {
        f(&st)?;
        if recursive && st.is_dir {
            todo.extend(dfs.list(&st.path)?.into_iter().rev());
        }
    }
    Ok(())
}
