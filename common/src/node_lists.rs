//! Which nodes may serve and which are being taken out of service: the include and exclude
//! lists of the namenode and the job tracker (HDFS's `dfs.hosts` and `dfs.hosts.exclude`), how
//! an operator's NODE argument matches a node, and the durable set of nodes decommissioned by
//! command (kept beside the daemon's metadata, as HDFS keeps them in its exclude list).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Whether an operator's `pattern` names the node at `addr` (`ip:port`) known as `host`: the
/// address itself, or a bare host meaning every node on it.
pub fn node_matches(pattern: &str, addr: &str, host: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    let addr_host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    pattern == addr || pattern == addr_host || pattern == host
}

/// One list file: a node (`host` or `host:port`) a line; blank lines and `#` comments skipped.
fn read_list(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "reading the node list {}: {e} (fix the file or the config that names it)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// The include and exclude lists as last read.
#[derive(Clone, Debug, Default)]
pub struct NodeLists {
    /// With an include list, only the nodes it names may join.
    pub include: Option<(PathBuf, Vec<String>)>,
    /// Nodes to take out of service.
    pub exclude: Vec<String>,
}

impl NodeLists {
    /// Reads the lists the config names; a named file that cannot be read is an error.
    pub fn load(include: &Option<PathBuf>, exclude: &Option<PathBuf>) -> Result<Self, String> {
        let include = match include {
            Some(p) => Some((p.clone(), read_list(p)?)),
            None => None,
        };
        let exclude = match exclude {
            Some(p) => read_list(p)?,
            None => Vec::new(),
        };
        Ok(NodeLists { include, exclude })
    }

    /// Why the node may not join, naming the include list; `None` when it may.
    pub fn refusal(&self, addr: &str, host: &str) -> Option<String> {
        let (path, names) = self.include.as_ref()?;
        if names.iter().any(|p| node_matches(p, addr, host)) {
            return None;
        }
        Some(format!(
            "node {addr} is not in the include list {} (add it there, then run `mrctl admin \
             refresh-nodes`)",
            path.display()
        ))
    }

    /// Whether the exclude list names the node.
    pub fn excludes(&self, addr: &str, host: &str) -> bool {
        self.exclude.iter().any(|p| node_matches(p, addr, host))
    }
}

/// Node addresses decommissioned by command, in a file rewritten crash-safely on each change,
/// so a restart keeps them.
#[derive(Debug)]
pub struct DurableNodeSet {
    path: PathBuf,
    nodes: BTreeSet<String>,
}

impl DurableNodeSet {
    /// Loads the set from `path` (absent: empty).
    pub fn load(path: PathBuf) -> crate::Result<Self> {
        let nodes = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(cause) => return Err(crate::Error::Io { path, cause }),
        };
        Ok(DurableNodeSet { path, nodes })
    }

    pub fn contains(&self, addr: &str) -> bool {
        self.nodes.contains(addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.nodes.iter()
    }

    /// Adds (`present`) or removes addresses and makes the set durable before returning.
    pub fn update<'a>(
        &mut self,
        addrs: impl IntoIterator<Item = &'a str>,
        present: bool,
    ) -> crate::Result<()> {
        let mut next = self.nodes.clone();
        for a in addrs {
            if present {
                next.insert(a.to_string());
            } else {
                next.remove(a);
            }
        }
        if next == self.nodes {
            return Ok(());
        }
        let mut text = String::new();
        for n in &next {
            text.push_str(n);
            text.push('\n');
        }
        crate::fsutil::atomic_write(&self.path, text.as_bytes())?;
        self.nodes = next;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_matches_every_port_on_it() {
        assert!(node_matches("127.0.0.2", "127.0.0.2:5000", "h"));
        assert!(node_matches("127.0.0.2:5000", "127.0.0.2:5000", "h"));
        assert!(!node_matches("127.0.0.2:5001", "127.0.0.2:5000", "h"));
        assert!(!node_matches("127.0.0.20", "127.0.0.2:5000", "h"));
        assert!(node_matches("h", "127.0.0.2:5000", "h"));
        assert!(!node_matches(" ", "127.0.0.2:5000", ""));
    }

    #[test]
    fn lists_skip_comments_and_refuse_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("node-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("include");
        std::fs::write(&inc, "# datanodes\n127.0.0.2\n\n127.0.0.3:9 # one port\n").unwrap();
        let l = NodeLists::load(&Some(inc.clone()), &None).unwrap();
        assert!(l.refusal("127.0.0.2:1", "").is_none());
        assert!(l.refusal("127.0.0.3:9", "").is_none());
        let why = l.refusal("127.0.0.4:1", "").unwrap();
        assert!(why.contains(&inc.display().to_string()), "{why}");
        assert!(NodeLists::load(&Some(dir.join("absent")), &None).is_err());
        let mut set = DurableNodeSet::load(dir.join("set")).unwrap();
        set.update(["a:1", "b:2"], true).unwrap();
        set.update(["a:1"], false).unwrap();
        let again = DurableNodeSet::load(dir.join("set")).unwrap();
        assert!(again.contains("b:2") && !again.contains("a:1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
