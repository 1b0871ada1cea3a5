//! Connection caps per daemon and per client address, and the accept loop of the
//! thread-per-connection servers (block transfer, shuffle) that enforces them.
//!
//! Every open connection costs a file descriptor (and, on the raw TCP servers, a thread), so a
//! peer that opens connections without limit could take all of them and stop the daemon
//! answering anyone. A [`ConnLimiter`] counts the open connections of one port, in total and
//! per remote IP; a connection over either cap is accepted and closed at once (the kernel's
//! backlog never fills, and the descriptor is given back immediately). The gRPC servers use the
//! same limiter through `grpc_incoming` (feature `grpc-server`).

use std::collections::HashMap;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The caps of one listening port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections of the port, from every peer together.
    pub max_total: usize,
    /// Open connections from one remote IP address.
    pub max_per_address: usize,
    /// A connection that sends no complete request for this long is closed.
    pub idle_timeout: Duration,
}

impl ConnLimits {
    /// Limits from config fields; a 0 cap is read as 1, so a typo cannot shut a port.
    pub fn new(max_total: u32, max_per_address: u32, idle_timeout_ms: u64) -> Self {
        ConnLimits {
            max_total: (max_total as usize).max(1),
            max_per_address: (max_per_address as usize).max(1),
            idle_timeout: Duration::from_millis(idle_timeout_ms.max(1)),
        }
    }
}

/// Why a connection was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{open} connections are open, the most this port serves (raise max_connections to allow more)")]
    PortFull { open: usize },
    #[error("{ip} has {open} connections open, the most one address may hold (raise max_connections_per_address to allow more)")]
    AddressFull { ip: IpAddr, open: usize },
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Counts the open connections of one port against its [`ConnLimits`].
pub struct ConnLimiter {
    /// What the port is, for log lines ("block transfer", "shuffle", "namenode rpc").
    name: &'static str,
    pub limits: ConnLimits,
    open: Mutex<Open>,
    refused: AtomicU64,
}

impl std::fmt::Debug for ConnLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnLimiter")
            .field("name", &self.name)
            .field("limits", &self.limits)
            .field("open", &self.open_total())
            .finish()
    }
}

/// One admitted connection; dropping it (when the connection ends) frees its place.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.limiter.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_address.remove(&self.ip);
            }
        }
    }
}

