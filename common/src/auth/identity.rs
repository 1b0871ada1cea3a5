//! Who a caller is, as its verified token says: a user and its groups, or a daemon.

use super::token::TokenId;
use serde::{Deserialize, Serialize};

/// The caller of an RPC, taken from its verified token (never from the client's environment).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    /// A cluster daemon (datanode, job tracker, worker) holding the cluster secret.
    pub service: bool,
    /// The verified token it came from (none in insecure mode): a job's delegation token names
    /// it as its parent, so revoking the user's token revokes the job's too.
    pub token: Option<TokenId>,
}

impl Identity {
    pub fn user(user: impl Into<String>, groups: Vec<String>) -> Identity {
        Identity {
            user: user.into(),
            groups,
            service: false,
            token: None,
        }
    }

    /// A daemon of the given role.
    pub fn service(role: impl Into<String>) -> Identity {
        Identity {
            user: role.into(),
            groups: Vec::new(),
            service: true,
            token: None,
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.service {
            write!(f, "service:{}", self.user)
        } else {
            f.write_str(&self.user)
        }
    }
}
