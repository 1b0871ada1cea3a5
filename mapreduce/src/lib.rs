//! The MapReduce SDK: what a job developer depends on.
//!
//! A job is a binary whose `main` calls [`run`] with a function building a [`Job`] from the
//! arguments: stages of a [`Mapper`], inputs, outputs, and optionally a combiner and a
//! [`Reducer`]. `docs/writing-jobs.md` walks through one.
//!
//! A short tour:
//! - [`api`]: the traits a job implements and the handles it emits to.
//! - [`job`]: declaring jobs and stages; [`entry`]: the binary's `describe` and `task` modes.
//! - [`fields`]: value encoding, and writing keys and values as text or CSV columns.
//! - [`record`]: input records and the split readers of each input format.
//! - [`context`]: counters, side inputs, which task this is.
//! - [`task`] and [`sinks`]: the task runtime: map side, reduce side with the shuffle fetch,
//!   output files under the attempt's temporary directory.
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

pub mod api;
mod combine_table;
pub mod context;
pub mod entry;
pub mod error;
pub mod fields;
pub mod ifile;
pub mod input;
pub mod job;
pub mod key;
pub mod merge;
pub mod partition;
mod radix_sort;
pub mod record;
pub mod reduce_input;
pub mod sinks;
pub mod sort;
pub mod task;

pub use api::{Mapper, Output, Reducer, Values};
pub use common::jobs::JobSettings;
pub use context::TaskContext;
pub use entry::{run, JobEnv};
pub use error::{fail, MrError, MrResult};
pub use fields::{FieldWriter, Fields, Value};
pub use job::{Dest, Input, Job, Stage};
pub use key::{Decimal, Key, Timestamp};
#[doc(hidden)]
pub use postcard;
pub use record::Record;
