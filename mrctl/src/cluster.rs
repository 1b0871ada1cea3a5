//! `mrctl cluster ...`: starting and stopping a local cluster, and the cluster report.

use crate::admin;
use ::cluster::{ClusterSpec, LocalCluster};
use anyhow::bail;
use clap::Subcommand;
use client::DfsClient;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Cluster {
    /// Starts (or restarts) a local cluster in DIR and writes DIR/client.toml.
    Up {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 4)]
        datanodes: usize,
        #[arg(long, default_value_t = 2)]
        racks: usize,
        /// No tokens, permission checks or TLS: every client is believed about its user.
        #[arg(long)]
        insecure: bool,
    },
    /// Stops the local cluster in DIR.
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Live, stale and dead datanodes, racks, capacity and use; the live workers, and which
    /// are excluded from scheduling (until when, and why).
    Report {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `config` is the `--config` flag, read only by the commands that talk to a running cluster.
pub fn run(
    cmd: Cluster,
    config: &Option<PathBuf>,
    token: &Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    match cmd {
        Cluster::Up {
            dir,
            datanodes,
            racks,
            insecure,
        } => {
            let spec = ClusterSpec {
                datanodes,
                racks,
                security: common::config::SecurityConfig {
                    insecure,
                    ..Default::default()
                },
                ..Default::default()
            };
            let c = LocalCluster::up(&dir, spec)?;
            outln!(
                "cluster up: {} datanodes on {} racks; use --config {}",
                c.spec.datanodes,
                c.spec.racks,
                c.client_config_path().display()
            );
            c.detach();
            Ok(ExitCode::SUCCESS)
        }
        Cluster::Down { dir } => {
            if !dir.join("cluster.toml").exists() {
                bail!("{}: no local cluster here", dir.display());
            }
            LocalCluster::prepare(&dir, ClusterSpec::default())?.down()?;
            outln!("cluster down");
            Ok(ExitCode::SUCCESS)
        }
        Cluster::Report { json } => {
            let config = crate::client_config(config, token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            admin::report(&DfsClient::connect(config)?, &jobs, json)
        }
    }
}
