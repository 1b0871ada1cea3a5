//! `jobtracker --config FILE`: runs the job tracker described by the file's `[jobtracker]`
//! section (racks come from its `[topology]` section).

use clap::Parser;
use common::config::ConfigFile;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "The MapReduce engine's job tracker")]
struct Args {
    /// TOML file with a [jobtracker] section.
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::logging::init();
    let args = Args::parse();
    let file = ConfigFile::load(&args.config)?;
    let config = ConfigFile::section(&args.config, &file.jobtracker, "jobtracker")?;
    jobtracker::service::run(config, file.topology).await?;
    Ok(())
}
