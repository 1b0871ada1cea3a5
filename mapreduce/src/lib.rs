//! The MapReduce SDK: what a job developer depends on.
//!
//! A short tour (the data plane of the engine; the job entry point, formats and the task
//! runner's wiring to workers come with the job tracker):
//! - [`key`]: order-preserving key encoding for integers, strings, decimals, timestamps,
//!   booleans, options and tuples; grouping by a key prefix.
//! - [`ifile`]: the intermediate record stream: sorted key/value records in checksummed,
//!   optionally compressed blocks (spills, map outputs, the binary record output format).
//! - [`sort`]: the map side: an in-memory sort buffer of raw bytes, sorted partitioned spills,
//!   the combiner on spill and merge, one output file plus index per map.
//! - [`merge`]: k-way merge of sorted runs and grouping of a merged stream by key prefix.

pub mod error;
pub mod ifile;
pub mod key;
pub mod merge;
pub mod sort;

pub use error::{MrError, MrResult};
pub use key::{Decimal, Key, Timestamp};
