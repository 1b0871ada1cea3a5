//! The map side's output path: records go into an in-memory sort buffer of raw bytes; when it
//! fills, it is sorted by (partition, key) and spilled to a local file, one sorted segment per
//! partition, through the combiner if the job has one. With a combiner, records of frequent
//! keys first gather in a hash table ([`crate::combine_table`]). At the end the spills are
//! merged (and combined again) into one map output file with an index of its partition
//! segments, which the shuffle serves to the reducers. Memory stays within the sort buffer, whatever the input.

use crate::combine_table::{Added, CombineTable};
use crate::error::{IoContext, MrError, MrResult};
use crate::ifile::{self, Compression, Writer};
use crate::merge::{Grouper, Merger, RecordSource};
pub use common::map_output::Segment;
use common::map_output::{self, index_path};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One group of records with equal keys, handed to a combiner.
pub trait GroupValues {
    fn key(&self) -> &[u8];
    /// The next value of the group, or None when the group is over.
    fn next_value(&mut self) -> MrResult<Option<&[u8]>>;
}

/// Where a combiner puts its records.
pub type Emit<'a> = dyn FnMut(&[u8], &[u8]) -> MrResult<()> + 'a;

/// A combiner on raw records: reads one group and emits combined records (usually one).
pub trait RawCombiner {
    fn combine(&mut self, group: &mut dyn GroupValues, emit: &mut Emit<'_>) -> MrResult<()>;
}

impl<S: RecordSource> GroupValues for Grouper<'_, S> {
    fn key(&self) -> &[u8] {
        Grouper::group_key(self)
    }
    fn next_value(&mut self) -> MrResult<Option<&[u8]>> {
        Ok(if self.next_in_group()? {
            Some(self.value())
        } else {
            None
        })
    }
}

/// Settings of a map output collector.
#[derive(Clone, Debug)]
pub struct CollectorConfig {
    pub partitions: u32,
    /// Bytes of records (plus 16 bytes of index each) held before a spill.
    pub sort_buffer_bytes: usize,
    pub compression: Compression,
    /// Local directory for spills.
    pub spill_dir: PathBuf,
    /// Combine again while merging when there were at least this many spills.
    pub min_spills_for_combine: usize,
}

/// What the collector counted, as the job counters name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectorStats {
    pub map_output_records: u64,
    pub map_output_bytes: u64,
    pub spilled_records: u64,
    pub combine_input_records: u64,
    pub combine_output_records: u64,
    pub spills: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    /// The key's first 16 bytes, big-endian, zero-padded: most comparisons end here without
    /// touching the buffer, and keys of up to 16 bytes never need it.
    prefix: u128,
    partition: u32,
    start: u32,
    key_len: u32,
    value_len: u32,
}

const PREFIX_LEN: u32 = 16;

pub(crate) fn key_prefix(key: &[u8]) -> u128 {
    if let Some(head) = key.first_chunk::<{ PREFIX_LEN as usize }>() {
        return u128::from_be_bytes(*head);
    }
    // Shorter keys byte by byte: a copy of unknown length would call memmove per record.
    key.iter()
        .enumerate()
        .fold(0, |p, (i, &b)| p | u128::from(b) << (8 * (15 - i)))
}

