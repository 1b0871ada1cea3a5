//! A file renamed while it is written: the writer names its file by id, so it goes on adding
//! blocks and closes the renamed file, as HDFS writers do (leases follow the inode). A delete
//! still ends the writer, saying the file was deleted.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use std::io::Write;
use tests::{data, start};

const MIB: usize = 1 << 20;

#[test]
fn a_writer_keeps_writing_through_renames_of_its_file_and_its_directory() {
    // 1 MiB blocks: each 1.5 MiB written below ends a block and starts another.
    let t = start(3, 2, |s| s.namenode.default_block_size = 1 << 20);
    let bytes = data(9 * MIB / 2, 60);
    let (a, rest) = bytes.split_at(3 * MIB / 2);
    let (b, c) = rest.split_at(3 * MIB / 2);
    let opts = CreateOptions {
        create_parent: true,
        ..Default::default()
    };
    let mut w = t.dfs.create("/w/f", opts).unwrap();
    w.write_all(a).unwrap();
    t.dfs.rename("/w/f", "/w/g").unwrap();
    w.write_all(b).unwrap();
    t.dfs.rename("/w", "/moved").unwrap();
    w.write_all(c).unwrap();
    w.close().unwrap();
    let got = t.dfs.read_file("/moved/g").unwrap();
    assert_eq!(got.len(), bytes.len());
    assert!(
        got == bytes,
        "the renamed file holds exactly the bytes written"
    );
    assert!(!t.dfs.exists("/w/f").unwrap());
    assert!(!t.dfs.exists("/w").unwrap());
    let st = t.dfs.stat("/moved/g").unwrap();
    assert!(!st.under_construction, "closed");
    assert_eq!(st.file_id, 0, "a closed file has no writer id");
}

#[test]
fn a_file_deleted_under_its_writer_ends_the_write_saying_so() {
    let t = start(3, 2, |s| s.namenode.default_block_size = 1 << 20);
    let mut w = t
        .dfs
        .create(
            "/del/f",
            CreateOptions {
                create_parent: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.write_all(&data(3 * MIB / 2, 61)).unwrap();
    t.dfs.delete("/del/f", false).unwrap();
    let more = w.write_all(&data(3 * MIB / 2, 62));
    let err = match more {
        Err(e) => e.to_string(),
        Ok(()) => w.close().unwrap_err().to_string(),
    };
    assert!(err.contains("deleted"), "{err}");
    assert!(!t.dfs.exists("/del/f").unwrap());
}
