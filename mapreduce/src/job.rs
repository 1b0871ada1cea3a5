//! Declaring a job: [`Job`] is a chain of stages; a stage is built from a [`Mapper`], inputs,
//! outputs, and optionally a combiner and a [`Reducer`]. The typed builder checks that the
//! mapper's output types are the reducer's input types; the built stage keeps the code behind
//! type-erased functions the task runtime calls.

use crate::api::{Mapper, NamedSinks, Output, RawValues, RecordSink, Reducer, Values};
use crate::context::TaskContext;
use crate::error::{MrError, MrResult};
use crate::key::Key;
use crate::merge::{GroupPrefix, Grouper};
use crate::record::RecordStream;
use crate::reduce_input::ReduceSource;
use crate::sort::{Emit, GroupValues, RawCombiner};
use common::jobs::{
    InputFormat, InputSpec, JobSettings, OutputFormat, OutputSpec, PartitionerSpec, SideInputSpec,
    StageSpec, TASK_COUNTERS,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An input of a stage.
#[derive(Clone, Debug)]
pub struct Input(pub(crate) InputSpec);

impl Input {
    /// Lines of text.
    pub fn text(path: impl Into<String>) -> Self {
        Self::with(path, InputFormat::Text)
    }
    /// CSV whose first line names the columns.
    pub fn csv(path: impl Into<String>) -> Self {
        Self::with(path, InputFormat::Csv)
    }
    /// Records of exactly `record_len` bytes.
    pub fn fixed(path: impl Into<String>, record_len: u64) -> Self {
        Self::with(path, InputFormat::Fixed { record_len })
    }
    /// Binary record files written by an earlier stage ([`Dest::binary`]).
    pub fn binary(path: impl Into<String>) -> Self {
        Self::with(path, InputFormat::Binary)
    }
    /// No file: row numbers `0..rows` (each record's `offset`), read by `splits` map tasks.
    /// For jobs that generate data.
    pub fn range(rows: u64, splits: u32) -> Self {
        Self::with(String::new(), InputFormat::Range { rows, splits })
    }
    fn with(path: impl Into<String>, format: InputFormat) -> Self {
        Input(InputSpec {
            path: path.into(),
            format,
        })
    }
}

/// An output of a stage: a directory of `part-` files, or one file.
#[derive(Clone, Debug)]
pub struct Dest(pub(crate) OutputSpec);

impl Dest {
    fn with(path: impl Into<String>, format: OutputFormat) -> Self {
        Dest(OutputSpec {
            name: String::new(),
            path: path.into(),
            format,
            replication: 0,
            file: false,
            temporary: false,
        })
    }
    /// `key<TAB>value` lines (tuples become several tab-separated columns).
    pub fn text(path: impl Into<String>) -> Self {
        Self::with(path, OutputFormat::Text)
    }
    /// CSV with the given header line.
    pub fn csv(path: impl Into<String>, header: &[&str]) -> Self {
        let header = header.iter().map(|s| s.to_string()).collect();
        Self::with(path, OutputFormat::Csv { header })
    }
    /// Binary key/value records, for a later stage to read with [`Input::binary`].
    pub fn binary(path: impl Into<String>) -> Self {
        Self::with(path, OutputFormat::Binary)
    }
    /// Key and value bytes as they are (fixed-length records).
    pub fn raw(path: impl Into<String>) -> Self {
        Self::with(path, OutputFormat::Raw)
    }
    /// One file at `path` holding the bytes emitted to it, as they are (a JSON summary). Only
    /// a stage with exactly one reducer may write it.
    pub fn file(path: impl Into<String>) -> Self {
        let mut d = Self::with(path, OutputFormat::Raw);
        d.0.file = true;
        d
    }
    /// Writes the files with `replicas` replicas instead of the cluster's default (terasort
    /// writes its output once, as Hadoop's does).
    pub fn replication(mut self, replicas: u32) -> Self {
        self.0.replication = replicas;
        self
    }
    /// Data passed between the stages of one job: removed when the job ends, however it ends.
    pub fn intermediate(mut self) -> Self {
        self.0.temporary = true;
        self
    }
}

pub(crate) type MapFn = dyn Fn(
        &mut dyn RecordStream,
        &mut dyn RecordSink,
        &mut dyn NamedSinks,
        &mut TaskContext,
    ) -> MrResult<()>
    + Send
    + Sync;
pub(crate) type ReduceFn = dyn Fn(
        ReduceSource,
        &GroupPrefix,
        &mut dyn RecordSink,
        &mut dyn NamedSinks,
        &mut TaskContext,
    ) -> MrResult<()>
    + Send
    + Sync;
pub(crate) type CombinerFn = dyn Fn() -> Box<dyn RawCombiner> + Send + Sync;

/// A built stage: its spec and its code.
pub struct Stage {
    pub(crate) spec: StageSpec,
    pub(crate) map: Arc<MapFn>,
    pub(crate) combiner: Option<Arc<CombinerFn>>,
    pub(crate) reduce: Option<Arc<ReduceFn>>,
    pub(crate) group_prefix: Arc<GroupPrefix>,
    pub(crate) sample_size: Option<usize>,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage").field("spec", &self.spec).finish()
    }
}

