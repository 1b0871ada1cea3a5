//! Running one task attempt inside the job binary (`JOB task`): the map side (read the split,
//! map, collect, sort, spill, merge into one output file plus index) and the reduce side (fetch
//! the partition from every map as maps finish, merge in memory and on disk, group, reduce),
//! writing output files under the attempt's temporary directory.

use crate::context::TaskContext;
use crate::error::{IoContext, MrError, MrResult};
use crate::ifile::Compression;
use crate::job::Stage;
use crate::record::open_stream;
use crate::reduce_input::{ReduceInput, ReduceInputConfig};
use crate::sinks::{partitioner, CollectorSink, DfsNamedSinks, DfsSink};
use crate::sort::{Collector, CollectorConfig};
use client::DfsClient;
use common::ids::AttemptId;
use common::jobs::{MapOutputLocation, Split, TaskReport, TaskSpec, TASK_COUNTERS};
use common::shuffle::{self, FetchRequest};
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

pub(crate) fn compression(name: &str) -> Compression {
    match name {
        "snappy" => Compression::Snappy,
        "none" => Compression::None,
        _ => Compression::Zstd,
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// Runs a map attempt.
pub(crate) fn run_map(
    stage: &Stage,
    spec: &TaskSpec,
    index: u32,
    split: &Split,
    dfs: &DfsClient,
    ctx: &mut TaskContext,
) -> MrResult<()> {
    let input = stage
        .spec
        .inputs
        .get(split.input)
        .ok_or_else(|| MrError::Internal(format!("split of unknown input {}", split.input)))?;
    let mut records = open_stream(
        dfs,
        &input.format,
        split.input,
        &split.path,
        split.start,
        split.len,
    )?;
    let mut named = DfsNamedSinks::new(
        dfs,
        &stage.spec.outputs,
        spec.attempt_id.as_str(),
        'm',
        index,
    );
    let settings = &spec.job.settings;
    let run = |records: &mut dyn crate::record::RecordStream,
               main: &mut dyn crate::api::RecordSink,
               named: &mut DfsNamedSinks,
               ctx: &mut TaskContext|
     -> MrResult<()> {
        match catch_unwind(AssertUnwindSafe(|| (stage.map)(records, main, named, ctx))) {
            Ok(r) => r,
            Err(p) => Err(MrError::User(format!(
                "mapper panicked: {} (record: {})",
                panic_message(p.as_ref()),
                records.position()
            ))),
        }
    };
    if stage.reduce.is_some() {
        let config = CollectorConfig {
            partitions: stage.spec.reducers,
            sort_buffer_bytes: (settings.sort_buffer_mb as usize) << 20,
            compression: compression(&settings.compression),
            spill_dir: spec.local_dir.clone(),
            min_spills_for_combine: 3,
        };
        let combiner = stage.combiner.as_ref().map(|f| f());
        let mut sink = CollectorSink {
            collector: Collector::new(config, combiner)?,
            partitioner: partitioner(&stage.spec.partitioner, stage.group_prefix.clone())?,
            partitions: stage.spec.reducers,
        };
        run(records.as_mut(), &mut sink, &mut named, ctx)?;
        let out = shuffle_file(spec)?;
        let (_, stats) = sink.collector.finish(&out)?;
        let c = &mut ctx.counters;
        c.add(
            TASK_COUNTERS,
            "MAP_OUTPUT_RECORDS",
            stats.map_output_records,
        );
        c.add(TASK_COUNTERS, "MAP_OUTPUT_BYTES", stats.map_output_bytes);
        c.add(TASK_COUNTERS, "SPILLED_RECORDS", stats.spilled_records);
        c.add(
            TASK_COUNTERS,
            "COMBINE_INPUT_RECORDS",
            stats.combine_input_records,
        );
        c.add(
            TASK_COUNTERS,
            "COMBINE_OUTPUT_RECORDS",
            stats.combine_output_records,
        );
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        c.add(TASK_COUNTERS, "MAP_OUTPUT_MATERIALIZED_BYTES", size);
    } else {
        let main_out = &stage.spec.outputs[0];
        let mut sink = DfsSink::for_attempt(dfs, main_out, spec.attempt_id.as_str(), 'm', index)?;
        run(records.as_mut(), &mut sink, &mut named, ctx)?;
        ctx.counters
            .add(TASK_COUNTERS, "MAP_OUTPUT_RECORDS", sink.records);
        sink.close()?;
    }
    named.close(&mut ctx.counters)
}

/// The map output file of this attempt, where the worker's shuffle server looks for it.
fn shuffle_file(spec: &TaskSpec) -> MrResult<std::path::PathBuf> {
    Ok(spec.local_dir.join(shuffle::MAP_OUTPUT_FILE))
}

/// Runs a reduce attempt; `locations` brings the map outputs as the worker learns of them.
pub(crate) fn run_reduce(
    stage: &Stage,
    spec: &TaskSpec,
    partition: u32,
    maps: u32,
    locations: &Receiver<Vec<MapOutputLocation>>,
    dfs: &DfsClient,
    ctx: &mut TaskContext,
) -> MrResult<()> {
    let reduce = stage
        .reduce
        .as_ref()
        .ok_or_else(|| MrError::Internal("reduce task of a map-only stage".into()))?;
    let settings = &spec.job.settings;
    let mut input = ReduceInput::new(ReduceInputConfig {
        memory_budget: (settings.reduce_memory_mb as usize) << 20,
        dir: spec.local_dir.join("merge"),
        compression: compression(&settings.compression),
        merge_factor: settings.merge_factor.max(2),
    })?;
    fetch_all(spec, partition, maps, locations, &mut input, ctx)?;
    let source = input.finish()?;
    let main_out = &stage.spec.outputs[0];
    let mut sink = DfsSink::for_attempt(dfs, main_out, spec.attempt_id.as_str(), 'r', partition)?;
    let mut named = DfsNamedSinks::new(
        dfs,
        &stage.spec.outputs,
        spec.attempt_id.as_str(),
        'r',
        partition,
    );
    let prefix = stage.group_prefix.clone();
    match catch_unwind(AssertUnwindSafe(|| {
        reduce(source, &*prefix, &mut sink, &mut named, ctx)
    })) {
        Ok(r) => r?,
        Err(p) => {
            return Err(MrError::User(format!(
                "reducer panicked: {}",
                panic_message(p.as_ref())
            )))
        }
    }
    ctx.counters
        .add(TASK_COUNTERS, "REDUCE_OUTPUT_RECORDS", sink.records);
    sink.close()?;
    named.close(&mut ctx.counters)
}

/// Fetches this partition of every map's output into `input`. A location that fails is
/// reported (the job tracker re-runs the map after repeated reports) and a newer one awaited.
fn fetch_all(
    spec: &TaskSpec,
    partition: u32,
    maps: u32,
    locations: &Receiver<Vec<MapOutputLocation>>,
    input: &mut ReduceInput,
    ctx: &mut TaskContext,
) -> MrResult<()> {
    let mut fetched: HashSet<u32> = HashSet::new();
    let mut known: HashMap<u32, MapOutputLocation> = HashMap::new();
    let mut bad: HashSet<AttemptId> = HashSet::new();
    let mut failures: HashMap<AttemptId, u32> = HashMap::new();
    while (fetched.len() as u32) < maps {
        let next = known
            .values()
            .find(|l| !fetched.contains(&l.map_index) && !bad.contains(&l.attempt_id))
            .cloned();
        let Some(loc) = next else {
            match locations.recv_timeout(Duration::from_millis(500)) {
                Ok(list) => {
                    for l in list {
                        if l.map_index < maps && !bad.contains(&l.attempt_id) {
                            known.insert(l.map_index, l);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(MrError::Internal(
                        "the worker closed the task's input".into(),
                    ))
                }
            }
            ctx.progress(fetched.len() as f32 / maps as f32 / 3.0);
            continue;
        };
        match fetch_one(spec, &loc, partition, input, fetched.len()) {
            Ok(bytes) => {
                ctx.counters
                    .add(TASK_COUNTERS, "REDUCE_SHUFFLE_BYTES", bytes);
                fetched.insert(loc.map_index);
            }
            Err(e) => {
                let n = failures.entry(loc.attempt_id.clone()).or_default();
                *n += 1;
                eprintln!("fetching map output {} failed: {e}", loc.attempt_id);
                if *n >= 3 {
                    bad.insert(loc.attempt_id.clone());
                    if let Some(r) = &mut ctx.reporter {
                        r.send(&TaskReport::FetchFailed {
                            map_index: loc.map_index,
                            attempt_id: loc.attempt_id.clone(),
                        });
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(200 * *n as u64));
                }
            }
        }
        ctx.progress(fetched.len() as f32 / maps as f32 / 3.0);
    }
    Ok(())
}

/// Fetches one segment: small ones into memory, large ones straight to a local file.
fn fetch_one(
    spec: &TaskSpec,
    loc: &MapOutputLocation,
    partition: u32,
    input: &mut ReduceInput,
    seq: usize,
) -> MrResult<u64> {
    let net =
        |e: common::Error| MrError::Transfer(format!("fetching from {}: {e}", loc.shuffle_addr));
    // One TLS config for every fetch of this attempt (a task runs one attempt).
    static TLS: std::sync::OnceLock<common::tls::ClientTls> = std::sync::OnceLock::new();
    let tls = match TLS.get() {
        Some(tls) => tls,
        None => {
            let tls = common::tls::client_config(&spec.security()).map_err(net)?;
            TLS.get_or_init(|| tls)
        }
    };
    let mut conn = common::transfer::connect_secure(&loc.shuffle_addr, tls).map_err(net)?;
    shuffle::write_request(
        &mut conn,
        &FetchRequest::new(
            spec.job_id.clone(),
            loc.attempt_id.clone(),
            partition,
            spec.credentials.as_ref(),
        ),
    )
    .map_err(net)?;
    let mut reader = BufReader::with_capacity(256 << 10, conn);
    let len = shuffle::read_reply_header(&mut reader).map_err(net)?;
    let what = || format!("fetching from {}", loc.shuffle_addr);
    if input.wants_on_disk(len) {
        let path = spec.local_dir.join(format!("fetched-{seq}"));
        let mut f = std::fs::File::create(&path).ctx(|| format!("creating {}", path.display()))?;
        let copied = std::io::copy(&mut (&mut reader).take(len), &mut f).ctx(what)?;
        if copied != len {
            return Err(MrError::Transfer(format!("{}: segment cut short", what())));
        }
        f.flush().ctx(what)?;
        input.add_on_disk(path)?;
    } else {
        let mut buf = vec![0u8; len as usize];
        reader.read_exact(&mut buf).ctx(what)?;
        input.add_in_memory(buf)?;
    }
    Ok(len)
}
