//! Task attempts as child processes of the job binary (`JOB task`): the spec goes in on stdin,
//! followed by map output locations for reduces; progress, counters and the outcome come back
//! as JSON lines on its stdout; its stderr is the attempt's log, copied into the DFS under
//! `/.mr/logs/<job>/` when it ends. A panic or an out-of-memory kill ends one attempt, never
//! the worker; so does going over the job's task memory ([`crate::memory`]).

use crate::task_users::TaskUsers;
use client::DfsClient;
use common::config::ClientConfig;
use common::ids::{AttemptId, JobId};
use common::jobs::{
    AttemptOutcome, AttemptStatus, Counters, FetchFailure, MapOutputLocation, TaskReport, TaskSpec,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, Notify};

struct Attempt {
    job_id: JobId,
    progress: f32,
    counters: Counters,
    outcome: Option<AttemptOutcome>,
    /// Lines for the attempt's stdin.
    input: Option<mpsc::UnboundedSender<String>>,
    kill: Option<oneshot::Sender<()>>,
    /// The map output list last sent to a reduce.
    sent_locations: String,
}

/// The attempts of this worker.
pub struct Attempts {
    root: PathBuf,
    dfs: DfsClient,
    attempts: Mutex<HashMap<AttemptId, Attempt>>,
    fetch_failures: Mutex<Vec<FetchFailure>>,
    /// One binary download at a time.
    download: tokio::sync::Mutex<()>,
    /// Wakes the heartbeat loop when an attempt ends.
    pub changed: Notify,
    /// The uid each job's tasks run as.
    pub task_users: TaskUsers,
    /// The DFS client config a job's own client (its delegation token) is made from.
    job_client_config: ClientConfig,
}

impl Attempts {
    pub fn new(
        root: PathBuf,
        dfs: DfsClient,
        task_users: TaskUsers,
        job_client_config: ClientConfig,
    ) -> Arc<Attempts> {
        Arc::new(Attempts {
            root,
            dfs,
            task_users,
            job_client_config,
            attempts: Mutex::new(HashMap::new()),
            fetch_failures: Mutex::new(Vec::new()),
            download: tokio::sync::Mutex::new(()),
            changed: Notify::new(),
        })
    }

    pub fn running(&self) -> usize {
        self.attempts
            .lock()
            .values()
            .filter(|a| a.outcome.is_none())
            .count()
    }

    /// Every attempt's status, and the fetch failures seen since the last call.
    pub fn snapshot(&self) -> (Vec<AttemptStatus>, Vec<FetchFailure>) {
        let statuses = self
            .attempts
            .lock()
            .iter()
            .map(|(id, a)| AttemptStatus {
                attempt_id: id.clone(),
                progress: a.progress,
                counters: a.counters.clone(),
                outcome: a.outcome.clone(),
            })
            .collect();
        (statuses, std::mem::take(&mut *self.fetch_failures.lock()))
    }

    /// Forgets attempts whose end the job tracker has been told of.
    pub fn delivered(&self, statuses: &[AttemptStatus]) {
        let mut map = self.attempts.lock();
        for s in statuses.iter().filter(|s| s.outcome.is_some()) {
            map.remove(s.attempt_id.as_str());
        }
    }

    /// Puts back fetch failures a failed heartbeat did not deliver.
    pub fn undelivered(&self, failures: Vec<FetchFailure>) {
        self.fetch_failures.lock().extend(failures);
    }

    pub fn kill(&self, attempt_id: &str) {
        if let Some(a) = self.attempts.lock().get_mut(attempt_id) {
            if let Some(k) = a.kill.take() {
                let _ = k.send(());
            }
        }
    }

    /// Sends a reduce the map outputs it has not seen yet.
    pub fn map_outputs(&self, attempt_id: &str, locations: &[MapOutputLocation]) {
        let mut map = self.attempts.lock();
        let Some(a) = map.get_mut(attempt_id) else {
            return;
        };
        let Ok(line) = serde_json::to_string(locations) else {
            return;
        };
        if line == a.sent_locations {
            return;
        }
        if let Some(input) = &a.input {
            if input.send(line.clone()).is_ok() {
                a.sent_locations = line;
            }
        }
    }

