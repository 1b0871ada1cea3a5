//! In-place most-significant-digit radix sort (American flag sort) for the map side's sort
//! index: entries are bucketed by partition, then by the bytes of their 16-byte key prefix,
//! one byte per level; only small buckets, and entries whose prefixes tie, go to a
//! comparison sort. A level costs two passes over its bucket, where a comparison sort
//! compares each entry some log2(n) times, and no memory beyond the entries is needed.

use std::cmp::Ordering;

/// Buckets at most this large are comparison-sorted.
const SMALL: usize = 48;

/// Sorts `items` by `cmp`, which must order by `bucket` (in `0..buckets`) first, then by
/// `digits` (as big-endian bytes), then by anything else.
pub(crate) fn sort<T: Copy>(
    items: &mut [T],
    buckets: usize,
    bucket: impl Fn(&T) -> usize,
    digits: impl Fn(&T) -> u128 + Copy,
    cmp: impl Fn(&T, &T) -> Ordering + Copy,
) {
    let mut counts = vec![0usize; buckets];
    distribute(items, &mut counts, bucket);
    let mut from = 0;
    for c in counts {
        radix(&mut items[from..from + c], 0, digits, cmp);
        from += c;
    }
}

/// Sorts items that agree on their first `level` digit bytes.
fn radix<T: Copy>(
    items: &mut [T],
    level: u32,
    digits: impl Fn(&T) -> u128 + Copy,
    cmp: impl Fn(&T, &T) -> Ordering + Copy,
) {
    if items.len() <= SMALL || level == 16 {
        items.sort_unstable_by(cmp);
        return;
    }
    let shift = 8 * (15 - level);
    let mut counts = [0usize; 256];
    distribute(items, &mut counts, |t| {
        ((digits(t) >> shift) & 0xFF) as usize
    });
    let mut from = 0;
    for c in counts {
        if c > 1 {
            radix(&mut items[from..from + c], level + 1, digits, cmp);
        }
        from += c;
    }
}

/// Moves every item into its bucket's range (buckets in order; not stable); `counts`
/// receives each bucket's size.
fn distribute<T: Copy>(items: &mut [T], counts: &mut [usize], bucket: impl Fn(&T) -> usize) {
    counts.fill(0);
    for t in items.iter() {
        counts[bucket(t)] += 1;
    }
    if counts.contains(&items.len()) {
        return;
    }
    // `next[b]`: the first place of bucket b not yet holding one of its items.
    let mut next = Vec::with_capacity(counts.len());
    let mut ends = Vec::with_capacity(counts.len());
    let mut at = 0;
    for &c in counts.iter() {
        next.push(at);
        at += c;
        ends.push(at);
    }
    for b in 0..counts.len() {
        while next[b] < ends[b] {
            // Carry the item found here to its bucket, swapping out the one there, until an
            // item of bucket b comes back.
            let mut t = items[next[b]];
            let mut d = bucket(&t);
            while d != b {
                std::mem::swap(&mut t, &mut items[next[d]]);
                next[d] += 1;
                d = bucket(&t);
            }
            items[next[b]] = t;
            next[b] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_a_comparison_sort() {
        let mut x = 7u64;
        let mut items: Vec<(usize, u128, u32)> = (0..20_000u32)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Few partitions, prefixes sharing leading bytes, and many ties.
                let prefix = (u128::from((x >> 40) % 50) << 100) | u128::from((x >> 20) % 7);
                ((x % 3) as usize, prefix, i)
            })
            .collect();
        let mut expected = items.clone();
        expected.sort();
        sort(&mut items, 3, |t| t.0, |t| t.1, |a, b| a.cmp(b));
        assert_eq!(items, expected);
    }
}
