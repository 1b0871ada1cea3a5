//! The job tracker's background work, the part that talks to the DFS: computing a stage's
//! splits when its inputs are ready, publishing a stage's output when every task succeeded
//! (exactly the committed attempts' files, then `_SUCCESS`), cleaning up after jobs that end,
//! recording how jobs ended, and expiring silent workers. Each step is journaled (see
//! [`crate::history`]) so a restarted job tracker goes on from it; a commit is recorded with
//! its attempts before it moves anything, and moving is idempotent, so it can be redone.

use crate::error::{JtError, JtResult};
use crate::history::HistoryRecord;
use crate::scheduler::{end_job, expire_workers, fail_job};
use crate::service::JobTracker;
use crate::state::{Leftovers, StagePhase, TaskRun, TrackerState};
use client::DfsClient;
use common::ids::{AttemptId, JobId};
use common::jobs::{InputFormat, JobState, OutputSpec, Split, StageSpec};
use common::journal::{Commit, Journal};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Work found under the lock, done outside it.
enum Work {
    Prepare {
        job: JobId,
        stage: usize,
        spec: StageSpec,
    },
    Commit {
        job: JobId,
        stage: usize,
        outputs: Vec<OutputSpec>,
        attempts: Vec<AttemptId>,
        /// The commit's start record: durable before anything moves.
        recorded: Commit,
    },
    /// Clean an ended job's leftovers, then retire it and record its end.
    Finish(Leftovers),
    /// Clean the leftovers of a job already retired.
    Sweep(Leftovers),
}

/// Runs forever: wakes on notice or every 100 ms.
pub async fn run(jt: Arc<JobTracker>) {
    let expiry = Duration::from_millis(jt.config.worker_expiry_ms);
    loop {
        let _ = tokio::time::timeout(Duration::from_millis(100), jt.wake.notified()).await;
        let work = {
            let mut st = jt.state.lock();
            expire_workers(&mut st, expiry, jt.clock.now());
            crate::history::expire_awaited(&mut st, expiry, jt.clock.now());
            find_work(&mut st, &jt.journal)
        };
        for w in work {
            let dfs = jt.dfs.clone();
            let jt2 = jt.clone();
            let r = tokio::task::spawn_blocking(move || do_work(&dfs, &jt2, w)).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "driver work panicked");
            }
        }
    }
}

fn find_work(st: &mut TrackerState, journal: &Journal) -> Vec<Work> {
    let mut work: Vec<Work> = st.orphaned.drain(..).map(Work::Sweep).collect();
    let alive = jobs_with_live_attempts(st);
    for (j, job) in st.jobs.iter_mut().enumerate() {
        if job.state == JobState::Running {
            for s in 0..job.stages.len() {
                match job.stages[s].phase {
                    StagePhase::Waiting => {
                        let deps = job.spec.stage_deps(s);
                        if deps
                            .iter()
                            .all(|&d| job.stages[d].phase == StagePhase::Done)
                        {
                            job.stages[s].phase = StagePhase::Preparing;
                            work.push(Work::Prepare {
                                job: job.id.clone(),
                                stage: s,
                                spec: job.spec.stages[s].clone(),
                            });
                        }
                    }
                    StagePhase::Committing => {
                        let stage = &job.stages[s];
                        let attempts: Vec<AttemptId> = stage
                            .maps
                            .iter()
                            .chain(&stage.reduces)
                            .filter_map(TaskRun::committed_attempt)
                            .map(|a| a.id.clone())
                            .collect();
                        // Marked so it is not committed twice; Done once published.
                        job.stages[s].phase = StagePhase::Preparing;
                        let record = HistoryRecord::CommitStarted {
                            job: job.id.clone(),
                            stage: s,
                            attempts: attempts.clone(),
                        };
                        work.push(Work::Commit {
                            job: job.id.clone(),
                            stage: s,
                            outputs: job.spec.stages[s].outputs.clone(),
                            attempts,
                            recorded: journal.append(record.encode()).1,
                        });
                    }
                    _ => {}
                }
            }
            if job.stages.iter().all(|s| s.phase == StagePhase::Done) {
                job.state = JobState::Succeeded;
                job.finished_ms = Some(common::jobs::now_ms());
                job.needs_cleanup = true;
            }
        }
        // An attempt still running could write into the outputs after they are cleaned
        // (a killed reduce creating its part late): the cleaning waits until each is gone.
        if job.needs_cleanup && !alive.contains(&j) {
            if job.state != JobState::Succeeded {
                // A restart cleans it and records its end again, never runs it again.
                let record = HistoryRecord::Ended {
                    job: job.id.clone(),
                    state: job.state,
                    error: job.error.clone(),
                };
                drop(journal.append(record.encode()));
            }
            job.needs_cleanup = false;
            job.cleaning = true;
            work.push(Work::Finish(job.leftovers()));
        }
    }
    work
}

