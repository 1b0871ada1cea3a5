//! Bad input gets a clear error naming what was wrong, and the daemons keep serving.

#![allow(clippy::unwrap_used)]

use client::{ClientError, CreateOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tests::{data, start};

fn err_of<T>(r: Result<T, ClientError>) -> String {
    match r {
        Ok(_) => panic!("must fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_requests_get_clear_errors_and_the_daemons_keep_serving() {
    let t = start(3, 1, |s| {
        s.namenode.max_replication = 10;
        // Plain frames to the transfer port: the protocol's own checks, under TLS
        // (`sec_tls` sends plain bytes to a TLS port).
        s.security.insecure = true;
    });
    let dfs = &t.dfs;
    let e = err_of(dfs.mkdirs("relative/dir"));
    assert!(
        e.contains("relative/dir") && e.contains("not absolute"),
        "{e}"
    );
    let e = err_of(dfs.mkdirs("/a/../b"));
    assert!(e.contains("'..' is not allowed"), "{e}");
    let e = err_of(dfs.write_file("/x/./y", b"z", CreateOptions::default()));
    assert!(e.contains("'.' is not allowed"), "{e}");

    dfs.write_file("/exists", b"hello", CreateOptions::default())
        .unwrap();
    let e = err_of(dfs.write_file("/exists", b"again", CreateOptions::default()));
    assert!(e.contains("/exists") && e.contains("already exists"), "{e}");
    assert_eq!(
        dfs.read_file("/exists").unwrap(),
        b"hello",
        "a refused create must not truncate"
    );

    let e = err_of(dfs.open("/missing/file"));
    assert!(
        e.contains("/missing/file") && e.contains("no such file"),
        "{e}"
    );
    assert!(matches!(
        dfs.open("/missing/file"),
        Err(ClientError::NotFound(_))
    ));

    dfs.write_file("/full/f", b"1", CreateOptions::default())
        .unwrap();
    let e = err_of(dfs.delete("/full", false));
    assert!(e.contains("/full") && e.contains("not empty"), "{e}");
    assert!(dfs.exists("/full/f").unwrap());
    dfs.delete("/full", true).unwrap();
    assert!(!dfs.exists("/full").unwrap());
    let e = err_of(dfs.delete("/", true));
    assert!(e.contains("root"), "{e}");

    for (repl, why) in [(0u32, "outside 1..=10"), (11, "outside 1..=10")] {
        let e = err_of(dfs.set_replication("/exists", repl));
        assert!(e.contains(why), "{e}");
    }
    let e = err_of(dfs.write_file(
        "/r11",
        b"x",
        CreateOptions {
            replication: 11,
            ..Default::default()
        },
    ));
    assert!(
        e.contains("replication 11 is above the maximum of 10"),
        "{e}"
    );

    let e = err_of(dfs.write_file(
        "/bs",
        b"x",
        CreateOptions {
            block_size: 4096 * 10 + 1,
            ..Default::default()
        },
    ));
    assert!(e.contains("not a multiple of the checksum chunk"), "{e}");

    let e = err_of(dfs.rename("/nothing", "/else"));
    assert!(e.contains("/nothing"), "{e}");
    let e = err_of(dfs.mkdirs("/exists/sub"));
    assert!(
        e.contains("/exists") && e.contains("not a directory"),
        "{e}"
    );

    // Garbage on every daemon port: each refuses it and keeps serving.
    let mut ports = vec![t.cluster.client_config().unwrap().namenode_addr];
    ports.extend((0..3).map(|i| t.cluster.datanode_config(i).unwrap().data_addr));
    for addr in &ports {
        for junk in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &data(100_000, 5),
            b"MRDT\xff\xff\xff\xff",
        ] {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(junk);
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
        }
    }
    // A datanode answers a bad request with an error naming the problem.
    let dn = t.cluster.datanode_config(0).unwrap().data_addr;
    let mut s = TcpStream::connect(&dn).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let reply = common::transfer::read_reply(&mut s).unwrap();
    assert!(format!("{reply:?}").contains("bad magic"), "{reply:?}");

    for i in 0..3 {
        assert!(
            t.cluster.pid(&format!("datanode-{i}")).is_some(),
            "datanode-{i} died"
        );
    }
    assert!(t.cluster.pid("namenode").is_some());
    dfs.write_file(
        "/after/garbage",
        &data(200_000, 6),
        CreateOptions::default(),
    )
    .unwrap();
    assert_eq!(dfs.read_file("/after/garbage").unwrap(), data(200_000, 6));
}

#[test]
fn an_unreachable_namenode_is_a_clear_error() {
    let cfg = common::config::ClientConfig {
        namenode_addr: "127.0.0.1:1".into(),
        ..Default::default()
    };
    let dfs = client::DfsClient::connect(cfg).unwrap();
    let e = err_of(dfs.stat("/x"));
    assert!(e.contains("cannot reach the namenode"), "{e}");
}
