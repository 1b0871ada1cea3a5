//! The data transfer server: one thread per connection, serving block reads, write pipelines
//! (receive, mirror downstream, store, ack upstream), and the steps of lease recovery.

use crate::block_auth::BlockAuth;
use crate::nn::NamenodeLink;
use crate::storage::{ReplicaState, Storage};
use common::auth::BlockAccess;
use common::checksum;
use common::conn_limit::{serve_threads, ConnLimiter};
use common::error::{Error, Result};
use common::transfer::{self, Ack, Op, Packet, Reply, Stream, Target, WriteStage};
use std::io::{BufReader, BufWriter};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub struct Xceiver {
    pub storage: Arc<Storage>,
    pub link: NamenodeLink,
    /// Tests only (`exit_at_last_packet_for_tests`): die when a client's last packet of a
    /// block arrives, after passing it down the pipeline, so the nodes around have it.
    pub exit_at_last_packet: bool,
    /// The largest checksum chunk (and so packet payload) a write may use.
    pub max_packet_bytes: u32,
    /// Checks every op's block access token (nothing in insecure mode).
    pub auth: Arc<BlockAuth>,
    /// TLS of the connections this server accepts (`None`: insecure, plain TCP).
    pub tls_server: common::tls::ServerTls,
    /// TLS of the connections it opens down a pipeline.
    pub tls_client: common::tls::ClientTls,
}

