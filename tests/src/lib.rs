//! Helpers shared by the integration tests: a fast local cluster in a temp dir, test data,
//! and waiting on a condition with a deadline (never sleeping and hoping).
//!
//! The tests run the release binaries of `namenode`, `datanode` and `mrctl` from
//! `target/release` (or `MR_BIN_DIR`); `scripts/test.sh` builds them before testing, since
//! `cargo test` alone does not rebuild other packages' binaries.

#![allow(clippy::unwrap_used)]

pub mod txn_reference;

use client::DfsClient;
use cluster::{ClusterSpec, LocalCluster};
use std::path::PathBuf;
use std::time::Duration;

pub struct TestCluster {
    pub cluster: LocalCluster,
    pub dfs: DfsClient,
    // Dropped after the cluster handle, which stops the daemons first.
    _dir: tempfile::TempDir,
}

/// Starts a cluster with short intervals; `tweak` adjusts the spec first.
pub fn start(datanodes: usize, racks: usize, tweak: impl FnOnce(&mut ClusterSpec)) -> TestCluster {
    let dir = tempfile::Builder::new()
        .prefix("mr-test-")
        .tempdir()
        .unwrap();
    let mut spec = ClusterSpec::fast(datanodes, racks);
    tweak(&mut spec);
    let cluster = LocalCluster::up(dir.path(), spec).unwrap();
    let dfs = cluster.client().unwrap();
    TestCluster {
        cluster,
        dfs,
        _dir: dir,
    }
}

impl TestCluster {
    /// The TLS a client of this cluster connects to its data and shuffle ports with (none when
    /// the cluster is insecure): raw protocol tests speak through it, as an attacker holding the
    /// CA would.
    pub fn client_tls(&self) -> common::tls::ClientTls {
        common::tls::client_config(&self.cluster.client_config().unwrap().security).unwrap()
    }

    /// Data dirs of datanode `i`.
    pub fn data_dirs(&self, i: usize) -> Vec<PathBuf> {
        self.cluster.datanode_config(i).unwrap().data_dirs
    }

    /// A block access token for `block` at `gen`, minted from the cluster's secret as the
    /// namenode would (valid for an hour from now), for tests that speak the transfer
    /// protocol to a datanode themselves; empty when the cluster runs without a secret.
    pub fn block_token(&self, block: u64, gen: u64, access: common::auth::BlockAccess) -> String {
        let now = common::auth::now_ms();
        self.block_token_at(block, gen, access, now, now + 3_600_000)
    }

    /// Like [`TestCluster::block_token`], issued at `issued_ms` and expiring at `expires_ms`
    /// (ms since the epoch): a past expiry makes an expired token.
    pub fn block_token_at(
        &self,
        block: u64,
        gen: u64,
        access: common::auth::BlockAccess,
        issued_ms: u64,
        expires_ms: u64,
    ) -> String {
        use common::auth::{ClusterSecret, Grant, TokenBody};
        let security = self.cluster.datanode_config(0).unwrap().security;
        if security.insecure || security.secret_file.as_os_str().is_empty() {
            return String::new();
        }
        let secret = ClusterSecret::load(&security.secret_file).unwrap();
        let grant = Grant::Block {
            block,
            gen_stamp: gen,
            access,
            user: "test".into(),
        };
        let mut body = TokenBody::new(&secret, grant, issued_ms, 0).unwrap();
        body.expires_ms = expires_ms;
        body.sign(&secret).unwrap()
    }

    /// Index of the datanode serving `data_addr`.
    pub fn datanode_index(&self, data_addr: &str) -> usize {
        (0..self.cluster.spec.datanodes)
            .find(|&i| self.cluster.datanode_config(i).unwrap().data_addr == data_addr)
            .unwrap()
    }
}

/// Deterministic bytes that differ per seed and position.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Polls until `check` yields a value; panics naming `what` after `timeout`.
pub fn wait<T>(timeout: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    cluster::wait_for(timeout, what, check).unwrap()
}

/// Every replica file of block `id` under the given data dirs.
pub fn replica_files(dirs: &[PathBuf], id: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let name = format!("blk_{id}");
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name.as_str()) {
                out.push(p);
            }
        }
    }
    out
}

