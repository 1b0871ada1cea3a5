//! The job binary's entry point, [`run`]: `JOB describe ARGS` prints the job spec (sampling
//! the input for total-order stages); `JOB task` runs one task attempt whose spec arrives on
//! stdin, reporting progress and counters back to the worker as JSON lines.

use crate::api::{NoNamedOutputs, RecordSink};
use crate::context::{Reporter, TaskContext};
use crate::error::{MrError, MrResult};
use crate::fields::FieldStyle;
use crate::job::{Input, Job, Stage};
use crate::partition::TotalOrderPartitioner;
use crate::record::{open_stream, Record, RecordStream};
use crate::sinks::hex_encode;
use crate::task::{run_map, run_reduce};
use client::DfsClient;
use common::config::ClientConfig;
use common::jobs::{
    InputSpec, JobSpec, MapOutputLocation, PartitionerSpec, TaskReport, TaskSpec, TaskWork,
};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::fd::AsFd;
use std::time::Instant;

/// The environment variable `mrctl submit` sets to the namenode's address for `describe`.
pub const NAMENODE_ENV: &str = "MR_NAMENODE";
/// The cluster's CA (PEM) while describing, set by `mrctl submit` (absent: insecure).
pub const TLS_CA_ENV: &str = "MR_TLS_CA";

/// How `describe` starts its error message, so a submitter can tell a job that refused its
/// arguments from a binary that is not a job at all.
pub const DESCRIBE_ERROR: &str = "job description error: ";

/// What a job's builder gets: the arguments, and the DFS when there is one.
#[derive(Debug)]
pub struct JobEnv {
    args: Vec<String>,
    namenode: Option<String>,
    host: String,
    /// The cluster's CA for TLS; `None`: the cluster is insecure.
    tls_ca: Option<std::path::PathBuf>,
    /// None while describing; in a task, the values the description recorded.
    conf: Option<BTreeMap<String, String>>,
    /// What the DFS client presents: in a task, its job's delegation token from the task spec
    /// (insecure: the job's user, claimed); none while describing: the token in
    /// [`client::credentials::TOKEN_ENV`], else (an insecure cluster) the OS user.
    credentials: Option<client::Credentials>,
}

impl JobEnv {
    /// The arguments after `describe` (or the ones the job was submitted with).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Whether the job is being described (at submit time) rather than run in a task. Decide
    /// plans and sample inputs only then, and record them with [`Job::conf`].
    pub fn describing(&self) -> bool {
        self.conf.is_none()
    }

    /// In a task, a value the description recorded with [`Job::conf`].
    pub fn conf(&self, key: &str) -> Option<&str> {
        self.conf.as_ref()?.get(key).map(String::as_str)
    }

    /// Reads about `n` records of `input`, spread over ten evenly spaced places of each of its
    /// files (as Hadoop's input sampler does), to decide a plan from the data.
    pub fn sample(
        &self,
        input: &Input,
        n: usize,
        mut f: impl FnMut(&Record<'_>) -> MrResult<()>,
    ) -> MrResult<()> {
        let dfs = self.dfs()?;
        sample_input(&dfs, 0, &input.0, n, &mut |stream| {
            while let Some(r) = stream.next_record()? {
                f(&r)?;
            }
            Ok(())
        })
    }

    /// A DFS client, to look at inputs while describing the job.
    pub fn dfs(&self) -> MrResult<DfsClient> {
        let addr = self.namenode.clone().ok_or_else(|| {
            MrError::User(format!(
                "no DFS here: set {NAMENODE_ENV} (mrctl submit does) to describe this job"
            ))
        })?;
        // The token `mrctl submit` (for describe) or the worker (for a task) handed over.
        let credentials = match &self.credentials {
            Some(c) => c.clone(),
            None => client::Credentials::from_env()?,
        };
        Ok(DfsClient::connect_with(
            ClientConfig {
                namenode_addr: addr,
                host: self.host.clone(),
                // TLS when a CA was handed over (none: the cluster is insecure).
                security: common::config::SecurityConfig {
                    insecure: self.tls_ca.is_none(),
                    tls_ca: self.tls_ca.clone().unwrap_or_default(),
                    ..Default::default()
                },
                ..Default::default()
            },
            credentials,
        )?)
    }

    /// Total bytes of an input (a file or a directory's files).
    pub fn input_size(&self, path: &str) -> MrResult<u64> {
        Ok(self.dfs()?.list_files(path)?.iter().map(|f| f.length).sum())
    }
}

/// Runs the job binary: call it from `main` with a function that builds the job from its
/// arguments. Never returns.
pub fn run(build: impl Fn(&JobEnv) -> MrResult<Job>) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("describe") => {
            let env = JobEnv {
                args: args[1..].to_vec(),
                namenode: std::env::var(NAMENODE_ENV).ok(),
                host: String::new(),
                tls_ca: std::env::var_os(TLS_CA_ENV).map(Into::into),
                conf: None,
                credentials: None,
            };
            match build(&env).and_then(|job| describe(&job, &env)) {
                Ok(spec) => match serde_json::to_string_pretty(&spec) {
                    Ok(json) => {
                        println!("{json}");
                        0
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        2
                    }
                },
                Err(e) => {
                    eprintln!("{DESCRIBE_ERROR}{e}");
                    2
                }
            }
        }
        Some("task") => run_task(&build),
        Some("--version") => {
            // The SDK's version: a job binary is built with the SDK of its workspace.
            let me = std::env::args().next().unwrap_or_else(|| "JOB".into());
            let name = std::path::Path::new(&me)
                .file_name()
                .map_or(me.clone(), |n| n.to_string_lossy().into_owned());
            println!("{name} {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => {
            let me = std::env::args().next().unwrap_or_else(|| "JOB".into());
            eprintln!(
                "{me} is a MapReduce job. Submit it to a cluster with\n  mrctl submit {me} --wait -- ARGS\n\
                 (it also answers `{me} describe ARGS`, printing the job spec)"
            );
            2
        }
    };
    std::process::exit(code)
}

