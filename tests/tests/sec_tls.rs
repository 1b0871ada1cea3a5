//! TLS on every port of a secure cluster (the default): plain-text clients of the namenode,
//! the job tracker, a datanode's transfer port and a worker's shuffle port are refused while
//! the daemons go on serving proper clients; a client trusting another CA is refused saying
//! the certificate is not trusted; a handshake that never starts is closed at the idle
//! timeout; a missing certificate file stops a daemon naming the field and the file.

#![allow(clippy::unwrap_used)]

use client::jobs::JobClient;
use client::{CreateOptions, DfsClient};
use common::config::{ClientConfig, ConfigFile, SecurityConfig};
use common::ids::{AttemptId, JobId};
use common::shuffle::{self, FetchRequest};
use common::transfer::{self, BlockRef, Op};
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;
use tests::{count_words, data, read_counts, start, submit_wait, wait, words, TestCluster};

fn shuffle_addr(t: &TestCluster, i: usize) -> String {
    let p = t.cluster.dir.join(format!("worker-{i}.toml"));
    let w = ConfigFile::load(&p).unwrap().worker.unwrap();
    format!("{}:{}", w.host, w.shuffle_port)
}

/// Whether the peer closed `s` (or reset it) within the deadline.
fn closed_within(s: &mut TcpStream, deadline: Duration) -> bool {
    s.set_read_timeout(Some(deadline)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // Whatever a TLS server says to a silent peer (an alert), then the close.
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

fn proper_clients_work(t: &TestCluster, name: &str) {
    let bytes = data(3 << 20, 7);
    t.dfs
        .write_file(name, &bytes, CreateOptions::default())
        .unwrap();
    assert_eq!(t.dfs.read_file(name).unwrap(), bytes);
    t.cluster.job_client().unwrap().list().unwrap();
}

#[test]
fn plain_text_clients_are_refused_on_every_port_and_the_cluster_serves_proper_clients() {
    let t = start(2, 1, |s| {
        s.namenode.default_replication = 2;
        // Silent connections (a handshake that never starts) go within seconds.
        s.namenode.idle_timeout_ms = 3_000;
        s.datanode.idle_timeout_ms = 3_000;
        s.jobtracker.idle_timeout_ms = 3_000;
        s.worker.idle_timeout_ms = 3_000;
    });
    let config = t.cluster.client_config().unwrap();
    assert!(!config.security.insecure && config.security.tls_ca.exists());
    proper_clients_work(&t, "/before");

    // gRPC in plain text against the namenode and the job tracker.
    let plain = SecurityConfig {
        insecure: true,
        ..Default::default()
    };
    let dfs = DfsClient::connect(ClientConfig {
        security: plain.clone(),
        ..config.clone()
    })
    .unwrap();
    let e = dfs
        .stat("/before")
        .expect_err("plain gRPC to a TLS namenode");
    eprintln!("plain namenode client: {e}");
    let jobs = JobClient::connect(&ClientConfig {
        security: plain.clone(),
        ..config.clone()
    })
    .unwrap();
    let e = jobs.list().expect_err("plain gRPC to a TLS job tracker");
    eprintln!("plain job tracker client: {e}");

    // A transfer op in plain TCP: no reply, the connection is closed.
    let dn = t.cluster.datanode_config(0).unwrap().data_addr;
    let mut s = transfer::connect(&dn).unwrap();
    transfer::write_op(
        &mut s,
        &Op::Read {
            block: BlockRef { id: 1, gen: 1 },
            offset: 0,
            len: 1,
            token: String::new(),
        },
    )
    .unwrap();
    let r = transfer::read_reply(&mut s);
    assert!(r.is_err(), "a plain transfer op was answered: {r:?}");

    // A shuffle request in plain TCP: refused likewise.
    let shuffle_at = shuffle_addr(&t, 0);
    let mut s = transfer::connect(&shuffle_at).unwrap();
    shuffle::write_request(
        &mut s,
        &FetchRequest {
            job_id: JobId("job_1".into()),
            attempt_id: AttemptId("attempt_1".into()),
            partition: 0,
            key_id: 0,
            tag: Vec::new(),
        },
    )
    .unwrap();
    let r = shuffle::read_reply_header(&mut s);
    assert!(r.is_err(), "a plain shuffle request was answered: {r:?}");

    // A connection that never starts its handshake is closed at the idle timeout, on every
    // port (the caps and timeouts hold before TLS as after).
    let jt = config.jobtracker_addr.clone();
    for addr in [&config.namenode_addr, &jt, &dn, &shuffle_at] {
        let mut s = TcpStream::connect(addr).unwrap();
        assert!(
            closed_within(&mut s, Duration::from_secs(60)),
            "{addr} kept a silent connection open past its idle timeout"
        );
    }

    for d in t.cluster.daemons() {
        assert!(t.cluster.pid(&d).is_some(), "{d} died");
    }
    proper_clients_work(&t, "/after");

    // A job end to end: tasks read the DFS and fetch map outputs over TLS.
    let text = words(3_000, 50, 11);
    t.dfs
        .write_file("/in/words.txt", text.as_bytes(), CreateOptions::default())
        .unwrap();
    let job = submit_wait(&t, "wordcount", &["/in", "/out"]);
    assert!(job.ok, "{}", job.stderr);
    assert_eq!(read_counts(&t.dfs, "/out"), count_words(&text));
}

#[test]
fn a_client_trusting_another_ca_is_refused_naming_the_trust_failure() {
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    let config = t.cluster.client_config().unwrap();
    let other = tempfile::tempdir().unwrap();
    let ca = common::tls_certs::ensure_ca(other.path()).unwrap();
    let stranger = SecurityConfig {
        tls_ca: ca.cert_path.clone(),
        ..config.security.clone()
    };

    let dfs = DfsClient::connect(ClientConfig {
        security: stranger.clone(),
        ..config.clone()
    })
    .unwrap();
    let e = dfs.stat("/").expect_err("untrusted namenode").to_string();
    assert!(e.contains("not trusted") && e.contains("tls_ca"), "{e}");

    let jobs = JobClient::connect(&ClientConfig {
        security: stranger.clone(),
        ..config.clone()
    })
    .unwrap();
    let e = jobs.list().expect_err("untrusted job tracker").to_string();
    assert!(e.contains("not trusted") && e.contains("tls_ca"), "{e}");

    let tls = common::tls::client_config(&stranger).unwrap();
    let dn = t.cluster.datanode_config(0).unwrap().data_addr;
    let e = transfer::connect_secure(&dn, &tls)
        .expect_err("untrusted datanode")
        .to_string();
    assert!(e.contains("not trusted") && e.contains("tls_ca"), "{e}");

    // The cluster's own CA still works.
    proper_clients_work(&t, "/trusted");
}

#[test]
fn a_missing_certificate_stops_a_daemon_naming_the_field_and_the_file() {
    let t = start(1, 1, |s| s.namenode.default_replication = 1);
    t.cluster.kill("datanode-0").unwrap();
    let path = t.cluster.dir.join("datanode-0.toml");
    let mut file = ConfigFile::load(&path).unwrap();
    let missing = t.cluster.dir.join("tls").join("no-such-cert.pem");
    file.security.tls_cert = missing.clone();
    std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
    let log = t.cluster.dir.join("logs").join("datanode-0.log");
    let before = std::fs::read_to_string(&log).unwrap_or_default().len();
    t.cluster.start("datanode-0").unwrap();
    let text = wait(
        Duration::from_secs(60),
        "the datanode to stop, naming the missing certificate",
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            let new = text.get(before..)?.to_string();
            (t.cluster.pid("datanode-0").is_none() && new.contains("tls_cert")).then_some(new)
        },
    );
    assert!(
        text.contains(&missing.display().to_string()),
        "the error names the file: {text}"
    );
}

#[test]
fn mrctl_admin_certs_makes_a_ca_once_and_host_certificates_a_daemon_can_use() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let certs = |host: &str| {
        let o = std::process::Command::new(cluster::bin_dir().unwrap().join("mrctl"))
            .args(["admin", "certs", "--ca-dir"])
            .arg(&ca_dir)
            .args(["--host", host, "--host", "localhost"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let first = certs("10.0.0.3");
    let ca_pem = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let second = certs("10.0.0.4");
    assert_eq!(
        std::fs::read(ca_dir.join("ca.pem")).unwrap(),
        ca_pem,
        "the CA is made once"
    );
    for (out, host) in [(&first, "10.0.0.3"), (&second, "10.0.0.4")] {
        let sec: ConfigFile = toml::from_str(out).unwrap();
        let sec = sec.security;
        assert!(sec.tls_cert.ends_with(format!("host-{host}.pem")), "{out}");
        let mode = std::fs::metadata(&sec.tls_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", sec.tls_key.display());
        common::tls::check_daemon_files(&sec).unwrap();
    }
}
