//! Block access tokens, against real daemons: a datanode serves a block only with the token
//! the namenode handed out for it (that block, that generation, that access, unexpired), as an
//! attacker on the data port finds out; clients renew an expired token by themselves.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::auth::{BlockAccess, ClusterSecret, Grant, TokenBody};
use common::transfer::{self, BlockRef, Op, Reply, WriteStage};
use std::io::{BufReader, BufWriter, Read, Write};
use std::time::Duration;
use tests::{data, replica_files, start, wait, TestCluster};

/// Sends `op` on a fresh connection to `addr`; the reply, and whether the datanode closed the
/// connection after it.
fn send(tls: &common::tls::ClientTls, addr: &str, op: &Op) -> (Reply, bool) {
    let s = transfer::connect_secure(addr, tls).unwrap();
    transfer::write_op(&mut BufWriter::new(s.try_clone().unwrap()), op).unwrap();
    let mut input = BufReader::new(s);
    let reply = transfer::read_reply(&mut input).unwrap();
    input
        .get_ref()
        .socket()
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = [0u8; 1];
    let closed = matches!(input.read(&mut rest), Ok(0) | Err(_));
    (reply, closed)
}

/// Asserts `reply` is a token refusal whose message contains `why`, on a closed connection.
fn refused(what: &str, (reply, closed): (Reply, bool), why: &str) {
    match &reply {
        Reply::Error { message, .. } => {
            assert!(
                message.contains(transfer::TOKEN_REFUSED) && message.contains(why),
                "{what}: expected a refusal naming {why:?}, got {message:?}"
            );
        }
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
    assert!(closed, "{what}: the connection must close after a refusal");
}

fn read_op(block: BlockRef, token: String) -> Op {
    Op::Read {
        block,
        offset: 0,
        len: u64::MAX / 2,
        token,
    }
}

fn write_op(block: BlockRef, stage: WriteStage, token: String) -> Op {
    Op::Write {
        block,
        stage,
        targets: vec![],
        bytes_per_checksum: 512,
        client: "attacker".into(),
        token,
    }
}

/// A block token signed by a secret of another cluster.
fn forged(block: BlockRef, access: BlockAccess) -> String {
    let other = ClusterSecret::generate().unwrap();
    let grant = Grant::Block {
        block: block.id,
        gen_stamp: block.gen,
        access,
        user: "mallory".into(),
    };
    TokenBody::new(&other, grant, common::auth::now_ms(), 3_600_000)
        .unwrap()
        .sign(&other)
        .unwrap()
}

/// The replica files' bytes of block `id` on datanode 0.
fn replica_bytes(t: &TestCluster, id: u64) -> Vec<Vec<u8>> {
    let mut files = replica_files(&t.data_dirs(0), id);
    files.sort();
    assert!(!files.is_empty(), "no replica of blk_{id} on datanode 0");
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn a_datanode_refuses_every_transfer_without_the_right_token() {
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    let tls = t.client_tls();
    let bytes = data(300 << 10, 41);
    t.dfs
        .write_file("/alice/secret", &bytes, CreateOptions::default())
        .unwrap();
    let located = t.dfs.block_locations("/alice/secret").unwrap();
    let lb = &located.blocks[0];
    let b = lb.block.unwrap();
    let block = BlockRef {
        id: b.id,
        gen: b.gen_stamp,
    };
    assert!(
        !lb.token.is_empty(),
        "the namenode must hand a token with a located block"
    );
    let addr = lb.locations[0].data_addr.clone();
    let before = replica_bytes(&t, b.id);

    // The namenode's own token reads the block.
    let (ok, _) = send(&tls, &addr, &read_op(block, lb.token.clone()));
    assert!(matches!(ok, Reply::ReadReady { .. }), "{ok:?}");

    // Reads: no token, a forged one, an expired one, one for another block.
    refused(
        "a read with no token",
        send(&tls, &addr, &read_op(block, String::new())),
        "(missing)",
    );
    refused(
        "a read with a token of another secret",
        send(
            &tls,
            &addr,
            &read_op(block, forged(block, BlockAccess::READ)),
        ),
        "(forged)",
    );
    let now = common::auth::now_ms();
    let expired = t.block_token_at(
        b.id,
        b.gen_stamp,
        BlockAccess::READ,
        now - 20_000,
        now - 10_000,
    );
    refused(
        "a read with an expired token",
        send(&tls, &addr, &read_op(block, expired)),
        "(expired)",
    );
    let other = t.block_token(b.id + 1, b.gen_stamp, BlockAccess::READ);
    refused(
        "a read with another block's token",
        send(&tls, &addr, &read_op(block, other)),
        &format!("not {}", b.id),
    );

    // Writes over the replica with the reader's token (READ only), fresh or as a recovery.
    refused(
        "a write with a READ token",
        send(
            &tls,
            &addr,
            &write_op(block, WriteStage::Create, lb.token.clone()),
        ),
        "allows READ, not WRITE",
    );
    let recover = WriteStage::Recover {
        old_gen: b.gen_stamp,
        acked_len: 0,
    };
    let newer = BlockRef {
        id: b.id,
        gen: b.gen_stamp + 1,
    };
    refused(
        "a pipeline recovery with a READ token",
        send(&tls, &addr, &write_op(newer, recover, lb.token.clone())),
        "allows READ, not WRITE",
    );
    refused(
        "a copy with a WRITE token",
        send(
            &tls,
            &addr,
            &write_op(
                block,
                WriteStage::Replicate,
                t.block_token(b.id, b.gen_stamp, BlockAccess::WRITE),
            ),
        ),
        "not COPY",
    );

    // The short-circuit path request and the recovery steps, without a token.
    refused(
        "a short-circuit read with no token",
        send(
            &tls,
            &addr,
            &Op::ReadLocal {
                block,
                token: String::new(),
            },
        ),
        "(missing)",
    );
    refused(
        "a replica state request with no token",
        send(
            &tls,
            &addr,
            &Op::ReplicaState {
                block_id: b.id,
                token: String::new(),
            },
        ),
        "(missing)",
    );
    refused(
        "a recovery finalize with a READ token",
        send(
            &tls,
            &addr,
            &Op::FinalizeRecovered {
                block_id: b.id,
                new_gen: b.gen_stamp + 5,
                len: 1,
                token: lb.token.clone(),
            },
        ),
        "allows READ, not WRITE",
    );

    // Nothing changed, and a proper client still reads the file.
    assert_eq!(replica_bytes(&t, b.id), before);
    assert_eq!(t.dfs.read_file("/alice/secret").unwrap(), bytes);
    // The refusals are logged with the peer's address.
    let log = std::fs::read_to_string(t.cluster.dir.join("logs/datanode-0.log")).unwrap();
    assert!(
        log.contains("refused a block transfer") && log.contains("127.0.0.1"),
        "no refusal in the datanode's log"
    );
    assert!(t.cluster.pid("datanode-0").is_some(), "the datanode died");
}

#[test]
fn a_reader_whose_tokens_expired_fetches_new_ones() {
    let t = start(3, 1, |s| {
        s.namenode.security.block_token_lifetime_ms = 2_000;
        s.namenode.default_block_size = 8 << 20;
    });
    let bytes = data(3 << 20, 42);
    t.dfs
        .write_file("/short/file", &bytes, CreateOptions::default())
        .unwrap();
    // Open now (locations and tokens fetched), read once the tokens have expired.
    let mut reader = t.dfs.open("/short/file").unwrap();
    let expiry = common::auth::now_ms() + 2_000;
    wait(
        Duration::from_secs(60),
        "the block tokens to expire",
        || (common::auth::now_ms() > expiry + 500).then_some(()),
    );
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert!(back == bytes, "the data read back differs");

    // A writer whose pipeline breaks after its token expired rebuilds it with a new one.
    let mut w = t
        .dfs
        .create("/short/written", CreateOptions::default())
        .unwrap();
    let half = data(1 << 20, 43);
    w.write_all(&half).unwrap();
    w.flush().unwrap();
    let expiry = common::auth::now_ms() + 2_000;
    wait(Duration::from_secs(60), "the write token to expire", || {
        (common::auth::now_ms() > expiry + 500).then_some(())
    });
    let loc = t.dfs.block_locations("/short/written").unwrap();
    let victim = loc
        .blocks
        .last()
        .and_then(|b| b.locations.last())
        .map(|n| t.datanode_index(&n.data_addr))
        .unwrap();
    t.cluster.kill(&format!("datanode-{victim}")).unwrap();
    let rest = data(1 << 20, 44);
    w.write_all(&rest).unwrap();
    w.close().unwrap();
    let mut all = half;
    all.extend_from_slice(&rest);
    assert!(
        t.dfs.read_file("/short/written").unwrap() == all,
        "the data read back differs"
    );
}

#[test]
fn a_datanode_refuses_to_start_with_a_secret_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    let secret = t.cluster.datanode_config(0).unwrap().security.secret_file;
    t.cluster.kill("datanode-0").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    t.cluster.start("datanode-0").unwrap();
    let log_path = t.cluster.dir.join("logs/datanode-0.log");
    wait(
        Duration::from_secs(60),
        "the datanode to exit, naming its readable secret",
        || {
            let log = std::fs::read_to_string(&log_path).ok()?;
            (t.cluster.pid("datanode-0").is_none() && log.contains("chmod 600")).then_some(())
        },
    );
    // Made private again, the secret lets the datanode serve its blocks.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    t.cluster.start("datanode-0").unwrap();
    let addr = t.cluster.datanode_config(0).unwrap().data_addr;
    wait(
        Duration::from_secs(60),
        "the restarted datanode to serve and be live",
        || {
            transfer::connect(&addr).ok()?;
            let r = t.dfs.cluster_report().ok()?;
            r.datanodes.iter().all(|d| d.state == "live").then_some(())
        },
    );
    let bytes = data(100 << 10, 45);
    t.dfs
        .write_file("/after", &bytes, CreateOptions::default())
        .unwrap();
    assert!(t.dfs.read_file("/after").unwrap() == bytes);
}

#[test]
fn an_insecure_cluster_hands_out_no_tokens_and_checks_none() {
    let t = start(1, 1, |s| {
        s.security.insecure = true;
        s.namenode.default_replication = 1;
    });
    let bytes = data(200 << 10, 46);
    t.dfs
        .write_file("/open/file", &bytes, CreateOptions::default())
        .unwrap();
    assert!(t.dfs.read_file("/open/file").unwrap() == bytes);
    let lb = t.dfs.block_locations("/open/file").unwrap().blocks[0].clone();
    assert_eq!(lb.token, "", "an insecure namenode mints no tokens");
    let b = lb.block.unwrap();
    let block = BlockRef {
        id: b.id,
        gen: b.gen_stamp,
    };
    let tls = t.client_tls();
    let (reply, _) = send(
        &tls,
        &lb.locations[0].data_addr,
        &read_op(block, String::new()),
    );
    assert!(matches!(reply, Reply::ReadReady { .. }), "{reply:?}");
}