/// The job spec: stages, settings, and total-order boundaries from a sample of the input.
pub fn describe(job: &Job, env: &JobEnv) -> MrResult<JobSpec> {
    job.validate()?;
    let mut stages = Vec::new();
    for stage in &job.stages {
        let mut spec = stage.spec.clone();
        if let Some(n) = stage.sample_size {
            let sample = sample_keys(stage, env, n)?;
            let p = TotalOrderPartitioner::from_sample(sample, spec.reducers);
            spec.partitioner = PartitionerSpec::TotalOrder {
                boundaries: p.boundaries().iter().map(|b| hex_encode(b)).collect(),
            };
        }
        stages.push(spec);
    }
    Ok(JobSpec {
        name: job.name.clone(),
        stages,
        settings: job.settings.clone(),
        args: env.args.clone(),
        binary: Default::default(),
        user: String::new(),
        conf: job.conf.clone(),
    })
}

/// Keeps the keys a mapper emits.
struct KeySample(Vec<Vec<u8>>);

impl RecordSink for KeySample {
    fn style(&self) -> Option<FieldStyle> {
        None
    }
    fn write_encoded(&mut self, key: &[u8], _value: &[u8]) -> MrResult<()> {
        self.0.push(key.to_vec());
        Ok(())
    }
    fn write_line(&mut self, _line: &[u8]) -> MrResult<()> {
        Ok(())
    }
}

/// Stops a stream after `left` records.
struct Limited<'a> {
    inner: &'a mut dyn RecordStream,
    left: usize,
}

impl RecordStream for Limited<'_> {
    fn next_record(&mut self) -> MrResult<Option<Record<'_>>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.inner.next_record()
    }
    fn progress(&self) -> f32 {
        self.inner.progress()
    }
    fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }
    fn position(&self) -> String {
        self.inner.position()
    }
}

/// Map output keys of records read at ten evenly spaced places of every input file.
fn sample_keys(stage: &Stage, env: &JobEnv, n: usize) -> MrResult<Vec<Vec<u8>>> {
    let dfs = env.dfs()?;
    let inputs: Vec<_> = stage
        .spec
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| !matches!(i.format, common::jobs::InputFormat::Range { .. }))
        .collect();
    let mut ctx = TaskContext::detached(env.args.clone());
    ctx.dfs = Some(dfs.clone());
    ctx.side_inputs = stage.spec.side_inputs.clone();
    ctx.side_input_budget = u64::MAX;
    let mut sample = KeySample(Vec::new());
    let per_input = n.div_ceil(inputs.len().max(1));
    for (i, input) in inputs {
        sample_input(&dfs, i, input, per_input, &mut |stream| {
            (stage.map)(stream, &mut sample, &mut NoNamedOutputs, &mut ctx)
        })?;
    }
    Ok(sample.0)
}

/// Hands `read` streams over about `n` records of `input` (input number `index` of its
/// stage), at ten evenly spaced places of each file (one place for a file under 1 MiB).
fn sample_input(
    dfs: &DfsClient,
    index: usize,
    input: &InputSpec,
    n: usize,
    read: &mut dyn FnMut(&mut dyn RecordStream) -> MrResult<()>,
) -> MrResult<()> {
    const PLACES: u64 = 10;
    let files = dfs.list_files(&input.path)?;
    let per_place = n.div_ceil(files.len().max(1) * PLACES as usize).max(1);
    for f in files {
        let places = if f.length < (1 << 20) { 1 } else { PLACES };
        for p in 0..places {
            let start = f.length * p / places;
            let len = f.length * (p + 1) / places - start;
            let mut stream = open_stream(dfs, &input.format, index, &f.path, start, len)?;
            let mut limited = Limited {
                inner: stream.as_mut(),
                left: per_place * (PLACES / places) as usize,
            };
            read(&mut limited)?;
        }
    }
    Ok(())
}

