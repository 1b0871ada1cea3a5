//! The job tracker's start-up and its gRPC service: job submission, status, listing and kill
//! for clients; heartbeats for workers.

use crate::error::{JtError, JtResult};
use crate::history::HistoryRecord;
use crate::job_acl::{JobAction, Superuser};
use crate::scheduler::drain::{self, AdminLists, Drain};
use crate::scheduler::Context;
use crate::state::{JobRun, TrackerState};
use client::DfsClient;
use common::auth::{ClusterSecret, Verifier};
use common::clock::SharedClock;
use common::config::{ClientConfig, JobTrackerConfig, TopologyConfig};
use common::conn_limit::{ConnLimiter, ConnLimits};
use common::grpc_auth::{caller, require_service, Authenticator};
use common::grpc_incoming::{self, LimitedIncoming};
use common::ids::{AttemptId, JobId};
use common::jobs::{now_ms, AttemptOutcome, Heartbeat, JobSpec, JobState};
use common::journal::Journal;
use common::topology::Topology;
use parking_lot::Mutex;
use proto::jobs::job_tracker_protocol_server::{JobTrackerProtocol, JobTrackerProtocolServer};
use proto::jobs::*;
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// The running job tracker.
pub struct JobTracker {
    pub config: JobTrackerConfig,
    pub topology: Topology,
    /// The time every scheduling decision reads.
    pub clock: SharedClock,
    pub state: Mutex<TrackerState>,
    pub journal: Journal,
    pub dfs: DfsClient,
    /// Wakes the driver.
    pub wake: Notify,
    /// Checks callers' tokens; none in insecure mode.
    pub verifier: Option<Arc<Verifier>>,
    started_ms: u64,
    /// The cluster secret jobs' tokens and keys are made from (none in insecure mode).
    pub secret: Option<ClusterSecret>,
    /// Who may act on any job.
    pub superuser: Superuser,
    /// The include and exclude lists and the workers drained by command.
    pub admin: Mutex<AdminLists>,
}

/// Runs the job tracker until Ctrl-C.
pub async fn run(config: JobTrackerConfig, topology: TopologyConfig) -> JtResult<()> {
    config.check_queues().map_err(JtError::Config)?;
    // Refuses to start on a cluster secret others can read (the message says how to fix it).
    let verifier = common::grpc_auth::load_verifier(&config.security)
        .map_err(|e| JtError::Config(format!("loading the cluster secret: {e}")))?;
    let credentials = client::Credentials::for_daemon(&config.security, "jobtracker")
        .map_err(|e| JtError::Config(e.to_string()))?;
    // Jobs' delegation tokens and keys are made from it.
    let secret = verifier.as_ref().map(|v| v.secret().clone());
    // Held until the process ends: two job trackers on one journal would both append to it.
    let _lock = common::dir_lock::DirLock::acquire(&config.meta_dir)
        .map_err(|e| JtError::Config(e.to_string()))?;
    let clock = common::clock::system();
    // Recovery waits for journal appends, which must not block an async thread.
    let (meta_dir, now) = (config.meta_dir.clone(), clock.now());
    let (state, journal) = tokio::task::spawn_blocking(move || {
        let mut state = TrackerState::default();
        crate::history::recover(&meta_dir, &mut state, now).map(|journal| (state, journal))
    })
    .await
    .map_err(|e| JtError::Internal(format!("loading the job history: {e}")))??;
    let mut state = state;
    if let Some(secret) = &secret {
        crate::credentials::restore(&mut state, secret);
    }
    let client_config = ClientConfig {
        namenode_addr: config.namenode_addr.clone(),
        security: config.security.clone(),
        ..Default::default()
    };
    let dfs =
        tokio::task::spawn_blocking(move || DfsClient::connect_with(client_config, credentials))
            .await
            .map_err(|e| JtError::Internal(format!("connecting to the namenode: {e}")))?
            .map_err(|e| JtError::dfs("connecting to the namenode", e))?;
    let addr = config
        .rpc_addr
        .parse()
        .map_err(|e| JtError::Config(format!("rpc_addr {}: {e}", config.rpc_addr)))?;
    let supergroup = config.security.supergroup.clone();
    let admin = AdminLists::open(&config).map_err(JtError::Config)?;
    let topology = Topology::load(topology)
        .map_err(|e| JtError::Config(format!("reading the topology: {e}")))?;
    let jt = Arc::new(JobTracker {
        config,
        topology: topology.clone(),
        clock,
        state: Mutex::new(state),
        journal,
        dfs,
        wake: Notify::new(),
        verifier: verifier.clone(),
        started_ms: now_ms(),
        secret,
        superuser: Superuser {
            user: common::user::current(),
            group: supergroup,
        },
        admin: Mutex::new(admin),
    });
    tokio::spawn(crate::driver::run(jt.clone()));
    if let Some(v) = &verifier {
        tokio::spawn(refresh_revoked(jt.dfs.clone(), v.clone()));
    }
    tokio::spawn(crate::binary_cache::run(jt.clone()));
    tokio::spawn(refresh_topology(topology));
    tracing::info!(%addr, "job tracker started");
    let limits = ConnLimits::new(
        jt.config.max_connections,
        jt.config.max_connections_per_address,
        jt.config.idle_timeout_ms,
    );
    let incoming = LimitedIncoming::bind(addr, ConnLimiter::new("job tracker rpc", limits))
        .await
        .map_err(|e| JtError::Serve(format!("{addr}: {e}")))?;
    let security = jt.config.security.clone();
    let service = tonic::service::interceptor::InterceptedService::new(
        JobTrackerProtocolServer::new(Rpc(jt)).max_decoding_message_size(64 << 20),
        Authenticator::new(verifier, "job tracker"),
    );
    grpc_incoming::server_builder(limits.idle_timeout, &security)
        .map_err(|e| JtError::Serve(e.to_string()))?
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| JtError::Serve(format!("{addr}: {e}")))
}