/// Job slots with an attempt a live worker still runs (by its last heartbeat) or has yet to
/// be told to kill.
fn jobs_with_live_attempts(st: &TrackerState) -> HashSet<usize> {
    st.workers
        .values()
        .flat_map(|w| &w.running)
        .chain(st.kills.values().flatten())
        .filter_map(|id| st.attempts.get(id))
        .map(|at| at.job)
        .collect()
}

fn do_work(dfs: &DfsClient, jt: &JobTracker, work: Work) {
    match work {
        Work::Prepare { job, stage, spec } => {
            let result = splits(dfs, &spec);
            let mut st = jt.state.lock();
            let Some(&j) = st.by_id.get(&job) else { return };
            let now = jt.clock.now();
            match result {
                Ok(splits) => {
                    // Before any task of the stage can succeed: recovery rebuilds the same tasks.
                    let record = HistoryRecord::StageStarted {
                        job: job.clone(),
                        stage,
                        splits: splits.clone(),
                    };
                    drop(jt.journal.append(record.encode()));
                    let run = &mut st.jobs[j].stages[stage];
                    run.maps = splits
                        .into_iter()
                        .enumerate()
                        .map(|(i, sp)| TaskRun::new(i as u32, Some(sp), now))
                        .collect();
                    run.reduces = (0..spec.reducers)
                        .map(|p| TaskRun::new(p, None, now))
                        .collect();
                    run.phase = StagePhase::Running;
                    run.started = Some(now);
                    tracing::info!(%job, stage, maps = run.maps.len(), reduces = run.reduces.len(), "stage started");
                    if run.maps.is_empty() && run.reduces.is_empty() {
                        run.phase = StagePhase::Committing;
                    } else if run.maps.is_empty() {
                        run.maps_finished = Some(now);
                    }
                }
                Err(e) => fail_job(&mut st, j, format!("stage {:?}: {e}", spec.name)),
            }
            drop(st);
            jt.wake.notify_one();
        }
        Work::Commit {
            job,
            stage,
            outputs,
            attempts,
            recorded,
        } => {
            let owner = {
                let st = jt.state.lock();
                st.by_id
                    .get(&job)
                    .map(|&j| st.jobs[j].spec.user.clone())
                    .filter(|u| !u.is_empty())
            };
            let result = recorded
                .wait()
                .map_err(JtError::History)
                .and_then(|()| commit(dfs, &outputs, &attempts, owner.as_deref()));
            let mut st = jt.state.lock();
            let Some(&j) = st.by_id.get(&job) else { return };
            match result {
                Ok(()) => {
                    let record = HistoryRecord::StageCommitted {
                        job: job.clone(),
                        stage,
                    };
                    drop(jt.journal.append(record.encode()));
                    let run = &mut st.jobs[j].stages[stage];
                    run.phase = StagePhase::Done;
                    run.finished = Some(jt.clock.now());
                    tracing::info!(%job, stage, "stage committed");
                }
                Err(e) => fail_job(&mut st, j, format!("committing stage {stage}: {e}")),
            }
            drop(st);
            jt.wake.notify_one();
        }
        Work::Sweep(leftovers) => remove_leftovers(dfs, leftovers),
        Work::Finish(leftovers) => {
            let job = leftovers.job.clone();
            remove_leftovers(dfs, leftovers);
            // The job leaves memory as its cleaning ends: from now on clients read its final
            // report, which the history keeps.
            let Some(report) = jt.state.lock().cleaned(&job, jt.clock.now()) else {
                return;
            };
            tracing::info!(%job, state = ?report.state, error = ?report.error, "job ended");
            if let Err(e) = jt
                .journal
                .append(HistoryRecord::Finished { report }.encode())
                .1
                .wait()
            {
                tracing::error!(%job, error = %e, "recording the end of a job");
            }
        }
    }
}

