//! The block scanner: re-reads every finalized replica at a bounded rate and reports the ones
//! whose checksums fail, so rot is found before a reader needs the data.

use crate::nn::NamenodeLink;
use crate::storage::Storage;
use common::checksum;
use common::ids::{BlockId, GenStamp};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs passes forever on the calling thread.
pub fn run(storage: Arc<Storage>, link: NamenodeLink, bytes_per_sec: u64, pass_interval: Duration) {
    let rate = bytes_per_sec.max(1 << 20);
    loop {
        let started = Instant::now();
        let (mut scanned, mut bad) = (0u64, 0u64);
        for r in storage.finalized() {
            match verify(&storage, r.id, r.gen, rate, &mut scanned) {
                Ok(true) => {}
                Ok(false) => {
                    bad += 1;
                    tracing::warn!(block = r.id, "block scanner found a corrupt replica");
                    link.report_bad(BlockId(r.id), GenStamp(r.gen));
                }
                Err(e) => tracing::debug!(block = r.id, error = %e, "replica not scanned"),
            }
        }
        tracing::info!(
            bytes = scanned,
            corrupt = bad,
            secs = started.elapsed().as_secs(),
            "block scan pass done"
        );
        std::thread::sleep(pass_interval);
    }
}

/// Checks one replica; Ok(false) when a checksum fails. Sleeps to keep to `rate` bytes/s.
fn verify(
    storage: &Storage,
    id: u64,
    gen: u64,
    rate: u64,
    scanned: &mut u64,
) -> common::Result<bool> {
    let (r, data, meta, len) = storage.open_read(id, gen)?;
    let bpc = r.bytes_per_checksum as u64;
    let step = (1u64 << 20) / bpc * bpc.max(1);
    let step = step.max(bpc);
    let (mut buf, mut sums) = (Vec::new(), Vec::new());
    let meta_len = meta.metadata()?.len();
    if meta_len != checksum::META_HEADER_LEN + len.div_ceil(bpc) * 4 {
        return Ok(false);
    }
    let mut pos = 0;
    while pos < len {
        let t = Instant::now();
        let n = step.min(len - pos);
        buf.resize(n as usize, 0);
        data.read_exact_at(&mut buf, pos)?;
        sums.resize(checksum::chunks(n as usize, bpc as usize) * 4, 0);
        meta.read_exact_at(&mut sums, checksum::META_HEADER_LEN + pos / bpc * 4)?;
        if checksum::verify(&buf, &sums, bpc as usize).is_err() {
            return Ok(false);
        }
        pos += n;
        *scanned += n;
        let budget = Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(rest) = budget.checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    Ok(true)
}