    /// Whether any attempt of `job_id` is still running.
    pub fn job_running(&self, job_id: &str) -> bool {
        self.attempts
            .lock()
            .values()
            .any(|a| a.job_id.as_str() == job_id && a.outcome.is_none())
    }

    /// Starts an attempt in the background.
    pub fn launch(self: &Arc<Self>, mut spec: TaskSpec) {
        spec.local_dir = common::shuffle::attempt_dir(
            &self.root,
            spec.job_id.as_str(),
            spec.attempt_id.as_str(),
        );
        let security = self.dfs.security();
        spec.tls_ca = common::tls::enabled(security).then(|| security.tls_ca.clone());
        let (kill_tx, kill_rx) = oneshot::channel();
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        self.attempts.lock().insert(
            spec.attempt_id.clone(),
            Attempt {
                job_id: spec.job_id.clone(),
                progress: 0.0,
                counters: Counters::default(),
                outcome: None,
                input: Some(input_tx),
                kill: Some(kill_tx),
                sent_locations: String::new(),
            },
        );
        let me = self.clone();
        tokio::spawn(async move {
            let id = spec.attempt_id.clone();
            let job_id = spec.job_id.clone();
            let log = me
                .root
                .join("logs")
                .join(spec.job_id.as_str())
                .join(format!("{id}.log"));
            let outcome = me.run(spec, &log, input_rx, kill_rx).await;
            tracing::info!(attempt = %id, ?outcome, "attempt ended");
            // Read before the job tracker hears of the end: a job that ends cleans the logs.
            let log_bytes = std::fs::read(&log).unwrap_or_default();
            if let Some(a) = me.attempts.lock().get_mut(&id) {
                a.outcome = Some(outcome);
                a.input = None;
                if matches!(a.outcome, Some(AttemptOutcome::Succeeded)) {
                    a.progress = 1.0;
                }
            }
            me.changed.notify_one();
            me.upload_log(job_id.as_str(), id.as_str(), log_bytes).await;
        });
    }

