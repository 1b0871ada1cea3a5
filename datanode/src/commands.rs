//! Work the namenode asks for on heartbeat replies: copying a replica to other datanodes
//! (re-replication) and, as the primary, recovering the last block of a file whose writer
//! vanished.

use crate::nn::{CommandRunner, NamenodeLink};
use crate::storage::Storage;
use common::checksum;
use common::error::{Error, Result};
use common::ids::{BlockId, GenStamp, NodeId};
use common::transfer::{self, Ack, BlockRef, Op, Packet, Reply, Target, WriteStage};
use proto::dfs::{Block, DatanodeInfo, RecoverBlockCommand};
use std::io::{BufReader, BufWriter, Write};
use std::sync::Arc;

pub struct Commands {
    pub storage: Arc<Storage>,
    pub link: NamenodeLink,
    /// TLS of the connections to other datanodes (`None`: insecure).
    pub tls: common::tls::ClientTls,
}

impl CommandRunner for Commands {
    fn replicate(&self, block: Block, targets: Vec<DatanodeInfo>, token: String) {
        let (storage, link) = (self.storage.clone(), self.link.clone());
        let tls = self.tls.clone();
        let _ =
            std::thread::Builder::new()
                .name("replicate".into())
                .spawn(
                    move || match send_copy(&storage, &link, &tls, &block, &targets, token) {
                        Ok(()) => {
                            tracing::info!(
                                block = block.id,
                                targets = targets.len(),
                                "replica copied"
                            )
                        }
                        Err(e) => {
                            tracing::warn!(block = block.id, error = %e, "copying a replica failed")
                        }
                    },
                );
    }

    fn recover(&self, cmd: RecoverBlockCommand) {
        let (storage, link) = (self.storage.clone(), self.link.clone());
        let tls = self.tls.clone();
        let _ = std::thread::Builder::new()
            .name("recover".into())
            .spawn(move || {
                let id = cmd.block.as_ref().map(|b| b.id).unwrap_or(0);
                match recover_block(&storage, &link, &tls, &cmd) {
                    Ok(len) => tracing::info!(block = id, len, "block recovered"),
                    Err(e) => tracing::warn!(block = id, error = %e, "block recovery failed"),
                }
            });
    }
}

/// Streams a local finalized replica down a pipeline of `targets`, verifying it as it goes.
fn send_copy(
    storage: &Storage,
    link: &NamenodeLink,
    tls: &common::tls::ClientTls,
    block: &Block,
    targets: &[DatanodeInfo],
    token: String,
) -> Result<()> {
    let (r, data, meta, len) = storage.open_read(block.id, block.gen_stamp)?;
    let first = targets
        .first()
        .ok_or_else(|| Error::Protocol("no targets".into()))?;
    let sock = transfer::connect_secure(&first.data_addr, tls)?;
    let mut out = BufWriter::with_capacity(64 << 10, sock.try_clone()?);
    let mut input = BufReader::new(sock);
    transfer::write_op(
        &mut out,
        &Op::Write {
            block: BlockRef {
                id: r.id,
                gen: r.gen,
            },
            stage: WriteStage::Replicate,
            targets: targets[1..]
                .iter()
                .map(|t| Target {
                    node_id: t.node_id,
                    addr: t.data_addr.clone(),
                })
                .collect(),
            bytes_per_checksum: r.bytes_per_checksum,
            client: format!("{}", link.node_id),
            token,
        },
    )?;
    match transfer::read_reply(&mut input)? {
        Reply::WriteReady => {}
        other => return Err(Error::Protocol(format!("{}: {other:?}", first.data_addr))),
    }
    let bpc = r.bytes_per_checksum as u64;
    let mut p = Packet::default();
    let mut pos = 0;
    let mut packets = 0;
    loop {
        p.fill_from_replica(&data, &meta, bpc, pos, len)?;
        let n = p.data.len() as u64;
        if checksum::verify(&p.data, &p.sums, bpc as usize).is_err() {
            link.report_bad(BlockId(r.id), GenStamp(r.gen));
            return Err(Error::Protocol(format!(
                "blk_{}: local replica is corrupt",
                r.id
            )));
        }
        p.write_to(&mut out)?;
        p.seqno += 1;
        packets += 1;
        pos += n;
        if p.last {
            break;
        }
    }
    out.flush()?;
    for _ in 0..packets {
        let ack = Ack::read_from(&mut input)?;
        if let Some(bad) = ack.first_bad() {
            return Err(Error::Protocol(format!("target {bad} of the copy failed")));
        }
    }
    Ok(())
}

/// Lease recovery as the primary: ask every holder for its replica, cut all to the shortest
/// (every byte below it was acknowledged by each), restamp, finalize, tell the namenode.
fn recover_block(
    storage: &Storage,
    link: &NamenodeLink,
    tls: &common::tls::ClientTls,
    cmd: &RecoverBlockCommand,
) -> Result<u64> {
    let block = cmd
        .block
        .as_ref()
        .ok_or_else(|| Error::Protocol("recover command without a block".into()))?;
    let ask = |addr: &str, op: Op| -> Result<Reply> {
        let s = transfer::connect_secure(addr, tls)?;
        let mut w = BufWriter::new(s.try_clone()?);
        transfer::write_op(&mut w, &op)?;
        transfer::read_reply(&mut BufReader::new(s))
    };
    let mut states = Vec::new();
    for h in &cmd.replicas {
        let state = if h.node_id == storage.node_id.0 {
            storage.get(block.id).and_then(|r| {
                let len = std::fs::metadata(storage.data_path(&r)).ok()?.len();
                Some((r.gen, len))
            })
        } else {
            let op = Op::ReplicaState {
                block_id: block.id,
                token: cmd.token.clone(),
            };
            match ask(&h.data_addr, op) {
                Ok(Reply::ReplicaState { gen, len, .. }) => Some((gen, len)),
                _ => None,
            }
        };
        if let Some((gen, len)) = state {
            if gen >= block.gen_stamp && gen < cmd.new_gen_stamp {
                states.push((h, len));
            }
        }
    }
    let len = states
        .iter()
        .map(|s| s.1)
        .min()
        .ok_or_else(|| Error::Protocol(format!("blk_{}: no replica answered", block.id)))?;
    let mut done = Vec::new();
    for (h, _) in &states {
        let op = Op::FinalizeRecovered {
            block_id: block.id,
            new_gen: cmd.new_gen_stamp,
            len,
            token: cmd.token.clone(),
        };
        let ok = if h.node_id == storage.node_id.0 {
            storage
                .finalize_recovered(block.id, cmd.new_gen_stamp, len)
                .map(|r| link.received(&r, len))
                .is_ok()
        } else {
            matches!(ask(&h.data_addr, op), Ok(Reply::Done))
        };
        if ok {
            done.push(NodeId(h.node_id));
        }
    }
    if done.is_empty() {
        return Err(Error::Protocol(format!(
            "blk_{}: no replica could be finalized",
            block.id
        )));
    }
    link.commit_block_synchronization(BlockId(block.id), GenStamp(cmd.new_gen_stamp), len, done)
        .map_err(|e| Error::Protocol(e.message().to_string()))?;
    Ok(len)
}
