//! Making a cluster's TLS files (feature `certs`): a local CA and one certificate per daemon
//! host, signed by it, for `mrctl cluster up`, `mrctl admin certs` and the test harness.
//!
//! The CA's directory holds `ca.pem` (give it to every node and client: `tls_ca`) and
//! `ca-key.pem` (keep it on the machine that makes certificates). Keys are written mode 0600.

use crate::error::{Error, IoContext, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";

/// A CA able to sign host certificates.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// Where `ca.pem` is.
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_path", &self.cert_path)
            .finish()
    }
}

fn rcgen_error(what: &str, e: rcgen::Error) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// Writes `text` to `path` readable by its owner only (a fresh file: an old one is replaced).
fn write_private(path: &Path, text: &str) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .at(path)?;
    f.write_all(text.as_bytes()).at(path)?;
    f.sync_all().at(path)
}

/// The CA certificate's fields; rebuilt the same way from the saved key, so a certificate
/// signed later still chains to the `ca.pem` written first (same name, same key).
fn ca_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| rcgen_error("CA", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "mapreduce cluster CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
    Ok(p)
}

/// The CA in `dir`: the one already there (its `ca-key.pem`), or a new one.
pub fn ensure_ca(dir: &Path) -> Result<Ca> {
    std::fs::create_dir_all(dir).at(dir)?;
    let key_path = dir.join(CA_KEY);
    let cert_path = dir.join(CA_CERT);
    let fresh = !key_path.exists();
    let key = if fresh {
        let key = KeyPair::generate().map_err(|e| rcgen_error("CA key", e))?;
        write_private(&key_path, &key.serialize_pem())?;
        key
    } else {
        let pem = std::fs::read_to_string(&key_path).at(&key_path)?;
        KeyPair::from_pem(&pem).map_err(|e| Error::Config {
            path: key_path.clone(),
            message: format!("not a PEM private key: {e}"),
        })?
    };
    let cert = ca_params()?
        .self_signed(&key)
        .map_err(|e| rcgen_error("CA certificate", e))?;
    if fresh || !cert_path.exists() {
        std::fs::write(&cert_path, cert.pem()).at(&cert_path)?;
    }
    Ok(Ca {
        cert,
        key,
        cert_path,
    })
}

impl Ca {
    /// Signs a certificate for `hosts` (IP addresses become IP names, others DNS names),
    /// written as `<name>.pem` and `<name>-key.pem` (0600) in `dir`; returns both paths.
    pub fn issue(&self, dir: &Path, name: &str, hosts: &[String]) -> Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir).at(dir)?;
        let mut p = CertificateParams::new(hosts.to_vec()).map_err(|e| Error::Config {
            path: dir.into(),
            message: format!("{hosts:?}: not host names or addresses: {e}"),
        })?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hosts.first().map_or(name, |h| h.as_str()),
        );
        p.distinguished_name = dn;
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2124, 1, 1);
        let key = KeyPair::generate().map_err(|e| rcgen_error("host key", e))?;
        let cert = p
            .signed_by(&key, &self.cert, &self.key)
            .map_err(|e| rcgen_error("host certificate", e))?;
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).at(&cert_path)?;
        write_private(&key_path, &key.serialize_pem())?;
        Ok((cert_path, key_path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_private_and_a_reloaded_ca_signs_certificates_the_first_ca_pem_trusts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ensure_ca(dir.path()).expect("ca");
        let first_pem = std::fs::read(&ca.cert_path).expect("ca.pem");
        let again = ensure_ca(dir.path()).expect("reloaded");
        assert_eq!(std::fs::read(&again.cert_path).expect("ca.pem"), first_pem);
        let (cert, key) = again
            .issue(
                dir.path(),
                "host",
                &["127.0.0.2".into(), "localhost".into()],
            )
            .expect("issue");
        for k in [&key, &dir.path().join(CA_KEY)] {
            let mode = std::fs::metadata(k).expect("key").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", k.display());
        }
        let sec = crate::config::SecurityConfig {
            tls_cert: cert,
            tls_key: key,
            tls_ca: ca.cert_path.clone(),
            ..Default::default()
        };
        crate::tls::check_daemon_files(&sec).expect("usable files");
    }
}
