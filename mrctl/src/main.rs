//! `mrctl`: the command line for files (`mrctl fs ...`), jobs (`mrctl submit`, `mrctl job ...`),
//! clusters (`mrctl cluster ...`, `mrctl demo`) and administration (`mrctl admin certs`).
//! Thin glue over the `client` and `cluster` libraries: this file parses the command line and
//! dispatches to one module per command group; errors are one line naming the path and the
//! cause, and a reader that closes stdout early (`mrctl fs cat big | head -1`) ends the command
//! quietly with the status a shell gives a command killed by SIGPIPE (141).

/// `println!` that returns the write's error (`?`) instead of panicking: a reader closing
/// stdout early is a broken pipe to end on, not a crash.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

mod admin;
mod balance;
mod certs;
mod cluster;
mod demo;
mod fs;
mod job;
mod mode;
mod nodes;
mod printable;
mod quota;
mod safemode;
mod snapshot;
mod tokens;

use clap::{Parser, Subcommand};
use client::DfsClient;
use common::config::{ClientConfig, ConfigFile};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mrctl",
    version,
    about = "Files, jobs and clusters of the MapReduce engine and its block store"
)]
struct Cli {
    /// Client config (a TOML file with a [client] section), e.g. DIR/client.toml written by
    /// `mrctl cluster up`. Defaults to $MRCTL_CONFIG, else a namenode on 127.0.0.1:9000.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// A file holding your token (from `mrctl admin token issue`); overrides the config's
    /// [security] token_file.
    #[arg(long, global = true)]
    token: Option<PathBuf>,
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// File system commands.
    #[command(subcommand)]
    Fs(fs::Fs),
    /// Submits a job binary: `mrctl submit target/release/wordcount --wait -- IN OUT`.
    Submit(job::Submit),
    /// Job commands: list, status, counters, kill, wait, logs, queues.
    #[command(subcommand)]
    Job(job::JobCmd),
    /// Local clusters and cluster health.
    #[command(subcommand)]
    Cluster(cluster::Cluster),
    /// Cluster secret, tokens and TLS certificates (keygen, token issue, token revoke, certs);
    /// nodes (decommission, recommission, refresh-nodes).
    #[command(subcommand)]
    Admin(tokens::AdminCmd),
    /// Starts a local cluster, checks its files, runs the transaction pipeline on a generated
    /// day, prints the summary and the reports, then stops it.
    Demo {
        /// Where the demo cluster lives (removed first).
        #[arg(long, default_value = "target/demo-cluster")]
        dir: PathBuf,
    },
}

/// What a shell reports for a command killed by SIGPIPE (128 + 13), as `cat big | head` gives.
const SIGPIPE_STATUS: u8 = 141;

fn main() -> ExitCode {
    common::logging::init_quiet();
    let cli = Cli::parse_from(fs::hdfs_style_flags(std::env::args_os().collect()));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::from(SIGPIPE_STATUS);
            }
            // Errors name paths, which may hold control characters: print them escaped.
            eprintln!("mrctl: {}", printable::escape(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// The client config (`--config`, else `$MRCTL_CONFIG`, else the defaults), with `--token`
/// overriding its token file.
fn client_config(path: &Option<PathBuf>, token: &Option<PathBuf>) -> anyhow::Result<ClientConfig> {
    let path = path
        .clone()
        .or_else(|| std::env::var_os("MRCTL_CONFIG").map(PathBuf::from));
    let mut config = match path {
        None => ClientConfig::default(),
        Some(path) => {
            let f = ConfigFile::load(&path)?;
            ConfigFile::section(&path, &f.client, "client")?
        }
    };
    if let Some(t) = token {
        config.security.token_file = t.clone();
    }
    Ok(config)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Top::Fs(cmd) => {
            let dfs = DfsClient::connect(client_config(&cli.config, &cli.token)?)?;
            fs::run(&dfs, cmd)
        }
        Top::Submit(cmd) => {
            let config = client_config(&cli.config, &cli.token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            job::submit(&DfsClient::connect(config)?, &jobs, cmd)
        }
        Top::Job(cmd) => {
            let config = client_config(&cli.config, &cli.token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            job::job_command(&jobs, cmd)
        }
        Top::Cluster(cmd) => cluster::run(cmd, &cli.config, &cli.token),
        Top::Admin(cmd) => tokens::run(cmd, &cli.config, &cli.token),
        Top::Demo { dir } => demo::run(&dir),
    }
}
