//! The TOML configuration of each role. One file may hold several sections (`[namenode]`,
//! `[datanode]`, `[client]`, `[topology]`); every field has a default except where a node must
//! say who it is.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole config file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub namenode: Option<NamenodeConfig>,
    pub datanode: Option<DatanodeConfig>,
    pub client: Option<ClientConfig>,
    pub jobtracker: Option<JobTrackerConfig>,
    pub worker: Option<WorkerConfig>,
    pub topology: TopologyConfig,
    /// How every role in this file authenticates and encrypts (one section for all roles).
    pub security: SecurityConfig,
}

impl ConfigFile {
    #[cfg(feature = "config-file")]
    pub fn load(path: &Path) -> Result<Self> {
        use crate::error::IoContext;
        let text = std::fs::read_to_string(path).at(path)?;
        let mut file: ConfigFile = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            message: e.to_string(),
        })?;
        file.share_security();
        Ok(file)
    }

    /// Copies the `[security]` section into every role's config, which carries it from there.
    pub fn share_security(&mut self) {
        let s = &self.security;
        if let Some(c) = &mut self.namenode {
            c.security = s.clone();
        }
        if let Some(c) = &mut self.datanode {
            c.security = s.clone();
        }
        if let Some(c) = &mut self.client {
            c.security = s.clone();
        }
        if let Some(c) = &mut self.jobtracker {
            c.security = s.clone();
        }
        if let Some(c) = &mut self.worker {
            c.security = s.clone();
        }
    }

    /// The named section, or an error naming the file that lacks it.
    pub fn section<T: Clone>(path: &Path, s: &Option<T>, name: &str) -> Result<T> {
        s.clone().ok_or_else(|| Error::Config {
            path: path.into(),
            message: format!("missing [{name}] section"),
        })
    }
}

/// The namenode's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamenodeConfig {
    /// Address of the gRPC server (clients and datanodes).
    pub rpc_addr: String,
    /// Where the edit log and checkpoints live.
    pub meta_dir: PathBuf,
    pub default_replication: u32,
    pub max_replication: u32,
    pub default_block_size: u64,
    /// Bytes covered by one CRC; every block size must be a multiple of it.
    pub bytes_per_checksum: u32,
    pub heartbeat_interval_ms: u64,
    /// A datanode silent for this long is stale: read last, not chosen for new replicas.
    pub stale_after_ms: u64,
    /// A datanode silent for this long is dead: its replicas are re-created elsewhere.
    pub dead_after_ms: u64,
    pub block_report_interval_ms: u64,
    /// Fraction of known blocks that must have a reported replica before safe mode ends.
    pub safe_mode_threshold: f64,
    /// How often the replication monitor looks for blocks to copy or delete.
    pub replication_check_interval_ms: u64,
    /// Concurrent copies one datanode may be asked to send.
    pub max_replication_streams: u32,
    /// A scheduled copy not reported done after this long is scheduled again.
    pub pending_replication_timeout_ms: u64,
    /// A writer that has not renewed its lease for this long loses it; its files are recovered.
    pub lease_hard_limit_ms: u64,
    /// Checkpoint after this many edits...
    pub checkpoint_txns: u64,
    /// ...or this much time with at least one edit.
    pub checkpoint_period_ms: u64,
    /// Longest name of one path component, in bytes (HDFS: `max-component-length`).
    pub max_component_length: u32,
    /// Most components in a path (HDFS: 1,000).
    pub max_path_depth: u32,
    /// Test only: hold every edit-log write back this long, widening the window in which an
    /// edit is applied but not yet durable. 0 (the default) in any real deployment.
    pub test_edit_sync_delay_ms: u64,
    /// Open connections this daemon's gRPC port serves at once, from every peer together; over
    /// it a new connection is closed at once (keep it well under the process's file limit).
    pub max_connections: u32,
    /// Open connections one client address may hold on the gRPC port.
    pub max_connections_per_address: u32,
    /// A connection to the gRPC port that sends nothing for this long is closed.
    pub idle_timeout_ms: u64,
    /// How long what `rm` moves to a user's trash stays there before the emptier deletes it
    /// (HDFS's `fs.trash.interval`, here in milliseconds). 0 turns the trash off: `rm` deletes.
    pub trash_interval_ms: u64,
    /// How often the namenode's trash emptier checkpoints every `.Trash/Current` and deletes
    /// expired checkpoints (HDFS's `fs.trash.checkpoint.interval`); 0: every `trash_interval_ms`.
    pub trash_checkpoint_interval_ms: u64,
    /// Include list (HDFS's `dfs.hosts`): when set, only the datanodes it names (by `host` or
    /// `host:port`, one a line, `#` comments) may register. Re-read by `mrctl admin refresh-nodes`.
    pub hosts_include: Option<PathBuf>,
    /// Exclude list (HDFS's `dfs.hosts.exclude`): the datanodes it names are decommissioned.
    pub hosts_exclude: Option<PathBuf>,
    /// The file's `[security]` section, filled in by [`ConfigFile::load`].
    #[serde(skip)]
    pub security: SecurityConfig,
}

