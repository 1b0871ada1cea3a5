//! Map-side pre-aggregation for stages with a combiner: a hash table of a few megabytes
//! gathers the values of the first keys it meets and puts each key's values through the
//! combiner in batches. Frequent keys (a word count's common words) collapse there for about
//! the cost of a cache miss; other keys pass on to the sort buffer. The table drains
//! into the sort buffer before each spill, and the collector drops it when it seldom hits.

use crate::error::MrResult;
use crate::sort::{key_prefix, CollectorStats, GroupValues, RawCombiner};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Keys the table holds at most: 56 Ki slots of 192 bytes in 64 Ki buckets (7/8 full at
/// most), 12 MiB. Past a core's L2 cache, but a hit still costs far less than a record through
/// the sort; for Zipf words, 16 Ki and 128 Ki slots both measured slower.
const MAX_SLOTS: usize = 56 * 1024;

/// Bytes of values a slot holds inline before they go through the combiner.
const INLINE: usize = 152;

/// Where the table puts records that leave it: (partition, key, value).
pub(crate) type Emit<'a> = dyn FnMut(u32, &[u8], &[u8]) -> MrResult<()> + 'a;

/// Where a record went.
pub(crate) enum Added {
    /// Into the table.
    Held,
    /// The table is full (or the value too large): it goes to the sort buffer.
    Declined,
}

/// One key and its values not yet combined, stored in the hash table's bucket itself: a hit
/// reads one slot and nothing else (for keys of up to 16 bytes).
#[repr(align(64))]
struct Slot {
    /// The key's first 16 bytes, big-endian, zero-padded.
    prefix: u128,
    hash: u64,
    partition: u32,
    /// The whole key, in the key arena.
    key_start: u32,
    key_len: u32,
    /// How many values `values` holds, and how many of its bytes they use.
    count: u16,
    used: u8,
    /// Each value as a one-byte length, then its bytes.
    values: [u8; INLINE],
}

impl Slot {
    fn key<'k>(&self, keys: &'k [u8]) -> &'k [u8] {
        &keys[self.key_start as usize..(self.key_start + self.key_len) as usize]
    }

    fn fits(&self, value: &[u8]) -> bool {
        self.used as usize + 1 + value.len() <= INLINE
    }

    fn push(&mut self, value: &[u8]) {
        let at = self.used as usize;
        self.values[at] = value.len() as u8;
        self.values[at + 1..at + 1 + value.len()].copy_from_slice(value);
        self.used += 1 + value.len() as u8;
        self.count += 1;
    }

    /// Its values, as the group a combiner reads under `key` (its key).
    fn values<'a>(&'a self, key: &'a [u8]) -> SlotValues<'a> {
        SlotValues {
            key,
            values: &self.values[..self.used as usize],
        }
    }
}

/// Keys in an arena, one slot each in a hash table.
pub(crate) struct CombineTable {
    /// How many keys it holds at most.
    capacity: usize,
    slots: HashTable<Slot>,
    keys: Vec<u8>,
    /// Records offered and held since the table was last drained.
    offered: u64,
    held: u64,
    /// The combiner's output for one slot: (key length, value length, key, value) each.
    scratch: Vec<u8>,
    hasher: foldhash::fast::FixedState,
}

