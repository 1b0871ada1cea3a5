//! The DFS client: a blocking handle on the namenode's namespace operations, opening files for
//! writing ([`crate::writer`]) and reading ([`crate::reader`]). It owns a small runtime for
//! gRPC and renews the leases of the files it writes.

use crate::credentials::Credentials;
use crate::error::{ClientError, ClientResult};
use common::config::ClientConfig;
use proto::dfs::client_protocol_client::ClientProtocolClient;
use proto::dfs::*;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The namenode's client protocol, every call carrying this client's credentials.
pub(crate) type Rpc = ClientProtocolClient<InterceptedService<Channel, Credentials>>;

pub(crate) struct Inner {
    pub rt: tokio::runtime::Runtime,
    pub rpc: Rpc,
    pub credentials: Credentials,
    pub client_name: String,
    pub caller: Caller,
    pub config: ClientConfig,
    /// The bits taken from new entries' modes (`config.umask`, parsed).
    pub umask: u32,
    /// TLS of the block transfer connections (`None`: insecure, plain TCP).
    pub tls: common::tls::ClientTls,
    pub open_writers: AtomicUsize,
}

/// A connection to the block store. Cheap to clone; blocking (call it from ordinary threads,
/// or through `spawn_blocking` from async code).
#[derive(Clone)]
pub struct DfsClient {
    pub(crate) inner: Arc<Inner>,
}

/// Options for a new file.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// 0: the client config's, else the namenode's default.
    pub replication: u32,
    /// 0: the client config's, else the namenode's default.
    pub block_size: u64,
    /// Create missing parent directories (the default, as HDFS does).
    pub create_parent: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            replication: 0,
            block_size: 0,
            create_parent: true,
        }
    }
}

impl DfsClient {
    /// Connects with the credentials of `config.security` (its token file, or in insecure mode
    /// the OS user).
    pub fn connect(config: ClientConfig) -> ClientResult<DfsClient> {
        let credentials = Credentials::from_config(&config.security)?;
        DfsClient::connect_with(config, credentials)
    }

