//! The shuffle server: serves one partition of a map attempt's output file to a reducer, a
//! thread per connection, copying file to socket in the kernel (or, over TLS, through
//! large encrypted writes).

use common::conn_limit::{serve_threads, ConnLimiter};
use common::map_output::{index_path, read_index};
use common::shuffle::{self, FetchRequest};
use common::tls::ServerTls;
use common::transfer::Stream;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Starts serving map outputs under `root` on `listener`, within `limiter`'s caps: a
/// connection over them, or whose thread cannot start, is closed and the server goes on.
pub fn serve(
    listener: TcpListener,
    root: PathBuf,
    limiter: Arc<ConnLimiter>,
    tls: ServerTls,
) -> std::io::Result<()> {
    let idle = limiter.limits.idle_timeout;
    std::thread::Builder::new()
        .name("shuffle-accept".into())
        .spawn(move || {
            serve_threads(listener, limiter, "shuffle", move |conn| {
                if let Err(e) = handle(conn, &root, idle, &tls) {
                    tracing::debug!(error = %e, "shuffle connection ended");
                }
            })
        })?;
    Ok(())
}

fn handle(conn: TcpStream, root: &Path, idle: Duration, tls: &ServerTls) -> common::Result<()> {
    // A fetcher sends its request at once; one that does not is holding a place for nothing
    // (the TLS handshake included).
    conn.set_read_timeout(Some(idle))?;
    conn.set_write_timeout(Some(common::transfer::IO_TIMEOUT))?;
    let mut conn = Stream::accept(conn, tls)
        .map_err(|e| common::Error::Protocol(format!("TLS handshake failed: {e}")))?;
    let req = shuffle::read_request(&mut BufReader::new(&mut conn))?;
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
