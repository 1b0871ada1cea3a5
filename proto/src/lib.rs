//! Wire types shared by every daemon and client: the gRPC services of the namenode and the
//! messages they carry. Generated from `proto/*.proto` at build time.

#![allow(clippy::all, missing_docs)]

/// The block store's control protocol (client and datanode to namenode).
pub mod dfs {
    tonic::include_proto!("dfs");
}

/// The job control protocol (clients and workers to the job tracker).
pub mod jobs {
    tonic::include_proto!("jobs");
}
