//! Taking nodes out of service with real daemons (security on): a datanode decommissioned
//! during a write and a job loses nothing and never leaves a block short of replicas; the
//! include and exclude lists through `mrctl admin refresh-nodes`; a worker drained during a job
//! leaves its output byte-identical; only superusers may do any of it.

#![allow(clippy::unwrap_used)]

use client::{CreateOptions, DfsClient};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::{data, mrctl, mrctl_with, start, wait, words, TestCluster};

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "mrctl failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The admin state and blocks left of the datanode at `addr`.
fn admin_state(dfs: &DfsClient, addr: &str) -> Option<(String, String, u64)> {
    let r = dfs.cluster_report().ok()?;
    r.datanodes.iter().find_map(|d| {
        let i = d.info.as_ref()?;
        (i.data_addr == addr).then(|| {
            (
                d.state.clone(),
                d.admin_state.clone(),
                d.decommission_blocks_left,
            )
        })
    })
}

/// Every block under `path` with fewer live (not stale, not corrupt) replicas than its
/// replication, as "path blk_N: n/expected".
fn short_blocks(dfs: &DfsClient, path: &str) -> Vec<String> {
    let Ok(f) = dfs.fsck(path) else {
        return Vec::new();
    };
    f.blocks
        .iter()
        .filter(|b| {
            let live = b.replicas.iter().filter(|r| !r.corrupt && !r.stale).count();
            live < b.expected_replication as usize
        })
        .map(|b| {
            format!(
                "{} blk_{}: {}/{}",
                b.path,
                b.block.unwrap_or_default().id,
                b.replicas.len(),
                b.expected_replication
            )
        })
        .collect()
}

/// Every file under `dir` with its bytes.
fn contents(dfs: &DfsClient, dir: &str) -> BTreeMap<String, Vec<u8>> {
    dfs.list_files(dir)
        .unwrap()
        .into_iter()
        .map(|f| {
            let name = f.path.rsplit('/').next().unwrap().to_string();
            (name, dfs.read_file(&f.path).unwrap())
        })
        .collect()
}

fn write_text_inputs(tc: &TestCluster, dir: &str, files: usize, lines: usize) -> String {
    let mut all = String::new();
    for i in 0..files {
        let text = words(lines, 500, 7 + i as u64);
        let opts = CreateOptions {
            block_size: 64 << 10,
            ..Default::default()
        };
        tc.dfs
            .write_file(&format!("{dir}/f{i}.txt"), text.as_bytes(), opts)
            .unwrap();
        all.push_str(&text);
    }
    all
}

