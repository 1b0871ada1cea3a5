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
//! - [`reduce_input`]: the reduce side's merge of fetched segments, in memory up to a budget
//!   and on disk beyond it, into one sorted stream.
//! - [`partition`]: hash partitioning of the grouping prefix; total order from a sample.
//! - [`input`]: reading a split: text lines and CSV records belong to the split where they
//!   start; fixed-length records likewise.

pub mod error;
pub mod ifile;
pub mod input;
pub mod key;
pub mod merge;
pub mod partition;
pub mod reduce_input;
pub mod sort;

pub use error::{MrError, MrResult};
pub use key::{Decimal, Key, Timestamp};
