//! What a job developer implements and calls: [`Mapper`], [`Reducer`] (a combiner is a
//! reducer too), the [`Output`] records are emitted to, the streaming [`Values`] of one key
//! group, and the [`TaskContext`] (counters, side inputs, which task this is).

use crate::context::TaskContext;
use crate::error::{MrError, MrResult};
use crate::fields::{decode_value, FieldStyle, FieldWriter, Fields, Value};
use crate::key::{EncodeKey, Key};
use crate::record::Record;
use std::marker::PhantomData;

/// Turns input records into keyed records. One instance per map task.
pub trait Mapper: Send + 'static {
    /// The map output key: sorted, grouped and partitioned in its encoded form.
    type Key: Key + Fields;
    type Value: Value;

    /// Runs once before the first record (load side inputs here).
    fn setup(&mut self, _ctx: &mut TaskContext) -> MrResult<()> {
        Ok(())
    }

    fn map(
        &mut self,
        record: &Record<'_>,
        out: &mut Output<'_, Self::Key, Self::Value>,
    ) -> MrResult<()>;

    /// Runs once after the last record; may still emit.
    fn cleanup(&mut self, _out: &mut Output<'_, Self::Key, Self::Value>) -> MrResult<()> {
        Ok(())
    }
}

/// Turns each key group into output records. One instance per reduce task; a combiner is a
/// reducer whose output types are its input types.
pub trait Reducer: Send + 'static {
    /// The map output key (its first fields, by the stage's grouping, make the group).
    type Key: Key;
    type Value: Value;
    type OutKey: Key + Fields;
    type OutValue: Value;

    fn setup(&mut self, _ctx: &mut TaskContext) -> MrResult<()> {
        Ok(())
    }

    /// `key` is the group's first key; `values` streams the group in key order.
    fn reduce(
        &mut self,
        key: Self::Key,
        values: &mut Values<'_, Self::Key, Self::Value>,
        out: &mut Output<'_, Self::OutKey, Self::OutValue>,
    ) -> MrResult<()>;

    fn cleanup(&mut self, _out: &mut Output<'_, Self::OutKey, Self::OutValue>) -> MrResult<()> {
        Ok(())
    }
}

/// Where the runtime puts emitted records: a map output collector, an output file, a sampler.
pub(crate) trait RecordSink {
    /// None: the sink takes encoded key and value; else lines of fields in this style.
    fn style(&self) -> Option<FieldStyle>;
    fn write_encoded(&mut self, key: &[u8], value: &[u8]) -> MrResult<()>;
    fn write_line(&mut self, line: &[u8]) -> MrResult<()>;
}

/// The named outputs of a task, opened on first use.
pub(crate) trait NamedSinks {
    /// The file of output `name` in its subdirectory `subdir` (empty: the output itself).
    fn sink(&mut self, name: &str, subdir: &str) -> MrResult<&mut dyn RecordSink>;
}

/// A task without named outputs.
pub(crate) struct NoNamedOutputs;

impl NamedSinks for NoNamedOutputs {
    fn sink(&mut self, name: &str, _subdir: &str) -> MrResult<&mut dyn RecordSink> {
        Err(MrError::User(format!(
            "no named output {name:?} here (declare it on the stage with .named_output)"
        )))
    }
}

/// Scratch buffers for encoding one record.
#[derive(Debug)]
pub(crate) struct EmitBuf {
    key: Vec<u8>,
    value: Vec<u8>,
    line: FieldWriter,
}

impl EmitBuf {
    pub(crate) fn new() -> Self {
        EmitBuf {
            key: Vec::with_capacity(64),
            value: Vec::with_capacity(256),
            line: FieldWriter::new(FieldStyle::Tab),
        }
    }

    fn emit<K: EncodeKey + Fields + ?Sized, V: Value>(
        &mut self,
        sink: &mut dyn RecordSink,
        key: &K,
        value: &V,
    ) -> MrResult<()> {
        match sink.style() {
            None => {
                self.key.clear();
                key.encode_key(&mut self.key);
                self.value.clear();
                value.encode_value(&mut self.value);
                sink.write_encoded(&self.key, &self.value)
            }
            Some(style) => {
                if self.line.style() != style {
                    self.line = FieldWriter::new(style);
                }
                self.line.clear();
                key.write_fields(&mut self.line);
                value.write_fields(&mut self.line);
                sink.write_line(self.line.line())
            }
        }
    }
}

