//! The intermediate record stream ("IFile", as Hadoop calls it): key/value records, usually
//! sorted, in blocks that are checksummed and optionally compressed. Spills, map outputs (one
//! segment per partition) and the compact binary output format all use it.
//!
//! A stream is a run of blocks, each `[raw len u32][stored len u32][crc32 u32][codec u8]` then
//! the stored bytes, closed by a block with both lengths 0. Inside a raw block every record is
//! `[key len varint][value len varint][key][value]`.

use crate::error::{IoContext, MrError, MrResult};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// How intermediate data is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    None,
    #[default]
    Zstd,
    Snappy,
}

impl Compression {
    fn tag(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
            Compression::Snappy => 2,
        }
    }

    fn from_tag(t: u8) -> MrResult<Compression> {
        Ok(match t {
            0 => Compression::None,
            1 => Compression::Zstd,
            2 => Compression::Snappy,
            _ => return Err(MrError::Corrupt(format!("unknown compression tag {t}"))),
        })
    }

    fn compress(self, raw: &[u8], out: &mut Vec<u8>) -> MrResult<()> {
        out.clear();
        match self {
            Compression::None => out.extend_from_slice(raw),
            Compression::Zstd => {
                *out = zstd::bulk::compress(raw, 1)
                    .map_err(|e| MrError::Internal(format!("zstd: {e}")))?
            }
            Compression::Snappy => {
                out.resize(snap::raw::max_compress_len(raw.len()), 0);
                let n = snap::raw::Encoder::new()
                    .compress(raw, out)
                    .map_err(|e| MrError::Internal(format!("snappy: {e}")))?;
                out.truncate(n);
            }
        }
        Ok(())
    }

    fn decompress(self, stored: &[u8], raw_len: usize, out: &mut Vec<u8>) -> MrResult<()> {
        out.clear();
        match self {
            Compression::None => out.extend_from_slice(stored),
            Compression::Zstd => {
                *out = zstd::bulk::decompress(stored, raw_len)
                    .map_err(|e| MrError::Corrupt(format!("zstd block: {e}")))?
            }
            Compression::Snappy => {
                out.resize(raw_len, 0);
                snap::raw::Decoder::new()
                    .decompress(stored, out)
                    .map_err(|e| MrError::Corrupt(format!("snappy block: {e}")))?;
            }
        }
        if out.len() != raw_len {
            return Err(MrError::Corrupt(format!(
                "block decompressed to {} bytes, expected {raw_len}",
                out.len()
            )));
        }
        Ok(())
    }
}

const BLOCK_HEADER: usize = 13;
/// Raw bytes gathered before a block is compressed and written.
pub const BLOCK_BYTES: usize = 64 << 10;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> MrResult<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| MrError::Corrupt("record header cut short".into()))?;
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(MrError::Corrupt("varint too long".into()))
}

/// What a writer wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub records: u64,
    /// Key and value bytes.
    pub raw_bytes: u64,
    /// Bytes in the stream, headers included.
    pub stored_bytes: u64,
}

