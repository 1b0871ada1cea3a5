//! Wire types shared by every daemon and client: the gRPC services of the namenode and the
//! messages they carry. Generated from `proto/*.proto` at build time; and
//! [`Reason`], the typed cause every error status carries.

pub mod reason;
pub use reason::Reason;

/// The block store's control protocol (client and datanode to namenode).
#[allow(clippy::all, missing_docs)]
pub mod dfs {
    tonic::include_proto!("dfs");
}

/// The job control protocol (clients and workers to the job tracker).
#[allow(clippy::all, missing_docs)]
pub mod jobs {
    tonic::include_proto!("jobs");
}
