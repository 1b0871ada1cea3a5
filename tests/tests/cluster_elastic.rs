//! Nodes joining a running cluster (security on): a datanode started with a config naming only
//! the namenode, its own address and dirs and the security files takes its rack from the shared
//! topology file and gets blocks; a change to that file moves it to another rack without a
//! restart; a worker added by `mrctl cluster up --workers N` on the existing directory gets
//! tasks.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use cluster::{ClusterSpec, LocalCluster};
use common::config::{ConfigFile, DatanodeConfig};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tests::{count_words, data, read_counts, start, submit_wait, wait, words};

/// Kills the hand-started datanode when the test ends, however it ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The rack the namenode reports for the datanode at `addr`.
fn rack_of(t: &tests::TestCluster, addr: &str) -> Option<String> {
    let r = t.dfs.cluster_report().ok()?;
    r.datanodes
        .iter()
        .filter(|d| d.state == "live")
        .filter_map(|d| d.info.as_ref())
        .find(|i| i.data_addr == addr)
        .map(|i| i.rack.clone())
}

#[test]
fn a_datanode_joins_with_only_addresses_and_its_rack_follows_the_shared_topology_file() {
    let t = start(3, 2, |_| {});
    let dir = t.cluster.dir.clone();
    let host = "127.0.0.9";
    let topology = t.cluster.topology_path();
    let mut racks = std::fs::read_to_string(&topology).unwrap();
    racks.push_str(&format!("{host} /rack-new\n"));
    std::fs::write(&topology, &racks).unwrap();

    // Only what a new node needs: the namenode's address, its own address and dirs, security.
    let nn_addr = t.cluster.datanode_config(0).unwrap().namenode_addr;
    let port = std::net::TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("{host}:{port}");
    let base = ConfigFile::load(&dir.join("namenode.toml"))
        .unwrap()
        .security;
    let file = ConfigFile {
        datanode: Some(DatanodeConfig {
            namenode_addr: nn_addr,
            data_addr: addr.clone(),
            data_dirs: vec![dir.join("joined-datanode")],
            ..Default::default()
        }),
        security: cluster::tls::daemon_security(&dir, &base, host).unwrap(),
        ..Default::default()
    };
    let config = dir.join("joined-datanode.toml");
    std::fs::write(&config, toml::to_string(&file).unwrap()).unwrap();
    let log = std::fs::File::create(dir.join("logs").join("joined-datanode.log")).unwrap();
    let _dn = Daemon(
        Command::new(cluster::bin_dir().unwrap().join("datanode"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait(
        Duration::from_secs(30),
        "the new datanode on its rack",
        || (rack_of(&t, &addr)? == "/rack-new").then_some(()),
    );
    // It gets work: a file with one replica per datanode has one on it.
    let bytes = data(300 << 10, 7);
    t.dfs
        .write_file(
            "/joined/f",
            &bytes,
            CreateOptions {
                replication: 4,
                ..Default::default()
            },
        )
        .unwrap();
    wait(
        Duration::from_secs(30),
        "a replica on the new datanode",
        || {
            let f = t.dfs.fsck("/joined").ok()?;
            f.blocks
                .iter()
                .all(|b| b.replicas.iter().any(|r| r.node == addr))
                .then_some(())
        },
    );

    // The operator moves it to another rack: picked up without a restart.
    std::fs::write(&topology, racks.replace("/rack-new", "/rack-moved")).unwrap();
    wait(Duration::from_secs(30), "the rack change", || {
        (rack_of(&t, &addr)? == "/rack-moved").then_some(())
    });
    assert_eq!(&t.dfs.read_file("/joined/f").unwrap(), &bytes);
}

#[test]
fn a_worker_added_by_cluster_up_on_the_existing_directory_gets_tasks() {
    let t = start(2, 2, |_| {});
    let text = words(20_000, 2_000, 5);
    t.dfs
        .write_file("/in/words.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let dir = t.cluster.dir.clone();
    let up = Command::new(cluster::bin_dir().unwrap().join("mrctl"))
        .args(["cluster", "up", "--dir"])
        .arg(&dir)
        .args(["--workers", "3"])
        .output()
        .unwrap();
    // Stops every daemon of the grown cluster when the test ends.
    let grown = LocalCluster::prepare(&dir, ClusterSpec::default()).unwrap();
    assert!(
        up.status.success(),
        "cluster up --workers 3: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(grown.spec.worker_count(), 3);
    assert_eq!(grown.spec.datanodes, 2);
    let jobs = t.cluster.job_client().unwrap();
    let new_host = cluster::datanode_host(2);
    wait(Duration::from_secs(30), "the new worker", || {
        jobs.workers()
            .ok()?
            .iter()
            .any(|(h, _)| *h == new_host)
            .then_some(())
    });
    // Only the new worker is left: the job runs there or nowhere.
    grown.kill("worker-0").unwrap();
    grown.kill("worker-1").unwrap();
    wait(Duration::from_secs(30), "the old workers gone", || {
        (jobs.workers().ok()?.len() == 1).then_some(())
    });
    let r = submit_wait(&t, "wordcount", &["/in", "/out", "--reducers", "2"]);
    assert!(r.ok, "wordcount on the joined worker failed: {}", r.stderr);
    assert_eq!(read_counts(&t.dfs, "/out"), count_words(&text));
}
