//! `mrctl fs ...`: the file verbs, with the semantics of `hdfs dfs`. This file declares the
//! verbs and dispatches; one module per group of verbs does the work. Every DFS path argument
//! may be a glob (`*`, `?`, `[...]`, `{a,b}`) and may be relative to `/user/NAME`; `-r` and
//! `-R` mean recursive wherever they appear.

mod append;
mod checksum;
mod copy;
mod find;
mod list;
mod namespace;
mod show;
mod trash;
mod usage;

use crate::admin;
use crate::mode::ModeSpec;
use anyhow::bail;
use clap::Subcommand;
use client::DfsClient;
use proto::dfs::FileStatus;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Fs {
    /// Copies local files or directories (recursively; `-` for stdin) into the DFS. With
    /// several sources the destination must be a directory.
    #[command(alias = "copyFromLocal")]
    Put {
        /// Overwrite existing destination files.
        #[arg(short, long)]
        force: bool,
        /// Replicas per block (default: the cluster's).
        #[arg(long, default_value_t = 0)]
        replication: u32,
        /// Block size in bytes (default: the cluster's).
        #[arg(long, default_value_t = 0)]
        block_size: u64,
        /// SRC... DST
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Copies DFS files, or directories recursively, to the local disk (`-`: stdout).
    #[command(alias = "copyToLocal")]
    Get {
        /// Overwrite existing local files.
        #[arg(short, long)]
        force: bool,
        /// SRC... LOCAL_DST
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Prints files to stdout.
    Cat {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Prints the first KiB of a file.
    Head { path: String },
    /// Prints the last KiB of a file; with -f keeps printing what is added to it.
    Tail {
        /// Follow: poll the file's length and print what grows, until interrupted.
        #[arg(short, long)]
        follow: bool,
        path: String,
    },
    /// Prints files as text: `.gz` and `.zst` decompressed, the SDK's binary record files as
    /// one `KEY<TAB>VALUE` line per record (non-UTF-8 bytes escaped).
    Text {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Lists directories (the home directory when no path is given): mode, replication,
    /// owner, group, length, time, path.
    #[command(disable_help_flag = true)]
    Ls {
        /// Recurse into subdirectories.
        #[arg(short = 'R', short_alias = 'r', long)]
        recursive: bool,
        /// Human-readable sizes (1.5 K, 64 M).
        #[arg(short = 'h', long)]
        human: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        /// List a directory itself, not its entries.
        #[arg(short, long)]
        directory: bool,
        /// One JSON object per entry, a line each, for scripts.
        #[arg(long)]
        json: bool,
        paths: Vec<String>,
    },
    /// Creates directories; with -p also their missing parents (and an existing directory is
    /// fine).
    Mkdir {
        #[arg(short, long)]
        parents: bool,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Moves files (directories with -r) to your trash, /user/NAME/.Trash/Current, emptied
    /// after the namenode's trash_interval_ms; deletes them at once with -skipTrash, when the
    /// trash is off, or when they are in a trash.
    Rm {
        /// Delete directories and everything under them.
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// No error (and no message) when a path does not exist.
        #[arg(short, long)]
        force: bool,
        /// Delete at once instead of moving to the trash.
        #[arg(long = "skipTrash")]
        skip_trash: bool,
        #[arg(required = true)]
        paths: Vec<String>,
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
    /// Snapshots: create, delete, rename, list, diff.
    #[command(subcommand)]
    Snapshot(crate::snapshot::SnapshotCmd),
    /// Renames or moves files and directories; with several sources the destination must
    /// be a directory.
    Mv {
        /// SRC... DST
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Copies DFS files (directories recursively) by reading and writing them through the
    /// client.
    Cp {
        /// Accepted for directories (which `cp` copies recursively anyway, as HDFS does).
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// Overwrite existing destination files.
        #[arg(short, long)]
        force: bool,
        /// SRC... DST
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Creates empty files; an existing file must be empty.
    Touchz {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Tests a path; exit status 0 when true, 1 when false, nothing printed.
    Test {
        #[command(flatten)]
        what: list::TestFlags,
        path: String,
    },
    /// Shows attributes; with a FORMAT as `hdfs dfs -stat`: %b length, %F type, %g group,
    /// %n name, %o block size, %r replication, %u owner, %a octal mode, %A symbolic mode,
    /// %y modification time (UTC), %Y the same in ms since the epoch.
    Stat {
        /// [FORMAT] PATH...
        #[arg(required = true)]
        args: Vec<String>,
    },
    /// Changes replication of files (directories: every file under them); -w waits until
    /// every block has that many replicas.
    Setrep {
        /// Wait until every block has exactly the new number of replicas.
        #[arg(short, long)]
        wait: bool,
        /// Accepted as HDFS does; directories are always walked.
        #[arg(short = 'R', short_alias = 'r', long)]
        recursive: bool,
        /// With -w, give up after this long (e.g. 10m).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
        replication: u32,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Directories, files and bytes under paths; with -q the quotas first.
    #[command(disable_help_flag = true)]
    Count {
        /// Quota columns: name quota, remaining, space quota, remaining.
        #[arg(short, long)]
        quotas: bool,
        /// Human-readable sizes.
        #[arg(short = 'h', long)]
        human: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Length and space consumed (all replicas) of each entry of a directory, or in total
    /// with -s.
    #[command(disable_help_flag = true)]
    Du {
        #[arg(short, long)]
        summary: bool,
        /// Human-readable sizes.
        #[arg(short = 'h', long)]
        human: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Capacity, used, remaining and use% of the cluster's live datanodes.
    #[command(disable_help_flag = true)]
    Df {
        /// Human-readable sizes.
        #[arg(short = 'h', long)]
        human: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        /// Accepted as HDFS does; the whole file system is reported.
        path: Option<String>,
    },
    /// Concatenates the files of DFS directories (or globs) into one local file.
    Getmerge {
        /// A newline after each file.
        #[arg(long = "nl")]
        newline: bool,
        src: String,
        local_dst: String,
    },
    /// Finds entries under paths: PATH... [-name GLOB] [-iname GLOB] [-type f|d] [-print].
    Find {
        #[arg(required = true, allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// A checksum of each file's content that does not depend on its block size: the CRC32
    /// of the whole file, combined from per-block CRCs the datanodes compute.
    Checksum {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Changes permission bits: octal (640, 1777) or symbolic (u+x,go-w, a=rX, +t). Only the
    /// owner or the superuser may.
    Chmod {
        /// Every entry under a directory too.
        #[arg(short = 'R', short_alias = 'r', long)]
        recursive: bool,
        mode: ModeSpec,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Changes the owner (the superuser only) and optionally the group: USER[:GROUP].
    Chown {
        #[arg(short = 'R', short_alias = 'r', long)]
        recursive: bool,
        owner: String,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Changes the group: the owner may pick one of their own groups, the superuser any.
    Chgrp {
        #[arg(short = 'R', short_alias = 'r', long)]
        recursive: bool,
        group: String,
        #[arg(required = true)]
        paths: Vec<String>,
    },
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
            force,
            replication,
            block_size,
            paths,
        } => copy::put(dfs, &paths, force, replication, block_size)?,
        Fs::Get { force, paths } => copy::get(dfs, &paths, force, &mut out)?,
        Fs::Cat { paths } => show::cat(dfs, &paths, &mut out)?,
        Fs::Head { path } => show::head(dfs, &path, &mut out)?,
        Fs::Tail { follow, path } => show::tail(dfs, &path, follow, &mut out)?,
        Fs::Text { paths } => show::text(dfs, &paths, &mut out)?,
        Fs::Ls {
            recursive,
            human,
            directory,
            json,
            paths,
            ..
        } => {
            let opts = list::LsOptions {
                recursive,
                human,
                directory,
                json,
            };
            list::ls(dfs, &paths, opts, &mut out)?
        }
        Fs::Mkdir { parents, paths } => namespace::mkdir(dfs, &paths, parents)?,
        Fs::Rm {
            recursive,
            force,
            skip_trash,
            paths,
        } => namespace::rm(dfs, &paths, recursive, force, skip_trash, &mut out)?,
        Fs::AppendToFile { mut paths } => {
            let dst = paths.pop().unwrap_or_default();
            append::append_to_file(dfs, &paths, &dfs.resolve(&dst))?;
        }
        Fs::Expunge { immediate } => trash::expunge(dfs, immediate, &mut out)?,
        Fs::Snapshot(cmd) => return crate::snapshot::run(dfs, cmd, &mut out),
        Fs::Mv { paths } => namespace::mv(dfs, &paths)?,
        Fs::Cp {
            recursive: _,
            force,
            paths,
        } => copy::cp(dfs, &paths, force)?,
        Fs::Touchz { paths } => namespace::touchz(dfs, &paths)?,
        Fs::Test { what, path } => return list::test(dfs, &what, &path),
        Fs::Stat { args } => list::stat(dfs, &args, &mut out)?,
        Fs::Setrep {
            wait,
            recursive: _,
            timeout,
            replication,
            paths,
        } => namespace::setrep(dfs, &paths, replication, wait.then_some(timeout), &mut out)?,
        Fs::Count {
            quotas,
            human,
            paths,
            ..
        } => usage::count(dfs, &paths, quotas, human, &mut out)?,
        Fs::Du {
            summary,
            human,
            paths,
            ..
        } => usage::du(dfs, &paths, summary, human, &mut out)?,
        Fs::Df { human, .. } => usage::df(dfs, human, &mut out)?,
        Fs::Getmerge {
            newline,
            src,
            local_dst,
        } => copy::getmerge(dfs, &src, &local_dst, newline)?,
        Fs::Find { args } => find::find(dfs, &args, &mut out)?,
        Fs::Checksum { paths } => checksum::checksum(dfs, &paths, &mut out)?,
        Fs::Chmod {
            recursive,
            mode,
            paths,
        } => {
            for path in expand_all(dfs, &paths)? {
                namespace::each_entry(dfs, &path, recursive, |e| {
                    dfs.set_permission(&e.path, mode.apply(e.mode, e.is_dir))
                })?
            }
        }
        Fs::Chown {
            recursive,
            owner,
            paths,
        } => {
            let (user, group) = match owner.split_once(':') {
                Some((u, g)) => (u, Some(g).filter(|g| !g.is_empty())),
                None => (owner.as_str(), None),
            };
            let user = Some(user).filter(|u| !u.is_empty());
            if user.is_none() && group.is_none() {
                bail!("chown: give USER, USER:GROUP or :GROUP (got '{owner}')");
            }
            for path in expand_all(dfs, &paths)? {
                namespace::each_entry(dfs, &path, recursive, |e| {
                    dfs.set_owner(&e.path, user, group)
                })?
            }
        }
        Fs::Chgrp {
            recursive,
            group,
            paths,
        } => {
            for path in expand_all(dfs, &paths)? {
                namespace::each_entry(dfs, &path, recursive, |e| {
                    dfs.set_owner(&e.path, None, Some(&group))
                })?
            }
        }
        Fs::Fsck { path, json, blocks } => {
            let path = expand_one(dfs, &path)?;
            return admin::fsck(dfs, &path, json, blocks, &mut out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command line with HDFS's single-dash long flags that clap cannot parse spelled as long
/// flags: `fs getmerge -nl` is `--nl`, `-skipTrash` and `-immediate` (rm, expunge) their
/// long forms. (`find`'s `-name` and `-type` are parsed by `find`.)
pub fn hdfs_style_flags(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let verb = args.iter().position(|a| a == "fs").map(|i| i + 1);
    let getmerge = verb
        .and_then(|i| args.get(i))
        .is_some_and(|v| v == "getmerge");
    args.into_iter()
        .map(|a| {
            if getmerge && a == "-nl" {
                "--nl".into()
            } else if a == "-skipTrash" || a == "-immediate" {
                let mut long = std::ffi::OsString::from("-");
                long.push(&a);
                long
            } else {
                a
            }
        })
        .collect()
}

/// Every path the arguments name: globs expanded (one matching nothing is an error naming
/// it), relative paths made absolute.
fn expand_all(dfs: &DfsClient, args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for a in args {
        out.extend(dfs.glob_paths(a)?);
    }
    Ok(out)
}

/// The one path an argument names (a destination): a glob must match exactly one entry.
fn expand_one(dfs: &DfsClient, arg: &str) -> anyhow::Result<String> {
    if !client::glob::has_magic(arg) {
        return Ok(dfs.resolve(arg));
    }
    let mut paths = dfs.glob_paths(arg)?;
    if paths.len() != 1 {
        bail!("{arg}: matches {} paths; give one", paths.len());
    }
    Ok(paths.remove(0))
}

/// The entry at `path`, None when there is none.
fn stat_opt(dfs: &DfsClient, path: &str) -> anyhow::Result<Option<FileStatus>> {
    match dfs.stat(path) {
        Ok(s) => Ok(Some(s)),
        Err(client::ClientError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The last component of a DFS or local path.
fn base_name(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}
