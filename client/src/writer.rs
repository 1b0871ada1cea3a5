//! Writing a file: blocks are streamed down a pipeline of datanodes as checksummed packets,
//! each acknowledged by every node. Unacknowledged packets are kept; when a node fails, the
//! pipeline is rebuilt from the survivors under a new generation stamp, each survivor cuts its
//! replica back to the acknowledged length, and the kept packets are sent again. The lost
//! replica is re-created later by the namenode. An append reopens the last block's replicas
//! the same way, with the append stage, and carries on from its end.

use crate::dfs::{CreateOptions, DfsClient};
use crate::error::{ClientError, ClientResult};
use common::checksum;
use common::transfer::{
    self, Ack, BlockRef, Op, Packet, Reply, Stream, Target, WriteStage, PACKET_BYTES,
};
use proto::dfs::*;
use std::collections::VecDeque;
use std::io::{BufReader, BufWriter, Write};
use std::sync::Arc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Packets in flight per pipeline before the writer waits for acks.
const WINDOW: usize = 16;

/// An open file being written. Call [`DfsWriter::close`] to make it durable and visible;
/// dropping it without closing leaves the file to lease recovery.
pub struct DfsWriter {
    client: DfsClient,
    /// The path at create, for messages: the file may be renamed while it is written.
    path: String,
    /// How the namenode knows the file (it follows renames); 0 from a namenode without ids.
    file_id: u64,
    bpc: usize,
    block_size: u64,
    packet_cap: usize,
    buf: Vec<u8>,
    block: Option<BlockStream>,
    /// The previous block, with its final length.
    prev: Option<Block>,
    bytes_in_block: u64,
    excluded: Vec<u64>,
    closed: bool,
}

#[derive(Default)]
struct AckState {
    unacked: VecDeque<Arc<Packet>>,
    acked_len: u64,
    /// Pipeline index of the failed node (None: unknown) and the cause.
    failure: Option<(Option<usize>, String)>,
    done: bool,
    /// Bumped when the pipeline is rebuilt, so the old pipeline's ack reader goes quiet.
    epoch: u64,
}

struct BlockStream {
    id: u64,
    /// A block reopened by an append: its length then. Until a byte past it is acknowledged,
    /// a pipeline is (re)built with the append stage, which reopens finalized replicas.
    reopened_len: Option<u64>,
    /// Generation the block had when allocated.
    first_gen: u64,
    gen: u64,
    /// The block access token for the pipeline's nodes (renewed with each new generation).
    token: String,
    nodes: Vec<DatanodeInfo>,
    out: Option<BufWriter<Stream>>,
    acks: Arc<(Mutex<AckState>, Condvar)>,
    next_offset: u64,
    seqno: u64,
}

impl DfsWriter {
    pub(crate) fn create(client: DfsClient, path: &str, opts: CreateOptions) -> ClientResult<Self> {
        let cfg = &client.inner.config;
        let req = CreateRequest {
            caller: client.caller(),
            path: path.into(),
            replication: if opts.replication == 0 {
                cfg.replication
            } else {
                opts.replication
            },
            block_size: if opts.block_size == 0 {
                cfg.block_size
            } else {
                opts.block_size
            },
            mode: client.masked(0o666),
            client_name: client.client_name().into(),
            create_parent: opts.create_parent,
        };
        let resp = client.call(path, |mut c| async move { c.create(req).await })?;
        let status = resp
            .status
            .ok_or_else(|| ClientError::Internal("create returned no status".into()))?;
        Ok(Self::opened(client, status, resp.bytes_per_checksum, None))
    }

    /// A writer on a file the namenode just opened for it (created or reopened), with `prev`
    /// the file's last full block, if any.
    fn opened(
        client: DfsClient,
        status: FileStatus,
        bytes_per_checksum: u32,
        prev: Option<Block>,
    ) -> Self {
        let bpc = bytes_per_checksum.max(1) as usize;
        client.writer_opened();
        DfsWriter {
            file_id: status.file_id,
            path: status.path,
            bpc,
            block_size: status.block_size,
            packet_cap: (PACKET_BYTES / bpc).max(1) * bpc,
            buf: Vec::new(),
            block: None,
            prev,
            bytes_in_block: 0,
            excluded: Vec::new(),
            closed: false,
            client,
        }
    }

