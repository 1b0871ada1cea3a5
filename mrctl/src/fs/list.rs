//! Looking at entries: `ls` (`-R`, `-h`, `-d`, `--json`), `stat` (with HDFS's format
//! specifiers) and `test` (`-e -d -f -z -s`, answered by the exit status alone).

use super::usage::size;
use super::{expand_all, stat_opt};
use crate::mode::mode_string;
use crate::printable::escape;
use anyhow::bail;
use client::DfsClient;
use proto::dfs::FileStatus;
use std::io::Write;
use std::process::ExitCode;

/// How `ls` prints.
pub struct LsOptions {
    pub recursive: bool,
    pub human: bool,
    pub directory: bool,
    pub json: bool,
}

/// Lists each path (the home directory when none is given): a directory's entries (itself
/// with `directory`), a file's own line; with `recursive`, each directory's entries follow
/// it, depth first. The walk keeps its own stack of listings: a tree thousands of levels deep
/// cannot overflow ours.
pub fn ls(
    dfs: &DfsClient,
    paths: &[String],
    opts: LsOptions,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let paths = if paths.is_empty() {
        vec![dfs.home_dir()]
    } else {
        expand_all(dfs, paths)?
    };
    for path in paths {
        let st = dfs.stat(&path)?;
        if !st.is_dir || opts.directory {
            print_entry(&st, &opts, out)?;
            continue;
        }
        let mut stack = vec![dfs.list(&path)?.into_iter()];
        while let Some(level) = stack.last_mut() {
            let Some(e) = level.next() else {
                stack.pop();
                continue;
            };
            print_entry(&e, &opts, out)?;
            if opts.recursive && e.is_dir {
                stack.push(dfs.list(&e.path)?.into_iter());
            }
        }
    }
    Ok(())
}

fn print_entry(e: &FileStatus, opts: &LsOptions, out: &mut impl Write) -> anyhow::Result<()> {
    if opts.json {
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
        return Ok(());
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
        size(e.length, opts.human),
        when(e.mtime_ms),
        escape(&e.path)
    )?;
    Ok(())
}

/// `yyyy-mm-dd hh:mm` (UTC), as `hdfs dfs -ls` shows times.
fn when(ms: u64) -> String {
    seconds(ms).chars().take(16).collect()
}

/// `yyyy-mm-dd hh:mm:ss` (UTC), as `hdfs dfs -stat %y` shows times.
fn seconds(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.replace('T', " ").trim_end_matches('Z').to_string()
}

/// `stat [FORMAT] PATH...`: with a format (the first argument, when there are several and it
/// holds a `%`), one line per path as HDFS prints it; without, every attribute on its own line.
pub fn stat(dfs: &DfsClient, args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    let (format, paths) = match args {
        [first, rest @ ..] if !rest.is_empty() && first.contains('%') => (Some(first), rest),
        _ => (None, args),
    };
    for path in expand_all(dfs, paths)? {
        let s = dfs.stat(&path)?;
        match format {
            Some(f) => writeln!(out, "{}", format_stat(f, &s)?)?,
            None => {
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
        }
    }
    Ok(())
}

/// `format` with HDFS's `-stat` specifiers replaced by `s`'s attributes; `\n`, `\t` and `%%`
/// as usual.
fn format_stat(format: &str, s: &FileStatus) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('b') => out.push_str(&s.length.to_string()),
                Some('F') => out.push_str(if s.is_dir {
                    "directory"
                } else {
                    "regular file"
                }),
                Some('g') => out.push_str(&escape(&s.group)),
                Some('n') => {
                    let name = s.path.rsplit('/').next().unwrap_or_default();
                    out.push_str(&escape(name))
                }
                Some('o') => out.push_str(&if s.is_dir { 0 } else { s.block_size }.to_string()),
                Some('r') => out.push_str(&if s.is_dir { 0 } else { s.replication }.to_string()),
                Some('u') => out.push_str(&escape(&s.owner)),
                Some('a') => out.push_str(&format!("{:o}", s.mode)),
                Some('A') => out.push_str(&mode_string(s.is_dir, s.mode)[1..]),
                Some('y') => out.push_str(&seconds(s.mtime_ms)),
                Some('Y') => out.push_str(&s.mtime_ms.to_string()),
                Some('%') => out.push('%'),
                Some(other) => bail!(
                    "stat: unknown format specifier %{other} (known: %a %A %b %F %g %n %o %r \
                     %u %y %Y)"
                ),
                None => bail!("stat: the format ends with a lone %"),
            },
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => {
                    out.push('\\');
                    out.push(other)
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// What `test` asks; exactly one.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct TestFlags {
    /// The path exists.
    #[arg(short = 'e')]
    exists: bool,
    /// The path is a directory.
    #[arg(short = 'd')]
    dir: bool,
    /// The path is a file.
    #[arg(short = 'f')]
    file: bool,
    /// The path is empty (length 0).
    #[arg(short = 'z')]
    zero: bool,
    /// The path is not empty (length above 0).
    #[arg(short = 's')]
    nonzero: bool,
}

/// `test -e|-d|-f|-z|-s PATH`: exit status 0 when true, 1 when false (a missing path makes
/// every test false); errors other than "not found" are reported as errors.
pub fn test(dfs: &DfsClient, what: &TestFlags, path: &str) -> anyhow::Result<ExitCode> {
    let st = match client::glob::has_magic(path) {
        true => match dfs.glob_paths(path) {
            Ok(p) if p.len() == 1 => stat_opt(dfs, &p[0])?,
            Ok(_) => bail!("{}: matches several paths; test takes one", escape(path)),
            Err(client::ClientError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        false => stat_opt(dfs, &dfs.resolve(path))?,
    };
    let truth = match st {
        None => false,
        Some(st) => {
            (what.exists)
                || (what.dir && st.is_dir)
                || (what.file && !st.is_dir)
                || (what.zero && st.length == 0)
                || (what.nonzero && st.length > 0)
        }
    };
    Ok(if truth {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
