//! CRC32 checksums per fixed-size chunk of block data, as stored in a replica's `.meta` file
//! and sent beside the data in every transfer packet.

/// Bytes of the `.meta` header: magic and the chunk size.
pub const META_HEADER_LEN: u64 = 8;
const META_MAGIC: &[u8; 4] = b"CRC1";

/// Number of chunks covering `len` bytes.
pub fn chunks(len: usize, bytes_per_checksum: usize) -> usize {
    len.div_ceil(bytes_per_checksum)
}

/// Appends the little-endian CRC32 of each chunk of `data` to `out`.
pub fn compute(data: &[u8], bytes_per_checksum: usize, out: &mut Vec<u8>) {
    for chunk in data.chunks(bytes_per_checksum) {
        out.extend_from_slice(&crc32fast::hash(chunk).to_le_bytes());
    }
}

/// Checks `data` against `sums`; on mismatch returns the index of the first bad chunk.
pub fn verify(data: &[u8], sums: &[u8], bytes_per_checksum: usize) -> Result<(), usize> {
    if sums.len() != chunks(data.len(), bytes_per_checksum) * 4 {
        return Err(0);
    }
    for (i, (chunk, sum)) in data
        .chunks(bytes_per_checksum)
        .zip(sums.chunks_exact(4))
        .enumerate()
    {
        if crc32fast::hash(chunk).to_le_bytes() != sum {
            return Err(i);
        }
    }
    Ok(())
}

/// The CRC32 of bytes A followed by bytes B, from A's CRC and length and B's: how chunk CRCs
/// combine into a block's, and block CRCs into a file's, without the bytes.
pub fn combine(crc_a: u32, len_a: u64, crc_b: u32, len_b: u64) -> u32 {
    let mut a = crc32fast::Hasher::new_with_initial_len(crc_a, len_a);
    a.combine(&crc32fast::Hasher::new_with_initial_len(crc_b, len_b));
    a.finalize()
}

/// The header of a `.meta` file.
pub fn meta_header(bytes_per_checksum: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(META_MAGIC);
    h[4..].copy_from_slice(&bytes_per_checksum.to_le_bytes());
    h
}

/// Parses a `.meta` header, returning the chunk size.
pub fn parse_meta_header(h: &[u8]) -> Option<u32> {
    if h.len() < 8 || &h[..4] != META_MAGIC {
        return None;
    }
    let bpc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    (bpc > 0).then_some(bpc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_crcs_equal_the_crc_of_the_concatenation() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0, 1, 512, 4999, 5000] {
            let (a, b) = data.split_at(cut);
            let both = combine(
                crc32fast::hash(a),
                a.len() as u64,
                crc32fast::hash(b),
                b.len() as u64,
            );
            assert_eq!(both, crc32fast::hash(&data), "cut at {cut}");
        }
    }

    #[test]
    fn detects_a_flipped_byte_in_the_right_chunk() {
        let mut data = vec![7u8; 1000];
        let mut sums = Vec::new();
        compute(&data, 256, &mut sums);
        assert_eq!(sums.len(), 16);
        assert_eq!(verify(&data, &sums, 256), Ok(()));
        data[600] ^= 1;
        assert_eq!(verify(&data, &sums, 256), Err(2));
    }
}
