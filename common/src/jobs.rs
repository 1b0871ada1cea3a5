//! The job model every part shares: the job spec a job binary describes, the task spec a
//! worker hands to a task attempt, what attempts report back, the worker heartbeat, and the job
//! report clients read. All travel as JSON (inside gRPC messages, or as lines on a task's pipes).

use crate::ids::{AttemptId, JobId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Counters by group, then name. The built-in groups are [`TASK_COUNTERS`] and [`JOB_COUNTERS`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters(pub BTreeMap<String, BTreeMap<String, u64>>);

/// The group of the per-task counters Hadoop calls `TaskCounter`.
pub const TASK_COUNTERS: &str = "Map-Reduce Framework";
/// The group of the per-job counters Hadoop calls `JobCounter`.
pub const JOB_COUNTERS: &str = "Job Counters";

impl Counters {
    pub fn add(&mut self, group: &str, name: &str, n: u64) {
        *self
            .0
            .entry(group.to_string())
            .or_default()
            .entry(name.to_string())
            .or_default() += n;
    }

    pub fn get(&self, group: &str, name: &str) -> u64 {
        self.0
            .get(group)
            .and_then(|g| g.get(name))
            .copied()
            .unwrap_or(0)
    }

    pub fn merge(&mut self, other: &Counters) {
        for (g, names) in &other.0 {
            for (n, v) in names {
                self.add(g, n, *v);
            }
        }
    }
}

/// How a stage's input files are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// Lines of text; a line crossing a split's end belongs to the split where it starts.
    Text,
    /// RFC 4180 CSV whose first line names the columns.
    Csv,
    /// Records of exactly `record_len` bytes.
    Fixed { record_len: u64 },
    /// The binary record files a previous stage wrote; never split.
    Binary,
    /// No file: the row numbers `0..rows` in `splits` ranges (data generators, as teragen).
    Range { rows: u64, splits: u32 },
}

/// One input of a stage: a file, or a directory of files (names starting `_` or `.` skipped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub path: String,
    pub format: InputFormat,
}

/// How a stage's output files are written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// `key<TAB>value` lines.
    Text,
    /// CSV with a header line.
    Csv { header: Vec<String> },
    /// Key/value records in the IFile format, read back by a later stage.
    Binary,
    /// The key's and value's bytes as they are, no separators.
    Raw,
}

/// One output directory of a stage; the main output has an empty name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub path: String,
    pub format: OutputFormat,
    /// Replicas of the files written; 0: the cluster's default.
    #[serde(default)]
    pub replication: u32,
    /// `path` is one file, written by the stage's only task, not a directory of parts.
    #[serde(default)]
    pub file: bool,
    /// Intermediate data between stages: removed when the job ends.
    #[serde(default)]
    pub temporary: bool,
}

impl OutputSpec {
    /// Where attempts write until the commit: `DIR/_temporary` for a directory output,
    /// `PARENT/_NAME.temporary` beside a file output.
    pub fn staging_dir(&self) -> String {
        let path = self.path.trim_end_matches('/');
        if self.file {
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            format!("{parent}/_{name}.temporary")
        } else {
            format!("{path}/_temporary")
        }
    }
}

/// A file or directory every task of a stage may read whole (map-side joins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideInputSpec {
    pub name: String,
    pub path: String,
    pub format: InputFormat,
}

/// Which reducer a map output key goes to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionerSpec {
    /// A hash of the key's grouping prefix.
    #[default]
    Hash,
    /// Sorted boundaries from a sample of the map output keys (hex-encoded).
    TotalOrder { boundaries: Vec<String> },
}

/// One stage: inputs, a mapper, optionally a combiner and a reducer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    pub name: String,
    pub inputs: Vec<InputSpec>,
    pub has_combiner: bool,
    pub has_reducer: bool,
    /// Reduce tasks; 0 for a map-only stage.
    pub reducers: u32,
    pub partitioner: PartitionerSpec,
    pub outputs: Vec<OutputSpec>,
    pub side_inputs: Vec<SideInputSpec>,
}

