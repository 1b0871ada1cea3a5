//! The connections a tonic server accepts, under a [`ConnLimiter`]: over a cap a connection is
//! closed at once, and one that sends nothing for the idle timeout is closed.
//!
//! Used with `Server::serve_with_incoming`; [`server_builder`] sets the HTTP/2 keepalive that
//! goes with it, so a live client (which answers the server's pings) keeps its connection while
//! a silent socket is dropped.

use crate::conn_limit::{ConnLimiter, Permit};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Pause after a failed `accept` (out of file descriptors, most likely).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A tonic server builder whose HTTP/2 pings keep live clients' connections busy well within
/// `idle_timeout` (pinging every third of it), and drop a peer that stops answering them.
/// Unless `security` is insecure, connections are TLS (`tls_cert`, `tls_key`), and a handshake
/// must finish within `idle_timeout` too: the caps and the timeout hold before it as after.
pub fn server_builder(
    idle_timeout: Duration,
    security: &crate::config::SecurityConfig,
) -> crate::Result<tonic::transport::Server> {
    let ping = (idle_timeout / 3).max(Duration::from_millis(500));
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(ping))
        .http2_keepalive_timeout(Some(ping));
    if let Some(tls) = crate::grpc_tls::server_tls(security, idle_timeout)? {
        builder = builder
            .tls_config(tls)
            .map_err(|e| crate::Error::Internal(format!("TLS: {e}")))?;
    }
    Ok(builder)
}

/// The accepted connections of a gRPC port, as a stream for `serve_with_incoming`.
pub struct LimitedIncoming {
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
    backoff: Option<Pin<Box<Sleep>>>,
}

impl LimitedIncoming {
    pub async fn bind(addr: SocketAddr, limiter: Arc<ConnLimiter>) -> io::Result<Self> {
        Ok(LimitedIncoming {
            listener: TcpListener::bind(addr).await?,
            limiter,
            backoff: None,
        })
    }
}

impl tokio_stream::Stream for LimitedIncoming {
    type Item = io::Result<LimitedConn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(b) = this.backoff.as_mut() {
                ready!(b.as_mut().poll(cx));
                this.backoff = None;
            }
            match ready!(this.listener.poll_accept(cx)) {
                Ok((stream, peer)) => match this.limiter.try_acquire(peer.ip()) {
                    Ok(permit) => {
                        let _ = stream.set_nodelay(true);
                        let idle = this.limiter.limits.idle_timeout;
                        return Poll::Ready(Some(Ok(LimitedConn {
                            inner: stream,
                            _permit: permit,
                            idle,
                            deadline: Box::pin(tokio::time::sleep(idle)),
                        })));
                    }
                    Err(why) => {
                        this.limiter.log_refusal(&peer.to_string(), &why);
                        drop(stream);
                    }
                },
                Err(e) => {
                    // Never an error to tonic (it would only retry at once): wait and go on.
                    tracing::warn!(error = %e, "accepting a gRPC connection failed");
                    this.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
                }
            }
        }
    }
}

/// An admitted connection: its place under the caps is freed when it is dropped, and it fails
/// with `TimedOut` once the peer has sent nothing for the idle timeout.
pub struct LimitedConn {
    inner: TcpStream,
    _permit: Permit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl AsyncRead for LimitedConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + this.idle;
                    this.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the peer sent nothing for {:?}", this.idle),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for LimitedConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Connected for LimitedConn {
    type ConnectInfo = TcpConnectInfo;

    /// The socket's own addresses, so handlers still see who called (`remote_addr`).
    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}
