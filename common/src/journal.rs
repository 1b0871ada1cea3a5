//! The durable journal: an append-only log of opaque records with group commit, plus
//! checkpoint images, as HDFS keeps its edit log and fsimage.
//!
//! On disk, in one directory:
//! - `edits_<first txid>`: a segment, `MRJ1` + first txid, then frames `[len][crc32][payload]`.
//!   Record `n` of a segment has txid `first + n`.
//! - `image_<txid>`: a checkpoint holding the state after `txid`, `MRI1` then frames, closed by
//!   an end frame carrying the record count. Written atomically.
//!
//! Appends are queued to one writer thread that writes every queued record, fsyncs once and then
//! acknowledges them all: concurrent callers share one fsync. A record is acknowledged only when
//! durable. At recovery a torn last record (the process died mid-write) is cut off; any other
//! damage is an error naming the file, never a silently shorter history.

use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tokio::sync::oneshot;

const SEGMENT_MAGIC: &[u8; 4] = b"MRJ1";
const IMAGE_MAGIC: &[u8; 4] = b"MRI1";
const SEGMENT_HEADER: usize = 12;
const FRAME_HEADER: usize = 8;
const END_FRAME: u32 = u32::MAX;

/// Handle to the running journal.
pub struct Journal {
    dir: PathBuf,
    tx: mpsc::Sender<Command>,
    last_txid: AtomicU64,
    /// The txid of the last record known to be on disk (advanced by the writer thread).
    synced_txid: Arc<AtomicU64>,
}

enum Command {
    Append(Vec<u8>, oneshot::Sender<Result<(), String>>),
    Roll(u64, oneshot::Sender<Result<(), String>>),
    /// Answer once every record up to this txid is durable (no record of its own).
    Barrier(u64, oneshot::Sender<Result<(), String>>),
}

/// Waits for one record to be durable.
pub struct Commit(oneshot::Receiver<Result<(), String>>);

impl Commit {
    /// Resolves when the record is on disk; an error means it may not be.
    pub async fn durable(self) -> Result<()> {
        match self.0.await {
            Ok(r) => r.map_err(Error::Internal),
            Err(_) => Err(Error::Internal("journal writer stopped".into())),
        }
    }

    /// Blocking form of [`Commit::durable`], for threads outside a runtime.
    pub fn wait(self) -> Result<()> {
        match self.0.blocking_recv() {
            Ok(r) => r.map_err(Error::Internal),
            Err(_) => Err(Error::Internal("journal writer stopped".into())),
        }
    }
}

