//! Checks a job at submit time, so a mistake is a clear error before anything runs: a missing
//! input, an output that already exists, a reduce stage with no reducers or more than the job
//! tracker allows, a missing binary, a queue the job tracker does not have.

use crate::error::{JtError, JtResult};
use client::{ClientError, DfsClient};
use common::config::QueueConfig;
use common::jobs::{is_under, InputFormat, JobSpec, MAX_PRIORITY, MIN_PRIORITY};

/// Refuses a job whose queue is not among `queues` (naming the ones there are) or whose
/// priority is out of range; needs no namenode.
pub fn check_queue(queues: &[QueueConfig], spec: &JobSpec) -> JtResult<()> {
    let settings = &spec.settings;
    if !queues.iter().any(|q| q.name == settings.queue) {
        let known: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        return Err(JtError::InvalidJob(format!(
            "job {:?} is submitted to queue {:?}, which the job tracker does not have: the \
             queues are {}; submit with --queue and one of them",
            spec.name,
            settings.queue,
            known.join(", ")
        )));
    }
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&settings.priority) {
        return Err(JtError::InvalidJob(format!(
            "job {:?} has priority {}: a priority is from {MIN_PRIORITY} to {MAX_PRIORITY}",
            spec.name, settings.priority
        )));
    }
    Ok(())
}