/// Where a mapper or reducer emits records. The stage's output format decides the encoding.
pub struct Output<'a, K, V> {
    main: &'a mut dyn RecordSink,
    named: &'a mut dyn NamedSinks,
    ctx: &'a mut TaskContext,
    buf: EmitBuf,
    _types: PhantomData<fn(&K, &V)>,
}

impl<'a, K: Key + Fields, V: Value> Output<'a, K, V> {
    pub(crate) fn new(
        main: &'a mut dyn RecordSink,
        named: &'a mut dyn NamedSinks,
        ctx: &'a mut TaskContext,
    ) -> Self {
        Output {
            main,
            named,
            ctx,
            buf: EmitBuf::new(),
            _types: PhantomData,
        }
    }

    /// Emits one record to the stage's main output (or, with a reducer, to the shuffle). The
    /// key may be borrowed: a `&str` for a `String` key.
    pub fn emit<Q>(&mut self, key: &Q, value: &V) -> MrResult<()>
    where
        K: std::borrow::Borrow<Q>,
        Q: EncodeKey + Fields + ?Sized,
    {
        self.buf.emit(&mut *self.main, key, value)
    }

    /// Emits one record to a named output of the stage (any key and value types).
    pub fn emit_to<K2: Key + Fields, V2: Value>(
        &mut self,
        output: &str,
        key: &K2,
        value: &V2,
    ) -> MrResult<()> {
        let sink = self.named.sink(output, "")?;
        self.buf.emit(sink, key, value)
    }

    /// Emits one record to a named output, into its subdirectory `subdir` (such as
    /// `region=EU/product_type=LOAN`): each task writes a `part-` file in every subdirectory
    /// it emits to, and the commit keeps the subdirectories.
    pub fn emit_to_dir<K2: Key + Fields, V2: Value>(
        &mut self,
        output: &str,
        subdir: &str,
        key: &K2,
        value: &V2,
    ) -> MrResult<()> {
        let sink = self.named.sink(output, subdir)?;
        self.buf.emit(sink, key, value)
    }

    /// Adds `n` to a user counter.
    pub fn count(&mut self, group: &str, name: &str, n: u64) {
        self.ctx.count(group, name, n)
    }

    pub fn context(&mut self) -> &mut TaskContext {
        self.ctx
    }
}

/// A group's records as the runtime holds them.
pub(crate) trait RawValues {
    /// The next record's value, or None at the end of the group.
    fn next_value(&mut self) -> MrResult<Option<&[u8]>>;
    /// The full key of the record last returned.
    fn current_key(&self) -> &[u8];
}

/// The values of one key group, streamed: a group never has to fit in memory.
pub struct Values<'a, K, V> {
    raw: &'a mut dyn RawValues,
    error: Option<MrError>,
    records: u64,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K: Key, V: Value> Values<'a, K, V> {
    pub(crate) fn new(raw: &'a mut dyn RawValues) -> Self {
        Values {
            raw,
            error: None,
            records: 0,
            _types: PhantomData,
        }
    }

    /// The full key of the value last returned: with a secondary sort, the fields after the
    /// grouping prefix tell the records of a group apart (a date, a source tag).
    pub fn key(&self) -> MrResult<K> {
        K::decode(&mut self.raw.current_key())
    }

    /// The next value with its full key.
    pub fn next_with_key(&mut self) -> Option<(K, V)> {
        let v = self.next()?;
        match self.key() {
            Ok(k) => Some((k, v)),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    /// Reads what the reducer left, and reports a value that did not decode.
    pub(crate) fn finish(mut self) -> MrResult<u64> {
        while self.error.is_none() && self.next().is_some() {}
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.records),
        }
    }
}

impl<K: Key, V: Value> Iterator for Values<'_, K, V> {
    type Item = V;

    fn next(&mut self) -> Option<V> {
        if self.error.is_some() {
            return None;
        }
        match self.raw.next_value() {
            Ok(Some(bytes)) => match decode_value(bytes) {
                Ok(v) => {
                    self.records += 1;
                    Some(v)
                }
                Err(e) => {
                    self.error = Some(e);
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}
