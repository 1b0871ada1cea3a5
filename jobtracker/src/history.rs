//! Job history in the durable journal: a record when a job is submitted and one, with its
//! final report, when it ends. The ended jobs' reports are all the job tracker keeps of them
//! (`TrackerState::ended`); after a restart every job is listed with how it ended, and a job
//! that was running when the job tracker stopped is recorded as failed for that reason.

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
