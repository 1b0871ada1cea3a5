//! The sort benchmark, as Hadoop's examples have it:
//! - `terasort gen ROWS OUT [--maps N]`: ROWS 100-byte records laid out as teragen writes them
//!   (10-byte random key, row id, filler), map-only;
//! - `terasort sort IN OUT [--reducers N]`: a total-order sort by key (boundaries sampled from
//!   the input); the parts concatenate into one sorted file of the same 100-byte records;
//! - `terasort validate IN REPORT --input ORIG`: checks the order inside and across IN's
//!   parts, and that IN's records have the same checksum as ORIG's; fails when either is off.

use mapreduce::{
    fail, Dest, Input, Job, Mapper, MrResult, Output, Record, Reducer, Stage, TaskContext, Values,
};

const RECORD: u64 = 100;
const KEY: usize = 10;

type Key = [u8; KEY];
type Rest = [u8; 90];

/// A deterministic pseudo-random 128-bit number per row (SplitMix64 twice).
fn row_random(row: u64) -> u128 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(row.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15));
    let b = mix(row
        .wrapping_mul(2)
        .wrapping_add(1)
        .wrapping_add(0x9e37_79b9_7f4a_7c15));
    ((a as u128) << 64) | b as u128
}

/// One record as teragen lays it out: key, 0x00 0x11, the row id in 32 hex digits,
/// 0x88 0x99 0xAA 0xBB, 48 filler letters, 0xCC 0xDD 0xEE 0xFF.
fn make_record(row: u64) -> (Key, Rest) {
    let r = row_random(row).to_be_bytes();
    let mut key = [0u8; KEY];
    key.copy_from_slice(&r[..KEY]);
    let mut rest = [0u8; 90];
    rest[0] = 0x00;
    rest[1] = 0x11;
    rest[2..34].copy_from_slice(format!("{row:032X}").as_bytes());
    rest[34..38].copy_from_slice(&[0x88, 0x99, 0xAA, 0xBB]);
    for (i, b) in rest[38..86].iter_mut().enumerate() {
        *b = b'A' + ((row as usize + i / 4) % 26) as u8;
    }
    rest[86..90].copy_from_slice(&[0xCC, 0xDD, 0xEE, 0xFF]);
    (key, rest)
}

struct Generate;

impl Mapper for Generate {
    type Key = Key;
    type Value = Rest;
    fn map(&mut self, record: &Record<'_>, out: &mut Output<'_, Key, Rest>) -> MrResult<()> {
        let (k, v) = make_record(record.offset);
        out.emit(&k, &v)
    }
}

fn split_record(bytes: &[u8]) -> MrResult<(Key, Rest)> {
    if bytes.len() != RECORD as usize {
        return Err(fail(format!("a record of {} bytes", bytes.len())));
    }
    let mut k = [0u8; KEY];
    k.copy_from_slice(&bytes[..KEY]);
    let mut v = [0u8; 90];
    v.copy_from_slice(&bytes[KEY..]);
    Ok((k, v))
}

/// Identity: the key is the record's first 10 bytes.
struct SortMap;

impl Mapper for SortMap {
    type Key = Key;
    type Value = Rest;
    fn map(&mut self, record: &Record<'_>, out: &mut Output<'_, Key, Rest>) -> MrResult<()> {
        let (k, v) = split_record(record.bytes())?;
        out.emit(&k, &v)
    }
}

struct SortReduce;

impl Reducer for SortReduce {
    type Key = Key;
    type Value = Rest;
    type OutKey = Key;
    type OutValue = Rest;
    fn reduce(
        &mut self,
        key: Key,
        values: &mut Values<'_, Key, Rest>,
        out: &mut Output<'_, Key, Rest>,
    ) -> MrResult<()> {
        for v in values {
            out.emit(&key, &v)?;
        }
        Ok(())
    }
}

/// What a validate map reports about its split: (first key, last key, records, checksum,
/// misordered records).
type Summary = (Vec<u8>, Vec<u8>, u64, u64, u64);

/// Checks its split's order and sums CRCs; input 0 is the sorted output, input 1 the original.
#[derive(Default)]
struct ValidateMap {
    input: usize,
    first: Option<Vec<u8>>,
    last: Vec<u8>,
    records: u64,
    checksum: u64,
    misordered: u64,
    path: String,
    start: u64,
}

impl Mapper for ValidateMap {
    /// (0 = sorted output, 1 = original input; file; offset): the sorted output's splits
    /// reach the reducer in file and offset order.
    type Key = (u8, String, u64);
    type Value = Summary;

    fn setup(&mut self, ctx: &mut TaskContext) -> MrResult<()> {
        self.path = ctx.split_path().to_string();
        self.start = ctx.split_start();
        Ok(())
    }

    fn map(
        &mut self,
        record: &Record<'_>,
        _out: &mut Output<'_, Self::Key, Summary>,
    ) -> MrResult<()> {
        let bytes = record.bytes();
        self.input = record.input;
        self.records += 1;
        self.checksum = self.checksum.wrapping_add(crc32fast::hash(bytes) as u64);
        if record.input == 0 {
            let key = &bytes[..KEY.min(bytes.len())];
            if key < self.last.as_slice() {
                self.misordered += 1;
            }
            self.last.clear();
            self.last.extend_from_slice(key);
            if self.first.is_none() {
                self.first = Some(key.to_vec());
            }
        }
        Ok(())
    }

