//! `mrctl`: the command line for files (`mrctl fs ...`), jobs (`mrctl submit`, `mrctl job ...`)
//! and clusters (`mrctl cluster ...`).
//! Thin glue over the `client` library; errors are one line naming the path and the cause.

mod job;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use client::{ClientError, CreateOptions, DfsClient};
use cluster::{ClusterSpec, LocalCluster};
use common::config::{ClientConfig, ConfigFile};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mrctl",
    about = "Files, jobs and clusters of the MapReduce engine and its block store"
)]
struct Cli {
    /// Client config (a TOML file with a [client] section), e.g. DIR/client.toml written by
    /// `mrctl cluster up`. Defaults to $MRCTL_CONFIG, else a namenode on 127.0.0.1:9000.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// File system commands.
    #[command(subcommand)]
    Fs(Fs),
    /// Submits a job binary: `mrctl submit target/release/wordcount --wait -- IN OUT`.
    Submit(job::Submit),
    /// Job commands: list, status, counters, kill, logs.
    #[command(subcommand)]
    Job(job::JobCmd),
    /// Local clusters and cluster health.
    #[command(subcommand)]
    Cluster(Cluster),
    /// Starts a local cluster, checks its files, runs the transaction pipeline on a generated
    /// day, prints the summary and the reports, then stops it.
    Demo {
        /// Where the demo cluster lives (removed first).
        #[arg(long, default_value = "target/demo-cluster")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum Fs {
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
    /// Lists a directory.
    Ls {
        path: String,
        /// Recurse into subdirectories.
        #[arg(short = 'R', long)]
        recursive: bool,
    },
    /// Creates a directory and its missing parents.
    Mkdir { paths: Vec<String> },
    /// Deletes files, or directories with -r.
    Rm {
        paths: Vec<String>,
        /// Delete directories and everything under them.
        #[arg(short, long)]
        recursive: bool,
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

#[derive(Subcommand)]
enum Cluster {
    /// Starts (or restarts) a local cluster in DIR and writes DIR/client.toml.
    Up {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 4)]
        datanodes: usize,
        #[arg(long, default_value_t = 2)]
        racks: usize,
    },
    /// Stops the local cluster in DIR.
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Live, stale and dead datanodes, racks, capacity and use.
    Report,
}

fn main() -> ExitCode {
    common::logging::init_quiet();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("mrctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn client_config(path: &Option<PathBuf>) -> anyhow::Result<ClientConfig> {
    let path = path
        .clone()
        .or_else(|| std::env::var_os("MRCTL_CONFIG").map(PathBuf::from));
    let Some(path) = path else {
        return Ok(ClientConfig::default());
    };
    let f = ConfigFile::load(&path)?;
    Ok(ConfigFile::section(&path, &f.client, "client")?)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Top::Fs(cmd) => {
            let dfs = DfsClient::connect(client_config(&cli.config)?)?;
            fs_command(&dfs, cmd)
        }
        Top::Submit(cmd) => {
            let config = client_config(&cli.config)?;
            let jobs = client::jobs::JobClient::connect(&config.jobtracker_addr)?;
            job::submit(&DfsClient::connect(config)?, &jobs, cmd)
        }
        Top::Job(cmd) => {
            let config = client_config(&cli.config)?;
            let jobs = client::jobs::JobClient::connect(&config.jobtracker_addr)?;
            job::job_command(&DfsClient::connect(config)?, &jobs, cmd)
        }
        Top::Cluster(Cluster::Up {
            dir,
            datanodes,
            racks,
        }) => {
            let spec = ClusterSpec {
                datanodes,
                racks,
                ..Default::default()
            };
            let c = LocalCluster::up(&dir, spec)?;
            println!(
                "cluster up: {} datanodes on {} racks; use --config {}",
                c.spec.datanodes,
                c.spec.racks,
                c.client_config_path().display()
            );
            c.detach();
            Ok(ExitCode::SUCCESS)
        }
        Top::Cluster(Cluster::Down { dir }) => {
            if !dir.join("cluster.toml").exists() {
                bail!("{}: no local cluster here", dir.display());
            }
            LocalCluster::prepare(&dir, ClusterSpec::default())?.down()?;
            println!("cluster down");
            Ok(ExitCode::SUCCESS)
        }
        Top::Cluster(Cluster::Report) => {
            let dfs = DfsClient::connect(client_config(&cli.config)?)?;
            report(&dfs)
        }
        Top::Demo { dir } => demo(&dir),
    }
}

fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
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

fn mode_string(is_dir: bool, mode: u32) -> String {
    let mut s = String::from(if is_dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let m = (mode >> shift) & 7;
        s.push(if m & 4 != 0 { 'r' } else { '-' });
        s.push(if m & 2 != 0 { 'w' } else { '-' });
        s.push(if m & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `yyyy-mm-dd hh:mm` (UTC), as `hdfs dfs -ls` shows times.
fn when(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.replace('T', " ").chars().take(16).collect()
}

fn ls(dfs: &DfsClient, path: &str, recursive: bool, out: &mut impl Write) -> anyhow::Result<()> {
    for e in dfs.list(path)? {
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
            e.owner,
            e.group,
            e.length,
            when(e.mtime_ms),
            e.path
        )?;
        if recursive && e.is_dir {
            ls(dfs, &e.path, true, out)?;
        }
    }
    Ok(())
}

fn setrep(dfs: &DfsClient, path: &str, replication: u32) -> anyhow::Result<()> {
    let st = dfs.stat(path)?;
    if st.is_dir {
        for e in dfs.list(path)? {
            setrep(dfs, &e.path, replication)?;
        }
        return Ok(());
    }
    dfs.set_replication(path, replication)?;
    println!("replication of {path} set to {replication}");
    Ok(())
}

fn fs_command(dfs: &DfsClient, cmd: Fs) -> anyhow::Result<ExitCode> {
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
        Fs::Ls { path, recursive } => ls(dfs, &path, recursive, &mut out)?,
        Fs::Mkdir { paths } => {
            for p in paths {
                dfs.mkdirs(&p)?;
            }
        }
        Fs::Rm { paths, recursive } => {
            for p in paths {
                dfs.delete(&p, recursive)?;
                writeln!(out, "deleted {p}")?;
            }
        }
        Fs::Mv { src, dst } => dfs.rename(&src, &dst)?,
        Fs::Stat { path } => {
            let s = dfs.stat(&path)?;
            writeln!(out, "path: {}", s.path)?;
            writeln!(out, "type: {}", if s.is_dir { "directory" } else { "file" })?;
            writeln!(out, "length: {}", s.length)?;
            writeln!(out, "replication: {}", s.replication)?;
            writeln!(out, "block_size: {}", s.block_size)?;
            writeln!(out, "owner: {}", s.owner)?;
            writeln!(out, "group: {}", s.group)?;
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
                writeln!(out, "{:>14} {:>14} {p}", c.length, c.space_consumed)?;
            }
        }
        Fs::Fsck { path, json, blocks } => return fsck(dfs, &path, json, blocks, &mut out),
    }
    Ok(ExitCode::SUCCESS)
}

fn fsck(
    dfs: &DfsClient,
    path: &str,
    json: bool,
    list: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let r = dfs.fsck(path)?;
    let healthy = r.corrupt == 0 && r.missing == 0;
    if json {
        let blocks: Vec<serde_json::Value> = r
            .blocks
            .iter()
            .map(|b| {
                let blk = b.block.unwrap_or_default();
                serde_json::json!({
                    "path": b.path,
                    "block": format!("blk_{}", blk.id),
                    "gen_stamp": blk.gen_stamp,
                    "length": blk.num_bytes,
                    "expected_replication": b.expected_replication,
                    "replicas": b.replicas.iter().map(|r| serde_json::json!({
                        "node": r.node, "rack": r.rack, "corrupt": r.corrupt, "stale": r.stale,
                    })).collect::<Vec<_>>(),
                    "under_replicated": b.under_replicated,
                    "mis_replicated": b.mis_replicated,
                    "corrupt": b.corrupt,
                    "missing": b.missing,
                })
            })
            .collect();
        let v = serde_json::json!({
            "path": path,
            "status": if healthy { "HEALTHY" } else { "CORRUPT" },
            "files": r.files,
            "directories": r.directories,
            "total_bytes": r.total_bytes,
            "total_blocks": r.blocks.len(),
            "under_replicated": r.under_replicated,
            "mis_replicated": r.mis_replicated,
            "corrupt": r.corrupt,
            "missing": r.missing,
            "blocks": blocks,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for b in &r.blocks {
            let problem = b.under_replicated || b.mis_replicated || b.corrupt || b.missing;
            if !list && !problem {
                continue;
            }
            let blk = b.block.unwrap_or_default();
            let reps: Vec<String> = b
                .replicas
                .iter()
                .map(|r| {
                    format!(
                        "{}{}{}",
                        r.node,
                        r.rack,
                        if r.corrupt { " (corrupt)" } else { "" }
                    )
                })
                .collect();
            let mut flags = Vec::new();
            for (f, name) in [
                (b.under_replicated, "UNDER-REPLICATED"),
                (b.mis_replicated, "MIS-REPLICATED"),
                (b.corrupt, "CORRUPT"),
                (b.missing, "MISSING"),
            ] {
                if f {
                    flags.push(name);
                }
            }
            writeln!(
                out,
                "{} blk_{} len={} repl={}/{} [{}] {}",
                b.path,
                blk.id,
                blk.num_bytes,
                b.replicas.iter().filter(|r| !r.corrupt).count(),
                b.expected_replication,
                reps.join(", "),
                flags.join(" ")
            )?;
        }
        writeln!(
            out,
            "Status: {}",
            if healthy { "HEALTHY" } else { "CORRUPT" }
        )?;
        writeln!(out, " Total size:\t{} B", r.total_bytes)?;
        writeln!(out, " Total dirs:\t{}", r.directories)?;
        writeln!(out, " Total files:\t{}", r.files)?;
        writeln!(out, " Total blocks:\t{}", r.blocks.len())?;
        writeln!(out, " Under-replicated blocks:\t{}", r.under_replicated)?;
        writeln!(out, " Mis-replicated blocks:\t{}", r.mis_replicated)?;
        writeln!(out, " Corrupt blocks:\t{}", r.corrupt)?;
        writeln!(out, " Missing blocks:\t{}", r.missing)?;
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report(dfs: &DfsClient) -> anyhow::Result<ExitCode> {
    let r = dfs.cluster_report()?;
    let count = |s: &str| r.datanodes.iter().filter(|d| d.state == s).count();
    let mut racks: Vec<&str> = r
        .datanodes
        .iter()
        .filter_map(|d| d.info.as_ref().map(|i| i.rack.as_str()))
        .collect();
    racks.sort_unstable();
    racks.dedup();
    let cap: u64 = r
        .datanodes
        .iter()
        .filter(|d| d.state != "dead")
        .map(|d| d.capacity)
        .sum();
    let used: u64 = r
        .datanodes
        .iter()
        .filter(|d| d.state != "dead")
        .map(|d| d.used)
        .sum();
    let remaining: u64 = r
        .datanodes
        .iter()
        .filter(|d| d.state != "dead")
        .map(|d| d.remaining)
        .sum();
    println!(
        "Safe mode: {}",
        if r.safe_mode {
            format!("ON ({})", r.safe_mode_reason)
        } else {
            "off".into()
        }
    );
    println!(
        "Datanodes: {} live, {} stale, {} dead, on {} racks",
        count("live"),
        count("stale"),
        count("dead"),
        racks.len()
    );
    println!(
        "Capacity: {}  Used by blocks: {}  Remaining: {}",
        human(cap),
        human(used),
        human(remaining)
    );
    println!(
        "Files: {}  Blocks: {}  Awaiting replication check: {}  Pending deletions: {}",
        r.files, r.total_blocks, r.under_replicated, r.pending_deletions
    );
    println!();
    for d in &r.datanodes {
        let i = d.info.clone().unwrap_or_default();
        println!(
            "{:<22} {:<10} {:<6} blocks={:<6} used={:<10} remaining={:<10} last contact {} ms ago",
            i.data_addr,
            i.rack,
            d.state,
            d.blocks,
            human(d.used),
            human(d.remaining),
            d.last_heartbeat_ms_ago
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The README's first command until the job engine exists: a cluster of several datanodes on
/// two racks, files written, read back and checked, the cluster stopped.
fn demo(dir: &Path) -> anyhow::Result<ExitCode> {
    if dir.join("cluster.toml").exists() {
        if let Ok(c) = LocalCluster::prepare(dir, ClusterSpec::default()) {
            let _ = c.down();
        }
        std::fs::remove_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let mut spec = ClusterSpec::fast(4, 2);
    spec.namenode.default_block_size = 8 << 20;
    println!(
        "[demo] starting a local cluster: 1 namenode, 4 datanodes on 2 racks, a job tracker and 4 workers, in {}",
        dir.display()
    );
    let cluster = LocalCluster::up(dir, spec)?;
    let dfs = cluster.client()?;
    dfs.mkdirs("/demo")?;
    let mut files = Vec::new();
    for (i, size) in [(0, 1000usize), (1, 3 << 20), (2, 20 << 20)] {
        let data: Vec<u8> = (0..size).map(|j| ((j * 31 + i * 7) % 251) as u8).collect();
        let path = format!("/demo/file-{i}");
        let t = std::time::Instant::now();
        dfs.write_file(&path, &data, CreateOptions::default())?;
        println!(
            "[demo] wrote {path}: {} in {:.0?}",
            human(size as u64),
            t.elapsed()
        );
        files.push((path, data));
    }
    for (path, data) in &files {
        let back = dfs.read_file(path)?;
        if &back != data {
            bail!(
                "{path}: read back {} bytes that differ from what was written",
                back.len()
            );
        }
        println!("[demo] read back {path}: identical");
    }
    let r = dfs.fsck("/demo")?;
    for b in r.blocks.iter().take(4) {
        let reps: Vec<String> = b
            .replicas
            .iter()
            .map(|r| format!("{}{}", r.node, r.rack))
            .collect();
        println!(
            "[demo] {} blk_{}: {}",
            b.path,
            b.block.map_or(0, |x| x.id),
            reps.join(", ")
        );
    }
    println!(
        "[demo] fsck /demo: {} files, {} blocks, under-replicated {}, mis-replicated {}, corrupt {}, missing {}",
        r.files,
        r.blocks.len(),
        r.under_replicated,
        r.mis_replicated,
        r.corrupt,
        r.missing
    );
    demo_transactions(&cluster, &dfs, dir)?;
    cluster.down()?;
    println!("[demo] cluster stopped; logs in {}/logs", dir.display());
    if r.corrupt + r.missing > 0 {
        return Err(ClientError::Internal("the demo's files are not healthy".into()).into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's job: the transaction pipeline over a generated day, submitted as `mrctl submit`
/// does, with its progress, summary and reports printed.
fn demo_transactions(cluster: &LocalCluster, dfs: &DfsClient, dir: &Path) -> anyhow::Result<()> {
    let binary = cluster::bin_dir()?.join("transactions");
    if !binary.exists() {
        println!(
            "[demo] skipping the pipeline: {} is not built",
            binary.display()
        );
        return Ok(());
    }
    let local = dir.join("sample-day");
    let t = std::time::Instant::now();
    let gen = std::process::Command::new(&binary)
        .args([
            "gen",
            "--rows",
            "300000",
            "--customers",
            "20000",
            "--accounts",
            "40000",
        ])
        .args(["--seed", "2026", "--out"])
        .arg(&local)
        .output()
        .with_context(|| binary.display().to_string())?;
    if !gen.status.success() {
        bail!(
            "generating the sample day: {}",
            String::from_utf8_lossy(&gen.stderr)
        );
    }
    for name in ["transactions", "customers", "accounts"] {
        let data = std::fs::read(local.join(format!("{name}.csv")))?;
        dfs.write_file(
            &format!("/bank/day/{name}.csv"),
            &data,
            CreateOptions::default(),
        )?;
        println!(
            "[demo] loaded /bank/day/{name}.csv ({})",
            human(data.len() as u64)
        );
    }
    println!(
        "[demo] sample day generated and loaded in {:.1?}",
        t.elapsed()
    );
    let jobs = cluster.job_client()?;
    let t = std::time::Instant::now();
    let args: Vec<String> = [
        "run",
        "--transactions",
        "/bank/day/transactions.csv",
        "--customers",
        "/bank/day/customers.csv",
        "--accounts",
        "/bank/day/accounts.csv",
        "--output",
        "/bank/reports",
    ]
    .map(String::from)
    .to_vec();
    let id = client::jobs::submit_binary(dfs, &jobs, &binary, &args)?;
    println!("[demo] submitted the transaction pipeline as {id}");
    let mut last = String::new();
    let report = jobs.wait(&id, |r| {
        let line: Vec<String> = r
            .stages
            .iter()
            .filter(|s| s.maps > 0 && (s.maps_done < s.maps || s.reduces_done < s.reduces))
            .map(|s| {
                format!(
                    "{}: maps {}/{}, reduces {}/{}",
                    s.name, s.maps_done, s.maps, s.reduces_done, s.reduces
                )
            })
            .collect();
        let line = line.join(" | ");
        if !line.is_empty() && line != last {
            println!("[demo]   {line}");
            last = line;
        }
    })?;
    if report.state != common::jobs::JobState::Succeeded {
        bail!(
            "the pipeline {id} failed: {}",
            report.error.unwrap_or_default()
        );
    }
    println!(
        "[demo] the pipeline finished in {:.1?}; summary.json:",
        t.elapsed()
    );
    print!(
        "{}",
        String::from_utf8_lossy(&dfs.read_file("/bank/reports/summary.json")?)
    );
    println!("[demo] reports (CSV with a header, part-* files):");
    for e in dfs.list("/bank/reports")? {
        if e.is_dir {
            let files = dfs.list_files(&e.path)?;
            let bytes: u64 = files.iter().map(|f| f.length).sum();
            println!(
                "[demo]   {}/  {} files, {}",
                e.path,
                files.len(),
                human(bytes)
            );
        }
    }
    Ok(())
}
