//! Running a datanode: open the data dirs, start the transfer server, the scanner and the
//! namenode link.

use crate::block_auth::BlockAuth;
use crate::commands::Commands;
use crate::nn::{self, NamenodeLink};
use crate::storage::Storage;
use crate::xceiver::Xceiver;
use common::config::DatanodeConfig;
use common::conn_limit::{ConnLimiter, ConnLimits};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(config: DatanodeConfig) -> anyhow::Result<()> {
    // Before anything else: a datanode without its secret would serve every block to anyone.
    let auth = Arc::new(BlockAuth::from_config(&config.security)?);
    // Held until the process ends: two datanodes on one disk would delete each other's blocks.
    let _locks = common::dir_lock::DirLock::acquire_all(&config.data_dirs)?;
    let storage = Arc::new(
        Storage::open(&config.data_dirs, config.reserved_bytes)?.capped(config.capacity_bytes),
    );
    let listener = TcpListener::bind(&config.data_addr)
        .map_err(|e| anyhow::anyhow!("binding the data address {}: {e}", config.data_addr))?;
    // TLS files first: a missing one stops the datanode naming the field and the file.
    common::tls::check_daemon_files(&config.security)?;
    let tls_client = common::tls::client_config(&config.security)?;
    // Refuses to start on a cluster secret others can read (the message says how to fix it).
    let credentials = client::Credentials::for_daemon(&config.security, "datanode")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let link = NamenodeLink::new(
        &config.namenode_addr,
        credentials,
        &config.security,
        tokio::runtime::Handle::current(),
        storage.node_id,
    )?;
    tracing::info!(node = %storage.node_id, addr = %config.data_addr, block_tokens = auth.enabled(), "datanode serving");
    crate::local_reads::LocalReads {
        storage: storage.clone(),
        auth: auth.clone(),
        max_connections: config.max_connections as usize,
        request_timeout: Duration::from_millis(config.idle_timeout_ms),
    }
    .start(&config.data_addr)
    .map_err(|e| anyhow::anyhow!("the short-circuit read socket of {}: {e}", config.data_addr))?;
    let xceiver = Arc::new(Xceiver {
        storage: storage.clone(),
        link: link.clone(),
        exit_at_last_packet: config.exit_at_last_packet_for_tests,
        max_packet_bytes: config.max_packet_bytes,
        auth,
        tls_server: common::tls::server_config(&config.security)?,
        tls_client: tls_client.clone(),
    });
    let limiter = ConnLimiter::new(
        "block transfer",
        ConnLimits::new(
            config.max_connections,
            config.max_connections_per_address,
            config.idle_timeout_ms,
        ),
    );
    std::thread::Builder::new()
        .name("xceiver-accept".into())
        .spawn(move || xceiver.serve(listener, limiter))?;
    let (s, l) = (storage.clone(), link.clone());
    let rate = config.scan_bytes_per_sec;
    let pass = Duration::from_millis(config.scan_pass_interval_ms);
    std::thread::Builder::new()
        .name("block-scanner".into())
        .spawn(move || crate::scanner::run(s, l, rate, pass))?;
    let (s, l) = (storage.clone(), link.clone());
    let age = Duration::from_millis(config.abandoned_replica_age_ms);
    std::thread::Builder::new()
        .name("rbw-sweeper".into())
        .spawn(move || crate::sweeper::run(s, l, age))?;
    let runner = Arc::new(Commands {
        storage: storage.clone(),
        link: link.clone(),
        tls: tls_client,
    });
    nn::run(link, storage, config.data_addr.clone(), runner).await;
    Ok(())
}
