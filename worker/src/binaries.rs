//! The node's cache of job binaries: each is fetched from the DFS once, checked against its
//! content hash, and kept under `binaries/<sha256>` for every later attempt of any job.

use client::DfsClient;
use common::jobs::sha256_hex;
use common::jobs::BinaryRef;
use std::path::{Path, PathBuf};

/// The cached binary, fetching it first (with the client `dfs` makes) when absent. Blocking;
/// one caller at a time.
pub fn ensure(
    dfs: impl FnOnce() -> Result<DfsClient, String>,
    root: &Path,
    binary: &BinaryRef,
) -> Result<PathBuf, String> {
    if binary.sha256.len() != 64 || !binary.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("bad binary hash {:?}", binary.sha256));
    }
    let dir = root.join("binaries");
    let path = dir.join(&binary.sha256);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bytes = dfs()?
        .read_file(&binary.path)
        .map_err(|e| format!("fetching the job binary {}: {e}", binary.path))?;
    let got = sha256_hex(&bytes);
    if got != binary.sha256 {
        return Err(format!(
            "job binary {} has hash {got}, expected {}",
            binary.path, binary.sha256
        ));
    }
    let tmp = dir.join(format!(".{}.tmp", binary.sha256));
    std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
