//! `mrctl demo`: a local cluster started, files written, read back and checked, the
//! transaction pipeline run on a generated day, the cluster stopped.

use crate::admin::human;
use ::cluster::{ClusterSpec, LocalCluster};
use anyhow::{bail, Context};
use client::{ClientError, CreateOptions, DfsClient};
use std::path::Path;
use std::process::ExitCode;

/// The README's first command until the job engine exists: a cluster of several datanodes on
/// two racks, files written, read back and checked, the cluster stopped.
pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    if dir.join("cluster.toml").exists() {
        if let Ok(c) = LocalCluster::prepare(dir, ClusterSpec::default()) {
            let _ = c.down();
        }
        std::fs::remove_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let mut spec = ClusterSpec::fast(4, 2);
    spec.namenode.default_block_size = 8 << 20;
    outln!(
        "[demo] starting a local cluster: 1 namenode, 4 datanodes on 2 racks, a job tracker and 4 workers, in {}",
        dir.display()
    );
    let cluster = LocalCluster::up(dir, spec)?;
    let dfs = cluster.client()?;
    dfs.mkdirs("/demo")?;
    let mut files = Vec::new();
    for (i, size) in [(0, 1000usize), (1, 3 << 20), (2, 20 << 20)] {
        let data: Vec<u8> = (0..size).map(|j| ((j * 31 + i * 7) % 251) as u8).collect();
        let path = format!("/demo/file-{i}");
        let t = std::time::Instant::now();
        dfs.write_file(&path, &data, CreateOptions::default())?;
        outln!(
            "[demo] wrote {path}: {} in {:.0?}",
            human(size as u64),
            t.elapsed()
        );
        files.push((path, data));
    }
    for (path, data) in &files {
        let back = dfs.read_file(path)?;
        if &back != data {
            bail!(
                "{path}: read back {} bytes that differ from what was written",
                back.len()
            );
        }
        outln!("[demo] read back {path}: identical");
    }
    let r = dfs.fsck("/demo")?;
    for b in r.blocks.iter().take(4) {
        let reps: Vec<String> = b
            .replicas
            .iter()
            .map(|r| format!("{}{}", r.node, r.rack))
            .collect();
        outln!(
            "[demo] {} blk_{}: {}",
            b.path,
            b.block.map_or(0, |x| x.id),
            reps.join(", ")
        );
    }
    outln!(
        "[demo] fsck /demo: {} files, {} blocks, under-replicated {}, mis-replicated {}, corrupt {}, missing {}",
        r.files,
        r.blocks.len(),
        r.under_replicated,
        r.mis_replicated,
        r.corrupt,
        r.missing
    );
    demo_transactions(&cluster, &dfs, dir)?;
    cluster.down()?;
    outln!("[demo] cluster stopped; logs in {}/logs", dir.display());
    if r.corrupt + r.missing > 0 {
        return Err(ClientError::Internal("the demo's files are not healthy".into()).into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's job: the transaction pipeline over a generated day, submitted as `mrctl submit`
/// does, with its progress, summary and reports printed.
fn demo_transactions(cluster: &LocalCluster, dfs: &DfsClient, dir: &Path) -> anyhow::Result<()> {
    let binary = ::cluster::bin_dir()?.join("transactions");
    if !binary.exists() {
        outln!(
            "[demo] skipping the pipeline: {} is not built",
            binary.display()
        );
        return Ok(());
    }
    let local = dir.join("sample-day");
    let t = std::time::Instant::now();
    let gen = std::process::Command::new(&binary)
        .args([
            "gen",
            "--rows",
            "300000",
            "--customers",
            "20000",
            "--accounts",
            "40000",
        ])
        .args(["--seed", "2026", "--out"])
        .arg(&local)
        .output()
        .with_context(|| binary.display().to_string())?;
    if !gen.status.success() {
        bail!(
            "generating the sample day: {}",
            String::from_utf8_lossy(&gen.stderr)
        );
    }
    for name in ["transactions", "customers", "accounts"] {
        let data = std::fs::read(local.join(format!("{name}.csv")))?;
        dfs.write_file(
            &format!("/bank/day/{name}.csv"),
            &data,
            CreateOptions::default(),
        )?;
        outln!(
            "[demo] loaded /bank/day/{name}.csv ({})",
            human(data.len() as u64)
        );
    }
    outln!(
        "[demo] sample day generated and loaded in {:.1?}",
        t.elapsed()
    );
    let jobs = cluster.job_client()?;
    let t = std::time::Instant::now();
    let args: Vec<String> = [
        "run",
        "--transactions",
        "/bank/day/transactions.csv",
        "--customers",
        "/bank/day/customers.csv",
        "--accounts",
        "/bank/day/accounts.csv",
        "--output",
        "/bank/reports",
    ]
    .map(String::from)
    .to_vec();
    let id = client::jobs::submit_binary(dfs, &jobs, &binary, &args)?;
    outln!("[demo] submitted the transaction pipeline as {id}");
    let mut last = String::new();
    let report = jobs.wait(&id, |r| {
        let line: Vec<String> = r
            .stages
            .iter()
            .filter(|s| s.maps > 0 && (s.maps_done < s.maps || s.reduces_done < s.reduces))
            .map(|s| {
                format!(
                    "{}: maps {}/{}, reduces {}/{}",
                    s.name, s.maps_done, s.maps, s.reduces_done, s.reduces
                )
            })
            .collect();
        let line = line.join(" | ");
        if !line.is_empty() && line != last {
            // Progress only: a closed stdout shows at the next line that must print.
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                format!("[demo]   {line}\n").as_bytes(),
            );
            last = line;
        }
    })?;
    if report.state != common::jobs::JobState::Succeeded {
        bail!(
            "the pipeline {id} failed: {}",
            report.error.unwrap_or_default()
        );
    }
    outln!(
        "[demo] the pipeline finished in {:.1?}; summary.json:",
        t.elapsed()
    );
    std::io::Write::write_all(
        &mut std::io::stdout(),
        &dfs.read_file("/bank/reports/summary.json")?,
    )?;
    outln!("[demo] reports (CSV with a header, part-* files):");
    for e in dfs.list("/bank/reports")? {
        if e.is_dir {
            let files = dfs.list_files(&e.path)?;
            let bytes: u64 = files.iter().map(|f| f.length).sum();
            outln!(
                "[demo]   {}/  {} files, {}",
                e.path,
                files.len(),
                human(bytes)
            );
        }
    }
    Ok(())
}