impl Default for NamenodeConfig {
    fn default() -> Self {
        NamenodeConfig {
            rpc_addr: "127.0.0.1:9000".into(),
            meta_dir: PathBuf::from("namenode-meta"),
            default_replication: 3,
            max_replication: 512,
            default_block_size: 128 << 20,
            bytes_per_checksum: 64 << 10,
            heartbeat_interval_ms: 3_000,
            stale_after_ms: 10_000,
            dead_after_ms: 30_000,
            block_report_interval_ms: 600_000,
            safe_mode_threshold: 0.999,
            replication_check_interval_ms: 1_000,
            max_replication_streams: 4,
            pending_replication_timeout_ms: 30_000,
            lease_hard_limit_ms: 600_000,
            checkpoint_txns: 1_000_000,
            checkpoint_period_ms: 3_600_000,
            max_component_length: 255,
            max_path_depth: 1_000,
            test_edit_sync_delay_ms: 0,
            max_connections: 4_096,
            max_connections_per_address: 256,
            idle_timeout_ms: 60_000,
            trash_interval_ms: 24 * 3_600_000,
            trash_checkpoint_interval_ms: 0,
            hosts_include: None,
            hosts_exclude: None,
            security: SecurityConfig::default(),
        }
    }
}

/// A datanode's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatanodeConfig {
    pub namenode_addr: String,
    /// Address of the data transfer server; its host is how the topology finds the rack.
    pub data_addr: String,
    /// One directory per disk.
    pub data_dirs: Vec<PathBuf>,
    /// Block scanner rate, bytes per second.
    pub scan_bytes_per_sec: u64,
    /// Pause between two full passes of the block scanner.
    pub scan_pass_interval_ms: u64,
    /// Bytes per data dir never used for blocks.
    pub reserved_bytes: u64,
    /// The most bytes this node's replicas may hold, over all its data dirs (0: as much as the
    /// disks hold). The node reports the smaller of this and its disks as its capacity, and
    /// takes no new replica once full.
    pub capacity_bytes: u64,
    /// A replica being written (or a copy arriving) that no writer has touched for this long
    /// is abandoned: copies and stray files are removed, client replicas are reported to the
    /// namenode, which has those of deleted or completed blocks deleted.
    pub abandoned_replica_age_ms: u64,
    /// Tests only: exit when a client's last packet of a block arrives (after passing it
    /// down the pipeline), to kill a datanode at exactly that point.
    pub exit_at_last_packet_for_tests: bool,
    /// The largest checksum chunk, and so the largest packet payload, a write may use; a
    /// packet header claiming more (or checksums that do not match its length) is refused
    /// before anything is allocated for it.
    pub max_packet_bytes: u32,
    /// Open connections this daemon's data (block transfer) port serves at once, from every
    /// peer together; over it a new connection is closed at once (keep it well under the
    /// process's file limit: each connection is also a thread).
    pub max_connections: u32,
    /// Open connections one client address may hold on the data (block transfer) port.
    pub max_connections_per_address: u32,
    /// A connection to the data port that sends no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// The file's `[security]` section, filled in by [`ConfigFile::load`].
    #[serde(skip)]
    pub security: SecurityConfig,
}

