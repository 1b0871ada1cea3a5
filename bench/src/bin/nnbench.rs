//! `nnbench`: namenode throughput and memory, driven over gRPC like real clients.
//!
//! - `mkdirs`: durable mkdirs per second from many concurrent tasks, next to the rate of a
//!   no-op RPC (lease renewal, which touches no journal) from the same tasks in the same run.
//! - `files`: creates N one-block files (create, add block, complete), then prints the
//!   namenode's resident memory.

use clap::{Parser, Subcommand};
use proto::dfs::client_protocol_client::ClientProtocolClient;
use proto::dfs::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

#[derive(Parser)]
struct Args {
    /// host:port of the namenode.
    #[arg(long)]
    namenode: String,
    /// The cluster's CA (PEM): dial the namenode over TLS; without it, plain (insecure).
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 64)]
    tasks: usize,
    /// gRPC connections shared by the tasks.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Mkdirs {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    Files {
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Pid of the namenode, for its memory.
        #[arg(long)]
        pid: u32,
    },
}

async fn clients(
    addr: &str,
    tls_ca: Option<&std::path::Path>,
    n: usize,
) -> anyhow::Result<Vec<ClientProtocolClient<Channel>>> {
    let security = common::config::SecurityConfig {
        insecure: tls_ca.is_none(),
        tls_ca: tls_ca.map(Into::into).unwrap_or_default(),
        ..Default::default()
    };
    let mut v = Vec::new();
    for _ in 0..n {
        let ch = common::grpc_tls::endpoint("--namenode", addr, &security)?
            .connect()
            .await?;
        v.push(ClientProtocolClient::new(ch));
    }
    Ok(v)
}

/// Runs `op(task, i)` from every task for `secs` seconds; returns operations per second.
async fn rate<F, Fut>(
    conns: &[ClientProtocolClient<Channel>],
    tasks: usize,
    secs: u64,
    op: F,
) -> anyhow::Result<f64>
where
    F: Fn(ClientProtocolClient<Channel>, usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (c, op, done) = (conns[t % conns.len()].clone(), op.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                op(c.clone(), t, i).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<(), tonic::Status>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for pid {pid}"))?;
    Ok(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let conns = clients(&args.namenode, args.tls_ca.as_deref(), args.connections).await?;
    match args.cmd {
        Cmd::Mkdirs { seconds } => {
            let noop = rate(&conns, args.tasks, seconds, |mut c, t, _| async move {
                c.renew_lease(RenewLeaseRequest {
                    client_name: format!("bench-{t}"),
                })
                .await
                .map(|_| ())
            })
            .await?;
            let mkdirs = rate(&conns, args.tasks, seconds, |mut c, t, i| async move {
                c.mkdirs(MkdirsRequest {
                    caller: None,
                    path: format!("/nnbench/t{t}/d{i}"),
                    mode: 0,
                })
                .await
                .map(|_| ())
            })
            .await?;
            println!("noop_rpc_per_sec {noop:.0}");
            println!("durable_mkdirs_per_sec {mkdirs:.0}");
            println!("mkdirs_vs_noop_rpc {:.2}", mkdirs / noop);
            println!("mkdirs_vs_hdfs_29000 {:.2}", mkdirs / 29_000.0);
        }
        Cmd::Files { count, pid } => {
            let before = rss_mb(pid)?;
            let per_task = count.div_ceil(args.tasks as u64);
            let start = Instant::now();
            let mut handles = Vec::new();
            for t in 0..args.tasks {
                let mut c = conns[t % conns.len()].clone();
                handles.push(tokio::spawn(async move {
                    let client_name = format!("nnbench-{t}");
                    for i in 0..per_task {
                        let path = format!("/files/t{t}/f{i}");
                        c.create(CreateRequest {
                            caller: None,
                            path: path.clone(),
                            replication: 3,
                            block_size: 0,
                            mode: 0,
                            client_name: client_name.clone(),
                            create_parent: true,
                        })
                        .await?;
                        let b = c
                            .add_block(AddBlockRequest {
                                caller: None,
                                path: path.clone(),
                                client_name: client_name.clone(),
                                previous: None,
                                excluded_nodes: vec![],
                                file_id: 0,
                            })
                            .await?
                            .into_inner();
                        let mut last = b.block.and_then(|b| b.block).unwrap_or_default();
                        last.num_bytes = 1;
                        c.complete(CompleteRequest {
                            path,
                            client_name: client_name.clone(),
                            last: Some(last),
                            file_id: 0,
                        })
                        .await?;
                    }
                    Ok::<(), tonic::Status>(())
                }));
            }
            for h in handles {
                h.await??;
            }
            let secs = start.elapsed().as_secs_f64();
            let after = rss_mb(pid)?;
            let files = per_task * args.tasks as u64;
            println!(
                "files {files} in {secs:.0} s ({:.0} files/s)",
                files as f64 / secs
            );
            println!("namenode_rss_mb_before {before:.0}");
            println!("namenode_rss_mb_after {after:.0}");
            println!("namenode_rss_vs_250mb_budget {:.2}", after / 250.0);
        }
    }
    Ok(())
}
