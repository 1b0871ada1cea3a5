//! The reduce side's input: map output segments arrive one by one from the shuffle; small
//! ones are kept in memory up to a budget, and when the budget is exceeded the in-memory
//! segments are merged into one sorted file on local disk. Too many files are merged into one.
//! At the end everything is merged into a single sorted stream. Memory stays within the
//! budget however large the partition is.

use crate::error::{IoContext, MrResult};
use crate::ifile::{self, Compression, Writer};
use crate::merge::{Merger, RecordSource};
use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor};
use std::path::{Path, PathBuf};

/// Settings of a reduce task's input merge.
#[derive(Clone, Debug)]
pub struct ReduceInputConfig {
    /// Bytes of fetched segments held in memory.
    pub memory_budget: usize,
    /// Local directory for merged runs.
    pub dir: PathBuf,
    pub compression: Compression,
    /// Files merged into one when there are more than this many.
    pub merge_factor: usize,
}

/// A sorted source of the reduce input, ready to group.
pub type ReduceSource = Merger<Box<dyn RecordSource>>;

/// Gathers a reduce task's segments.
pub struct ReduceInput {
    config: ReduceInputConfig,
    in_memory: Vec<Vec<u8>>,
    memory_used: usize,
    on_disk: Vec<PathBuf>,
    next_file: usize,
    /// Most bytes held in memory at once, for the task's counters and tests.
    pub peak_memory: usize,
}

impl ReduceInput {
    pub fn new(config: ReduceInputConfig) -> MrResult<Self> {
        std::fs::create_dir_all(&config.dir)
            .ctx(|| format!("creating {}", config.dir.display()))?;
        Ok(ReduceInput {
            config,
            in_memory: Vec::new(),
            memory_used: 0,
            on_disk: Vec::new(),
            next_file: 0,
            peak_memory: 0,
        })
    }

    /// Whether a segment of `len` bytes should be fetched to disk rather than memory.
    pub fn wants_on_disk(&self, len: u64) -> bool {
        len as usize > self.config.memory_budget / 4
    }

    /// Adds a fetched segment (an IFile stream) held in memory.
    pub fn add_in_memory(&mut self, segment: Vec<u8>) -> MrResult<()> {
        if self.memory_used + segment.len() > self.config.memory_budget
            && !self.in_memory.is_empty()
        {
            self.spill_memory()?;
        }
        self.memory_used += segment.len();
        self.peak_memory = self.peak_memory.max(self.memory_used);
        self.in_memory.push(segment);
        Ok(())
    }

    /// Adds a segment the fetcher wrote to a file of its own (an IFile stream).
    pub fn add_on_disk(&mut self, path: PathBuf) -> MrResult<()> {
        self.on_disk.push(path);
        if self.on_disk.len() > self.config.merge_factor.max(2) {
            self.merge_files()?;
        }
        Ok(())
    }

    fn new_file(&mut self) -> PathBuf {
        self.next_file += 1;
        self.config
            .dir
            .join(format!("merged{}.out", self.next_file))
    }

    fn write_merged(&mut self, sources: Vec<Box<dyn RecordSource>>) -> MrResult<PathBuf> {
        let path = self.new_file();
        let file = File::create(&path).ctx(|| format!("creating {}", path.display()))?;
        let mut w = Writer::new(
            BufWriter::with_capacity(1 << 20, file),
            self.config.compression,
        );
        let mut m = Merger::new(sources);
        while m.advance()? {
            w.append(m.key(), m.value())?;
        }
        w.finish()?;
        Ok(path)
    }

    /// Merges the in-memory segments into one file.
    fn spill_memory(&mut self) -> MrResult<()> {
        let segments = std::mem::take(&mut self.in_memory);
        let sources = segments
            .into_iter()
            .map(|s| {
                Box::new(ifile::Reader::new(Cursor::new(s), "fetched segment"))
                    as Box<dyn RecordSource>
            })
            .collect();
        let path = self.write_merged(sources)?;
        self.memory_used = 0;
        self.add_on_disk(path)
    }

    /// Merges every file into one.
    fn merge_files(&mut self) -> MrResult<()> {
        let files = std::mem::take(&mut self.on_disk);
        let sources = open_all(&files)?;
        let path = self.write_merged(sources)?;
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
        self.on_disk.push(path);
        Ok(())
    }

    /// Everything gathered, as one sorted stream (files and memory merged on the fly).
    pub fn finish(self) -> MrResult<ReduceSource> {
        let mut sources = open_all(&self.on_disk)?;
        sources.extend(self.in_memory.into_iter().map(|s| {
            Box::new(ifile::Reader::new(Cursor::new(s), "fetched segment")) as Box<dyn RecordSource>
        }));
        Ok(Merger::new(sources))
    }
}

fn open_all(files: &[PathBuf]) -> MrResult<Vec<Box<dyn RecordSource>>> {
    files
        .iter()
        .map(|p| -> MrResult<Box<dyn RecordSource>> { Ok(Box::new(open(p)?)) })
        .collect()
}

fn open(path: &Path) -> MrResult<ifile::Reader<BufReader<File>>> {
    let f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    Ok(ifile::Reader::new(
        BufReader::with_capacity(256 << 10, f),
        path.display().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    fn segment(seed: u64, n: u64) -> Vec<u8> {
        let mut keys: Vec<Vec<u8>> = (0..n)
            .map(|i| ((i * 7 + seed * 13) % 5000).to_key_bytes())
            .collect();
        keys.sort();
        let mut w = Writer::new(Vec::new(), Compression::Snappy);
        for k in &keys {
            w.append(k, &seed.to_le_bytes()).expect("append");
        }
        w.finish().expect("finish").0
    }

    #[test]
    fn a_partition_far_larger_than_the_budget_merges_sorted_and_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = 64 << 10;
        let mut input = ReduceInput::new(ReduceInputConfig {
            memory_budget: budget,
            dir: dir.path().join("reduce"),
            compression: Compression::Zstd,
            merge_factor: 4,
        })
        .expect("input");
        let mut total = 0u64;
        let mut biggest = 0;
        for m in 0..200u64 {
            let s = segment(m, 1000);
            biggest = biggest.max(s.len());
            total += 1000;
            if input.wants_on_disk(s.len() as u64) {
                let p = dir.path().join(format!("fetched{m}"));
                std::fs::write(&p, &s).expect("write");
                input.add_on_disk(p).expect("add");
            } else {
                input.add_in_memory(s).expect("add");
            }
        }
        assert!(
            input.peak_memory <= budget + biggest,
            "memory {} over budget",
            input.peak_memory
        );
        let mut src = input.finish().expect("finish");
        let mut n = 0u64;
        let mut last: Option<Vec<u8>> = None;
        while src.advance().expect("advance") {
            if let Some(l) = &last {
                assert!(l.as_slice() <= src.key(), "out of order");
            }
            last = Some(src.key().to_vec());
            n += 1;
        }
        assert_eq!(n, total);
        let files = std::fs::read_dir(dir.path().join("reduce"))
            .expect("dir")
            .count();
        assert!(files <= 5, "files must be merged down, found {files}");
    }
}
