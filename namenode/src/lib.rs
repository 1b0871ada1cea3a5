//! The namenode: the namespace and the block manager of the block store.
//!
//! A short tour:
//! - [`namespace`]: the directory tree, files, blocks, and the journaled [`namespace::Edit`]s.
//! - [`namesystem`]: the metadata behind one lock and every operation on it, one file per
//!   concern (client operations, datanode reports, replication, leases, checkpoints, the block
//!   manager); durability via the journal.
//! - [`datanodes`]: registered datanodes, liveness, queued commands.
//! - [`placement`]: the rack-aware replica placement rule and reader ordering.
//! - [`rpc`]: the gRPC services for clients and datanodes.
//! - [`service`]: start-up, the background monitors, serving.

pub mod datanodes;
pub mod error;
pub mod namespace;
pub mod namesystem;
pub mod placement;
pub mod revocation;
pub mod rpc;
pub mod service;
