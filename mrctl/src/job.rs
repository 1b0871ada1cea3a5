//! `mrctl submit` and `mrctl job ...`: running jobs and looking at them.

use anyhow::bail;
use clap::Subcommand;
use client::jobs::{submit_binary_with, JobClient};
use client::DfsClient;
use common::jobs::{parse_priority, priority_name, Counters, JobReport, JobState};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Submit {
    /// The job binary (a Rust program calling `mapreduce::run`).
    binary: PathBuf,
    /// Wait for the job: show progress, then the counters; exit non-zero if it fails.
    #[arg(long)]
    wait: bool,
    /// The job tracker queue to run in (`mrctl job queues` lists them); else the job's own
    /// setting, `default` unless it chose one.
    #[arg(long)]
    queue: Option<String>,
    /// very_low, low, normal, high, very_high, or an integer from -10 to 10: first in a FIFO
    /// queue, a weight of 2^P in a fair one.
    #[arg(long, value_parser = parse_priority, allow_hyphen_values = true)]
    priority: Option<i32>,
    /// The job's arguments, after `--`.
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Subcommand)]
pub enum JobCmd {
    /// Every job the job tracker knows, newest last.
    List,
    /// State and progress of a job.
    Status { job_id: String },
    /// A job's counters.
    Counters { job_id: String },
    /// Kills a running job; fails if the job already ended.
    Kill { job_id: String },
    /// Follows a job (running or ended) as `submit --wait` does: progress, then the counters;
    /// exits 0 if it succeeded, non-zero otherwise.
    Wait { job_id: String },
    /// The logs of a job's task attempts.
    Logs { job_id: String },
    /// The job tracker's queues: weight, minimum share, policy, running and pending tasks,
    /// and their jobs.
    Queues {
        /// As JSON (a list of queues, each with its jobs).
        #[arg(long)]
        json: bool,
    },
}

