//! The job client: describing a job binary, uploading it into the DFS by content hash, and
//! submitting, watching, listing and killing jobs on the job tracker.

use crate::credentials::{Credentials, TOKEN_ENV};
use crate::dfs::DfsClient;
use crate::error::{ClientError, ClientResult};
use crate::CreateOptions;
use common::config::{ClientConfig, SecurityConfig};
use common::jobs::{sha256_hex, BinaryRef, JobReport, JobSpec, QueueReport};
use proto::jobs::job_tracker_protocol_client::JobTrackerProtocolClient;
use proto::jobs::*;
use proto::reason::REASON_KEY;
use proto::Reason;
use std::path::Path;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Rpc = JobTrackerProtocolClient<InterceptedService<Channel, Credentials>>;

/// Where job binaries live in the DFS, by content hash.
pub const BINARIES_DIR: &str = "/.mr/binaries";
/// Replicas of a job binary: every worker fetches it once.
const BINARY_REPLICATION: u32 = 10;

/// A live worker as the job tracker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerStatus {
    pub host: String,
    pub slots: u32,
    /// Until when (ms since the epoch) it gets no tasks because attempts failed there.
    pub excluded_until_ms: Option<u64>,
    /// Why it is excluded; empty when it is not.
    pub excluded_reason: String,
    /// "in service", "draining" or "decommissioned".
    pub admin_state: String,
}

/// A connection to the job tracker. Blocking.
pub struct JobClient {
    rt: tokio::runtime::Runtime,
    rpc: Rpc,
    addr: String,
}

impl std::fmt::Debug for JobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobClient")
            .field("addr", &self.addr)
            .finish()
    }
}

impl JobClient {
    /// Connects to `config.jobtracker_addr` with the credentials and TLS of `config.security`.
    pub fn connect(config: &ClientConfig) -> ClientResult<JobClient> {
        let credentials = Credentials::from_config(&config.security)?;
        JobClient::connect_with(&config.jobtracker_addr, credentials, &config.security)
    }

    /// Connects to the job tracker at `addr`, presenting `credentials` on every call, over TLS
    /// unless `security` says insecure.
    pub fn connect_with(
        addr: &str,
        credentials: Credentials,
        security: &SecurityConfig,
    ) -> ClientResult<JobClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let channel = common::grpc_tls::endpoint("jobtracker_addr", addr, security)
            .map_err(|e| ClientError::Config(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        let channel = {
            let _guard = rt.enter();
            channel.connect_lazy()
        };
        Ok(JobClient {
            rt,
            rpc: JobTrackerProtocolClient::with_interceptor(channel, credentials)
                .max_decoding_message_size(256 << 20),
            addr: addr.to_string(),
        })
    }

    fn call<T, F>(&self, what: &str, f: impl FnOnce(Rpc) -> F) -> ClientResult<T>
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.rt
            .block_on(f(self.rpc.clone()))
            .map(|r| r.into_inner())
            .map_err(|s| job_tracker_error(&self.addr, what, &s))
    }

    /// Submits a described job; returns its id.
    pub fn submit(&self, spec: &JobSpec) -> ClientResult<String> {
        let spec_json = serde_json::to_vec(spec)
            .map_err(|e| ClientError::Internal(e.to_string()))?
            .into();
        Ok(self
            .call("submit", |mut c| async move {
                c.submit_job(SubmitJobRequest { spec_json }).await
            })?
            .job_id)
    }

    pub fn job(&self, id: &str) -> ClientResult<JobReport> {
        let job_id = id.to_string();
        let r = self.call(
            id,
            |mut c| async move { c.get_job(JobRequest { job_id }).await },
        )?;
        serde_json::from_slice(&r.report_json).map_err(|e| ClientError::Internal(e.to_string()))
    }

    pub fn list(&self) -> ClientResult<Vec<JobReport>> {
        let r = self.call("list", |mut c| async move {
            c.list_jobs(ListJobsRequest {}).await
        })?;
        r.reports_json
            .iter()
            .map(|j| serde_json::from_slice(j).map_err(|e| ClientError::Internal(e.to_string())))
            .collect()
    }