/// Builds a stage around mapper type `M`.
pub struct StageBuilder<M: Mapper> {
    spec: StageSpec,
    mapper: Arc<dyn Fn() -> M + Send + Sync>,
    combiner: Option<Arc<CombinerFn>>,
    reduce: Option<Arc<ReduceFn>>,
    group_fields: usize,
    sample_size: Option<usize>,
}

impl Stage {
    /// A stage named `name` whose map tasks run mappers made by `mapper`.
    pub fn map<M: Mapper>(
        name: &str,
        mapper: impl Fn() -> M + Send + Sync + 'static,
    ) -> StageBuilder<M> {
        StageBuilder {
            spec: StageSpec {
                name: name.to_string(),
                inputs: Vec::new(),
                has_combiner: false,
                has_reducer: false,
                reducers: 0,
                partitioner: PartitionerSpec::Hash,
                outputs: Vec::new(),
                side_inputs: Vec::new(),
            },
            mapper: Arc::new(mapper),
            combiner: None,
            reduce: None,
            group_fields: usize::MAX,
            sample_size: None,
        }
    }

    pub fn spec(&self) -> &StageSpec {
        &self.spec
    }
}

impl<M: Mapper> StageBuilder<M> {
    pub fn input(mut self, input: Input) -> Self {
        self.spec.inputs.push(input.0);
        self
    }

    /// The main output.
    pub fn output(mut self, dest: Dest) -> Self {
        self.spec.outputs.retain(|o| !o.name.is_empty());
        self.spec.outputs.insert(0, dest.0);
        self
    }

    /// A further output, written with [`Output::emit_to`]`(name, ...)`.
    pub fn named_output(mut self, name: &str, dest: Dest) -> Self {
        self.spec.outputs.push(OutputSpec {
            name: name.to_string(),
            ..dest.0
        });
        self
    }

    /// A file or directory every task can read whole with
    /// [`TaskContext::for_each_side_record`] (a map-side join's small table).
    pub fn side_input(mut self, name: &str, input: Input) -> Self {
        self.spec.side_inputs.push(SideInputSpec {
            name: name.to_string(),
            path: input.0.path,
            format: input.0.format,
        });
        self
    }

    /// Groups (and partitions) by the first `fields` fields of the key: a secondary sort.
    pub fn group_by(mut self, fields: usize) -> Self {
        self.group_fields = fields.max(1);
        self
    }