/// Tunables of a job, with Hadoop-like defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSettings {
    /// Intermediate compression: `zstd`, `snappy` or `none`.
    pub compression: String,
    pub sort_buffer_mb: u64,
    /// Memory a reduce task holds fetched map output in before merging to disk.
    pub reduce_memory_mb: u64,
    pub merge_factor: usize,
    /// Attempts per task before the job fails.
    pub max_attempts: u32,
    pub speculative: bool,
    /// Bytes of side inputs a task may load (map-side joins check against it).
    pub side_input_memory_mb: u64,
    /// The job tracker queue the job runs in (`mrctl submit --queue`).
    pub queue: String,
    /// Its priority, from [`MIN_PRIORITY`] to [`MAX_PRIORITY`] (`mrctl submit --priority`,
    /// see [`parse_priority`]): in a FIFO queue the highest goes first; in a fair queue a job's
    /// weight is 2^priority.
    pub priority: i32,
    /// An attempt whose progress does not change for this long is killed and retried as a
    /// failure (Hadoop's `mapreduce.task.timeout`); 0: the job tracker's `task_timeout_ms`.
    pub task_timeout_ms: u64,
    /// The memory (resident) each attempt may use; over it the worker kills the attempt and it
    /// fails (Hadoop's `mapreduce.{map,reduce}.memory.mb`); 0: the job tracker's
    /// `task_memory_mb`.
    pub task_memory_mb: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            compression: "zstd".into(),
            sort_buffer_mb: 100,
            reduce_memory_mb: 256,
            merge_factor: 32,
            max_attempts: 4,
            speculative: true,
            side_input_memory_mb: 512,
            queue: "default".into(),
            priority: 0,
            task_timeout_ms: 0,
            task_memory_mb: 0,
        }
    }
}

/// The lowest job priority.
pub const MIN_PRIORITY: i32 = -10;
/// The highest job priority.
pub const MAX_PRIORITY: i32 = 10;
/// Hadoop's priority names and the priorities they stand for.
pub const PRIORITY_NAMES: [(&str, i32); 5] = [
    ("very_low", -2),
    ("low", -1),
    ("normal", 0),
    ("high", 1),
    ("very_high", 2),
];

/// A priority as a user writes it: a name (`very_low`, `low`, `normal`, `high`, `very_high`, any
/// case, `-` or `_`) or an integer from [`MIN_PRIORITY`] to [`MAX_PRIORITY`].
pub fn parse_priority(s: &str) -> std::result::Result<i32, String> {
    let name = s.trim().to_ascii_lowercase().replace('-', "_");
    if let Some((_, p)) = PRIORITY_NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*p);
    }
    match s.trim().parse::<i32>() {
        Ok(p) if (MIN_PRIORITY..=MAX_PRIORITY).contains(&p) => Ok(p),
        _ => Err(format!(
            "priority {s:?} is neither very_low, low, normal, high, very_high nor an integer \
             from {MIN_PRIORITY} to {MAX_PRIORITY}"
        )),
    }
}

/// A priority in words: its name when it has one, else the integer.
pub fn priority_name(p: i32) -> String {
    PRIORITY_NAMES
        .iter()
        .find(|(_, v)| *v == p)
        .map_or_else(|| p.to_string(), |(n, _)| n.to_string())
}

/// A job as its queue sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueJobReport {
    pub id: JobId,
    pub priority: i32,
    /// Slots its running attempts hold.
    pub running: u32,
    /// Tasks of its running stages waiting for a slot.
    pub pending: u32,
}

/// A job tracker queue's settings and use (`mrctl job queues`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub name: String,
    pub weight: f64,
    pub min_share: u32,
    /// `fair` or `fifo`.
    pub policy: String,
    /// Slots its jobs' running attempts hold.
    pub running: u32,
    /// Tasks of its jobs waiting for a slot.
    pub pending: u32,
    /// Its unfinished jobs, oldest first.
    pub jobs: Vec<QueueJobReport>,
}

/// The job binary in the DFS, named by its content hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryRef {
    pub path: String,
    pub sha256: String,
}

/// What a job binary's `describe` prints, completed by the submitter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub settings: JobSettings,
    /// The arguments the binary was described with; tasks rebuild the job from them.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub binary: BinaryRef,
    #[serde(default)]
    pub user: String,
    /// Values the job set while describing itself (sampled hot keys, a chosen plan), read
    /// back by its tasks.
    #[serde(default)]
    pub conf: BTreeMap<String, String>,
}

