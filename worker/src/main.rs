//! `worker --config FILE`: runs the worker described by the file's `[worker]` section.

use clap::Parser;
use common::config::ConfigFile;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "The MapReduce engine's per-node task runner and shuffle server"
)]
struct Args {
    /// TOML file with a [worker] section.
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::logging::init();
    let args = Args::parse();
    let file = ConfigFile::load(&args.config)?;
    let config = ConfigFile::section(&args.config, &file.worker, "worker")?;
    worker::service::run(config).await
}
