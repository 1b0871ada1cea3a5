//! The shuffle server: serves one partition of a map attempt's output file to a reducer, a
//! thread per connection, copying file to socket in the kernel.

use common::map_output::{index_path, read_index};
use common::shuffle::{self, FetchRequest};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Starts serving map outputs under `root` on `listener`.
pub fn serve(listener: TcpListener, root: PathBuf) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                if let Err(e) = handle(conn, &root) {
                    tracing::debug!(error = %e, "shuffle connection ended");
                }
            });
        }
    });
}

fn handle(mut conn: TcpStream, root: &Path) -> common::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    conn.set_write_timeout(Some(common::transfer::IO_TIMEOUT))?;
    let req = shuffle::read_request(&mut BufReader::new(&mut conn))?;
    match open_segment(root, &req) {
        Ok((file, len)) => {
            shuffle::write_ok_header(&mut conn, len)?;
            let copied = std::io::copy(&mut file.take(len), &mut conn)?;
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
