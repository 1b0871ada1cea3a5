//! Rack topology: which rack a host is on, and how far apart two nodes are.
//!
//! Racks come from three places, first match wins: the shared topology file (`[topology] file`,
//! `host[:port] rack` lines), the inline table (`[topology] racks`), then the topology script
//! (`[topology] script`, called with the addresses as arguments, one rack per output line,
//! cached per address). Anything else is on `default_rack`. The namenode and the job tracker
//! name the same file and call [`Topology::refresh`] every few seconds, so a node's rack can be
//! added or changed without a restart. A clone shares the table.

use crate::config::TopologyConfig;
use crate::error::{Error, IoContext, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Resolves hosts to racks from the configured table, file and script.
#[derive(Clone, Debug)]
pub struct Topology {
    config: Arc<TopologyConfig>,
    state: Arc<RwLock<Loaded>>,
}

/// What was read from the file and learnt from the script.
#[derive(Debug, Default)]
struct Loaded {
    /// The file's entries.
    file_racks: BTreeMap<String, String>,
    /// The file's modification time and length when it was read.
    file_stamp: Option<(SystemTime, u64)>,
    /// The script's answers, per address asked; cleared when the script changes.
    script_racks: HashMap<String, String>,
    script_stamp: Option<(SystemTime, u64)>,
}

/// Network distance, as HDFS counts it: same node, same rack, elsewhere.
pub const SAME_NODE: u32 = 0;
pub const SAME_RACK: u32 = 2;
pub const OFF_RACK: u32 = 4;

/// The modification time and length of `path`: a change in either means "read it again".
fn stamp(path: &Path) -> Result<(SystemTime, u64)> {
    let m = std::fs::metadata(path).at(path)?;
    Ok((m.modified().at(path)?, m.len()))
}

/// Parses a topology file: `host[:port] rack` per line, `#` comments and blank lines ignored.
pub fn parse_file(path: &Path, text: &str) -> Result<BTreeMap<String, String>> {
    let mut racks = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(addr), Some(rack), None) if rack.starts_with('/') => {
                racks.insert(addr.to_string(), rack.to_string());
            }
            _ => {
                return Err(Error::Config {
                    path: path.into(),
                    message: format!(
                        "line {}: {line:?} is not `host[:port] /rack` (a rack starts with '/')",
                        n + 1
                    ),
                })
            }
        }
    }
    Ok(racks)
}

/// Renders a topology file from a table, as [`parse_file`] reads it.
pub fn render_file(racks: &BTreeMap<String, String>) -> String {
    let mut out = String::from(
        "# host[:port] rack; re-read by the namenode and the job tracker when it changes\n",
    );
    for (addr, rack) in racks {
        out.push_str(&format!("{addr} {rack}\n"));
    }
    out
}

impl Topology {
    /// A topology from `config` without reading its file yet (see [`Self::load`]).
    pub fn new(config: TopologyConfig) -> Self {
        Topology {
            config: Arc::new(config),
            state: Arc::new(RwLock::new(Loaded::default())),
        }
    }

    /// A topology from `config`, with its file read: a missing or malformed file is an error.
    pub fn load(config: TopologyConfig) -> Result<Self> {
        let t = Self::new(config);
        t.refresh()?;
        Ok(t)
    }

