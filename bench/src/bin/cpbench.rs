//! `cpbench`: the control plane's figures, each a ratio against a baseline measured in the
//! same run on the same cluster (four datanodes, four one-slot workers):
//! - a worker killed while three reducers hold every other slot and maps remain (the stall of
//!   issue 11), against the same job undisturbed;
//! - the time from a job tracker's restart (after `kill -9` in the middle of a job's maps) to
//!   the job's first new attempt, against the time from a submit to a fresh job's first attempt.
//!
//! Run with `bash bench/control_plane.sh [LINES_PER_FILE]`, which builds the binaries first.

use anyhow::{bail, Context};
use cluster::{ClusterSpec, LocalCluster};
use common::jobs::JobState;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WORKERS: usize = 4;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("mr-cpbench-").tempdir()?;
    let mut spec = ClusterSpec::fast(WORKERS, 2);
    spec.worker.slots = 1;
    spec.jobtracker.reduce_slow_start = 0.0;
    let expiry = spec.jobtracker.worker_expiry_ms;
    let cluster = LocalCluster::up(dir.path(), spec)?;
    let dfs = cluster.client()?;
    let lines: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("LINES_PER_FILE must be a number")?,
        None => 150_000,
    };
    for i in 0..24 {
        let text = words(lines, 5_000, 11 + i);
        dfs.write_file(
            &format!("/in/f{i:02}.txt"),
            text.as_bytes(),
            Default::default(),
        )?;
    }
    let bench = Bench { cluster: &cluster };

    // Warm the binary cache so both measured runs start alike.
    bench.run_to_end(&bench.submit("/warm")?)?;

    let t = Instant::now();
    let id = bench.submit("/undisturbed")?;
    bench.run_to_end(&id)?;
    let undisturbed = t.elapsed();

    let t = Instant::now();
    let id = bench.submit("/killed")?;
    let victim = bench.wait_for("three reducers running", || {
        let logs: Vec<Vec<String>> = (0..WORKERS).map(|w| bench.attempts(w, &id)).collect();
        let reducing: Vec<usize> = (0..WORKERS)
            .filter(|&w| logs[w].iter().any(|a| a.contains("_r_")))
            .collect();
        (reducing.len() == 3).then(|| (0..WORKERS).find(|w| !reducing.contains(w)))?
    })?;
    cluster.kill(&format!("worker-{victim}"))?;
    bench.run_to_end(&id)?;
    let killed = t.elapsed();
    cluster.start(&format!("worker-{victim}"))?;

    // A fresh job's start: submit to its first attempt.
    let t = Instant::now();
    let id = bench.submit("/fresh")?;
    bench.wait_for("the first attempt", || {
        (0..WORKERS)
            .any(|w| !bench.attempts(w, &id).is_empty())
            .then_some(())
    })?;
    let first_attempt = t.elapsed();
    bench.run_to_end(&id)?;

    // A job tracker killed in the middle of the maps and started again.
    let id = bench.submit("/restarted")?;
    bench.wait_for("a third of the maps done", || {
        let r = bench.jobs().job(&id).ok()?;
        let s = r.stages.first()?;
        (s.maps_done * 3 >= s.maps).then_some(())
    })?;
    cluster.kill("jobtracker")?;
    let before: BTreeSet<String> = (0..WORKERS).flat_map(|w| bench.attempts(w, &id)).collect();
    let t = Instant::now();
    cluster.start("jobtracker")?;
    bench.wait_for("a new attempt after the restart", || {
        (0..WORKERS)
            .flat_map(|w| bench.attempts(w, &id))
            .any(|a| !before.contains(&a))
            .then_some(())
    })?;
    let restart_to_task = t.elapsed();
    let end = bench.run_to_end(&id);

    println!(
        "stall scenario (24 maps of {lines} lines, 3 reducers, 4 one-slot workers): undisturbed {undisturbed:.2?}, a worker killed {killed:.2?} (a worker is lost after {expiry} ms of silence)"
    );
    println!(
        "stall_ratio={:.2}",
        killed.as_secs_f64() / undisturbed.as_secs_f64()
    );
    println!(
        "job tracker restart: restart to first new attempt {restart_to_task:.2?}, submit to first attempt {first_attempt:.2?} (job after restart: {})",
        match end {
            Ok(()) => "succeeded".to_string(),
            Err(e) => format!("{e:#}"),
        }
    );
    println!(
        "restart_to_task_ratio={:.2}",
        restart_to_task.as_secs_f64() / first_attempt.as_secs_f64()
    );
    cluster.down()?;
    Ok(())
}

struct Bench<'a> {
    cluster: &'a LocalCluster,
}

impl Bench<'_> {
    fn jobs(&self) -> client::jobs::JobClient {
        self.cluster.job_client().expect("a job client")
    }

    /// Submits wordcount over `/in` with three reducers, as a user does; returns the job id.
    fn submit(&self, out: &str) -> anyhow::Result<String> {
        let bin = cluster::bin_dir()?;
        let o = Command::new(bin.join("mrctl"))
            .arg("--config")
            .arg(self.cluster.client_config_path())
            .arg("submit")
            .arg(bin.join("wordcount"))
            .args(["--", "/in", out, "--reducers", "3"])
            .output()?;
        if !o.status.success() {
            bail!("submit: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(String::from_utf8(o.stdout)?.trim().to_string())
    }

    /// Waits for the job to end; an error unless it succeeded.
    fn run_to_end(&self, id: &str) -> anyhow::Result<()> {
        let r = self.wait_for("the job to end", || {
            let r = self.jobs().job(id).ok()?;
            r.state.is_over().then_some(r)
        })?;
        if r.state != JobState::Succeeded {
            bail!("{id} ended {:?}: {:?}", r.state, r.error);
        }
        Ok(())
    }

    /// The attempts of `job` worker `w` has started (their log files).
    fn attempts(&self, w: usize, job: &str) -> Vec<String> {
        let logs: PathBuf = self
            .cluster
            .dir
            .join(format!("worker-{w}"))
            .join("logs")
            .join(job);
        read_names(&logs)
    }

    fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(v) = check() {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Deterministic text: `lines` lines of eight words from a skewed vocabulary of `vocab`.
fn words(lines: usize, vocab: u64, seed: u64) -> String {
    let mut x = seed | 1;
    let mut s = String::with_capacity(lines * 64);
    for _ in 0..lines {
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = x % 1_000;
            s.push_str(&format!("w{} ", r * r * vocab / 1_000_000));
        }
        s.push('\n');
    }
    s
}
