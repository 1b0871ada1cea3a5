//! The task context a mapper or reducer sees: which task it is, its counters, the job's
//! arguments, and the stage's side inputs.

use crate::error::{MrError, MrResult};
use crate::record::{open_stream, Record};
use client::DfsClient;
use common::jobs::{Counters, SideInputSpec, TaskReport};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// The group user counters go to when a job does not name one.
pub const USER_COUNTERS: &str = "User";

/// How often progress goes to the worker.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// A task's view of itself and the job.
pub struct TaskContext {
    pub(crate) counters: Counters,
    pub(crate) args: Vec<String>,
    pub(crate) task: u32,
    pub(crate) attempt: u32,
    pub(crate) side_inputs: Vec<SideInputSpec>,
    pub(crate) side_input_budget: u64,
    pub(crate) dfs: Option<DfsClient>,
    pub(crate) reporter: Option<Reporter>,
    /// A map task's file and where its split starts in it.
    pub(crate) split: Option<(String, u64)>,
    /// What the job recorded while describing itself.
    pub(crate) conf: BTreeMap<String, String>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("task", &self.task)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl TaskContext {
    /// A context outside any task (combiners inside the collector, sampling at describe time).
    pub(crate) fn detached(args: Vec<String>) -> Self {
        TaskContext {
            counters: Counters::default(),
            args,
            task: 0,
            attempt: 0,
            side_inputs: Vec::new(),
            side_input_budget: 0,
            dfs: None,
            reporter: None,
            split: None,
            conf: BTreeMap::new(),
        }
    }

    /// Adds `n` to the counter `name` of `group`.
    pub fn count(&mut self, group: &str, name: &str, n: u64) {
        self.counters.add(group, name, n)
    }

    /// The job's arguments (after the binary's name).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// A value the job recorded with [`crate::Job::conf`] while describing itself.
    pub fn conf(&self, key: &str) -> Option<&str> {
        self.conf.get(key).map(String::as_str)
    }

    /// The map task's index, or the reduce task's partition.
    pub fn task_index(&self) -> u32 {
        self.task
    }

    /// A map task's input file (empty for a range input).
    pub fn split_path(&self) -> &str {
        self.split.as_ref().map_or("", |s| s.0.as_str())
    }

    /// Where a map task's split starts in its file (the first row, for a range input).
    pub fn split_start(&self) -> u64 {
        self.split.as_ref().map_or(0, |s| s.1)
    }

    /// The attempt's number within its task: 0 for the first, then 1, 2... After the job
    /// tracker restarts, a task's new attempts are numbered from 1000 × the restart count, so
    /// the number is unique per task but does not count the attempts.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Reads every record of the side input `name` (all its files), in path order. Fails when
    /// the side input is larger than the job's side-input memory.
    pub fn for_each_side_record(
        &mut self,
        name: &str,
        mut f: impl FnMut(&Record<'_>) -> MrResult<()>,
    ) -> MrResult<()> {
        let spec = self
            .side_inputs
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| {
                MrError::User(format!(
                    "no side input {name:?} (declare it on the stage with .side_input)"
                ))
            })?;
        let dfs = self
            .dfs
            .clone()
            .ok_or_else(|| MrError::Internal("side input read outside a task".into()))?;
        let files = dfs.list_files(&spec.path)?;
        let total: u64 = files.iter().map(|f| f.length).sum();
        if total > self.side_input_budget {
            return Err(MrError::User(format!(
                "side input {name:?} ({}) is {total} bytes, more than the job's side-input memory of {} bytes",
                spec.path, self.side_input_budget
            )));
        }
        for file in files {
            let mut stream = open_stream(&dfs, &spec.format, 0, &file.path, 0, file.length)?;
            while let Some(rec) = stream.next_record()? {
                f(&rec)?;
            }
        }
        Ok(())
    }

    /// Sends progress to the worker, at most every half second.
    pub(crate) fn progress(&mut self, fraction: f32) {
        if let Some(r) = &mut self.reporter {
            if r.last.elapsed() >= REPORT_EVERY {
                r.last = Instant::now();
                let report = TaskReport::Progress {
                    progress: fraction.clamp(0.0, 1.0),
                    counters: self.counters.clone(),
                };
                r.send(&report);
            }
        }
    }
}

/// The channel to the worker: JSON lines on what was the task's stdout.
pub(crate) struct Reporter {
    pub(crate) out: std::fs::File,
    pub(crate) last: Instant,
}

impl Reporter {
    pub(crate) fn send(&mut self, report: &TaskReport) {
        if let Ok(mut line) = serde_json::to_vec(report) {
            line.push(b'\n');
            // A worker that went away is noticed through stdin; nothing to do here.
            let _ = self.out.write_all(&line);
            let _ = self.out.flush();
        }
    }
}