/// `JOB task`: runs the attempt described on stdin. Returns the exit code.
fn run_task(build: &dyn Fn(&JobEnv) -> MrResult<Job>) -> i32 {
    // The report channel is what was stdout; job code printing goes to the attempt's log.
    let report = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|fd| {
            rustix::stdio::dup2_stdout(std::io::stderr().as_fd())
                .map(|_| fd)
                .map_err(Into::into)
        }) {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            eprintln!("error: setting up the report channel: {e}");
            return 2;
        }
    };
    let mut reporter = Reporter {
        out: report,
        last: Instant::now(),
    };
    let mut lines = std::io::stdin().lock().lines();
    let spec: TaskSpec = match lines.next() {
        Some(Ok(line)) => match serde_json::from_str(&line) {
            Ok(s) => s,
            Err(e) => {
                reporter.send(&TaskReport::Failed {
                    error: format!("bad task spec on stdin: {e}"),
                });
                return 2;
            }
        },
        _ => {
            eprintln!("error: `task` expects a task spec on stdin (workers run this)");
            return 2;
        }
    };
    drop(lines);
    // Further lines bring map output locations. When the worker goes away stdin ends, and so
    // does the attempt: it must not outlive its worker.
    let (tx, rx) = std::sync::mpsc::channel::<Vec<MapOutputLocation>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Ok(list) = serde_json::from_str(&line) {
                if tx.send(list).is_err() {
                    return;
                }
            }
        }
        std::process::exit(3);
    });
    let result = run_attempt(build, &spec, &mut reporter, &rx);
    match result {
        Ok(counters) => {
            reporter.send(&TaskReport::Done { counters });
            0
        }
        Err(e) => {
            reporter.send(&TaskReport::Failed {
                error: e.to_string(),
            });
            1
        }
    }
}

fn run_attempt(
    build: &dyn Fn(&JobEnv) -> MrResult<Job>,
    spec: &TaskSpec,
    reporter: &mut Reporter,
    locations: &std::sync::mpsc::Receiver<Vec<MapOutputLocation>>,
) -> MrResult<common::jobs::Counters> {
    let env = JobEnv {
        args: spec.job.args.clone(),
        namenode: Some(spec.namenode_addr.clone()),
        host: spec.host.clone(),
        tls_ca: spec.tls_ca.clone(),
        conf: Some(spec.job.conf.clone()),
        // The task acts as its job's user: it reads and writes only what that user may.
        credentials: Some(match &spec.credentials {
            Some(c) => client::Credentials::token(&c.token)?,
            None => client::Credentials::claimed(spec.job.user.clone()),
        }),
    };
    let job = build(&env)?;
    let stage = job.stages.get(spec.stage).ok_or_else(|| {
        MrError::Internal(format!(
            "the job has {} stages, the task is of stage {}",
            job.stages.len(),
            spec.stage
        ))
    })?;
    let stage_spec = spec
        .job
        .stages
        .get(spec.stage)
        .ok_or_else(|| MrError::Internal("task of a stage the spec lacks".into()))?;
    // The described spec (with sampled boundaries) is the one to follow.
    let stage = Stage {
        spec: stage_spec.clone(),
        map: stage.map.clone(),
        combiner: stage.combiner.clone(),
        reduce: stage.reduce.clone(),
        group_prefix: stage.group_prefix.clone(),
        sample_size: None,
    };
    std::fs::create_dir_all(&spec.local_dir)
        .map_err(|e| MrError::Internal(format!("{}: {e}", spec.local_dir.display())))?;
    let dfs = env.dfs()?;
    let mut ctx = TaskContext::detached(spec.job.args.clone());
    ctx.attempt = spec.attempt;
    ctx.conf = spec.job.conf.clone();
    ctx.dfs = Some(dfs.clone());
    ctx.side_inputs = stage.spec.side_inputs.clone();
    ctx.side_input_budget = spec.job.settings.side_input_memory_mb << 20;
    ctx.reporter = Some(Reporter {
        out: reporter
            .out
            .try_clone()
            .map_err(|e| MrError::Internal(format!("report channel: {e}")))?,
        last: Instant::now(),
    });
    match &spec.kind {
        TaskWork::Map { index, split } => {
            ctx.task = *index;
            ctx.split = Some((split.path.clone(), split.start));
            run_map(&stage, spec, *index, split, &dfs, &mut ctx)?;
        }
        TaskWork::Reduce { partition, maps } => {
            ctx.task = *partition;
            run_reduce(&stage, spec, *partition, *maps, locations, &dfs, &mut ctx)?;
        }
    }
    Ok(ctx.counters)
}