impl Default for DatanodeConfig {
    fn default() -> Self {
        DatanodeConfig {
            namenode_addr: "127.0.0.1:9000".into(),
            data_addr: "127.0.0.1:9866".into(),
            data_dirs: vec![PathBuf::from("datanode-data")],
            scan_bytes_per_sec: 64 << 20,
            scan_pass_interval_ms: 600_000,
            reserved_bytes: 0,
            capacity_bytes: 0,
            abandoned_replica_age_ms: 600_000,
            exit_at_last_packet_for_tests: false,
            max_packet_bytes: 16 << 20,
            max_connections: 4_096,
            max_connections_per_address: 256,
            idle_timeout_ms: 60_000,
            security: SecurityConfig::default(),
        }
    }
}

/// What a client needs: where the namenode is, and defaults for files it writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    pub namenode_addr: String,
    /// Where `mrctl submit` and `mrctl job` find the job tracker.
    pub jobtracker_addr: String,
    /// 0: the namenode's default.
    pub replication: u32,
    /// 0: the namenode's default.
    pub block_size: u64,
    /// The host the client runs on, for replica placement and nearest-first reads; empty: the
    /// address the namenode sees.
    pub host: String,
    /// Read replicas of datanodes on this machine straight from their files (checksums are
    /// still verified), as HDFS's short-circuit local reads do.
    pub short_circuit: bool,
    /// Permission bits taken away from what this client creates (octal, as HDFS's
    /// `fs.permissions.umask-mode`): files are made 0666 and directories 0777 less these.
    pub umask: String,
    /// The file's `[security]` section, filled in by [`ConfigFile::load`].
    #[serde(skip)]
    pub security: SecurityConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            namenode_addr: "127.0.0.1:9000".into(),
            jobtracker_addr: "127.0.0.1:9010".into(),
            replication: 0,
            block_size: 0,
            host: String::new(),
            short_circuit: true,
            umask: "022".into(),
            security: SecurityConfig::default(),
        }
    }
}

/// The job tracker's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobTrackerConfig {
    /// Address of the gRPC server (clients and workers).
    pub rpc_addr: String,
    pub namenode_addr: String,
    /// Where job state and history are journaled.
    pub meta_dir: PathBuf,
    /// A worker silent for this long is lost: its running attempts and unfetched map outputs
    /// are run again elsewhere.
    pub worker_expiry_ms: u64,
    /// How long a task waits for a slot on a node holding its data, then on its rack.
    pub locality_delay_ms: u64,
    /// A running attempt whose progress says it will take this many times longer than its
    /// stage's finished tasks took (per byte of split, for maps) gets a speculative twin.
    pub speculation_slowdown: f64,
    /// Reports of one map output failing to fetch before the map runs again.
    pub fetch_failures_before_rerun: u32,
    /// The fraction of a stage's maps that must have finished before its reducers launch
    /// while maps still wait for slots (Hadoop's `mapreduce.job.reduce.slowstart.completedmaps`):
    /// 0 launches them with the maps; below 1.0 they also launch once every map is placed;
    /// 1.0 waits for every map to finish. Reducers that hold slots a pending map needs are
    /// preempted.
    pub reduce_slow_start: f64,
    /// A job binary in the DFS cache (`/.mr/binaries`) that no job has used for this long, and
    /// that no unfinished job needs, is removed.
    pub binary_cache_ttl_ms: u64,
    /// The most reducers one stage of a job may ask for; a job asking for more is refused at
    /// submit.
    pub max_reducers: u32,
    /// Open connections this daemon's gRPC port serves at once, from every peer together; over
    /// it a new connection is closed at once (keep it well under the process's file limit).
    pub max_connections: u32,
    /// Open connections one client address may hold on the gRPC port.
    pub max_connections_per_address: u32,
    /// A connection to the gRPC port that sends nothing for this long is closed.
    pub idle_timeout_ms: u64,
    /// An attempt whose progress has not changed for this long is killed and retried as a
    /// failure, unless its job sets its own `task_timeout_ms` (Hadoop's
    /// `mapreduce.task.timeout`); 0: never.
    pub task_timeout_ms: u64,
    /// The memory each attempt may use, unless its job sets its own `task_memory_mb`; the
    /// worker kills an attempt over it; 0: no limit.
    pub task_memory_mb: u64,
    /// Failed attempts of one job on one worker after which that worker gets no more tasks of
    /// the job (Hadoop's `mapreduce.job.maxtaskfailures.per.tracker`); 0: never.
    pub worker_failures_per_job: u32,
    /// A worker on which attempts of this many distinct jobs failed within
    /// `worker_exclusion_window_ms` gets no tasks at all for `worker_exclusion_ms`; 0: never.
    pub worker_exclusion_jobs: u32,
    pub worker_exclusion_window_ms: u64,
    pub worker_exclusion_ms: u64,
    /// The queues jobs are submitted to (`[[jobtracker.queues]]`), sharing the slots by weight
    /// and minimum share; none configured means one queue, `default`. See [`QueueConfig`].
    pub queues: Vec<QueueConfig>,
    /// Include list: when set, only the workers it names (by host, one a line, `#` comments)
    /// get tasks. Re-read by `mrctl admin refresh-nodes`.
    pub hosts_include: Option<PathBuf>,
    /// Exclude list: the workers it names are drained (decommissioned).
    pub hosts_exclude: Option<PathBuf>,
    /// The file's `[security]` section, filled in by [`ConfigFile::load`].
    #[serde(skip)]
    pub security: SecurityConfig,
}

