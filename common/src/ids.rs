//! Typed ids: a block, a datanode, a generation stamp, a job and a task attempt are never
//! interchangeable integers or strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A block of a file, unique for the life of the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockId(pub u64);

/// A datanode, chosen at random by the datanode on first start and kept in its data dirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// The version of a block's replicas: bumped when a write pipeline or a lease is recovered,
/// so a replica that missed the change is recognisably stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GenStamp(pub u64);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blk_{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dn-{:016x}", self.0)
    }
}

impl fmt::Display for GenStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A job, named by the job tracker at submission: `job_<tracker start ms>_<sequence>`.
/// Travels as a plain JSON string, so records and messages keep their shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

/// One attempt at a task: `attempt_<job>_<stage>_<m|r>_<task>_<attempt number>`, unique in
/// the cluster, so it also names the attempt's files (staging output, map output, log).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttemptId(pub String);

/// Which side of a stage a task is on. (`jobs::TaskWork` is the task's whole work order, split
/// or partition included; this is only the side.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Map,
    Reduce,
}

/// The string ids share their conversions: built from the string they wrap, read as `&str`
/// (and looked up by `&str` in maps keyed by them), compared with strings.
macro_rules! string_id {
    ($t:ident) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $t {
            fn from(s: String) -> Self {
                $t(s)
            }
        }

        impl From<&str> for $t {
            fn from(s: &str) -> Self {
                $t(s.to_string())
            }
        }

        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

string_id!(JobId);
string_id!(AttemptId);

impl TaskKind {
    /// The letter attempt ids and part files use: `m` or `r`.
    pub fn letter(self) -> char {
        match self {
            TaskKind::Map => 'm',
            TaskKind::Reduce => 'r',
        }
    }

    /// The plural in Hadoop's job counter names (`NUM_FAILED_MAPS`).
    pub fn counter_suffix(self) -> &'static str {
        match self {
            TaskKind::Map => "MAPS",
            TaskKind::Reduce => "REDUCES",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::Map => "map",
            TaskKind::Reduce => "reduce",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_ids_travel_as_plain_strings() {
        let id = JobId::from("job_1_0001");
        assert_eq!(
            serde_json::to_string(&id).expect("encodes"),
            "\"job_1_0001\""
        );
        let back: AttemptId =
            serde_json::from_str("\"attempt_1_0001_0_m_000000_0\"").expect("decodes");
        assert_eq!(back, *"attempt_1_0001_0_m_000000_0");
    }
}
