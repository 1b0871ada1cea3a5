//! TLS settings of every channel: the rustls client and server configs built from the
//! `[security]` section's PEM files (`tls_cert`, `tls_key`, `tls_ca`), and the messages a
//! failed handshake turns into. TLS is on unless `[security] insecure = true`.

use crate::config::SecurityConfig;
use crate::error::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A client's TLS: `None` when the cluster is insecure (plain TCP).
pub type ClientTls = Option<Arc<rustls::ClientConfig>>;
/// A server's TLS: `None` when the cluster is insecure (plain TCP).
pub type ServerTls = Option<Arc<rustls::ServerConfig>>;

/// Whether this config's channels run over TLS.
pub fn enabled(sec: &SecurityConfig) -> bool {
    !sec.insecure
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The contents of the PEM file a `[security]` field names, or an error naming the field and
/// the file (and what to do about it).
pub fn read_pem(field: &str, path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str().is_empty() {
        return Err(Error::Config {
            path: path.into(),
            message: format!(
                "[security] {field} is not set: TLS is on, so name a PEM file there \
                 (`mrctl admin certs` makes them; `insecure = true` turns TLS off)"
            ),
        });
    }
    std::fs::read(path).map_err(|e| Error::Config {
        path: path.into(),
        message: format!("[security] {field}: cannot read the file: {e}"),
    })
}

fn bad(field: &str, path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Config {
        path: path.into(),
        message: format!("[security] {field}: {what}"),
    }
}

/// The certificates of a PEM file (at least one).
pub fn certs(field: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(field, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(field, path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(field, path, "the file holds no PEM certificate"));
    }
    Ok(certs)
}

/// The client config of a secure cluster: servers' certificates must chain to `tls_ca`. A
/// client without `tls_ca` trusts no server: each connection fails, saying to set it (so a
/// client made before its config is complete fails on use, like an unreachable server).
pub fn client_config(sec: &SecurityConfig) -> Result<ClientTls> {
    if !enabled(sec) {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    let ca = if sec.tls_ca.as_os_str().is_empty() {
        Vec::new()
    } else {
        certs("tls_ca", &sec.tls_ca)?
    };
    for c in ca {
        roots
            .add(c)
            .map_err(|e| bad("tls_ca", &sec.tls_ca, format!("not a usable CA: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// The server config of a secure daemon: its `tls_cert` chain and `tls_key`. Clients are not
/// asked for certificates: tokens say who they are.
pub fn server_config(sec: &SecurityConfig) -> Result<ServerTls> {
    if !enabled(sec) {
        return Ok(None);
    }
    let chain = certs("tls_cert", &sec.tls_cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read_pem("tls_key", &sec.tls_key)?)
        .map_err(|e| bad("tls_key", &sec.tls_key, format!("no PEM private key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            bad(
                "tls_key",
                &sec.tls_key,
                format!("does not go with tls_cert {}: {e}", sec.tls_cert.display()),
            )
        })?;
    // No session resumption state to share between daemons; tickets only cost a message.
    config.send_tls13_tickets = 0;
    Ok(Some(Arc::new(config)))
}

/// Checks at start-up that a daemon's TLS files are all there and usable, so a missing one
/// stops it with the field and file named rather than failing every connection later.
pub fn check_daemon_files(sec: &SecurityConfig) -> Result<()> {
    if enabled(sec) {
        server_config(sec)?;
        certs("tls_ca", &sec.tls_ca)?;
    }
    Ok(())
}

/// The user-facing message for a failed handshake whose cause is `cause` (an error's text,
/// sources included): an untrusted certificate names `tls_ca`; anything else passes through.
pub fn explain(cause: &str, ca: Option<&Path>) -> String {
    let c = cause.to_ascii_lowercase();
    if c.contains("unknownissuer")
        || c.contains("unknown issuer")
        || c.contains("badsignature")
        || c.contains("invalid peer certificate")
        || c.contains("notvalidforname")
    {
        format!(
            "the server's TLS certificate is not trusted: it does not chain to the CA in \
             [security] tls_ca{} or does not name the host dialled; name the cluster's CA \
             there ({cause})",
            ca.map(|p| format!(" ({})", p.display()))
                .unwrap_or_default()
        )
    } else {
        cause.to_string()
    }
}

/// An error and its sources as one line, for [`explain`].
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