/// Why a job cannot run (or cannot be checked now: the namenode is down), or Ok.
/// `max_reducers` is the job tracker's limit on one stage's reducer count.
pub fn check(dfs: &DfsClient, spec: &JobSpec, max_reducers: u32) -> JtResult<()> {
    let invalid = |message: String| Err(JtError::InvalidJob(message));
    if spec.stages.is_empty() {
        return invalid(format!("job {:?} has no stages", spec.name));
    }
    // Checked before any DFS call: a count the job tracker refuses needs no namenode.
    if let Some(stage) = spec.stages.iter().find(|s| s.reducers > max_reducers) {
        return invalid(format!(
            "stage {:?} of job {:?} asks for {} reducers, more than the job tracker's maximum \
             of {max_reducers} (max_reducers): ask for fewer reducers",
            stage.name, spec.name, stage.reducers
        ));
    }
    let exists = |path: &str| -> JtResult<bool> {
        match dfs.stat(path) {
            Ok(_) => Ok(true),
            Err(ClientError::NotFound(_)) => Ok(false),
            Err(e) => Err(JtError::dfs(format!("checking {path}"), e)),
        }
    };
    if spec.binary.path.is_empty() || !exists(&spec.binary.path)? {
        return invalid(format!(
            "the job binary {:?} is not in the DFS (submit with mrctl submit)",
            spec.binary.path
        ));
    }
    let mut outputs: Vec<&str> = Vec::new();
    for (s, stage) in spec.stages.iter().enumerate() {
        let name = &stage.name;
        if stage.has_reducer && stage.reducers == 0 {
            return invalid(format!(
                "stage {name:?} has a reducer but a reducer count of 0"
            ));
        }
        if stage.inputs.is_empty() || stage.outputs.is_empty() {
            return invalid(format!(
                "stage {name:?} needs at least one input and one output"
            ));
        }
        let produced = |path: &str| {
            spec.stages[..s]
                .iter()
                .flat_map(|e| &e.outputs)
                .any(|o| is_under(path, &o.path))
        };
        let reads = stage
            .inputs
            .iter()
            .filter(|i| !matches!(i.format, InputFormat::Range { .. }))
            .map(|i| ("input", &i.path))
            .chain(stage.side_inputs.iter().map(|i| ("side input", &i.path)));
        for (what, path) in reads {
            if !path.starts_with('/') {
                return invalid(format!(
                    "{what} path {path:?} of stage {name:?} is not absolute"
                ));
            }
            if !produced(path) && !exists(path)? {
                return invalid(format!(
                    "{what} path {path} of stage {name:?} does not exist"
                ));
            }
        }
        for o in &stage.outputs {
            if !o.path.starts_with('/') {
                return invalid(format!(
                    "output path {:?} of stage {name:?} is not absolute",
                    o.path
                ));
            }
            if exists(&o.path)? {
                return invalid(format!(
                    "output path {} of stage {name:?} already exists",
                    o.path
                ));
            }
            if outputs.contains(&o.path.as_str()) {
                return invalid(format!("output path {} is written twice", o.path));
            }
            outputs.push(&o.path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::JtError;
    use common::config::ClientConfig;
    use proto::Reason;

    fn job() -> JobSpec {
        crate::scheduler::test_harness::job_spec(0)
    }

    #[test]
    fn a_namenode_outage_is_unavailable_not_the_callers_mistake() {
        // Nothing listens on port 1: every namenode call is refused.
        let dfs = DfsClient::connect(ClientConfig {
            namenode_addr: "127.0.0.1:1".into(),
            ..Default::default()
        })
        .expect("a lazy client");
        let e = check(&dfs, &job(), 10).expect_err("the namenode is down");
        assert!(matches!(e, JtError::NamenodeUnavailable { .. }), "{e:?}");
        let status = tonic::Status::from(e);
        assert_eq!(Reason::of(&status), Reason::Unavailable);
        assert!(
            status.message().starts_with("cannot reach the namenode"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn a_job_in_an_unknown_queue_is_refused_naming_the_queues() {
        let queues = [QueueConfig::named("prod"), QueueConfig::named("adhoc")];
        let mut spec = job();
        spec.settings.queue = "nightly".into();
        let e = check_queue(&queues, &spec).expect_err("unknown queue");
        assert_eq!(e.reason(), Reason::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "job \"test\" is submitted to queue \"nightly\", which the job tracker does not \
             have: the queues are prod, adhoc; submit with --queue and one of them"
        );
        spec.settings.queue = "adhoc".into();
        check_queue(&queues, &spec).expect("a known queue");
        // No queue named: the default queue, which only an unconfigured job tracker has.
        let default = job();
        check_queue(&[QueueConfig::named("default")], &default).expect("the default queue");
        assert!(check_queue(&queues, &default).is_err());
        spec.settings.priority = 11;
        let e = check_queue(&queues, &spec).expect_err("priority out of range");
        assert!(e.to_string().contains("from -10 to 10"), "{e}");
    }

    #[test]
    fn a_job_without_stages_is_refused_before_any_dfs_call() {
        let dfs = DfsClient::connect(ClientConfig {
            namenode_addr: "127.0.0.1:1".into(),
            ..Default::default()
        })
        .expect("a lazy client");
        let mut spec = job();
        spec.stages.clear();
        let e = check(&dfs, &spec, 10).expect_err("no stages");
        assert_eq!(e.reason(), Reason::InvalidArgument);
        assert_eq!(e.to_string(), "job \"test\" has no stages");
    }

    #[test]
    fn a_reducer_count_over_the_maximum_is_refused_naming_stage_count_and_maximum() {
        let dfs = DfsClient::connect(ClientConfig {
            namenode_addr: "127.0.0.1:1".into(),
            ..Default::default()
        })
        .expect("a lazy client");
        let mut spec = job();
        spec.stages[0].has_reducer = true;
        spec.stages[0].reducers = 11;
        let e = check(&dfs, &spec, 10).expect_err("too many reducers");
        assert_eq!(e.reason(), Reason::InvalidArgument);
        let name = &spec.stages[0].name;
        assert_eq!(
            e.to_string(),
            format!(
                "stage {name:?} of job \"test\" asks for 11 reducers, more than the job \
                 tracker's maximum of 10 (max_reducers): ask for fewer reducers"
            )
        );
        // At the maximum, the check goes on (and reaches the namenode, which is down).
        spec.stages[0].reducers = 10;
        let e = check(&dfs, &spec, 10).expect_err("the namenode is down");
        assert!(matches!(e, JtError::NamenodeUnavailable { .. }), "{e:?}");
    }
}
