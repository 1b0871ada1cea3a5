//! The local cluster's TLS files: a CA under `<dir>/tls/` and one certificate per daemon host
//! (its loopback address and `localhost`), named in each config's `[security]`.

use crate::error::{ClusterError, ClusterResult};
use common::config::SecurityConfig;
use common::tls_certs;
use std::path::Path;

/// Where the CA and the host certificates live in a cluster's directory.
pub const TLS_DIR: &str = "tls";

fn err(e: common::Error) -> ClusterError {
    ClusterError::Config(format!("making the cluster's TLS certificates: {e}"))
}

/// The `[security]` section of a daemon on `host`: `template` with its certificate, key and
/// the cluster's CA filled in (made if missing); unchanged when `template` is insecure.
pub fn daemon_security(
    dir: &Path,
    template: &SecurityConfig,
    host: &str,
) -> ClusterResult<SecurityConfig> {
    let mut s = template.clone();
    if s.insecure {
        return Ok(s);
    }
    let tls = dir.join(TLS_DIR);
    let ca = tls_certs::ensure_ca(&tls).map_err(err)?;
    let name = format!("host-{host}");
    let (cert, key) = (
        tls.join(format!("{name}.pem")),
        tls.join(format!("{name}-key.pem")),
    );
    if !(cert.exists() && key.exists()) {
        ca.issue(&tls, &name, &[host.to_string(), "localhost".into()])
            .map_err(err)?;
    }
    s.tls_cert = cert;
    s.tls_key = key;
    s.tls_ca = ca.cert_path;
    Ok(s)
}

/// The `[security]` section of a client: `template` trusting the cluster's CA.
pub fn client_security(dir: &Path, template: &SecurityConfig) -> ClusterResult<SecurityConfig> {
    let mut s = template.clone();
    if !s.insecure {
        s.tls_ca = tls_certs::ensure_ca(&dir.join(TLS_DIR))
            .map_err(err)?
            .cert_path;
    }
    Ok(s)
}
