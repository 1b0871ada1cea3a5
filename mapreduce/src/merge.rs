//! Merging sorted runs and grouping a sorted stream, on raw key bytes. The map side merges its
//! spills; the reduce side merges the segments fetched from every map, then groups by key
//! prefix and streams each group's values to the reducer: nothing holds a group in memory.

use crate::error::MrResult;
use crate::ifile;
use std::io::Read;

/// A stream of records in key order, read one at a time.
pub trait RecordSource {
    /// Moves to the next record; false at the end.
    fn advance(&mut self) -> MrResult<bool>;
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
}

impl<R: Read> RecordSource for ifile::Reader<R> {
    fn advance(&mut self) -> MrResult<bool> {
        ifile::Reader::advance(self)
    }
    fn key(&self) -> &[u8] {
        ifile::Reader::key(self)
    }
    fn value(&self) -> &[u8] {
        ifile::Reader::value(self)
    }
}

impl<S: RecordSource + ?Sized> RecordSource for Box<S> {
    fn advance(&mut self) -> MrResult<bool> {
        (**self).advance()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
}

/// A k-way merge of sorted sources. Equal keys come out in source order, so a merge is
/// deterministic.
pub struct Merger<S: RecordSource> {
    sources: Vec<S>,
    /// A binary min-heap of source indices with a current record.
    heap: Vec<usize>,
    started: bool,
}

impl<S: RecordSource> Merger<S> {
    pub fn new(sources: Vec<S>) -> Self {
        Merger {
            sources,
            heap: Vec::new(),
            started: false,
        }
    }

    fn less(&self, a: usize, b: usize) -> bool {
        match self.sources[a].key().cmp(self.sources[b].key()) {
            std::cmp::Ordering::Equal => a < b,
            o => o.is_lt(),
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[m]) {
                m = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[m]) {
                m = r;
            }
            if m == i {
                return;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }
}

impl<S: RecordSource> RecordSource for Merger<S> {
    fn advance(&mut self) -> MrResult<bool> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if self.sources[i].advance()? {
                    self.heap.push(i);
                }
            }
            for i in (0..self.heap.len() / 2).rev() {
                self.sift_down(i);
            }
            return Ok(!self.heap.is_empty());
        }
        let Some(&top) = self.heap.first() else {
            return Ok(false);
        };
        if !self.sources[top].advance()? {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
        Ok(!self.heap.is_empty())
    }

    fn key(&self) -> &[u8] {
        self.sources[self.heap[0]].key()
    }

    fn value(&self) -> &[u8] {
        self.sources[self.heap[0]].value()
    }
}

/// Length of the grouping prefix of an encoded key.
pub type GroupPrefix = dyn Fn(&[u8]) -> MrResult<usize> + Send + Sync;

/// Walks a sorted stream group by group, where a group is a run of records whose keys share
/// the grouping prefix. Values stream: the records of a group are visited one at a time.
pub struct Grouper<'g, S: RecordSource> {
    src: S,
    prefix: &'g GroupPrefix,
    group: Vec<u8>,
    /// The source sits on a record not yet handed out.
    pending: bool,
    /// The source sits on the first record of the next group (or is exhausted).
    at_boundary: bool,
    exhausted: bool,
    started: bool,
}

impl<'g, S: RecordSource> Grouper<'g, S> {
    pub fn new(src: S, prefix: &'g GroupPrefix) -> Self {
        Grouper {
            src,
            prefix,
            group: Vec::new(),
            pending: false,
            at_boundary: false,
            exhausted: false,
            started: false,
        }
    }

    /// Moves to the next group, skipping what is left of the current one; false at the end.
    pub fn next_group(&mut self) -> MrResult<bool> {
        if !self.started {
            self.started = true;
            if !self.src.advance()? {
                self.exhausted = true;
            }
        } else {
            while !self.at_boundary && !self.exhausted {
                self.step()?;
            }
        }
        if self.exhausted {
            return Ok(false);
        }
        let key = self.src.key();
        let n = (self.prefix)(key)?;
        self.group.clear();
        self.group.extend_from_slice(&key[..n]);
        self.pending = true;
        self.at_boundary = false;
        Ok(true)
    }

