//! Where a task's records go: the map output collector (partition, sort, spill), or output
//! files in the DFS in the stage's format, written under the attempt's temporary directory
//! until the job tracker commits them.

use crate::api::{NamedSinks, RecordSink};
use crate::error::{MrError, MrResult};
use crate::fields::FieldStyle;
use crate::ifile;
use crate::merge::GroupPrefix;
use crate::partition::{HashPartitioner, Partitioner, TotalOrderPartitioner};
use crate::sort::Collector;
use client::writer::DfsWriter;
use client::{CreateOptions, DfsClient};
use common::jobs::{Counters, OutputFormat, OutputSpec, PartitionerSpec};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// The counter group of records written per output.
pub const OUTPUT_RECORDS: &str = "Output Records";

/// Where an attempt writes its file of output `out`, in `subdir` of it (empty: the output
/// itself): under the output's staging directory, which the commit moves it out of.
fn attempt_file(out: &OutputSpec, attempt_id: &str, subdir: &str, kind: char, task: u32) -> String {
    let staging = out.staging_dir();
    if out.file {
        let name = out
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("file");
        return format!("{staging}/{attempt_id}/{name}");
    }
    let sub = if subdir.is_empty() {
        String::new()
    } else {
        format!("{subdir}/")
    };
    format!("{staging}/{attempt_id}/{sub}part-{kind}-{task:05}")
}

/// Checks a subdirectory a task asked to write into: relative, no `..`, and no part hidden
/// from readers (`_x`, `.x`).
fn check_subdir(output: &str, subdir: &str) -> MrResult<()> {
    let bad = subdir
        .split('/')
        .any(|part| part.is_empty() || part.starts_with('_') || part.starts_with('.'));
    if bad {
        return Err(MrError::User(format!(
            "output {output:?}: subdirectory {subdir:?} must be relative, with no empty part and no \
             part starting with '_' or '.'"
        )));
    }
    Ok(())
}

/// The partitioner a stage's spec names.
pub(crate) fn partitioner(
    spec: &PartitionerSpec,
    prefix: Arc<GroupPrefix>,
) -> MrResult<Box<dyn Partitioner>> {
    Ok(match spec {
        PartitionerSpec::Hash => Box::new(HashPartitioner::new(prefix)),
        PartitionerSpec::TotalOrder { boundaries } => {
            let b = boundaries
                .iter()
                .map(|h| hex_decode(h))
                .collect::<MrResult<Vec<_>>>()?;
            Box::new(TotalOrderPartitioner::from_boundaries(b))
        }
    })
}

pub(crate) fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> MrResult<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| MrError::Decode(format!("bad partition boundary {s:?}")))
        })
        .collect()
}

/// Map output going to reducers: partitioned, then into the collector's sort buffer.
pub(crate) struct CollectorSink {
    pub collector: Collector,
    pub partitioner: Box<dyn Partitioner>,
    pub partitions: u32,
}

impl RecordSink for CollectorSink {
    fn style(&self) -> Option<FieldStyle> {
        None
    }
    fn write_encoded(&mut self, key: &[u8], value: &[u8]) -> MrResult<()> {
        let (partitioner, partitions) = (&self.partitioner, self.partitions);
        self.collector
            .collect_with(key, value, || partitioner.partition(key, partitions))
    }
    fn write_line(&mut self, _line: &[u8]) -> MrResult<()> {
        Err(MrError::Internal(
            "map output to reducers is encoded".into(),
        ))
    }
}

enum FileWriter {
    Lines(BufWriter<DfsWriter>),
    Records(ifile::Writer<BufWriter<DfsWriter>>),
}

/// One output file in the DFS.
pub(crate) struct DfsSink {
    writer: FileWriter,
    style: Option<FieldStyle>,
    newline: bool,
    path: String,
    pub records: u64,
}

impl DfsSink {
    /// The file of output `out` for task `task` of attempt `attempt_id`, under its
    /// temporary directory.
    pub fn for_attempt(
        dfs: &DfsClient,
        out: &OutputSpec,
        attempt_id: &str,
        kind: char,
        task: u32,
    ) -> MrResult<DfsSink> {
        Self::create(dfs, out, attempt_file(out, attempt_id, "", kind, task))
    }