/// How the jobs of one queue share the queue's slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuePolicy {
    /// The job with the fewest running tasks for its weight (from its priority) goes first.
    #[default]
    Fair,
    /// The job with the highest priority goes first, then the oldest.
    Fifo,
}

/// One queue of the job tracker, as YARN's Fair Scheduler has them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// What `mrctl submit --queue` names.
    pub name: String,
    /// Its share of the slots beyond the minimum shares, relative to the other queues'.
    #[serde(default = "QueueConfig::default_weight")]
    pub weight: f64,
    /// Slots the queue is given first whenever its jobs have work for them.
    #[serde(default)]
    pub min_share: u32,
    #[serde(default)]
    pub policy: QueuePolicy,
    /// Who may kill the queue's jobs and read their task logs besides each job's owner and the
    /// superuser: user names, and groups as `@group`.
    #[serde(default)]
    pub admins: Vec<String>,
}

impl QueueConfig {
    /// The queue jobs go to when none is named, and the only one when none is configured.
    pub const DEFAULT: &'static str = "default";

    fn default_weight() -> f64 {
        1.0
    }

    /// A queue of weight 1, no minimum share, fair.
    pub fn named(name: &str) -> QueueConfig {
        QueueConfig {
            name: name.to_string(),
            weight: 1.0,
            min_share: 0,
            policy: QueuePolicy::Fair,
            admins: Vec::new(),
        }
    }
}

impl JobTrackerConfig {
    /// The queues in force: the configured ones, or `default` alone.
    pub fn queues(&self) -> Vec<QueueConfig> {
        if self.queues.is_empty() {
            vec![QueueConfig::named(QueueConfig::DEFAULT)]
        } else {
            self.queues.clone()
        }
    }

    /// Why the queues cannot be used (a name twice or empty, a weight not above 0), or Ok.
    pub fn check_queues(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for q in &self.queues {
            if q.name.trim().is_empty() {
                return Err("a queue in [[jobtracker.queues]] has an empty name".into());
            }
            if !seen.insert(q.name.as_str()) {
                return Err(format!("queue {:?} is configured twice", q.name));
            }
            if !(q.weight.is_finite() && q.weight > 0.0) {
                return Err(format!(
                    "queue {:?} has weight {}: a weight must be a number above 0",
                    q.name, q.weight
                ));
            }
        }
        Ok(())
    }
}

impl Default for JobTrackerConfig {
    fn default() -> Self {
        JobTrackerConfig {
            rpc_addr: "127.0.0.1:9010".into(),
            namenode_addr: "127.0.0.1:9000".into(),
            meta_dir: PathBuf::from("jobtracker-meta"),
            worker_expiry_ms: 10_000,
            locality_delay_ms: 300,
            speculation_slowdown: 3.0,
            fetch_failures_before_rerun: 3,
            reduce_slow_start: 0.05,
            binary_cache_ttl_ms: 7 * 24 * 3600 * 1000,
            max_reducers: 10_000,
            queues: Vec::new(),
            hosts_include: None,
            hosts_exclude: None,
            max_connections: 4_096,
            max_connections_per_address: 256,
            idle_timeout_ms: 60_000,
            task_timeout_ms: 600_000,
            task_memory_mb: 4096,
            worker_failures_per_job: 3,
            worker_exclusion_jobs: 3,
            worker_exclusion_window_ms: 15 * 60 * 1000,
            worker_exclusion_ms: 10 * 60 * 1000,
            security: SecurityConfig::default(),
        }
    }
}

