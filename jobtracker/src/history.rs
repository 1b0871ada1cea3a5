//! Job history in the durable journal: a record when a job is submitted and one, with its
//! final report, when it ends. The ended jobs' reports are all the job tracker keeps of them
//! (`TrackerState::ended`); after a restart every job is listed with how it ended, and a job
//! that was running when the job tracker stopped is recorded as failed for that reason, and
//! its partial outputs are removed.

use crate::error::JtResult;
use crate::state::{JobRun, TrackerState};
use common::error::IoContext;
use common::ids::JobId;
use common::jobs::{JobReport, JobSpec, JobState};
use common::journal::Journal;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Serialize, Deserialize)]
pub enum HistoryRecord {
    Submitted {
        id: JobId,
        spec: JobSpec,
        submitted_ms: u64,
    },
    /// The job's report as it ended: state, error, times, stages and counters.
    Finished { report: JobReport },
}

impl HistoryRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("history records serialize")
    }
}

/// Loads the history in `dir` into `st` and opens the journal for appends.
pub fn recover(dir: &Path, st: &mut TrackerState, now: Instant) -> JtResult<Journal> {
    std::fs::create_dir_all(dir).at(dir)?;
    let last = Journal::replay(dir, 0, |txid, payload| {
        let record: HistoryRecord =
            serde_json::from_slice(payload).map_err(|e| common::Error::Corrupt {
                path: dir.into(),
                message: format!("history record {txid}: {e}"),
            })?;
        apply(st, record);
        Ok(())
    })?;
    let journal = Journal::start(dir, last)?;
    // Jobs that were running when the job tracker stopped did not finish.
    while !st.jobs.is_empty() {
        crate::scheduler::end_job(
            st,
            0,
            JobState::Failed,
            Some("the job tracker restarted while the job ran".into()),
        );
        let report = st.jobs[0].final_report(now);
        let leftovers = st.jobs[0].leftovers();
        journal
            .append(
                HistoryRecord::Finished {
                    report: report.clone(),
                }
                .encode(),
            )
            .1
            .wait()?;
        st.retire(0, report, false);
        st.orphaned.push(leftovers);
    }
    Ok(journal)
}

/// Applies one record: a submitted job runs until its end record retires it.
pub fn apply(st: &mut TrackerState, record: HistoryRecord) {
    match record {
        HistoryRecord::Submitted {
            id,
            spec,
            submitted_ms,
        } => {
            st.add_job(JobRun::new(id, spec, submitted_ms));
        }
        HistoryRecord::Finished { report } => {
            if let Some(&j) = st.by_id.get(&report.id) {
                st.retire(j, report, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::test_harness::SchedulerTest;
    use common::clock::{Clock, ManualClock};

    #[test]
    fn a_job_running_at_a_restart_is_recorded_failed_and_its_outputs_are_cleaned() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut t = SchedulerTest::new(&[("h1", "/r1", 1)]);
        let id = t.submit(&[&["h1"]], 0);
        let job = &t.st.jobs[0];
        let journal = Journal::start(dir.path(), 0).expect("a journal");
        let record = HistoryRecord::Submitted {
            id: id.clone(),
            spec: job.spec.clone(),
            submitted_ms: 7,
        };
        journal.append(record.encode()).1.wait().expect("durable");
        drop(journal);

        let now = ManualClock::new().now();
        let mut st = TrackerState::default();
        let journal = recover(dir.path(), &mut st, now).expect("recovered");
        drop(journal);
        assert!(st.jobs.is_empty(), "an ended job keeps only its report");
        let report = &st.ended[&id];
        assert_eq!(report.state, JobState::Failed);
        assert_eq!(
            report.error.as_deref(),
            Some("the job tracker restarted while the job ran")
        );
        assert_eq!(st.orphaned.len(), 1);
        assert!(st.orphaned[0].remove.contains(&"/out".to_string()));

        // The end was recorded: a second restart finds the job ended, with nothing to clean.
        let mut again = TrackerState::default();
        drop(recover(dir.path(), &mut again, now).expect("recovered again"));
        assert_eq!(again.ended[&id].state, JobState::Failed);
        assert!(again.orphaned.is_empty());
    }
}