impl JobSpec {
    /// Indices of the earlier stages whose outputs stage `s` reads.
    pub fn stage_deps(&self, s: usize) -> Vec<usize> {
        let reads = |out: &str| {
            self.stages[s]
                .inputs
                .iter()
                .map(|i| i.path.as_str())
                .chain(self.stages[s].side_inputs.iter().map(|i| i.path.as_str()))
                .any(|p| is_under(p, out))
        };
        (0..s)
            .filter(|&d| self.stages[d].outputs.iter().any(|o| reads(&o.path)))
            .collect()
    }
}

/// Whether `path` is `dir` or inside it.
pub fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// A map task's share of one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Index into the stage's inputs.
    pub input: usize,
    pub path: String,
    pub start: u64,
    pub len: u64,
    /// Hosts holding a replica of the split's block.
    pub hosts: Vec<String>,
}

/// What one task does: map one split, or reduce one partition of every map's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskWork {
    Map { index: u32, split: Split },
    Reduce { partition: u32, maps: u32 },
}

/// Everything one task attempt needs; the first line on its stdin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub job_id: JobId,
    pub attempt_id: AttemptId,
    /// 0 for the first attempt of the task.
    pub attempt: u32,
    pub stage: usize,
    pub kind: TaskWork,
    pub job: JobSpec,
    pub namenode_addr: String,
    /// The worker's host: the client host for DFS locality.
    pub host: String,
    /// Local scratch and map output directory of this attempt.
    pub local_dir: PathBuf,
    /// The job's delegation token and shuffle key (none in insecure mode). They reach the task
    /// on its stdin only, never its argv or environment, and are never logged.
    #[serde(default)]
    pub credentials: Option<TaskCredentials>,
    /// The cluster's CA (PEM) the task's DFS client and shuffle fetches trust; `None` when
    /// the cluster is insecure (plain TCP). Filled in by the worker, from its `[security]`.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

impl TaskSpec {
    /// The `[security]` of the task's own connections (the DFS, the shuffle): secure when the
    /// worker handed it a CA or credentials.
    pub fn security(&self) -> crate::config::SecurityConfig {
        crate::config::SecurityConfig {
            insecure: self.tls_ca.is_none() && self.credentials.is_none(),
            tls_ca: self.tls_ca.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// What a task acts with: its job's delegation token (its DFS calls are its user's) and its
/// job key (it signs the task's shuffle requests).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCredentials {
    /// The delegation token's text form.
    pub token: String,
    /// The cluster secret's key the job key was derived under: the shuffle server derives the
    /// key again from it and the job id.
    pub key_id: u32,
    /// `auth::job_key::job_key(secret, key_id, job)`.
    pub job_key: [u8; 32],
}

/// Credentials never appear in a log line or a panic message, even through a `{:?}`.
impl std::fmt::Debug for TaskCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskCredentials {{ key_id: {}, .. }}", self.key_id)
    }
}

/// Where a finished map's output can be fetched; sent to reduce attempts on their stdin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapOutputLocation {
    pub map_index: u32,
    pub attempt_id: AttemptId,
    pub shuffle_addr: String,
}

/// What a task attempt writes on its report channel, one JSON line each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskReport {
    Progress {
        progress: f32,
        counters: Counters,
    },
    /// A map output could not be fetched; the job tracker re-runs the map after repeats.
    FetchFailed {
        map_index: u32,
        attempt_id: AttemptId,
    },
    Done {
        counters: Counters,
    },
    Failed {
        error: String,
    },
}

/// How an attempt ended, as a worker reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Succeeded,
    Failed {
        error: String,
    },
    /// Stopped on the job tracker's order.
    Killed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptStatus {
    pub attempt_id: AttemptId,
    pub progress: f32,
    pub counters: Counters,
    /// Set once the attempt is over.
    pub outcome: Option<AttemptOutcome>,
}

/// A worker's periodic report to the job tracker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The worker's host (its datanode's host, for locality).
    pub host: String,
    pub shuffle_addr: String,
    /// Changes at each worker start: a restarted worker is a new worker.
    pub incarnation: u64,
    pub slots: u32,
    pub free_slots: u32,
    pub attempts: Vec<AttemptStatus>,
    /// Map outputs reduce attempts could not fetch.
    pub fetch_failures: Vec<FetchFailure>,
}