    /// Connects presenting `credentials` on every call (a daemon's service token, a task's
    /// token).
    pub fn connect_with(config: ClientConfig, credentials: Credentials) -> ClientResult<DfsClient> {
        let umask = parse_umask(&config.umask)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClientError::Io)?;
        let endpoint =
            common::grpc_tls::endpoint("namenode_addr", &config.namenode_addr, &config.security)
                .map_err(|e| ClientError::Config(e.to_string()))?
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(120));
        let channel = {
            let _guard = rt.enter();
            endpoint.connect_lazy()
        };
        let rpc = ClientProtocolClient::with_interceptor(channel, credentials.clone())
            .max_decoding_message_size(256 << 20);
        // Only informative: a secure namenode takes the user from the token.
        let user = common::user::current();
        // A random suffix: std's hash keys are random per process and differ for each
        // `RandomState`, so this needs no random number crate.
        let salt = RandomState::new().hash_one(std::process::id()) as u32;
        let client_name = format!("mrctl-{}-{salt:08x}", std::process::id());
        let tls = common::tls::client_config(&config.security)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let inner = Arc::new(Inner {
            tls,
            rt,
            rpc,
            credentials,
            client_name,
            caller: Caller {
                user,
                host: config.host.clone(),
            },
            config,
            umask,
            open_writers: AtomicUsize::new(0),
        });
        spawn_lease_renewer(&inner);
        Ok(DfsClient { inner })
    }

    /// Runs one RPC to completion, turning a failure into an error naming `what`.
    pub(crate) fn call<T, F>(&self, what: &str, f: impl FnOnce(Rpc) -> F) -> ClientResult<T>
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let rpc = self.inner.rpc.clone();
        self.inner
            .rt
            .block_on(f(rpc))
            .map(|r| r.into_inner())
            .map_err(|s| ClientError::from_status(what, s))
    }

    pub(crate) fn caller(&self) -> Option<Caller> {
        Some(self.inner.caller.clone())
    }

    /// The credentials this client presents.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The namenode this client talks to.
    /// The `[security]` settings this client was made with.
    pub fn security(&self) -> &common::config::SecurityConfig {
        &self.inner.config.security
    }

    pub fn namenode_addr(&self) -> String {
        self.inner.config.namenode_addr.clone()
    }

    pub fn client_name(&self) -> &str {
        &self.inner.client_name
    }

    pub fn mkdirs(&self, path: &str) -> ClientResult<()> {
        let req = MkdirsRequest {
            caller: self.caller(),
            path: path.into(),
            mode: self.masked(0o777),
        };
        self.call(path, |mut c| async move { c.mkdirs(req).await })
            .map(|_| ())
    }

    pub fn create(
        &self,
        path: &str,
        opts: CreateOptions,
    ) -> ClientResult<crate::writer::DfsWriter> {
        crate::writer::DfsWriter::create(self.clone(), path, opts)
    }

    /// Opens an existing file to write at its end (HDFS's append); the writer is the one
    /// `create` returns, and must be closed the same way.
    pub fn append(&self, path: &str) -> ClientResult<crate::writer::DfsWriter> {
        crate::writer::DfsWriter::append(self.clone(), path)
    }

    /// The namenode's settings a client follows (the trash interval, defaults) and the caller's
    /// user as the namenode knows it.
    pub fn server_defaults(&self) -> ClientResult<GetServerDefaultsResponse> {
        let req = GetServerDefaultsRequest {};
        self.call("server defaults", |mut c| async move {
            c.get_server_defaults(req).await
        })
    }

    pub fn open(&self, path: &str) -> ClientResult<crate::reader::DfsReader> {
        crate::reader::DfsReader::open(self.clone(), path)
    }

    /// Writes `bytes` as a new file.
    pub fn write_file(&self, path: &str, bytes: &[u8], opts: CreateOptions) -> ClientResult<()> {
        use std::io::Write;
        let mut w = self.create(path, opts)?;
        w.write_all(bytes).map_err(|e| ClientError::Transfer {
            path: path.into(),
            message: e.to_string(),
        })?;
        w.close()
    }

    /// Reads a whole file.
    pub fn read_file(&self, path: &str) -> ClientResult<Vec<u8>> {
        use std::io::Read;
        let mut r = self.open(path)?;
        let mut out = Vec::with_capacity(r.len() as usize);
        r.read_to_end(&mut out).map_err(|e| ClientError::Transfer {
            path: path.into(),
            message: e.to_string(),
        })?;
        Ok(out)
    }

    pub fn stat(&self, path: &str) -> ClientResult<FileStatus> {
        let req = GetFileInfoRequest { path: path.into() };
        self.call(path, |mut c| async move { c.get_file_info(req).await })?
            .status
            .ok_or_else(|| ClientError::NotFound(path.into()))
    }

    pub fn exists(&self, path: &str) -> ClientResult<bool> {
        match self.stat(path) {
            Ok(_) => Ok(true),
            Err(ClientError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn list(&self, path: &str) -> ClientResult<Vec<FileStatus>> {
        let req = GetListingRequest { path: path.into() };
        Ok(self
            .call(path, |mut c| async move { c.get_listing(req).await })?
            .entries)
    }

    /// The files of an input: the file itself, or every file under the directory, recursively,
    /// in path order. Names starting with `_` or `.` (markers, temporary output) are skipped.
    pub fn list_files(&self, path: &str) -> ClientResult<Vec<FileStatus>> {
        let st = self.stat(path)?;
        if !st.is_dir {
            return Ok(vec![st]);
        }
        let mut out = Vec::new();
        let mut dirs = vec![path.trim_end_matches('/').to_string()];
        while let Some(d) = dirs.pop() {
            for e in self.list(&d)? {
                let name = e.path.rsplit('/').next().unwrap_or("");
                if name.starts_with('_') || name.starts_with('.') {
                    continue;
                }
                if e.is_dir {
                    dirs.push(e.path.clone());
                } else {
                    out.push(e);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    pub fn rename(&self, src: &str, dst: &str) -> ClientResult<()> {
        let req = RenameRequest {
            src: src.into(),
            dst: dst.into(),
        };
        self.call(src, |mut c| async move { c.rename(req).await })
            .map(|_| ())
    }

    pub fn delete(&self, path: &str, recursive: bool) -> ClientResult<()> {
        let req = DeleteRequest {
            path: path.into(),
            recursive,
        };
        self.call(path, |mut c| async move { c.delete(req).await })
            .map(|_| ())
    }

    pub fn set_replication(&self, path: &str, replication: u32) -> ClientResult<()> {
        let req = SetReplicationRequest {
            path: path.into(),
            replication,
        };
        self.call(path, |mut c| async move { c.set_replication(req).await })
            .map(|_| ())
    }

    /// chmod: `mode` is the rwx bits and the sticky bit (at most 0o1777).
    pub fn set_permission(&self, path: &str, mode: u32) -> ClientResult<()> {
        let req = SetPermissionRequest {
            path: path.into(),
            mode,
        };
        self.call(path, |mut c| async move { c.set_permission(req).await })
            .map(|_| ())
    }

    /// chown/chgrp: `None` leaves the owner or the group as it is.
    pub fn set_owner(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> ClientResult<()> {
        let req = SetOwnerRequest {
            path: path.into(),
            owner: owner.unwrap_or_default().into(),
            group: group.unwrap_or_default().into(),
        };
        self.call(path, |mut c| async move { c.set_owner(req).await })
            .map(|_| ())
    }

    /// `mode` less this client's umask: what a new entry is created with.
    pub(crate) fn masked(&self, mode: u32) -> u32 {
        mode & !self.inner.umask
    }

    pub fn content_summary(&self, path: &str) -> ClientResult<ContentSummaryResponse> {
        let req = ContentSummaryRequest { path: path.into() };
        self.call(path, |mut c| async move { c.content_summary(req).await })
    }

    pub fn fsck(&self, path: &str) -> ClientResult<FsckResponse> {
        let req = FsckRequest { path: path.into() };
        self.call(path, |mut c| async move { c.fsck(req).await })
    }

    pub fn cluster_report(&self) -> ClientResult<ClusterReportResponse> {
        self.call("cluster report", |mut c| async move {
            c.cluster_report(ClusterReportRequest {}).await
        })
    }

    /// Sets (`Some`) or, with `clear_*`, removes a directory's name and space quotas; a quota
    /// given neither way stays as it is. Superusers only.
    pub fn set_quota(
        &self,
        path: &str,
        names: Option<u64>,
        space: Option<u64>,
        clear_names: bool,
        clear_space: bool,
    ) -> ClientResult<()> {
        let req = SetQuotaRequest {
            path: path.into(),
            name_quota: names,
            space_quota: space,
            clear_name_quota: clear_names,
            clear_space_quota: clear_space,
        };
        self.call(path, |mut c| async move { c.set_quota(req).await })
            .map(|_| ())
    }

    /// Reads, enters or leaves safe mode (entering and leaving: superusers only).
    pub fn safe_mode(&self, action: SafeModeAction) -> ClientResult<SafeModeResponse> {
        let req = SafeModeRequest {
            action: action as i32,
        };
        self.call("safe mode", |mut c| async move { c.safe_mode(req).await })
    }

    /// Revokes the token `id` (16 hex digits) cluster-wide; superusers only.
    pub fn revoke_token(&self, id: &str) -> ClientResult<()> {
        let req = RevokeTokenRequest {
            token_id: id.into(),
        };
        self.call(
            "revoke token",
            |mut c| async move { c.revoke_token(req).await },
        )
        .map(|_| ())
    }

    /// Decommissions (or recommissions, or with `dry_run` only matches) the datanodes `nodes`
    /// name; superusers only. Returns, per name, the addresses it matched.
    pub fn decommission(
        &self,
        nodes: &[String],
        recommission: bool,
        dry_run: bool,
    ) -> ClientResult<Vec<Vec<String>>> {
        let req = DecommissionRequest {
            nodes: nodes.to_vec(),
            recommission,
            dry_run,
        };
        let r = self.call(
            "decommission",
            |mut c| async move { c.decommission(req).await },
        )?;
        Ok(split_matches(r.matched))
    }

    /// Makes the namenode re-read its include and exclude lists; returns what changed.
    pub fn refresh_nodes(&self) -> ClientResult<Vec<String>> {
        let r = self.call("refresh nodes", |mut c| async move {
            c.refresh_nodes(RefreshNodesRequest {}).await
        })?;
        Ok(r.changes)
    }

    /// Asks the namenode to move the replica of `block` on datanode `from` to `to` (superusers
    /// only): it copies, then deletes the source once the copy is reported.
    pub fn move_replica(&self, block: u64, from: u64, to: u64) -> ClientResult<()> {
        let req = MoveReplicaRequest {
            block_id: block,
            from_node: from,
            to_node: to,
        };
        self.call(
            "move replica",
            |mut c| async move { c.move_replica(req).await },
        )
        .map(|_| ())
    }

    /// The revoked token ids (cluster daemons only).
    pub fn revoked_tokens(&self) -> ClientResult<Vec<common::auth::TokenId>> {
        let r = self.call("revoked tokens", |mut c| async move {
            c.revoked_tokens(RevokedTokensRequest {}).await
        })?;
        Ok(r.token_ids.into_iter().map(common::auth::TokenId).collect())
    }

    /// Block locations of a file, nearest first for this client.
    pub fn block_locations(&self, path: &str) -> ClientResult<GetBlockLocationsResponse> {
        let req = GetBlockLocationsRequest {
            caller: self.caller(),
            path: path.into(),
        };
        self.call(
            path,
            |mut c| async move { c.get_block_locations(req).await },
        )
    }

    pub(crate) fn report_bad(&self, block: &Block, node_id: u64) {
        let req = ReportBadBlocksRequest {
            replicas: vec![report_bad_blocks_request::BadReplica {
                block: Some(*block),
                node_id,
            }],
        };
        if let Err(e) = self.call("report bad block", |mut c| async move {
            c.report_bad_blocks(req).await
        }) {
            tracing::warn!(block = block.id, error = %e, "could not report a corrupt replica");
        }
    }

    pub(crate) fn writer_opened(&self) {
        self.inner.open_writers.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn writer_closed(&self) {
        self.inner.open_writers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The umask of a client config: octal, at most 777.
fn parse_umask(s: &str) -> ClientResult<u32> {
    u32::from_str_radix(s.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| {
            ClientError::Config(format!(
                "umask '{s}' is not an octal mask like 022 (at most 777)"
            ))
        })
}

/// Renews this client's lease every few seconds while it has files open for writing.
fn spawn_lease_renewer(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    inner.rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let Some(inner) = weak.upgrade() else { return };
            if inner.open_writers.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let mut rpc = inner.rpc.clone();
            let name = inner.client_name.clone();
            drop(inner);
            if let Err(e) = rpc
                .renew_lease(RenewLeaseRequest { client_name: name })
                .await
            {
                tracing::warn!(error = %e.message(), "lease renewal failed");
            }
        }
    });
}

/// Per requested name, the comma-separated matches a decommission reply carries.
pub fn split_matches(matched: Vec<String>) -> Vec<Vec<String>> {
    matched
        .into_iter()
        .map(|m| {
            m.split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_umask_is_octal_and_at_most_777() {
        assert_eq!(parse_umask("022").ok(), Some(0o022));
        assert_eq!(parse_umask("077").ok(), Some(0o077));
        assert_eq!(parse_umask("0").ok(), Some(0));
        for bad in ["999", "1777", "u=rwx", ""] {
            let e = parse_umask(bad).expect_err(bad).to_string();
            assert!(e.contains("octal mask like 022"), "{e}");
        }
    }
}