    async fn run(
        self: &Arc<Self>,
        spec: TaskSpec,
        log: &Path,
        mut input: mpsc::UnboundedReceiver<String>,
        mut kill: oneshot::Receiver<()>,
    ) -> AttemptOutcome {
        let failed = |error: String| AttemptOutcome::Failed { error };
        let binary = {
            let _one = self.download.lock().await;
            let (dfs, root, b) = (self.dfs.clone(), self.root.clone(), spec.job.binary.clone());
            // Read as the job's user (its delegation token), so a job runs only a binary its
            // user may read; insecure, as the worker.
            let (config, token) = (
                self.job_client_config.clone(),
                spec.credentials.as_ref().map(|c| c.token.clone()),
            );
            let connect = move || match token {
                None => Ok(dfs),
                Some(t) => client::Credentials::token(&t)
                    .and_then(|c| DfsClient::connect_with(config, c))
                    .map_err(|e| format!("connecting as the job's user: {e}")),
            };
            match tokio::task::spawn_blocking(move || crate::binaries::ensure(connect, &root, &b))
                .await
            {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return failed(e),
                Err(e) => return failed(format!("fetching the job binary: {e}")),
            }
        };
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::create_dir_all(&spec.local_dir);
        let uid = match self.task_users.uid_for(spec.job_id.as_str()) {
            Ok(uid) => uid,
            Err(e) => return failed(e),
        };
        if let Some(uid) = uid {
            // The job's folder, then the attempt's: private to the job's uid.
            for dir in [spec.local_dir.parent(), Some(spec.local_dir.as_path())]
                .into_iter()
                .flatten()
            {
                if let Err(e) = TaskUsers::give(dir, uid) {
                    return failed(e);
                }
            }
        }
        let log_file = match std::fs::File::create(log) {
            Ok(f) => f,
            Err(e) => return failed(format!("creating {}: {e}", log.display())),
        };
        let mut command = Command::new(&binary);
        // The task's credentials reach it on stdin, in its spec: never the environment, which
        // other users may read in /proc; nor does the worker's own environment leak a token.
        command.env_remove(client::credentials::TOKEN_ENV);
        if let Some(uid) = uid {
            // std drops root's supplementary groups before setuid.
            command.uid(uid).gid(uid);
        }
        let mut child = match command
            .arg("task")
            .current_dir(&spec.local_dir)
            .env("HOME", &spec.local_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return failed(format!("starting {}: {e}", binary.display())),
        };
        let mut stdin = child.stdin.take().expect("piped");
        let Ok(first) = serde_json::to_string(&spec) else {
            return failed("encoding the task spec".into());
        };
        // Feeds the attempt's stdin: the spec, then map output locations. Stdin stays open
        // until the attempt ends (its sender is dropped then): an attempt whose stdin closes
        // knows its worker is gone and exits.
        tokio::spawn(async move {
            if stdin
                .write_all(format!("{first}\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            while let Some(line) = input.recv().await {
                if stdin
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let stdout = child.stdout.take().expect("piped");
        let me = self.clone();
        let id = spec.attempt_id.clone();
        let reports = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let (mut done, mut error) = (false, None);
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(report) = serde_json::from_str::<TaskReport>(&line) else {
                    continue;
                };
                match report {
                    TaskReport::Progress { progress, counters } => {
                        if let Some(a) = me.attempts.lock().get_mut(&id) {
                            a.progress = progress;
                            a.counters = counters;
                        }
                    }
                    TaskReport::FetchFailed {
                        map_index,
                        attempt_id,
                    } => {
                        me.fetch_failures.lock().push(FetchFailure {
                            reduce_attempt: id.clone(),
                            map_index,
                            map_attempt: attempt_id,
                        });
                        me.changed.notify_one();
                    }
                    TaskReport::Done { counters } => {
                        done = true;
                        if let Some(a) = me.attempts.lock().get_mut(&id) {
                            a.counters = counters;
                        }
                    }
                    TaskReport::Failed { error: e } => error = Some(e),
                }
            }
            (done, error)
        });
        let (limit_mib, pid) = (spec.job.settings.task_memory_mb, child.id());
        let status = tokio::select! {
            s = child.wait() => s,
            _ = &mut kill => {
                let _ = child.kill().await;
                return AttemptOutcome::Killed;
            }
            peak_kib = crate::memory::watch(pid, limit_mib) => {
                let _ = child.kill().await;
                tracing::warn!(attempt = %spec.attempt_id, limit_mib, peak_kib, "attempt over its memory limit: killed");
                return failed(crate::memory::over_limit_error(limit_mib, peak_kib));
            }
        };
        let (done, error) = reports.await.unwrap_or((false, None));
        match (status, done, error) {
            (Ok(s), true, _) if s.success() => AttemptOutcome::Succeeded,
            (_, _, Some(error)) => failed(error),
            (Ok(s), _, None) => failed(format!(
                "task process ended with {s} without reporting{}",
                log_tail(log)
            )),
            (Err(e), _, None) => failed(format!("waiting for the task process: {e}")),
        }
    }

    /// Copies an attempt's log into the DFS, where `mrctl job logs` finds it.
    async fn upload_log(&self, job_id: &str, attempt_id: &str, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let dfs = self.dfs.clone();
        let path = format!("{}/{attempt_id}.log", common::jobs::log_dir(job_id));
        let r = tokio::task::spawn_blocking(move || {
            dfs.write_file(&path, &bytes, client::CreateOptions::default())
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!(attempt = %attempt_id, error = %e, "could not upload the attempt log");
        }
    }
}

/// The last lines of a log, to explain a crash.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        String::new()
    } else {
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        format!(": {}", tail.join(" | "))
    }
}