    /// Advances the source by one record and notes whether it left the group.
    fn step(&mut self) -> MrResult<()> {
        if !self.src.advance()? {
            self.exhausted = true;
            return Ok(());
        }
        let key = self.src.key();
        self.at_boundary = !key.starts_with(&self.group) || (self.prefix)(key)? != self.group.len();
        Ok(())
    }

    /// The grouping prefix of the current group.
    pub fn group_key(&self) -> &[u8] {
        &self.group
    }

    /// Moves to the next record of the current group (the first call gives its first
    /// record); false when the group is over.
    pub fn next_in_group(&mut self) -> MrResult<bool> {
        if self.pending {
            self.pending = false;
            return Ok(true);
        }
        if self.at_boundary || self.exhausted {
            return Ok(false);
        }
        self.step()?;
        Ok(!self.at_boundary && !self.exhausted)
    }

    /// The current record's full key (grouping prefix and the rest).
    pub fn key(&self) -> &[u8] {
        self.src.key()
    }

    pub fn value(&self) -> &[u8] {
        self.src.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ifile::{Compression, Reader, Writer};
    use crate::key::Key;

    fn run(records: &[(Vec<u8>, Vec<u8>)]) -> Reader<std::io::Cursor<Vec<u8>>> {
        let mut w = Writer::new(Vec::new(), Compression::None);
        for (k, v) in records {
            w.append(k, v).expect("append");
        }
        let (bytes, _) = w.finish().expect("finish");
        Reader::new(std::io::Cursor::new(bytes), "run")
    }

    #[test]
    fn merge_of_sorted_runs_is_sorted_and_complete() {
        let mut runs = Vec::new();
        let mut all = Vec::new();
        for r in 0..7u64 {
            let mut recs: Vec<(Vec<u8>, Vec<u8>)> = (0..500u64)
                .map(|i| ((i * 7 + r * 3) % 1000).to_key_bytes())
                .map(|k| (k, r.to_be_bytes().to_vec()))
                .collect();
            recs.sort();
            all.extend(recs.iter().map(|(k, _)| k.clone()));
            runs.push(run(&recs));
        }
        runs.push(run(&[])); // an empty run is fine
        all.sort();
        let mut m = Merger::new(runs);
        let mut got = Vec::new();
        let mut last_for_key: Option<(Vec<u8>, Vec<u8>)> = None;
        while m.advance().expect("advance") {
            // Equal keys come out in run order.
            if let Some((k, v)) = &last_for_key {
                if k.as_slice() == m.key() {
                    assert!(v.as_slice() <= m.value());
                }
            }
            last_for_key = Some((m.key().to_vec(), m.value().to_vec()));
            got.push(m.key().to_vec());
        }
        assert_eq!(got, all);
    }

    #[test]
    fn grouping_by_prefix_streams_each_group_in_secondary_order() {
        // (customer, day) keys: group by customer, values in day order.
        let mut recs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for c in ["ann", "bob", "cy"] {
            for day in [3i64, 1, 2] {
                recs.push((
                    (c.to_string(), day).to_key_bytes(),
                    day.to_be_bytes().to_vec(),
                ));
            }
        }
        recs.sort();
        let prefix: Box<GroupPrefix> = Box::new(|k: &[u8]| <(String, i64)>::prefix_len(k, 1));
        let mut g = Grouper::new(run(&recs), prefix.as_ref());
        let mut seen = Vec::new();
        while g.next_group().expect("group") {
            let customer = String::decode(&mut g.group_key()).expect("customer");
            let mut days = Vec::new();
            // Read only part of bob's group: the rest must be skipped.
            while g.next_in_group().expect("record") {
                days.push(i64::from_be_bytes(g.value().try_into().expect("8 bytes")));
                if customer == "bob" && days.len() == 1 {
                    break;
                }
            }
            seen.push((customer, days));
        }
        assert_eq!(
            seen,
            vec![
                ("ann".to_string(), vec![1, 2, 3]),
                ("bob".to_string(), vec![1]),
                ("cy".to_string(), vec![1, 2, 3]),
            ]
        );
    }
}
