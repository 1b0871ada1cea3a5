//! The worker's start-up and heartbeat loop: report slots and attempts to the job tracker,
//! start what it hands back, kill what it asks to, pass map output locations to reduces, and
//! clean the local files of jobs that are over.

use crate::attempts::Attempts;
use crate::task_users::TaskUsers;
use anyhow::Context;
use client::DfsClient;
use common::config::{ClientConfig, WorkerConfig};
use common::jobs::{now_ms, Heartbeat, HeartbeatReply};
use proto::jobs::job_tracker_protocol_client::JobTrackerProtocolClient;
use proto::jobs::HeartbeatRequest;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let root = config.local_dir.clone();
    // Held until the process ends, and taken before the cleanup below: a second worker here
    // would remove the map outputs the first one serves.
    let _lock = common::dir_lock::DirLock::acquire(&root)?;
    // Map outputs of an earlier run are of no use: the job tracker treats a restarted worker
    // as a new one and has already re-run them elsewhere.
    let jobs_dir = root.join("jobs");
    if jobs_dir.exists() {
        std::fs::remove_dir_all(&jobs_dir)
            .with_context(|| format!("cleaning {}", jobs_dir.display()))?;
    }
    std::fs::create_dir_all(&jobs_dir)
        .with_context(|| format!("creating {}", jobs_dir.display()))?;
    let task_users = TaskUsers::new(&config);
    task_users
        .prepare_root(&root)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = std::net::TcpListener::bind((config.host.as_str(), config.shuffle_port))
        .with_context(|| format!("shuffle server on {}:{}", config.host, config.shuffle_port))?;
    let shuffle_addr = format!("{}:{}", config.host, listener.local_addr()?.port());
    let limiter = common::conn_limit::ConnLimiter::new(
        "shuffle",
        common::conn_limit::ConnLimits::new(
            config.max_connections,
            config.max_connections_per_address,
            config.idle_timeout_ms,
        ),
    );
    // TLS files first: a missing one stops the worker naming the field and the file.
    common::tls::check_daemon_files(&config.security)?;
    let tls = common::tls::server_config(&config.security)?;
    // Daemons hold the cluster secret: the shuffle server derives each job's key from it.
    let secret = common::auth::ClusterSecret::for_daemon(&config.security)?;
    let guard = Arc::new(crate::shuffle::ShuffleGuard::new(secret));
    crate::shuffle::serve(listener, root.clone(), limiter, guard, tls)
        .context("starting the shuffle server")?;

    let client_config = ClientConfig {
        namenode_addr: config.namenode_addr.clone(),
        host: config.host.clone(),
        security: config.security.clone(),
        ..Default::default()
    };
    // Refuses to start on a cluster secret others can read (the message says how to fix it).
    let credentials = client::Credentials::for_daemon(&config.security, "worker")?;
    let jt_credentials = credentials.clone();
    // Job binaries are fetched as the job's user: a client like this one with its token.
    let job_client_config = client_config.clone();
    let dfs =
        tokio::task::spawn_blocking(move || DfsClient::connect_with(client_config, credentials))
            .await??;
    let slots = if config.slots > 0 {
        config.slots
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
    };
    let attempts = Attempts::new(root.clone(), dfs, task_users, job_client_config);
    let channel =
        common::grpc_tls::endpoint("jobtracker_addr", &config.jobtracker_addr, &config.security)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_lazy();
    let mut jt = JobTrackerProtocolClient::with_interceptor(channel, jt_credentials);
    let incarnation = now_ms();
    tracing::info!(host = %config.host, %shuffle_addr, slots, "worker started");

    let interval = Duration::from_millis(config.heartbeat_interval_ms.max(10));
    let mut cleaned: HashSet<String> = HashSet::new();
    loop {
        let (statuses, fetch_failures) = attempts.snapshot();
        let hb = Heartbeat {
            host: config.host.clone(),
            shuffle_addr: shuffle_addr.clone(),
            incarnation,
            slots,
            free_slots: slots.saturating_sub(attempts.running() as u32),
            attempts: statuses.clone(),
            fetch_failures: fetch_failures.clone(),
        };
        let request = HeartbeatRequest {
            heartbeat_json: serde_json::to_vec(&hb)?.into(),
        };
        match jt.heartbeat(request).await {
            Ok(resp) => {
                attempts.delivered(&statuses);
                match serde_json::from_slice::<HeartbeatReply>(&resp.into_inner().reply_json) {
                    Ok(reply) => act(&attempts, reply, &root, &mut cleaned),
                    Err(e) => tracing::error!(error = %e, "bad heartbeat reply"),
                }
            }
            Err(e) => {
                attempts.undelivered(fetch_failures);
                tracing::warn!(error = %e.message(), "heartbeat to the job tracker failed");
            }
        }
        // Next beat after the interval, or at once when an attempt ends.
        let _ = tokio::time::timeout(interval, attempts.changed.notified()).await;
    }
}

fn act(
    attempts: &std::sync::Arc<Attempts>,
    reply: HeartbeatReply,
    root: &std::path::Path,
    cleaned: &mut HashSet<String>,
) {
    for id in &reply.kill {
        attempts.kill(id.as_str());
    }
    for spec in reply.launch {
        tracing::info!(attempt = %spec.attempt_id, "launching");
        attempts.launch(spec);
    }
    for (attempt, locations) in &reply.map_outputs {
        attempts.map_outputs(attempt.as_str(), locations);
    }
    for job in reply.finished_jobs {
        let job = job.to_string();
        if cleaned.contains(&job) || attempts.job_running(&job) {
            continue;
        }
        for dir in [root.join("jobs").join(&job), root.join("logs").join(&job)] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cleaning a finished job");
                }
            }
        }
        attempts.task_users.release(&job);
        cleaned.insert(job);
    }
}
