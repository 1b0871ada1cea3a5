//! The scheduler's rules, driven by the [`super::test_harness`] without processes or sleeps:
//! one file per rule.

mod ended_jobs;
mod exclusion;
mod fetch_failures;
mod locality;
mod preemption;
mod retries;
mod sharing;
mod speculation;
mod timeouts;
mod worker_loss;