    pub fn kill(&self, id: &str) -> ClientResult<()> {
        let job_id = id.to_string();
        self.call(id, |mut c| async move {
            c.kill_job(JobRequest { job_id }).await
        })
        .map(|_| ())
    }

    /// The logs of a job's task attempts: `(ATTEMPT.log, bytes)`, as the job tracker lets the
    /// caller read them (its owner, an admin of its queue or the superuser).
    pub fn logs(&self, id: &str) -> ClientResult<Vec<(String, Vec<u8>)>> {
        let job_id = id.to_string();
        let r = self.call(id, |mut c| async move {
            c.job_logs(JobRequest { job_id }).await
        })?;
        Ok(r.names
            .into_iter()
            .zip(r.logs.into_iter().map(|b| b.to_vec()))
            .collect())
    }

    /// Hosts and slots of the live workers.
    pub fn workers(&self) -> ClientResult<Vec<(String, u32)>> {
        let r = self.call("workers", |mut c| async move {
            c.workers(WorkersRequest {}).await
        })?;
        Ok(r.hosts.into_iter().zip(r.slots).collect())
    }

    /// Every queue of the job tracker: its settings, running and pending tasks, and jobs.
    pub fn queues(&self) -> ClientResult<Vec<QueueReport>> {
        let r = self.call(
            "queues",
            |mut c| async move { c.queues(QueuesRequest {}).await },
        )?;
        r.queues_json
            .iter()
            .map(|j| serde_json::from_slice(j).map_err(|e| ClientError::Internal(e.to_string())))
            .collect()
    }