/// How often the shared topology file is looked at for changes.
const TOPOLOGY_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Re-reads the shared topology file when it changes: a worker's rack is looked up again on
/// each of its heartbeats, so a change reaches scheduling without a restart.
async fn refresh_topology(topology: Topology) {
    loop {
        tokio::time::sleep(TOPOLOGY_POLL).await;
        let t = topology.clone();
        match tokio::task::spawn_blocking(move || t.refresh()).await {
            Ok(Ok(true)) => tracing::info!("topology changed: racks re-read"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "re-reading the topology failed; the racks stay as they were")
            }
            Err(e) => tracing::error!(error = %e, "topology refresh task failed"),
        }
    }
}

/// How often the revoked tokens are fetched from the namenode (which keeps the list).
const REVOKED_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps the verifier's revoked tokens in step with the namenode's list, asking as a service.
async fn refresh_revoked(dfs: DfsClient, verifier: Arc<Verifier>) {
    let mut failing = false;
    loop {
        let d = dfs.clone();
        match tokio::task::spawn_blocking(move || d.revoked_tokens()).await {
            Ok(Ok(ids)) => {
                verifier.set_revoked(ids);
                failing = false;
            }
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot refresh the revoked tokens from the namenode");
            }
            _ => {}
        }
        tokio::time::sleep(REVOKED_REFRESH).await;
    }
}

struct Rpc(Arc<JobTracker>);

/// Most bytes of logs one answer carries: past it, each further log is cut to a note.
const MAX_LOG_BYTES: usize = 64 << 20;

