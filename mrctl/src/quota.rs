//! `mrctl admin quota set|clear DIR`: a directory's name quota (files and directories under it,
//! itself counted) and space quota (bytes times replication), as HDFS's `dfsadmin -setQuota`
//! and `-setSpaceQuota`. Superusers only; `mrctl fs count -q` shows them.

use anyhow::{bail, Context};
use clap::Subcommand;
use client::DfsClient;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum QuotaCmd {
    /// Sets a directory's name quota, space quota, or both.
    Set {
        dir: String,
        /// Most files and directories under DIR, DIR itself counted.
        #[arg(long)]
        names: Option<u64>,
        /// Most bytes under DIR counting every replica: a number with an optional unit
        /// (k, m, g, t, p: powers of 1024), e.g. 10g.
        #[arg(long, value_parser = parse_bytes)]
        space: Option<u64>,
    },
    /// Removes a directory's quotas: both, or only those named.
    Clear {
        dir: String,
        #[arg(long)]
        names: bool,
        #[arg(long)]
        space: bool,
    },
}

pub fn run(dfs: &DfsClient, cmd: QuotaCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        QuotaCmd::Set { dir, names, space } => {
            if names.is_none() && space.is_none() {
                bail!("quota set {dir}: give --names N, --space BYTES, or both");
            }
            dfs.set_quota(&dir, names, space, false, false)
                .with_context(|| format!("setting the quota of {dir}"))?;
            let mut said = Vec::new();
            if let Some(n) = names {
                said.push(format!("name quota {n}"));
            }
            if let Some(b) = space {
                said.push(format!("space quota {b} bytes"));
            }
            outln!("{dir}: {}", said.join(", "));
        }
        QuotaCmd::Clear { dir, names, space } => {
            // Neither named: both, as `clear DIR` reads.
            let (names, space) = if names || space {
                (names, space)
            } else {
                (true, true)
            };
            dfs.set_quota(&dir, None, None, names, space)
                .with_context(|| format!("clearing the quota of {dir}"))?;
            let what = match (names, space) {
                (true, true) => "name and space quotas",
                (true, false) => "name quota",
                _ => "space quota",
            };
            outln!("{dir}: {what} cleared");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A byte count: digits with an optional unit, k/m/g/t/p (with or without a trailing `b` or
/// `ib`), each a power of 1024 as HDFS reads them: `10g`, `1t`, `512M`, `1.5g`, `4096`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => {
            return Err(format!(
                "{s:?}: the unit must be k, m, g, t or p (e.g. 10g)"
            ))
        }
    };
    let n: f64 = num.parse().map_err(|_| {
        format!("{s:?}: expected a number of bytes with an optional unit (e.g. 10g)")
    })?;
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!(
            "{s:?}: must be at least one byte and fit in 64 bits"
        ));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("10g"), Ok(10 << 30));
        assert_eq!(parse_bytes("1t"), Ok(1 << 40));
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("3MiB"), Ok(3 << 20));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        for bad in ["", "g", "10x", "0", "-5"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