    /// Runs `combiner` on each spill and merge of the map output.
    pub fn combiner<C>(mut self, combiner: impl Fn() -> C + Send + Sync + 'static) -> Self
    where
        C: Reducer<Key = M::Key, Value = M::Value, OutKey = M::Key, OutValue = M::Value>,
    {
        self.spec.has_combiner = true;
        self.combiner = Some(Arc::new(move || {
            Box::new(CombinerAdapter {
                reducer: combiner(),
                ctx: TaskContext::detached(Vec::new()),
                key: Vec::new(),
            }) as Box<dyn RawCombiner>
        }));
        self
    }

    /// Sends the map output to `reducers` reduce tasks running `reducer`.
    pub fn reducer<R>(
        mut self,
        reducer: impl Fn() -> R + Send + Sync + 'static,
        reducers: u32,
    ) -> Self
    where
        R: Reducer<Key = M::Key, Value = M::Value>,
    {
        self.spec.has_reducer = true;
        self.spec.reducers = reducers;
        self.reduce = Some(Arc::new(move |source, prefix, main, named, ctx| {
            run_reducer(reducer(), source, prefix, main, named, ctx)
        }));
        self
    }

    /// Partitions by sorted key ranges from a sample of `sample_size` map output keys, so the
    /// reducers' outputs concatenate into one sorted whole.
    pub fn total_order(mut self, sample_size: usize) -> Self {
        self.sample_size = Some(sample_size.max(1));
        self
    }

    pub fn build(self) -> Stage {
        let mapper = self.mapper;
        let group_fields = self.group_fields;
        let mut spec = self.spec;
        if self.sample_size.is_some() {
            spec.partitioner = PartitionerSpec::TotalOrder {
                boundaries: Vec::new(),
            };
        }
        Stage {
            spec,
            map: Arc::new(move |records, main, named, ctx| {
                run_mapper(mapper(), records, main, named, ctx)
            }),
            combiner: self.combiner,
            reduce: self.reduce,
            group_prefix: Arc::new(move |k: &[u8]| M::Key::prefix_len(k, group_fields)),
            sample_size: self.sample_size,
        }
    }
}

impl<M: Mapper> From<StageBuilder<M>> for Stage {
    fn from(b: StageBuilder<M>) -> Stage {
        b.build()
    }
}

fn run_mapper<M: Mapper>(
    mut mapper: M,
    records: &mut dyn RecordStream,
    main: &mut dyn RecordSink,
    named: &mut dyn NamedSinks,
    ctx: &mut TaskContext,
) -> MrResult<()> {
    mapper.setup(ctx)?;
    let mut n: u64 = 0;
    let mut out = Output::<M::Key, M::Value>::new(main, named, ctx);
    while let Some(record) = records.next_record()? {
        n += 1;
        mapper
            .map(&record, &mut out)
            .map_err(|e| at_record(e, records))?;
        if n.is_multiple_of(4096) {
            let p = records.progress();
            let ctx = out.context();
            ctx.counters.add(TASK_COUNTERS, "MAP_INPUT_RECORDS", 4096);
            ctx.progress(p);
        }
    }
    mapper.cleanup(&mut out)?;
    let ctx = out.context();
    ctx.counters
        .add(TASK_COUNTERS, "MAP_INPUT_RECORDS", n % 4096);
    ctx.counters
        .add(TASK_COUNTERS, "MAP_INPUT_BYTES", records.bytes_read());
    Ok(())
}

fn at_record(e: MrError, records: &dyn RecordStream) -> MrError {
    MrError::User(format!("{} (record: {})", e, records.position()))
}

/// Raw values of one reduce group.
struct GroupRaw<'g, 'p> {
    grouper: &'g mut Grouper<'p, ReduceSource>,
}

impl RawValues for GroupRaw<'_, '_> {
    fn next_value(&mut self) -> MrResult<Option<&[u8]>> {
        Ok(if self.grouper.next_in_group()? {
            Some(self.grouper.value())
        } else {
            None
        })
    }
    fn current_key(&self) -> &[u8] {
        self.grouper.key()
    }
}

fn run_reducer<R: Reducer>(
    mut reducer: R,
    source: ReduceSource,
    prefix: &GroupPrefix,
    main: &mut dyn RecordSink,
    named: &mut dyn NamedSinks,
    ctx: &mut TaskContext,
) -> MrResult<()> {
    reducer.setup(ctx)?;
    let mut grouper = Grouper::new(source, prefix);
    let mut out = Output::<R::OutKey, R::OutValue>::new(main, named, ctx);
    let (mut groups, mut records) = (0u64, 0u64);
    while grouper.next_group()? {
        // The group's first full key: with a secondary sort the prefix alone does not decode.
        let key = R::Key::decode(&mut grouper.key())?;
        let mut raw = GroupRaw {
            grouper: &mut grouper,
        };
        let mut values = Values::<R::Key, R::Value>::new(&mut raw);
        reducer.reduce(key, &mut values, &mut out)?;
        records += values.finish()?;
        groups += 1;
        if groups.is_multiple_of(4096) {
            out.context().progress(0.5);
        }
    }
    reducer.cleanup(&mut out)?;
    let ctx = out.context();
    ctx.counters
        .add(TASK_COUNTERS, "REDUCE_INPUT_GROUPS", groups);
    ctx.counters
        .add(TASK_COUNTERS, "REDUCE_INPUT_RECORDS", records);
    Ok(())
}

/// Runs a typed reducer as the collector's raw combiner.
struct CombinerAdapter<R> {
    reducer: R,
    ctx: TaskContext,
    /// The current group's key, reused across groups.
    key: Vec<u8>,
}

struct CombineValues<'a> {
    group: &'a mut dyn GroupValues,
    key: &'a [u8],
}

impl RawValues for CombineValues<'_> {
    fn next_value(&mut self) -> MrResult<Option<&[u8]>> {
        self.group.next_value()
    }
    fn current_key(&self) -> &[u8] {
        self.key
    }
}