#[test]
fn a_datanode_decommissioned_during_a_write_and_a_job_loses_nothing() {
    let tc = start(5, 2, |s| s.namenode.default_block_size = 256 << 10);
    let before: Vec<Vec<u8>> = (0..4).map(|i| data(1 << 20, 40 + i)).collect();
    for (i, b) in before.iter().enumerate() {
        tc.dfs
            .write_file(&format!("/before/f{i}"), b, CreateOptions::default())
            .unwrap();
    }
    let text = write_text_inputs(&tc, "/in", 3, 3_000);

    // The victim: the datanode holding the most replicas.
    let report = tc.dfs.cluster_report().unwrap();
    let victim = report
        .datanodes
        .iter()
        .max_by_key(|d| d.blocks)
        .and_then(|d| d.info.clone())
        .unwrap()
        .data_addr;
    let victim_index = tc.datanode_index(&victim);

    // A sampler checks, as often as it can, that no closed block is short of replicas.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (dfs, stop) = (tc.cluster.client().unwrap(), stop.clone());
        std::thread::spawn(move || {
            let mut samples = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for p in ["/before", "/in"] {
                    let short = short_blocks(&dfs, p);
                    assert!(short.is_empty(), "blocks short of replicas: {short:?}");
                }
                samples += 1;
            }
            samples
        })
    };

    // A write under way, and a job.
    let during = data(3 << 20, 99);
    let mut w = tc
        .dfs
        .create("/during/big", CreateOptions::default())
        .unwrap();
    w.write_all(&during[..1 << 20]).unwrap();
    let id = tests::submit_no_wait(&tc, "wordcount", &["/in", "/out"]);

    let out = ok(&mrctl(&tc, &["admin", "decommission", &victim]));
    assert!(
        out.contains(&format!("datanode {victim} decommissioning")),
        "{out}"
    );
    // Placement no longer picks it: the rest of the write goes elsewhere.
    w.write_all(&during[1 << 20..]).unwrap();
    w.close().unwrap();

    let jobs = tc.cluster.job_client().unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, common::jobs::JobState::Succeeded, "{:?}", r.error);
    assert_eq!(
        tests::read_counts(&tc.dfs, "/out"),
        tests::count_words(&text)
    );

    wait(
        Duration::from_secs(90),
        "the datanode to be decommissioned",
        || {
            let (_, admin, _) = admin_state(&tc.dfs, &victim)?;
            (admin == "decommissioned").then_some(())
        },
    );
    let report = ok(&mrctl(&tc, &["cluster", "report"]));
    assert!(report.contains("DECOMMISSIONED (safe to stop)"), "{report}");
    let json = ok(&mrctl(&tc, &["cluster", "report", "--json"]));
    assert!(
        json.contains("\"admin_state\": \"decommissioned\""),
        "{json}"
    );
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    assert!(samples > 0);

    // Stopped, it takes nothing with it.
    tc.cluster
        .kill(&format!("datanode-{victim_index}"))
        .unwrap();
    wait(Duration::from_secs(30), "the datanode to be dead", || {
        let (state, _, _) = admin_state(&tc.dfs, &victim)?;
        (state == "dead").then_some(())
    });
    let f = tc.dfs.fsck("/").unwrap();
    assert_eq!(f.under_replicated + f.missing + f.corrupt, 0, "{f:?}");
    for (i, b) in before.iter().enumerate() {
        assert_eq!(&tc.dfs.read_file(&format!("/before/f{i}")).unwrap(), b);
    }
    assert_eq!(tc.dfs.read_file("/during/big").unwrap(), during);

    // Restarted, it is still out of service (durable), until recommissioned.
    tc.cluster
        .start(&format!("datanode-{victim_index}"))
        .unwrap();
    wait(
        Duration::from_secs(30),
        "the restarted node to be decommissioned",
        || {
            let (state, admin, _) = admin_state(&tc.dfs, &victim)?;
            (state == "live" && admin == "decommissioned").then_some(())
        },
    );
    let out = ok(&mrctl(&tc, &["admin", "recommission", &victim]));
    assert!(out.contains("back in service"), "{out}");
    wait(Duration::from_secs(10), "the node to be in service", || {
        let (_, admin, _) = admin_state(&tc.dfs, &victim)?;
        (admin == "normal").then_some(())
    });

    // A name that matches nothing is an error, and changes nothing.
    let o = mrctl(&tc, &["admin", "decommission", "127.0.0.99:1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("127.0.0.99:1 matched no datanode and no worker"),
        "{err}"
    );
}