/// Writes a record stream.
pub struct Writer<W: Write> {
    out: W,
    codec: Compression,
    raw: Vec<u8>,
    stored: Vec<u8>,
    stats: Written,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, codec: Compression) -> Self {
        Writer {
            out,
            codec,
            raw: Vec::with_capacity(BLOCK_BYTES + 1024),
            stored: Vec::new(),
            stats: Written::default(),
        }
    }

    pub fn append(&mut self, key: &[u8], value: &[u8]) -> MrResult<()> {
        put_varint(&mut self.raw, key.len() as u64);
        put_varint(&mut self.raw, value.len() as u64);
        self.raw.extend_from_slice(key);
        self.raw.extend_from_slice(value);
        self.stats.records += 1;
        self.stats.raw_bytes += (key.len() + value.len()) as u64;
        if self.raw.len() >= BLOCK_BYTES {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> MrResult<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        self.codec.compress(&self.raw, &mut self.stored)?;
        // Keep the raw block when compression does not pay.
        let (codec, body) = if self.stored.len() < self.raw.len() {
            (self.codec, &self.stored)
        } else {
            (Compression::None, &self.raw)
        };
        let mut h = [0u8; BLOCK_HEADER];
        h[..4].copy_from_slice(&(self.raw.len() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(body.len() as u32).to_le_bytes());
        h[8..12].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
        h[12] = codec.tag();
        self.out
            .write_all(&h)
            .ctx(|| "writing intermediate data".into())?;
        self.out
            .write_all(body)
            .ctx(|| "writing intermediate data".into())?;
        self.stats.stored_bytes += (BLOCK_HEADER + body.len()) as u64;
        self.raw.clear();
        Ok(())
    }

    /// Writes the last block and the end marker; returns the sink and what was written.
    pub fn finish(mut self) -> MrResult<(W, Written)> {
        self.flush_block()?;
        self.out
            .write_all(&[0u8; BLOCK_HEADER])
            .ctx(|| "writing intermediate data".into())?;
        self.stats.stored_bytes += BLOCK_HEADER as u64;
        self.out
            .flush()
            .ctx(|| "writing intermediate data".into())?;
        Ok((self.out, self.stats))
    }
}

/// Reads a record stream one record at a time; the current record borrows the reader.
pub struct Reader<R: Read> {
    input: R,
    name: String,
    stored: Vec<u8>,
    block: Vec<u8>,
    pos: usize,
    key: (usize, usize),
    value: (usize, usize),
    done: bool,
}

impl<R: Read> Reader<R> {
    /// `name` says what is read, for errors.
    pub fn new(input: R, name: impl Into<String>) -> Self {
        Reader {
            input,
            name: name.into(),
            stored: Vec::new(),
            block: Vec::new(),
            pos: 0,
            key: (0, 0),
            value: (0, 0),
            done: false,
        }
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> MrError {
        MrError::Corrupt(format!("{}: {what}", self.name))
    }

    fn next_block(&mut self) -> MrResult<bool> {
        let mut h = [0u8; BLOCK_HEADER];
        let name = self.name.clone();
        self.input
            .read_exact(&mut h)
            .ctx(|| format!("reading {name}"))?;
        let raw_len = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
        let stored_len = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
        if raw_len == 0 && stored_len == 0 {
            return Ok(false);
        }
        if raw_len > 64 * BLOCK_BYTES + (16 << 20) || stored_len > raw_len + 1024 + raw_len / 8 {
            return Err(self.corrupt(format!(
                "implausible block ({raw_len} raw, {stored_len} stored)"
            )));
        }
        let codec = Compression::from_tag(h[12])?;
        self.stored.resize(stored_len, 0);
        self.input
            .read_exact(&mut self.stored)
            .ctx(|| format!("reading {name}"))?;
        if crc32fast::hash(&self.stored) != crc {
            return Err(self.corrupt("block checksum mismatch"));
        }
        codec.decompress(&self.stored, raw_len, &mut self.block)?;
        self.pos = 0;
        Ok(true)
    }

    /// Moves to the next record; false at the end of the stream.
    pub fn advance(&mut self) -> MrResult<bool> {
        if self.done {
            return Ok(false);
        }
        while self.pos >= self.block.len() {
            if !self.next_block()? {
                self.done = true;
                return Ok(false);
            }
        }
        let klen = get_varint(&self.block, &mut self.pos)? as usize;
        let vlen = get_varint(&self.block, &mut self.pos)? as usize;
        let end = self.pos + klen + vlen;
        if end > self.block.len() {
            return Err(self.corrupt("record runs past its block"));
        }
        self.key = (self.pos, self.pos + klen);
        self.value = (self.pos + klen, end);
        self.pos = end;
        Ok(true)
    }

    pub fn key(&self) -> &[u8] {
        &self.block[self.key.0..self.key.1]
    }

    pub fn value(&self) -> &[u8] {
        &self.block[self.value.0..self.value.1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(codec: Compression) {
        let mut w = Writer::new(Vec::new(), codec);
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
            .map(|i| {
                (
                    format!("key-{i:08}").into_bytes(),
                    vec![(i % 251) as u8; (i % 50) as usize],
                )
            })
            .collect();
        for (k, v) in &records {
            w.append(k, v).expect("append");
        }
        let (bytes, stats) = w.finish().expect("finish");
        assert_eq!(stats.records, 20_000);
        assert_eq!(stats.stored_bytes, bytes.len() as u64);
        let mut r = Reader::new(bytes.as_slice(), "test");
        let mut n = 0;
        while r.advance().expect("advance") {
            assert_eq!(
                (r.key(), r.value()),
                (records[n].0.as_slice(), records[n].1.as_slice())
            );
            n += 1;
        }
        assert_eq!(n, records.len());
        if codec != Compression::None {
            assert!(
                stats.stored_bytes < stats.raw_bytes / 2,
                "{codec:?} should compress: {stats:?}"
            );
        }
    }

    #[test]
    fn records_round_trip_with_every_codec() {
        for c in [Compression::None, Compression::Zstd, Compression::Snappy] {
            round_trip(c);
        }
    }

    #[test]
    fn damage_is_detected_not_read_as_data() {
        let mut w = Writer::new(Vec::new(), Compression::Snappy);
        for i in 0..1000u32 {
            w.append(&i.to_be_bytes(), b"value").expect("append");
        }
        let (mut bytes, _) = w.finish().expect("finish");
        bytes[BLOCK_HEADER + 10] ^= 0x40;
        let mut r = Reader::new(bytes.as_slice(), "spill-3");
        let err = loop {
            match r.advance() {
                Ok(true) => continue,
                Ok(false) => panic!("damage went unnoticed"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("spill-3"), "{err}");
        // A stream cut short is an error too, not a silent end.
        let (bytes, _) = {
            let mut w = Writer::new(Vec::new(), Compression::None);
            w.append(b"k", b"v").expect("append");
            w.finish().expect("finish")
        };
        let mut r = Reader::new(&bytes[..bytes.len() - 5], "cut");
        assert!(r.advance().expect("first record"));
        assert!(r.advance().is_err());
    }
}