pub fn submit(dfs: &DfsClient, jobs: &JobClient, cmd: Submit) -> anyhow::Result<ExitCode> {
    let id = submit_binary_with(dfs, jobs, &cmd.binary, &cmd.args, |spec| {
        if let Some(q) = cmd.queue {
            spec.settings.queue = q;
        }
        if let Some(p) = cmd.priority {
            spec.settings.priority = p;
        }
    })?;
    if !cmd.wait {
        outln!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("submitted {id}");
    follow(jobs, &id)
}

/// How long `follow` keeps asking a job tracker that does not answer (down, restarting).
const OUTAGE_LIMIT: Duration = Duration::from_secs(60);

/// Follows a job to its end, printing its progress then its counters: exit 0 if it succeeded.
/// Rides out a job tracker restart; Ctrl-C leaves the job running and says how to reach it.
fn follow(jobs: &JobClient, id: &str) -> anyhow::Result<ExitCode> {
    let interrupted_id = id.to_string();
    ctrlc::set_handler(move || {
        eprintln!(
            "interrupted: job {interrupted_id} goes on running; kill it with \
             `mrctl job kill {interrupted_id}` or follow it again with \
             `mrctl job wait {interrupted_id}`"
        );
        std::process::exit(130);
    })?;
    let started = Instant::now();
    let mut last_line = String::new();
    let mut last_print = Instant::now() - Duration::from_secs(1);
    let report = jobs.follow(
        id,
        OUTAGE_LIMIT,
        |r| {
            let line = progress_line(r);
            if line != last_line && last_print.elapsed() >= Duration::from_millis(500) {
                eprintln!("{line}");
                last_line = line;
                last_print = Instant::now();
            }
        },
        |e| {
            eprintln!(
                "{e}; retrying for up to {} s (job {id} goes on meanwhile)",
                OUTAGE_LIMIT.as_secs()
            )
        },
    )?;
    let line = progress_line(&report);
    if line != last_line {
        eprintln!("{line}");
    }
    print_counters(&report.counters)?;
    let secs = started.elapsed().as_secs_f64();
    match report.state {
        JobState::Succeeded => {
            eprintln!("job {id} succeeded in {secs:.2} s");
            Ok(ExitCode::SUCCESS)
        }
        state => {
            eprintln!(
                "job {id} {}: {}",
                state_name(state),
                report.error.as_deref().unwrap_or("no error recorded")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn state_name(s: JobState) -> &'static str {
    match s {
        JobState::Running => "running",
        JobState::Succeeded => "succeeded",
        JobState::Failed => "failed",
        JobState::Killed => "killed",
    }
}

fn progress_line(r: &JobReport) -> String {
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|s| {
            let mut p = format!(
                "{}: map {:3.0}% ({}/{})",
                s.name,
                s.map_progress * 100.0,
                s.maps_done,
                s.maps
            );
            if s.reduces > 0 {
                p.push_str(&format!(
                    " reduce {:3.0}% ({}/{})",
                    s.reduce_progress * 100.0,
                    s.reduces_done,
                    s.reduces
                ));
            }
            p
        })
        .collect();
    stages.join(" | ")
}

fn print_counters(c: &Counters) -> std::io::Result<()> {
    for (group, names) in &c.0 {
        outln!("{group}");
        for (name, v) in names {
            outln!("  {name}={v}");
        }
    }
    Ok(())
}

/// The queues as a table (a line per queue, then a line per job under it), or as JSON.
fn print_queues(queues: &[common::jobs::QueueReport], json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(queues)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:>7} {:>9} {:<6} {:>7} {:>7} {:>5}",
        "queue", "weight", "min_share", "policy", "running", "pending", "jobs"
    )?;
    for q in queues {
        writeln!(
            out,
            "{:<16} {:>7} {:>9} {:<6} {:>7} {:>7} {:>5}",
            q.name,
            q.weight,
            q.min_share,
            q.policy,
            q.running,
            q.pending,
            q.jobs.len()
        )?;
        for j in &q.jobs {
            writeln!(
                out,
                "  {:<28} priority {:<9} running {:>4} pending {:>5}",
                j.id,
                priority_name(j.priority),
                j.running,
                j.pending
            )?;
        }
    }
    Ok(())
}

fn when(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

pub fn job_command(jobs: &JobClient, cmd: JobCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        JobCmd::List => {
            outln!(
                "{:<28} {:<10} {:<20} {:<10} {:>9}  error",
                "job",
                "state",
                "submitted",
                "user",
                "seconds"
            );
            for r in jobs.list()? {
                let secs = r
                    .finished_ms
                    .map(|f| format!("{:.1}", f.saturating_sub(r.submitted_ms) as f64 / 1000.0))
                    .unwrap_or_default();
                outln!(
                    "{:<28} {:<10} {:<20} {:<10} {:>9}  {}",
                    r.id,
                    state_name(r.state),
                    when(r.submitted_ms),
                    r.user,
                    secs,
                    r.error.unwrap_or_default()
                );
            }
        }
        JobCmd::Status { job_id } => {
            let r = jobs.job(&job_id)?;
            outln!("{} ({}): {}", r.id, r.name, state_name(r.state));
            outln!("{}", progress_line(&r));
            for s in &r.stages {
                outln!(
                    "  stage {}: map phase {} ms, reduce phase {} ms",
                    s.name,
                    s.map_ms,
                    s.reduce_ms
                );
            }
            if let Some(e) = &r.error {
                outln!("error: {e}");
            }
        }
        JobCmd::Counters { job_id } => print_counters(&jobs.job(&job_id)?.counters)?,
        JobCmd::Kill { job_id } => {
            jobs.kill(&job_id)?;
            outln!("killed {job_id}");
        }
        JobCmd::Wait { job_id } => return follow(jobs, &job_id),
        JobCmd::Queues { json } => print_queues(&jobs.queues()?, json)?,
        JobCmd::Logs { job_id } => {
            // Through the job tracker, which checks the caller may read them.
            let files = jobs.logs(&job_id)?;
            if files.is_empty() {
                bail!("no attempt of {job_id} wrote a log");
            }
            for (name, bytes) in files {
                outln!("==> {name} <==");
                std::io::Write::write_all(&mut std::io::stdout(), &bytes)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
