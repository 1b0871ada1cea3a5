//! The local-cluster harness: a whole cluster on this machine as real background processes on
//! loopback addresses, each daemon with its own config file and data dirs under one directory.
//! `mrctl cluster up|down`, the demo, the integration tests and the benchmarks all use it.
//!
//! Layout of the directory: `cluster.toml` (what was asked for), `namenode.toml`,
//! `datanode-N.toml`, `jobtracker.toml`, `worker-N.toml`, `client.toml`, `topology` (the rack
//! of every datanode host, shared by the namenode and the job tracker), `logs/`, `pids/`,
//! `namenode/`, `datanode-N/`, `jobtracker/` and `worker-N/`. Worker N runs on datanode N's
//! host, so map tasks can run next to their blocks. A secure cluster (the default) also has
//! `security/`: the cluster secret (`cluster.secret`, mode 0600) every daemon's config names,
//! and the token of each user a client config was made for (`USER.token`); `client.toml`
//! presents the token of the OS user who made the cluster, the superuser.
//! Starting on an existing directory restarts the same cluster on its metadata and blocks;
//! [`LocalCluster::grow`] adds datanodes and workers to it first.

use crate::error::{ClusterError, ClusterResult};
use client::jobs::JobClient;
use client::DfsClient;
use common::auth::{now_ms, ClusterSecret, Grant, TokenBody};
use common::config::{
    ClientConfig, ConfigFile, DatanodeConfig, JobTrackerConfig, NamenodeConfig, SecurityConfig,
    TopologyConfig, WorkerConfig,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a local cluster looks like; saved as `cluster.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSpec {
    pub datanodes: usize,
    /// Workers (worker N on datanode N's host); none: as many as datanodes.
    pub workers: Option<usize>,
    pub racks: usize,
    /// Data dirs per datanode.
    pub disks: usize,
    pub namenode: NamenodeConfig,
    /// Template for every datanode (addresses and dirs are filled in).
    pub datanode: DatanodeConfig,
    pub jobtracker: JobTrackerConfig,
    /// Template for every worker (addresses and dirs are filled in).
    pub worker: WorkerConfig,
    /// Every config's `[security]` (TLS files are made and filled in unless insecure).
    pub security: SecurityConfig,
}

/// How long the tokens the harness issues live.
const TOKEN_TTL_MS: u64 = 365 * 86_400_000;

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            datanodes: 4,
            workers: None,
            racks: 2,
            disks: 1,
            namenode: NamenodeConfig::default(),
            datanode: DatanodeConfig::default(),
            jobtracker: JobTrackerConfig::default(),
            worker: WorkerConfig::default(),
            security: SecurityConfig::default(),
        }
    }
}

impl ClusterSpec {
    /// How many workers the cluster runs.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or(self.datanodes)
    }

    /// Short intervals, for tests: liveness and repairs within seconds.
    pub fn fast(datanodes: usize, racks: usize) -> Self {
        let mut s = ClusterSpec {
            datanodes,
            racks,
            ..Default::default()
        };
        let n = &mut s.namenode;
        n.heartbeat_interval_ms = 300;
        n.stale_after_ms = 1_500;
        n.dead_after_ms = 3_000;
        n.replication_check_interval_ms = 200;
        n.pending_replication_timeout_ms = 5_000;
        n.block_report_interval_ms = 60_000;
        n.lease_hard_limit_ms = 4_000;
        n.default_block_size = 1 << 20;
        n.bytes_per_checksum = 4096;
        s.jobtracker.worker_expiry_ms = 3_000;
        s.worker.heartbeat_interval_ms = 100;
        s.worker.slots = 2;
        s
    }
}

/// A running (or stopped) local cluster.
#[derive(Debug)]
pub struct LocalCluster {
    pub dir: PathBuf,
    pub spec: ClusterSpec,
    bin_dir: PathBuf,
    /// Stop the daemons when this handle is dropped (tests); cleared by [`LocalCluster::detach`].
    owned: bool,
}

/// The loopback address of datanode `i` (the namenode and clients use 127.0.0.1).
pub fn datanode_host(i: usize) -> String {
    format!("127.0.0.{}", i + 2)
}

/// A port free now on `host`, never one this process handed out before: clusters started
/// side by side (tests) would otherwise race for a port the kernel offers twice.
fn free_port(host: &str) -> ClusterResult<u16> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let l = std::net::TcpListener::bind((host, 0))?;
        let port = l.local_addr()?.port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
}

/// Where the daemon binaries are: `MR_BIN_DIR`, else beside the running executable (or its
/// parent, for test binaries under `target/*/deps`).
pub fn bin_dir() -> ClusterResult<PathBuf> {
    if let Ok(d) = std::env::var("MR_BIN_DIR") {
        return Ok(PathBuf::from(d));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if !dir.join("namenode").exists() {
        if let Some(p) = dir.parent() {
            dir = p.to_path_buf();
        }
    }
    if let Some(missing) = ["namenode", "datanode", "jobtracker", "worker"]
        .into_iter()
        .find(|b| !dir.join(b).exists())
    {
        return Err(ClusterError::Config(format!(
            "the {missing} binary is not in {} (build with `cargo build --release` or set MR_BIN_DIR)",
            dir.display()
        )));
    }
    Ok(dir)
}

impl LocalCluster {
    /// Starts the cluster in `dir`: a new one from `spec`, or the existing one found there.
    pub fn up(dir: &Path, spec: ClusterSpec) -> ClusterResult<LocalCluster> {
        Self::up_within(dir, spec, Duration::from_secs(60))
    }

    /// [`Self::up`], waiting at most `timeout` for the cluster to become healthy. When some
    /// daemons were already running (restarting part of a cluster), a failure stops nothing:
    /// one daemon slow to come back must not take the others down. A new cluster that does not
    /// come up is stopped.
    pub fn up_within(
        dir: &Path,
        spec: ClusterSpec,
        timeout: Duration,
    ) -> ClusterResult<LocalCluster> {
        let mut c = Self::prepare(dir, spec)?;
        let restart = c.daemons().iter().any(|d| c.pid(d).is_some());
        let started = c
            .start_all()
            .and_then(|()| c.wait_healthy(timeout))
            .and_then(|()| c.open_binary_cache(timeout));
        match started {
            Ok(()) => Ok(c),
            Err(e) if restart => {
                c.owned = false;
                let down: Vec<String> = c
                    .daemons()
                    .into_iter()
                    .filter(|d| c.pid(d).is_none())
                    .collect();
                let down = if down.is_empty() {
                    "every daemon is running".to_string()
                } else {
                    format!("not running: {}", down.join(", "))
                };
                // A timeout is no bug here: say what did not come up.
                let e = match e {
                    ClusterError::Internal(m) => m,
                    other => other.to_string(),
                };
                Err(ClusterError::Unhealthy(format!(
                    "{e} ({down}); the running daemons were left running: see {}/logs/, \
                     run `mrctl cluster up --dir {}` again, or stop them with \
                     `mrctl cluster down --dir {}`",
                    c.dir.display(),
                    c.dir.display(),
                    c.dir.display()
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes the job binary cache a sticky folder every user may upload to (as the job tracker
    /// also does once it reaches the namenode), so a job submitted right after start-up finds it.
    /// Also makes `/user` (0755) and `/tmp` (1777), as a Hadoop administrator does.
    fn open_binary_cache(&self, timeout: Duration) -> ClusterResult<()> {
        let dfs = self.client()?;
        let dir = client::jobs::BINARIES_DIR;
        wait_for(timeout, "the job binary cache folder", || {
            dfs.mkdirs(dir)
                .and_then(|()| dfs.set_permission(dir, 0o1777))
                .and_then(|()| dfs.make_common_dirs())
                .ok()
        })
    }

    /// Makes `/user/USER` (owner `user`, group its first group or `user`, 0755) when the
    /// namenode runs; a cluster not started yet gets it from the next token issued after.
    fn make_home(&self, user: &str, groups: &[&str]) -> ClusterResult<()> {
        if self.pid("namenode").is_none() {
            return Ok(());
        }
        let group = groups.first().copied().unwrap_or(user);
        self.client()?.make_home(user, group)?;
        Ok(())
    }

    /// Writes the config files for a new cluster (or loads an existing one) without starting it.
    pub fn prepare(dir: &Path, spec: ClusterSpec) -> ClusterResult<LocalCluster> {
        fs::create_dir_all(dir.join("logs"))?;
        fs::create_dir_all(dir.join("pids"))?;
        let dir = dir.canonicalize()?;
        let spec_path = dir.join("cluster.toml");
        let spec = if spec_path.exists() {
            let text = fs::read_to_string(&spec_path)?;
            toml::from_str(&text)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", spec_path.display())))?
        } else {
            let c = LocalCluster {
                dir: dir.clone(),
                spec: spec.clone(),
                bin_dir: PathBuf::new(),
                owned: false,
            };
            c.write_configs()?;
            let text = toml::to_string(&spec).map_err(|e| ClusterError::Internal(e.to_string()))?;
            common::fsutil::atomic_write(&spec_path, text.as_bytes())
                .map_err(|e| ClusterError::Config(e.to_string()))?;
            spec
        };
        Ok(LocalCluster {
            dir,
            spec,
            bin_dir: bin_dir()?,
            owned: true,
        })
    }

    /// Lets the uids the workers run tasks as (when root) reach the workers' folders: the
    /// cluster folder becomes searchable (not listable) by others. False, with a warning, when
    /// an ancestor is not searchable: the workers then run tasks as themselves.
    fn open_to_task_users(&self) -> ClusterResult<bool> {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&self.dir)?.permissions().mode();
        fs::set_permissions(
            &self.dir,
            fs::Permissions::from_mode((mode & 0o7777) | 0o011),
        )?;
        for dir in self.dir.ancestors().skip(1) {
            if fs::metadata(dir)?.permissions().mode() & 0o001 == 0 {
                eprintln!(
                    "[cluster] {} is not searchable by others: the workers run tasks as \
                     themselves, not under uids of their own (put the cluster elsewhere to \
                     isolate tasks)",
                    dir.display()
                );
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The `[security]` section of every config: a new secret (and the operator's token) for a
    /// secure cluster, `insecure = true` otherwise.
    fn write_security(&self) -> ClusterResult<SecurityConfig> {
        if self.spec.security.insecure {
            return Ok(self.spec.security.clone());
        }
        let dir = self.dir.join("security");
        fs::create_dir_all(&dir)?;
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        let secret_file = dir.join("cluster.secret");
        ClusterSecret::generate()
            .and_then(|s| s.save(&secret_file))
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        Ok(SecurityConfig {
            secret_file,
            ..self.spec.security.clone()
        })
    }

    /// The cluster secret's file (a secure cluster's).
    pub fn secret_path(&self) -> PathBuf {
        self.dir.join("security").join("cluster.secret")
    }

    /// A token for `user` in `groups`, signed with the cluster's secret.
    /// Makes the user's home directory too (when the namenode runs).
    pub fn issue_token(&self, user: &str, groups: &[&str]) -> ClusterResult<String> {
        self.make_home(user, groups)?;
        let secret = ClusterSecret::load(&self.secret_path())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        let grant = Grant::User {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        TokenBody::new(&secret, grant, now_ms(), TOKEN_TTL_MS)
            .and_then(|b| b.sign(&secret))
            .map_err(|e| ClusterError::Config(e.to_string()))
    }

    /// Writes `USER.token` (a new token for `user` in `groups`) and `client-USER.toml`, a client
    /// config presenting it; returns the config's path. For running `mrctl` as that user.
    pub fn client_config_for(&self, user: &str, groups: &[&str]) -> ClusterResult<PathBuf> {
        let token_file = self.dir.join("security").join(format!("{user}.token"));
        write_private(&token_file, self.issue_token(user, groups)?.as_bytes())?;
        let mut client = self.client_config()?;
        let security = SecurityConfig {
            token_file,
            ..crate::tls::client_security(&self.dir, &self.spec.security)?
        };
        client.security = security.clone();
        let path = self.dir.join(format!("client-{user}.toml"));
        write_toml(
            &path,
            &ConfigFile {
                client: Some(client),
                security,
                ..Default::default()
            },
        )?;
        Ok(path)
    }

    /// The `[security]` of a daemon on `host`: `base` with its TLS files (made if missing).
    fn daemon_security(&self, base: &SecurityConfig, host: &str) -> ClusterResult<SecurityConfig> {
        crate::tls::daemon_security(&self.dir, base, host)
    }

    fn write_configs(&self) -> ClusterResult<()> {
        let security = self.write_security()?;
        // The namenode template's block token lifetime goes into the files too (tests shorten it).
        let security = SecurityConfig {
            block_token_lifetime_ms: self.spec.namenode.security.block_token_lifetime_ms,
            ..security
        };
        let mut nn = self.spec.namenode.clone();
        nn.rpc_addr = format!("127.0.0.1:{}", free_port("127.0.0.1")?);
        nn.meta_dir = self.dir.join("namenode");
        let mut racks = BTreeMap::new();
        for i in 0..self.spec.datanodes.max(self.spec.worker_count()) {
            racks.insert(datanode_host(i), self.rack_of_index(i));
        }
        common::fsutil::atomic_write(
            &self.topology_path(),
            common::topology::render_file(&racks).as_bytes(),
        )
        .map_err(|e| ClusterError::Config(e.to_string()))?;
        let topology = TopologyConfig {
            file: Some(self.topology_path()),
            ..Default::default()
        };
        write_toml(
            &self.dir.join("namenode.toml"),
            &ConfigFile {
                namenode: Some(nn.clone()),
                topology: topology.clone(),
                security: self.daemon_security(&security, "127.0.0.1")?,
                ..Default::default()
            },
        )?;
        let mut jt = self.spec.jobtracker.clone();
        jt.rpc_addr = format!("127.0.0.1:{}", free_port("127.0.0.1")?);
        jt.namenode_addr = nn.rpc_addr.clone();
        jt.meta_dir = self.dir.join("jobtracker");
        write_toml(
            &self.dir.join("jobtracker.toml"),
            &ConfigFile {
                jobtracker: Some(jt.clone()),
                topology,
                security: self.daemon_security(&security, "127.0.0.1")?,
                ..Default::default()
            },
        )?;
        let tasks_reach_dir = self.open_to_task_users()?;
        for i in 0..self.spec.worker_count() {
            self.write_worker(i, &security, &nn.rpc_addr, &jt.rpc_addr, tasks_reach_dir)?;
        }
        for i in 0..self.spec.datanodes {
            self.write_datanode(i, &security, &nn.rpc_addr)?;
        }
        // The operator's client: its token (the superuser's: the namenode runs as this OS
        // user), and the secret, so `mrctl admin token issue` works with this config.
        let client_security = if security.insecure {
            security
        } else {
            let user = common::user::current();
            let token_file = self.dir.join("security").join(format!("{user}.token"));
            write_private(&token_file, self.issue_token(&user, &[])?.as_bytes())?;
            SecurityConfig {
                token_file,
                ..security
            }
        };
        write_toml(
            &self.dir.join("client.toml"),
            &ConfigFile {
                client: Some(ClientConfig {
                    namenode_addr: nn.rpc_addr,
                    jobtracker_addr: jt.rpc_addr,
                    ..Default::default()
                }),
                security: crate::tls::client_security(&self.dir, &client_security)?,
                ..Default::default()
            },
        )
    }

    /// The rack of the node on loopback host `i`: racks alternate, as for a fresh cluster.
    fn rack_of_index(&self, i: usize) -> String {
        format!("/rack{}", i % self.spec.racks.max(1))
    }

    /// The shared topology file the namenode and the job tracker read.
    pub fn topology_path(&self) -> PathBuf {
        self.dir.join("topology")
    }

    /// Writes `worker-I.toml`: only the addresses, its own host and dirs, and security.
    fn write_worker(
        &self,
        i: usize,
        security: &SecurityConfig,
        nn_addr: &str,
        jt_addr: &str,
        tasks_reach_dir: bool,
    ) -> ClusterResult<()> {
        let mut w = self.spec.worker.clone();
        if !tasks_reach_dir {
            w.task_uid_count = 0;
        }
        w.jobtracker_addr = jt_addr.into();
        w.namenode_addr = nn_addr.into();
        w.host = datanode_host(i);
        w.shuffle_port = free_port(&w.host)?;
        w.local_dir = self.dir.join(format!("worker-{i}"));
        if w.slots == 0 {
            // The workers share this machine's cores: more tasks than cores would only
            // make them compete for caches and memory.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            w.slots = (cores / self.spec.datanodes.max(1)).max(1) as u32;
        }
        write_toml(
            &self.dir.join(format!("worker-{i}.toml")),
            &ConfigFile {
                security: self.daemon_security(security, &w.host)?,
                worker: Some(w),
                ..Default::default()
            },
        )
    }

    /// Writes `datanode-I.toml`: only the namenode's address, its own address and dirs, and
    /// security (a certificate for its host is issued if missing).
    fn write_datanode(
        &self,
        i: usize,
        security: &SecurityConfig,
        nn_addr: &str,
    ) -> ClusterResult<()> {
        let mut dn = self.spec.datanode.clone();
        dn.namenode_addr = nn_addr.into();
        let host = datanode_host(i);
        dn.data_addr = format!("{host}:{}", free_port(&host)?);
        dn.data_dirs = (0..self.spec.disks.max(1))
            .map(|d| {
                self.dir
                    .join(format!("datanode-{i}"))
                    .join(format!("disk{d}"))
            })
            .collect();
        write_toml(
            &self.dir.join(format!("datanode-{i}.toml")),
            &ConfigFile {
                datanode: Some(dn),
                security: self.daemon_security(security, &host)?,
                ..Default::default()
            },
        )
    }

    /// Adds datanodes and workers to the existing cluster in `dir` (up to `datanodes` and
    /// `workers` in all) without starting anything: their configs (next free addresses, a
    /// certificate for each new host, racks alternating as for a fresh cluster, capped at
    /// `datanode_capacity` bytes when given), their racks in the shared topology file, which
    /// the running namenode and job tracker re-read, and the new counts in `cluster.toml`.
    /// Fewer nodes than the cluster has is refused: nodes leave by decommission.
    pub fn grow(
        dir: &Path,
        datanodes: usize,
        workers: usize,
        datanode_capacity: Option<u64>,
    ) -> ClusterResult<()> {
        let mut c = Self::prepare(dir, ClusterSpec::default())?;
        c.owned = false;
        let (old_dn, old_w) = (c.spec.datanodes, c.spec.worker_count());
        if datanodes < old_dn || workers < old_w {
            return Err(ClusterError::Config(format!(
                "{}: the cluster has {old_dn} datanodes and {old_w} workers; `cluster up` only                  adds nodes (take nodes out with decommission)",
                c.dir.display()
            )));
        }
        if let Some(cap) = datanode_capacity {
            c.spec.datanode.capacity_bytes = cap;
        }
        let load = |name: &str| -> ClusterResult<ConfigFile> {
            ConfigFile::load(&c.dir.join(name)).map_err(|e| ClusterError::Config(e.to_string()))
        };
        let nn_file = load("namenode.toml")?;
        let nn_addr =
            ConfigFile::section(&c.dir.join("namenode.toml"), &nn_file.namenode, "namenode")
                .map_err(|e| ClusterError::Config(e.to_string()))?
                .rpc_addr;
        let jt_file = load("jobtracker.toml")?;
        let jt_addr = ConfigFile::section(
            &c.dir.join("jobtracker.toml"),
            &jt_file.jobtracker,
            "jobtracker",
        )
        .map_err(|e| ClusterError::Config(e.to_string()))?
        .rpc_addr;
        // The daemons' shared [security]: the host certificate is made per new host below.
        let security = nn_file.security;
        let tasks_reach_dir = c.open_to_task_users()?;
        c.spec.datanodes = datanodes;
        c.spec.workers = Some(workers);
        // New hosts' racks go into the shared file (kept if the operator changed them).
        let path = c.topology_path();
        let mut racks = match fs::read_to_string(&path) {
            Ok(text) => common::topology::parse_file(&path, &text)
                .map_err(|e| ClusterError::Config(e.to_string()))?,
            Err(_) => BTreeMap::new(),
        };
        for i in 0..datanodes.max(workers) {
            racks
                .entry(datanode_host(i))
                .or_insert_with(|| c.rack_of_index(i));
        }
        common::fsutil::atomic_write(&path, common::topology::render_file(&racks).as_bytes())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        for i in old_w..workers {
            c.write_worker(i, &security, &nn_addr, &jt_addr, tasks_reach_dir)?;
        }
        for i in old_dn..datanodes {
            c.write_datanode(i, &security, &nn_addr)?;
        }
        let text = toml::to_string(&c.spec).map_err(|e| ClusterError::Internal(e.to_string()))?;
        common::fsutil::atomic_write(&c.dir.join("cluster.toml"), text.as_bytes())
            .map_err(|e| ClusterError::Config(e.to_string()))
    }

    pub fn client_config_path(&self) -> PathBuf {
        self.dir.join("client.toml")
    }

    pub fn client_config(&self) -> ClusterResult<ClientConfig> {
        let p = self.client_config_path();
        let f = ConfigFile::load(&p).map_err(|e| ClusterError::Config(e.to_string()))?;
        ConfigFile::section(&p, &f.client, "client")
            .map_err(|e| ClusterError::Config(e.to_string()))
    }

    pub fn client(&self) -> ClusterResult<DfsClient> {
        Ok(DfsClient::connect(self.client_config()?)?)
    }

    /// The config of datanode `i`.
    pub fn datanode_config(&self, i: usize) -> ClusterResult<DatanodeConfig> {
        let p = self.dir.join(format!("datanode-{i}.toml"));
        let f = ConfigFile::load(&p).map_err(|e| ClusterError::Config(e.to_string()))?;
        ConfigFile::section(&p, &f.datanode, "datanode")
            .map_err(|e| ClusterError::Config(e.to_string()))
    }

    /// Daemon names in start order: `namenode`, `datanode-0`..., `jobtracker`, `worker-0`...
    pub fn daemons(&self) -> Vec<String> {
        let mut v = vec!["namenode".to_string()];
        v.extend((0..self.spec.datanodes).map(|i| format!("datanode-{i}")));
        v.push("jobtracker".to_string());
        v.extend((0..self.spec.worker_count()).map(|i| format!("worker-{i}")));
        v
    }

    /// A client of the job tracker.
    pub fn job_client(&self) -> ClusterResult<JobClient> {
        Ok(JobClient::connect(&self.client_config()?)?)
    }

    pub fn start_all(&self) -> ClusterResult<()> {
        for d in self.daemons() {
            self.start(&d)?;
        }
        Ok(())
    }

    /// Starts one daemon in the background unless it is already running.
    pub fn start(&self, daemon: &str) -> ClusterResult<()> {
        self.start_with_env(daemon, &[])
    }

    /// [`Self::start`] with extra environment variables (tests set test-only hooks this way).
    pub fn start_with_env(&self, daemon: &str, env: &[(&str, &str)]) -> ClusterResult<()> {
        if self.pid(daemon).is_some() {
            return Ok(());
        }
        let binary = daemon.split('-').next().unwrap_or(daemon);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(format!("{daemon}.log")))?;
        let mut cmd = Command::new(self.bin_dir.join(binary));
        cmd.arg("--config")
            .arg(self.dir.join(format!("{daemon}.toml")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .envs(env.iter().copied());
        // Own process group: the daemon outlives the command that started it.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| {
            ClusterError::Config(format!(
                "starting {}: {e}",
                self.bin_dir.join(binary).display()
            ))
        })?;
        fs::write(self.pid_path(daemon), child.id().to_string())?;
        Ok(())
    }

    fn pid_path(&self, daemon: &str) -> PathBuf {
        self.dir.join("pids").join(daemon)
    }

    /// The pid of a running daemon.
    pub fn pid(&self, daemon: &str) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.pid_path(daemon))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let alive = process_alive(pid);
        alive.then_some(pid)
    }

    /// Sends `signal` to a running daemon without waiting (SIGSTOP freezes it, SIGCONT wakes it).
    pub fn send_signal(&self, daemon: &str, signal: i32) -> ClusterResult<()> {
        let pid = self
            .pid(daemon)
            .ok_or_else(|| ClusterError::Internal(format!("{daemon} is not running")))?;
        // SAFETY: plain syscall on a pid we started.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, signal);
        }
        Ok(())
    }

    /// Stops a daemon with `signal` (SIGKILL for a crash, SIGTERM for a stop) and waits for it.
    pub fn signal(&self, daemon: &str, signal: i32) -> ClusterResult<()> {
        if let Some(pid) = self.pid(daemon) {
            // A frozen process must run again to act on the signal.
            self.send_signal(daemon, libc::SIGCONT)?;
            self.send_signal(daemon, signal)?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while process_alive(pid) {
                if Instant::now() > deadline {
                    return Err(ClusterError::Internal(format!(
                        "{daemon} (pid {pid}) did not stop"
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = fs::remove_file(self.pid_path(daemon));
        Ok(())
    }

    pub fn kill(&self, daemon: &str) -> ClusterResult<()> {
        self.signal(daemon, libc::SIGKILL)
    }

    /// Stops every daemon.
    pub fn down(&self) -> ClusterResult<()> {
        for d in self.daemons().iter().rev() {
            self.signal(d, libc::SIGTERM)?;
        }
        Ok(())
    }

    /// Waits until the namenode is out of safe mode, every datanode is live and every worker
    /// has joined the job tracker.
    pub fn wait_healthy(&self, timeout: Duration) -> ClusterResult<()> {
        let client = self.client()?;
        let jobs = self.job_client()?;
        let (want, want_workers) = (self.spec.datanodes, self.spec.worker_count());
        wait_for(timeout, "the cluster to become healthy", || {
            let r = client.cluster_report().ok()?;
            let live = r.datanodes.iter().filter(|d| d.state == "live").count();
            let workers = jobs.workers().ok()?.len();
            (!r.safe_mode && live >= want && workers >= want_workers).then_some(())
        })
    }
}

impl LocalCluster {
    /// Leaves the daemons running after this handle is gone (`mrctl cluster up`).
    pub fn detach(mut self) {
        self.owned = false;
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.down();
        }
    }
}

fn process_alive(pid: i32) -> bool {
    // A zombie counts as gone once every thread has exited (a killed daemon's main thread is a
    // zombie a moment before its other threads, which still hold its files and ports).
    let zombie = |stat: &str| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    };
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| !zombie(&stat)))
}

/// Writes a file only its owner may read (a token).
fn write_private(path: &Path, bytes: &[u8]) -> ClusterResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

fn write_toml(path: &Path, value: &ConfigFile) -> ClusterResult<()> {
    let text = toml::to_string(value).map_err(|e| ClusterError::Internal(e.to_string()))?;
    fs::write(path, text)?;
    Ok(())
}

/// Polls `check` until it yields a value or `timeout` passes.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> ClusterResult<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(ClusterError::Internal(format!(
                "timed out after {timeout:?} waiting for {what}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
