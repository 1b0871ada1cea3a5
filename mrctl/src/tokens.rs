//! `mrctl admin keygen`, `mrctl admin token ...` and `mrctl admin certs`: making and rotating the cluster secret,
//! issuing user tokens from it, and revoking them at the namenode; the node commands
//! (decommission, recommission, refresh-nodes) dispatch to [`crate::nodes`].

use anyhow::{bail, Context};
use clap::Subcommand;
use client::DfsClient;
use common::auth::{now_ms, ClusterSecret, Grant, TokenBody};
use common::config::ClientConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Writes a new cluster secret (mode 0600) to FILE, or with --rotate adds a new signing key
    /// to the existing one (tokens signed by its older keys keep working).
    Keygen {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        rotate: bool,
    },
    /// Issuing and revoking user tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Makes (or reuses) a CA and signs a TLS certificate for a host; prints the [security]
    /// lines naming the files.
    Certs(crate::certs::Certs),
    /// Lets DIR have snapshots (superuser); snapshottable directories may not nest.
    AllowSnapshot { dir: String },
    /// Makes DIR an ordinary directory again (superuser); refused while it has snapshots.
    DisallowSnapshot { dir: String },
    /// Directory quotas: set and clear name and space quotas (superusers).
    #[command(subcommand)]
    Quota(crate::quota::QuotaCmd),
    /// The namenode's safe mode: get, enter, leave, wait.
    #[command(subcommand)]
    Safemode(crate::safemode::SafemodeCmd),
    /// Takes datanodes and workers out of service: a datanode's blocks are copied elsewhere
    /// first, a worker drains. NODE: a datanode's transfer address (ip:port, as `cluster
    /// report` shows it), a worker's host, or a bare host for every node on it. Superusers only.
    Decommission {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Returns decommissioned (or decommissioning) datanodes and workers to service.
    Recommission {
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Makes the namenode and the job tracker re-read their include and exclude lists.
    RefreshNodes,
    /// Moves replicas until every datanode's utilization is within --threshold points of the
    /// cluster's mean (superusers only); safe to stop at any moment.
    Balance(crate::balance::Balance),
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Signs a token for USER with the cluster secret; prints it on stdout and its id on
    /// stderr.
    Issue {
        #[arg(long)]
        user: String,
        /// Comma-separated groups.
        #[arg(long, default_value = "")]
        groups: String,
        /// How long it is valid: a number and a unit (s, m, h, d), e.g. 30d.
        #[arg(long, default_value = "30d")]
        ttl: String,
        /// The cluster secret; defaults to the config's [security] secret_file.
        #[arg(long)]
        secret: Option<PathBuf>,
    },
    /// Revokes a token (by the id `issue` printed) on every daemon; superusers only.
    Revoke { id: String },
}

pub fn run(
    cmd: AdminCmd,
    config: &Option<PathBuf>,
    token: &Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCmd::Keygen { out, rotate } => keygen(&out, rotate),
        AdminCmd::Certs(args) => crate::certs::run(args),
        AdminCmd::AllowSnapshot { dir } => {
            let dfs = DfsClient::connect(crate::client_config(config, token)?)?;
            crate::snapshot::allow(&dfs, &dir, true)
        }
        AdminCmd::DisallowSnapshot { dir } => {
            let dfs = DfsClient::connect(crate::client_config(config, token)?)?;
            crate::snapshot::allow(&dfs, &dir, false)
        }
        AdminCmd::Quota(cmd) => {
            let dfs = DfsClient::connect(crate::client_config(config, token)?)?;
            crate::quota::run(&dfs, cmd)
        }
        AdminCmd::Safemode(cmd) => {
            let dfs = DfsClient::connect(crate::client_config(config, token)?)?;
            crate::safemode::run(&dfs, cmd)
        }
        AdminCmd::Decommission { nodes } => {
            let config = crate::client_config(config, token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            crate::nodes::decommission(&DfsClient::connect(config)?, &jobs, &nodes, false)
        }
        AdminCmd::Recommission { nodes } => {
            let config = crate::client_config(config, token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            crate::nodes::decommission(&DfsClient::connect(config)?, &jobs, &nodes, true)
        }
        AdminCmd::RefreshNodes => {
            let config = crate::client_config(config, token)?;
            let jobs = client::jobs::JobClient::connect(&config)?;
            crate::nodes::refresh(&DfsClient::connect(config)?, &jobs)
        }
        AdminCmd::Balance(args) => {
            let dfs = DfsClient::connect(crate::client_config(config, token)?)?;
            crate::balance::run(&dfs, args)
        }
        AdminCmd::Token(TokenCmd::Issue {
            user,
            groups,
            ttl,
            secret,
        }) => {
            let secret = match secret {
                Some(s) => s,
                None => crate::client_config(config, token)?.security.secret_file,
            };
            let code = issue(&secret, &user, &groups, &ttl)?;
            make_home(config, token, &user, &groups);
            Ok(code)
        }
        AdminCmd::Token(TokenCmd::Revoke { id }) => {
            let config: ClientConfig = crate::client_config(config, token)?;
            let dfs = DfsClient::connect(config)?;
            dfs.revoke_token(&id)?;
            outln!("revoked token {}", id.trim());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Makes the user's home directory, `/user/NAME` (owner NAME, group their first group or
/// NAME, 0755), as a Hadoop administrator does by hand; a note on stderr when it cannot.
fn make_home(config: &Option<PathBuf>, token: &Option<PathBuf>, user: &str, groups: &str) {
    let user = user.trim();
    let group = groups
        .split(',')
        .map(str::trim)
        .find(|g| !g.is_empty())
        .unwrap_or(user);
    let made = crate::client_config(config, token)
        .and_then(|c| Ok(DfsClient::connect(c)?))
        .and_then(|dfs| Ok(dfs.make_home(user, group)?));
    match made {
        Ok(true) => eprintln!("made the home directory /user/{user} ({user}:{group}, 0755)"),
        Ok(false) => {}
        Err(e) => eprintln!(
            "note: the home directory /user/{user} was not made ({e:#}); make it once the \
             namenode is up: mrctl fs mkdir /user/{user} && mrctl fs chown {user}:{group} \
             /user/{user}"
        ),
    }
}

fn keygen(out: &Path, rotate: bool) -> anyhow::Result<ExitCode> {
    if rotate {
        let mut secret = ClusterSecret::load(out)?;
        let id = secret.rotate()?;
        secret.save(out)?;
        eprintln!(
            "{}: added key {id}, which signs from now on (deploy the file to every node and \
             restart the daemons)",
            out.display()
        );
    } else {
        if out.exists() {
            bail!(
                "{}: already exists (add a key with --rotate, or remove it first)",
                out.display()
            );
        }
        ClusterSecret::generate()?.save(out)?;
        eprintln!(
            "{}: new cluster secret (mode 0600); deploy it to every node",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn issue(secret: &Path, user: &str, groups: &str, ttl: &str) -> anyhow::Result<ExitCode> {
    if secret.as_os_str().is_empty() {
        bail!("no cluster secret: pass --secret FILE or set [security] secret_file in the config");
    }
    let user = user.trim();
    if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("--user {user:?}: a user name is one word");
    }
    let ttl_ms = parse_ttl(ttl)?;
    let secret = ClusterSecret::load(secret)?;
    let groups: Vec<String> = groups
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(String::from)
        .collect();
    let body = TokenBody::new(
        &secret,
        Grant::User {
            user: user.into(),
            groups,
        },
        now_ms(),
        ttl_ms,
    )?;
    let text = body.sign(&secret)?;
    outln!("{text}");
    eprintln!(
        "token id {} for {user} (revoke it with `mrctl admin token revoke {}`)",
        body.id, body.id
    );
    Ok(ExitCode::SUCCESS)
}

/// `30d`, `12h`, `90m`, `45s` as milliseconds.
pub fn parse_ttl(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .with_context(|| format!("--ttl {s:?}: expected a number and a unit (s, m, h, d)"))?;
    let per = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("--ttl {s:?}: the unit must be s, m, h or d (e.g. 30d)"),
    };
    if n == 0 {
        bail!("--ttl {s:?}: must be more than zero");
    }
    Ok(n.saturating_mul(per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_with_their_unit() {
        assert_eq!(parse_ttl("30d").expect("d"), 30 * 86_400_000);
        assert_eq!(parse_ttl("2h").expect("h"), 7_200_000);
        assert_eq!(parse_ttl("5s").expect("s"), 5_000);
        for bad in ["", "d", "10", "10y", "0d", "-1d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
