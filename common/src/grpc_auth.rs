//! Authentication of the daemons' gRPC services: a tonic interceptor that verifies the token of
//! every call and records who made it ([`Identity`]) in the request, where handlers read it with
//! [`caller`]. A refused call is counted (by reason) and logged with the peer's address, at most
//! one line a second per service (with the number of refusals left out), so a flood of garbage
//! cannot flood the log.

use crate::auth::{now_ms, ClusterSecret, Identity, Verifier, AUTHORIZATION, CLAIMED_USER};
use crate::config::SecurityConfig;
use proto::Reason;
use std::sync::{Arc, Mutex};
use tonic::{Request, Status};

/// The interceptor of one service. Insecure mode believes the user the client claims, as
/// Hadoop's "simple" authentication does.
#[derive(Clone, Debug)]
pub struct Authenticator {
    verifier: Option<Arc<Verifier>>,
    /// The daemon and service, for log lines.
    service: &'static str,
    /// The daemon role a caller must be (ports daemons talk to each other on); none: anyone.
    services_only: Option<&'static str>,
    log: Arc<Mutex<LogLimit>>,
}

impl Authenticator {
    /// Checks tokens with `verifier`; `None` is insecure mode.
    pub fn new(verifier: Option<Arc<Verifier>>, service: &'static str) -> Authenticator {
        Authenticator {
            verifier,
            service,
            services_only: None,
            log: Arc::default(),
        }
    }

    /// Admits cluster daemons only (service tokens): a user's token gets
    /// `Reason::PermissionDenied` naming `role`. Nothing changes in insecure mode.
    pub fn services_only(mut self, role: &'static str) -> Authenticator {
        self.services_only = Some(role);
        self
    }
}

/// The daemon's token verifier from its `[security]` section: `None` in insecure mode, else one
/// over the cluster secret (refused when its group or others may read it).
pub fn load_verifier(security: &SecurityConfig) -> crate::Result<Option<Arc<Verifier>>> {
    if security.insecure {
        return Ok(None);
    }
    let secret = ClusterSecret::load(&security.secret_file)?;
    Ok(Some(Arc::new(Verifier::new(secret))))
}

/// Refuses a caller that is not a cluster daemon: the ports daemons talk to each other on take
/// service tokens only.
pub fn require_service(id: &Identity, needed: &str) -> Result<(), Status> {
    if id.service {
        Ok(())
    } else {
        Err(Reason::PermissionDenied.status(format!(
            "{id} may not call this: it takes the service identity of a {needed} (a token \
             minted from the cluster secret), not a user's token"
        )))
    }
}

/// Logs at most one refusal a second; counts the ones it leaves out.
#[derive(Debug, Default)]
struct LogLimit {
    last_ms: u64,
    suppressed: u64,
}

impl LogLimit {
    /// Whether to log now, and how many refusals went unlogged before this one.
    fn admit(&mut self, now_ms: u64) -> Option<u64> {
        if self.last_ms != 0 && now_ms.saturating_sub(self.last_ms) < 1_000 {
            self.suppressed += 1;
            return None;
        }
        self.last_ms = now_ms;
        Some(std::mem::take(&mut self.suppressed))
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let identity = match &self.verifier {
            None => {
                let user = req
                    .metadata()
                    .get(CLAIMED_USER)
                    .and_then(|v| v.to_str().ok())
                    .filter(|u| !u.is_empty())
                    .unwrap_or("nobody");
                Identity::user(user, Vec::new())
            }
            Some(v) => {
                let token = req
                    .metadata()
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.strip_prefix("Bearer ").unwrap_or(s));
                match v.identity(token, now_ms()) {
                    Ok(id) => {
                        if let Some(role) = self.services_only {
                            require_service(&id, role)?;
                        }
                        id
                    }
                    Err(e) => {
                        let admitted = self
                            .log
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .admit(now_ms());
                        if let Some(suppressed) = admitted {
                            let peer = req
                                .remote_addr()
                                .map(|a| a.to_string())
                                .unwrap_or_else(|| "unknown".into());
                            tracing::warn!(
                                service = self.service,
                                peer = %peer,
                                reason = e.reason(),
                                suppressed,
                                "refused a call: {e} ({suppressed} more refusals not logged \
                                 since the last line)"
                            );
                        }
                        return Err(
                            Reason::Unauthenticated.status(format!("{}: {e}", self.service))
                        );
                    }
                }
            }
        };
        req.extensions_mut().insert(identity);
        Ok(req)
    }
}

/// Who made `req`, as the service's [`Authenticator`] verified it.
pub fn caller<T>(req: &Request<T>) -> Result<Identity, Status> {
    req.extensions().get::<Identity>().cloned().ok_or_else(|| {
        Reason::Internal
            .status("no verified identity on the call: its service has no authenticator (a bug)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Grant, TokenBody};
    use tonic::service::Interceptor;

    #[test]
    fn the_log_admits_one_line_a_second_and_counts_the_rest() {
        let mut l = LogLimit::default();
        assert_eq!(l.admit(10_000), Some(0));
        assert_eq!(l.admit(10_100), None);
        assert_eq!(l.admit(10_999), None);
        assert_eq!(l.admit(11_000), Some(2));
        assert_eq!(l.admit(11_001), None);
        assert_eq!(l.admit(20_000), Some(1));
    }

    #[test]
    fn refusals_are_unauthenticated_and_counted_and_good_tokens_pass() {
        let secret = ClusterSecret::from_keys(vec![(1, [2; 32])]);
        let v = Arc::new(Verifier::new(secret.clone()));
        let mut a = Authenticator::new(Some(v.clone()), "test");
        for _ in 0..5 {
            let mut req = Request::new(());
            req.metadata_mut()
                .insert(AUTHORIZATION, "Bearer garbage".parse().expect("ascii"));
            let e = a.call(req).expect_err("garbage");
            assert_eq!(Reason::of(&e), Reason::Unauthenticated);
            assert!(e.message().contains("malformed token"), "{}", e.message());
        }
        assert!(v.refusals.snapshot().contains(&("malformed", 5)));
        let t = TokenBody::new(
            &secret,
            Grant::Service {
                role: "datanode".into(),
            },
            now_ms(),
            60_000,
        )
        .and_then(|b| b.sign(&secret))
        .expect("token");
        let mut req = Request::new(());
        req.metadata_mut()
            .insert(AUTHORIZATION, format!("Bearer {t}").parse().expect("ascii"));
        let req = a.call(req).expect("valid");
        let id = caller(&req).expect("identity");
        let user = TokenBody::new(
            &secret,
            Grant::User {
                user: "bob".into(),
                groups: vec![],
            },
            now_ms(),
            60_000,
        )
        .and_then(|b| b.sign(&secret))
        .expect("token");
        let mut only = Authenticator::new(Some(v.clone()), "test").services_only("datanode");
        let mut bob = Request::new(());
        bob.metadata_mut().insert(
            AUTHORIZATION,
            format!("Bearer {user}").parse().expect("ascii"),
        );
        let e = only.call(bob).expect_err("a user on a service port");
        assert_eq!(Reason::of(&e), Reason::PermissionDenied);
        assert!(
            e.message().contains("bob") && e.message().contains("datanode"),
            "{}",
            e.message()
        );
        assert!(id.service);
        assert!(require_service(&id, "datanode").is_ok());
        let e = require_service(&Identity::user("bob", vec![]), "datanode").expect_err("user");
        assert_eq!(Reason::of(&e), Reason::PermissionDenied);
        assert!(e.message().contains("datanode"), "{}", e.message());
    }
}
