//! Sharing slots between jobs, with real processes: two jobs in queues weighted 2:1 run side
//! by side and hold the slots 2:1 while both have maps waiting; a short job submitted while a
//! long job holds every slot gets a slot as soon as one frees and finishes long before the long
//! one; `mrctl job queues` shows the queues (as a table and as JSON); a job submitted to an
//! unknown queue is refused naming the queues.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::config::{QueueConfig, QueuePolicy};
use common::jobs::{JobState, QueueReport};
use std::time::Duration;
use tests::{job_binary, mrctl, start, wait, words, TestCluster};

/// Writes `files` small text files (one split each) under `dir`.
fn inputs(tc: &TestCluster, dir: &str, files: usize, lines: usize, seed: u64) {
    for i in 0..files {
        let text = words(lines, 50, seed + i as u64);
        tc.dfs
            .write_file(
                &format!("{dir}/f{i:02}.txt"),
                text.as_bytes(),
                CreateOptions::default(),
            )
            .unwrap();
    }
}

/// `mrctl submit faultyjob [--queue Q] -- ARGS` without waiting; the job's id.
fn submit(tc: &TestCluster, queue: Option<&str>, args: &[&str]) -> String {
    let bin = job_binary("faultyjob");
    let mut all = vec!["submit", bin.as_str()];
    if let Some(q) = queue {
        all.extend(["--queue", q]);
    }
    all.push("--");
    all.extend_from_slice(args);
    let o = mrctl(tc, &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// `mrctl job queues --json`, parsed.
fn queues(tc: &TestCluster) -> Vec<QueueReport> {
    let o = mrctl(tc, &["job", "queues", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A job's (running, pending) tasks in the queue report, if it is there.
fn job_use(qs: &[QueueReport], id: &str) -> Option<(u32, u32)> {
    qs.iter()
        .flat_map(|q| &q.jobs)
        .find(|j| j.id.as_str() == id)
        .map(|j| (j.running, j.pending))
}

fn wait_ended(tc: &TestCluster, id: &str) -> common::jobs::JobReport {
    let jobs = tc.cluster.job_client().unwrap();
    wait(Duration::from_secs(180), &format!("{id} to end"), || {
        let r = jobs.job(id).ok()?;
        r.state.is_over().then_some(r)
    })
}

#[test]
fn two_queues_weighted_two_to_one_hold_the_slots_two_to_one_under_contention() {
    // Three 2-slot workers: 6 slots. Reducers wait for every map, so only maps compete.
    let tc = start(3, 1, |s| {
        s.jobtracker.reduce_slow_start = 1.0;
        s.jobtracker.queues = vec![
            QueueConfig {
                name: "prod".into(),
                weight: 2.0,
                min_share: 0,
                policy: QueuePolicy::Fair,
                admins: Vec::new(),
            },
            QueueConfig {
                name: "adhoc".into(),
                weight: 1.0,
                min_share: 1,
                policy: QueuePolicy::Fifo,
                admins: Vec::new(),
            },
        ];
    });

    // The queues as a user sees them, before any job.
    let o = mrctl(&tc, &["job", "queues"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "queue",
            "weight",
            "min_share",
            "policy",
            "running",
            "pending",
            "jobs"
        ]
    );
    assert_eq!(
        lines[1],
        ["prod", "2", "0", "fair", "0", "0", "0"],
        "{table}"
    );
    assert_eq!(
        lines[2],
        ["adhoc", "1", "1", "fifo", "0", "0", "0"],
        "{table}"
    );

    // A job for a queue that does not exist is refused, naming the ones that do.
    inputs(&tc, "/a", 16, 20, 1);
    inputs(&tc, "/b", 16, 20, 100);
    let bin = job_binary("faultyjob");
    let o = mrctl(
        &tc,
        &["submit", &bin, "--queue", "nightly", "--", "/a", "/x"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("queue \"nightly\"") && err.contains("the queues are prod, adhoc"),
        "{err}"
    );
    // Nor is a default-queue job: this job tracker has none.
    let o = mrctl(&tc, &["submit", &bin, "--", "/a", "/x"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("queue \"default\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Each map sleeps 100 ms a line: about 2 s per map, 16 maps per job.
    let slow = ["--sleep-per-line", "100", "--reducers", "1"];
    let mut args_a = vec!["/a", "/out-a"];
    args_a.extend(slow);
    let mut args_b = vec!["/b", "/out-b"];
    args_b.extend(slow);
    let prod = submit(&tc, Some("prod"), &args_a);
    let adhoc = submit(&tc, Some("adhoc"), &args_b);

    // Sample the queues until both jobs' maps are all placed; keep the samples where both
    // jobs had maps waiting and every slot was taken (contention).
    let mut contended: Vec<(u32, u32)> = Vec::new();
    let mut both_ran = false;
    let mut shown = None;
    wait(
        Duration::from_secs(180),
        "both jobs to run, then one of them to place every map",
        || {
            let qs = queues(&tc);
            let (pr, pp) = job_use(&qs, &prod).unwrap_or((0, 0));
            let (ar, ap) = job_use(&qs, &adhoc).unwrap_or((0, 0));
            both_ran |= pr > 0 && ar > 0;
            // Until adhoc's first map starts prod may hold every slot (no map is preempted);
            // from then on both have maps waiting for each slot that frees.
            if pr > 0 && ar > 0 && pp > 0 && ap > 0 && pr + ar == 6 {
                contended.push((pr, ar));
                shown.get_or_insert(qs);
            }
            // Over once both ran and one of them has no map left to place.
            (both_ran && (pp == 0 || ap == 0)).then_some(())
        },
    );
    assert!(both_ran, "the two jobs never ran at the same time");
    let two_to_one = contended.iter().filter(|&&c| c == (4, 2)).count();
    assert!(
        contended.len() >= 3 && two_to_one * 3 >= contended.len() * 2,
        "prod (weight 2) and adhoc (weight 1) should hold 4 and 2 of the 6 slots while both \
         have maps waiting: {contended:?}"
    );
    // The queues' own lines agree with their jobs'.
    let qs = shown.unwrap();
    for q in &qs {
        assert_eq!(q.running, q.jobs.iter().map(|j| j.running).sum::<u32>());
        assert_eq!(q.jobs.len(), 1, "{qs:?}");
    }

    for id in [&prod, &adhoc] {
        let r = wait_ended(&tc, id);
        assert_eq!(r.state, JobState::Succeeded, "{id}: {:?}", r.error);
    }
}

#[test]
fn a_short_job_gets_a_slot_as_soon_as_one_frees_and_finishes_long_before_the_long_job() {
    // Two 2-slot workers: 4 slots, every one taken by the long job's maps.
    let tc = start(2, 1, |s| {
        s.jobtracker.reduce_slow_start = 1.0;
    });
    inputs(&tc, "/long", 16, 30, 1);
    inputs(&tc, "/short", 1, 30, 200);
    let long = submit(
        &tc,
        None,
        &["/long", "/out-long", "--sleep-per-line", "100"],
    );
    wait(
        Duration::from_secs(120),
        "the long job to hold every slot",
        || {
            let (running, pending) = job_use(&queues(&tc), &long)?;
            (running == 4 && pending > 0).then_some(())
        },
    );
    let short = submit(&tc, None, &["/short", "/out-short", "--reducers", "1"]);

    // The short job's map starts while the long job still has maps waiting for slots: once
    // the short job has a task running or done, the long job still has maps waiting (a count
    // that only falls, so it had them when the short job started; in submit order the short
    // job would start only once every map of the long job was placed).
    let jobs = tc.cluster.job_client().unwrap();
    wait(
        Duration::from_secs(120),
        "the short job's first task",
        || {
            let r = jobs.job(&short).ok()?;
            let qs = queues(&tc);
            let (short_running, _) = job_use(&qs, &short).unwrap_or((0, 0));
            let started = short_running > 0 || r.stages[0].maps_done > 0 || r.state.is_over();
            if !started {
                return None;
            }
            let (_, long_pending) = job_use(&qs, &long).unwrap_or((0, 0));
            assert!(
                long_pending > 0,
                "the short job waited for every map of the long job to be placed"
            );
            Some(())
        },
    );
    let short_r = wait_ended(&tc, &short);
    assert_eq!(short_r.state, JobState::Succeeded, "{:?}", short_r.error);
    let long_now = tc.cluster.job_client().unwrap().job(&long).unwrap();
    assert_eq!(
        long_now.state,
        JobState::Running,
        "the short job ended while the long one still ran"
    );
    let long_r = wait_ended(&tc, &long);
    assert_eq!(long_r.state, JobState::Succeeded, "{:?}", long_r.error);
    assert!(short_r.finished_ms.unwrap() < long_r.finished_ms.unwrap());
}
