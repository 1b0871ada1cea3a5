//! Cluster health for operators: `mrctl fs fsck` (block health under a path, as text or JSON)
//! and `mrctl cluster report` (datanodes, racks, capacity, safe mode; workers and which are
//! excluded from scheduling), as text or JSON.

use client::jobs::JobClient;
use client::DfsClient;
use std::io::Write;
use std::process::ExitCode;

pub fn fsck(
    dfs: &DfsClient,
    path: &str,
    json: bool,
    list: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let r = dfs.fsck(path)?;
    let healthy = r.corrupt == 0 && r.missing == 0;
    // Readable but short of good replicas (too few, or some corrupt): not HEALTHY, though
    // the namenode heals it by itself, so the exit code stays 0.
    let degraded = r.under_replicated > 0
        || r.blocks
            .iter()
            .any(|b| b.replicas.iter().any(|x| x.corrupt));
    let status = match (healthy, degraded) {
        (false, _) => "CORRUPT",
        (true, true) => "DEGRADED",
        (true, false) => "HEALTHY",
    };
    if json {
        let blocks: Vec<serde_json::Value> = r
            .blocks
            .iter()
            .map(|b| {
                let blk = b.block.unwrap_or_default();
                serde_json::json!({
                    "path": b.path,
                    "block": format!("blk_{}", blk.id),
                    "gen_stamp": blk.gen_stamp,
                    "length": blk.num_bytes,
                    "expected_replication": b.expected_replication,
                    "replicas": b.replicas.iter().map(|r| serde_json::json!({
                        "node": r.node, "rack": r.rack, "corrupt": r.corrupt, "stale": r.stale,
                    })).collect::<Vec<_>>(),
                    "under_replicated": b.under_replicated,
                    "mis_replicated": b.mis_replicated,
                    "corrupt": b.corrupt,
                    "missing": b.missing,
                })
            })
            .collect();
        let v = serde_json::json!({
            "path": path,
            "status": status,
            "files": r.files,
            "directories": r.directories,
            "total_bytes": r.total_bytes,
            "total_blocks": r.blocks.len(),
            "under_replicated": r.under_replicated,
            "mis_replicated": r.mis_replicated,
            "corrupt": r.corrupt,
            "missing": r.missing,
            "blocks": blocks,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for b in &r.blocks {
            let corrupt_replicas = b.replicas.iter().any(|x| x.corrupt);
            let problem = b.under_replicated
                || b.mis_replicated
                || b.corrupt
                || b.missing
                || corrupt_replicas;
            if !list && !problem {
                continue;
            }
            let blk = b.block.unwrap_or_default();
            let reps: Vec<String> = b
                .replicas
                .iter()
                .map(|r| {
                    format!(
                        "{}{}{}",
                        r.node,
                        r.rack,
                        if r.corrupt { " (corrupt)" } else { "" }
                    )
                })
                .collect();
            let mut flags = Vec::new();
            for (f, name) in [
                (b.under_replicated, "UNDER-REPLICATED"),
                (b.mis_replicated, "MIS-REPLICATED"),
                (b.corrupt, "CORRUPT"),
                (b.missing, "MISSING"),
                (corrupt_replicas && !b.corrupt, "CORRUPT-REPLICA"),
            ] {
                if f {
                    flags.push(name);
                }
            }
            writeln!(
                out,
                "{} blk_{} len={} repl={}/{} [{}] {}",
                crate::printable::escape(&b.path),
                blk.id,
                blk.num_bytes,
                b.replicas.iter().filter(|r| !r.corrupt).count(),
                b.expected_replication,
                reps.join(", "),
                flags.join(" ")
            )?;
        }
        writeln!(out, "Status: {status}")?;
        writeln!(out, " Total size:\t{} B", r.total_bytes)?;
        writeln!(out, " Total dirs:\t{}", r.directories)?;
        writeln!(out, " Total files:\t{}", r.files)?;
        writeln!(out, " Total blocks:\t{}", r.blocks.len())?;
        writeln!(out, " Under-replicated blocks:\t{}", r.under_replicated)?;
        writeln!(out, " Mis-replicated blocks:\t{}", r.mis_replicated)?;
        writeln!(out, " Corrupt blocks:\t{}", r.corrupt)?;
        writeln!(out, " Missing blocks:\t{}", r.missing)?;
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn report(dfs: &DfsClient, jobs: &JobClient, json: bool) -> anyhow::Result<ExitCode> {
    let r = dfs.cluster_report()?;
    // The block store's report stands without the job tracker: its absence is said, not fatal.
    let workers = jobs.worker_statuses();
    let count = |s: &str| r.datanodes.iter().filter(|d| d.state == s).count();
    let mut racks: Vec<&str> = r
        .datanodes
        .iter()
        .filter_map(|d| d.info.as_ref().map(|i| i.rack.as_str()))
        .collect();
    racks.sort_unstable();
    racks.dedup();
    let (cap, used, remaining) = r
        .datanodes
        .iter()
        .filter(|d| d.state != "dead")
        .fold((0u64, 0u64, 0u64), |(c, u, f), d| {
            (c + d.capacity, u + d.used, f + d.remaining)
        });
    if json {
        let workers = match &workers {
            Ok(ws) => serde_json::Value::Array(
                ws.iter()
                    .map(|w| {
                        serde_json::json!({
                            "host": w.host,
                            "slots": w.slots,
                            "excluded": w.excluded_until_ms.is_some(),
                            "excluded_until_ms": w.excluded_until_ms,
                            "excluded_reason": w.excluded_reason,
                            "admin_state": w.admin_state,
                        })
                    })
                    .collect(),
            ),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let v = serde_json::json!({
            "safe_mode": r.safe_mode,
            "safe_mode_reason": r.safe_mode_reason,
            "datanodes": {
                "live": count("live"),
                "stale": count("stale"),
                "dead": count("dead"),
                "nodes": r.datanodes.iter().map(|d| {
                    let i = d.info.clone().unwrap_or_default();
                    serde_json::json!({
                        "address": i.data_addr,
                        "rack": i.rack,
                        "state": d.state,
                        "admin_state": d.admin_state,
                        "decommission_blocks_left": d.decommission_blocks_left,
                        "blocks": d.blocks,
                        "used": d.used,
                        "remaining": d.remaining,
                    })
                }).collect::<Vec<_>>(),
            },
            "racks": racks.len(),
            "capacity": cap,
            "used": used,
            "remaining": remaining,
            "files": r.files,
            "blocks": r.total_blocks,
            "workers": workers,
            // The namenode's refusals of calls for their token, by reason.
            "refused_tokens": r
                .refused_tokens
                .iter()
                .map(|t| (t.reason.clone(), serde_json::Value::from(t.count)))
                .collect::<serde_json::Map<_, _>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "Safe mode: {}",
        if r.safe_mode {
            format!("ON ({})", r.safe_mode_reason)
        } else {
            "off".into()
        }
    );
    outln!(
        "Datanodes: {} live, {} stale, {} dead, on {} racks",
        count("live"),
        count("stale"),
        count("dead"),
        racks.len()
    );
    outln!(
        "Capacity: {}  Used by blocks: {}  Remaining: {}",
        human(cap),
        human(used),
        human(remaining)
    );
    outln!(
        "Files: {}  Blocks: {}  Awaiting replication check: {}  Pending deletions: {}",
        r.files,
        r.total_blocks,
        r.under_replicated,
        r.pending_deletions
    );
    if !r.refused_tokens.is_empty() {
        let counts: Vec<String> = r
            .refused_tokens
            .iter()
            .map(|t| format!("{} {}", t.count, t.reason))
            .collect();
        outln!("Refused tokens (namenode): {}", counts.join(", "));
    }
    outln!();
    for d in &r.datanodes {
        let i = d.info.clone().unwrap_or_default();
        let admin = match d.admin_state.as_str() {
            "decommissioning" => format!(
                " DECOMMISSIONING ({} blocks left to copy)",
                d.decommission_blocks_left
            ),
            "decommissioned" => " DECOMMISSIONED (safe to stop)".into(),
            _ => String::new(),
        };
        outln!(
            "{:<22} {:<10} {:<6} blocks={:<6} used={:<10} remaining={:<10} last contact {} ms ago{admin}",
            i.data_addr,
            i.rack,
            d.state,
            d.blocks,
            human(d.used),
            human(d.remaining),
            d.last_heartbeat_ms_ago
        );
    }
    outln!();
    match workers {
        Ok(ws) => {
            let excluded = ws.iter().filter(|w| w.excluded_until_ms.is_some()).count();
            outln!(
                "Workers: {} live, {excluded} excluded from scheduling",
                ws.len()
            );
            let now = common::jobs::now_ms();
            for w in &ws {
                match w.excluded_until_ms {
                    Some(until) => outln!(
                        "{:<22} slots={:<3} EXCLUDED until {} (in {} s): {}",
                        w.host,
                        w.slots,
                        utc_time(until),
                        until.saturating_sub(now).div_ceil(1000),
                        w.excluded_reason
                    ),
                    None => outln!("{:<22} slots={:<3} {}", w.host, w.slots, w.admin_state),
                }
            }
        }
        Err(e) => outln!("Workers: unknown: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The time of day (UTC) of a time in ms since the epoch: `04:20:00 UTC`.
fn utc_time(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// Bytes in binary units with one decimal (`3.0 MiB`).
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
