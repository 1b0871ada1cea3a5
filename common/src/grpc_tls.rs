//! gRPC over TLS (feature `grpc-client`; servers also need `grpc-server`): the tonic endpoint
//! a client dials (`https://` checked against `[security] tls_ca`, or `http://` when the
//! cluster is insecure) and the server's TLS config from `tls_cert` and `tls_key`.

use crate::config::SecurityConfig;
use crate::error::{Error, Result};
use crate::tls;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// The endpoint of the daemon at `addr` (`host:port`); `what` names the setting `addr` came
/// from, for errors.
pub fn endpoint(what: &str, addr: &str, sec: &SecurityConfig) -> Result<Endpoint> {
    let scheme = if tls::enabled(sec) { "https" } else { "http" };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|e| Error::Protocol(format!("{what} '{addr}': {e}")))?;
    if !tls::enabled(sec) {
        return Ok(endpoint);
    }
    let mut config = ClientTlsConfig::new().assume_http2(true);
    // Without a CA no server is trusted: calls fail saying so (see `tls::client_config`).
    if !sec.tls_ca.as_os_str().is_empty() {
        // Checked here, so a bad file is named now rather than as a failed call later.
        tls::certs("tls_ca", &sec.tls_ca)?;
        let ca = tls::read_pem("tls_ca", &sec.tls_ca)?;
        config = config.ca_certificate(Certificate::from_pem(ca));
    }
    endpoint.tls_config(config).map_err(|e| Error::Config {
        path: sec.tls_ca.clone(),
        message: format!("[security] tls_ca: {}", tls::chain(&e)),
    })
}

/// The server side's TLS (`None` when insecure); a handshake must finish within
/// `handshake_timeout` (the port's idle timeout), so a silent client cannot hold a connection.
#[cfg(feature = "grpc-server")]
pub fn server_tls(
    sec: &SecurityConfig,
    handshake_timeout: std::time::Duration,
) -> Result<Option<tonic::transport::ServerTlsConfig>> {
    if !tls::enabled(sec) {
        return Ok(None);
    }
    // Parses both files first, so a bad one is named with its field.
    tls::server_config(sec)?;
    let cert = tls::read_pem("tls_cert", &sec.tls_cert)?;
    let key = tls::read_pem("tls_key", &sec.tls_key)?;
    Ok(Some(
        tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key))
            .timeout(handshake_timeout),
    ))
}
