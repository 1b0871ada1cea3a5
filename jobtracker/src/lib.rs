//! The job tracker: admits jobs, splits their input by block, schedules attempts on workers
//! near their data, retries and speculates, commits outputs, and keeps job history in the
//! durable journal.
//!
//! A guided tour, in the order a job meets the code:
//! - [`service`]: start-up and the gRPC service. `submit_job` checks the job ([`admission`]),
//!   registers it in memory, then awaits its history record's durability before replying.
//! - [`driver`]: the background loop (every 100 ms or when woken) that does the DFS work the
//!   lock must not wait for: a stage's splits once its inputs are committed, a stage's commit
//!   once its tasks succeeded, a job's cleanup once it ended; then it retires the job.
//! - [`scheduler`]: what a worker heartbeat does: attempt outcomes and retries, fetch failures,
//!   lost workers, assignment by locality, speculation. Pure decisions on the state at a given
//!   time, unit-tested with virtual workers and a manual clock.
//! - [`state`]: [`state::TrackerState`], everything held in memory behind one lock: live jobs
//!   (stages, tasks, attempts), workers, pending kills, and the final reports of ended jobs.
//! - [`history`]: the job records in the durable journal and recovery from them.
//! - [`credentials`]: each job's delegation token and shuffle key; [`job_acl`]: who may kill
//!   a job or read its logs.
//! - [`binary_cache`]: removes job binaries no job has used for a week (configurable).
//! - [`error`]: [`error::JtError`] and how each error becomes a gRPC status with a reason.

pub mod admission;
pub mod binary_cache;
pub mod credentials;
pub mod driver;
pub mod error;
pub mod history;
pub mod job_acl;
pub mod scheduler;
pub mod service;
pub mod state;