    /// The live workers with their slots and whether they are excluded from scheduling.
    pub fn worker_statuses(&self) -> ClientResult<Vec<WorkerStatus>> {
        let r = self.call("workers", |mut c| async move {
            c.workers(WorkersRequest {}).await
        })?;
        Ok(r.hosts
            .into_iter()
            .zip(r.slots)
            .enumerate()
            .map(|(i, (host, slots))| {
                let until = r.excluded_until_ms.get(i).copied().unwrap_or(0);
                WorkerStatus {
                    host,
                    slots,
                    excluded_until_ms: (until > 0).then_some(until),
                    excluded_reason: r.excluded_reason.get(i).cloned().unwrap_or_default(),
                    admin_state: r
                        .admin_state
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| "in service".into()),
                }
            })
            .collect())
    }

    /// Drains (or returns to service, or with `dry_run` only matches) the workers `nodes`
    /// name; superusers only. Returns, per name, the hosts it matched.
    pub fn decommission(
        &self,
        nodes: &[String],
        recommission: bool,
        dry_run: bool,
    ) -> ClientResult<Vec<Vec<String>>> {
        let req = DecommissionRequest {
            nodes: nodes.to_vec(),
            recommission,
            dry_run,
        };
        let r = self.call(
            "decommission",
            |mut c| async move { c.decommission(req).await },
        )?;
        Ok(crate::dfs::split_matches(r.matched))
    }

    /// Makes the job tracker re-read its include and exclude lists; returns what changed.
    pub fn refresh_nodes(&self) -> ClientResult<Vec<String>> {
        let r = self.call("refresh nodes", |mut c| async move {
            c.refresh_nodes(RefreshNodesRequest {}).await
        })?;
        Ok(r.changes)
    }

    /// Polls until the job is over, calling `progress` with each report.
    pub fn wait(&self, id: &str, mut progress: impl FnMut(&JobReport)) -> ClientResult<JobReport> {
        loop {
            let r = self.job(id)?;
            progress(&r);
            if r.state.is_over() {
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Polls until the job is over, as [`JobClient::wait`] does, riding out job tracker
    /// outages (down, restarting): a temporary error is retried until `outage_limit` passes
    /// without an answer, and `outage` hears the first error of each outage.
    pub fn follow(
        &self,
        id: &str,
        outage_limit: Duration,
        mut progress: impl FnMut(&JobReport),
        mut outage: impl FnMut(&ClientError),
    ) -> ClientResult<JobReport> {
        let mut down_since: Option<std::time::Instant> = None;
        loop {
            match self.job(id) {
                Ok(r) => {
                    down_since = None;
                    progress(&r);
                    if r.state.is_over() {
                        return Ok(r);
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) if e.is_temporary() => {
                    let since = *down_since.get_or_insert_with(|| {
                        outage(&e);
                        std::time::Instant::now()
                    });
                    if since.elapsed() >= outage_limit {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Maps a job tracker reply by the reason it carries: the caller's input (a bad spec, an unknown
/// job) is a refusal; an outage is temporary, in the job tracker's words when it answered (a
/// namenode it could not reach), else named by its address; anything else is our bug.
fn job_tracker_error(addr: &str, what: &str, s: &tonic::Status) -> ClientError {
    match Reason::of(s) {
        Reason::InvalidArgument
        | Reason::NotFound
        | Reason::AlreadyExists
        | Reason::FailedPrecondition
        | Reason::PermissionDenied
        | Reason::Unauthenticated
        | Reason::ResourceExhausted => ClientError::Rejected(s.message().to_string()),
        Reason::SafeMode | Reason::Unavailable => {
            if s.metadata().contains_key(REASON_KEY) {
                ClientError::JobTrackerUnavailable(s.message().to_string())
            } else {
                // A failed TLS handshake is in the status's sources, not its message.
                ClientError::JobTrackerUnavailable(format!(
                    "job tracker at {addr} unavailable: {}",
                    crate::error::transport_cause(s)
                ))
            }
        }
        Reason::Internal => ClientError::Internal(format!("{what}: {}", s.message())),
    }
}

/// Runs `BINARY describe ARGS` and reads the job spec it prints. `namenode_addr` lets the job
/// look at its inputs (to sample them, or to choose a plan by their size), as the user whose
/// `token` it is given (none in insecure mode).
pub fn describe(
    binary: &Path,
    args: &[String],
    namenode_addr: &str,
    token: Option<&str>,
    tls_ca: Option<&Path>,
) -> ClientResult<JobSpec> {
    let mut cmd = std::process::Command::new(binary);
    cmd.arg("describe")
        .args(args)
        .env("MR_NAMENODE", namenode_addr)
        .env_remove(TOKEN_ENV);
    if let Some(t) = token {
        cmd.env(TOKEN_ENV, t);
    }
    // The job's DFS client trusts the same CA (none: the cluster is insecure).
    match tls_ca {
        Some(ca) => cmd.env("MR_TLS_CA", ca),
        None => cmd.env_remove("MR_TLS_CA"),
    };
    let out = cmd
        .output()
        .map_err(|e| ClientError::Rejected(format!("cannot run {}: {e}", binary.display())))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // A job refusing its arguments says so in one line (mapreduce::entry::DESCRIBE_ERROR).
        if let Some(line) = stderr
            .lines()
            .find_map(|l| l.strip_prefix("job description error: "))
        {
            return Err(ClientError::Rejected(line.to_string()));
        }
        let msg = stderr.lines().next().unwrap_or("no message");
        return Err(ClientError::Rejected(format!(
            "{} is not a MapReduce job binary: `describe` failed ({}): {msg}",
            binary.display(),
            out.status,
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        ClientError::Rejected(format!(
            "{} is not a MapReduce job binary: `describe` did not print a job spec ({e})",
            binary.display()
        ))
    })
}

/// Uploads a job binary under its content hash unless it is there already.
pub fn upload_binary(dfs: &DfsClient, binary: &Path) -> ClientResult<BinaryRef> {
    let bytes = std::fs::read(binary)
        .map_err(|e| ClientError::Rejected(format!("{}: {e}", binary.display())))?;
    let sha256 = sha256_hex(&bytes);
    let path = format!("{BINARIES_DIR}/{sha256}");
    if !dfs.exists(&path)? {
        let tmp = format!("{BINARIES_DIR}/.{sha256}.{}", std::process::id());
        let live = dfs.cluster_report()?.datanodes.len() as u32;
        dfs.write_file(
            &tmp,
            &bytes,
            CreateOptions {
                replication: BINARY_REPLICATION.min(live.max(1)),
                ..Default::default()
            },
        )?;
        match dfs.rename(&tmp, &path) {
            Ok(()) => {}
            // Someone uploaded the same binary meanwhile.
            Err(_) if dfs.exists(&path)? => dfs.delete(&tmp, false)?,
            Err(e) => return Err(e),
        }
    }
    Ok(BinaryRef { path, sha256 })
}

/// Describes, uploads and submits a job binary; returns the job id.
pub fn submit_binary(
    dfs: &DfsClient,
    jobs: &JobClient,
    binary: &Path,
    args: &[String],
) -> ClientResult<String> {
    submit_binary_with(dfs, jobs, binary, args, |_| {})
}

/// As [`submit_binary`], with `adjust` changing the described spec before it is submitted (the
/// queue and priority `mrctl submit` was given).
pub fn submit_binary_with(
    dfs: &DfsClient,
    jobs: &JobClient,
    binary: &Path,
    args: &[String],
    adjust: impl FnOnce(&mut JobSpec),
) -> ClientResult<String> {
    let token = dfs.credentials().token_text();
    let security = dfs.security();
    let tls_ca = common::tls::enabled(security).then_some(security.tls_ca.as_path());
    let mut spec = describe(binary, args, &dfs.namenode_addr(), token.as_deref(), tls_ca)?;
    adjust(&mut spec);
    spec.binary = upload_binary(dfs, binary)?;
    // Informative only: a secure job tracker takes the user from the token.
    spec.user = common::user::current();
    match jobs.submit(&spec) {
        // The job tracker removes binaries no job has used for a while: one found in the cache
        // just now may have gone before the job was checked. Upload it again, once.
        Err(_) if !dfs.exists(&spec.binary.path)? => {
            spec.binary = upload_binary(dfs, binary)?;
            jobs.submit(&spec)
        }
        submitted => submitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    const ADDR: &str = "127.0.0.1:9001";

    #[test]
    fn a_bad_spec_or_an_unknown_job_is_the_callers_mistake() {
        for reason in [
            Reason::InvalidArgument,
            Reason::NotFound,
            Reason::AlreadyExists,
        ] {
            let e = job_tracker_error(ADDR, "submit", &reason.status("job j_1: no such job"));
            assert!(matches!(e, ClientError::Rejected(_)), "{e:?}");
            assert_eq!(e.to_string(), "job j_1: no such job");
            assert!(!e.is_temporary());
        }
    }

    #[test]
    fn a_namenode_outage_behind_the_job_tracker_is_temporary_in_its_words() {
        let s = Reason::Unavailable.status("cannot reach the namenode (stat /in): refused");
        let e = job_tracker_error(ADDR, "submit", &s);
        assert!(matches!(e, ClientError::JobTrackerUnavailable(_)), "{e:?}");
        assert!(e.is_temporary());
        assert_eq!(
            e.to_string(),
            "cannot reach the namenode (stat /in): refused"
        );
    }

    #[test]
    fn an_unreachable_job_tracker_is_named_by_its_address() {
        let e = job_tracker_error(ADDR, "list", &Status::unavailable("connection refused"));
        assert!(e.is_temporary());
        assert_eq!(
            e.to_string(),
            "job tracker at 127.0.0.1:9001 unavailable: connection refused"
        );
    }

    #[test]
    fn an_internal_error_says_what_was_asked() {
        let e = job_tracker_error(ADDR, "kill", &Reason::Internal.status("boom"));
        assert!(matches!(e, ClientError::Internal(_)), "{e:?}");
        assert_eq!(e.to_string(), "internal error (this is a bug): kill: boom");
    }

    #[test]
    fn following_gives_up_after_the_outage_limit_having_said_so_once() {
        // Nothing listens on port 1: every call is refused, a temporary error.
        let jobs = JobClient::connect_with(
            "127.0.0.1:1",
            Credentials::claimed("t"),
            &SecurityConfig::default(),
        )
        .expect("a lazy client");
        let mut told = Vec::new();
        let e = jobs
            .follow(
                "job_1_0001",
                Duration::from_millis(500),
                |_| panic!("no report from a job tracker that is down"),
                |e| told.push(e.to_string()),
            )
            .expect_err("the job tracker never answers");
        assert!(e.is_temporary(), "{e:?}");
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].starts_with("job tracker at 127.0.0.1:1 unavailable"),
            "{told:?}"
        );
    }
}
