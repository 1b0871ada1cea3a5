//! Tasks cannot read what their worker can: a worker running as root (as these tests do) runs
//! each job's tasks under a uid of its own, so a task reads neither a root-only file (such as the
//! worker's cluster secret), nor the worker's folder of other jobs' map outputs, nor a
//! datanode's block files.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use tests::{read_lines, start, submit_wait};

#[test]
fn a_task_runs_under_its_jobs_own_uid_and_cannot_read_the_workers_private_files() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: task isolation needs the worker to run as root");
        return;
    }
    let tc = start(1, 1, |_| {});
    let dir = tc.cluster.dir.clone();
    let private = dir.join("probe-private");
    std::fs::write(&private, b"only root may read this").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = dir.join("probe-public");
    std::fs::write(&public, b"anyone may read this").unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
    let jobs = dir.join("worker-0").join("jobs");
    let blocks = tc.data_dirs(0)[0].clone();
    let input = format!(
        "uid\n{}\n{}\n{}\n{}\n",
        private.display(),
        public.display(),
        jobs.display(),
        blocks.display()
    );
    tc.dfs
        .write_file("/probe/in.txt", input.as_bytes(), CreateOptions::default())
        .unwrap();
    let r = submit_wait(&tc, "probejob", &["/probe/in.txt", "/probe/out"]);
    assert!(r.ok, "{}", r.stderr);
    let seen: BTreeMap<String, String> = read_lines(&tc.dfs, "/probe/out")
        .into_iter()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let uid: u32 = seen["uid"].parse().unwrap_or_else(|_| panic!("{seen:?}"));
    assert!(
        (200_000..210_000).contains(&uid),
        "the task ran as uid {uid}, not one of the workers' task uids: {seen:?}"
    );
    let verdict = |p: &std::path::Path| seen[&p.display().to_string()].clone();
    assert!(verdict(&private).starts_with("denied"), "{seen:?}");
    assert_eq!(verdict(&public), "ok", "{seen:?}");
    assert!(verdict(&jobs).starts_with("denied"), "{seen:?}");
    assert!(verdict(&blocks).starts_with("denied"), "{seen:?}");
}
