//! `datanode --config FILE`: runs the datanode described by the file's `[datanode]` section.

use clap::Parser;
use common::config::ConfigFile;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "The block store's datanode")]
struct Args {
    /// TOML file with a [datanode] section.
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::logging::init();
    let args = Args::parse();
    let file = ConfigFile::load(&args.config)?;
    let config = ConfigFile::section(&args.config, &file.datanode, "datanode")?;
    datanode::service::run(config).await
}
