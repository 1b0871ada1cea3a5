//! Hostile input on every port costs bounded resources: oversized headers allocate nothing,
//! idle connections are capped and closed, and a daemon out of threads refuses connections
//! instead of losing its listener; normal traffic goes on throughout.

#![allow(clippy::unwrap_used)]

use client::CreateOptions;
use common::config::{ConfigFile, WorkerConfig};
use common::transfer::{self, BlockRef, Op, Reply, WriteStage};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::{data, mrctl, start, wait, TestCluster};

/// Resident memory of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Open file descriptors of a process.
fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// A packet header as the transfer protocol frames it, claiming the given lengths.
fn packet_header(data_len: u32, sums_len: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&data_len.to_le_bytes());
    h.extend_from_slice(&sums_len.to_le_bytes());
    h.push(0);
    h
}

/// Opens a write pipeline for a new block at `addr` and returns it once the datanode is ready.
fn open_write(t: &TestCluster, addr: &str, id: u64, bpc: u32) -> (TcpStream, Reply) {
    let mut s = transfer::connect(addr).unwrap();
    let op = Op::Write {
        block: BlockRef { id, gen: 1 },
        stage: WriteStage::Create,
        targets: vec![],
        bytes_per_checksum: bpc,
        client: "hostile".into(),
        // A valid token: what is tested here is what comes after the op.
        token: t.block_token(id, 1, common::auth::BlockAccess::WRITE),
    };
    transfer::write_op(&mut s, &op).unwrap();
    let reply = transfer::read_reply(&mut s).unwrap();
    (s, reply)
}

/// Whether the peer has closed `s` (EOF or reset); data or nothing yet means open.
fn closed_by_peer(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    match (&*s).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

fn put_get_ls(t: &TestCluster, name: &str) {
    let bytes = data(3 << 20, 7);
    let path = format!("/normal/{name}");
    t.dfs
        .write_file(&path, &bytes, CreateOptions::default())
        .unwrap();
    assert_eq!(t.dfs.read_file(&path).unwrap(), bytes);
    let o = mrctl(t, &["fs", "ls", "/normal"]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(name),
        "ls failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn oversized_headers_allocate_nothing_and_the_datanode_keeps_serving() {
    let t = start(1, 1, |s| {
        s.namenode.default_replication = 1;
        // Plain frames to the transfer port: the protocol's own checks, under TLS
        // (`sec_tls` sends plain bytes to a TLS port).
        s.security.insecure = true;
    });
    let addr = t.cluster.datanode_config(0).unwrap().data_addr;
    let pid = t.cluster.pid("datanode-0").unwrap();
    put_get_ls(&t, "before");
    let base = rss_kib(pid);

    // The request: a 60-byte header claiming 16 MiB of checksums, 32 times.
    let mut refused = Vec::new();
    for i in 0..32 {
        let (mut s, reply) = open_write(&t, &addr, 7_000_000 + i, 4096);
        assert!(matches!(reply, Reply::WriteReady), "{reply:?}");
        s.write_all(&packet_header(4096, 16 << 20)).unwrap();
        refused.push(s);
    }
    // Valid headers for the largest packet a 16 MiB chunk allows, whose data never comes:
    // buffers may grow only with the bytes that arrive.
    let mut waiting = Vec::new();
    for i in 0..16 {
        let (mut s, reply) = open_write(&t, &addr, 7_100_000 + i, 16 << 20);
        assert!(matches!(reply, Reply::WriteReady), "{reply:?}");
        s.write_all(&packet_header(16 << 20, 4)).unwrap();
        s.write_all(&[0u8; 4]).unwrap();
        waiting.push(s);
    }
    // Each refused connection is closed by the datanode; memory stays bounded meanwhile.
    let mut peak = rss_kib(pid);
    wait(
        Duration::from_secs(60),
        "the datanode to close every connection with an oversized header",
        || {
            peak = peak.max(rss_kib(pid));
            refused.iter().all(closed_by_peer).then_some(())
        },
    );
    peak = peak.max(rss_kib(pid));
    assert!(
        peak < base + (64 << 10),
        "datanode RSS went from {base} KiB to {peak} KiB"
    );
    assert!(
        !waiting.iter().any(closed_by_peer),
        "a valid header waiting for its data is not refused"
    );

    // Ops whose sizes are over the bounds get an error naming the bound.
    let (_, reply) = open_write(&t, &addr, 7_200_000, 64 << 20);
    assert!(
        format!("{reply:?}").contains("max_packet_bytes"),
        "{reply:?}"
    );
    let mut s = transfer::connect(&addr).unwrap();
    s.write_all(b"MRDT").unwrap();
    s.write_all(&(100u32 << 20).to_le_bytes()).unwrap();
    let reply = transfer::read_reply(&mut s).unwrap();
    assert!(format!("{reply:?}").contains("too large"), "{reply:?}");

    drop(waiting);
    assert!(t.cluster.pid("datanode-0").is_some(), "the datanode died");
    put_get_ls(&t, "after");
}

/// Raises this process's open-file limit to its hard limit: the test holds thousands of
/// sockets.
fn raise_nofile() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    #[allow(unsafe_code)]
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    lim.rlim_cur
}

/// A TCP connection to `to` from the local address `from` (a loopback address of our choosing,
/// so that it counts as another client than the cluster's own traffic on 127.0.0.1).
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    s.bind(&local.into()).unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(10))
        .unwrap();
    s.into()
}

