//! The worker: one per node. It heartbeats to the job tracker, runs each task attempt it is
//! given as a child process of the job's binary, and serves its maps' outputs to reducers.
//!
//! - [`service`]: start-up and the heartbeat loop.
//! - [`attempts`]: launching, watching and killing attempt processes; their logs.
//! - [`memory`]: the watchdog enforcing an attempt's memory limit.
//! - [`binaries`]: the node's cache of job binaries, by content hash.
//! - [`shuffle`]: the shuffle server.

pub mod attempts;
pub mod binaries;
pub mod memory;
pub mod service;
pub mod shuffle;
pub mod task_users;