impl ConnLimiter {
    pub fn new(name: &'static str, limits: ConnLimits) -> Arc<Self> {
        Arc::new(ConnLimiter {
            name,
            limits,
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay consistent even if a holder panicked: every update is one statement.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `ip`, or says which cap it is over.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut open = self.lock();
        if open.total >= self.limits.max_total {
            return Err(Refusal::PortFull { open: open.total });
        }
        let mine = open.per_address.get(&ip).copied().unwrap_or(0);
        if mine >= self.limits.max_per_address {
            return Err(Refusal::AddressFull { ip, open: mine });
        }
        open.total += 1;
        *open.per_address.entry(ip).or_insert(0) += 1;
        Ok(Permit {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open_total(&self) -> usize {
        self.lock().total
    }

    /// Logs a refused connection: the first, then one line per thousand, so a flood of
    /// connections cannot flood the log too.
    pub fn log_refusal(&self, peer: &str, why: &Refusal) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(port = self.name, %peer, refused_so_far = n, "connection refused: {why}");
        } else {
            tracing::debug!(port = self.name, %peer, "connection refused: {why}");
        }
    }
}

/// Pause after a failed `accept` (out of file descriptors, most likely): retrying at once
/// would spin a core while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` forever, serving each admitted one on its own thread
/// named `thread_name` with `handle(conn, permit)`; the permit is dropped when `handle`
/// returns. A connection over the caps, or whose thread cannot start (the process is out of
/// threads, e.g. systemd's `TasksMax`), is closed at once and logged; the loop keeps serving.
pub fn serve_threads<F>(
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
    thread_name: &str,
    handle: F,
) where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let spawn_failures = AtomicU64::new(0);
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(port = limiter.name, error = %e, "accepting a connection failed");
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let peer = match conn.peer_addr() {
            Ok(p) => p,
            // Already gone: nothing to serve.
            Err(_) => continue,
        };
        let permit = match limiter.try_acquire(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                limiter.log_refusal(&peer.to_string(), &why);
                drop(conn);
                continue;
            }
        };
        let handle = handle.clone();
        // On failure the closure (and with it the connection and the permit) is dropped:
        // the peer sees the connection closed and may retry.
        let spawned = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                let _permit = permit;
                handle(conn);
            });
        if let Err(e) = spawned {
            let n = spawn_failures.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(100) {
                tracing::error!(
                    port = limiter.name,
                    %peer,
                    error = %e,
                    failures_so_far = n,
                    "cannot start a thread for a connection; closed it (is the process at its thread limit, e.g. TasksMax?)"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn caps_per_address_and_in_total_and_frees_on_drop() {
        let l = ConnLimiter::new("test", ConnLimits::new(3, 2, 1000));
        let a1 = l.try_acquire(ip("10.0.0.1")).expect("first");
        let a2 = l.try_acquire(ip("10.0.0.1")).expect("second");
        assert_eq!(
            l.try_acquire(ip("10.0.0.1"))
                .expect_err("third from one address"),
            Refusal::AddressFull {
                ip: ip("10.0.0.1"),
                open: 2
            }
        );
        let b1 = l.try_acquire(ip("10.0.0.2")).expect("another address");
        assert_eq!(
            l.try_acquire(ip("10.0.0.3")).expect_err("port full"),
            Refusal::PortFull { open: 3 }
        );
        assert_eq!(l.open_total(), 3);
        drop(a1);
        assert_eq!(l.open_total(), 2);
        let a3 = l.try_acquire(ip("10.0.0.1")).expect("a place was freed");
        drop((a2, a3, b1));
        assert_eq!(l.open_total(), 0);
        assert!(l.lock().per_address.is_empty(), "no address left behind");
    }

    #[test]
    fn zero_caps_mean_one() {
        let l = ConnLimiter::new("test", ConnLimits::new(0, 0, 0));
        let _p = l.try_acquire(ip("::1")).expect("one is always allowed");
        assert!(l.try_acquire(ip("::1")).is_err());
        assert_eq!(l.limits.idle_timeout, Duration::from_millis(1));
    }

    #[test]
    fn refusal_messages_say_what_to_raise() {
        let e = Refusal::AddressFull {
            ip: ip("10.0.0.9"),
            open: 256,
        };
        assert!(
            e.to_string().contains("10.0.0.9")
                && e.to_string().contains("max_connections_per_address")
        );
    }

    #[test]
    fn the_accept_loop_closes_connections_over_the_cap_and_keeps_serving() {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limiter = ConnLimiter::new("test", ConnLimits::new(10, 1, 60_000));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let l = limiter.clone();
        std::thread::spawn(move || {
            serve_threads(listener, l, "test-conn", move |mut c: TcpStream| {
                let _ = c.write_all(b"hi");
                // Hold the connection until the test says so.
                let _ = release_rx.lock().map(|r| r.recv());
            })
        });
        let mut first = TcpStream::connect(addr).expect("connect");
        let mut buf = [0u8; 2];
        first.read_exact(&mut buf).expect("served");
        // Same address, over its cap of one: closed without a greeting.
        let mut second = TcpStream::connect(addr).expect("connect");
        let mut rest = Vec::new();
        let n = second.read_to_end(&mut rest).unwrap_or(0);
        assert_eq!(n, 0, "a connection over the cap is closed at once");
        release_tx.send(()).expect("release");
        drop(first);
        // Once the first is gone, a new one is served.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut c = TcpStream::connect(addr).expect("connect");
            if c.read_exact(&mut buf).is_ok() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never served again");
        }
        drop(release_tx);
    }
}
