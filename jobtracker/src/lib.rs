//! The job tracker: admits jobs, splits their input by block, schedules attempts on workers
//! near their data, retries and speculates, commits outputs, and keeps job history in the
//! durable journal.
//!
//! - [`service`]: start-up and the gRPC service (clients and worker heartbeats).
//! - [`state`]: jobs, stages, tasks, attempts and workers in memory; reports.
//! - [`scheduler`]: what a heartbeat does: outcomes, retries, assignment, speculation.
//! - [`driver`]: the background work on the DFS: splits, stage commit, cleanup, worker expiry.
//! - [`admission`]: checks at submit time.
//! - [`history`]: job history records in the journal.

pub mod admission;
pub mod driver;
pub mod history;
pub mod scheduler;
pub mod service;
pub mod state;
