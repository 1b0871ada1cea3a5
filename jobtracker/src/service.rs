//! The job tracker's start-up and its gRPC service: job submission, status, listing and kill
//! for clients; heartbeats for workers.

use crate::history::HistoryRecord;
use crate::scheduler::Context;
use crate::state::{JobRun, State};
use anyhow::Context as _;
use client::DfsClient;
use common::config::{ClientConfig, JobTrackerConfig, TopologyConfig};
use common::jobs::{now_ms, Heartbeat, JobSpec};
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
    pub state: Mutex<State>,
    pub journal: Journal,
    pub dfs: DfsClient,
    /// Wakes the driver.
    pub wake: Notify,
    started_ms: u64,
}

pub async fn run(config: JobTrackerConfig, topology: TopologyConfig) -> anyhow::Result<()> {
    let mut state = State::default();
    let journal = crate::history::recover(&config.meta_dir, &mut state)
        .with_context(|| format!("loading job history from {}", config.meta_dir.display()))?;
    let client_config = ClientConfig {
        namenode_addr: config.namenode_addr.clone(),
        ..Default::default()
    };
    let dfs = tokio::task::spawn_blocking(move || DfsClient::connect(client_config)).await??;
    let addr = config
        .rpc_addr
        .parse()
        .with_context(|| format!("rpc_addr {}", config.rpc_addr))?;
    let jt = Arc::new(JobTracker {
        config,
        topology: Topology::new(topology),
        state: Mutex::new(state),
        journal,
        dfs,
        wake: Notify::new(),
        started_ms: now_ms(),
    });
    tokio::spawn(crate::driver::run(jt.clone()));
    tracing::info!(%addr, "job tracker started");
    let service = JobTrackerProtocolServer::new(Rpc(jt)).max_decoding_message_size(64 << 20);
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

struct Rpc(Arc<JobTracker>);

fn json<T: serde::Serialize>(v: &T) -> Result<bytes::Bytes, Status> {
    serde_json::to_vec(v)
        .map(Into::into)
        .map_err(|e| Status::internal(e.to_string()))
}

impl Rpc {
    fn job_index(&self, id: &str) -> Result<usize, Status> {
        self.0
            .state
            .lock()
            .by_id
            .get(id)
            .copied()
            .ok_or_else(|| Status::not_found(format!("no job {id}")))
    }
}

#[tonic::async_trait]
impl JobTrackerProtocol for Rpc {
    async fn submit_job(
        &self,
        req: Request<SubmitJobRequest>,
    ) -> Result<Response<SubmitJobResponse>, Status> {
        let spec: JobSpec = serde_json::from_slice(&req.into_inner().spec_json)
            .map_err(|e| Status::invalid_argument(format!("bad job spec: {e}")))?;
        let dfs = self.0.dfs.clone();
        let checked = spec.clone();
        tokio::task::spawn_blocking(move || crate::admission::check(&dfs, &checked))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(Status::invalid_argument)?;
        let submitted_ms = now_ms();
        let (id, commit) = {
            let mut st = self.0.state.lock();
            st.next_job += 1;
            let id = format!("job_{}_{:04}", self.0.started_ms, st.next_job);
            let record = HistoryRecord::Submitted {
                id: id.clone(),
                spec: spec.clone(),
                submitted_ms,
            };
            let commit = self.0.journal.append(record.encode()).1;
            (id, commit)
        };
        commit
            .durable()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        {
            let mut st = self.0.state.lock();
            let j = st.jobs.len();
            st.by_id.insert(id.clone(), j);
            st.jobs.push(JobRun::new(id.clone(), spec, submitted_ms));
        }
        tracing::info!(job = %id, "job submitted");
        self.0.wake.notify_one();
        Ok(Response::new(SubmitJobResponse { job_id: id }))
    }

    async fn get_job(
        &self,
        req: Request<JobRequest>,
    ) -> Result<Response<JobReportResponse>, Status> {
        let j = self.job_index(&req.into_inner().job_id)?;
        let report = self.0.state.lock().jobs[j].report();
        Ok(Response::new(JobReportResponse {
            report_json: json(&report)?,
        }))
    }

    async fn list_jobs(
        &self,
        _req: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        let st = self.0.state.lock();
        let reports = st
            .jobs
            .iter()
            .map(|j| json(&j.report()))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(ListJobsResponse {
            reports_json: reports,
        }))
    }

    async fn kill_job(
        &self,
        req: Request<JobRequest>,
    ) -> Result<Response<KillJobResponse>, Status> {
        let j = self.job_index(&req.into_inner().job_id)?;
        crate::driver::kill(&mut self.0.state.lock(), j);
        self.0.wake.notify_one();
        Ok(Response::new(KillJobResponse {}))
    }

    async fn workers(
        &self,
        _req: Request<WorkersRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let st = self.0.state.lock();
        Ok(Response::new(WorkersResponse {
            hosts: st.workers.keys().cloned().collect(),
            slots: st.workers.values().map(|w| w.slots).collect(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let hb: Heartbeat = serde_json::from_slice(&req.into_inner().heartbeat_json)
            .map_err(|e| Status::invalid_argument(format!("bad heartbeat: {e}")))?;
        let cx = Context {
            config: &self.0.config,
            topology: &self.0.topology,
        };
        let (reply, wake) = crate::scheduler::heartbeat(&mut self.0.state.lock(), &cx, hb);
        if wake {
            self.0.wake.notify_one();
        }
        Ok(Response::new(HeartbeatResponse {
            reply_json: json(&reply)?,
        }))
    }
}