const CAP: usize = 200;
const PER_ADDRESS: usize = 50;

struct Port {
    daemon: String,
    addr: SocketAddr,
    pid: i32,
    base_fds: usize,
}

/// Opens `n` connections to each port from each source address, and waits until every daemon
/// has dealt with them: at most `max_open` stay open per port.
fn flood(ports: &[Port], sources: &[String], n: usize, max_open: usize) -> Vec<Vec<TcpStream>> {
    let mut held = Vec::new();
    for p in ports {
        let mut conns = Vec::new();
        for src in sources {
            for _ in 0..n {
                conns.push(connect_from(src, p.addr));
            }
        }
        // Checked port by port, well within the idle timeout of the connections just opened.
        let open = wait(
            Duration::from_secs(60),
            &format!("{} to close the connections over its caps", p.daemon),
            || {
                let open = conns.iter().filter(|c| !closed_by_peer(c)).count();
                (open <= max_open).then_some(open)
            },
        );
        let fds = fd_count(p.pid);
        eprintln!(
            "{}: {} connections opened, {open} left open, {fds} fds (was {})",
            p.daemon,
            conns.len(),
            p.base_fds
        );
        // The block transfer server keeps two descriptors per connection (its reader and
        // writer halves); the others one.
        assert!(
            fds <= p.base_fds + 2 * max_open + 64,
            "{} holds {fds} fds (was {})",
            p.daemon,
            p.base_fds
        );
        held.push(conns);
    }
    held
}

#[test]
fn idle_connections_are_capped_per_address_and_per_daemon_and_closed_when_idle() {
    let nofile = raise_nofile();
    assert!(
        nofile > 9_000,
        "need 9,000 open files, the limit is {nofile}"
    );
    let t = start(1, 1, |s| {
        s.namenode.default_replication = 1;
        let idle = 20_000;
        (
            s.namenode.max_connections,
            s.namenode.max_connections_per_address,
        ) = (200, 50);
        s.namenode.idle_timeout_ms = idle;
        (
            s.datanode.max_connections,
            s.datanode.max_connections_per_address,
        ) = (200, 50);
        s.datanode.idle_timeout_ms = idle;
        (
            s.jobtracker.max_connections,
            s.jobtracker.max_connections_per_address,
        ) = (200, 50);
        s.jobtracker.idle_timeout_ms = idle;
        (
            s.worker.max_connections,
            s.worker.max_connections_per_address,
        ) = (200, 50);
        s.worker.idle_timeout_ms = idle;
    });
    let resolve = |a: &str| a.to_socket_addrs().unwrap().next().unwrap();
    let client = t.cluster.client_config().unwrap();
    let worker: WorkerConfig = ConfigFile::load(&t.cluster.dir.join("worker-0.toml"))
        .unwrap()
        .worker
        .unwrap();
    put_get_ls(&t, "warm");
    let ports: Vec<Port> = [
        ("namenode", client.namenode_addr.clone()),
        (
            "datanode-0",
            t.cluster.datanode_config(0).unwrap().data_addr,
        ),
        ("jobtracker", client.jobtracker_addr.clone()),
        (
            "worker-0",
            format!("{}:{}", worker.host, worker.shuffle_port),
        ),
    ]
    .into_iter()
    .map(|(daemon, addr)| {
        let pid = t.cluster.pid(daemon).unwrap();
        Port {
            daemon: daemon.to_string(),
            addr: resolve(&addr),
            pid,
            base_fds: fd_count(pid),
        }
    })
    .collect();

    // 2,000 idle connections per port from one address: only its share stays open, and the
    // cluster's own clients (127.0.0.1) are served meanwhile.
    let held = flood(&ports, &["127.0.0.200".to_string()], 2_000, PER_ADDRESS);
    put_get_ls(&t, "during-one-address");
    drop(held);

    // From many addresses: the daemon's cap holds, and the idle timeout then closes them all.
    let sources: Vec<String> = (1..=6).map(|i| format!("127.0.1.{i}")).collect();
    let held = flood(&ports, &sources, PER_ADDRESS, CAP);
    for (p, conns) in ports.iter().zip(&held) {
        wait(
            Duration::from_secs(120),
            &format!("{} to close idle connections", p.daemon),
            || conns.iter().all(closed_by_peer).then_some(()),
        );
    }
    for p in &ports {
        assert!(
            t.cluster.pid(&p.daemon).is_some(),
            "{} died under the flood",
            p.daemon
        );
    }
    put_get_ls(&t, "after");
}