/// Hands combined records back to the collector.
struct EmitSink<'a, 'b> {
    emit: &'a mut Emit<'b>,
}

impl RecordSink for EmitSink<'_, '_> {
    fn style(&self) -> Option<crate::fields::FieldStyle> {
        None
    }
    fn write_encoded(&mut self, key: &[u8], value: &[u8]) -> MrResult<()> {
        (self.emit)(key, value)
    }
    fn write_line(&mut self, _line: &[u8]) -> MrResult<()> {
        Err(MrError::Internal(
            "a combiner writes encoded records".into(),
        ))
    }
}

impl<R: Reducer> RawCombiner for CombinerAdapter<R>
where
    R::OutKey: Key,
{
    fn combine(&mut self, group: &mut dyn GroupValues, emit: &mut Emit<'_>) -> MrResult<()> {
        self.key.clear();
        self.key.extend_from_slice(group.key());
        let key = R::Key::decode(&mut self.key.as_slice())?;
        let mut raw = CombineValues {
            group,
            key: &self.key,
        };
        let mut sink = EmitSink { emit };
        let mut named = crate::api::NoNamedOutputs;
        let mut out = Output::<R::OutKey, R::OutValue>::new(&mut sink, &mut named, &mut self.ctx);
        let mut values = Values::<R::Key, R::Value>::new(&mut raw);
        self.reducer.reduce(key, &mut values, &mut out)?;
        values.finish().map(|_| ())
    }
}

/// A whole job: its stages in order, and its settings.
#[derive(Debug)]
pub struct Job {
    pub(crate) name: String,
    pub(crate) stages: Vec<Stage>,
    pub(crate) settings: JobSettings,
    pub(crate) conf: BTreeMap<String, String>,
}

impl Job {
    pub fn new(name: &str) -> Self {
        Job {
            name: name.to_string(),
            stages: Vec::new(),
            settings: JobSettings::default(),
            conf: BTreeMap::new(),
        }
    }

    /// Records a value decided while describing the job (a plan, sampled hot keys): it goes
    /// into the spec, and tasks read it with [`TaskContext::conf`] and the job's builder with
    /// [`crate::JobEnv::conf`].
    pub fn conf(mut self, key: &str, value: impl Into<String>) -> Self {
        self.conf.insert(key.to_string(), value.into());
        self
    }

    /// Appends a stage; a stage whose inputs are an earlier stage's outputs runs after it.
    pub fn stage(mut self, stage: impl Into<Stage>) -> Self {
        self.stages.push(stage.into());
        self
    }

    /// Adjusts the job's settings (compression, sort buffer, attempts...).
    pub fn settings(mut self, f: impl FnOnce(&mut JobSettings)) -> Self {
        f(&mut self.settings);
        self
    }

    /// Checks what can be checked without the cluster.
    pub(crate) fn validate(&self) -> MrResult<()> {
        if self.stages.is_empty() {
            return Err(MrError::User(format!("job {:?} has no stages", self.name)));
        }
        if !["zstd", "snappy", "none"].contains(&self.settings.compression.as_str()) {
            return Err(MrError::User(format!(
                "compression {:?}: use zstd, snappy or none",
                self.settings.compression
            )));
        }
        if self.settings.max_attempts == 0 {
            return Err(MrError::User("max_attempts must be at least 1".into()));
        }
        for s in &self.stages {
            let name = &s.spec.name;
            if s.spec.inputs.is_empty() {
                return Err(MrError::User(format!("stage {name:?} has no input")));
            }
            if s.spec.outputs.first().is_none_or(|o| !o.name.is_empty()) {
                return Err(MrError::User(format!("stage {name:?} has no output")));
            }
            if s.spec.has_reducer && s.spec.reducers == 0 {
                return Err(MrError::User(format!(
                    "stage {name:?} has a reducer but a reducer count of 0 (give at least 1)"
                )));
            }
            if s.spec.has_combiner && !s.spec.has_reducer {
                return Err(MrError::User(format!(
                    "stage {name:?} has a combiner but no reducer"
                )));
            }
            if let Some(o) = s.spec.outputs.iter().find(|o| o.file) {
                if !s.spec.has_reducer || s.spec.reducers != 1 {
                    return Err(MrError::User(format!(
                        "stage {name:?} writes the single file {} but does not have exactly one reducer",
                        o.path
                    )));
                }
            }
            if s.sample_size.is_some() && !s.spec.has_reducer {
                return Err(MrError::User(format!(
                    "stage {name:?} asks for a total order but has no reducer"
                )));
            }
        }
        Ok(())
    }
}