/// A worker's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    pub jobtracker_addr: String,
    pub namenode_addr: String,
    /// This node's host, as its datanode is known (for locality); also where the shuffle
    /// server listens.
    pub host: String,
    /// Port of the shuffle server; 0 picks a free one.
    pub shuffle_port: u16,
    /// Scratch space: job binaries, map outputs, attempt logs.
    pub local_dir: PathBuf,
    /// Concurrent task attempts; 0: one per core.
    pub slots: u32,
    pub heartbeat_interval_ms: u64,
    /// Open connections this daemon's shuffle port serves at once, from every peer together;
    /// over it a new connection is closed at once (keep it well under the process's file
    /// limit: each connection is also a thread).
    pub max_connections: u32,
    /// Open connections one client address may hold on the shuffle port.
    pub max_connections_per_address: u32,
    /// A connection to the shuffle port that sends no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// When the worker runs as root, each job's tasks run under a uid of their own from
    /// `[task_uid_first, task_uid_first + task_uid_count)` (0: tasks run as the worker).
    pub task_uid_first: u32,
    pub task_uid_count: u32,
    /// The file's `[security]` section, filled in by [`ConfigFile::load`].
    #[serde(skip)]
    pub security: SecurityConfig,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            jobtracker_addr: "127.0.0.1:9010".into(),
            namenode_addr: "127.0.0.1:9000".into(),
            host: "127.0.0.1".into(),
            shuffle_port: 0,
            local_dir: PathBuf::from("worker-local"),
            slots: 0,
            heartbeat_interval_ms: 200,
            max_connections: 4_096,
            max_connections_per_address: 256,
            idle_timeout_ms: 60_000,
            task_uid_first: 200_000,
            task_uid_count: 10_000,
            security: SecurityConfig::default(),
        }
    }
}

/// The `[security]` section: tokens, permissions and TLS, on unless `insecure`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Turns tokens, permission checks and TLS off (Hadoop's "simple" mode: the client's
    /// `$USER` is believed). For comparison and debugging only.
    pub insecure: bool,
    /// Daemons: the cluster secret (`mrctl admin keygen`); must be readable by its owner only.
    pub secret_file: PathBuf,
    /// Clients: the user token presented on every call (`mrctl --token FILE` overrides it).
    pub token_file: PathBuf,
    /// This process's TLS certificate chain and private key (PEM); daemons need both.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// The CA (PEM) every peer's certificate must chain to; clients need it too.
    pub tls_ca: PathBuf,
    /// Members of this group are superusers, as is the namenode's own OS user.
    pub supergroup: String,
    /// How long a block access token handed out by the namenode stays valid.
    pub block_token_lifetime_ms: u64,
    /// The longest a job's delegation token lives (a job running longer loses DFS access).
    pub job_token_lifetime_ms: u64,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            insecure: false,
            secret_file: PathBuf::new(),
            token_file: PathBuf::new(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            tls_ca: PathBuf::new(),
            supergroup: "supergroup".into(),
            block_token_lifetime_ms: 3_600_000,
            job_token_lifetime_ms: 7 * 24 * 3_600_000,
        }
    }
}

/// Rack of each host or `host:port`; hosts absent from the table are on `default_rack`.
/// The table can also live in a shared file (`file`, reloaded when it changes) or come from a
/// script (`script`, as Hadoop's `net.topology.script.file.name`); see [`crate::topology`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopologyConfig {
    pub default_rack: String,
    /// The inline table; entries of `file` override it.
    pub racks: BTreeMap<String, String>,
    /// A file of `host[:port] rack` lines shared by the namenode and the job tracker.
    pub file: Option<PathBuf>,
    /// A program called with addresses as arguments that prints one rack per line; asked for
    /// addresses neither the table nor the file names.
    pub script: Option<PathBuf>,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        TopologyConfig {
            default_rack: "/default-rack".into(),
            racks: BTreeMap::new(),
            file: None,
            script: None,
        }
    }
}
