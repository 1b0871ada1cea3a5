//! Identity from tokens, on real daemons: what a user creates and submits is theirs whatever
//! `$USER` says; a missing, expired, forged, malformed or revoked token is refused (and
//! counted) by the namenode and the job tracker; the daemons' own protocols refuse user tokens;
//! a daemon will not start on a cluster secret others can read.

#![allow(clippy::unwrap_used)]

use client::{ClientError, Credentials};
use common::auth::{now_ms, ClusterSecret, Grant, TokenBody};
use proto::Reason;
use std::path::Path;
use std::time::Duration;
use tests::{job_binary, mrctl_with, start, wait, TestCluster};

fn run(config: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let o = mrctl_with(config, env, args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(config: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let (success, out, err) = run(config, env, args);
    assert!(success, "mrctl {args:?} failed: {err}");
    out
}

/// Runs `args` with the token in `token`; returns the one-line error it must fail with.
fn refused_with_token(tc: &TestCluster, token: &str, args: &[&str]) -> String {
    let file = tc.cluster.dir.join("security").join("test.token");
    std::fs::write(&file, token).unwrap();
    let mut all = vec!["--token", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let (success, _, err) = run(&tc.cluster.client_config_path(), &[], &all);
    assert!(
        !success,
        "mrctl {args:?} with token {token:?} should be refused"
    );
    err
}

fn user_token(secret: &ClusterSecret, user: &str, issued_ms: u64, ttl_ms: u64) -> String {
    let grant = Grant::User {
        user: user.into(),
        groups: vec![],
    };
    TokenBody::new(secret, grant, issued_ms, ttl_ms)
        .and_then(|b| b.sign(secret))
        .unwrap()
}

/// The namenode's refusal counts, from `mrctl cluster report --json`.
fn refusals(tc: &TestCluster) -> serde_json::Value {
    let out = ok(
        &tc.cluster.client_config_path(),
        &[],
        &["cluster", "report", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["refused_tokens"].clone()
}

#[test]
fn identity_comes_from_the_token_and_bad_tokens_are_refused() {
    let tc = start(2, 1, |_| {});
    let admin = tc.cluster.client_config_path();
    let alice = tc.cluster.client_config_for("alice", &["staff"]).unwrap();
    ok(&admin, &[], &["fs", "mkdir", "/shared"]);
    ok(&admin, &[], &["fs", "chmod", "1777", "/shared"]);

    // Whatever $USER says, what alice's token creates is alice's.
    let local = tc.cluster.dir.join("words.txt");
    std::fs::write(&local, "a b c a b a\n".repeat(100)).unwrap();
    let bob_env = [("USER", "bob")];
    ok(
        &alice,
        &bob_env,
        &["fs", "put", local.to_str().unwrap(), "/shared/in.txt"],
    );
    let st = tc.dfs.stat("/shared/in.txt").unwrap();
    assert_eq!(st.owner, "alice");
    // So is the job she submits, and what its tasks write.
    let (success, _, err) = run(
        &alice,
        &bob_env,
        &[
            "submit",
            &job_binary("wordcount"),
            "--wait",
            "--",
            "/shared/in.txt",
            "/shared/out",
        ],
    );
    assert!(success, "{err}");
    let jobs = ok(&alice, &[], &["job", "list"]);
    let line = jobs.lines().find(|l| l.starts_with("job_")).unwrap();
    assert!(line.contains(" alice "), "{jobs}");
    assert!(!line.contains("bob"), "{jobs}");
    let part = tc
        .dfs
        .list("/shared/out")
        .unwrap()
        .into_iter()
        .find(|f| f.path.contains("part-"))
        .unwrap();
    assert_eq!(part.owner, "alice");

    // No token at all: the namenode and the job tracker say so and how to get one.
    let mut cfg = tc.cluster.client_config().unwrap();
    cfg.security.token_file = Default::default();
    let anon = client::DfsClient::connect_with(cfg.clone(), Credentials::claimed("bob")).unwrap();
    match anon.list("/") {
        Err(ClientError::Namenode { reason, message }) => {
            assert_eq!(reason, Reason::Unauthenticated);
            assert!(message.contains("no token"), "{message}");
            assert!(message.contains("mrctl admin token issue"), "{message}");
        }
        other => panic!("a call without a token must be refused: {other:?}"),
    }
    let jobs = client::jobs::JobClient::connect_with(
        &cfg.jobtracker_addr,
        Credentials::claimed("bob"),
        &cfg.security,
    )
    .unwrap();
    let e = jobs.list().unwrap_err().to_string();
    assert!(e.contains("no token"), "{e}");

    // Expired, forged (another cluster's secret) and garbage tokens.
    let secret = ClusterSecret::load(&tc.cluster.secret_path()).unwrap();
    let expired = user_token(&secret, "alice", now_ms() - 60_000, 1_000);
    let e = refused_with_token(&tc, &expired, &["fs", "ls", "/"]);
    assert!(e.contains("expired token"), "{e}");
    let e = refused_with_token(&tc, &expired, &["job", "list"]);
    assert!(e.contains("expired token"), "{e}");
    let other = ClusterSecret::generate().unwrap();
    let forged = user_token(&other, "alice", now_ms(), 600_000);
    let e = refused_with_token(&tc, &forged, &["fs", "ls", "/"]);
    assert!(e.contains("forged token"), "{e}");
    let e = refused_with_token(&tc, &forged, &["job", "list"]);
    assert!(e.contains("forged token"), "{e}");
    let e = refused_with_token(&tc, "hello", &["fs", "ls", "/"]);
    assert!(e.contains("malformed token"), "{e}");
    let e = refused_with_token(&tc, &"x".repeat(5000), &["job", "list"]);
    assert!(e.contains("malformed token"), "{e}");

    // A token issued with mrctl works until it is revoked; then the namenode refuses it at once
    // and the job tracker within a few seconds. Only a superuser may revoke.
    let (success, carol, err) = run(
        &admin,
        &[],
        &["admin", "token", "issue", "--user", "carol", "--ttl", "1h"],
    );
    assert!(success, "{err}");
    let id = err
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no token id in: {err}"))
        .to_string();
    let carol_file = tc.cluster.dir.join("security").join("carol.token");
    std::fs::write(&carol_file, carol.trim()).unwrap();
    let carol_flag = ["--token", carol_file.to_str().unwrap()];
    let with_carol = |args: &[&str]| {
        let mut all = carol_flag.to_vec();
        all.extend_from_slice(args);
        run(&admin, &[], &all)
    };
    assert!(with_carol(&["fs", "ls", "/"]).0);
    assert!(with_carol(&["job", "list"]).0);
    let (success, _, e) = run(&alice, &[], &["admin", "token", "revoke", &id]);
    assert!(!success);
    assert!(e.contains("may not revoke tokens"), "{e}");
    ok(&admin, &[], &["admin", "token", "revoke", &id]);
    let (success, _, e) = with_carol(&["fs", "ls", "/"]);
    assert!(!success);
    assert!(e.contains(&format!("revoked token {id}")), "{e}");
    wait(Duration::from_secs(60), "the job tracker to refuse", || {
        let (success, _, e) = with_carol(&["job", "list"]);
        (!success && e.contains("revoked token")).then_some(())
    });

    // Every refusal was counted.
    let r = refusals(&tc);
    for reason in ["missing", "expired", "forged", "malformed", "revoked"] {
        assert!(r[reason].as_u64().unwrap() >= 1, "{reason}: {r}");
    }

    // The daemons' own protocols take service tokens only.
    let alice_token = tc.cluster.issue_token("alice", &[]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (dn, hb) = rt.block_on(async {
        let channel = |addr: &str| {
            common::grpc_tls::endpoint("daemon", addr, &cfg.security)
                .unwrap()
                .connect_lazy()
        };
        let creds = Credentials::token(&alice_token).unwrap();
        let mut nn = proto::dfs::datanode_protocol_client::DatanodeProtocolClient::with_interceptor(
            channel(&cfg.namenode_addr),
            creds.clone(),
        );
        let dn = nn
            .register(proto::dfs::RegisterRequest {
                node_id: 999,
                host: "127.0.0.99".into(),
                data_addr: "127.0.0.99:1".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        let mut jt =
            proto::jobs::job_tracker_protocol_client::JobTrackerProtocolClient::with_interceptor(
                channel(&cfg.jobtracker_addr),
                creds,
            );
        let hb = jt
            .heartbeat(proto::jobs::HeartbeatRequest {
                heartbeat_json: b"{}".to_vec().into(),
            })
            .await
            .unwrap_err();
        (dn, hb)
    });
    assert_eq!(Reason::of(&dn), Reason::PermissionDenied, "{dn:?}");
    assert!(
        dn.message().contains("alice") && dn.message().contains("datanode"),
        "{dn:?}"
    );
    assert_eq!(Reason::of(&hb), Reason::PermissionDenied, "{hb:?}");
    assert!(hb.message().contains("worker"), "{hb:?}");

    // A daemon refuses to start on a secret others can read, saying how to fix it.
    use std::os::unix::fs::PermissionsExt;
    tc.cluster.kill("datanode-1").unwrap();
    let secret_path = tc.cluster.secret_path();
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    tc.cluster.start("datanode-1").unwrap();
    wait(Duration::from_secs(60), "datanode-1 to exit", || {
        tc.cluster.pid("datanode-1").is_none().then_some(())
    });
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = std::fs::read_to_string(tc.cluster.dir.join("logs").join("datanode-1.log")).unwrap();
    assert!(log.contains("chmod 600"), "{log}");
}
