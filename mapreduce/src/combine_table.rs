//! Map-side pre-aggregation for stages with a combiner: a small hash table, sized to stay in
//! a core's cache, gathers the values of the first keys it meets and puts each key's values
//! through the combiner in batches. Frequent keys (a word count's common words) collapse
//! there at the cost of a cache hit; other keys pass on to the sort buffer. The table drains
//! into the sort buffer before each spill, and the collector drops it when it seldom hits.

use crate::error::MrResult;
use crate::sort::{key_prefix, CollectorStats, GroupValues, RawCombiner};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Keys the table holds at most: 16 Ki slots of 128 bytes, 2 MiB, about one core's L2 cache.
const MAX_SLOTS: usize = 16 * 1024;

/// Bytes of values a slot holds inline before they go through the combiner.
const INLINE: usize = 88;

/// Where the table puts records that leave it: (partition, key, value).
pub(crate) type Emit<'a> = dyn FnMut(u32, &[u8], &[u8]) -> MrResult<()> + 'a;

/// Where a record went.
pub(crate) enum Added {
    /// Into the table.
    Held,
    /// The table is full (or the value too large): it goes to the sort buffer.
    Declined,
}

/// One key and its values not yet combined.
#[repr(align(64))]
struct Slot {
    /// The key's first 16 bytes, big-endian, zero-padded: keys of up to 16 bytes compare
    /// without reading the key arena.
    prefix: u128,
    hash: u64,
    partition: u32,
    key_start: u32,
    key_len: u32,
    /// How many values `values` holds, and how many of its bytes they use.
    count: u16,
    used: u8,
    /// Each value as a one-byte length, then its bytes.
    values: [u8; INLINE],
}

/// Keys in an arena, one slot each, found through a hash index.
pub(crate) struct CombineTable {
    /// How many keys it holds at most.
    capacity: usize,
    slots: Vec<Slot>,
    index: HashTable<u32>,
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
        let per_slot = std::mem::size_of::<Slot>() + std::mem::size_of::<u32>() + 1;
        CombineTable {
            capacity: (budget / per_slot).clamp(1, MAX_SLOTS),
            slots: Vec::new(),
            index: HashTable::new(),
            keys: Vec::new(),
            offered: 0,
            held: 0,
            scratch: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x6d72_636f_6d62),
        }
    }

    /// Memory held: slots, their index and the keys.
    pub fn bytes(&self) -> usize {
        self.keys.len()
            + self.slots.len() * (std::mem::size_of::<Slot>() + std::mem::size_of::<u32>() + 1)
    }

    /// True when fewer than one record in eight found its key here since the last drain: the
    /// lookups cost more than they save.
    pub fn seldom_hits(&self) -> bool {
        self.held * 8 < self.offered
    }

    /// Offers a record; `partition` is asked only for a key new to the table. A held value
    /// may first push the key's earlier values through the combiner (see [`Self::combine`]).
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
        let hash = self.hasher.hash_one(key);
        let prefix = key_prefix(key);
        let (slots, keys) = (&self.slots, &self.keys);
        let found = self.index.find(hash, |&i| {
            let s = &slots[i as usize];
            s.prefix == prefix
                && s.key_len as usize == key.len()
                && (key.len() <= 16
                    || &keys[s.key_start as usize..(s.key_start + s.key_len) as usize] == key)
        });
        let id = match found {
            Some(&id) => id,
            None if self.slots.len() < self.capacity => {
                let id = self.slots.len() as u32;
                self.slots.push(Slot {
                    prefix,
                    hash,
                    partition: partition()?,
                    key_start: self.keys.len() as u32,
                    key_len: key.len() as u32,
                    count: 0,
                    used: 0,
                    values: [0; INLINE],
                });
                self.keys.extend_from_slice(key);
                let slots = &self.slots;
                self.index
                    .insert_unique(hash, id, |&i| slots[i as usize].hash);
                id
            }
            None => return Ok(Added::Declined),
        };
        if self.slots[id as usize].used as usize + 1 + value.len() > INLINE {
            self.combine(id, combiner, stats, overflow)?;
            if self.slots[id as usize].used as usize + 1 + value.len() > INLINE {
                return Ok(Added::Declined);
            }
        }
        let slot = &mut self.slots[id as usize];
        let at = slot.used as usize;
        slot.values[at] = value.len() as u8;
        slot.values[at + 1..at + 1 + value.len()].copy_from_slice(value);
        slot.used += 1 + value.len() as u8;
        slot.count += 1;
        self.held += 1;
        Ok(Added::Held)
    }

    /// Runs the combiner over a slot's values. One output record with the slot's key that
    /// fits becomes the slot's only value; any other output goes to `overflow` (with the
    /// slot's partition) and leaves the slot empty.
    fn combine(
        &mut self,
        id: u32,
        combiner: &mut dyn RawCombiner,
        stats: &mut CollectorStats,
        overflow: &mut Emit<'_>,
    ) -> MrResult<()> {
        let slot = &mut self.slots[id as usize];
        let key = &self.keys[slot.key_start as usize..(slot.key_start + slot.key_len) as usize];
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut outputs = 0u64;
        let mut same_key = true;
        let mut group = SlotValues {
            key,
            values: &slot.values[..slot.used as usize],
        };
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
            slot.values[0] = v.len() as u8;
            slot.values[1..1 + v.len()].copy_from_slice(v);
            slot.used = 1 + v.len() as u8;
            slot.count = 1;
        } else {
            let mut at = 0;
            while let Some((next, k, v)) = scratch_record(scratch, at) {
                overflow(slot.partition, k, v)?;
                at = next;
            }
        }
        Ok(())
    }

    /// Empties the table into `out`: each key's values combined when it holds more than one.
    pub fn drain(
        &mut self,
        combiner: &mut dyn RawCombiner,
        stats: &mut CollectorStats,
        out: &mut Emit<'_>,
    ) -> MrResult<()> {
        for id in 0..self.slots.len() as u32 {
            if self.slots[id as usize].count > 1 {
                self.combine(id, combiner, stats, out)?;
            }
            let s = &self.slots[id as usize];
            let key = &self.keys[s.key_start as usize..(s.key_start + s.key_len) as usize];
            let mut values = SlotValues {
                key,
                values: &s.values[..s.used as usize],
            };
            while let Some(v) = values.next_value()? {
                out(s.partition, key, v)?;
            }
        }
        self.slots.clear();
        self.index.clear();
        self.keys.clear();
        self.offered = 0;
        self.held = 0;
        Ok(())
    }
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