struct SortBuffer {
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl SortBuffer {
    fn bytes(&self) -> usize {
        self.data.len() + self.entries.len() * std::mem::size_of::<Entry>()
    }

    fn push(&mut self, partition: u32, key: &[u8], value: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.entries.push(Entry {
            prefix: key_prefix(key),
            partition,
            start,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        });
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.data[e.start as usize..(e.start + e.key_len) as usize]
    }

    /// Sorts by partition, then key bytes; equal keys keep their emission order (their
    /// offsets in the buffer grow with it).
    fn sort(&mut self, partitions: u32) {
        let mut entries = std::mem::take(&mut self.entries);
        crate::radix_sort::sort(
            &mut entries,
            partitions as usize,
            |e| e.partition as usize,
            |e| e.prefix,
            |a, b| {
                a.prefix
                    .cmp(&b.prefix)
                    .then_with(|| {
                        if a.key_len <= PREFIX_LEN && b.key_len <= PREFIX_LEN {
                            // Equal zero-padded prefixes: the shorter key is a prefix of the
                            // other.
                            a.key_len.cmp(&b.key_len)
                        } else {
                            self.key(a).cmp(self.key(b))
                        }
                    })
                    .then(a.start.cmp(&b.start))
            },
        );
        self.entries = entries;
    }
}

/// The sorted entries of one partition, as a record source. Records are copied out of the
/// buffer a chunk at a time, in sorted order: the copy loop's reads are independent, so the
/// CPU overlaps their cache misses, where reading each record as the combiner needs it would
/// wait on every one.
struct BufferRun<'a> {
    buf: &'a SortBuffer,
    entries: &'a [Entry],
    /// The entry of the current record, and the first one not yet copied.
    at: Option<usize>,
    copied: usize,
    chunk: Vec<u8>,
    /// Where the current record starts in `chunk`, and where the next one does.
    start: usize,
    next: usize,
}

/// Records copied out of the sort buffer at a time.
const CHUNK_RECORDS: usize = 4096;

impl<'a> BufferRun<'a> {
    fn new(buf: &'a SortBuffer, entries: &'a [Entry]) -> Self {
        BufferRun {
            buf,
            entries,
            at: None,
            copied: 0,
            chunk: Vec::new(),
            start: 0,
            next: 0,
        }
    }

    fn entry(&self) -> &Entry {
        &self.entries[self.at.unwrap_or(0)]
    }
}

impl RecordSource for BufferRun<'_> {
    fn advance(&mut self) -> MrResult<bool> {
        let at = self.at.map_or(0, |i| i + 1);
        self.at = Some(at);
        if at >= self.entries.len() {
            return Ok(false);
        }
        if at == self.copied {
            self.chunk.clear();
            let to = (at + CHUNK_RECORDS).min(self.entries.len());
            for e in &self.entries[at..to] {
                let s = e.start as usize;
                self.chunk
                    .extend_from_slice(&self.buf.data[s..s + (e.key_len + e.value_len) as usize]);
            }
            self.copied = to;
            self.next = 0;
        }
        let e = &self.entries[at];
        self.start = self.next;
        self.next = self.start + (e.key_len + e.value_len) as usize;
        Ok(true)
    }
    fn key(&self) -> &[u8] {
        &self.chunk[self.start..self.start + self.entry().key_len as usize]
    }
    fn value(&self) -> &[u8] {
        &self.chunk[self.start + self.entry().key_len as usize..self.next]
    }
}

/// A spill on disk: its file and the segment of each partition.
struct Spill {
    path: PathBuf,
    segments: Vec<Segment>,
}

/// Collects a map task's output.
pub struct Collector {
    config: CollectorConfig,
    buffer: SortBuffer,
    spills: Vec<Spill>,
    combiner: Option<Box<dyn RawCombiner>>,
    /// Pre-aggregation by key, while there is a combiner and keys repeat.
    table: Option<CombineTable>,
    stats: CollectorStats,
}

/// Groups by the whole key: the combiner sees runs of equal keys.
fn whole_key(k: &[u8]) -> MrResult<usize> {
    Ok(k.len())
}

impl Collector {
    pub fn new(config: CollectorConfig, combiner: Option<Box<dyn RawCombiner>>) -> MrResult<Self> {
        if config.partitions == 0 {
            return Err(MrError::Internal(
                "a map output needs at least one partition".into(),
            ));
        }
        std::fs::create_dir_all(&config.spill_dir)
            .ctx(|| format!("creating {}", config.spill_dir.display()))?;
        Ok(Collector {
            buffer: SortBuffer {
                data: Vec::new(),
                entries: Vec::new(),
            },
            spills: Vec::new(),
            // The table takes at most a quarter of the sort buffer.
            table: combiner
                .is_some()
                .then(|| CombineTable::new(config.sort_buffer_bytes / 4)),
            config,
            combiner,
            stats: CollectorStats::default(),
        })
    }

