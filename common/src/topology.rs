//! Rack topology: which rack a host is on, and how far apart two nodes are.

use crate::config::TopologyConfig;

/// Resolves hosts to racks from the configured table.
#[derive(Clone, Debug)]
pub struct Topology {
    config: TopologyConfig,
}

/// Network distance, as HDFS counts it: same node, same rack, elsewhere.
pub const SAME_NODE: u32 = 0;
pub const SAME_RACK: u32 = 2;
pub const OFF_RACK: u32 = 4;

impl Topology {
    pub fn new(config: TopologyConfig) -> Self {
        Topology { config }
    }

    /// The rack of `addr` (`host:port` or `host`): an exact `host:port` entry wins over a host
    /// entry, which wins over the default rack.
    pub fn rack_of(&self, addr: &str) -> String {
        if let Some(r) = self.config.racks.get(addr) {
            return r.clone();
        }
        let host = host_of(addr);
        self.config
            .racks
            .get(host)
            .cloned()
            .unwrap_or_else(|| self.config.default_rack.clone())
    }

    /// Distance between two (host, rack) pairs.
    pub fn distance(a_host: &str, a_rack: &str, b_host: &str, b_rack: &str) -> u32 {
        if a_host == b_host {
            SAME_NODE
        } else if a_rack == b_rack {
            SAME_RACK
        } else {
            OFF_RACK
        }
    }
}

/// The host part of `host:port` (IPv6 in brackets included).
pub fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_address_beats_host_beats_default() {
        let mut c = TopologyConfig::default();
        c.racks.insert("10.0.0.1".into(), "/r1".into());
        c.racks.insert("10.0.0.1:7000".into(), "/r2".into());
        let t = Topology::new(c);
        assert_eq!(t.rack_of("10.0.0.1:7000"), "/r2");
        assert_eq!(t.rack_of("10.0.0.1:7001"), "/r1");
        assert_eq!(t.rack_of("10.0.0.9:7001"), "/default-rack");
    }
}
