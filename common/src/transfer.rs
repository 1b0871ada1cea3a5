//! The block transfer protocol: a framed TCP stream beside gRPC, for bulk data.
//!
//! A connection starts with an [`Op`] (postcard, length-prefixed), answered by a [`Reply`].
//! Then data flows as packets: a fixed header (seqno, offset in block, data length, last flag),
//! the CRC32 of each chunk, and the data. A write pipeline acks every packet upstream with
//! one status per node from the acking node down the pipeline.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// Largest reply frame accepted: anything bigger is garbage, not an answer.
const MAX_FRAME: u32 = 1 << 20;
/// Largest op frame a server accepts: an op is a few ids and a pipeline's addresses.
pub const MAX_OP_FRAME: u32 = 64 << 10;
/// Largest packet payload accepted.
pub const MAX_PACKET: u32 = 16 << 20;
/// Buffers for what a peer sends grow by at most this much ahead of the bytes that arrived, so
/// a header claiming a large length costs nothing until the data comes.
const GROW_STEP: usize = 64 << 10;
const PROTOCOL_MAGIC: &[u8; 4] = b"MRDT";
/// Data bytes per packet, rounded down to whole chunks.
pub const PACKET_BYTES: usize = 512 << 10;

/// A block as the transfer protocol names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef {
    pub id: u64,
    pub gen: u64,
}

/// A node further down a write pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub node_id: u64,
    pub addr: String,
}

/// How a write pipeline starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteStage {
    /// A new replica written by a client.
    Create,
    /// A pipeline rebuilt after a failure: each node cuts its replica (of generation
    /// `old_gen`) to `acked_len` bytes, restamps it with the op's generation, and carries on.
    Recover { old_gen: u64, acked_len: u64 },
    /// A copy sent by another datanode (re-replication); finalized when complete.
    Replicate,
    /// A closed block reopened to append to (HDFS's PIPELINE_SETUP_APPEND): each node checks
    /// that its finalized replica (of generation `old_gen`) has the block's `len` bytes and a
    /// sound last chunk, restamps it with the op's generation, moves it back to the
    /// being-written area, and takes packets from `len` on. The first packet of a block whose
    /// last chunk is partial carries only what completes that chunk; the node rewrites the
    /// chunk's CRC over the old and new bytes together.
    Append { old_gen: u64, len: u64 },
}

/// The first frame of a connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Op {
    Write {
        block: BlockRef,
        stage: WriteStage,
        /// The nodes after the receiving one.
        targets: Vec<Target>,
        bytes_per_checksum: u32,
        client: String,
        /// Block access token: WRITE for a client's write or a pipeline recovery, COPY for a
        /// re-replication; passed down the pipeline unchanged.
        token: String,
    },
    Read {
        block: BlockRef,
        offset: u64,
        len: u64,
        /// Block access token allowing READ.
        token: String,
    },
    /// Short-circuit read: a client on the datanode's own machine asks where the replica's
    /// files are, and reads them itself (still verifying every checksum).
    ReadLocal {
        block: BlockRef,
        /// Block access token allowing READ.
        token: String,
    },
    /// Lease recovery, step one: the replica's state, and stop any writer on it.
    ReplicaState {
        block_id: u64,
        /// Block access token allowing WRITE (from the namenode's recovery command).
        token: String,
    },
    /// Lease recovery, step two: cut the replica to `len`, stamp `new_gen`, finalize it.
    FinalizeRecovered {
        block_id: u64,
        new_gen: u64,
        len: u64,
        /// Block access token allowing WRITE (from the namenode's recovery command).
        token: String,
    },
    // New ops go last: postcard numbers variants in order, and peers of the previous
    // release must still read the ones they know.
    /// The CRC32 of the replica's first `len` bytes, combined from its stored chunk CRCs (only
    /// a partial last chunk is read), so a file's checksum costs no data transfer
    /// (`mrctl fs checksum`).
    BlockChecksum {
        block: BlockRef,
        len: u64,
        /// Block access token allowing READ.
        token: String,
    },
}

/// How a datanode's refusal of a block access token begins (`Reply::Error`'s message), so a
/// client can tell a token to renew from a replica to avoid: see [`refused_token`].
pub const TOKEN_REFUSED: &str = "block access token refused";
/// The reason word of an expired token's refusal (`block access token refused (expired): ...`).
pub const TOKEN_EXPIRED: &str = "(expired)";

/// Whether an error message from a datanode is a refusal of the block access token, and if so
/// whether it was because the token expired (fetching fresh locations brings a new one).
pub fn refused_token(message: &str) -> Option<bool> {
    let rest = message.split(TOKEN_REFUSED).nth(1)?;
    Some(rest.trim_start().starts_with(TOKEN_EXPIRED))
}