    /// Adds one record for `partition`.
    pub fn collect(&mut self, partition: u32, key: &[u8], value: &[u8]) -> MrResult<()> {
        self.collect_with(key, value, || partition)
    }

    /// Adds one record; `partition` computes its partition, which the combining table asks
    /// for only once per key it holds.
    pub fn collect_with(
        &mut self,
        key: &[u8],
        value: &[u8],
        partition: impl Fn() -> u32,
    ) -> MrResult<()> {
        self.stats.map_output_records += 1;
        self.stats.map_output_bytes += (key.len() + value.len()) as u64;
        let partitions = self.config.partitions;
        let checked = || {
            let p = partition();
            if p < partitions {
                Ok(p)
            } else {
                Err(MrError::Internal(format!(
                    "partition {p} out of {partitions}"
                )))
            }
        };
        if let (Some(table), Some(combiner)) = (&mut self.table, &mut self.combiner) {
            let buffer = &mut self.buffer;
            let added = table.add(
                key,
                value,
                &checked,
                combiner.as_mut(),
                &mut self.stats,
                &mut |p, k, v| {
                    buffer.push(p, k, v);
                    Ok(())
                },
            )?;
            if matches!(added, Added::Held) {
                return self.spill_if_full();
            }
        }
        let p = checked()?;
        if self.buffer.data.len() + key.len() + value.len() > u32::MAX as usize {
            self.spill()?;
        }
        self.buffer.push(p, key, value);
        self.spill_if_full()
    }

