//! The shuffle server: serves one partition of a map attempt's output file to a reducer, a
//! thread per connection, copying file to socket in the kernel (or, over TLS, through
//! large encrypted writes). In secure mode a request must be signed with its job's key (which
//! only the job's tasks hold); any other is refused, counted and logged with the peer's address.

use common::auth::ClusterSecret;
use common::conn_limit::{serve_threads, ConnLimiter};
use common::map_output::{index_path, read_index};
use common::shuffle::{self, FetchRequest};
use common::tls::ServerTls;
use common::transfer::Stream;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Who may fetch: the secret job keys are derived from (none in insecure mode), and the
/// refusals so far.
#[derive(Debug, Default)]
pub struct ShuffleGuard {
    secret: Option<ClusterSecret>,
    /// Requests refused for their signature.
    pub refused: AtomicU64,
    /// When (ms since the epoch) a refusal was last logged: at most one line a second, so a
    /// flood of bad requests cannot flood the log.
    last_logged_ms: AtomicU64,
}

impl ShuffleGuard {
    pub fn new(secret: Option<ClusterSecret>) -> ShuffleGuard {
        ShuffleGuard {
            secret,
            ..Default::default()
        }
    }

    /// Whether `req` may be served; a refusal is counted and (rate-limited) logged.
    fn check(&self, req: &FetchRequest, peer: &str) -> Result<(), String> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let Err(why) = req.verify(secret) else {
            return Ok(());
        };
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = common::auth::now_ms();
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1_000
            && self
                .last_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(%peer, job = %req.job_id, attempt = %req.attempt_id, refused, "refused a shuffle fetch: {why}");
        }
        Err(format!(
            "shuffle fetch of {} refused: {why} (a map output is served only to its own job's tasks)",
            req.attempt_id
        ))
    }
}

/// Starts serving map outputs under `root` on `listener`, within `limiter`'s caps: a
/// connection over them, or whose thread cannot start, is closed and the server goes on.
pub fn serve(
    listener: TcpListener,
    root: PathBuf,
    limiter: Arc<ConnLimiter>,
    guard: Arc<ShuffleGuard>,
    tls: ServerTls,
) -> std::io::Result<()> {
    let idle = limiter.limits.idle_timeout;
    std::thread::Builder::new()
        .name("shuffle-accept".into())
        .spawn(move || {
            serve_threads(listener, limiter, "shuffle", move |conn| {
                if let Err(e) = handle(conn, &root, idle, &guard, &tls) {
                    tracing::debug!(error = %e, "shuffle connection ended");
                }
            })
        })?;
    Ok(())
}

fn handle(
    conn: TcpStream,
    root: &Path,
    idle: Duration,
    guard: &ShuffleGuard,
    tls: &ServerTls,
) -> common::Result<()> {
    // A fetcher sends its request at once; one that does not is holding a place for nothing
    // (the TLS handshake included).
    conn.set_read_timeout(Some(idle))?;
    conn.set_write_timeout(Some(common::transfer::IO_TIMEOUT))?;
    let peer = conn
        .peer_addr()
        .map_or_else(|_| "unknown".to_string(), |a| a.to_string());
    let mut conn = Stream::accept(conn, tls)
        .map_err(|e| common::Error::Protocol(format!("TLS handshake failed: {e}")))?;
    let req = shuffle::read_request(&mut BufReader::new(&mut conn))?;
    if let Err(message) = guard.check(&req, &peer) {
        shuffle::write_error(&mut conn, &message)?;
        return Ok(());
    }
    match open_segment(root, &req) {
        Ok((file, len)) => {
            shuffle::write_ok_header(&mut conn, len)?;
            let copied = match &mut conn {
                // The kernel copies file to socket (sendfile/splice).
                Stream::Plain(sock) => std::io::copy(&mut file.take(len), sock)?,
                // Large writes: each one is a few TLS records encrypted at once.
                tls => {
                    let mut out = BufWriter::with_capacity(256 << 10, tls);
                    let n = std::io::copy(&mut file.take(len), &mut out)?;
                    out.flush()?;
                    n
                }
            };
            if copied != len {
                return Err(common::Error::Protocol(format!(
                    "map output of {} shrank while serving it",
                    req.attempt_id
                )));
            }
            conn.flush()?;
        }
        Err(message) => {
            tracing::warn!(attempt = %req.attempt_id, %message, "cannot serve map output");
            shuffle::write_error(&mut conn, &message)?;
        }
    }
    Ok(())
}

/// The map output file positioned at the partition's segment, and the segment's length.
fn open_segment(root: &Path, req: &FetchRequest) -> Result<(std::fs::File, u64), String> {
    let path = shuffle::map_output_path(root, req.job_id.as_str(), req.attempt_id.as_str())
        .map_err(|e| e.to_string())?;
    let index = read_index(&index_path(&path))
        .map_err(|e| format!("no output of map {} here: {e}", req.attempt_id))?;
    let seg = index.get(req.partition as usize).ok_or_else(|| {
        format!(
            "map {} has {} partitions, not {}",
            req.attempt_id,
            index.len(),
            req.partition + 1
        )
    })?;
    let mut f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(seg.offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((f, seg.len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ids::{AttemptId, JobId};
    use common::jobs::TaskCredentials;

    #[test]
    fn the_guard_refuses_and_counts_all_but_the_jobs_own_requests() {
        let secret = ClusterSecret::from_keys(vec![(1, [5; 32])]);
        let guard = ShuffleGuard::new(Some(secret.clone()));
        let creds = |job: &str| TaskCredentials {
            token: String::new(),
            key_id: 1,
            job_key: common::auth::job_key::job_key(&secret, 1, job).expect("key"),
        };
        let req = |c: Option<&TaskCredentials>| {
            FetchRequest::new(JobId("job_a".into()), AttemptId("att_m".into()), 0, c)
        };
        assert!(guard.check(&req(Some(&creds("job_a"))), "peer").is_ok());
        let err = guard.check(&req(None), "peer").expect_err("unsigned");
        assert!(err.contains("att_m") && err.contains("unsigned"), "{err}");
        assert!(guard.check(&req(Some(&creds("job_b"))), "peer").is_err());
        assert_eq!(guard.refused.load(Ordering::Relaxed), 2);
        // Insecure mode serves anyone.
        assert!(ShuffleGuard::new(None).check(&req(None), "peer").is_ok());
    }
}
