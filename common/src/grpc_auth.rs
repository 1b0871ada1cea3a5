//! Authentication of the daemons' gRPC services: a tonic interceptor that verifies the token of
//! every call and records who made it ([`Identity`]) in the request, where handlers read it with
//! [`caller`]. A refused call is counted (by reason) and logged with the peer's address.

use crate::auth::{now_ms, Identity, Verifier, AUTHORIZATION, CLAIMED_USER};
use proto::Reason;
use std::sync::Arc;
use tonic::{Request, Status};

/// The interceptor of one service. Insecure mode believes the user the client claims, as
/// Hadoop's "simple" authentication does.
#[derive(Clone, Debug)]
pub struct Authenticator {
    verifier: Option<Arc<Verifier>>,
    /// The daemon and service, for log lines.
    service: &'static str,
}

impl Authenticator {
    /// Checks tokens with `verifier`; `None` is insecure mode.
    pub fn new(verifier: Option<Arc<Verifier>>, service: &'static str) -> Authenticator {
        Authenticator { verifier, service }
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
                    Ok(id) => id,
                    Err(e) => {
                        let peer = req
                            .remote_addr()
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "unknown".into());
                        tracing::warn!(
                            service = self.service,
                            peer = %peer,
                            reason = e.reason(),
                            "refused a call: {e}"
                        );
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