fn remove_leftovers(dfs: &DfsClient, leftovers: Leftovers) {
    for path in leftovers.remove.into_iter().chain(leftovers.sweep) {
        if let Err(e) = dfs.delete(&path, true) {
            if !matches!(e, client::ClientError::NotFound(_)) {
                tracing::warn!(job = %leftovers.job, %path, error = %e, "removing the output of an unfinished stage");
            }
        }
    }
}

/// One split per block of every input file (a binary record file is one split).
fn splits(dfs: &DfsClient, spec: &StageSpec) -> JtResult<Vec<Split>> {
    let mut out = Vec::new();
    for (i, input) in spec.inputs.iter().enumerate() {
        if let InputFormat::Range { rows, splits } = input.format {
            let n = splits.max(1) as u64;
            out.extend((0..n).map(|k| Split {
                input: i,
                path: String::new(),
                start: rows * k / n,
                len: rows * (k + 1) / n - rows * k / n,
                hosts: Vec::new(),
            }));
            continue;
        }
        let files = dfs
            .list_files(&input.path)
            .map_err(|e| JtError::dfs(format!("input {}", input.path), e))?;
        for f in files.into_iter().filter(|f| f.length > 0) {
            let locs = dfs
                .block_locations(&f.path)
                .map_err(|e| JtError::dfs(format!("input {}", f.path), e))?;
            let hosts = |b: &proto::dfs::LocatedBlock| -> Vec<String> {
                b.locations.iter().map(|d| d.host.clone()).collect()
            };
            if input.format == InputFormat::Binary {
                out.push(Split {
                    input: i,
                    path: f.path.clone(),
                    start: 0,
                    len: f.length,
                    hosts: locs.blocks.first().map(hosts).unwrap_or_default(),
                });
                continue;
            }
            for b in &locs.blocks {
                let len = b.block.as_ref().map_or(0, |b| b.num_bytes);
                if len == 0 {
                    continue;
                }
                out.push(Split {
                    input: i,
                    path: f.path.clone(),
                    start: b.offset,
                    len,
                    hosts: hosts(b),
                });
            }
        }
    }
    Ok(out)
}

