//! The short-circuit read server: on a Unix socket only clients on this machine reach (see
//! `common::local_read`), a finalized replica's data and checksum files are handed to the
//! client as open descriptors, so the data folders stay private to the datanode.

use crate::block_auth::BlockAuth;
use crate::storage::Storage;
use common::auth::BlockAccess;
use common::local_read;
use common::transfer::{self, Op, Reply};
use std::io::BufReader;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves short-circuit reads.
pub struct LocalReads {
    pub storage: Arc<Storage>,
    /// The block access token check, as on the data port.
    pub auth: Arc<BlockAuth>,
    /// Connections served at once; more are closed at once (the client then reads over TCP).
    pub max_connections: usize,
    /// How long a request may take to arrive.
    pub request_timeout: Duration,
}

impl LocalReads {
    /// Listens on the datanode's local read socket and serves each connection on its own thread.
    pub fn start(self, data_addr: &str) -> std::io::Result<()> {
        let listener = local_read::bind(data_addr)?;
        let me = Arc::new(self);
        std::thread::Builder::new()
            .name("local-read-accept".into())
            .spawn(move || me.serve(listener))?;
        Ok(())
    }

    fn serve(self: Arc<Self>, listener: UnixListener) {
        let busy = Arc::new(AtomicUsize::new(0));
        for conn in listener.incoming() {
            let Ok(conn) = conn else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            if busy.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
                busy.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let (me, b) = (self.clone(), busy.clone());
            let spawned = std::thread::Builder::new()
                .name("local-read".into())
                .spawn(move || {
                    if let Err(e) = me.handle(&conn) {
                        tracing::debug!(error = %e, "short-circuit read refused or failed");
                    }
                    b.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                busy.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn handle(&self, conn: &UnixStream) -> common::Result<()> {
        conn.set_read_timeout(Some(self.request_timeout))?;
        conn.set_write_timeout(Some(transfer::IO_TIMEOUT))?;
        let op = transfer::read_op(&mut BufReader::new(conn))?;
        let Op::ReadLocal { block, token } = op else {
            return refuse(
                conn,
                "only short-circuit reads are served on this socket".into(),
            );
        };
        // The token first, as on the data port: a refused request opens nothing.
        let peer = format!("local socket (pid {})", peer_pid(conn));
        if let Err(message) = self.auth.check(
            &token,
            block.id,
            block.gen,
            BlockAccess::READ,
            "read_local",
            &peer,
        ) {
            return refuse(conn, message);
        }
        let (r, data, meta, len) = match self.storage.open_read(block.id, block.gen) {
            Ok(opened) => opened,
            Err(e) => return refuse(conn, e.to_string()),
        };
        if r.state != crate::storage::ReplicaState::Finalized {
            return refuse(conn, format!("blk_{}: not finalized", block.id));
        }
        let reply = Reply::LocalReplica {
            bytes_per_checksum: r.bytes_per_checksum,
            replica_len: len,
        };
        let mut w = conn;
        transfer::write_reply(&mut w, &reply)?;
        local_read::send_files(conn, &[&data, &meta])?;
        Ok(())
    }
}

/// The connecting process, for the log (the socket has no address).
fn peer_pid(conn: &UnixStream) -> String {
    rustix::net::sockopt::socket_peercred(conn)
        .map(|c| c.pid.as_raw_nonzero().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn refuse(conn: &UnixStream, message: String) -> common::Result<()> {
    let mut w = conn;
    transfer::write_reply(
        &mut w,
        &Reply::Error {
            message: message.clone(),
            bad_node: None,
        },
    )?;
    Err(common::Error::Protocol(message))
}
