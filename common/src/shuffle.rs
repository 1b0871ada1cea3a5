//! The shuffle protocol: a reduce attempt asks a worker's shuffle server for one partition of
//! one map attempt's output, over a plain TCP connection beside gRPC.
//!
//! Request: `MRSH`, then a length-prefixed postcard [`FetchRequest`], signed with the job's key
//! (see [`FetchRequest::verify`]). Reply: a status byte;
//! on 0, the segment's length (u64 LE) and its bytes (the compressed IFile stream exactly as the
//! map wrote it); on 1, a length-prefixed error message.

use crate::auth::{self, ClusterSecret};
use crate::error::{Error, Result};
use crate::ids::{AttemptId, JobId};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"MRSH";
/// Largest request a server reads: two ids, a partition number and a tag.
const MAX_REQUEST: u32 = 4 << 10;
/// Longest error message a fetcher reads from a server.
const MAX_ERROR: u32 = 64 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub job_id: JobId,
    pub attempt_id: AttemptId,
    pub partition: u32,
    /// The cluster secret's key the job's key was derived under.
    pub key_id: u32,
    /// HMAC-SHA256 of [`FetchRequest::canonical`] under the job's key (empty in insecure mode):
    /// only the job's own tasks hold that key, so only they fetch its map outputs.
    pub tag: Vec<u8>,
}

impl FetchRequest {
    /// A request, signed with the job's credentials when there are any.
    pub fn new(
        job_id: JobId,
        attempt_id: AttemptId,
        partition: u32,
        credentials: Option<&crate::jobs::TaskCredentials>,
    ) -> FetchRequest {
        let mut req = FetchRequest {
            job_id,
            attempt_id,
            partition,
            key_id: credentials.map_or(0, |c| c.key_id),
            tag: Vec::new(),
        };
        if let Some(c) = credentials {
            req.tag = auth::job_key::sign(&c.job_key, &req.canonical()).to_vec();
        }
        req
    }

    /// The bytes the tag signs: every field but the tag, each length-prefixed so no two
    /// requests share them.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = b"mr shuffle fetch v1".to_vec();
        for field in [self.job_id.as_str(), self.attempt_id.as_str()] {
            out.extend_from_slice(&(field.len() as u32).to_le_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.extend_from_slice(&self.key_id.to_le_bytes());
        out
    }

    /// Whether the request is signed by its job's key, derived from `secret` (constant time).
    pub fn verify(&self, secret: &ClusterSecret) -> std::result::Result<(), &'static str> {
        if self.tag.is_empty() {
            return Err("unsigned request");
        }
        let key = auth::job_key::job_key(secret, self.key_id, self.job_id.as_str())
            .ok_or("signed under a key this cluster does not have")?;
        if auth::job_key::verify(&key, &self.canonical(), &self.tag) {
            Ok(())
        } else {
            Err("its signature is not the job's")
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::TaskCredentials;

    fn creds(secret: &ClusterSecret, job: &str) -> TaskCredentials {
        TaskCredentials {
            token: String::new(),
            key_id: 1,
            job_key: auth::job_key::job_key(secret, 1, job).expect("key 1"),
        }
    }

    fn request(job: &str, c: Option<&TaskCredentials>) -> FetchRequest {
        FetchRequest::new(JobId(job.into()), AttemptId("attempt_a_m_0".into()), 3, c)
    }

    #[test]
    fn only_a_request_signed_with_its_jobs_key_verifies() {
        let secret = ClusterSecret::from_keys(vec![(1, [9; 32])]);
        let mine = creds(&secret, "job_1");
        let good = request("job_1", Some(&mine));
        assert_eq!(good.verify(&secret), Ok(()));
        // Round trip over the wire keeps it valid.
        let mut buf = Vec::new();
        write_request(&mut buf, &good).expect("write");
        let back = read_request(&mut buf.as_slice()).expect("read");
        assert_eq!(back.verify(&secret), Ok(()));

        assert!(request("job_1", None).verify(&secret).is_err(), "unsigned");
        // Another job's key, a changed field, another cluster's secret, an unknown key id.
        let theirs = creds(&secret, "job_2");
        assert!(request("job_1", Some(&theirs)).verify(&secret).is_err());
        let mut moved = good.clone();
        moved.partition = 4;
        assert!(moved.verify(&secret).is_err());
        let other = ClusterSecret::from_keys(vec![(1, [8; 32])]);
        assert!(good.verify(&other).is_err());
        let mut unknown = good.clone();
        unknown.key_id = 7;
        assert!(unknown.verify(&secret).is_err());
    }
}