    fn cleanup(&mut self, out: &mut Output<'_, Self::Key, Summary>) -> MrResult<()> {
        if self.records == 0 {
            return Ok(());
        }
        let summary = (
            self.first.take().unwrap_or_default(),
            std::mem::take(&mut self.last),
            self.records,
            self.checksum,
            self.misordered,
        );
        out.emit(&(self.input as u8, self.path.clone(), self.start), &summary)
    }
}

/// Joins the split summaries: order across splits, and checksums of both sides.
#[derive(Default)]
struct ValidateReduce {
    prev_last: Option<Vec<u8>>,
    sorted: (u64, u64, u64),
    original: (u64, u64),
}

impl Reducer for ValidateReduce {
    type Key = (u8, String, u64);
    type Value = Summary;
    type OutKey = String;
    type OutValue = String;

    fn reduce(
        &mut self,
        key: Self::Key,
        values: &mut Values<'_, Self::Key, Summary>,
        _out: &mut Output<'_, String, String>,
    ) -> MrResult<()> {
        for (first, last, records, checksum, misordered) in values {
            if key.0 == 0 {
                if self.prev_last.as_ref().is_some_and(|p| first < *p) {
                    self.sorted.2 += 1;
                }
                self.prev_last = Some(last);
                self.sorted.0 += records;
                self.sorted.1 = self.sorted.1.wrapping_add(checksum);
                self.sorted.2 += misordered;
            } else {
                self.original.0 += records;
                self.original.1 = self.original.1.wrapping_add(checksum);
            }
        }
        Ok(())
    }

    fn cleanup(&mut self, out: &mut Output<'_, String, String>) -> MrResult<()> {
        let (records, checksum, misordered) = self.sorted;
        out.emit("records", &records.to_string())?;
        out.emit("checksum", &format!("{checksum:016x}"))?;
        out.emit("input_checksum", &format!("{:016x}", self.original.1))?;
        out.emit("misordered", &misordered.to_string())?;
        if misordered > 0 {
            return Err(fail(format!("{misordered} records out of order")));
        }
        if (records, checksum) != self.original {
            return Err(fail(format!(
                "the output's {records} records (checksum {checksum:016x}) differ from the input's {} (checksum {:016x})",
                self.original.0, self.original.1
            )));
        }
        Ok(())
    }
}

/// `--name value` options, in order.
type Options = Vec<(String, String)>;

/// Splits `args` into positional arguments and `--name value` options.
fn parse(args: &[String]) -> MrResult<(Vec<String>, Options)> {
    let (mut pos, mut opts) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let v = it
                .next()
                .ok_or_else(|| fail(format!("--{name} needs a value")))?;
            opts.push((name.to_string(), v.clone()));
        } else {
            pos.push(a.clone());
        }
    }
    Ok((pos, opts))
}

fn number(opts: &[(String, String)], name: &str, default: u64) -> MrResult<u64> {
    match opts.iter().find(|(n, _)| n == name) {
        Some((_, v)) => v
            .parse()
            .map_err(|_| fail(format!("--{name} {v:?}: not a number"))),
        None => Ok(default),
    }
}

fn job(args: &[String]) -> MrResult<Job> {
    let usage = "usage: terasort gen ROWS OUT [--maps N] | sort IN OUT [--reducers N] | validate IN REPORT --input ORIG";
    let (pos, opts) = parse(args)?;
    let pos: Vec<&str> = pos.iter().map(String::as_str).collect();
    match pos.as_slice() {
        ["gen", rows, out] => {
            let rows: u64 = rows
                .parse()
                .map_err(|_| fail(format!("ROWS {rows:?}: not a number")))?;
            let maps = number(&opts, "maps", 4)? as u32;
            Ok(Job::new("teragen").stage(
                Stage::map("generate", || Generate)
                    .input(Input::range(rows, maps))
                    .output(Dest::raw(*out)),
            ))
        }
        ["sort", input, out] => {
            let reducers = number(&opts, "reducers", 4)? as u32;
            Ok(Job::new("terasort")
                .settings(|s| s.compression = "snappy".into())
                .stage(
                    Stage::map("sort", || SortMap)
                        .input(Input::fixed(*input, RECORD))
                        .reducer(|| SortReduce, reducers)
                        .total_order(100_000)
                        // As Hadoop's terasort: the sorted output is written once.
                        .output(Dest::raw(*out).replication(1)),
                ))
        }
        ["validate", input, report] => {
            let orig = opts
                .iter()
                .find(|(n, _)| n == "input")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| fail("validate needs --input ORIG (the unsorted records)"))?;
            Ok(Job::new("teravalidate")
                .settings(|s| s.max_attempts = 1)
                .stage(
                    Stage::map("validate", ValidateMap::default)
                        .input(Input::fixed(*input, RECORD))
                        .input(Input::fixed(orig, RECORD))
                        .reducer(ValidateReduce::default, 1)
                        .output(Dest::text(*report)),
                ))
        }
        _ => Err(fail(usage)),
    }
}

fn main() {
    mapreduce::run(|env| job(env.args()))
}