    fn spill_if_full(&mut self) -> MrResult<()> {
        let table_bytes = self.table.as_ref().map_or(0, CombineTable::bytes);
        if self.buffer.bytes() + table_bytes >= self.config.sort_buffer_bytes {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes `src` to `w`, through the combiner when there is one.
    fn write_run(
        combiner: &mut Option<Box<dyn RawCombiner>>,
        stats: &mut CollectorStats,
        src: impl RecordSource,
        w: &mut Writer<impl Write>,
    ) -> MrResult<()> {
        match combiner {
            None => {
                let mut src = src;
                while src.advance()? {
                    w.append(src.key(), src.value())?;
                }
            }
            Some(c) => {
                let mut g = Grouper::new(src, &whole_key);
                let mut inputs = 0u64;
                let mut outputs = 0u64;
                let mut first = Vec::new();
                while g.next_group()? && g.next_in_group()? {
                    first.clear();
                    first.extend_from_slice(g.value());
                    if !g.next_in_group()? {
                        // A group of one record is written as it is: the combiner (which may
                        // run any number of times) would not make it smaller.
                        w.append(g.group_key(), &first)?;
                        continue;
                    }
                    let mut group = Replayed {
                        first: Some(&first),
                        second: true,
                        inner: &mut g,
                        n: &mut inputs,
                    };
                    c.combine(&mut group, &mut |k, v| {
                        outputs += 1;
                        w.append(k, v)
                    })?;
                }
                stats.combine_input_records += inputs;
                stats.combine_output_records += outputs;
            }
        }
        Ok(())
    }

    /// Drains the combining table into the sort buffer, sorts it and writes it out as a
    /// spill. A table that seldom hits is dropped here.
    fn spill(&mut self) -> MrResult<()> {
        if let (Some(table), Some(combiner)) = (&mut self.table, &mut self.combiner) {
            let seldom_hits = table.seldom_hits();
            let buffer = &mut self.buffer;
            table.drain(combiner.as_mut(), &mut self.stats, &mut |p, k, v| {
                buffer.push(p, k, v);
                Ok(())
            })?;
            if seldom_hits {
                self.table = None;
            }
        }
        if self.buffer.entries.is_empty() {
            return Ok(());
        }
        self.buffer.sort(self.config.partitions);
        let spill = write_spill(
            &self.config,
            self.spills.len(),
            &mut self.combiner,
            &mut self.stats,
            &self.buffer,
        )?;
        self.spills.push(spill);
        self.buffer.data.clear();
        self.buffer.entries.clear();
        Ok(())
    }

    /// Merges everything into `output` (the map output file) and writes its index beside it
    /// (`output` + `.index`). Returns the segments and the counters.
    pub fn finish(mut self, output: &Path) -> MrResult<(Vec<Segment>, CollectorStats)> {
        self.spill()?;
        let combine_again = self.spills.len() >= self.config.min_spills_for_combine.max(1);
        if let ([only], false) = (self.spills.as_slice(), combine_again) {
            // One spill is already the map output: sorted, partitioned and compressed.
            std::fs::rename(&only.path, output)
                .ctx(|| format!("moving {} to {}", only.path.display(), output.display()))?;
            write_index(&index_path(output), &only.segments)?;
            return Ok((only.segments.clone(), self.stats));
        }
        let file = File::create(output).ctx(|| format!("creating {}", output.display()))?;
        let mut out = Counting::new(BufWriter::with_capacity(1 << 20, file));
        let mut segments = Vec::with_capacity(self.config.partitions as usize);
        for p in 0..self.config.partitions as usize {
            let mut runs = Vec::with_capacity(self.spills.len());
            for s in &self.spills {
                runs.push(segment_reader(&s.path, s.segments[p])?);
            }
            let offset = out.written;
            let mut w = Writer::new(&mut out, self.config.compression);
            let mut combiner = if combine_again {
                self.combiner.take()
            } else {
                None
            };
            Self::write_run(&mut combiner, &mut self.stats, Merger::new(runs), &mut w)?;
            if combine_again {
                self.combiner = combiner;
            }
            let (_, written) = w.finish()?;
            segments.push(Segment {
                offset,
                len: written.stored_bytes,
                records: written.records,
                raw_bytes: written.raw_bytes,
            });
        }
        out.inner
            .flush()
            .ctx(|| format!("writing {}", output.display()))?;
        if self.spills.len() > 1 || combine_again {
            self.stats.spilled_records += segments.iter().map(|s| s.records).sum::<u64>();
        }
        for s in &self.spills {
            let _ = std::fs::remove_file(&s.path);
        }
        write_index(&index_path(output), &segments)?;
        Ok((segments, self.stats))
    }
}

/// Writes spill number `n`: the sorted buffer, partition by partition, through the combiner
/// when there is one.
fn write_spill(
    config: &CollectorConfig,
    n: usize,
    combiner: &mut Option<Box<dyn RawCombiner>>,
    stats: &mut CollectorStats,
    buffer: &SortBuffer,
) -> MrResult<Spill> {
    let path = config.spill_dir.join(format!("spill{n}.out"));
    let file = File::create(&path).ctx(|| format!("creating {}", path.display()))?;
    let mut out = Counting::new(BufWriter::with_capacity(1 << 20, file));
    let mut segments = Vec::with_capacity(config.partitions as usize);
    let mut from = 0;
    for p in 0..config.partitions {
        let entries = &buffer.entries;
        let to = from + entries[from..].partition_point(|e| e.partition == p);
        let run = BufferRun::new(buffer, &entries[from..to]);
        from = to;
        let offset = out.written;
        let mut w = Writer::new(&mut out, config.compression);
        Collector::write_run(combiner, stats, run, &mut w)?;
        let (_, written) = w.finish()?;
        stats.spilled_records += written.records;
        segments.push(Segment {
            offset,
            len: written.stored_bytes,
            records: written.records,
            raw_bytes: written.raw_bytes,
        });
    }
    out.inner
        .flush()
        .ctx(|| format!("writing {}", path.display()))?;
    stats.spills += 1;
    Ok(Spill { path, segments })
}

/// A group of at least two records whose first value was read ahead (and copied) and whose
/// source sits on the second: hands them out in order, then the rest, counting them.
struct Replayed<'a, 'g, S: RecordSource> {
    first: Option<&'a [u8]>,
    /// The second value is the source's current one, not yet handed out.
    second: bool,
    inner: &'a mut Grouper<'g, S>,
    n: &'a mut u64,
}

impl<S: RecordSource> GroupValues for Replayed<'_, '_, S> {
    /// The group's key (the combiner groups by whole keys).
    fn key(&self) -> &[u8] {
        self.inner.group_key()
    }
    fn next_value(&mut self) -> MrResult<Option<&[u8]>> {
        let v = if let Some(first) = self.first.take() {
            Some(first)
        } else if std::mem::take(&mut self.second) {
            Some(self.inner.value())
        } else {
            self.inner.next_value()?
        };
        if v.is_some() {
            *self.n += 1;
        }
        Ok(v)
    }
}

/// A writer that counts the bytes through it (segment offsets).
struct Counting<W: Write> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Counting { inner, written: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads one partition's segment of a map output or spill file.
pub fn segment_reader(
    path: &Path,
    seg: Segment,
) -> MrResult<ifile::Reader<BufReader<std::io::Take<File>>>> {
    let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(seg.offset))
        .ctx(|| format!("seeking in {}", path.display()))?;
    Ok(ifile::Reader::new(
        BufReader::with_capacity(256 << 10, f.take(seg.len)),
        path.display().to_string(),
    ))
}

/// Writes the index beside a map output file, in `common::map_output`'s format.
fn write_index(path: &Path, segments: &[Segment]) -> MrResult<()> {
    map_output::write_index(path, segments).map_err(|e| match e {
        common::Error::Io { cause, .. } => MrError::Io {
            context: format!("writing {}", path.display()),
            cause,
        },
        e => MrError::Internal(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use common::map_output::read_index;

    /// Sums u64 counts per key, as wordcount's combiner does.
    struct SumCombiner;

    impl RawCombiner for SumCombiner {
        fn combine(&mut self, group: &mut dyn GroupValues, emit: &mut Emit<'_>) -> MrResult<()> {
            let key = group.key().to_vec();
            let mut sum = 0u64;
            while let Some(v) = group.next_value()? {
                sum +=
                    u64::from_le_bytes(v.try_into().map_err(|_| MrError::Decode("count".into()))?);
            }
            emit(&key, &sum.to_le_bytes())
        }
    }

    fn words(n: usize) -> Vec<String> {
        let mut x = 12345u64;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                format!("w{}", (x >> 33) % 300)
            })
            .collect()
    }

    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    fn read_partition(out: &Path, seg: Segment) -> Records {
        let mut r = segment_reader(out, seg).expect("reader");
        let mut v = Vec::new();
        while r.advance().expect("advance") {
            v.push((r.key().to_vec(), r.value().to_vec()));
        }
        v
    }

    fn collect_words(
        dir: &Path,
        buffer: usize,
        combiner: Option<Box<dyn RawCombiner>>,
        input: &[String],
    ) -> (Vec<Records>, CollectorStats) {
        let config = CollectorConfig {
            partitions: 3,
            sort_buffer_bytes: buffer,
            compression: Compression::Snappy,
            spill_dir: dir.join("spills"),
            min_spills_for_combine: 3,
        };
        let mut c = Collector::new(config, combiner).expect("collector");
        for w in input {
            let k = w.to_key_bytes();
            let p = (k.iter().map(|&b| b as u32).sum::<u32>()) % 3;
            c.collect(p, &k, &1u64.to_le_bytes()).expect("collect");
        }
        let out = dir.join("file.out");
        let (segments, stats) = c.finish(&out).expect("finish");
        assert_eq!(read_index(&index_path(&out)).expect("index"), segments);
        let parts = segments.iter().map(|s| read_partition(&out, *s)).collect();
        (parts, stats)
    }

    #[test]
    fn a_key_prefix_is_its_first_sixteen_bytes_zero_padded() {
        let key: Vec<u8> = (1..=20).collect();
        for n in 0..=20 {
            let mut padded = [0u8; 16];
            let m = n.min(16);
            padded[..m].copy_from_slice(&key[..m]);
            assert_eq!(
                key_prefix(&key[..n]),
                u128::from_be_bytes(padded),
                "length {n}"
            );
        }
    }

    #[test]
    fn small_buffer_spills_and_the_merged_output_is_sorted_and_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = words(20_000);
        let (parts, stats) = collect_words(dir.path(), 16 << 10, None, &input);
        assert!(
            stats.spills > 10,
            "a 16 KiB buffer must spill many times: {stats:?}"
        );
        let mut total = 0;
        for part in &parts {
            assert!(
                part.windows(2).all(|w| w[0].0 <= w[1].0),
                "segment not sorted"
            );
            total += part.len();
        }
        assert_eq!(total, input.len());
        assert_eq!(stats.map_output_records, input.len() as u64);
        assert!(
            std::fs::read_dir(dir.path().join("spills"))
                .expect("dir")
                .next()
                .is_none(),
            "spills must be removed"
        );
    }

    #[test]
    fn combiner_runs_on_spill_and_merge_and_counts_stay_exact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = words(20_000);
        let (parts, stats) =
            collect_words(dir.path(), 16 << 10, Some(Box::new(SumCombiner)), &input);
        let mut expected = std::collections::BTreeMap::new();
        for w in &input {
            *expected.entry(w.clone()).or_insert(0u64) += 1;
        }
        let mut got = std::collections::BTreeMap::new();
        for part in parts {
            for (k, v) in part {
                let word = String::decode(&mut k.as_slice()).expect("word");
                let n = u64::from_le_bytes(v.try_into().expect("count"));
                assert!(
                    got.insert(word, n).is_none(),
                    "a key must appear once after combining"
                );
            }
        }
        assert_eq!(got, expected);
        assert!(stats.combine_input_records > stats.combine_output_records);
        assert!(stats.spilled_records < input.len() as u64, "{stats:?}");
    }

    /// Passes every value through unchanged: a combiner whose output is not one record.
    struct EchoCombiner;

    impl RawCombiner for EchoCombiner {
        fn combine(&mut self, group: &mut dyn GroupValues, emit: &mut Emit<'_>) -> MrResult<()> {
            let key = group.key().to_vec();
            while let Some(v) = group.next_value()? {
                emit(&key, v)?;
            }
            Ok(())
        }
    }

    fn multiset(parts: Vec<Records>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut all: Vec<_> = parts.into_iter().flatten().collect();
        all.sort();
        all
    }

    #[test]
    fn a_combiner_emitting_several_records_loses_none_through_the_combining_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = words(20_000);
        let (with, stats) = collect_words(
            &dir.path().join("a"),
            1 << 20,
            Some(Box::new(EchoCombiner)),
            &input,
        );
        let (without, _) = collect_words(&dir.path().join("b"), 1 << 20, None, &input);
        assert!(stats.combine_input_records > 0, "{stats:?}");
        assert_eq!(multiset(with), multiset(without));
    }

    #[test]
    fn keys_that_never_repeat_pass_the_combining_table_by() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input: Vec<String> = (0..50_000).map(|i| format!("k{i:07}")).collect();
        let (parts, stats) =
            collect_words(dir.path(), 256 << 10, Some(Box::new(SumCombiner)), &input);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), input.len());
        assert!(
            parts.iter().all(|p| p.windows(2).all(|w| w[0].0 < w[1].0)),
            "segments sorted, one record per key"
        );
        assert!(stats.spills > 2, "{stats:?}");
    }
}