/// A pids cgroup this test may create and limit: v2 with the pids controller, or v1's pids
/// hierarchy; `None` (with the reason) where the machine does not allow it.
fn pids_cgroup_root() -> Result<PathBuf, String> {
    let v2 = Path::new("/sys/fs/cgroup");
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let root = if std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "pids"))
    {
        v2
    } else if v1.join("cgroup.procs").exists() {
        v1
    } else {
        return Err("no pids cgroup controller (neither cgroup v2 with pids nor v1 pids)".into());
    };
    let probe = root.join(format!("mr-test-probe-{}", std::process::id()));
    std::fs::create_dir(&probe)
        .map_err(|e| format!("cannot create a cgroup under {}: {e}", root.display()))?;
    let ok = probe.join("pids.max").exists();
    let _ = std::fs::remove_dir(&probe);
    if !ok {
        return Err(format!(
            "{}: child cgroups have no pids.max (the pids controller is not enabled for them)",
            root.display()
        ));
    }
    Ok(root.to_path_buf())
}

/// A child cgroup; on drop its processes go back to the root and it is removed.
struct Cgroup {
    root: PathBuf,
    dir: PathBuf,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("pids.max"), "max");
        if let Ok(procs) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn a_worker_out_of_threads_keeps_its_shuffle_port_and_runs_the_next_job() {
    let root = match pids_cgroup_root() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    let pid = t.cluster.pid("worker-0").unwrap();
    let worker: WorkerConfig = ConfigFile::load(&t.cluster.dir.join("worker-0.toml"))
        .unwrap()
        .worker
        .unwrap();
    let shuffle = format!("{}:{}", worker.host, worker.shuffle_port);

    let cg = Cgroup {
        dir: root.join(format!("mr-test-worker-{}", std::process::id())),
        root,
    };
    std::fs::create_dir(&cg.dir).unwrap();
    std::fs::write(cg.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    // No new thread or process may start in the worker from now on.
    std::fs::write(cg.dir.join("pids.max"), "1").unwrap();

    let log = t.cluster.dir.join("logs").join("worker-0.log");
    for _ in 0..20 {
        let mut s = TcpStream::connect(&shuffle).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(b"MRSH\x00\x00\x00\x00");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    wait(
        Duration::from_secs(30),
        "the worker to log that it could not start a connection's thread",
        || {
            std::fs::read_to_string(&log)
                .ok()?
                .contains("cannot start a thread")
                .then_some(())
        },
    );
    assert!(t.cluster.pid("worker-0").is_some(), "the worker died");
    TcpStream::connect(&shuffle).expect("the shuffle port is still open");
    eprintln!("worker {pid} refused connections it had no thread for, and lives on");

    drop(cg);
    let text = tests::words(2_000, 300, 3);
    t.dfs
        .write_file("/in/a.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let id = tests::submit_no_wait(&t, "wordcount", &["/in", "/out", "--reducers", "2"]);
    let jobs = t.cluster.job_client().unwrap();
    let report = wait(Duration::from_secs(180), "the job to end", || {
        let r = jobs.job(&id).ok()?;
        r.state.is_over().then_some(r)
    });
    eprintln!(
        "after the limit was lifted, job {id} ended {:?}",
        report.state
    );
    assert_eq!(
        report.state,
        common::jobs::JobState::Succeeded,
        "{report:?}"
    );
    assert_eq!(
        tests::read_counts(&t.dfs, "/out"),
        tests::count_words(&text)
    );
}