    /// Reads the file again if it changed since it was last read, and forgets the script's
    /// answers if the script changed; true when racks may have changed. On an error the old
    /// table stays in use.
    pub fn refresh(&self) -> Result<bool> {
        let mut changed = false;
        if let Some(path) = &self.config.file {
            let now = stamp(path)?;
            if self.read().file_stamp != Some(now) {
                let text = std::fs::read_to_string(path).at(path)?;
                let racks = parse_file(path, &text)?;
                let mut st = self.write();
                st.file_racks = racks;
                st.file_stamp = Some(now);
                changed = true;
            }
        }
        if let Some(path) = &self.config.script {
            let now = stamp(path)?;
            if self.read().script_stamp != Some(now) {
                let mut st = self.write();
                st.script_racks.clear();
                st.script_stamp = Some(now);
                changed = true;
            }
        }
        Ok(changed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The rack of `addr` (`host:port` or `host`): an exact `host:port` entry wins over a host
    /// entry; the file wins over the inline table; the script is asked last.
    pub fn rack_of(&self, addr: &str) -> String {
        let host = host_of(addr);
        {
            let st = self.read();
            for table in [&st.file_racks, &self.config.racks] {
                if let Some(r) = table.get(addr).or_else(|| table.get(host)) {
                    return r.clone();
                }
            }
            if let Some(r) = st.script_racks.get(addr) {
                return r.clone();
            }
        }
        match &self.config.script {
            Some(script) => {
                let rack = self.ask_script(script, addr);
                self.write()
                    .script_racks
                    .insert(addr.to_string(), rack.clone());
                rack
            }
            None => self.config.default_rack.clone(),
        }
    }

    /// Runs the topology script for one address; the default rack when it fails (logged).
    fn ask_script(&self, script: &Path, addr: &str) -> String {
        let out = Command::new(script).arg(addr).output();
        let rack = match &out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
                .filter(|r| r.starts_with('/')),
            _ => None,
        };
        rack.unwrap_or_else(|| {
            tracing::warn!(
                script = %script.display(),
                %addr,
                outcome = ?out.map(|o| o.status),
                "the topology script gave no rack (a line starting with '/'); using the default rack"
            );
            self.config.default_rack.clone()
        })
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

    #[test]
    fn the_file_overrides_the_table_and_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("topology");
        std::fs::write(&path, "# racks\n10.0.0.1 /f1\n\n10.0.0.2:70 /f2 # port\n").expect("write");
        let mut c = TopologyConfig::default();
        c.racks.insert("10.0.0.1".into(), "/inline".into());
        c.racks.insert("10.0.0.3".into(), "/inline".into());
        c.file = Some(path.clone());
        let t = Topology::load(c).expect("load");
        assert_eq!(t.rack_of("10.0.0.1:5"), "/f1");
        assert_eq!(t.rack_of("10.0.0.2:70"), "/f2");
        assert_eq!(t.rack_of("10.0.0.3:5"), "/inline");
        assert!(!t.refresh().expect("refresh"), "unchanged file");
        std::fs::write(&path, "10.0.0.1 /moved\n10.0.0.4 /new-rack\n").expect("write");
        assert!(t.refresh().expect("refresh"));
        assert_eq!(t.rack_of("10.0.0.1"), "/moved");
        assert_eq!(t.rack_of("10.0.0.4:9"), "/new-rack");
    }

    #[test]
    fn a_malformed_file_is_refused_naming_the_line_and_the_old_table_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("topology");
        std::fs::write(&path, "10.0.0.1 /r1\n").expect("write");
        let c = TopologyConfig {
            file: Some(path.clone()),
            ..Default::default()
        };
        let t = Topology::load(c).expect("load");
        std::fs::write(&path, "10.0.0.1 /r1\n10.0.0.2 rack-without-slash\n").expect("write");
        let e = t.refresh().expect_err("malformed").to_string();
        assert!(e.contains("line 2"), "{e}");
        assert_eq!(t.rack_of("10.0.0.1"), "/r1");
    }

    #[test]
    fn the_script_is_asked_once_per_address() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("rack.sh");
        let log = dir.path().join("calls");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$1\" >> {}\ncase \"$1\" in 10.0.0.1*) echo /s1;; *) echo /s2;; esac\n",
                log.display()
            ),
        )
        .expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let c = TopologyConfig {
            script: Some(script),
            ..Default::default()
        };
        let t = Topology::load(c).expect("load");
        assert_eq!(t.rack_of("10.0.0.1:1"), "/s1");
        assert_eq!(t.rack_of("10.0.0.1:1"), "/s1");
        assert_eq!(t.rack_of("10.0.0.7:1"), "/s2");
        let calls = std::fs::read_to_string(&log).expect("log");
        assert_eq!(calls.lines().count(), 2, "{calls}");
    }
}
