//! `namenode --config FILE`: runs the namenode described by the file's `[namenode]` section.

use clap::Parser;
use common::config::ConfigFile;
use std::path::PathBuf;

// Millions of small, long-lived namespace objects built from short-lived RPC buffers on many
// threads: mimalloc keeps that far less fragmented than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "The block store's namenode")]
struct Args {
    /// TOML file with a [namenode] section (and optionally [topology]).
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::logging::init();
    let args = Args::parse();
    let file = ConfigFile::load(&args.config)?;
    let config = ConfigFile::section(&args.config, &file.namenode, "namenode")?;
    namenode::service::run(config, file.topology).await
}
