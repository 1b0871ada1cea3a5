//! Reading a file: each block from its nearest replica, every packet checked against its
//! checksums. A replica that fails a check is reported to the namenode and the read carries on
//! from another replica at the same byte, so the caller never sees bad data.

use crate::dfs::DfsClient;
use crate::error::{ClientError, ClientResult};
use common::checksum;
use common::transfer::{self, BlockRef, Op, Packet, Reply, Stream};
use proto::dfs::{Block, DatanodeInfo, LocatedBlock};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};

/// An open file being read. Implements [`std::io::Read`].
pub struct DfsReader {
    client: DfsClient,
    path: String,
    blocks: Vec<LocatedBlock>,
    len: u64,
    pos: u64,
    cur: Option<BlockReader>,
    /// Nodes that failed for this reader; tried again only when nothing else is left.
    failed: HashSet<u64>,
}

/// Where a block's packets come from.
enum Source {
    /// Streamed by the datanode.
    Remote(BufReader<Stream>),
    /// Short-circuit: the replica's files, opened directly.
    Local { data: File, meta: File, next: u64 },
}

struct BlockReader {
    source: Source,
    block: Block,
    node_id: u64,
    bpc: usize,
    packet: Packet,
    /// Next byte of `packet.data` to hand out.
    at: usize,
}

