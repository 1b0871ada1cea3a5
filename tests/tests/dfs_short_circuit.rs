//! Short-circuit reads hand a replica's files over the datanode's local socket as descriptors:
//! the data folders stay private to the datanode (0700), the request over TCP and one without a
//! block access token are refused, and a client on the machine reads the replica's bytes from
//! the descriptors.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::transfer::{self, BlockRef, Op, Reply};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use tests::{data, start};

#[test]
fn a_local_reader_gets_the_replica_as_descriptors_and_the_data_dirs_stay_private() {
    let t = start(1, 1, |_| {});
    let bytes = data(300_000, 7);
    t.dfs
        .write_file("/sc/file", &bytes, CreateOptions::default())
        .unwrap();
    let loc = t.dfs.block_locations("/sc/file").unwrap();
    let b = loc.blocks[0].clone();
    let block = b.block.unwrap();
    let addr = b.locations[0].data_addr.clone();
    for d in t.data_dirs(0) {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is mode {mode:o}", d.display());
    }

    let op_with = |token: &str| Op::ReadLocal {
        block: BlockRef {
            id: block.id,
            gen: block.gen_stamp,
        },
        token: token.to_string(),
    };
    let op = op_with(&b.token);
    // Over TCP: refused, naming where it is served.
    let mut tcp = transfer::connect_secure(&addr, &t.client_tls()).unwrap();
    transfer::write_op(&mut tcp, &op).unwrap();
    match transfer::read_reply(&mut tcp).unwrap() {
        Reply::Error { message, .. } => assert!(message.contains("local socket"), "{message}"),
        other => panic!("a short-circuit read over TCP was served: {other:?}"),
    }

    // Over the local socket without a block access token: refused, nothing handed over.
    let mut s = common::local_read::connect(&addr).unwrap();
    transfer::write_op(&mut s, &op_with("")).unwrap();
    match transfer::read_reply(&mut s).unwrap() {
        Reply::Error { message, .. } => {
            assert!(
                message.contains("block access token refused (missing)"),
                "{message}"
            )
        }
        other => panic!("a short-circuit read without a token was served: {other:?}"),
    }

    // Over the local socket with the namenode's token: the files come as descriptors.
    let mut s = common::local_read::connect(&addr).unwrap();
    transfer::write_op(&mut s, &op).unwrap();
    let Reply::LocalReplica { replica_len, .. } = transfer::read_reply(&mut s).unwrap() else {
        panic!("no replica");
    };
    assert_eq!(replica_len, bytes.len() as u64);
    let fds = common::local_read::recv_files(&s).unwrap();
    assert_eq!(fds.len(), 2, "data and checksum files");
    let mut data_file = std::fs::File::from(fds.into_iter().next().unwrap());
    data_file.seek(SeekFrom::Start(0)).unwrap();
    let mut got = Vec::new();
    data_file.read_to_end(&mut got).unwrap();
    assert_eq!(got, bytes);

    // And the client reads the file through it.
    let mut cfg = t.cluster.client_config().unwrap();
    cfg.short_circuit = true;
    let reader = client::DfsClient::connect(cfg).unwrap();
    assert_eq!(reader.read_file("/sc/file").unwrap(), bytes);
}
