//! Who a client says it is on every call: a token (`authorization: Bearer <token>`) read once at
//! connect, a service token a daemon mints from the cluster secret (and mints again before it
//! expires), or, in insecure mode, the user name it claims (`x-mr-user`).

use crate::error::{ClientError, ClientResult};
use common::auth::{now_ms, ClusterSecret, Grant, TokenBody, AUTHORIZATION, CLAIMED_USER};
use common::config::SecurityConfig;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The environment variable a job binary's client reads its token from (`mrctl submit` sets it
/// for `describe`, the worker for a task attempt).
pub const TOKEN_ENV: &str = "MR_TOKEN";

/// How long a daemon's own service token lives; it mints a new one when half of that is left.
const SERVICE_TOKEN_TTL_MS: u64 = 3_600_000;

/// A client's credentials; cheap to clone. As a tonic interceptor it adds them to every call.
#[derive(Clone)]
pub struct Credentials(Arc<Kind>);

enum Kind {
    /// Insecure mode: the user name claimed (not checked by anyone).
    Claimed(String),
    /// A token, presented as is.
    Token(String),
    /// A daemon of `role`: its service token, minted from the secret, and when it expires.
    Service {
        secret: ClusterSecret,
        role: String,
        current: Mutex<(String, u64)>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a token.
        match &*self.0 {
            Kind::Claimed(u) => write!(f, "Credentials::Claimed({u})"),
            Kind::Token(_) => f.write_str("Credentials::Token"),
            Kind::Service { role, .. } => write!(f, "Credentials::Service({role})"),
        }
    }
}

impl Credentials {
    /// Insecure mode: claims `user` (as Hadoop's simple authentication does).
    pub fn claimed(user: impl Into<String>) -> Credentials {
        Credentials(Arc::new(Kind::Claimed(user.into())))
    }

    /// Presents `token` (its text form, `mr1.…`) on every call.
    pub fn token(token: &str) -> ClientResult<Credentials> {
        let token = token.trim();
        if token.is_empty() || MetadataValue::try_from(format!("Bearer {token}")).is_err() {
            return Err(ClientError::Config(
                "the token is empty or not printable ASCII: use the text `mrctl admin token \
                 issue` printed"
                    .into(),
            ));
        }
        Ok(Credentials(Arc::new(Kind::Token(token.to_string()))))
    }

    /// A daemon of `role`, minting its own service tokens from `secret`.
    pub fn service(secret: ClusterSecret, role: impl Into<String>) -> ClientResult<Credentials> {
        let role = role.into();
        let current = mint(&secret, &role)?;
        Ok(Credentials(Arc::new(Kind::Service {
            secret,
            role,
            current: Mutex::new(current),
        })))
    }

    /// A user's credentials from the `[security]` section: the token in `token_file`, or the
    /// claimed OS user in insecure mode. With no token file set, the OS user is claimed as
    /// well: an insecure cluster believes it, a secure one refuses the call saying how to get
    /// a token.
    pub fn from_config(security: &SecurityConfig) -> ClientResult<Credentials> {
        if security.insecure || security.token_file.as_os_str().is_empty() {
            return Ok(Credentials::claimed(common::user::current()));
        }
        Credentials::from_file(&security.token_file)
    }

