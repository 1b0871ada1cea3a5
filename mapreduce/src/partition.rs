//! Partitioners: which reducer a map output key goes to. The default hashes the key's
//! grouping prefix, so every record of a group meets at one reducer; the total-order
//! partitioner splits the key space at sampled boundaries, so the reducers' outputs
//! concatenate into one sorted whole (terasort).

use crate::key::Key;
use crate::merge::GroupPrefix;
use std::sync::Arc;

/// Chooses a partition in `0..partitions` for an encoded key.
pub trait Partitioner: Send + Sync {
    fn partition(&self, key: &[u8], partitions: u32) -> u32;
}

/// FNV-1a, 64 bits: fast, and stable across processes and releases (unlike std's hasher).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hashes the grouping prefix of each key, so a group meets at one reducer.
pub struct HashPartitioner {
    prefix: Arc<GroupPrefix>,
}

impl HashPartitioner {
    /// Hashes the prefix `prefix` measures (a stage's grouping).
    pub fn new(prefix: Arc<GroupPrefix>) -> Self {
        HashPartitioner { prefix }
    }

    /// Hashes the first `group_fields` fields of keys of type `K` (1 for a scalar key).
    pub fn for_key<K: Key>(group_fields: usize) -> Self {
        Self::new(Arc::new(move |k: &[u8]| K::prefix_len(k, group_fields)))
    }
}

impl Partitioner for HashPartitioner {
    fn partition(&self, key: &[u8], partitions: u32) -> u32 {
        // A key that does not decode is hashed whole: it still lands somewhere stable.
        let n = (self.prefix)(key).unwrap_or(key.len()).min(key.len());
        (fnv1a(&key[..n]) % partitions.max(1) as u64) as u32
    }
}

/// Splits the key space at sorted boundaries: partition `i` holds keys in
/// `[boundary[i-1], boundary[i])`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TotalOrderPartitioner {
    boundaries: Vec<Vec<u8>>,
}

impl TotalOrderPartitioner {
    /// Boundaries for `partitions` reducers from a sample of encoded keys, at its quantiles.
    pub fn from_sample(mut sample: Vec<Vec<u8>>, partitions: u32) -> Self {
        sample.sort_unstable();
        let n = sample.len();
        let mut boundaries: Vec<Vec<u8>> = (1..partitions as usize)
            .filter(|_| n > 0)
            .map(|i| sample[i * n / partitions as usize].clone())
            .collect();
        boundaries.dedup();
        TotalOrderPartitioner { boundaries }
    }

    /// A partitioner from boundaries computed earlier (carried in the job spec).
    pub fn from_boundaries(boundaries: Vec<Vec<u8>>) -> Self {
        TotalOrderPartitioner { boundaries }
    }

    pub fn boundaries(&self) -> &[Vec<u8>] {
        &self.boundaries
    }
}

impl Partitioner for TotalOrderPartitioner {
    fn partition(&self, key: &[u8], partitions: u32) -> u32 {
        let p = self.boundaries.partition_point(|b| b.as_slice() <= key) as u32;
        p.min(partitions.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_partitioner_keeps_a_group_together() {
        let p = HashPartitioner::for_key::<(String, i64)>(1);
        for c in 0..50 {
            let customer = format!("customer-{c}");
            let parts: std::collections::HashSet<u32> = (0..20i64)
                .map(|day| p.partition(&(customer.clone(), day).to_key_bytes(), 8))
                .collect();
            assert_eq!(parts.len(), 1, "{customer} split over {parts:?}");
        }
        // And the groups spread over every partition.
        let used: std::collections::HashSet<u32> = (0..200)
            .map(|c| p.partition(&(format!("c{c}"), 0i64).to_key_bytes(), 8))
            .collect();
        assert_eq!(used.len(), 8);
    }

    #[test]
    fn total_order_partitions_are_ordered_and_balanced() {
        let keys: Vec<Vec<u8>> = (0..10_000u64)
            .map(|i| (i * 7919 % 10_000).to_key_bytes())
            .collect();
        let sample: Vec<Vec<u8>> = keys.iter().step_by(10).cloned().collect();
        let p = TotalOrderPartitioner::from_sample(sample, 4);
        let mut counts = [0usize; 4];
        let mut max_in: [Option<Vec<u8>>; 4] = Default::default();
        let mut min_in: [Option<Vec<u8>>; 4] = Default::default();
        for k in &keys {
            let i = p.partition(k, 4) as usize;
            counts[i] += 1;
            if max_in[i].as_ref().is_none_or(|m| k > m) {
                max_in[i] = Some(k.clone());
            }
            if min_in[i].as_ref().is_none_or(|m| k < m) {
                min_in[i] = Some(k.clone());
            }
        }
        for i in 0..3 {
            assert!(max_in[i] < min_in[i + 1], "partition {i} overlaps the next");
        }
        assert!(
            counts.iter().all(|&c| (2000..3000).contains(&c)),
            "{counts:?}"
        );
    }
}