/// A reduce attempt could not fetch a map attempt's output. On the wire it is the array
/// `[reduce attempt, map index, map attempt]`, as before it had a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "(AttemptId, u32, AttemptId)",
    into = "(AttemptId, u32, AttemptId)"
)]
pub struct FetchFailure {
    pub reduce_attempt: AttemptId,
    pub map_index: u32,
    pub map_attempt: AttemptId,
}

impl From<(AttemptId, u32, AttemptId)> for FetchFailure {
    fn from((reduce_attempt, map_index, map_attempt): (AttemptId, u32, AttemptId)) -> Self {
        FetchFailure {
            reduce_attempt,
            map_index,
            map_attempt,
        }
    }
}

impl From<FetchFailure> for (AttemptId, u32, AttemptId) {
    fn from(f: FetchFailure) -> Self {
        (f.reduce_attempt, f.map_index, f.map_attempt)
    }
}

/// The job tracker's answer: work to start, attempts to stop, news for reduces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    pub launch: Vec<TaskSpec>,
    pub kill: Vec<AttemptId>,
    /// For each running reduce attempt on this worker: every map output of its stage so far.
    pub map_outputs: BTreeMap<AttemptId, Vec<MapOutputLocation>>,
    /// Jobs that are over: their local files can go.
    pub finished_jobs: Vec<JobId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    Killed,
}

impl JobState {
    pub fn is_over(self) -> bool {
        self != JobState::Running
    }
}

/// Progress of one stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    pub name: String,
    pub maps: u32,
    pub maps_done: u32,
    pub map_progress: f32,
    pub reduces: u32,
    pub reduces_done: u32,
    pub reduce_progress: f32,
    /// Milliseconds spent in the map phase, and from the last map to the last reduce.
    pub map_ms: u64,
    pub reduce_ms: u64,
    /// Records each reduce task read, by partition (0 until it succeeds): shows skew.
    #[serde(default)]
    pub reduce_input_records: Vec<u64>,
}

/// What clients see of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    pub id: JobId,
    pub name: String,
    pub user: String,
    /// The queue it ran in (who may kill it or read its logs depends on it).
    #[serde(default)]
    pub queue: String,
    pub state: JobState,
    /// For a failed job: the failing task and its error.
    pub error: Option<String>,
    pub submitted_ms: u64,
    pub finished_ms: Option<u64>,
    pub stages: Vec<StageReport>,
    pub counters: Counters,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The hex SHA-256 of some bytes: how job binaries are named and checked.
#[cfg(feature = "sha256")]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the logs of a job's attempts are kept in the DFS.
pub fn log_dir(job_id: &str) -> String {
    format!("/.mr/logs/{job_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_is_a_hadoop_name_or_an_integer_in_range() {
        assert_eq!(parse_priority("very_high"), Ok(2));
        assert_eq!(parse_priority("VERY-LOW"), Ok(-2));
        assert_eq!(parse_priority("normal"), Ok(0));
        assert_eq!(parse_priority("-7"), Ok(-7));
        assert_eq!(parse_priority("10"), Ok(MAX_PRIORITY));
        let e = parse_priority("11").expect_err("out of range");
        assert!(e.contains("from -10 to 10"), "{e}");
        assert!(parse_priority("urgent").is_err());
        assert_eq!(priority_name(1), "high");
        assert_eq!(priority_name(5), "5");
    }

    #[test]
    fn a_spec_without_queue_or_priority_runs_in_the_default_queue_at_normal_priority() {
        let s: JobSettings = serde_json::from_str(r#"{"max_attempts":2}"#).expect("decodes");
        assert_eq!((s.queue.as_str(), s.priority), ("default", 0));
    }

    #[test]
    fn a_fetch_failure_keeps_its_array_shape_on_the_wire() {
        let f = FetchFailure {
            reduce_attempt: AttemptId::from("r"),
            map_index: 3,
            map_attempt: AttemptId::from("m"),
        };
        let json = serde_json::to_string(&f).expect("encodes");
        assert_eq!(json, r#"["r",3,"m"]"#);
        assert_eq!(
            serde_json::from_str::<FetchFailure>(&json).expect("decodes"),
            f
        );
    }
}