/// The task logs of a job in the DFS (`/.mr/logs/<job>/`), read by the job tracker on behalf
/// of a caller it authorized: names and bytes. Blocking.
fn read_logs(dfs: &DfsClient, id: &JobId) -> JtResult<(Vec<String>, Vec<bytes::Bytes>)> {
    let dir = common::jobs::log_dir(id.as_str());
    let files = match dfs.list(&dir) {
        Ok(f) => f,
        Err(client::ClientError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(JtError::dfs(format!("listing {dir}"), e)),
    };
    let (mut names, mut logs, mut total) = (Vec::new(), Vec::new(), 0usize);
    for f in files {
        names.push(f.path.rsplit('/').next().unwrap_or_default().to_string());
        if total >= MAX_LOG_BYTES {
            logs.push(bytes::Bytes::from_static(
                b"(not shown: the job's logs are larger than one answer carries)\n",
            ));
            continue;
        }
        let data = dfs
            .read_file(&f.path)
            .map_err(|e| JtError::dfs(format!("reading {}", f.path), e))?;
        total += data.len();
        logs.push(data.into());
    }
    Ok((names, logs))
}

impl Rpc {
    /// The caller, when it is the superuser; else a refusal naming it and `what` it tried.
    fn require_superuser<T>(
        &self,
        req: &Request<T>,
        what: &str,
    ) -> Result<common::auth::Identity, Status> {
        let who = caller(req)?;
        if self.0.verifier.is_none() || self.0.superuser.is(&who) {
            return Ok(who);
        }
        Err(proto::Reason::PermissionDenied.status(format!(
            "{who} may not {what}: only the superuser may (the job tracker's user {}, or members \
             of the group {})",
            self.0.superuser.user, self.0.superuser.group
        )))
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<bytes::Bytes, Status> {
    serde_json::to_vec(v)
        .map(Into::into)
        .map_err(|e| JtError::Internal(format!("encoding a reply: {e}")).into())
}

#[tonic::async_trait]
impl JobTrackerProtocol for Rpc {
    async fn submit_job(
        &self,
        req: Request<SubmitJobRequest>,
    ) -> Result<Response<SubmitJobResponse>, Status> {
        let who = caller(&req)?;
        let mut spec: JobSpec = serde_json::from_slice(&req.into_inner().spec_json)
            .map_err(|e| JtError::InvalidJob(format!("bad job spec: {e}")))?;
        // The job runs as whoever its token names, whatever the spec says.
        spec.user = who.user.clone();
        crate::admission::check_queue(&self.0.config.queues(), &spec)?;
        let delegation = match &self.0.secret {
            Some(secret) => Some(crate::credentials::mint(
                secret,
                &who,
                now_ms(),
                self.0.config.security.job_token_lifetime_ms,
            )?),
            None => None,
        };
        // Workers enforce the task memory the spec carries: a job that sets none gets ours.
        if spec.settings.task_memory_mb == 0 {
            spec.settings.task_memory_mb = self.0.config.task_memory_mb;
        }
        // Marked used before the check, so a sweep deciding from now on keeps the binary.
        self.0
            .state
            .lock()
            .binary_uses
            .used(&spec.binary.path, now_ms());
        let dfs = self.0.dfs.clone();
        let (checked, max_reducers) = (spec.clone(), self.0.config.max_reducers);
        tokio::task::spawn_blocking(move || crate::admission::check(&dfs, &checked, max_reducers))
            .await
            .map_err(|e| JtError::Internal(format!("checking a job: {e}")))??;
        let submitted_ms = now_ms();
        // As the namenode does: apply, append, release the lock, await durability. A request
        // dropped while waiting leaves a job both journaled and known, never only journaled.
        let (id, commit) = {
            let mut st = self.0.state.lock();
            st.next_job += 1;
            let id = JobId(format!("job_{}_{:04}", self.0.started_ms, st.next_job));
            let delegation = delegation.map(|d| crate::credentials::for_job(d, &id));
            let record = HistoryRecord::Submitted {
                id: id.clone(),
                spec: spec.clone(),
                submitted_ms,
                delegation: delegation.clone().map(Box::new),
            };
            let mut job = JobRun::new(id.clone(), spec, submitted_ms);
            job.credentials = self
                .0
                .secret
                .as_ref()
                .zip(delegation.as_ref())
                .and_then(|(s, d)| crate::credentials::task_credentials(s, d));
            job.delegation = delegation;
            st.add_job(job);
            let commit = self.0.journal.append(record.encode()).1;
            (id, commit)
        };
        self.0.wake.notify_one();
        commit.durable().await.map_err(JtError::History)?;
        tracing::info!(job = %id, "job submitted");
        Ok(Response::new(SubmitJobResponse {
            job_id: id.to_string(),
        }))
    }

    async fn get_job(
        &self,
        req: Request<JobRequest>,
    ) -> Result<Response<JobReportResponse>, Status> {
        let id = req.into_inner().job_id;
        let report = self
            .0
            .state
            .lock()
            .report(&id, self.0.clock.now())
            .ok_or(JtError::NoSuchJob(JobId(id)))?;
        Ok(Response::new(JobReportResponse {
            report_json: json(&report)?,
        }))
    }

    async fn list_jobs(
        &self,
        _req: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        let reports = self.0.state.lock().reports(self.0.clock.now());
        let reports = reports.iter().map(json).collect::<Result<_, _>>()?;
        Ok(Response::new(ListJobsResponse {
            reports_json: reports,
        }))
    }

    async fn kill_job(
        &self,
        req: Request<JobRequest>,
    ) -> Result<Response<KillJobResponse>, Status> {
        let who = caller(&req)?;
        let id = req.into_inner().job_id;
        {
            let mut st = self.0.state.lock();
            if let Some(&j) = st.by_id.get(id.as_str()) {
                let job = &st.jobs[j];
                let queues = self.0.config.queues();
                let queue = queues.iter().find(|q| q.name == job.spec.settings.queue);
                crate::job_acl::check(
                    &who,
                    JobAction::Kill,
                    &job.id,
                    &job.spec.user,
                    queue,
                    &self.0.superuser,
                )?;
            }
            // A job that ended (cleaning or not) cannot be killed: say how it ended.
            let ended = match st.by_id.get(id.as_str()).copied() {
                Some(j) if st.jobs[j].state.is_over() => st.jobs[j].state,
                Some(j) => {
                    crate::driver::kill(&mut st, j);
                    JobState::Running
                }
                None => match st.ended.get(id.as_str()) {
                    Some(report) => report.state,
                    None => return Err(JtError::NoSuchJob(JobId(id)).into()),
                },
            };
            if ended.is_over() {
                return Err(JtError::AlreadyEnded {
                    id: JobId(id),
                    state: ended,
                }
                .into());
            }
        }
        self.0.wake.notify_one();
        Ok(Response::new(KillJobResponse {}))
    }

    async fn job_logs(
        &self,
        req: Request<JobRequest>,
    ) -> Result<Response<JobLogsResponse>, Status> {
        let who = caller(&req)?;
        let id = JobId(req.into_inner().job_id);
        // Its owner and queue, whether it runs or ended.
        let (owner, queue) = {
            let st = self.0.state.lock();
            match st.by_id.get(id.as_str()) {
                Some(&j) => (
                    st.jobs[j].spec.user.clone(),
                    st.jobs[j].spec.settings.queue.clone(),
                ),
                None => match st.ended.get(id.as_str()) {
                    Some(r) => (r.user.clone(), r.queue.clone()),
                    None => return Err(JtError::NoSuchJob(id).into()),
                },
            }
        };
        let queues = self.0.config.queues();
        let q = queues.iter().find(|q| q.name == queue);
        crate::job_acl::check(&who, JobAction::ReadLogs, &id, &owner, q, &self.0.superuser)?;
        let dfs = self.0.dfs.clone();
        let (names, logs) = tokio::task::spawn_blocking(move || read_logs(&dfs, &id))
            .await
            .map_err(|e| JtError::Internal(format!("reading logs: {e}")))??;
        Ok(Response::new(JobLogsResponse { names, logs }))
    }

    async fn workers(
        &self,
        _req: Request<WorkersRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let st = self.0.state.lock();
        let (now, wall) = (self.0.clock.now(), now_ms());
        let exclusions: Vec<_> = st
            .workers
            .keys()
            .map(|h| st.health.get(h).and_then(|x| x.excluded_at(now)))
            .collect();
        Ok(Response::new(WorkersResponse {
            hosts: st.workers.keys().cloned().collect(),
            slots: st.workers.values().map(|w| w.slots).collect(),
            excluded_until_ms: exclusions
                .iter()
                .map(|e| {
                    e.map_or(0, |e| {
                        wall + e.until.saturating_duration_since(now).as_millis() as u64
                    })
                })
                .collect(),
            excluded_reason: exclusions
                .iter()
                .map(|e| e.map(|e| e.reason.clone()).unwrap_or_default())
                .collect(),
            admin_state: st
                .workers
                .keys()
                .map(|h| Drain::as_str(st.draining.get(h).copied()).to_string())
                .collect(),
        }))
    }

    async fn queues(
        &self,
        _req: Request<QueuesRequest>,
    ) -> Result<Response<QueuesResponse>, Status> {
        let reports =
            crate::scheduler::fair_share::queue_reports(&self.0.state.lock(), &self.0.config);
        let queues_json = reports.iter().map(json).collect::<Result<_, _>>()?;
        Ok(Response::new(QueuesResponse { queues_json }))
    }

    async fn decommission(
        &self,
        req: Request<DecommissionRequest>,
    ) -> Result<Response<DecommissionResponse>, Status> {
        let what = if req.get_ref().recommission {
            "return workers to service"
        } else {
            "drain workers"
        };
        let who = self.require_superuser(&req, what)?;
        let r = req.into_inner();
        let known: std::collections::BTreeMap<String, String> = self
            .0
            .state
            .lock()
            .workers
            .iter()
            .map(|(h, w)| (h.clone(), w.shuffle_addr.clone()))
            .collect();
        let mut admin = self.0.admin.lock();
        let matched = admin
            .decommission(&known, &r.nodes, r.recommission, r.dry_run)
            .map_err(|e| proto::Reason::Internal.status(e))?;
        if !r.dry_run {
            let mut st = self.0.state.lock();
            let now = self.0.clock.now();
            for host in matched.iter().flatten() {
                let addr = known.get(host).map_or("", String::as_str);
                drain::set_wanted(&mut st, host, admin.wanted_out(host, addr));
                drain::check(&mut st, host, now);
            }
            tracing::info!(by = %who, nodes = ?r.nodes, recommission = r.recommission, "worker admin command");
        }
        Ok(Response::new(DecommissionResponse {
            matched: matched.into_iter().map(|m| m.join(",")).collect(),
        }))
    }

    async fn refresh_nodes(
        &self,
        req: Request<RefreshNodesRequest>,
    ) -> Result<Response<RefreshNodesResponse>, Status> {
        self.require_superuser(&req, "refresh the node lists")?;
        let mut admin = self.0.admin.lock();
        admin
            .reload(&self.0.config)
            .map_err(|e| proto::Reason::InvalidArgument.status(e))?;
        let mut st = self.0.state.lock();
        let workers: Vec<(String, String)> = st
            .workers
            .iter()
            .map(|(h, w)| (h.clone(), w.shuffle_addr.clone()))
            .collect();
        let mut changes = Vec::new();
        for (host, addr) in workers {
            if admin.refusal(&host, &addr).is_some() {
                changes.push(format!("{host} refused (not in the include list)"));
                continue;
            }
            if let Some(change) = drain::set_wanted(&mut st, &host, admin.wanted_out(&host, &addr))
            {
                drain::check(&mut st, &host, self.0.clock.now());
                changes.push(format!("{host} {change}"));
            }
        }
        Ok(Response::new(RefreshNodesResponse { changes }))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        // Only workers (service tokens) heartbeat; insecure mode has no service identities.
        if self.0.verifier.is_some() {
            require_service(&caller(&req)?, "worker")?;
        }
        let hb: Heartbeat = serde_json::from_slice(&req.into_inner().heartbeat_json)
            .map_err(|e| proto::Reason::InvalidArgument.status(format!("bad heartbeat: {e}")))?;
        let wanted_out = {
            let admin = self.0.admin.lock();
            if let Some(why) = admin.refusal(&hb.host, &hb.shuffle_addr) {
                return Err(proto::Reason::PermissionDenied.status(why));
            }
            admin.wanted_out(&hb.host, &hb.shuffle_addr)
        };
        let cx = Context {
            config: &self.0.config,
            topology: &self.0.topology,
            now: self.0.clock.now(),
        };
        let succeeded: Vec<AttemptId> = hb
            .attempts
            .iter()
            .filter(|s| matches!(s.outcome, Some(AttemptOutcome::Succeeded)))
            .map(|s| s.attempt_id.clone())
            .collect();
        let (reply, wake) = {
            let mut st = self.0.state.lock();
            drain::set_wanted(&mut st, &hb.host, wanted_out);
            let (reply, wake) = crate::scheduler::heartbeat(&mut st, &cx, hb);
            // Appended under the lock, so before the stage's commit record. Not awaited: a
            // success lost with a crash only runs its task again.
            for record in crate::history::successes(&st, &succeeded) {
                drop(self.0.journal.append(record.encode()));
            }
            (reply, wake)
        };
        if wake {
            self.0.wake.notify_one();
        }
        Ok(Response::new(HeartbeatResponse {
            reply_json: json(&reply)?,
        }))
    }
}
