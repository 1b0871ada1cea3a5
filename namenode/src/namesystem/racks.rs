//! Rack changes while running: when the shared topology file (or script) changes, every
//! registered datanode is placed on its rack again, and its blocks are checked against the
//! rack rule with the new racks.

use super::Namesystem;
use crate::error::{NnError, NnResult};

impl Namesystem {
    /// Re-reads the topology if it changed and moves registered nodes to their new racks;
    /// returns how many nodes changed rack.
    pub fn refresh_topology(&self) -> NnResult<usize> {
        if !self
            .topology
            .refresh()
            .map_err(|e| NnError::InvalidArgument(format!("topology: {e}")))?
        {
            return Ok(0);
        }
        let mut st = self.meta.lock();
        let st = &mut *st;
        let mut moved = 0;
        for idx in st.dns.all().collect::<Vec<_>>() {
            let rack = self.topology.rack_of(&st.dns.get(idx).data_addr);
            let node = st.dns.get_mut(idx);
            if node.rack != rack {
                tracing::info!(node = %node.id, from = %node.rack, to = %rack, "datanode moved rack (topology changed)");
                node.rack = rack;
                moved += 1;
                st.blocks.check_node_blocks(idx);
            }
        }
        Ok(moved)
    }
}
