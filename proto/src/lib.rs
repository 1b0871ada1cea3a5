//! Wire types shared by every daemon and client: the gRPC services of the namenode and the
//! messages they carry, made from `proto/*.proto` by tonic-prost-build and committed under
//! `src/generated/` (the `generated_code` test fails when that copy is stale), so no code
//! generator runs when a job is built; and [`Reason`], the typed cause every error status carries.

pub mod reason;
pub use reason::Reason;

/// The block store's control protocol (client and datanode to namenode).
#[allow(clippy::all, missing_docs)]
pub mod dfs {
    include!("generated/dfs.rs");
}

/// The job control protocol (clients and workers to the job tracker).
#[allow(clippy::all, missing_docs)]
pub mod jobs {
    include!("generated/jobs.rs");
}
