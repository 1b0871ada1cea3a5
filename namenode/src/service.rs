//! Running a namenode: load the namespace, serve gRPC, and drive the background monitors
//! (heartbeats, safe mode, replication, leases, checkpoints, the trash emptier).

use crate::block_tokens::BlockTokens;
use crate::error::{NnError, NnResult};
use crate::namesystem::Namesystem;
use crate::rpc::Rpc;
use common::config::{NamenodeConfig, TopologyConfig};
use common::conn_limit::{ConnLimiter, ConnLimits};
use common::grpc_auth::Authenticator;
use common::grpc_incoming::{self, LimitedIncoming};
use common::topology::Topology;
use proto::dfs::client_protocol_server::ClientProtocolServer;
use proto::dfs::datanode_protocol_server::DatanodeProtocolServer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;

/// Loads the namespace and serves until the process is stopped.
pub async fn run(config: NamenodeConfig, topology: TopologyConfig) -> anyhow::Result<()> {
    // Held until the process ends: a second namenode on this metadata would fork the namespace.
    let _lock = common::dir_lock::DirLock::acquire(&config.meta_dir)?;
    let addr: SocketAddr = config
        .rpc_addr
        .parse()
        .map_err(|e| anyhow::anyhow!("rpc_addr '{}': {e}", config.rpc_addr))?;
    // Refuses to start on a cluster secret others can read (the message says how to fix it).
    let verifier = common::grpc_auth::load_verifier(&config.security)
        .map_err(|e| anyhow::anyhow!("loading the cluster secret: {e}"))?;
    let revocations = Arc::new(crate::revocation::Revocations::open(
        &config.meta_dir,
        verifier.clone(),
    )?);
    // Block access tokens are signed with the same secret (none in insecure mode).
    let tokens = Arc::new(BlockTokens::new(
        verifier.as_ref().map(|v| v.secret().clone()),
        config.security.block_token_lifetime_ms,
    )?);
    let ns = Arc::new(Namesystem::open(
        config,
        Topology::load(topology).map_err(|e| anyhow::anyhow!("reading the topology: {e}"))?,
        common::clock::system(),
    )?);
    spawn_monitors(ns.clone());
    let rpc = Rpc {
        ns: ns.clone(),
        tokens,
        verifier: verifier.clone(),
        revocations,
        nn_user: common::user::current(),
    };
    let limits = ConnLimits::new(
        ns.config.max_connections,
        ns.config.max_connections_per_address,
        ns.config.idle_timeout_ms,
    );
    let incoming = LimitedIncoming::bind(addr, ConnLimiter::new("namenode rpc", limits))
        .await
        .map_err(|e| anyhow::anyhow!("binding rpc_addr {addr}: {e}"))?;
    tracing::info!(%addr, meta_dir = %ns.meta_dir().display(), "namenode serving");
    grpc_incoming::server_builder(limits.idle_timeout, &ns.config.security)?
        .add_service(InterceptedService::new(
            ClientProtocolServer::new(rpc.clone()).max_decoding_message_size(256 << 20),
            Authenticator::new(verifier.clone(), "namenode"),
        ))
        .add_service(InterceptedService::new(
            DatanodeProtocolServer::new(rpc).max_decoding_message_size(256 << 20),
            Authenticator::new(verifier, "namenode datanode protocol").services_only("datanode"),
        ))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// Runs one pass of blocking namesystem work on the blocking pool: the checks take the
/// namesystem lock and may walk many blocks, which must not stall the async threads serving RPCs.
async fn off_runtime(ns: &Arc<Namesystem>, work: fn(&Namesystem) -> NnResult<()>) -> NnResult<()> {
    let ns = ns.clone();
    tokio::task::spawn_blocking(move || work(&ns))
        .await
        .unwrap_or_else(|e| Err(NnError::Internal(format!("monitor task: {e}"))))
}

/// How often the topology file's modification time is looked at.
pub const TOPOLOGY_POLL: Duration = Duration::from_secs(2);

fn spawn_monitors(ns: Arc<Namesystem>) {
    let every = |ms: u64| Duration::from_millis(ms.max(50));
    let tick = every(ns.config.heartbeat_interval_ms.min(1000) / 2);
    let n = ns.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let r = off_runtime(&n, |ns| {
                ns.check_heartbeats();
                ns.check_safe_mode();
                ns.check_leases();
                Ok(())
            })
            .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "liveness, safe mode and lease checks failed");
            }
        }
    });
    let n = ns.clone();
    let repl = every(ns.config.replication_check_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(repl).await;
            let r = off_runtime(&n, |ns| {
                ns.check_replication();
                Ok(())
            })
            .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "replication check failed");
            }
        }
    });
    if let Some(period) = ns.trash_checkpoint_period_ms() {
        let n = ns.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every(period)).await;
                if let Err(e) = off_runtime(&n, Namesystem::empty_trash).await {
                    tracing::error!(error = %e, "emptying the trash failed");
                }
            }
        });
    }
    // The shared topology file is polled: a node's rack changes without a restart.
    let n = ns.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TOPOLOGY_POLL).await;
            let r = off_runtime(&n, |ns| ns.refresh_topology().map(|_| ())).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "re-reading the topology failed; the racks stay as they were");
            }
        }
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = off_runtime(&ns, Namesystem::maybe_checkpoint).await {
                tracing::error!(error = %e, "checkpoint failed");
            }
        }
    });
}
