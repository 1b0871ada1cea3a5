//! Job history in the durable journal: a record when a job is submitted and one when it ends.
//! After a restart every job is listed with how it ended; a job that was running when the job
//! tracker stopped is recorded as failed for that reason.

use crate::state::{JobRun, State};
use common::jobs::{now_ms, JobReport, JobSpec, JobState};
use common::journal::Journal;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Serialize, Deserialize)]
pub enum HistoryRecord {
    Submitted {
        id: String,
        spec: JobSpec,
        submitted_ms: u64,
    },
    Finished {
        report: JobReport,
    },
}

impl HistoryRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("history records serialize")
    }
}

/// Loads the history in `dir` into `st` and opens the journal for appends.
pub fn recover(dir: &Path, st: &mut State) -> anyhow::Result<Journal> {
    std::fs::create_dir_all(dir)?;
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
    for j in 0..st.jobs.len() {
        if st.jobs[j].saved.is_none() {
            crate::scheduler::end_job(
                st,
                j,
                JobState::Failed,
                Some("the job tracker restarted while the job ran".into()),
            );
            let report = st.jobs[j].final_report();
            journal
                .append(
                    HistoryRecord::Finished {
                        report: report.clone(),
                    }
                    .encode(),
                )
                .1
                .wait()?;
            st.jobs[j].saved = Some(report);
        }
    }
    Ok(journal)
}

fn apply(st: &mut State, record: HistoryRecord) {
    match record {
        HistoryRecord::Submitted {
            id,
            spec,
            submitted_ms,
        } => {
            st.by_id.insert(id.clone(), st.jobs.len());
            st.jobs.push(JobRun::new(id, spec, submitted_ms));
        }
        HistoryRecord::Finished { report } => {
            if let Some(&j) = st.by_id.get(&report.id) {
                let job = &mut st.jobs[j];
                job.state = report.state;
                job.error = report.error.clone();
                job.finished_ms = report.finished_ms.or(Some(now_ms()));
                job.saved = Some(report);
            }
        }
    }
}
