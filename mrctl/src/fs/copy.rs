//! Copying bytes: `put` (local to DFS), `get` (DFS to local), `cp` (DFS to DFS through the
//! client) and `getmerge`. As HDFS does, a file is written as `NAME._COPYING_` and renamed
//! into place when complete, so a failed copy leaves no partial file: the half-written one is
//! deleted, and a directory the failed copy created is removed.

use super::{base_name, expand_all, expand_one, join, stat_opt};
use crate::printable::escape;
use anyhow::{bail, Context};
use client::{CreateOptions, DfsClient};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// What a half-written DFS file is called until it is complete (HDFS's name for it).
const COPYING_SUFFIX: &str = "._COPYING_";

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

/// Copies `from` into `to`; a read error names `src`, a write error `dst`.
pub(super) fn copy_stream(
    mut from: impl Read,
    mut to: impl Write,
    src: &str,
    dst: &str,
    pb: &ProgressBar,
) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: reading", escape(src))),
        };
        to.write_all(&buf[..n])
            .with_context(|| format!("{}: writing", escape(dst)))?;
        total += n as u64;
        pb.inc(n as u64);
    }
    to.flush()
        .with_context(|| format!("{}: writing", escape(dst)))?;
    Ok(total)
}

/// Where a copy of `src` goes: into `dst` when it is an existing directory (keeping the
/// name), else `dst` itself. With several sources `dst` must be a directory.
fn dfs_target(dfs: &DfsClient, dst: &str, src_name: &str, several: bool) -> anyhow::Result<String> {
    match stat_opt(dfs, dst)? {
        Some(st) if st.is_dir => Ok(join(dst, src_name)),
        Some(_) if several => bail!("{}: Is not a directory", escape(dst)),
        None if several => bail!("{}: No such file or directory", escape(dst)),
        _ => Ok(dst.to_string()),
    }
}

/// Writes one DFS file from `input` as `target._COPYING_`, then renames it into place (over
/// an existing file with `force`). On any failure the half-written file is deleted.
fn write_dfs_file(
    dfs: &DfsClient,
    input: impl Read,
    src: &str,
    target: &str,
    len: u64,
    force: bool,
    opts: &CreateOptions,
) -> anyhow::Result<()> {
    if let Some(st) = stat_opt(dfs, target)? {
        if st.is_dir {
            bail!("{}: Is a directory", escape(target));
        }
        if !force {
            bail!("{}: File exists (use -f to overwrite)", escape(target));
        }
    }
    let tmp = format!("{target}{COPYING_SUFFIX}");
    let pb = progress(len, target);
    let written = write_then_rename(dfs, input, src, &tmp, target, force, opts, &pb);
    pb.finish_and_clear();
    if written.is_err() {
        // Best effort: the error that matters is the copy's.
        let _ = dfs.delete(&tmp, false);
    }
    written
}

/// The steps of [`write_dfs_file`] that may fail half-way.
#[allow(clippy::too_many_arguments)]
fn write_then_rename(
    dfs: &DfsClient,
    input: impl Read,
    src: &str,
    tmp: &str,
    target: &str,
    force: bool,
    opts: &CreateOptions,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let mut w = dfs.create(tmp, opts.clone())?;
    copy_stream(input, &mut w, src, target, pb)?;
    w.close()?;
    if force && dfs.exists(target)? {
        dfs.delete(target, false)?;
    }
    dfs.rename(tmp, target)?;
    Ok(())
}