/// The answer to an [`Op`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Write pipeline set up end to end.
    WriteReady,
    /// Packets follow; the first starts at `start` (chunk-aligned, at most the asked offset).
    ReadReady {
        bytes_per_checksum: u32,
        start: u64,
        replica_len: u64,
    },
    /// A finalized replica for a short-circuit read: its data and checksum files follow as
    /// descriptors (`common::local_read`).
    LocalReplica {
        bytes_per_checksum: u32,
        replica_len: u64,
    },
    ReplicaState {
        gen: u64,
        len: u64,
        finalized: bool,
    },
    Done,
    /// `bad_node`: index of the failed node counted from the replying node (0 = itself).
    Error {
        message: String,
        bad_node: Option<u32>,
    },
    /// The CRC32 of the first `len` bytes of a replica ([`Op::BlockChecksum`]).
    BlockChecksum {
        crc: u32,
        len: u64,
    },
}

/// Whether `ip` is an address of this machine (so files of a datanode here can be opened
/// directly): loopback, or an address a socket can be bound to.
pub fn is_local_ip(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

fn write_frame<T: Serialize>(w: &mut impl Write, value: &T) -> Result<()> {
    let bytes = postcard::to_stdvec(value).map_err(|e| Error::Internal(e.to_string()))?;
    w.write_all(PROTOCOL_MAGIC)?;
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

/// Reads exactly `len` bytes into `buf`, allocating only as they arrive (one [`GROW_STEP`]
/// ahead at most); room `buf` already has from earlier reads is reused.
fn read_len(r: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> Result<()> {
    buf.truncate(len);
    r.read_exact(buf)?;
    while buf.len() < len {
        let start = buf.len();
        buf.resize(start + (len - start).min(GROW_STEP), 0);
        r.read_exact(&mut buf[start..])?;
    }
    Ok(())
}

/// The data bytes of one packet for a checksum chunk size: whole chunks up to
/// [`PACKET_BYTES`], or one chunk when a chunk is larger. Every sender (client writers,
/// re-replication, datanode reads) cuts packets this way, so a write packet may not exceed it.
pub fn packet_cap(bytes_per_checksum: u32) -> usize {
    let bpc = (bytes_per_checksum as usize).max(1);
    (PACKET_BYTES / bpc).max(1) * bpc
}

fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read, max: u32) -> Result<T> {
    let mut header = [0u8; 8];
    r.read_exact(&mut header)?;
    if &header[..4] != PROTOCOL_MAGIC {
        return Err(Error::Protocol(
            "not a block transfer request (bad magic)".into(),
        ));
    }
    let len = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len > max {
        return Err(Error::Protocol(format!(
            "frame of {len} bytes is too large (at most {max})"
        )));
    }
    let mut buf = Vec::new();
    read_len(r, &mut buf, len as usize)?;
    postcard::from_bytes(&buf).map_err(|e| Error::Protocol(format!("malformed frame: {e}")))
}

pub fn write_op(w: &mut impl Write, op: &Op) -> Result<()> {
    write_frame(w, op)
}
pub fn read_op(r: &mut impl Read) -> Result<Op> {
    read_frame(r, MAX_OP_FRAME)
}
pub fn write_reply(w: &mut impl Write, reply: &Reply) -> Result<()> {
    write_frame(w, reply)
}
pub fn read_reply(r: &mut impl Read) -> Result<Reply> {
    read_frame(r, MAX_FRAME)
}

/// One packet of block data with its checksums.
#[derive(Clone, Debug, Default)]
pub struct Packet {
    pub seqno: u64,
    pub offset: u64,
    pub last: bool,
    pub sums: Vec<u8>,
    pub data: Vec<u8>,
}

const PACKET_HEADER: usize = 8 + 8 + 4 + 4 + 1;

impl Packet {
    /// Writes header, checksums and data.
    pub fn write_to(&self, w: &mut impl Write) -> Result<()> {
        let mut h = [0u8; PACKET_HEADER];
        h[..8].copy_from_slice(&self.seqno.to_le_bytes());
        h[8..16].copy_from_slice(&self.offset.to_le_bytes());
        h[16..20].copy_from_slice(&(self.data.len() as u32).to_le_bytes());
        h[20..24].copy_from_slice(&(self.sums.len() as u32).to_le_bytes());
        h[24] = self.last as u8;
        w.write_all(&h)?;
        w.write_all(&self.sums)?;
        w.write_all(&self.data)?;
        Ok(())
    }

    /// Reads a packet into `self`, reusing its buffers.
    pub fn read_from(&mut self, r: &mut impl Read) -> Result<()> {
        self.read_bounded(r, None, MAX_PACKET as usize)
    }

    /// Reads a packet of a stream whose checksum chunk is `bytes_per_checksum`: its header must
    /// claim at most `max_data` bytes and exactly one CRC per chunk of them, or the packet is
    /// refused before anything is allocated for it (a server reads with this).
    pub fn read_checked(
        &mut self,
        r: &mut impl Read,
        bytes_per_checksum: u32,
        max_data: usize,
    ) -> Result<()> {
        self.read_bounded(r, Some(bytes_per_checksum), max_data)
    }

    fn read_bounded(&mut self, r: &mut impl Read, bpc: Option<u32>, max_data: usize) -> Result<()> {
        let mut h = [0u8; PACKET_HEADER];
        r.read_exact(&mut h)?;
        let seqno = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
        self.offset = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
        let data_len = u32::from_le_bytes(h[16..20].try_into().expect("4 bytes")) as usize;
        let sums_len = u32::from_le_bytes(h[20..24].try_into().expect("4 bytes")) as usize;
        let sums_ok = match bpc {
            Some(bpc) => sums_len == crate::checksum::chunks(data_len, bpc.max(1) as usize) * 4,
            None => sums_len <= MAX_PACKET as usize,
        };
        if data_len > max_data || !sums_ok || h[24] > 1 {
            return Err(Error::Protocol(format!(
                "malformed packet header (packet {seqno}: data {data_len} bytes, at most \
                 {max_data}; checksums {sums_len} bytes, 4 per chunk of {} bytes)",
                bpc.map_or("some".to_string(), |b| b.to_string())
            )));
        }
        self.seqno = seqno;
        self.last = h[24] == 1;
        read_len(r, &mut self.sums, sums_len)?;
        read_len(r, &mut self.data, data_len)?;
        Ok(())
    }
}

impl Packet {
    /// Fills this packet from a replica's files: the bytes from `pos` (on a chunk boundary)
    /// up to one packet's worth or `end`, with their stored checksums. Used by every reader of
    /// replica files: datanode reads, re-replication, and short-circuit client reads.
    pub fn fill_from_replica(
        &mut self,
        data: &std::fs::File,
        meta: &std::fs::File,
        bytes_per_checksum: u64,
        pos: u64,
        end: u64,
    ) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let bpc = bytes_per_checksum.max(1);
        let n = ((PACKET_BYTES as u64 / bpc).max(1) * bpc).min(end.saturating_sub(pos));
        self.offset = pos;
        self.last = pos + n >= end;
        self.data.resize(n as usize, 0);
        data.read_exact_at(&mut self.data, pos)?;
        self.sums
            .resize(crate::checksum::chunks(n as usize, bpc as usize) * 4, 0);
        meta.read_exact_at(
            &mut self.sums,
            crate::checksum::META_HEADER_LEN + pos / bpc * 4,
        )
    }
}

/// Connects to a datanode's transfer server, with the timeouts every transfer uses, in plain
/// TCP (an insecure cluster; [`connect_secure`] is what clients use).
pub fn connect(addr: &str) -> Result<std::net::TcpStream> {
    use std::net::ToSocketAddrs;
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| Error::Protocol(format!("{addr}: no address")))?;
    let s = std::net::TcpStream::connect_timeout(&sock, std::time::Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// A transfer (or shuffle) connection: TLS unless the cluster is insecure. Clones share the
/// connection, as a socket's do, so one thread can write packets while another reads acks.
#[derive(Debug)]
pub enum Stream {
    Plain(std::net::TcpStream),
    Tls(crate::tls_stream::TlsStream),
}

impl Stream {
    /// Wraps an accepted socket: a TLS handshake within the socket's read timeout (set it
    /// first: a peer that never finishes one is dropped like an idle one), or plain.
    pub fn accept(sock: std::net::TcpStream, tls: &crate::tls::ServerTls) -> Result<Stream> {
        Ok(match tls {
            Some(config) => {
                Stream::Tls(crate::tls_stream::TlsStream::server(sock, config.clone())?)
            }
            None => Stream::Plain(sock),
        })
    }

    pub fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(s) => Stream::Tls(s.clone()),
        })
    }

    /// The socket under the stream: timeouts, addresses, shutdown.
    pub fn socket(&self) -> &std::net::TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.socket(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Connects to a datanode's transfer server (or a worker's shuffle server) with the timeouts
