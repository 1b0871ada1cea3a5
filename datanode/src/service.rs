//! Running a datanode: open the data dirs, start the transfer server, the scanner and the
//! namenode link.

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
    let storage = Arc::new(Storage::open(&config.data_dirs, config.reserved_bytes)?);
    let listener = TcpListener::bind(&config.data_addr)
        .map_err(|e| anyhow::anyhow!("binding the data address {}: {e}", config.data_addr))?;
    // TLS files first: a missing one stops the datanode naming the field and the file.
    common::tls::check_daemon_files(&config.security)?;
    let tls_client = common::tls::client_config(&config.security)?;
    let link = NamenodeLink::new(
        &config.namenode_addr,
        &config.security,
        tokio::runtime::Handle::current(),
        storage.node_id,
    )?;
    tracing::info!(node = %storage.node_id, addr = %config.data_addr, "datanode serving");
    let xceiver = Arc::new(Xceiver {
        storage: storage.clone(),
        link: link.clone(),
        exit_at_last_packet: config.exit_at_last_packet_for_tests,
        max_packet_bytes: config.max_packet_bytes,
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
