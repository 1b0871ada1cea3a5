//! The cluster secret: a file of keys, one per line (`key ID HEX`), the last of which signs new
//! tokens while every one listed verifies (so a key can be rotated without cutting off the
//! tokens already issued). A daemon refuses a secret that its group or others can read.

use crate::error::{Error, IoContext, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// The keys of the cluster secret, oldest first.
#[derive(Clone)]
pub struct ClusterSecret {
    keys: Vec<(u32, [u8; 32])>,
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|k| k.0).collect();
        write!(f, "ClusterSecret {{ key ids: {ids:?} }}")
    }
}

impl ClusterSecret {
    /// A new secret with one random key.
    pub fn generate() -> Result<ClusterSecret> {
        Ok(ClusterSecret {
            keys: vec![(1, super::random_bytes()?)],
        })
    }

    /// From fixed keys (tests).
    pub fn from_keys(keys: Vec<(u32, [u8; 32])>) -> ClusterSecret {
        ClusterSecret { keys }
    }

    /// Adds a new signing key; older keys keep verifying until `retire_before` drops them.
    pub fn rotate(&mut self) -> Result<u32> {
        let id = self.keys.iter().map(|k| k.0).max().unwrap_or(0) + 1;
        self.keys.push((id, super::random_bytes()?));
        Ok(id)
    }

    /// Drops every key older than `id` (tokens they signed stop verifying).
    pub fn retire_before(&mut self, id: u32) {
        self.keys.retain(|k| k.0 >= id);
    }

    /// The secret a daemon runs with: none in insecure mode, else `[security] secret_file`
    /// (a missing or readable-by-others file is an error naming it).
    pub fn for_daemon(security: &crate::config::SecurityConfig) -> Result<Option<ClusterSecret>> {
        if security.insecure {
            return Ok(None);
        }
        Self::load(&security.secret_file).map(Some)
    }

    /// Reads `path`, refusing a file its group or others may read or write.
    pub fn load(path: &Path) -> Result<ClusterSecret> {
        use std::os::unix::fs::PermissionsExt;
        if path.as_os_str().is_empty() {
            return Err(Error::Config {
                path: path.into(),
                message: "no cluster secret: set [security] secret_file (make one with `mrctl \
                          admin keygen --out FILE`), or set [security] insecure = true"
                    .into(),
            });
        }
        let mode = std::fs::metadata(path).at(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Config {
                path: path.into(),
                message: format!(
                    "the cluster secret is readable by others (mode {:o}): run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            });
        }
        let text = std::fs::read_to_string(path).at(path)?;
        Self::parse(&text).map_err(|message| Error::Config {
            path: path.into(),
            message,
        })
    }

    fn parse(text: &str) -> std::result::Result<ClusterSecret, String> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("line {}: expected `key ID HEX` (64 hex digits)", n + 1);
            let mut parts = line.split_whitespace();
            if parts.next() != Some("key") {
                return Err(bad());
            }
            let id: u32 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let hex = parts.next().ok_or_else(bad)?;
            let key = decode_hex32(hex).ok_or_else(bad)?;
            keys.push((id, key));
        }
        if keys.is_empty() {
            return Err("no key in the cluster secret".into());
        }
        Ok(ClusterSecret { keys })
    }

    /// Writes the secret to `path` with mode 0600 (crash-safe).
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::fmt::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut text = String::from(
            "# Cluster secret: keep it readable by the daemons' user only (mode 0600).\n\
             # The last key signs new tokens; every key listed verifies.\n",
        );
        for (id, key) in &self.keys {
            let _ = write!(text, "key {id} ");
            for b in key {
                let _ = write!(text, "{b:02x}");
            }
            text.push('\n');
        }
        // Created 0600 before any byte is written, so the key is never readable by others.
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .at(&tmp)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .at(&tmp)?;
            f.write_all(text.as_bytes()).at(&tmp)?;
            f.sync_all().at(&tmp)?;
        }
        std::fs::rename(&tmp, path).at(path)?;
        crate::fsutil::fsync_parent(path)
    }

    /// The id of the key that signs.
    pub fn current_id(&self) -> u32 {
        self.keys.last().map(|k| k.0).unwrap_or(0)
    }

    /// The key `id` derived for `purpose` (a token kind, a job), if `id` is known.
    pub fn derive(&self, id: u32, purpose: &[u8]) -> Option<[u8; 32]> {
        let (_, key) = self.keys.iter().find(|k| k.0 == id)?;
        Some(hmac(key, purpose))
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // Any key length is valid for HMAC, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is the HMAC of `data` under `key`, compared in constant time.
pub fn hmac_matches(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_secret_loads_and_a_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        let mut s = ClusterSecret::generate().expect("generate");
        s.rotate().expect("rotate");
        s.save(&path).expect("save");
        let back = ClusterSecret::load(&path).expect("load");
        assert_eq!(back.keys, s.keys);
        assert_eq!(back.current_id(), 2);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = ClusterSecret::load(&path).expect_err("readable secret");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn garbage_is_refused_with_the_line() {
        let err = ClusterSecret::parse("key 1 xyz\n").expect_err("garbage");
        assert!(err.contains("line 1"), "{err}");
        assert!(ClusterSecret::parse("# nothing\n").is_err());
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_key() {
        let mut s = ClusterSecret::from_keys(vec![(1, [7; 32])]);
        let a = s.derive(1, b"user").expect("key 1");
        assert_ne!(Some(a), s.derive(1, b"block"));
        s.rotate().expect("rotate");
        assert_ne!(Some(a), s.derive(2, b"user"));
        assert_eq!(None, s.derive(9, b"user"));
    }
}