/// `put [-f] SRC... DST`: local files, directories (recursively) or stdin (`-`) into the DFS.
pub fn put(
    dfs: &DfsClient,
    paths: &[String],
    force: bool,
    replication: u32,
    block_size: u64,
) -> anyhow::Result<()> {
    let (srcs, dst) = paths.split_at(paths.len() - 1);
    let dst = expand_one(dfs, &dst[0])?;
    let opts = CreateOptions {
        replication,
        block_size,
        // Lenient where HDFS is strict: scripts put into new directories.
        create_parent: true,
    };
    let several = srcs.len() > 1;
    for src in srcs {
        if src == "-" {
            let target = dfs_target(dfs, &dst, "-", several)?;
            if target.ends_with("/-") {
                bail!("put -: give a file name as the destination, not a directory");
            }
            let stdin = std::io::stdin().lock();
            write_dfs_file(dfs, stdin, "stdin", &target, 0, force, &opts)?;
            continue;
        }
        let local = Path::new(src);
        let meta = std::fs::metadata(local)
            .with_context(|| format!("{}: cannot read the local source", escape(src)))?;
        let target = dfs_target(dfs, &dst, base_name(src), several)?;
        if !meta.is_dir() {
            let f = std::fs::File::open(local)
                .with_context(|| format!("{}: cannot open the local source", escape(src)))?;
            write_dfs_file(dfs, f, src, &target, meta.len(), force, &opts)?;
            continue;
        }
        let created = stat_opt(dfs, &target)?.is_none();
        let copied = put_dir(dfs, local, &target, force, &opts);
        if copied.is_err() && created {
            // Leave nothing of a directory this put made and could not finish.
            let _ = dfs.delete(&target, true);
        }
        copied?;
    }
    Ok(())
}

/// Copies the local directory `dir` to the DFS directory `target`, in name order, walking
/// with its own stack.
fn put_dir(
    dfs: &DfsClient,
    dir: &Path,
    target: &str,
    force: bool,
    opts: &CreateOptions,
) -> anyhow::Result<()> {
    let mut todo: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), target.to_string())];
    while let Some((local, remote)) = todo.pop() {
        match stat_opt(dfs, &remote)? {
            Some(st) if !st.is_dir => {
                bail!("{}: File exists and is not a directory", escape(&remote))
            }
            Some(_) => {}
            None => dfs.mkdirs(&remote)?,
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&local)
            .with_context(|| format!("{}: cannot list the local directory", local.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: cannot list the local directory", local.display()))?;
        entries.sort();
        for path in entries {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { continue };
            let shown = path.display().to_string();
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("{}: cannot read the local source", escape(&shown)))?;
            let dst = join(&remote, &name);
            if meta.is_dir() {
                todo.push((path, dst));
                continue;
            }
            let f = std::fs::File::open(&path)
                .with_context(|| format!("{}: cannot open the local source", escape(&shown)))?;
            write_dfs_file(dfs, f, &shown, &dst, meta.len(), force, opts)?;
        }
    }
    Ok(())
}

/// `get [-f] SRC... LOCAL_DST`: DFS files or directories to the local disk (`-`: stdout).
pub fn get(
    dfs: &DfsClient,
    paths: &[String],
    force: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (srcs, dst) = paths.split_at(paths.len() - 1);
    let dst = dst[0].as_str();
    let srcs = expand_all(dfs, srcs)?;
    if dst == "-" {
        for src in &srcs {
            copy_stream(
                dfs.open(src)?,
                &mut *out,
                src,
                "stdout",
                &ProgressBar::hidden(),
            )?;
        }
        return Ok(());
    }
    let dst = Path::new(dst);
    if srcs.len() > 1 && !dst.is_dir() {
        bail!("{}: Is not a directory (several sources)", dst.display());
    }
    for src in &srcs {
        let target = if dst.is_dir() {
            dst.join(base_name(src))
        } else {
            dst.to_path_buf()
        };
        get_one(dfs, src, &target, force)?;
    }
    Ok(())
}

