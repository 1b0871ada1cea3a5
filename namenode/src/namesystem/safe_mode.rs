//! Safe mode: after start-up the namenode refuses mutations until enough blocks have a
//! reported replica (the configured threshold), so it does not re-replicate or delete on the
//! strength of reports that have not arrived yet.

use super::{Metadata, Namesystem};
use crate::datanodes::Liveness;
use crate::error::{NnError, NnResult};

impl Metadata {
    /// Refuses a mutation while in safe mode.
    pub(super) fn check_writable(&self) -> NnResult<()> {
        match &self.safe_mode {
            Some(reason) => Err(NnError::SafeMode(reason.clone())),
            None => Ok(()),
        }
    }
}

impl Namesystem {
    /// Leaves safe mode once enough blocks have a replica; then every block is checked.
    pub fn check_safe_mode(&self) {
        let mut st = self.meta.lock();
        if st.safe_mode.is_none() {
            return;
        }
        let (mut total, mut safe) = (0usize, 0usize);
        for b in st.ns.all_blocks().filter(|b| b.committed) {
            total += 1;
            safe += usize::from(!st.blocks.locations(b.id).is_empty());
        }
        let live = st
            .dns
            .all()
            .filter(|&i| st.dns.liveness(i) == Liveness::Live)
            .count();
        if total == 0 || safe as f64 >= self.config.safe_mode_threshold * total as f64 {
            tracing::info!(safe, total, live, "leaving safe mode");
            st.safe_mode = None;
            let all: Vec<_> = st.ns.all_blocks().map(|b| b.id).collect();
            st.blocks.needs_check(all);
        } else {
            st.safe_mode = Some(format!(
                "{safe} of {total} blocks have a reported replica, {:.1}% needed; {live} datanodes live",
                self.config.safe_mode_threshold * 100.0
            ));
        }
    }
}