/// Corrupts a replica on disk: flips 16 bytes at `at`.
pub fn flip_bytes(path: &std::path::Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 16];
    f.read_exact_at(&mut b, at).unwrap();
    for x in &mut b {
        *x ^= 0x5a;
    }
    f.write_all_at(&b, at).unwrap();
}

/// Runs `mrctl --config CLUSTER/client.toml ARGS`.
pub fn mrctl(tc: &TestCluster, args: &[&str]) -> std::process::Output {
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    std::process::Command::new(bin)
        .arg("--config")
        .arg(tc.cluster.client_config_path())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Runs `mrctl --config CONFIG ARGS` with extra environment variables (a user's client
/// config from `LocalCluster::client_config_for`, `USER=bob`).
pub fn mrctl_with(
    config: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let bin = cluster::bin_dir().unwrap().join("mrctl");
    std::process::Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A job binary built beside the daemons (`wordcount`, `terasort`, `faultyjob`).
pub fn job_binary(name: &str) -> String {
    cluster::bin_dir().unwrap().join(name).display().to_string()
}

/// What `mrctl submit BINARY --wait -- ARGS` did: exit status, stdout, stderr.
pub struct Submitted {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Submitted {
    /// The job id from the "submitted JOB" line.
    pub fn job_id(&self) -> String {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("submitted "))
            .unwrap_or_else(|| panic!("no job id in: {}", self.stderr))
            .trim()
            .to_string()
    }

    /// A counter's value from the printed counters.
    pub fn counter(&self, name: &str) -> u64 {
        let prefix = format!("{name}=");
        self.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .map_or(0, |v| v.parse().unwrap())
    }
}

/// Submits a job and waits for it, through `mrctl` as a user does.
pub fn submit_wait(tc: &TestCluster, binary: &str, args: &[&str]) -> Submitted {
    let bin = job_binary(binary);
    let mut all = vec!["submit", bin.as_str(), "--wait", "--"];
    all.extend_from_slice(args);
    let o = mrctl(tc, &all);
    Submitted {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Submits a job without waiting, through `mrctl` as a user does; returns the job's id.
pub fn submit_no_wait(tc: &TestCluster, binary: &str, args: &[&str]) -> String {
    let bin = job_binary(binary);
    let mut all = vec!["submit", bin.as_str(), "--"];
    all.extend_from_slice(args);
    let o = mrctl(tc, &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// The `word<TAB>count` lines of every part file under a DFS directory, as a map.
pub fn read_counts(dfs: &DfsClient, dir: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for f in dfs.list_files(dir).unwrap() {
        let text = String::from_utf8(dfs.read_file(&f.path).unwrap()).unwrap();
        for line in text.lines() {
            let (w, c) = line.rsplit_once('\t').unwrap();
            assert!(
                out.insert(w.to_string(), c.parse().unwrap()).is_none(),
                "{w} twice"
            );
        }
    }
    out
}

/// Every line of every part file under a DFS directory.
pub fn read_lines(dfs: &DfsClient, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in dfs.list_files(dir).unwrap() {
        let text = String::from_utf8(dfs.read_file(&f.path).unwrap()).unwrap();
        out.extend(text.lines().map(str::to_string));
    }
    out
}

/// Word counts made directly, to compare a job's output with.
pub fn count_words(text: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for w in text.split_whitespace() {
        *out.entry(w.to_string()).or_insert(0) += 1;
    }
    out
}

/// Deterministic text: `lines` lines of words drawn unevenly from a vocabulary of `vocab`.
pub fn words(lines: usize, vocab: usize, seed: u64) -> String {
    let mut x = seed | 1;
    let mut s = String::new();
    for _ in 0..lines {
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Squaring skews toward small ids: a few words are frequent, most rare.
            let r = (x % 1_000_000) as u128;
            let id = r * r * vocab as u128 / 1_000_000_000_000;
            s.push_str(&format!("w{id} "));
        }
        s.push('\n');
    }
    s
}

/// Every path under a DFS directory, recursively (names starting `_` included).
pub fn all_paths(dfs: &DfsClient, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_string()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = dfs.list(&d) else { continue };
        for e in entries {
            out.push(e.path.clone());
            if e.is_dir {
                stack.push(e.path);
            }
        }
    }
    out.sort();
    out
}