impl CombineTable {
    /// A table using at most about `budget` bytes.
    pub fn new(budget: usize) -> Self {
        let capacity = (budget / Self::PER_SLOT).clamp(1, MAX_SLOTS);
        CombineTable {
            capacity,
            slots: HashTable::with_capacity(capacity),
            keys: Vec::new(),
            offered: 0,
            held: 0,
            scratch: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6d72_636f_6d62),
        }
    }

    /// A slot's share of memory: its bucket (at 7/8 load) and control byte.
    const PER_SLOT: usize = std::mem::size_of::<Slot>() * 8 / 7 + 1;

    /// Memory held: the buckets and the keys.
    pub fn bytes(&self) -> usize {
        self.keys.len() + self.capacity * Self::PER_SLOT
    }

    /// True when fewer than one record in eight found its key here since the last drain: the
    /// lookups cost more than they save.
    pub fn seldom_hits(&self) -> bool {
        self.held * 8 < self.offered
    }

    /// Offers a record; `partition` is asked only for a key new to the table. A held value
    /// may first push the key's earlier values through the combiner (see [`combine`]).
    pub fn add(
        &mut self,
        key: &[u8],
        value: &[u8],
        partition: &dyn Fn() -> MrResult<u32>,
        combiner: &mut dyn RawCombiner,
        stats: &mut CollectorStats,
        overflow: &mut Emit<'_>,
    ) -> MrResult<Added> {
        self.offered += 1;
        if 1 + value.len() > INLINE / 2 {
            return Ok(Added::Declined);
        }
        let prefix = key_prefix(key);
        // A short key is its prefix and length: hashing those two words is cheaper.
        let hash = if key.len() <= 16 {
            self.hasher.hash_one((prefix, key.len()))
        } else {
            self.hasher.hash_one(key)
        };
        let full = self.slots.len() >= self.capacity;
        let keys = &self.keys;
        // Looking up does not grow the table (an entry would make room for one more).
        let found = self.slots.find_entry(hash, |s| {
            s.prefix == prefix
                && s.key_len as usize == key.len()
                && (key.len() <= 16 || s.key(keys) == key)
        });
        let slot = match found {
            Ok(e) => e.into_mut(),
            Err(_) if full => return Ok(Added::Declined),
            Err(absent) => {
                let slot = Slot {
                    prefix,
                    hash,
                    partition: partition()?,
                    key_start: self.keys.len() as u32,
                    key_len: key.len() as u32,
                    count: 0,
                    used: 0,
                    values: [0; INLINE],
                };
                self.keys.extend_from_slice(key);
                absent
                    .into_table()
                    .insert_unique(hash, slot, |s| s.hash)
                    .into_mut()
            }
        };
        if !slot.fits(value) {
            combine(
                slot,
                &self.keys,
                &mut self.scratch,
                combiner,
                stats,
                overflow,
            )?;
            if !slot.fits(value) {
                return Ok(Added::Declined);
            }
        }
        slot.push(value);
        self.held += 1;
        Ok(Added::Held)
    }

    /// Empties the table into `out`: each key's values combined when it holds more than one.
    pub fn drain(
        &mut self,
        combiner: &mut dyn RawCombiner,
        stats: &mut CollectorStats,
        out: &mut Emit<'_>,
    ) -> MrResult<()> {
        for slot in self.slots.iter_mut() {
            if slot.count > 1 {
                combine(slot, &self.keys, &mut self.scratch, combiner, stats, out)?;
            }
            let key = slot.key(&self.keys);
            let mut values = slot.values(key);
            while let Some(v) = values.next_value()? {
                out(slot.partition, key, v)?;
            }
        }
        self.slots.clear();
        self.keys.clear();
        self.offered = 0;
        self.held = 0;
        Ok(())
    }
}

/// Runs the combiner over a slot's values. One output record with the slot's key that fits
/// becomes the slot's only value; any other output goes to `overflow` (with the slot's
/// partition) and leaves the slot empty.
fn combine(
    slot: &mut Slot,
    keys: &[u8],
    scratch: &mut Vec<u8>,
    combiner: &mut dyn RawCombiner,
    stats: &mut CollectorStats,
    overflow: &mut Emit<'_>,
) -> MrResult<()> {
    let key = slot.key(keys);
    scratch.clear();
    let mut outputs = 0u64;
    let mut same_key = true;
    let mut group = slot.values(key);
    combiner.combine(&mut group, &mut |k, v| {
        outputs += 1;
        same_key &= k == key;
        scratch.extend_from_slice(&(k.len() as u32).to_le_bytes());
        scratch.extend_from_slice(&(v.len() as u32).to_le_bytes());
        scratch.extend_from_slice(k);
        scratch.extend_from_slice(v);
        Ok(())
    })?;
    stats.combine_input_records += u64::from(slot.count);
    stats.combine_output_records += outputs;
    slot.count = 0;
    slot.used = 0;
    let (_, _, v) = scratch_record(scratch, 0).unwrap_or((0, &[], &[]));
    if outputs == 1 && same_key && v.len() < INLINE / 2 {
        slot.push(v);
    } else {
        let mut at = 0;
        while let Some((next, k, v)) = scratch_record(scratch, at) {
            overflow(slot.partition, k, v)?;
            at = next;
        }
    }
    Ok(())
}

/// The scratch record at `at`, if any: (where the next starts, key, value).
fn scratch_record(buf: &[u8], at: usize) -> Option<(usize, &[u8], &[u8])> {
    let len = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes")) as usize;
    if at >= buf.len() {
        return None;
    }
    let (k, v) = (at + 8, at + 8 + len(at));
    let end = v + len(at + 4);
    Some((end, &buf[k..v], &buf[v..end]))
}

/// A slot's values, as the group a combiner reads.
struct SlotValues<'a> {
    key: &'a [u8],
    /// The values not yet read.
    values: &'a [u8],
}

impl GroupValues for SlotValues<'_> {
    fn key(&self) -> &[u8] {
        self.key
    }
    fn next_value(&mut self) -> MrResult<Option<&[u8]>> {
        let Some((&len, rest)) = self.values.split_first() else {
            return Ok(None);
        };
        let (value, rest) = rest.split_at(len as usize);
        self.values = rest;
        Ok(Some(value))
    }
}