/// every transfer uses, over TLS when `tls` is set: the server's certificate must name the
/// host of `addr`. An untrusted certificate is an error naming `tls_ca`.
pub fn connect_secure(addr: &str, tls: &crate::tls::ClientTls) -> Result<Stream> {
    let sock = connect(addr)?;
    let Some(config) = tls else {
        return Ok(Stream::Plain(sock));
    };
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    crate::tls_stream::TlsStream::client(sock, config.clone(), host)
        .map(Stream::Tls)
        .map_err(|e| {
            Error::Protocol(format!(
                "TLS to {addr}: {}",
                crate::tls::explain(&crate::tls::chain(&e), None)
            ))
        })
}

/// Longest a peer may stay silent in the middle of a transfer.
pub const IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A write pipeline's ack of one packet: one status per node, from the acking node down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seqno: u64,
    pub ok: Vec<bool>,
}

impl Ack {
    pub fn write_to(&self, w: &mut impl Write) -> Result<()> {
        let mut buf = Vec::with_capacity(9 + self.ok.len());
        buf.extend_from_slice(&self.seqno.to_le_bytes());
        buf.push(self.ok.len() as u8);
        buf.extend(self.ok.iter().map(|&ok| ok as u8));
        w.write_all(&buf)?;
        w.flush()?;
        Ok(())
    }

