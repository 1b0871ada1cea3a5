//! The client side of the block store and of the job tracker: a library, nothing else (the
//! local-cluster harness is the `cluster` crate, the command line the `mrctl` crate).
//!
//! A short tour:
//! - [`dfs`]: [`DfsClient`], the blocking handle on the namespace and the entry point.
//! - [`writer`]: [`writer::DfsWriter`], writing a file through datanode pipelines, recovering
//!   from a failed datanode mid-block.
//! - [`reader`]: [`reader::DfsReader`], reading nearest replica first, verifying checksums and
//!   moving to another replica (and reporting the bad one) when a check fails.
//! - `jobs`: the job client: describe and upload a job binary, submit, watch, kill (feature
//!   `jobs`, on by default; tasks do not need it).
//! - [`snapshots`]: allowing, taking, renaming, deleting and comparing snapshots.
//! - [`homes`]: `/user`, `/tmp` and users' home directories, as an administrator makes them.
//! - [`trash`]: `rm`'s move to the caller's trash, and `expunge`.
//! - [`checksum`]: a file's composite CRC, independent of its block size.
//! - [`credentials`]: the token (or, insecure, the claimed user) every call carries.
//! - [`error`]: the client's error type.
//! - [`glob`]: path globs expanded against listings; [`paths`]: relative paths resolved
//!   against the caller's home directory `/user/NAME`.

pub mod checksum;
pub mod credentials;
pub mod dfs;
pub mod error;
pub mod glob;
pub mod homes;
#[cfg(feature = "jobs")]
pub mod jobs;
pub mod paths;
pub mod reader;
pub mod snapshots;
pub mod trash;
pub mod writer;

pub use credentials::Credentials;
pub use dfs::{CreateOptions, DfsClient};
pub use error::{ClientError, ClientResult};
/// The safe mode request and reply, as `DfsClient::safe_mode` takes and gives them.
pub use proto::dfs::{SafeModeAction, SafeModeResponse};