/// Publishes a stage: moves the committed attempts' files out of the staging directory
/// (keeping the subdirectories a task wrote, such as `region=EU/`), removes everything else
/// there, and marks each output directory with `_SUCCESS`. What it creates is handed to the
/// job's `owner`, as if the job's user had made it (the files the tasks wrote are theirs).
fn commit(
    dfs: &DfsClient,
    outputs: &[OutputSpec],
    attempts: &[AttemptId],
    owner: Option<&str>,
) -> JtResult<()> {
    for out in outputs {
        let staging = out.staging_dir();
        let dir = out.path.trim_end_matches('/');
        if !out.file {
            dfs.mkdirs(dir).map_err(|e| JtError::dfs(dir, e))?;
            give(dfs, dir, owner)?;
        }
        for a in attempts {
            let tmp = format!("{staging}/{a}");
            if out.file {
                let files = match dfs.list_files(&tmp) {
                    Ok(f) => f,
                    Err(client::ClientError::NotFound(_)) => continue,
                    Err(e) => return Err(JtError::dfs(tmp, e)),
                };
                for f in files {
                    dfs.rename(&f.path, dir)
                        .map_err(|e| JtError::dfs(format!("moving {} to {dir}", f.path), e))?;
                    pause_for_tests();
                }
            } else {
                move_tree(dfs, &tmp, dir, owner)?;
            }
        }
        match dfs.delete(&staging, true) {
            Ok(()) | Err(client::ClientError::NotFound(_)) => {}
            Err(e) => return Err(JtError::dfs(staging, e)),
        }
        if !out.file {
            // Written last; already there when a restart redoes a commit that had finished.
            let success = format!("{dir}/_SUCCESS");
            if !dfs
                .exists(&success)
                .map_err(|e| JtError::dfs(&success, e))?
            {
                dfs.write_file(&success, b"", Default::default())
                    .map_err(|e| JtError::dfs(&success, e))?;
                give(dfs, &success, owner)?;
            }
        }
    }
    Ok(())
}

/// Moves the files under `from` to the same relative places under `to`, merging into
/// directories other attempts already filled. A missing `from` (a task that wrote nothing) is
/// not an error.
fn move_tree(dfs: &DfsClient, from: &str, to: &str, owner: Option<&str>) -> JtResult<()> {
    let entries = match dfs.list(from) {
        Ok(f) => f,
        Err(client::ClientError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(JtError::dfs(from, e)),
    };
    for f in entries {
        let name = f.path.rsplit('/').next().unwrap_or_default();
        let dst = format!("{to}/{name}");
        if f.is_dir {
            dfs.mkdirs(&dst).map_err(|e| JtError::dfs(&dst, e))?;
            give(dfs, &dst, owner)?;
            move_tree(dfs, &f.path, &dst, owner)?;
        } else {
            dfs.rename(&f.path, &dst)
                .map_err(|e| JtError::dfs(format!("moving {} to {dst}", f.path), e))?;
            pause_for_tests();
        }
    }
    Ok(())
}

/// Makes `owner` the owner of `path`, which the job tracker created for the job.
fn give(dfs: &DfsClient, path: &str, owner: Option<&str>) -> JtResult<()> {
    match owner {
        Some(o) => dfs
            .set_owner(path, Some(o), None)
            .map_err(|e| JtError::dfs(format!("handing {path} to {o}"), e)),
        None => Ok(()),
    }
}

/// Test hook: `MR_TEST_COMMIT_PAUSE_MS` in the job tracker's environment makes a commit pause
/// after each file it moves, so a test can kill the job tracker in the middle of a commit.
fn pause_for_tests() {
    if let Some(ms) = std::env::var("MR_TEST_COMMIT_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Kills a job on a user's request.
pub fn kill(st: &mut TrackerState, j: usize) {
    if !st.jobs[j].state.is_over() {
        end_job(st, j, JobState::Killed, Some("killed by the user".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::test_harness::SchedulerTest;

    #[test]
    fn an_ended_job_is_cleaned_only_once_none_of_its_attempts_runs() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let journal = Journal::start(dir.path(), 0).expect("a journal");
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
        t.submit(&[&["h1"]], 0);
        t.tick();
        t.set_ignores_kills("h1", true);
        kill(&mut t.st, 0);
        // The kill is still to be delivered, then the worker still runs the attempt.
        assert!(!find_work(&mut t.st, &journal)
            .iter()
            .any(|w| matches!(w, Work::Finish(_))));
        t.tick();
        assert!(!find_work(&mut t.st, &journal)
            .iter()
            .any(|w| matches!(w, Work::Finish(_))));
        t.set_ignores_kills("h1", false);
        t.tick();
        t.tick();
        assert!(find_work(&mut t.st, &journal)
            .iter()
            .any(|w| matches!(w, Work::Finish(_))));
    }
}
