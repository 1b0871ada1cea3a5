//! A file's checksum that does not depend on its block size (HDFS's COMPOSITE-CRC mode): the
//! CRC32 of the whole content, combined from the CRC of each block, which a datanode computes
//! from its stored chunk CRCs ([`Op::BlockChecksum`]), so no data crosses the network.

use crate::dfs::DfsClient;
use crate::error::{ClientError, ClientResult};
use common::checksum;
use common::transfer::{self, BlockRef, Op, Reply};
use proto::dfs::LocatedBlock;
use std::io::BufWriter;

/// A file's composite checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileChecksum {
    /// The CRC32 (IEEE, as the chunk checksums) of the file's bytes.
    pub crc: u32,
    pub length: u64,
}

impl FileChecksum {
    /// The algorithm's name as `mrctl fs checksum` prints it.
    pub const ALGORITHM: &'static str = "COMPOSITE-CRC32";
}

impl DfsClient {
    /// The composite CRC of the file at `path`: each block's CRC from one of its replicas
    /// (the next one when a replica fails), combined in order.
    pub fn file_checksum(&self, path: &str) -> ClientResult<FileChecksum> {
        let located = self.block_locations(path)?;
        let mut crc = 0u32;
        let mut length = 0u64;
        for lb in &located.blocks {
            let len = lb.block.map_or(0, |b| b.num_bytes);
            if len == 0 {
                continue;
            }
            let block_crc = self.block_crc(path, lb, len)?;
            crc = checksum::combine(crc, length, block_crc, len);
            length += len;
        }
        Ok(FileChecksum { crc, length })
    }

    fn block_crc(&self, path: &str, lb: &LocatedBlock, len: u64) -> ClientResult<u32> {
        let block = lb
            .block
            .ok_or_else(|| ClientError::Internal("located block without block".into()))?;
        let op = Op::BlockChecksum {
            block: BlockRef {
                id: block.id,
                gen: block.gen_stamp,
            },
            len,
            token: lb.token.clone(),
        };
        let mut errors = Vec::new();
        for node in &lb.locations {
            match ask(&node.data_addr, &op, &self.inner.tls) {
                Ok(Reply::BlockChecksum { crc, len: l }) if l == len => return Ok(crc),
                Ok(Reply::Error { message, .. }) => {
                    errors.push(format!("{}: {message}", node.data_addr))
                }
                Ok(other) => errors.push(format!("{}: unexpected reply {other:?}", node.data_addr)),
                Err(e) => errors.push(format!("{}: {e}", node.data_addr)),
            }
        }
        Err(ClientError::Transfer {
            path: path.into(),
            message: format!(
                "no replica of blk_{} gave its checksum ({} replicas): {}",
                block.id,
                lb.locations.len(),
                errors.join("; ")
            ),
        })
    }
}

/// Sends `op` to the datanode at `addr` and reads its reply.
fn ask(addr: &str, op: &Op, tls: &common::tls::ClientTls) -> common::Result<Reply> {
    let s = transfer::connect_secure(addr, tls)?;
    transfer::write_op(&mut BufWriter::new(s.try_clone()?), op)?;
    transfer::read_reply(&mut std::io::BufReader::new(s))
}