/// Copies the DFS file or directory `src` to the local `target`, walking with its own stack.
fn get_one(dfs: &DfsClient, src: &str, target: &Path, force: bool) -> anyhow::Result<()> {
    let mut todo = vec![(dfs.stat(src)?, target.to_path_buf())];
    while let Some((st, target)) = todo.pop() {
        if st.is_dir {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("{}: cannot create", target.display()))?;
            for e in dfs.list(&st.path)? {
                let t = target.join(base_name(&e.path));
                todo.push((e, t));
            }
            continue;
        }
        if target.exists() && !force {
            bail!("{}: already exists (use -f to overwrite)", target.display());
        }
        let r = dfs.open(&st.path)?;
        let pb = progress(r.len(), &st.path);
        let mut tmp = target.clone().into_os_string();
        tmp.push(COPYING_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let shown = tmp.display().to_string();
        let copied =
            copy_stream(r, std::io::BufWriter::new(f), &st.path, &shown, &pb).and_then(|_| {
                std::fs::rename(&tmp, &target)
                    .with_context(|| format!("{}: cannot rename into place", target.display()))
            });
        pb.finish_and_clear();
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        copied?;
    }
    Ok(())
}

/// `cp [-f] SRC... DST`: DFS to DFS, directories recursively, each file read and written
/// through the client (keeping its replication and block size).
pub fn cp(dfs: &DfsClient, paths: &[String], force: bool) -> anyhow::Result<()> {
    let (srcs, dst) = paths.split_at(paths.len() - 1);
    let dst = expand_one(dfs, &dst[0])?;
    let srcs = expand_all(dfs, srcs)?;
    let several = srcs.len() > 1;
    for src in &srcs {
        let target = dfs_target(dfs, &dst, base_name(src), several)?;
        if target == *src || target.starts_with(&format!("{}/", src.trim_end_matches('/'))) {
            bail!(
                "{}: cannot copy into itself ({})",
                escape(src),
                escape(&target)
            );
        }
        let mut todo = vec![(dfs.stat(src)?, target)];
        while let Some((st, target)) = todo.pop() {
            if st.is_dir {
                if stat_opt(dfs, &target)?.is_none() {
                    dfs.mkdirs(&target)?;
                }
                for e in dfs.list(&st.path)? {
                    let t = join(&target, base_name(&e.path));
                    todo.push((e, t));
                }
                continue;
            }
            let opts = CreateOptions {
                replication: st.replication,
                block_size: st.block_size,
                create_parent: false,
            };
            let r = dfs.open(&st.path)?;
            write_dfs_file(dfs, r, &st.path, &target, st.length, force, &opts)?;
        }
    }
    Ok(())
}

/// Writes `files` one after the other into the local `tmp`, then renames it to `dst`.
fn merge_into(
    dfs: &DfsClient,
    files: &[proto::dfs::FileStatus],
    tmp: &Path,
    dst: &Path,
    newline: bool,
) -> anyhow::Result<()> {
    let shown = dst.display().to_string();
    let f =
        std::fs::File::create(tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for file in files {
        let r = dfs.open(&file.path)?;
        copy_stream(r, &mut w, &file.path, &shown, &ProgressBar::hidden())?;
        if newline {
            w.write_all(b"\n")
                .with_context(|| format!("{shown}: writing"))?;
        }
    }
    w.flush().with_context(|| format!("{shown}: writing"))?;
    std::fs::rename(tmp, dst).with_context(|| format!("{shown}: cannot rename into place"))
}

/// `getmerge [-nl] SRC LOCAL_DST`: the files of a DFS directory (or of every path a glob
/// matches), in name order, concatenated into one local file.
pub fn getmerge(dfs: &DfsClient, src: &str, dst: &str, newline: bool) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for p in dfs.glob_paths(src)? {
        let st = dfs.stat(&p)?;
        if st.is_dir {
            files.extend(dfs.list(&p)?.into_iter().filter(|e| !e.is_dir));
        } else {
            files.push(st);
        }
    }
    let dst = Path::new(dst);
    let mut tmp = dst.as_os_str().to_owned();
    tmp.push(COPYING_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let merged = merge_into(dfs, &files, &tmp, dst, newline);
    if merged.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    merged
}