    /// The token stored in `path`.
    pub fn from_file(path: &Path) -> ClientResult<Credentials> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClientError::Config(format!(
                "token file {}: {e} (an administrator issues a token with `mrctl admin token \
                 issue --user NAME > FILE`)",
                path.display()
            ))
        })?;
        Credentials::token(&text)
            .map_err(|e| ClientError::Config(format!("{}: {e}", path.display())))
    }

    /// A daemon's credentials: a service token of `role` minted from the cluster secret, or in
    /// insecure mode the daemon's OS user.
    pub fn for_daemon(security: &SecurityConfig, role: &str) -> ClientResult<Credentials> {
        if security.insecure {
            return Ok(Credentials::claimed(common::user::current()));
        }
        let secret = ClusterSecret::load(&security.secret_file)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Credentials::service(secret, role)
    }

    /// A job binary's credentials: the token in [`TOKEN_ENV`], else (an insecure cluster) the
    /// OS user claimed.
    pub fn from_env() -> ClientResult<Credentials> {
        match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.trim().is_empty() => Credentials::token(&t),
            _ => Ok(Credentials::claimed(common::user::current())),
        }
    }

    /// The token presented (to hand to a child process), none in insecure mode.
    pub fn token_text(&self) -> Option<String> {
        match &*self.0 {
            Kind::Claimed(_) => None,
            Kind::Token(t) => Some(t.clone()),
            Kind::Service { current, .. } => Some(lock(current).0.clone()),
        }
    }

    /// The user these credentials name (the token's user, unverified, or the claimed one):
    /// what relative paths resolve against, as `/user/NAME`.
    pub fn user_name(&self) -> Option<String> {
        match &*self.0 {
            Kind::Claimed(u) => Some(u.clone()),
            Kind::Token(t) => common::auth::token::unverified_user(t),
            Kind::Service { role, .. } => Some(role.clone()),
        }
    }

    /// The header to send: a token, or the claimed user.
    fn header(&self) -> Result<(&'static str, String), Status> {
        match &*self.0 {
            Kind::Claimed(u) => Ok((CLAIMED_USER, u.clone())),
            Kind::Token(t) => Ok((AUTHORIZATION, format!("Bearer {t}"))),
            Kind::Service {
                secret,
                role,
                current,
            } => {
                let mut cur = lock(current);
                if cur.1.saturating_sub(now_ms()) < SERVICE_TOKEN_TTL_MS / 2 {
                    *cur = mint(secret, role)
                        .map_err(|e| Status::internal(format!("minting a service token: {e}")))?;
                }
                Ok((AUTHORIZATION, format!("Bearer {}", cur.0)))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new service token for `role` and its expiry.
fn mint(secret: &ClusterSecret, role: &str) -> ClientResult<(String, u64)> {
    let now = now_ms();
    let body = TokenBody::new(
        secret,
        Grant::Service { role: role.into() },
        now,
        SERVICE_TOKEN_TTL_MS,
    )
    .and_then(|b| b.sign(secret))
    .map_err(|e| ClientError::Config(format!("minting a service token: {e}")))?;
    Ok((body, now + SERVICE_TOKEN_TTL_MS))
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let (key, value) = self.header()?;
        // A claimed user name that is not ASCII is left out: the server then sees "nobody".
        if let Ok(v) = MetadataValue::try_from(value) {
            req.metadata_mut().insert(key, v);
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::Verifier;
    use tonic::service::Interceptor;

    fn sent(c: &Credentials) -> (Option<String>, Option<String>) {
        let req = c.clone().call(Request::new(())).expect("interceptor");
        let get = |k: &str| {
            req.metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        (get(AUTHORIZATION), get(CLAIMED_USER))
    }

    #[test]
    fn a_token_goes_as_a_bearer_and_a_claim_as_the_user_header() {
        let t = Credentials::token(" mr1.abc.def\n").expect("token");
        assert_eq!(sent(&t), (Some("Bearer mr1.abc.def".into()), None));
        let c = Credentials::claimed("alice");
        assert_eq!(sent(&c), (None, Some("alice".into())));
        assert!(Credentials::token("").is_err());
        assert!(Credentials::token("bad\u{1}token").is_err());
    }

    #[test]
    fn a_service_token_verifies_as_its_role() {
        let secret = ClusterSecret::from_keys(vec![(1, [5; 32])]);
        let c = Credentials::service(secret.clone(), "datanode").expect("mint");
        let (auth, _) = sent(&c);
        let token = auth.expect("bearer");
        let id = Verifier::new(secret)
            .identity(token.strip_prefix("Bearer "), now_ms())
            .expect("valid");
        assert!(id.service);
        assert_eq!(id.user, "datanode");
    }

    #[test]
    fn a_missing_token_file_names_the_file_and_how_to_get_one() {
        let security = SecurityConfig {
            token_file: "/nonexistent/alice.token".into(),
            ..Default::default()
        };
        let e = Credentials::from_config(&security).expect_err("missing file");
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/alice.token"), "{msg}");
        assert!(msg.contains("mrctl admin token issue"), "{msg}");
        let none = Credentials::from_config(&SecurityConfig::default()).expect("no token file");
        assert_eq!(none.token_text(), None);
    }
}