    /// Reopens an existing file to write at its end (HDFS's append): the namenode hands over
    /// its lease; a partial last block's pipeline is rebuilt from its replicas with the append
    /// stage under a new stamp, else the first write adds a block.
    pub(crate) fn append(client: DfsClient, path: &str) -> ClientResult<Self> {
        let req = AppendRequest {
            caller: client.caller(),
            path: path.into(),
            client_name: client.client_name().into(),
        };
        let resp = client.call(path, |mut c| async move { c.append(req).await })?;
        let status = resp
            .status
            .ok_or_else(|| ClientError::Internal("append returned no status".into()))?;
        let mut w = Self::opened(client, status, resp.bytes_per_checksum, resp.last_full);
        let Some(lb) = resp.last_block else {
            return Ok(w);
        };
        let block = lb
            .block
            .ok_or_else(|| ClientError::Internal("append returned no block".into()))?;
        let len = block.num_bytes;
        let acks = AckState {
            acked_len: len,
            ..AckState::default()
        };
        let mut b = BlockStream {
            id: block.id,
            reopened_len: Some(len),
            first_gen: block.gen_stamp,
            gen: block.gen_stamp,
            token: lb.token,
            nodes: lb.locations,
            out: None,
            acks: Arc::new((Mutex::new(acks), Condvar::new())),
            next_offset: len,
            seqno: 0,
        };
        if b.nodes.is_empty() {
            return Err(w.err(format!(
                "blk_{}: the namenode knows no replica of the last block to append to",
                b.id
            )));
        }
        // A new stamp, the replicas reopened down the pipeline, the stamp committed.
        w.rebuild(&mut b)?;
        w.bytes_in_block = len;
        w.block = Some(b);
        Ok(w)
    }

