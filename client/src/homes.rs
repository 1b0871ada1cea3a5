//! Home directories, as a Hadoop administrator makes them by hand: `/user` (0755) and `/tmp`
//! (1777, sticky) for a new cluster, `/user/NAME` (owned by NAME, 0755) for each user. A user's
//! relative paths and trash live in their home.

use crate::dfs::DfsClient;
use crate::error::ClientResult;
use common::trash::{home_of, HOMES};

/// The shared folder every user may write to, each removing only their own entries.
pub const TMP: &str = "/tmp";

impl DfsClient {
    /// Makes `/user` (0755) and `/tmp` (1777) if missing; a superuser's call.
    pub fn make_common_dirs(&self) -> ClientResult<()> {
        for (dir, mode) in [(HOMES, 0o755), (TMP, 0o1777)] {
            if !self.exists(dir)? {
                self.mkdirs(dir)?;
                self.set_permission(dir, mode)?;
            }
        }
        Ok(())
    }

    /// Makes `/user/USER`, owned by `user` and `group`, mode 0755, if it is missing (and
    /// `/user` with it); a superuser's call. Returns whether it made it.
    pub fn make_home(&self, user: &str, group: &str) -> ClientResult<bool> {
        let home = home_of(user);
        if self.exists(&home)? {
            return Ok(false);
        }
        self.make_common_dirs()?;
        self.mkdirs(&home)?;
        self.set_owner(&home, Some(user), Some(group))?;
        self.set_permission(&home, 0o755)?;
        Ok(true)
    }
}
