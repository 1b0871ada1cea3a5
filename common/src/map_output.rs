//! The map output format: a map attempt's output is one file of per-partition segments (each a
//! compressed IFile stream) and an index beside it saying where each partition's segment is.
//! The task runtime (`mapreduce`) writes both; the worker's shuffle server reads the index to
//! serve one partition, so the format lives here and the worker needs no user SDK.

use crate::error::{Error, IoContext, Result};
use std::path::{Path, PathBuf};

/// A partition's segment in a map output (or spill) file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub offset: u64,
    pub len: u64,
    pub records: u64,
    pub raw_bytes: u64,
}

const INDEX_MAGIC: &[u8; 4] = b"MOI1";
/// Bytes of one segment in the index: four little-endian u64.
const ENTRY_LEN: usize = 32;

/// Where the index of a map output file lives.
pub fn index_path(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(".index");
    PathBuf::from(p)
}

/// Writes an index: the magic, the segment count (u32 LE), the segments, and a CRC32 of all
/// that, so a torn or foreign file is refused rather than served.
pub fn write_index(path: &Path, segments: &[Segment]) -> Result<()> {
    let mut buf = INDEX_MAGIC.to_vec();
    buf.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    for s in segments {
        for v in [s.offset, s.len, s.records, s.raw_bytes] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    buf.extend_from_slice(&crc32fast::hash(&buf).to_le_bytes());
    std::fs::write(path, buf).at(path)
}

/// Reads the index of a map output file.
pub fn read_index(path: &Path) -> Result<Vec<Segment>> {
    let buf = std::fs::read(path).at(path)?;
    let bad = || Error::Corrupt {
        path: path.into(),
        message: "not a valid map output index".into(),
    };
    if buf.len() < 12 || &buf[..4] != INDEX_MAGIC {
        return Err(bad());
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(bad());
    }
    let count = body
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(bad)? as usize;
    if body.len() != 8 + count * ENTRY_LEN {
        return Err(bad());
    }
    Ok(body[8..]
        .chunks_exact(ENTRY_LEN)
        .map(|c| {
            let mut f = c.chunks_exact(8).map(|b| {
                b.iter()
                    .rev()
                    .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
            });
            let mut next = || f.next().unwrap_or_default();
            Segment {
                offset: next(),
                len: next(),
                records: next(),
                raw_bytes: next(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments() -> Vec<Segment> {
        (0..3)
            .map(|i| Segment {
                offset: i * 1000,
                len: 1000 - i,
                records: 10 + i,
                raw_bytes: u64::MAX - i,
            })
            .collect()
    }

    #[test]
    fn an_index_reads_back_what_was_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = index_path(&dir.path().join("file.out"));
        assert!(path.ends_with("file.out.index"));
        write_index(&path, &segments()).expect("write");
        assert_eq!(read_index(&path).expect("read"), segments());
        write_index(&path, &[]).expect("write empty");
        assert_eq!(read_index(&path).expect("read empty"), Vec::new());
    }

    #[test]
    fn a_damaged_or_truncated_index_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("file.out.index");
        write_index(&path, &segments()).expect("write");
        let good = std::fs::read(&path).expect("read");
        let mut flipped = good.clone();
        flipped[20] ^= 1;
        for bad in [flipped, good[..good.len() - 1].to_vec(), b"MOI1".to_vec()] {
            std::fs::write(&path, bad).expect("write");
            assert!(matches!(read_index(&path), Err(Error::Corrupt { .. })));
        }
        assert!(matches!(
            read_index(&dir.path().join("missing.index")),
            Err(Error::Io { .. })
        ));
    }
}