impl Journal {
    /// Replays every record with a txid above `after_txid` through `apply`, repairing a torn
    /// tail, and returns the last txid found (at least `after_txid`).
    pub fn replay(
        dir: &Path,
        after_txid: u64,
        mut apply: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<u64> {
        let segments = list(dir, "edits_")?;
        let mut last = after_txid;
        for (i, (first, path)) in segments.iter().enumerate() {
            let is_last_segment = i + 1 == segments.len();
            let next_first = segments.get(i + 1).map(|s| s.0);
            if next_first.is_some_and(|n| n <= after_txid + 1) {
                continue; // wholly covered by the image
            }
            if *first > last + 1 {
                return Err(corrupt(
                    path,
                    format!(
                        "gap in the edit log: txids {} to {} are missing",
                        last + 1,
                        first - 1
                    ),
                ));
            }
            let bytes = fs::read(path).at(path)?;
            if bytes.len() < SEGMENT_HEADER || &bytes[..4] != SEGMENT_MAGIC {
                if is_last_segment && bytes.len() < SEGMENT_HEADER {
                    // Died while creating the segment: nothing in it was acknowledged.
                    fs::remove_file(path).at(path)?;
                    continue;
                }
                return Err(corrupt(path, "bad segment header".into()));
            }
            let header_first = u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes"));
            if header_first != *first {
                return Err(corrupt(
                    path,
                    "segment header disagrees with its name".into(),
                ));
            }
            let (records, end) = parse_frames(&bytes, SEGMENT_HEADER);
            for (txid, payload) in (*first..).zip(records) {
                if txid > after_txid {
                    apply(txid, payload)?;
                }
                last = last.max(txid);
            }
            if let FrameEnd::Bad(pos) = end {
                if !is_last_segment {
                    return Err(corrupt(path, format!("damaged record at byte {pos}")));
                }
                if frame_follows(&bytes, pos) {
                    return Err(corrupt(
                        path,
                        format!("damaged record at byte {pos} followed by valid records"),
                    ));
                }
                tracing::warn!(path = %path.display(), pos, "cutting off a torn last record");
                let f = OpenOptions::new().write(true).open(path).at(path)?;
                f.set_len(pos as u64).at(path)?;
                f.sync_all().at(path)?;
            }
        }
        Ok(last)
    }

    /// Starts the journal after recovery: a new segment begins at `last_txid + 1`.
    pub fn start(dir: &Path, last_txid: u64) -> Result<Journal> {
        Self::start_with_sync_delay(dir, last_txid, Duration::ZERO)
    }

    /// [`Journal::start`], with every write of queued records held back by `delay` first.
    /// Test-only: it widens the window in which an appended record is not yet on disk.
    pub fn start_with_sync_delay(dir: &Path, last_txid: u64, delay: Duration) -> Result<Journal> {
        let (tx, rx) = mpsc::channel();
        let file = create_segment(dir, last_txid + 1)?;
        let synced_txid = Arc::new(AtomicU64::new(last_txid));
        let writer = Writer {
            dir: dir.to_path_buf(),
            file,
            synced: synced_txid.clone(),
            delay,
        };
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::Internal(format!("spawning the journal writer: {e}")))?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            tx,
            last_txid: AtomicU64::new(last_txid),
            synced_txid,
        })
    }

    /// Queues a record and returns its txid and a handle that resolves once it is durable.
    /// Callers that need records in a given order call this in that order (under their lock).
    pub fn append(&self, payload: Vec<u8>) -> (u64, Commit) {
        let txid = self.last_txid.fetch_add(1, Ordering::SeqCst) + 1;
        let (done, wait) = oneshot::channel();
        if let Err(mpsc::SendError(Command::Append(_, done))) =
            self.tx.send(Command::Append(payload, done))
        {
            let _ = done.send(Err("journal writer stopped".into()));
        }
        (txid, Commit(wait))
    }

    /// The txid of the last record appended.
    pub fn last_txid(&self) -> u64 {
        self.last_txid.load(Ordering::SeqCst)
    }

    /// Waits for every record up to `txid` to be durable: None when they already are, else a
    /// handle that resolves once the writer has synced them. A caller whose answer rests on
    /// records another caller appended (and may still be waiting for) replies after this.
    pub fn durable_through(&self, txid: u64) -> Option<Commit> {
        if self.synced_txid.load(Ordering::SeqCst) >= txid {
            return None;
        }
        let (done, wait) = oneshot::channel();
        if let Err(mpsc::SendError(Command::Barrier(_, done))) =
            self.tx.send(Command::Barrier(txid, done))
        {
            let _ = done.send(Err("journal writer stopped".into()));
        }
        Some(Commit(wait))
    }

    /// Closes the current segment and starts a new one after the last appended record. Call it
    /// under the same lock as `append` so the returned txid matches the caller's state.
    pub fn roll(&self) -> (u64, Commit) {
        let txid = self.last_txid();
        let (done, wait) = oneshot::channel();
        if let Err(mpsc::SendError(Command::Roll(_, done))) =
            self.tx.send(Command::Roll(txid + 1, done))
        {
            let _ = done.send(Err("journal writer stopped".into()));
        }
        (txid, Commit(wait))
    }

    /// Writes a checkpoint image of the state after `txid`, then deletes the segments and
    /// images it makes unnecessary (keeping one older image).
    pub fn write_image(&self, txid: u64, image: ImageBuilder) -> Result<()> {
        let mut buf = image.buf;
        buf.extend_from_slice(&END_FRAME.to_le_bytes());
        buf.extend_from_slice(&image.count.to_le_bytes());
        let path = self.dir.join(format!("image_{txid:020}"));
        fsutil::atomic_write(&path, &buf)?;
        self.purge(txid)
    }

    fn purge(&self, image_txid: u64) -> Result<()> {
        let images = list(&self.dir, "image_")?;
        let keep_from = images
            .iter()
            .rev()
            .nth(1)
            .map(|i| i.0)
            .unwrap_or(image_txid);
        for (txid, path) in &images {
            if *txid < keep_from {
                fs::remove_file(path).at(path)?;
            }
        }
        let segments = list(&self.dir, "edits_")?;
        for w in segments.windows(2) {
            // Segment w[0] ends at w[1].first - 1.
            if w[1].0 <= keep_from + 1 {
                fs::remove_file(&w[0].1).at(&w[0].1)?;
            }
        }
        Ok(())
    }
}

/// Collects the records of a checkpoint image in one buffer, framed as they go to disk.
#[derive(Debug)]
pub struct ImageBuilder {
    buf: Vec<u8>,
    count: u64,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder {
            buf: IMAGE_MAGIC.to_vec(),
            count: 0,
        }
    }
}

impl ImageBuilder {
    pub fn push(&mut self, record: &[u8]) {
        push_frame(&mut self.buf, record);
        self.count += 1;
    }
}

/// A checkpoint image read back and checked whole.
#[derive(Debug)]
pub struct Image {
    bytes: Vec<u8>,
}

impl Image {
    /// The records, in the order they were pushed.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        parse_frames(&self.bytes, 4).0.into_iter()
    }
}

