//! Relative DFS paths: as HDFS does, a path not starting with `/` resolves against the
//! caller's home directory `/user/NAME`, NAME being the user the client's credentials name.

use crate::dfs::DfsClient;

impl DfsClient {
    /// The caller's user name: the token's user, or the user claimed in insecure mode.
    pub fn user_name(&self) -> String {
        self.inner
            .credentials
            .user_name()
            .unwrap_or_else(|| self.inner.caller.user.clone())
    }

    /// The caller's home directory, `/user/NAME`.
    pub fn home_dir(&self) -> String {
        format!("/user/{}", self.user_name())
    }

    /// `path` made absolute: a relative path (and the empty path) resolves against
    /// [`DfsClient::home_dir`]; `.` and `..` components are folded (`..` of `/` is `/`).
    pub fn resolve(&self, path: &str) -> String {
        if path.starts_with('/') {
            normalize(path)
        } else {
            normalize(&format!("{}/{path}", self.home_dir()))
        }
    }
}

/// `path` (absolute) without `.`, `..` and empty components; a trailing `/` is dropped.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn dots_and_slashes_fold() {
        assert_eq!(normalize("/user/alice/"), "/user/alice");
        assert_eq!(normalize("/user/alice/./a//b/../c"), "/user/alice/a/c");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("/"), "/");
    }
}