    fn create(dfs: &DfsClient, out: &OutputSpec, path: String) -> MrResult<DfsSink> {
        let opts = CreateOptions {
            replication: out.replication,
            ..Default::default()
        };
        let w = BufWriter::with_capacity(1 << 20, dfs.create(&path, opts)?);
        let (writer, style, newline) = match &out.format {
            OutputFormat::Text => (FileWriter::Lines(w), Some(FieldStyle::Tab), true),
            OutputFormat::Raw => (FileWriter::Lines(w), Some(FieldStyle::Raw), false),
            OutputFormat::Csv { header } => {
                let mut w = w;
                let mut line = crate::fields::FieldWriter::new(FieldStyle::Csv);
                for h in header {
                    line.str(h);
                }
                w.write_all(line.line())
                    .and_then(|_| w.write_all(b"\n"))
                    .map_err(|e| MrError::Transfer(format!("{path}: {e}")))?;
                (FileWriter::Lines(w), Some(FieldStyle::Csv), true)
            }
            OutputFormat::Binary => (
                FileWriter::Records(ifile::Writer::new(w, ifile::Compression::Zstd)),
                None,
                false,
            ),
        };
        Ok(DfsSink {
            writer,
            style,
            newline,
            path,
            records: 0,
        })
    }

    pub fn close(self) -> MrResult<()> {
        let path = self.path;
        let buffered = match self.writer {
            FileWriter::Lines(w) => w,
            FileWriter::Records(w) => w.finish()?.0,
        };
        let w = buffered
            .into_inner()
            .map_err(|e| MrError::Transfer(format!("{path}: {}", e.error())))?;
        w.close()?;
        Ok(())
    }
}

impl RecordSink for DfsSink {
    fn style(&self) -> Option<FieldStyle> {
        self.style
    }
    fn write_encoded(&mut self, key: &[u8], value: &[u8]) -> MrResult<()> {
        match &mut self.writer {
            FileWriter::Records(w) => {
                self.records += 1;
                w.append(key, value)
            }
            FileWriter::Lines(_) => Err(MrError::Internal("encoded record to a text file".into())),
        }
    }
    fn write_line(&mut self, line: &[u8]) -> MrResult<()> {
        let FileWriter::Lines(w) = &mut self.writer else {
            return Err(MrError::Internal("a line to a binary record file".into()));
        };
        self.records += 1;
        let r = if self.newline {
            w.write_all(line).and_then(|_| w.write_all(b"\n"))
        } else {
            w.write_all(line)
        };
        r.map_err(|e| MrError::Transfer(format!("{}: {e}", self.path)))
    }
}

/// The named outputs of one attempt, each file created on its first record.
pub(crate) struct DfsNamedSinks {
    dfs: DfsClient,
    outputs: Vec<OutputSpec>,
    attempt_id: String,
    kind: char,
    task: u32,
    /// Open files by output name, then by subdirectory.
    open: HashMap<String, HashMap<String, DfsSink>>,
}

impl DfsNamedSinks {
    pub fn new(
        dfs: &DfsClient,
        outputs: &[OutputSpec],
        attempt_id: &str,
        kind: char,
        task: u32,
    ) -> Self {
        DfsNamedSinks {
            dfs: dfs.clone(),
            outputs: outputs
                .iter()
                .filter(|o| !o.name.is_empty())
                .cloned()
                .collect(),
            attempt_id: attempt_id.to_string(),
            kind,
            task,
            open: HashMap::new(),
        }
    }

    /// Closes every file and counts what each output received.
    pub fn close(self, counters: &mut Counters) -> MrResult<()> {
        for (name, files) in self.open {
            for sink in files.into_values() {
                counters.add(OUTPUT_RECORDS, &name, sink.records);
                sink.close()?;
            }
        }
        Ok(())
    }
}

impl NamedSinks for DfsNamedSinks {
    fn sink(&mut self, name: &str, subdir: &str) -> MrResult<&mut dyn RecordSink> {
        let open = self
            .open
            .get(name)
            .is_some_and(|files| files.contains_key(subdir));
        if !open {
            let out = self
                .outputs
                .iter()
                .find(|o| o.name == name)
                .ok_or_else(|| {
                    MrError::User(format!(
                        "no named output {name:?} (declare it on the stage with .named_output)"
                    ))
                })?;
            if !subdir.is_empty() {
                if out.file {
                    return Err(MrError::User(format!(
                        "output {name:?} is a single file: it has no subdirectories"
                    )));
                }
                check_subdir(name, subdir)?;
            }
            let path = attempt_file(out, &self.attempt_id, subdir, self.kind, self.task);
            let sink = DfsSink::create(&self.dfs, out, path)?;
            self.open
                .entry(name.to_string())
                .or_default()
                .insert(subdir.to_string(), sink);
        }
        self.open
            .get_mut(name)
            .and_then(|files| files.get_mut(subdir))
            .map(|s| s as &mut dyn RecordSink)
            .ok_or_else(|| MrError::Internal("an output file just opened is gone".into()))
    }
}