impl Xceiver {
    /// Accepts connections forever, within `limiter`'s caps; a connection whose op does not
    /// arrive within its idle timeout is closed.
    pub fn serve(self: Arc<Self>, listener: TcpListener, limiter: Arc<ConnLimiter>) {
        let idle = limiter.limits.idle_timeout;
        serve_threads(listener, limiter, "xceiver", move |conn| {
            let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            match self.handle(conn, idle) {
                Ok(()) => {}
                // A malformed or oversized request is the peer's doing: say so once.
                Err(e @ Error::Protocol(_)) => {
                    tracing::warn!(%peer, error = %e, "refused a bad transfer request; connection closed")
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "transfer connection ended with an error")
                }
            }
        });
    }

    fn handle(&self, conn: TcpStream, idle: Duration) -> Result<()> {
        conn.set_nodelay(true)?;
        // Until the op has arrived the connection is idle; then transfers get their own timeout.
        conn.set_read_timeout(Some(idle))?;
        conn.set_write_timeout(Some(transfer::IO_TIMEOUT))?;
        let peer = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        // The handshake is bounded by the idle timeout set above, like a silent op.
        let conn = Stream::accept(conn, &self.tls_server)
            .map_err(|e| Error::Protocol(format!("TLS handshake failed: {e}")))?;
        // Small buffers: packet bodies are larger and bypass them, saving a copy.
        let mut input = BufReader::with_capacity(64 << 10, conn.try_clone()?);
        let mut output = BufWriter::with_capacity(64 << 10, conn);
        let op = match transfer::read_op(&mut input) {
            Ok(op) => op,
            Err(e) => {
                let _ = transfer::write_reply(
                    &mut output,
                    &Reply::Error {
                        message: e.to_string(),
                        bad_node: None,
                    },
                );
                return Err(e);
            }
        };
        // The token first: a refused op touches nothing, and its connection closes.
        if let Err(message) = self.check_token(&op, &peer) {
            return transfer::write_reply(&mut output, &error_reply(message, None));
        }
        input
            .get_ref()
            .socket()
            .set_read_timeout(Some(transfer::IO_TIMEOUT))?;
        let result = match op {
            Op::Read {
                block, offset, len, ..
            } => self.read(block.id, block.gen, offset, len, &mut output),
            Op::Write {
                block,
                stage,
                targets,
                bytes_per_checksum,
                token,
                ..
            } => self.write(
                block.id,
                block.gen,
                stage,
                targets,
                bytes_per_checksum,
                token,
                input,
                output,
            ),
            Op::ReadLocal { .. } => transfer::write_reply(
                &mut output,
                &error_reply(
                    "short-circuit reads are served on the datanode's local socket, not here"
                        .into(),
                    None,
                ),
            ),
            Op::BlockChecksum { block, len, .. } => {
                let reply = self.block_checksum(block.id, block.gen, len);
                transfer::write_reply(&mut output, &reply)
            }
            Op::ReplicaState { block_id, .. } => {
                let reply = match self.storage.get(block_id) {
                    Some(r) => Reply::ReplicaState {
                        gen: r.gen,
                        len: std::fs::metadata(self.storage.data_path(&r))
                            .map(|m| m.len())
                            .unwrap_or(0),
                        finalized: r.state == ReplicaState::Finalized,
                    },
                    None => error_reply(format!("blk_{block_id}: no replica here"), None),
                };
                transfer::write_reply(&mut output, &reply)
            }
            Op::FinalizeRecovered {
                block_id,
                new_gen,
                len,
                ..
            } => {
                let reply = match self.storage.finalize_recovered(block_id, new_gen, len) {
                    Ok(r) => {
                        self.link.received(&r, len);
                        Reply::Done
                    }
                    Err(e) => error_reply(e.to_string(), None),
                };
                transfer::write_reply(&mut output, &reply)
            }
        };
        result
    }

    /// Checks the op's block access token for the exact block, generation and access it needs.
    fn check_token(&self, op: &Op, peer: &str) -> std::result::Result<(), String> {
        if !self.auth.enabled() {
            return Ok(());
        }
        let (token, block, gen, access, name) = match op {
            Op::Read { block, token, .. } => {
                (token, block.id, block.gen, BlockAccess::READ, "read")
            }
            Op::ReadLocal { block, token } => {
                (token, block.id, block.gen, BlockAccess::READ, "read_local")
            }
            Op::BlockChecksum { block, token, .. } => (
                token,
                block.id,
                block.gen,
                BlockAccess::READ,
                "block_checksum",
            ),
            Op::Write {
                block,
                stage,
                token,
                ..
            } => {
                // A copy needs the namenode's COPY grant; a client's write or recovery, WRITE.
                let access = match stage {
                    WriteStage::Replicate => BlockAccess::COPY,
                    _ => BlockAccess::WRITE,
                };
                (token, block.id, block.gen, access, "write")
            }
            // The replica's own generation (any, when there is none): the recovery token is
            // for the block's generation when the namenode started the recovery.
            Op::ReplicaState { block_id, token } => {
                let gen = self.storage.get(*block_id).map_or(u64::MAX, |r| r.gen);
                (token, *block_id, gen, BlockAccess::WRITE, "replica_state")
            }
            Op::FinalizeRecovered {
                block_id,
                new_gen,
                token,
                ..
            } => (
                token,
                *block_id,
                *new_gen,
                BlockAccess::WRITE,
                "finalize_recovered",
            ),
        };
        self.auth.check(token, block, gen, access, name, peer)
    }

    /// The reply to [`Op::BlockChecksum`]: the CRC32 of the replica's first `len` bytes.
    fn block_checksum(&self, id: u64, gen: u64, len: u64) -> Reply {
        let crc = self
            .storage
            .open_read(id, gen)
            .and_then(|(r, data, meta, replica_len)| {
                let bpc = u64::from(r.bytes_per_checksum).max(1);
                crate::block_checksum::replica_crc(id, &data, &meta, bpc, replica_len, len)
            });
        match crc {
            Ok(crc) => Reply::BlockChecksum { crc, len },
            Err(e) => error_reply(e.to_string(), None),
        }
    }

    fn read(
        &self,
        id: u64,
        gen: u64,
        offset: u64,
        len: u64,
        out: &mut BufWriter<Stream>,
    ) -> Result<()> {
        let (_, data, meta, replica_len) = match self.storage.open_read(id, gen) {
            Ok(x) => x,
            Err(e) => return transfer::write_reply(out, &error_reply(e.to_string(), None)),
        };
        let bpc = match self.storage.get(id) {
            Some(r) => r.bytes_per_checksum as u64,
            None => {
                return transfer::write_reply(out, &error_reply(format!("blk_{id} vanished"), None))
            }
        };
        if offset > replica_len {
            let msg =
                format!("blk_{id}: offset {offset} is past the replica's {replica_len} bytes");
            return transfer::write_reply(out, &error_reply(msg, None));
        }
        let start = offset / bpc * bpc;
        let end = offset.saturating_add(len).min(replica_len);
        transfer::write_reply(
            out,
            &Reply::ReadReady {
                bytes_per_checksum: bpc as u32,
                start,
                replica_len,
            },
        )?;
        let mut p = Packet::default();
        let mut pos = start;
        loop {
            p.fill_from_replica(&data, &meta, bpc, pos, end)?;
            p.write_to(out)?;
            p.seqno += 1;
            pos += p.data.len() as u64;
            if p.last {
                break;
            }
        }
        use std::io::Write;
        out.flush()?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        id: u64,
        gen: u64,
        stage: WriteStage,
        targets: Vec<Target>,
        bpc: u32,
        token: String,
        mut input: BufReader<Stream>,
        mut output: BufWriter<Stream>,
    ) -> Result<()> {
        if bpc == 0 || bpc > self.max_packet_bytes {
            let msg = format!(
                "blk_{id}: bad checksum chunk size {bpc} (1 to {} bytes, max_packet_bytes)",
                self.max_packet_bytes
            );
            return transfer::write_reply(&mut output, &error_reply(msg, Some(0)));
        }
        let writer = match stage {
            WriteStage::Create => self.storage.create(id, gen, bpc, ReplicaState::Rbw),
            WriteStage::Replicate => self.storage.create(id, gen, bpc, ReplicaState::Temporary),
            // A node the failed setup never reached has nothing to recover: start afresh.
            WriteStage::Recover { acked_len: 0, .. } if self.storage.get(id).is_none() => {
                self.storage.create(id, gen, bpc, ReplicaState::Rbw)
            }
            WriteStage::Recover { old_gen, acked_len } => {
                self.storage.recover(id, old_gen, gen, acked_len)
            }
            WriteStage::Append { old_gen, len } => {
                self.storage.reopen_for_append(id, old_gen, gen, len)
            }
        };
        let mut writer = match writer {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(block = id, error = %e, "cannot open replica for writing");
                return transfer::write_reply(&mut output, &error_reply(e.to_string(), Some(0)));
            }
        };
        // A copy that fails leaves nothing behind to block the next one.
        let abandon = |writer| {
            if stage == WriteStage::Replicate {
                self.storage.abandon(writer);
            }
        };
        // Set up the rest of the pipeline before answering.
        let mut mirror = None;
        if let Some(next) = targets.first() {
            let down_op = Op::Write {
                block: transfer::BlockRef { id, gen },
                stage,
                targets: targets[1..].to_vec(),
                bytes_per_checksum: bpc,
                client: String::new(),
                // The next node checks the same token.
                token,
            };
            let setup = transfer::connect_secure(&next.addr, &self.tls_client).and_then(|s| {
                let mut w = BufWriter::with_capacity(64 << 10, s.try_clone()?);
                transfer::write_op(&mut w, &down_op)?;
                let mut r = BufReader::new(s);
                let reply = transfer::read_reply(&mut r)?;
                Ok((w, r, reply))
            });
            match setup {
                Ok((w, r, Reply::WriteReady)) => mirror = Some((w, r)),
                Ok((_, _, Reply::Error { message, bad_node })) => {
                    abandon(writer);
                    let bad = bad_node.map(|b| b + 1);
                    return transfer::write_reply(&mut output, &error_reply(message, bad));
                }
                Ok((_, _, other)) => {
                    abandon(writer);
                    let msg = format!("{}: unexpected reply {other:?}", next.addr);
                    return transfer::write_reply(&mut output, &error_reply(msg, Some(1)));
                }
                Err(e) => {
                    abandon(writer);
                    let msg = format!("{}: {e}", next.addr);
                    return transfer::write_reply(&mut output, &error_reply(msg, Some(1)));
                }
            }
        }
        if let Err(e) = transfer::write_reply(&mut output, &Reply::WriteReady) {
            abandon(writer);
            return Err(e);
        }
        let downstream = targets.len();
        let (mirror_out, mirror_in) = match mirror {
            Some((w, r)) => (Some(w), Some(r)),
            None => (None, None),
        };
        // The responder acks each packet once stored here and acked by everyone below.
        let (tx, rx) = mpsc::channel::<(u64, bool)>();
        let responder = std::thread::Builder::new()
            .name("responder".into())
            .spawn(move || respond(rx, mirror_in, output, downstream))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut mirror_out = mirror_out;
        let mut p = Packet::default();
        let result = loop {
            if let Err(e) = p.read_checked(&mut input, bpc, transfer::packet_cap(bpc)) {
                break Err(e);
            }
            if let Some(m) = mirror_out.as_mut() {
                let sent = p.write_to(m).and_then(|_| {
                    use std::io::Write;
                    m.flush().map_err(Error::from)
                });
                if sent.is_err() {
                    // The responder notices the missing ack and reports the node below as bad.
                    mirror_out = None;
                }
            }
            if p.last && self.exit_at_last_packet && stage != WriteStage::Replicate {
                tracing::warn!(block = id, "exit_at_last_packet_for_tests: exiting");
                std::process::exit(3);
            }
            let stored = checksum::verify(&p.data, &p.sums, bpc as usize)
                .map_err(|c| {
                    Error::Protocol(format!(
                        "blk_{id}: checksum mismatch in chunk {c} of packet {}",
                        p.seqno
                    ))
                })
                .and_then(|_| writer.append(p.offset, &p.data, &p.sums));
            if let Err(e) = stored {
                let _ = tx.send((p.seqno, false));
                break Err(e);
            }
            if p.last {
                break Ok(());
            }
            let _ = tx.send((p.seqno, true));
        };
        let last_seqno = p.seqno;
        let len = writer.len;
        match result {
            Ok(()) => {
                let ok = match self.storage.finalize(writer) {
                    Ok(r) => {
                        self.link.received(&r, len);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(block = id, error = %e, "finalizing failed");
                        false
                    }
                };
                let _ = tx.send((last_seqno, ok));
                drop(tx);
                let _ = responder.join();
                tracing::debug!(block = id, len, ?stage, "replica written");
                Ok(())
            }
            Err(e) => {
                drop(tx);
                let _ = responder.join();
                abandon(writer);
                Err(e)
            }
        }
    }
}

fn error_reply(message: String, bad_node: Option<u32>) -> Reply {
    Reply::Error { message, bad_node }
}

/// Sends one ack upstream per stored packet, merged with the acks from downstream.
fn respond(
    rx: mpsc::Receiver<(u64, bool)>,
    mut mirror_in: Option<BufReader<Stream>>,
    mut upstream: BufWriter<Stream>,
    downstream: usize,
) {
    while let Ok((seqno, ok_here)) = rx.recv() {
        let mut ok = vec![ok_here];
        match mirror_in.as_mut().map(Ack::read_from) {
            None => ok.extend(std::iter::repeat_n(true, downstream)),
            Some(Ok(a)) if a.seqno == seqno => ok.extend(a.ok),
            Some(_) => {
                // The node below is gone: report it bad and stop acking.
                ok.push(false);
                ok.extend(std::iter::repeat_n(true, downstream.saturating_sub(1)));
                let _ = Ack { seqno, ok }.write_to(&mut upstream);
                return;
            }
        }
        let failed = ok.iter().any(|o| !o);
        if (Ack { seqno, ok }).write_to(&mut upstream).is_err() || failed {
            return;
        }
    }
}
