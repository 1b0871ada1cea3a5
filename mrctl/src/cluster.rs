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
    /// Starts (or restarts) a local cluster in DIR and writes DIR/client.toml. On an existing
    /// cluster, --datanodes and --workers add the missing nodes (running daemons are left
    /// alone).
    Up {
        #[arg(long)]
        dir: PathBuf,
        /// Datanodes (default 4 for a new cluster; the current count for an existing one).
        #[arg(long)]
        datanodes: Option<usize>,
        /// Workers, one per datanode host (default: as many as datanodes for a new cluster,
        /// the current count for an existing one).
        #[arg(long)]
        workers: Option<usize>,
        /// Caps each datanode's capacity (e.g. 64m, 10g); on an existing cluster, the new
        /// datanodes'.
        #[arg(long, value_parser = parse_size)]
        datanode_capacity: Option<u64>,
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
            workers,
            datanode_capacity,
            racks,
            insecure,
        } => {
            if dir.join("cluster.toml").exists() {
                let current = LocalCluster::prepare(&dir, ClusterSpec::default())?;
                let spec = current.spec.clone();
                current.detach();
                let dn = datanodes.unwrap_or(spec.datanodes);
                let w = workers.unwrap_or(spec.worker_count());
                if dn != spec.datanodes || w != spec.worker_count() {
                    LocalCluster::grow(&dir, dn, w, datanode_capacity)?;
                }
            }
            let datanode = common::config::DatanodeConfig {
                capacity_bytes: datanode_capacity.unwrap_or(0),
                ..Default::default()
            };
            let datanodes = datanodes.unwrap_or(4);
            let spec = ClusterSpec {
                datanodes,
                workers,
                datanode,
                racks,
                security: common::config::SecurityConfig {
                    insecure,
                    ..Default::default()
                },
                ..Default::default()
            };
            let c = LocalCluster::up(&dir, spec)?;
            outln!(
                "cluster up: {} datanodes on {} racks, {} workers; use --config {}",
                c.spec.datanodes,
                c.spec.racks,
                c.spec.worker_count(),
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

/// A size in bytes: a number with an optional unit, k, m, g or t (powers of 1024), e.g. `64m`.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("{text:?} is not a size: give bytes or a number with k, m, g or t (e.g. 64m)")
    })?;
    n.checked_mul(1u64 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("{text:?}: give a positive size below 16 EiB"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(super::parse_size("64m"), Ok(64 << 20));
        assert_eq!(super::parse_size("10G"), Ok(10 << 30));
        assert_eq!(super::parse_size("4096"), Ok(4096));
        assert_eq!(super::parse_size("2kb"), Ok(2048));
        assert!(super::parse_size("lots").is_err());
        assert!(super::parse_size("0").is_err());
    }
}