#[test]
fn the_include_list_refuses_unlisted_datanodes_and_refresh_nodes_reads_the_exclude_list() {
    let lists = tempfile::tempdir().unwrap();
    let (include, exclude) = (lists.path().join("include"), lists.path().join("exclude"));
    let hosts: Vec<String> = (0..5).map(cluster::datanode_host).collect();
    std::fs::write(&include, hosts.join("\n")).unwrap();
    std::fs::write(&exclude, "# none yet\n").unwrap();
    let tc = start(5, 2, |s| {
        s.namenode.hosts_include = Some(include.clone());
        s.namenode.hosts_exclude = Some(exclude.clone());
        s.jobtracker.hosts_exclude = Some(exclude.clone());
        s.namenode.default_block_size = 256 << 10;
    });
    let bytes = data(1 << 20, 5);
    tc.dfs
        .write_file("/f", &bytes, CreateOptions::default())
        .unwrap();

    // Drop the last host from the include list: the namenode refuses it from then on.
    std::fs::write(&include, hosts[..4].join("\n")).unwrap();
    let out = ok(&mrctl(&tc, &["admin", "refresh-nodes"]));
    let last = tc.cluster.datanode_config(4).unwrap().data_addr;
    assert!(out.contains(&format!("datanode {last} refused")), "{out}");
    tc.cluster.kill("datanode-4").unwrap();
    tc.cluster.start("datanode-4").unwrap();
    let log = tc.cluster.dir.join("logs");
    wait(
        Duration::from_secs(30),
        "the datanode to be refused",
        || {
            let text: String = std::fs::read_dir(&log)
                .ok()?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().contains("datanode-4"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect();
            text.contains("is not in the include list").then_some(())
        },
    );
    let (state, _, _) = admin_state(&tc.dfs, &last).unwrap();
    assert_eq!(state, "dead", "a refused node never comes back to life");
    // Its replicas were dropped with it (as HDFS does): re-created on the others.
    wait(
        Duration::from_secs(30),
        "full replication without it",
        || short_blocks(&tc.dfs, "/").is_empty().then_some(()),
    );

    // The exclude list decommissions through the same mechanism.
    let second = tc.cluster.datanode_config(1).unwrap().data_addr;
    std::fs::write(&exclude, format!("{second}\n")).unwrap();
    let out = ok(&mrctl(&tc, &["admin", "refresh-nodes"]));
    assert!(
        out.contains(&format!("datanode {second} decommissioning")),
        "{out}"
    );
    wait(
        Duration::from_secs(60),
        "the excluded node to be decommissioned",
        || {
            let (_, admin, left) = admin_state(&tc.dfs, &second)?;
            assert!(short_blocks(&tc.dfs, "/").is_empty());
            (admin == "decommissioned" && left == 0).then_some(())
        },
    );
    assert_eq!(tc.dfs.read_file("/f").unwrap(), bytes);
    // Out of the list again: back in service.
    std::fs::write(&exclude, "").unwrap();
    let out = ok(&mrctl(&tc, &["admin", "refresh-nodes"]));
    assert!(
        out.contains(&format!("datanode {second} in service")),
        "{out}"
    );
}

#[test]
fn a_worker_drained_during_a_job_leaves_the_output_byte_identical() {
    let tc = start(4, 2, |_| {});
    write_text_inputs(&tc, "/in", 4, 2_000);
    let args = ["--sleep-per-line", "1", "--reducers", "3"];
    let mut reference = vec!["/in", "/ref"];
    reference.extend(args);
    let r = tests::submit_wait(&tc, "faultyjob", &reference);
    assert!(r.ok, "{}", r.stderr);

    let mut drained = vec!["/in", "/out"];
    drained.extend(args);
    let id = tests::submit_no_wait(&tc, "faultyjob", &drained);
    let jobs = tc.cluster.job_client().unwrap();
    wait(Duration::from_secs(60), "maps to finish", || {
        let r = jobs.job(&id).ok()?;
        (r.stages[0].maps_done >= 2).then_some(())
    });
    let host = cluster::datanode_host(1);
    let out = ok(&mrctl(&tc, &["admin", "decommission", &host]));
    assert!(out.contains(&format!("worker {host} draining")), "{out}");
    let state = |h: &str| {
        jobs.worker_statuses()
            .ok()?
            .into_iter()
            .find(|w| w.host == h)
            .map(|w| w.admin_state)
    };
    wait(
        Duration::from_secs(120),
        "the worker to be decommissioned",
        || (state(&host)? == "decommissioned").then_some(()),
    );
    let report = ok(&mrctl(&tc, &["cluster", "report"]));
    assert!(report.contains("decommissioned"), "{report}");
    tc.cluster.kill("worker-1").unwrap();
    let r = jobs.wait(&id, |_| {}).unwrap();
    assert_eq!(r.state, common::jobs::JobState::Succeeded, "{:?}", r.error);
    assert_eq!(contents(&tc.dfs, "/out"), contents(&tc.dfs, "/ref"));

    // Back in service when it returns.
    tc.cluster.start("worker-1").unwrap();
    ok(&mrctl(&tc, &["admin", "recommission", &host]));
    wait(
        Duration::from_secs(30),
        "the worker to be in service",
        || (state(&host)? == "in service").then_some(()),
    );
}

#[test]
fn only_superusers_decommission_or_refresh() {
    let tc = start(3, 1, |_| {});
    let bob = tc.cluster.client_config_for("bob", &["staff"]).unwrap();
    let addr = tc.cluster.datanode_config(0).unwrap().data_addr;
    for args in [
        vec!["admin", "decommission", addr.as_str()],
        vec!["admin", "recommission", addr.as_str()],
        vec!["admin", "refresh-nodes"],
    ] {
        let o = mrctl_with(&bob, &[("USER", "bob")], &args);
        assert!(!o.status.success(), "{args:?} allowed for bob");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("bob") && err.contains("superuser"), "{err}");
    }
    let (_, admin, _) = admin_state(&tc.dfs, &addr).unwrap();
    assert_eq!(admin, "normal");
}
