//! Checkpoints: when enough edits or time have accumulated, the journal is rolled and the
//! namespace image written, so start-up replays a short log. The image is built under the
//! lock; it is written out (I/O) after the lock is released.

use super::Namesystem;
use crate::error::NnResult;
use std::time::{Duration, Instant};

/// The last checkpoint: the edit it covers and when it was taken.
#[derive(Debug)]
pub(super) struct CheckpointMark {
    pub txid: u64,
    pub at: Instant,
}

impl Namesystem {
    /// Writes a checkpoint when enough edits or time have accumulated. Blocking: call it off
    /// the async threads.
    pub fn maybe_checkpoint(&self) -> NnResult<()> {
        let (txid, image, roll) = {
            let mut st = self.meta.lock();
            let now = self.clock.now();
            let last = self.journal.last_txid();
            let edits = last - st.checkpoint.txid;
            let due = edits >= self.config.checkpoint_txns
                || (edits > 0
                    && now.saturating_duration_since(st.checkpoint.at)
                        >= Duration::from_millis(self.config.checkpoint_period_ms));
            if !due {
                return Ok(());
            }
            let (txid, roll) = self.journal.roll();
            let image = st.ns.image()?;
            st.checkpoint = CheckpointMark { txid, at: now };
            (txid, image, roll)
        };
        roll.wait()?;
        self.journal.write_image(txid, image)?;
        tracing::info!(txid, "checkpoint written");
        Ok(())
    }
}
