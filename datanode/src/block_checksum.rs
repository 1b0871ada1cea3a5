//! A replica's CRC32 over its first bytes, for `mrctl fs checksum`: combined from the chunk
//! CRCs of its `.meta` file (which the scanner and every read verify against the data), so only
//! a last chunk cut short by the asked length is read from the data file.

use common::checksum;
use common::error::{Error, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The CRC32 of the first `len` bytes of a replica of `replica_len` bytes whose `.meta` file
/// holds one CRC per `bpc` bytes.
pub fn replica_crc(
    id: u64,
    data: &File,
    meta: &File,
    bpc: u64,
    replica_len: u64,
    len: u64,
) -> Result<u32> {
    if len > replica_len {
        return Err(Error::Protocol(format!(
            "blk_{id}: {len} bytes asked, the replica has {replica_len}"
        )));
    }
    let chunks = checksum::chunks(len as usize, bpc as usize) as u64;
    let mut sums = vec![0u8; (chunks * 4) as usize];
    meta.read_exact_at(&mut sums, checksum::META_HEADER_LEN)
        .map_err(|e| Error::Protocol(format!("blk_{id}: reading its chunk checksums: {e}")))?;
    let mut crc = 0u32;
    let mut done = 0u64;
    for (i, sum) in sums.chunks_exact(4).enumerate() {
        let start = i as u64 * bpc;
        // The stored CRC covers the chunk as stored (the replica's last one may be short).
        let stored_end = (start + bpc).min(replica_len);
        let end = (start + bpc).min(len);
        let chunk_crc = if end == stored_end {
            u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]])
        } else {
            let mut bytes = vec![0u8; (end - start) as usize];
            data.read_exact_at(&mut bytes, start)
                .map_err(|e| Error::Protocol(format!("blk_{id}: reading its data: {e}")))?;
            crc32fast::hash(&bytes)
        };
        crc = checksum::combine(crc, done, chunk_crc, end - start);
        done = end;
    }
    Ok(crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_crc_of_any_prefix_matches_the_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i * 13 % 256) as u8).collect();
        let mut sums = checksum::meta_header(512).to_vec();
        checksum::compute(&bytes, 512, &mut sums);
        let (dp, mp) = (dir.path().join("d"), dir.path().join("m"));
        File::create(&dp)
            .and_then(|mut f| f.write_all(&bytes))
            .expect("data");
        File::create(&mp)
            .and_then(|mut f| f.write_all(&sums))
            .expect("meta");
        let (data, meta) = (File::open(&dp).expect("d"), File::open(&mp).expect("m"));
        for len in [0, 1, 511, 512, 513, 2999, 3000] {
            let crc = replica_crc(1, &data, &meta, 512, 3000, len).expect("crc");
            assert_eq!(crc, crc32fast::hash(&bytes[..len as usize]), "len {len}");
        }
        assert!(replica_crc(1, &data, &meta, 512, 3000, 3001).is_err());
    }
}