    fn err(&self, message: impl Into<String>) -> ClientError {
        ClientError::Transfer {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Bytes the current packet may still take: up to a full packet, never past the block end,
    /// and (right after an append) never past the end of a partial last chunk, which the
    /// first packet completes alone.
    fn room(&self) -> usize {
        let left_in_block = (self.block_size - self.bytes_in_block) as usize;
        let in_chunk = (self.bytes_in_block % self.bpc as u64) as usize;
        let cap = if in_chunk == 0 {
            self.packet_cap
        } else {
            self.bpc - in_chunk
        };
        cap.min(left_in_block) - self.buf.len()
    }

    /// Sends the buffered bytes as one packet, ending the block when it is full or `last`.
    fn flush_packet(&mut self, last: bool) -> ClientResult<()> {
        if self.block.is_none() {
            if self.buf.is_empty() {
                return Ok(());
            }
            self.block = Some(self.new_block()?);
        }
        self.bytes_in_block += self.buf.len() as u64;
        let end_of_block = last || self.bytes_in_block == self.block_size;
        let data = std::mem::take(&mut self.buf);
        let mut sums = Vec::with_capacity(checksum::chunks(data.len(), self.bpc) * 4);
        checksum::compute(&data, self.bpc, &mut sums);
        let (seqno, offset) = {
            let b = self
                .block
                .as_mut()
                .ok_or_else(|| ClientError::Internal("no block".into()))?;
            let s = (b.seqno, b.next_offset);
            b.seqno += 1;
            b.next_offset += data.len() as u64;
            s
        };
        let packet = Arc::new(Packet {
            seqno,
            offset,
            last: end_of_block,
            sums,
            data,
        });
        self.send(packet)?;
        if end_of_block {
            self.finish_block()?;
        }
        Ok(())
    }

    fn send(&mut self, packet: Arc<Packet>) -> ClientResult<()> {
        loop {
            let b = self
                .block
                .as_mut()
                .ok_or_else(|| ClientError::Internal("no block".into()))?;
            {
                let (lock, cv) = &*b.acks;
                let mut st = lock_acks(lock);
                while st.unacked.len() >= WINDOW && st.failure.is_none() {
                    st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
                if st.failure.is_none() {
                    st.unacked.push_back(packet.clone());
                }
            }
            let sent = lock_acks(&b.acks.0).failure.is_none()
                && b.out.as_mut().is_some_and(|out| {
                    packet
                        .write_to(out)
                        .and_then(|_| out.flush().map_err(Into::into))
                        .is_ok()
                });
            if sent {
                return Ok(());
            }
            // The packet is queued (or will be resent after recovery if it was not).
            let queued = lock_acks(&b.acks.0)
                .unacked
                .back()
                .is_some_and(|p| Arc::ptr_eq(p, &packet));
            self.recover_pipeline()?;
            if queued {
                return Ok(());
            }
        }
    }

    /// Waits for every packet of the block to be acked, recovering the pipeline if needed.
    fn finish_block(&mut self) -> ClientResult<()> {
        loop {
            let b = self
                .block
                .as_ref()
                .ok_or_else(|| ClientError::Internal("no block".into()))?;
            let failed = {
                let (lock, cv) = &*b.acks;
                let mut st = lock_acks(lock);
                while !st.done && st.failure.is_none() {
                    st = cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
                st.failure.is_some()
            };
            if !failed {
                break;
            }
            self.recover_pipeline()?;
        }
        let b = self
            .block
            .take()
            .ok_or_else(|| ClientError::Internal("no block".into()))?;
        self.prev = Some(Block {
            id: b.id,
            gen_stamp: b.gen,
            num_bytes: b.next_offset,
        });
        self.bytes_in_block = 0;
        Ok(())
    }

    /// Asks the namenode for a new block and sets up its pipeline.
    fn new_block(&mut self) -> ClientResult<BlockStream> {
        let req = AddBlockRequest {
            caller: self.client.caller(),
            path: self.path.clone(),
            client_name: self.client.client_name().into(),
            previous: self.prev,
            excluded_nodes: self.excluded.clone(),
            file_id: self.file_id,
        };
        let path = self.path.clone();
        let resp = self
            .client
            .call(&path, |mut c| async move { c.add_block(req).await })?;
        let lb = resp
            .block
            .ok_or_else(|| ClientError::Internal("add_block returned no block".into()))?;
        let block = lb
            .block
            .ok_or_else(|| ClientError::Internal("add_block returned no block".into()))?;
        let mut stream = BlockStream {
            id: block.id,
            reopened_len: None,
            first_gen: block.gen_stamp,
            gen: block.gen_stamp,
            token: lb.token,
            nodes: lb.locations,
            out: None,
            acks: Arc::new((Mutex::new(AckState::default()), Condvar::new())),
            next_offset: 0,
            seqno: 0,
        };
        let b = &mut stream;
        let opened =
            self.open_pipeline(b.id, b.gen, WriteStage::Create, &b.nodes, &b.token, &b.acks);
        match opened {
            Ok(out) => b.out = Some(out),
            // An expired token: no node is to blame, and a new stamp brings a new token.
            Err((_, msg)) if transfer::refused_token(&msg) == Some(true) => self.rebuild(b)?,
            Err((_, msg)) if transfer::refused_token(&msg).is_some() => {
                return Err(self.err(format!("blk_{}: {msg}", b.id)))
            }
            Err((bad, msg)) => {
                // Drop the failed node and go on with the others under a new stamp.
                self.drop_node(b, Some(bad), &msg)?;
                self.rebuild(b)?;
            }
        }
        Ok(stream)
    }

    /// Connects to the first node and sends the write op down the pipeline; on success
    /// starts the ack reader. On failure returns the index of the node to blame.
    fn open_pipeline(
        &self,
        id: u64,
        gen: u64,
        stage: WriteStage,
        nodes: &[DatanodeInfo],
        token: &str,
        acks: &Arc<(Mutex<AckState>, Condvar)>,
    ) -> Result<BufWriter<Stream>, (usize, String)> {
        let first = &nodes[0];
        let sock = transfer::connect_secure(&first.data_addr, &self.client.inner.tls)
            .map_err(|e| (0, format!("{}: {e}", first.data_addr)))?;
        let setup = (|| -> common::Result<(BufWriter<Stream>, BufReader<Stream>, Reply)> {
            let mut out = BufWriter::with_capacity(64 << 10, sock.try_clone()?);
            transfer::write_op(
                &mut out,
                &Op::Write {
                    block: BlockRef { id, gen },
                    stage,
                    targets: nodes[1..]
                        .iter()
                        .map(|n| Target {
                            node_id: n.node_id,
                            addr: n.data_addr.clone(),
                        })
                        .collect(),
                    bytes_per_checksum: self.bpc as u32,
                    client: self.client.client_name().into(),
                    token: token.to_string(),
                },
            )?;
            let mut input = BufReader::new(sock);
            let reply = transfer::read_reply(&mut input)?;
            Ok((out, input, reply))
        })();
        let (out, input, reply) = setup.map_err(|e| (0, format!("{}: {e}", first.data_addr)))?;
        match reply {
            Reply::WriteReady => {}
            Reply::Error { message, bad_node } => {
                return Err((bad_node.unwrap_or(0) as usize, message));
            }
            other => {
                return Err((
                    0,
                    format!("{}: unexpected reply {other:?}", first.data_addr),
                ))
            }
        }
        let acks = acks.clone();
        let n = nodes.len();
        let epoch = lock_acks(&acks.0).epoch;
        std::thread::Builder::new()
            .name("dfs-acks".into())
            .spawn(move || read_acks(input, acks, n, epoch))
            .map_err(|e| (0, e.to_string()))?;
        Ok(out)
    }

    /// Rebuilds the current block's pipeline without the failed node and resends what was
    /// not acknowledged.
    fn recover_pipeline(&mut self) -> ClientResult<()> {
        let mut b = self
            .block
            .take()
            .ok_or_else(|| ClientError::Internal("no block".into()))?;
        let (bad, cause) = failure_of(&b, "connection to the pipeline lost");
        let r = self
            .drop_node(&mut b, bad, &cause)
            .and_then(|_| self.rebuild(&mut b));
        self.block = Some(b);
        r
    }

    /// Restamps the block, reopens the pipeline on `b.nodes` in recovery mode, and resends.
    fn rebuild(&mut self, b: &mut BlockStream) -> ClientResult<()> {
        let mut renewed_expired = false;
        loop {
            let req = UpdateBlockForPipelineRequest {
                client_name: self.client.client_name().into(),
                block: Some(Block {
                    id: b.id,
                    gen_stamp: b.gen,
                    num_bytes: 0,
                }),
            };
            let path = self.path.clone();
            let updated = self.client.call(&path, |mut c| async move {
                c.update_block_for_pipeline(req).await
            })?;
            let new_gen = updated.new_gen_stamp;
            // A namenode without tokens (insecure) sends none: keep the one we have.
            if !updated.token.is_empty() {
                b.token = updated.token;
            }
            let (acked_len, resend) = {
                let mut st = lock_acks(&b.acks.0);
                st.failure = None;
                st.done = false;
                st.epoch += 1;
                (st.acked_len, st.unacked.iter().cloned().collect::<Vec<_>>())
            };
            let stage = match b.reopened_len {
                Some(len) if acked_len == len => WriteStage::Append {
                    old_gen: b.first_gen,
                    len,
                },
                _ => WriteStage::Recover {
                    old_gen: b.first_gen,
                    acked_len,
                },
            };
            match self.open_pipeline(b.id, new_gen, stage, &b.nodes, &b.token, &b.acks) {
                Ok(out) => {
                    b.gen = new_gen;
                    let out = b.out.insert(out);
                    let req = UpdatePipelineRequest {
                        client_name: self.client.client_name().into(),
                        old_block: Some(Block {
                            id: b.id,
                            gen_stamp: b.first_gen,
                            num_bytes: 0,
                        }),
                        new_block: Some(Block {
                            id: b.id,
                            gen_stamp: new_gen,
                            num_bytes: 0,
                        }),
                        new_nodes: b.nodes.iter().map(|n| n.node_id).collect(),
                    };
                    self.client
                        .call(&path, |mut c| async move { c.update_pipeline(req).await })?;
                    let mut ok = true;
                    for p in resend {
                        if p.write_to(out).is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if ok && out.flush().is_ok() {
                        return Ok(());
                    }
                    let (bad, cause) = failure_of(b, "connection lost while resending");
                    self.drop_node(b, bad, &cause)?;
                }
                Err((bad, msg)) => {
                    match transfer::refused_token(&msg) {
                        // Expired: the next stamp brings a new token; once, so a clock far
                        // off cannot loop forever.
                        Some(true) if !renewed_expired => renewed_expired = true,
                        Some(_) => return Err(self.err(format!("blk_{}: {msg}", b.id))),
                        None => self.drop_node(b, Some(bad), &msg)?,
                    }
                    b.gen = new_gen;
                }
            }
        }
    }

    /// Takes a failed node out of `b`'s pipeline (and out of later ones); an error when no
    /// node is left.
    fn drop_node(
        &mut self,
        b: &mut BlockStream,
        bad: Option<usize>,
        cause: &str,
    ) -> ClientResult<()> {
        let bad = bad.unwrap_or(0).min(b.nodes.len() - 1);
        tracing::warn!(block = b.id, node = %b.nodes[bad].data_addr, %cause, "datanode failed in the write pipeline; carrying on without it");
        self.excluded.push(b.nodes[bad].node_id);
        b.nodes.remove(bad);
        if b.nodes.is_empty() {
            return Err(self.err(format!(
                "blk_{}: no datanode can take the block: every datanode of the pipeline failed \
                 (last: {cause}); check that datanodes are up and have room, then write again",
                b.id
            )));
        }
        Ok(())
    }

    /// Flushes what is buffered, waits for every ack, and closes the file at the namenode.
    pub fn close(mut self) -> ClientResult<()> {
        let r = self.close_inner();
        self.closed = true;
        self.client.writer_closed();
        r
    }

    fn close_inner(&mut self) -> ClientResult<()> {
        if !self.buf.is_empty() || self.block.is_some() {
            self.flush_packet(true)?;
        }
        let req = CompleteRequest {
            path: self.path.clone(),
            client_name: self.client.client_name().into(),
            last: self.prev,
            file_id: self.file_id,
        };
        let path = self.path.clone();
        self.client
            .call(&path, |mut c| async move { c.complete(req).await })?;
        Ok(())
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Drop for DfsWriter {
    fn drop(&mut self) {
        if !self.closed {
            self.client.writer_closed();
        }
    }
}

impl Write for DfsWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(self.room());
        self.buf.extend_from_slice(&data[..n]);
        if self.room() == 0 {
            self.flush_packet(false).map_err(std::io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Locks a pipeline's ack state. A panic while it was held poisons the lock but cannot leave
/// the state half-changed (each update is whole before anyone waits), so it is used as is.
fn lock_acks(lock: &Mutex<AckState>) -> MutexGuard<'_, AckState> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The failure the ack reader saw; after a failed send, it is given a moment to say which
/// node failed, else the first node is blamed.
fn failure_of(b: &BlockStream, unknown: &str) -> (Option<usize>, String) {
    let (lock, cv) = &*b.acks;
    let mut st = lock_acks(lock);
    if st.failure.is_none() {
        st = cv
            .wait_timeout(st, Duration::from_secs(5))
            .map_or_else(|e| e.into_inner().0, |(st, _)| st);
    }
    st.failure.clone().unwrap_or((Some(0), unknown.into()))
}

/// Reads acks for one pipeline, retiring acknowledged packets.
fn read_acks(
    mut input: BufReader<Stream>,
    acks: Arc<(Mutex<AckState>, Condvar)>,
    nodes: usize,
    epoch: u64,
) {
    let (lock, cv) = &*acks;
    loop {
        let ack = Ack::read_from(&mut input);
        let mut st = lock_acks(lock);
        if st.epoch != epoch {
            return; // this pipeline was replaced
        }
        match ack {
            Ok(a) => {
                if let Some(bad) = a.first_bad() {
                    st.failure = Some((Some(bad), format!("node {bad} of the pipeline failed")));
                    cv.notify_all();
                    return;
                }
                if a.ok.len() != nodes {
                    st.failure = Some((
                        None,
                        format!("ack with {} statuses for {nodes} nodes", a.ok.len()),
                    ));
                    cv.notify_all();
                    return;
                }
                match st.unacked.front() {
                    Some(p) if p.seqno == a.seqno => {
                        let p = st.unacked.pop_front().expect("front exists");
                        st.acked_len = p.offset + p.data.len() as u64;
                        if p.last {
                            st.done = true;
                            cv.notify_all();
                            return;
                        }
                    }
                    _ => {
                        st.failure = Some((None, format!("unexpected ack {}", a.seqno)));
                        cv.notify_all();
                        return;
                    }
                }
                cv.notify_all();
            }
            Err(e) => {
                if st.failure.is_none() && !st.done {
                    // The first node stopped answering: blame it.
                    st.failure = Some((Some(0), format!("first datanode: {e}")));
                }
                cv.notify_all();
                return;
            }
        }
    }
}