    pub fn read_from(r: &mut impl Read) -> Result<Ack> {
        let mut h = [0u8; 9];
        r.read_exact(&mut h)?;
        let mut ok = vec![0u8; h[8] as usize];
        r.read_exact(&mut ok)?;
        Ok(Ack {
            seqno: u64::from_le_bytes(h[..8].try_into().expect("8 bytes")),
            ok: ok.into_iter().map(|b| b == 1).collect(),
        })
    }

    /// Index of the first failed node, if any.
    pub fn first_bad(&self) -> Option<usize> {
        self.ok.iter().position(|ok| !ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_protocol_error() {
        let mut r: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
        let err = read_op(&mut r).expect_err("garbage");
        assert!(err.to_string().contains("bad magic"), "{err}");
    }

    #[test]
    fn a_packet_header_over_the_bounds_is_refused_before_allocating() {
        let header = |data: u32, sums: u32| {
            let mut h = vec![0u8; PACKET_HEADER];
            h[16..20].copy_from_slice(&data.to_le_bytes());
            h[20..24].copy_from_slice(&sums.to_le_bytes());
            h
        };
        let mut p = Packet::default();
        // 16 MiB of checksums for 4 KiB of data: refused, nothing allocated.
        let err = p
            .read_checked(&mut header(4096, 16 << 20).as_slice(), 512, packet_cap(512))
            .expect_err("checksums do not match the data");
        assert!(err.to_string().contains("malformed packet header"), "{err}");
        assert_eq!(p.sums.capacity() + p.data.capacity(), 0);
        // More data than one packet may carry.
        let cap = packet_cap(512);
        let err = p
            .read_checked(&mut header(cap as u32 + 512, 4).as_slice(), 512, cap)
            .expect_err("too much data");
        assert!(err.to_string().contains(&format!("at most {cap}")), "{err}");
        // A valid header whose data never comes: the buffers stay small.
        let claimed = cap as u32;
        let sums = crate::checksum::chunks(cap, 512) as u32 * 4;
        let mut r = header(claimed, sums);
        r.extend_from_slice(&vec![0u8; sums as usize]);
        r.extend_from_slice(&[7u8; 100]);
        assert!(p.read_checked(&mut r.as_slice(), 512, cap).is_err());
        assert!(p.data.capacity() <= GROW_STEP, "{}", p.data.capacity());
    }

    #[test]
    fn packet_cap_is_whole_chunks_up_to_a_packet() {
        assert_eq!(packet_cap(4096), PACKET_BYTES);
        assert_eq!(packet_cap(3000), PACKET_BYTES / 3000 * 3000);
        assert_eq!(packet_cap(1 << 20), 1 << 20);
        assert_eq!(packet_cap(0), PACKET_BYTES);
    }

    #[test]
    fn an_op_frame_over_its_bound_is_refused() {
        let mut r = Vec::from(&PROTOCOL_MAGIC[..]);
        r.extend_from_slice(&(MAX_OP_FRAME + 1).to_le_bytes());
        let err = read_op(&mut r.as_slice()).expect_err("too large");
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn a_token_refusal_is_told_from_other_errors() {
        let expired = format!("127.0.0.1:9: {TOKEN_REFUSED} {TOKEN_EXPIRED}: expired token 1");
        assert_eq!(refused_token(&expired), Some(true));
        let forged = format!("{TOKEN_REFUSED} (forged): forged token: x");
        assert_eq!(refused_token(&forged), Some(false));
        assert_eq!(refused_token("blk_1: no replica here"), None);
    }

    #[test]
    fn packet_round_trip() {
        let p = Packet {
            seqno: 3,
            offset: 1024,
            last: true,
            sums: vec![1, 2, 3, 4],
            data: vec![9; 100],
        };
        let mut buf = Vec::new();
        p.write_to(&mut buf).expect("write");
        let mut q = Packet::default();
        q.read_from(&mut buf.as_slice()).expect("read");
        assert_eq!(
            (q.seqno, q.offset, q.last, q.sums, q.data),
            (3, 1024, true, p.sums, p.data)
        );
    }
}
