//! The shuffle protocol: a reduce attempt asks a worker's shuffle server for one partition of
//! one map attempt's output, over a plain TCP connection beside gRPC.
//!
//! Request: `MRSH`, then a length-prefixed postcard [`FetchRequest`]. Reply: a status byte;
//! on 0, the segment's length (u64 LE) and its bytes (the compressed IFile stream exactly as the
//! map wrote it); on 1, a length-prefixed error message.

use crate::error::{Error, Result};
use crate::ids::{AttemptId, JobId};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"MRSH";
/// Largest request a server reads: two ids and a partition number.
const MAX_REQUEST: u32 = 4 << 10;
/// Longest error message a fetcher reads from a server.
const MAX_ERROR: u32 = 64 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub job_id: JobId,
    pub attempt_id: AttemptId,
    pub partition: u32,
}

/// Name of a map attempt's output file in its directory (its index is beside it).
pub const MAP_OUTPUT_FILE: &str = "file.out";

/// The map output file of an attempt under a worker's local root.
pub fn map_output_path(local_root: &Path, job_id: &str, attempt_id: &str) -> Result<PathBuf> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !ok(job_id) || !ok(attempt_id) {
        return Err(Error::Protocol(format!(
            "bad job or attempt id {job_id:?}/{attempt_id:?}"
        )));
    }
    Ok(attempt_dir(local_root, job_id, attempt_id).join(MAP_OUTPUT_FILE))
}

/// The local directory of one attempt.
pub fn attempt_dir(local_root: &Path, job_id: &str, attempt_id: &str) -> PathBuf {
    local_root.join("jobs").join(job_id).join(attempt_id)
}

pub fn write_request(w: &mut impl Write, req: &FetchRequest) -> Result<()> {
    let body = postcard::to_allocvec(req).map_err(|e| Error::Internal(e.to_string()))?;
    w.write_all(MAGIC)?;
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

pub fn read_request(r: &mut impl Read) -> Result<FetchRequest> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    if &head[..4] != MAGIC {
        return Err(Error::Protocol("not a shuffle request".into()));
    }
    let len = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if len > MAX_REQUEST {
        return Err(Error::Protocol(format!(
            "shuffle request of {len} bytes is too large (at most {MAX_REQUEST})"
        )));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    postcard::from_bytes(&body).map_err(|e| Error::Protocol(format!("bad shuffle request: {e}")))
}

/// Starts a successful reply; the caller then writes exactly `len` bytes.
pub fn write_ok_header(w: &mut impl Write, len: u64) -> Result<()> {
    w.write_all(&[0])?;
    w.write_all(&len.to_le_bytes())?;
    Ok(())
}

pub fn write_error(w: &mut impl Write, message: &str) -> Result<()> {
    w.write_all(&[1])?;
    w.write_all(&(message.len() as u32).to_le_bytes())?;
    w.write_all(message.as_bytes())?;
    w.flush()?;
    Ok(())
}

/// Reads a reply's header: the segment length, or the server's error.
pub fn read_reply_header(r: &mut impl Read) -> Result<u64> {
    let mut status = [0u8; 1];
    r.read_exact(&mut status)?;
    if status[0] == 0 {
        let mut len = [0u8; 8];
        r.read_exact(&mut len)?;
        return Ok(u64::from_le_bytes(len));
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len).min(MAX_ERROR);
    let mut msg = vec![0u8; len as usize];
    r.read_exact(&mut msg)?;
    Err(Error::Protocol(String::from_utf8_lossy(&msg).into_owned()))
}
