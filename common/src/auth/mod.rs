//! Cluster security: the cluster secret, the signed tokens made from it, and who a verified
//! token says the caller is.
//!
//! - [`secret`]: the cluster secret file (keys by id, the newest signs; mode 0600 enforced).
//! - [`token`]: signed tokens (user, delegation, service, block access) and their text form.
//! - [`identity`]: the user and groups a verified token names.
//! - [`verifier`]: checks a token's signature, expiry and revocation, and counts refusals.
//! - [`job_key`]: the per-job key that signs shuffle requests.

pub mod identity;
pub mod job_key;
pub mod secret;
pub mod token;
pub mod verifier;

pub use identity::Identity;
pub use secret::ClusterSecret;
pub use token::{BlockAccess, Grant, TokenBody, TokenId};
pub use verifier::{AuthError, Verifier};

/// The gRPC metadata key a token travels in (`authorization: Bearer <token>`).
pub const AUTHORIZATION: &str = "authorization";
/// In insecure mode only: the user name the client claims (as Hadoop's simple auth).
pub const CLAIMED_USER: &str = "x-mr-user";

/// Milliseconds since the Unix epoch: token issue and expiry times are wall-clock times, since
/// they cross machines.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `n` random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> crate::Result<[u8; N]> {
    use crate::error::IoContext;
    use std::io::Read;
    let mut out = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut out))
        .at("/dev/urandom")?;
    Ok(out)
}
