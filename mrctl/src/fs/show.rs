//! Printing file content: `cat`, `head` (the first KiB), `tail` (the last KiB, `-f` to follow
//! a growing file) and `text` (`.gz` and `.zst` decompressed, the SDK's binary record files
//! decoded to one `KEY<TAB>VALUE` line per record).

use super::copy::copy_stream;
use super::expand_all;
use crate::printable::escape;
use anyhow::{bail, Context};
use client::DfsClient;
use indicatif::ProgressBar;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

/// What `head` and `tail` print, as HDFS does.
const KIB: u64 = 1024;
/// How often `tail -f` looks at the file's length.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// The files a list of path arguments names; a directory is an error naming it.
fn files(dfs: &DfsClient, paths: &[String]) -> anyhow::Result<Vec<String>> {
    let paths = expand_all(dfs, paths)?;
    for p in &paths {
        if dfs.stat(p)?.is_dir {
            bail!("{}: Is a directory", escape(p));
        }
    }
    Ok(paths)
}

pub fn cat(dfs: &DfsClient, paths: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    for p in files(dfs, paths)? {
        copy_stream(
            dfs.open(&p)?,
            &mut *out,
            &p,
            "stdout",
            &ProgressBar::hidden(),
        )?;
    }
    Ok(())
}

pub fn head(dfs: &DfsClient, path: &str, out: &mut impl Write) -> anyhow::Result<()> {
    for p in files(dfs, std::slice::from_ref(&path.to_string()))? {
        let r = dfs.open(&p)?.take(KIB);
        copy_stream(r, &mut *out, &p, "stdout", &ProgressBar::hidden())?;
    }
    Ok(())
}

pub fn tail(dfs: &DfsClient, path: &str, follow: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let paths = files(dfs, std::slice::from_ref(&path.to_string()))?;
    let [p] = paths.as_slice() else {
        bail!(
            "{}: tail takes one file, the pattern matches {}",
            escape(path),
            paths.len()
        );
    };
    let mut r = dfs.open(p)?;
    let mut shown = r.len().saturating_sub(KIB);
    loop {
        r.seek_to(shown);
        shown += copy_stream(&mut r, &mut *out, p, "stdout", &ProgressBar::hidden())?;
        if !follow {
            return Ok(());
        }
        // Poll until the file grows (an append, a writer's hflush), then print from there.
        loop {
            std::thread::sleep(FOLLOW_POLL);
            r = dfs.open(p)?;
            if r.len() > shown {
                break;
            }
        }
    }
}

pub fn text(dfs: &DfsClient, paths: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    for p in files(dfs, paths)? {
        let raw = dfs.open(&p)?;
        let pb = ProgressBar::hidden();
        if p.ends_with(".gz") {
            let d = flate2::read::MultiGzDecoder::new(BufReader::new(raw));
            copy_stream(d, &mut *out, &p, "stdout", &pb)?;
        } else if p.ends_with(".zst") {
            let d = zstd::stream::read::Decoder::new(raw)
                .with_context(|| format!("{}: starting zstd", escape(&p)))?;
            copy_stream(d, &mut *out, &p, "stdout", &pb)?;
        } else {
            let mut input = BufReader::with_capacity(1 << 20, raw);
            let head = input
                .fill_buf()
                .with_context(|| format!("{}: reading", escape(&p)))?;
            if looks_like_records(head) {
                print_records(input, &p, out)?;
            } else {
                copy_stream(input, &mut *out, &p, "stdout", &pb)?;
            }
        }
    }
    Ok(())
}

/// Whether `head` (a file's first bytes) starts like a record file of the SDK
/// (`mapreduce::ifile`): a block header with plausible lengths and a known codec whose stored
/// bytes, when all in `head`, match its CRC; or the empty stream's end marker alone.
fn looks_like_records(head: &[u8]) -> bool {
    const HEADER: usize = 13;
    if head.len() < HEADER {
        return false;
    }
    let word = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let (raw_len, stored_len, crc, codec) = (word(0), word(4), word(8), head[12]);
    if raw_len == 0 && stored_len == 0 {
        return head.len() == HEADER && crc == 0 && codec == 0;
    }
    if codec > 2 || raw_len == 0 || stored_len == 0 || raw_len > 16 << 20 {
        return false;
    }
    match head.get(HEADER..HEADER + stored_len as usize) {
        Some(stored) => crc32fast::hash(stored) == crc,
        None => false,
    }
}

/// Prints each record of an SDK record file as `KEY<TAB>VALUE`, bytes that are not UTF-8 text
/// escaped.
fn print_records(input: impl Read, path: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let mut records = mapreduce::ifile::Reader::new(input, path);
    while records
        .advance()
        .with_context(|| format!("{}: not a readable record file", escape(path)))?
    {
        writeln!(
            out,
            "{}\t{}",
            escape_bytes(records.key()),
            escape_bytes(records.value())
        )?;
    }
    Ok(())
}

/// `bytes` as text: UTF-8 kept (control characters escaped), other bytes as `\xNN`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        s.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}
