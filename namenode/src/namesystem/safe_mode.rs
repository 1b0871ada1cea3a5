//! Safe mode: after start-up the namenode refuses mutations until enough blocks have a
//! reported replica (the configured threshold), so it does not re-replicate or delete on the
//! strength of reports that have not arrived yet. An administrator can also enter it by hand
//! (`mrctl admin safemode enter`: it then stays until `leave`, as HDFS's) and leave it at any
//! time, even short of the threshold (a lost block must not hold the namespace hostage).

use super::{Metadata, Namesystem};
use crate::datanodes::Liveness;
use crate::error::{NnError, NnResult};
use crate::permission::Subject;

/// What `mrctl admin safemode` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafeModeAction {
    Get,
    Enter,
    Leave,
}

/// Where safe mode stands after an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeModeStatus {
    pub on: bool,
    /// Entered by an administrator (by this user): it stays until `leave`.
    pub entered_by: Option<String>,
    /// The block and datanode counts behind it ("298 of 299 blocks have a reported replica,
    /// 99.9% needed; 4 datanodes live").
    pub blocks: String,
}

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
    /// How many committed blocks have a reported replica, and the sentence saying so.
    fn block_census(&self, st: &Metadata) -> (usize, usize, String) {
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
        let text = format!(
            "{safe} of {total} blocks have a reported replica, {:.1}% needed; {live} datanodes live",
            self.config.safe_mode_threshold * 100.0
        );
        (safe, total, text)
    }

    /// Leaves safe mode once enough blocks have a replica, unless an administrator entered
    /// it; then every block is checked.
    pub fn check_safe_mode(&self) {
        let mut st = self.meta.lock();
        if st.safe_mode.is_none() {
            return;
        }
        let (safe, total, text) = self.block_census(&st);
        if let Some(user) = &st.safe_mode_by {
            st.safe_mode = Some(manual_reason(user, &text));
            return;
        }
        if total == 0 || safe as f64 >= self.config.safe_mode_threshold * total as f64 {
            tracing::info!(safe, total, "leaving safe mode");
            Self::leave(&mut st);
        } else {
            st.safe_mode = Some(text);
        }
    }

    fn leave(st: &mut Metadata) {
        st.safe_mode = None;
        st.safe_mode_by = None;
        let all: Vec<_> = st.ns.all_blocks().map(|b| b.id).collect();
        st.blocks.needs_check(all);
    }

    /// `mrctl admin safemode get|enter|leave`: entering and leaving take a superuser.
    pub fn safe_mode(&self, who: &Subject, action: SafeModeAction) -> NnResult<SafeModeStatus> {
        if action != SafeModeAction::Get && !who.superuser {
            return Err(NnError::PermissionDenied(format!(
                "user={} may not {} safe mode: only superusers may (the namenode's user {}, or \
                 members of the group {})",
                who.user,
                if action == SafeModeAction::Enter {
                    "enter"
                } else {
                    "leave"
                },
                self.nn_user,
                self.config.security.supergroup
            )));
        }
        let mut st = self.meta.lock();
        let (_, _, text) = self.block_census(&st);
        match action {
            SafeModeAction::Get => {}
            SafeModeAction::Enter => {
                if st.safe_mode_by.is_none() {
                    tracing::warn!(by = %who.user, "safe mode entered by an administrator");
                }
                st.safe_mode_by = Some(who.user.clone());
                st.safe_mode = Some(manual_reason(&who.user, &text));
            }
            SafeModeAction::Leave => {
                if st.safe_mode.is_some() {
                    tracing::warn!(by = %who.user, blocks = %text, "safe mode left by an administrator");
                    Self::leave(&mut st);
                }
            }
        }
        Ok(SafeModeStatus {
            on: st.safe_mode.is_some(),
            entered_by: st.safe_mode_by.clone(),
            blocks: text,
        })
    }
}

fn manual_reason(user: &str, blocks: &str) -> String {
    format!("entered by {user}, stays on until `mrctl admin safemode leave`; {blocks}")
}