/// The newest checkpoint image and its txid; None when no image exists yet.
pub fn load_latest_image(dir: &Path) -> Result<Option<(u64, Image)>> {
    let Some((txid, path)) = list(dir, "image_")?.pop() else {
        return Ok(None);
    };
    let bytes = fs::read(&path).at(&path)?;
    if bytes.len() < 4 || &bytes[..4] != IMAGE_MAGIC {
        return Err(corrupt(&path, "bad image header".into()));
    }
    let (records, end) = parse_frames(&bytes, 4);
    let count = records.len();
    let FrameEnd::Bad(pos) = end else {
        return Err(corrupt(&path, "image has no end record (truncated)".into()));
    };
    let trailer = &bytes[pos..];
    let ok = trailer.len() == 12
        && trailer[..4] == END_FRAME.to_le_bytes()
        && u64::from_le_bytes(trailer[4..].try_into().expect("8 bytes")) == count as u64;
    if !ok {
        return Err(corrupt(&path, format!("damaged record at byte {pos}")));
    }
    Ok(Some((txid, Image { bytes })))
}

fn corrupt(path: &Path, message: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message,
    }
}

/// Files `prefix<number>` in `dir`, sorted by number.
fn list(dir: &Path, prefix: &str) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name.strip_prefix(prefix).and_then(|n| n.parse().ok()) {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

enum FrameEnd {
    Clean,
    Bad(usize),
}

fn parse_frames(bytes: &[u8], mut pos: usize) -> (Vec<&[u8]>, FrameEnd) {
    let mut out = Vec::new();
    while pos < bytes.len() {
        match frame_at(bytes, pos) {
            Some((payload, next)) => {
                out.push(payload);
                pos = next;
            }
            None => return (out, FrameEnd::Bad(pos)),
        }
    }
    (out, FrameEnd::Clean)
}

fn frame_at(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let header = bytes.get(pos..pos + FRAME_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len == 0 || len == END_FRAME {
        return None;
    }
    let start = pos + FRAME_HEADER;
    let payload = bytes.get(start..start + len as usize)?;
    (crc32fast::hash(payload) == crc).then_some((payload, start + len as usize))
}

/// Whether a valid frame follows the damaged one at `pos` (so the damage is not a torn tail).
fn frame_follows(bytes: &[u8], pos: usize) -> bool {
    let Some(header) = bytes.get(pos..pos + FRAME_HEADER) else {
        return false;
    };
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let next = pos + FRAME_HEADER + len;
    next < bytes.len() && frame_at(bytes, next).is_some()
}

fn push_frame(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

fn create_segment(dir: &Path, first_txid: u64) -> Result<File> {
    let path = dir.join(format!("edits_{first_txid:020}"));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .at(&path)?;
    let mut header = Vec::with_capacity(SEGMENT_HEADER);
    header.extend_from_slice(SEGMENT_MAGIC);
    header.extend_from_slice(&first_txid.to_le_bytes());
    f.write_all(&header).at(&path)?;
    f.sync_all().at(&path)?;
    fsutil::fsync_parent(&path)?;
    Ok(f)
}

/// The writer thread's state: the open segment and how far the log is known to be on disk.
struct Writer {
    dir: PathBuf,
    file: File,
    synced: Arc<AtomicU64>,
    /// Test-only hold before each write (see [`Journal::start_with_sync_delay`]).
    delay: Duration,
}

/// Records queued since the last sync, and who waits for what.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// One per record in `buf`, in order.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Barriers: answered once the synced txid reaches theirs.
    barriers: Vec<(u64, oneshot::Sender<Result<(), String>>)>,
    /// Txid of the last record written (or queued) by this thread.
    txid: u64,
    failed: Option<String>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut p = Pending {
            buf: Vec::with_capacity(1 << 20),
            txid: self.synced.load(Ordering::SeqCst),
            ..Default::default()
        };
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Append(payload, done) => {
                        push_frame(&mut p.buf, &payload);
                        p.waiting.push(done);
                        p.txid += 1;
                    }
                    Command::Barrier(txid, done) => p.barriers.push((txid, done)),
                    Command::Roll(first_txid, done) => {
                        let r = self.flush(&mut p).and_then(|_| {
                            create_segment(&self.dir, first_txid).map_err(|e| e.to_string())
                        });
                        match r {
                            Ok(f) => {
                                self.file = f;
                                let _ = done.send(Ok(()));
                            }
                            Err(e) => {
                                p.failed.get_or_insert(e.clone());
                                let _ = done.send(Err(e));
                            }
                        }
                    }
                }
                if p.waiting.len() < 4096 {
                    next = rx.try_recv().ok();
                }
            }
            let _ = self.flush(&mut p);
        }
    }

    /// Writes and syncs the queued records, then answers their callers and every barrier the
    /// synced txid now covers.
    fn flush(&mut self, p: &mut Pending) -> std::result::Result<(), String> {
        let result = if let Some(e) = &p.failed {
            Err(e.clone())
        } else if p.waiting.is_empty() && p.buf.is_empty() {
            Ok(())
        } else {
            if !self.delay.is_zero() {
                std::thread::sleep(self.delay);
            }
            self.file
                .write_all(&p.buf)
                .and_then(|_| self.file.sync_data())
                .map_err(|e| format!("writing the edit log: {e}"))
        };
        match &result {
            Ok(()) => self.synced.store(p.txid, Ordering::SeqCst),
            Err(e) => {
                if p.failed.is_none() {
                    // After a failed write the log's tail is unknown: refuse everything from now on.
                    tracing::error!(error = %e, "edit log write failed; no further edits are accepted");
                    p.failed = Some(e.clone());
                }
            }
        }
        p.buf.clear();
        for w in p.waiting.drain(..) {
            let _ = w.send(result.clone());
        }
        let synced = self.synced.load(Ordering::SeqCst);
        let failed = p.failed.clone();
        let barriers = std::mem::take(&mut p.barriers);
        for (txid, done) in barriers {
            match &failed {
                Some(e) => {
                    let _ = done.send(Err(e.clone()));
                }
                None if txid <= synced => {
                    let _ = done.send(Ok(()));
                }
                // Its record is not queued yet (appended concurrently): the next sync covers it.
                None => p.barriers.push((txid, done)),
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay_all(dir: &Path) -> Result<Vec<Vec<u8>>> {
        let mut got = Vec::new();
        Journal::replay(dir, 0, |_, r| {
            got.push(r.to_vec());
            Ok(())
        })?;
        Ok(got)
    }

    #[test]
    fn acknowledged_records_survive_and_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::start(dir.path(), 0).expect("start");
        for i in 0..10u8 {
            j.append(vec![i; 10]).1.wait().expect("durable");
        }
        drop(j);
        let seg = dir.path().join(format!("edits_{:020}", 1));
        // A torn last record: a header promising more bytes than were written.
        let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
        f.write_all(&[50, 0, 0, 0, 1, 2]).expect("write");
        drop(f);
        let got = replay_all(dir.path()).expect("replay");
        assert_eq!(got.len(), 10);
        assert_eq!(got[9], vec![9u8; 10]);
    }

    #[test]
    fn damage_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::start(dir.path(), 0).expect("start");
        for i in 0..10u8 {
            j.append(vec![i; 10]).1.wait().expect("durable");
        }
        drop(j);
        let seg = dir.path().join(format!("edits_{:020}", 1));
        let mut bytes = fs::read(&seg).expect("read");
        bytes[SEGMENT_HEADER + 3 * 18 + 9] ^= 0xff;
        fs::write(&seg, bytes).expect("write");
        let err = replay_all(dir.path()).expect_err("must fail");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }

    #[test]
    fn image_then_later_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::start(dir.path(), 0).expect("start");
        j.append(b"a".to_vec()).1.wait().expect("durable");
        let (txid, rolled) = j.roll();
        rolled.wait().expect("roll");
        let mut image = ImageBuilder::default();
        image.push(b"state-a");
        j.write_image(txid, image).expect("image");
        j.append(b"b".to_vec()).1.wait().expect("durable");
        drop(j);
        let (img_txid, image) = load_latest_image(dir.path()).expect("load").expect("image");
        assert_eq!(img_txid, 1);
        assert_eq!(image.records().collect::<Vec<_>>(), vec![&b"state-a"[..]]);
        let mut after = Vec::new();
        let last = Journal::replay(dir.path(), img_txid, |t, r| {
            after.push((t, r.to_vec()));
            Ok(())
        })
        .expect("replay");
        assert_eq!(after, vec![(2, b"b".to_vec())]);
        assert_eq!(last, 2);
    }

    #[test]
    fn a_barrier_answers_only_once_the_records_it_names_are_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::start_with_sync_delay(dir.path(), 0, Duration::from_millis(300))
            .expect("start");
        assert!(j.durable_through(0).is_none(), "nothing to wait for");
        let (txid, commit) = j.append(b"mkdir".to_vec());
        // Another caller whose answer rests on record `txid`: it must wait for the same sync.
        let barrier = j.durable_through(txid).expect("not durable yet");
        let seg = dir.path().join(format!("edits_{:020}", 1));
        let on_disk = || fs::metadata(&seg).expect("segment").len() as usize;
        barrier.wait().expect("durable");
        assert!(
            on_disk() > SEGMENT_HEADER,
            "answered before the record was written"
        );
        commit.wait().expect("durable");
        assert!(j.durable_through(txid).is_none(), "already durable");
    }
}
