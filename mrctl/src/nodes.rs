//! `mrctl admin decommission|recommission NODE...` and `mrctl admin refresh-nodes`: taking
//! datanodes (at the namenode) and workers (at the job tracker) out of service and back, and
//! making both re-read their include and exclude lists. Superusers only.

use anyhow::bail;
use client::jobs::JobClient;
use client::DfsClient;
use std::process::ExitCode;

/// Sends the names to both daemons: first as a dry run, so a name that matches nothing
/// anywhere is refused before anything changes; then for real. Prints what each matched.
pub fn decommission(
    dfs: &DfsClient,
    jobs: &JobClient,
    nodes: &[String],
    recommission: bool,
) -> anyhow::Result<ExitCode> {
    if nodes.is_empty() {
        bail!("name at least one node: a datanode's transfer address (ip:port), a worker's host, or a bare host for every node on it");
    }
    let datanodes = dfs.decommission(nodes, recommission, true)?;
    let workers = jobs.decommission(nodes, recommission, true)?;
    let unmatched: Vec<&str> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            datanodes.get(*i).is_none_or(Vec::is_empty) && workers.get(*i).is_none_or(Vec::is_empty)
        })
        .map(|(_, n)| n.as_str())
        .collect();
    if !unmatched.is_empty() {
        bail!(
            "{} matched no datanode and no worker (nothing was changed); `mrctl cluster report` lists the nodes",
            unmatched.join(", ")
        );
    }
    let datanodes = dfs.decommission(nodes, recommission, false)?;
    let workers = jobs.decommission(nodes, recommission, false)?;
    let (dn_verb, w_verb) = if recommission {
        ("back in service", "back in service")
    } else {
        ("decommissioning", "draining")
    };
    for (i, name) in nodes.iter().enumerate() {
        for a in datanodes.get(i).into_iter().flatten() {
            outln!("{name}: datanode {a} {dn_verb}");
        }
        for h in workers.get(i).into_iter().flatten() {
            outln!("{name}: worker {h} {w_verb}");
        }
    }
    if !recommission {
        outln!("`mrctl cluster report` shows when they are decommissioned (safe to stop)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes both daemons re-read their include and exclude lists and prints what changed.
pub fn refresh(dfs: &DfsClient, jobs: &JobClient) -> anyhow::Result<ExitCode> {
    let datanodes = dfs.refresh_nodes()?;
    let workers = jobs.refresh_nodes()?;
    for c in &datanodes {
        outln!("datanode {c}");
    }
    for c in &workers {
        outln!("worker {c}");
    }
    if datanodes.is_empty() && workers.is_empty() {
        outln!("node lists re-read: nothing changed");
    }
    Ok(ExitCode::SUCCESS)
}
