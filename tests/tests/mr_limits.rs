//! Limits and the job command line with real daemons: a reducer count over the job tracker's
//! maximum is refused at submit, `job kill` of an ended job says how it ended, `job wait`
//! follows any job and rides out a job tracker restart, Ctrl-C leaves the job running.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tests::{job_binary, mrctl, start, submit_wait, words, TestCluster};

/// `mrctl ARGS` started in the background, its stderr read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: String,
}

impl Running {
    fn start(tc: &TestCluster, args: &[&str]) -> Running {
        let bin = cluster::bin_dir().unwrap().join("mrctl");
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(tc.cluster.client_config_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr: String::new(),
        }
    }

    /// Reads stderr until a line contains `text`; panics after `timeout`.
    fn line_with(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push_str(&line);
                    self.stderr.push('\n');
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} in time; stderr so far:\n{}",
                    self.stderr
                ),
            }
        }
    }

    /// Waits for the process to end; returns its status and the rest of its stderr.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, String) {
        let status = tests::wait(timeout, "mrctl to exit", || self.child.try_wait().unwrap());
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
        (status, self.stderr)
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn limits_kill_of_ended_jobs_job_wait_across_a_restart_and_ctrl_c() {
    let tc = start(2, 1, |s| s.jobtracker.max_reducers = 8);
    let text = words(2_000, 500, 7);
    tc.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();

    // 1. More reducers than the maximum: refused at submit, naming stage, count and maximum.
    let r = submit_wait(&tc, "wordcount", &["/in", "/big", "--reducers", "9"]);
    assert!(!r.ok, "9 reducers over a maximum of 8 must be refused");
    assert!(
        r.stderr.contains("asks for 9 reducers")
            && r.stderr.contains("maximum of 8 (max_reducers)")
            && r.stderr.contains("stage "),
        "{}",
        r.stderr
    );
    assert!(!tc.dfs.exists("/big").unwrap());

    // 2. Killing a job that succeeded says so and fails; `job wait` of it exits 0.
    let r = submit_wait(&tc, "wordcount", &["/in", "/out", "--reducers", "8"]);
    assert!(r.ok, "{}", r.stderr);
    let done = r.job_id();
    let o = mrctl(&tc, &["job", "kill", &done]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("job {done} already ended (it succeeded)")),
        "{}",
        stderr(&o)
    );
    let o = mrctl(&tc, &["job", "wait", &done]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("job {done} succeeded")),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("TOTAL_LAUNCHED_MAPS="));

    // 3. `job wait` started while the job tracker is down waits for it to come back.
    tc.cluster.kill("jobtracker").unwrap();
    let mut waiting = Running::start(&tc, &["job", "wait", &done]);
    waiting.line_with("retrying for up to 60 s", Duration::from_secs(30));
    tc.cluster.start("jobtracker").unwrap();
    let (status, err) = waiting.finish(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    assert!(err.contains(&format!("job {done} succeeded")), "{err}");

    // 4. Ctrl-C during `submit --wait`: the job goes on, and mrctl says how to reach it.
    let bin = job_binary("faultyjob");
    let mut submitted = Running::start(
        &tc,
        &[
            "submit",
            &bin,
            "--wait",
            "--",
            "/in",
            "/slow",
            "--sleep-per-line",
            "1000",
        ],
    );
    let id = submitted
        .line_with("submitted ", Duration::from_secs(60))
        .trim_start_matches("submitted ")
        .trim()
        .to_string();
    let sent = Command::new("kill")
        .args(["-INT", &submitted.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (status, err) = submitted.finish(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!("job {id} goes on running"))
            && err.contains(&format!("mrctl job kill {id}"))
            && err.contains(&format!("mrctl job wait {id}")),
        "{err}"
    );
    let o = mrctl(&tc, &["job", "status", &id]);
    let status_text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(status_text.contains("running"), "{status_text}");

    // 5. A running job is killed as before; killed again, it says it was killed.
    let o = mrctl(&tc, &["job", "kill", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mrctl(&tc, &["job", "wait", &id]);
    assert!(!o.status.success(), "a killed job's wait must fail");
    assert!(
        stderr(&o).contains(&format!("job {id} killed")),
        "{}",
        stderr(&o)
    );
    let o = mrctl(&tc, &["job", "kill", &id]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("job {id} already ended (it was killed)")),
        "{}",
        stderr(&o)
    );
}