impl DfsReader {
    pub(crate) fn open(client: DfsClient, path: &str) -> ClientResult<Self> {
        let l = client.block_locations(path)?;
        Ok(DfsReader {
            client,
            path: path.into(),
            blocks: l.blocks,
            len: l.file_length,
            pos: 0,
            cur: None,
            failed: HashSet::new(),
        })
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves to byte `pos` of the file.
    pub fn seek_to(&mut self, pos: u64) {
        self.pos = pos.min(self.len);
        self.cur = None;
    }

    fn err(&self, message: String) -> ClientError {
        ClientError::Transfer {
            path: self.path.clone(),
            message,
        }
    }

    /// Opens the block holding `self.pos` on the best replica that answers. When the
    /// datanodes refused its block access token as expired, fetches the file's locations again
    /// (new tokens) and tries once more, as HDFS's client does.
    fn open_block(&mut self) -> ClientResult<BlockReader> {
        match self.open_block_once() {
            Ok(r) => Ok(r),
            Err((e, false)) => Err(e),
            Err((e, true)) => {
                tracing::debug!(path = %self.path, error = %e, "block token expired; fetching new locations");
                self.blocks = self.client.block_locations(&self.path)?.blocks;
                self.open_block_once().map_err(|(e, _)| e)
            }
        }
    }

    /// One try of [`DfsReader::open_block`]; on failure, also whether a datanode refused the
    /// token as expired.
    fn open_block_once(&mut self) -> Result<BlockReader, (ClientError, bool)> {
        let lb = self
            .blocks
            .iter()
            .find(|b| {
                let len = b.block.map_or(0, |x| x.num_bytes);
                b.offset <= self.pos && self.pos < b.offset + len
            })
            .cloned()
            .ok_or_else(|| (self.err(format!("no block holds byte {}", self.pos)), false))?;
        let block = lb.block.ok_or_else(|| {
            (
                ClientError::Internal("located block without block".into()),
                false,
            )
        })?;
        if lb.locations.is_empty() {
            return Err((
                self.err(format!(
                    "blk_{}: no replica is available (the block is missing)",
                    block.id
                )),
                false,
            ));
        }
        let mut expired = false;
        let in_block = self.pos - lb.offset;
        let mut errors = Vec::new();
        let mut order = lb.locations.clone();
        order.sort_by_key(|n| self.failed.contains(&n.node_id)); // stable: nearest first
        let short_circuit = self.client.inner.config.short_circuit;
        let tls = &self.client.inner.tls.clone();
        for node in &order {
            let opened = match short_circuit
                .then(|| open_local(node, &block, &lb.token, in_block))
                .flatten()
            {
                Some(local) => Ok(local),
                None => read_op(&node.data_addr, &block, &lb.token, in_block, tls)
                    .map(|(input, bpc, start)| (Source::Remote(input), bpc, start)),
            };
            match opened {
                Ok((source, bpc, start)) => {
                    // Skip the bytes of the first chunk before our position.
                    let skip = (in_block - start) as usize;
                    let mut r = BlockReader {
                        source,
                        block,
                        node_id: node.node_id,
                        bpc,
                        packet: Packet::default(),
                        at: 0,
                    };
                    match r.next_packet() {
                        Ok(()) => {
                            r.at = skip;
                            return Ok(r);
                        }
                        Err(bad) => {
                            self.replica_failed(&block, node.node_id, bad.corrupt);
                            errors.push(format!("{}: {}", node.data_addr, bad.message));
                        }
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    match transfer::refused_token(&message) {
                        // Every replica would refuse it: new locations bring a new token.
                        Some(true) => {
                            expired = true;
                            errors.push(format!("{}: {message}", node.data_addr));
                            break;
                        }
                        // The node is fine; this token will never do.
                        Some(false) => {}
                        None => {
                            self.failed.insert(node.node_id);
                        }
                    }
                    errors.push(format!("{}: {message}", node.data_addr));
                }
            }
        }
        Err((
            self.err(format!(
                "could not read blk_{} from any of its {} replicas: {}",
                block.id,
                lb.locations.len(),
                errors.join("; ")
            )),
            expired,
        ))
    }

    fn replica_failed(&mut self, block: &Block, node_id: u64, corrupt: bool) {
        self.failed.insert(node_id);
        if corrupt {
            tracing::warn!(block = block.id, node_id, path = %self.path, "checksum mismatch; reading another replica");
            self.client.report_bad(block, node_id);
        }
    }
}

/// Opens a replica of a datanode on this machine directly (its files come as descriptors over
/// the datanode's local socket); None when that is not possible (remote node, refused), and the
/// caller streams it instead.
fn open_local(
    node: &DatanodeInfo,
    block: &Block,
    token: &str,
    offset: u64,
) -> Option<(Source, usize, u64)> {
    let addr: std::net::SocketAddr = node.data_addr.parse().ok()?;
    if !transfer::is_local_ip(addr.ip()) {
        return None;
    }
    let mut s = common::local_read::connect(&node.data_addr).ok()?;
    s.set_read_timeout(Some(transfer::IO_TIMEOUT)).ok()?;
    let op = Op::ReadLocal {
        block: BlockRef {
            id: block.id,
            gen: block.gen_stamp,
        },
        token: token.to_string(),
    };
    transfer::write_op(&mut s, &op).ok()?;
    // Unbuffered: a buffer could swallow the byte that carries the descriptors.
    let Reply::LocalReplica {
        bytes_per_checksum,
        replica_len,
    } = transfer::read_reply(&mut s).ok()?
    else {
        return None;
    };
    if replica_len < block.num_bytes || bytes_per_checksum == 0 {
        return None;
    }
    let mut fds = common::local_read::recv_files(&s).ok()?.into_iter();
    let (data, meta) = (File::from(fds.next()?), File::from(fds.next()?));
    let bpc = bytes_per_checksum as u64;
    let start = offset / bpc * bpc;
    Some((
        Source::Local {
            data,
            meta,
            next: start,
        },
        bpc as usize,
        start,
    ))
}

fn read_op(
    addr: &str,
    block: &Block,
    token: &str,
    offset: u64,
    tls: &common::tls::ClientTls,
) -> common::Result<(BufReader<Stream>, usize, u64)> {
    let s = transfer::connect_secure(addr, tls)?;
    transfer::write_op(
        &mut BufWriter::new(s.try_clone()?),
        &Op::Read {
            block: BlockRef {
                id: block.id,
                gen: block.gen_stamp,
            },
            offset,
            len: block.num_bytes - offset,
            token: token.to_string(),
        },
    )?;
    // A small buffer: packet bodies are larger and bypass it, saving a copy.
    let mut input = BufReader::with_capacity(64 << 10, s);
    match transfer::read_reply(&mut input)? {
        Reply::ReadReady {
            bytes_per_checksum,
            start,
            replica_len,
        } => {
            if replica_len < block.num_bytes {
                return Err(common::Error::Protocol(format!(
                    "replica has {replica_len} bytes, the block {}",
                    block.num_bytes
                )));
            }
            Ok((input, bytes_per_checksum.max(1) as usize, start))
        }
        Reply::Error { message, .. } => Err(common::Error::Protocol(message)),
        other => Err(common::Error::Protocol(format!(
            "unexpected reply {other:?}"
        ))),
    }
}

struct PacketError {
    corrupt: bool,
    message: String,
}

impl BlockReader {
    fn next_packet(&mut self) -> Result<(), PacketError> {
        let io_error = |e: String| PacketError {
            corrupt: false,
            message: e,
        };
        match &mut self.source {
            Source::Remote(input) => self
                .packet
                .read_from(input)
                .map_err(|e| io_error(e.to_string()))?,
            Source::Local { data, meta, next } => {
                self.packet
                    .fill_from_replica(data, meta, self.bpc as u64, *next, self.block.num_bytes)
                    .map_err(|e| io_error(e.to_string()))?;
                *next += self.packet.data.len() as u64;
            }
        }
        self.at = 0;
        checksum::verify(&self.packet.data, &self.packet.sums, self.bpc).map_err(|chunk| {
            PacketError {
                corrupt: true,
                message: format!(
                    "checksum mismatch at byte {} of blk_{}",
                    self.packet.offset + (chunk * self.bpc) as u64,
                    self.block.id
                ),
            }
        })
    }
}

impl Read for DfsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.cur.is_none() {
                self.cur = Some(self.open_block().map_err(std::io::Error::other)?);
            }
            let r = self.cur.as_mut().expect("just opened");
            if r.at < r.packet.data.len() {
                let n = buf.len().min(r.packet.data.len() - r.at);
                buf[..n].copy_from_slice(&r.packet.data[r.at..r.at + n]);
                r.at += n;
                self.pos += n as u64;
                if r.at == r.packet.data.len() && r.packet.last {
                    self.cur = None;
                }
                return Ok(n);
            }
            if r.packet.last {
                self.cur = None;
                continue;
            }
            if let Err(e) = r.next_packet() {
                let (block, node) = (r.block, r.node_id);
                tracing::debug!(error = %e.message, "replica read failed; trying another");
                self.cur = None;
                self.replica_failed(&block, node, e.corrupt);
            }
        }
    }
}
