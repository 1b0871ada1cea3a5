//! Every answer of the namenode follows the durability of the state it reports: a mkdir told
//! "it exists" because another call's edit made it so is acknowledged only once that edit is
//! on disk, so a kill -9 right after the acknowledgement loses nothing.

#![allow(clippy::unwrap_used)]

use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;
use tests::{start, wait};

#[test]
fn a_mkdir_answered_by_another_calls_pending_edit_survives_kill_9() {
    // Every edit-log write is held back 3 s: the window in which the directory exists in
    // memory but not on disk.
    let t = start(1, 1, |s| s.namenode.test_edit_sync_delay_ms = 3_000);
    let both = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();
    for i in 0..2 {
        let (dfs, both, tx) = (t.dfs.clone(), both.clone(), tx.clone());
        std::thread::spawn(move || {
            both.wait();
            // One call creates the directory and waits for its edit; the other finds it.
            let _ = tx.send((i, dfs.mkdirs("/durable/dir")));
        });
    }
    let (first, answer) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    answer.unwrap_or_else(|e| panic!("mkdir {first} failed: {e}"));
    // Acknowledged: the directory must survive a crash from this moment on.
    t.cluster.kill("namenode").unwrap();
    t.cluster.start("namenode").unwrap();
    let dfs = t.cluster.client().unwrap();
    let status = wait(
        Duration::from_secs(60),
        "the restarted namenode to answer",
        || match dfs.stat("/durable/dir") {
            Err(client::ClientError::Unreachable { .. }) => None,
            other => Some(other),
        },
    );
    let status = status.unwrap_or_else(|e| {
        panic!("an acknowledged mkdir was lost by kill -9 of the namenode: {e}")
    });
    assert!(status.is_dir);
}
