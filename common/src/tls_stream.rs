//! A blocking TLS stream over a `TcpStream` that, like the socket, can be cloned so that one
//! thread reads while another writes (a write pipeline sends packets on one thread and reads
//! acks on another). rustls's `StreamOwned` cannot be shared that way.
//!
//! The socket is read and written outside the connection's lock: a reader blocked in `read`
//! on the socket holds only the read side's lock, so a writer can still encrypt and send.
//! The handshake is done, on one thread, when the stream is made; the socket's timeouts
//! (set by the caller before) bound it.

use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes read from the socket at once: whole TLS records (16 KiB each) several at a time.
const READ_CHUNK: usize = 256 << 10;

struct State {
    conn: rustls::Connection,
    /// Ciphertext read from the socket, fed to rustls from `pos` on.
    cipher: Vec<u8>,
    pos: usize,
    eof: bool,
}

struct Shared {
    sock: TcpStream,
    state: Mutex<State>,
    /// Held by the one reader at a time; its buffer is the next socket read's.
    reading: Mutex<Vec<u8>>,
    /// Held by the one writer at a time; its buffer is the ciphertext being sent.
    writing: Mutex<Vec<u8>>,
}

/// A TLS connection; clones share it (one reader and one writer at a time).
#[derive(Clone)]
pub struct TlsStream {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.shared.sock.peer_addr().ok())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder leaves nothing half-done that matters here: the connection fails on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl TlsStream {
    /// Dials TLS over `sock` to `host` (a DNS name or an IP address its certificate names).
    pub fn client(
        sock: TcpStream,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host}: not a host name for TLS: {e}"),
            )
        })?;
        let conn = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
        Self::handshake(sock, conn.into())
    }

    /// Accepts TLS over `sock`.
    pub fn server(sock: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<TlsStream> {
        let conn = rustls::ServerConnection::new(config).map_err(tls_error)?;
        Self::handshake(sock, conn.into())
    }

    fn handshake(mut sock: TcpStream, mut conn: rustls::Connection) -> io::Result<TlsStream> {
        // Whole packets are encrypted at once (no 64 KiB cap on what one write takes).
        conn.set_buffer_limit(None);
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        Ok(TlsStream {
            shared: Arc::new(Shared {
                sock,
                state: Mutex::new(State {
                    conn,
                    cipher: Vec::new(),
                    pos: 0,
                    eof: false,
                }),
                reading: Mutex::new(Vec::new()),
                writing: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The socket under the stream (timeouts, addresses, shutdown).
    pub fn socket(&self) -> &TcpStream {
        &self.shared.sock
    }

    /// Sends what rustls has queued (an alert, a key update's answer).
    fn send_queued(&self) -> io::Result<()> {
        let mut out = lock(&self.shared.writing);
        out.clear();
        {
            let mut st = lock(&self.shared.state);
            while st.conn.wants_write() {
                st.conn.write_tls(&mut *out)?;
            }
        }
        (&self.shared.sock).write_all(&out)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut next = lock(&self.shared.reading);
        loop {
            let mut queued = false;
            {
                let mut st = lock(&self.shared.state);
                loop {
                    match st.conn.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if st.eof && e.kind() == io::ErrorKind::UnexpectedEof => {
                            return Ok(0)
                        }
                        Err(e) => return Err(e),
                    }
                    if st.eof {
                        return Ok(0);
                    }
                    if st.pos >= st.cipher.len() {
                        break;
                    }
                    let State {
                        conn, cipher, pos, ..
                    } = &mut *st;
                    let n = conn.read_tls(&mut &cipher[*pos..])?;
                    *pos += n;
                    let processed = conn.process_new_packets();
                    queued |= conn.wants_write();
                    if let Err(e) = processed {
                        drop(st);
                        // The alert telling the peer why; the error is ours to return.
                        let _ = self.send_queued();
                        return Err(tls_error(e));
                    }
                }
            }
            if queued {
                self.send_queued()?;
            }
            // Everything read so far is consumed: read more, outside the connection's lock.
            next.resize(READ_CHUNK, 0);
            let n = (&self.shared.sock).read(&mut next)?;
            next.truncate(n);
            let mut st = lock(&self.shared.state);
            if n == 0 {
                // Tells rustls the peer closed, so an unclean end is an error, not data.
                st.conn.read_tls(&mut &[][..])?;
                st.eof = true;
                if let Err(e) = st.conn.process_new_packets() {
                    return Err(tls_error(e));
                }
                // A peer that closes without close_notify ends the stream as on plain TCP:
                // every protocol on it is framed, so a cut frame is still an error there.
                match st.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                        ) =>
                    {
                        return Ok(0)
                    }
                    Err(e) => return Err(e),
                }
            }
            std::mem::swap(&mut st.cipher, &mut *next);
            st.pos = 0;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = lock(&self.shared.writing);
        out.clear();
        let n = {
            let mut st = lock(&self.shared.state);
            let n = st.conn.writer().write(buf)?;
            while st.conn.wants_write() {
                st.conn.write_tls(&mut *out)?;
            }
            n
        };
        (&self.shared.sock).write_all(&out)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = crate::tls_certs::ensure_ca(dir.path()).expect("ca");
        let (cert, key) = ca
            .issue(dir.path(), "host", &["127.0.0.1".into()])
            .expect("issue");
        let sec = crate::config::SecurityConfig {
            tls_cert: cert,
            tls_key: key,
            tls_ca: ca.cert_path.clone(),
            ..Default::default()
        };
        let s = crate::tls::server_config(&sec)
            .expect("server")
            .expect("tls on");
        let c = crate::tls::client_config(&sec)
            .expect("client")
            .expect("tls on");
        (s, c)
    }

    /// One thread writes while another reads on clones of the same stream, both ways, and
    /// every byte arrives in order.
    #[test]
    fn clones_read_and_write_at_once() {
        let (server_cfg, client_cfg) = configs();
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let mut t = TlsStream::server(s, server_cfg).expect("handshake");
            // Echo everything back in large writes.
            let mut buf = vec![0u8; 100_000];
            let mut total = 0;
            loop {
                let n = t.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                t.write_all(&buf[..n]).expect("echo");
                total += n;
            }
            total
        });
        let sock = TcpStream::connect(addr).expect("connect");
        let t = TlsStream::client(sock, client_cfg, "127.0.0.1").expect("handshake");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = t.clone();
        let expect = data.clone();
        let echo = std::thread::spawn(move || {
            let mut got = vec![0u8; expect.len()];
            reader.read_exact(&mut got).expect("echoed");
            got == expect
        });
        let mut w = t.clone();
        for chunk in data.chunks(512 << 10) {
            w.write_all(chunk).expect("write");
        }
        assert!(echo.join().expect("reader"));
        t.socket()
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        assert_eq!(server.join().expect("server"), data.len());
    }

    /// A client that does not trust the server's CA fails the handshake, naming the cause.
    #[test]
    fn an_untrusted_server_is_refused() {
        let (server_cfg, _) = configs();
        let (_, other_client) = configs();
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let _ = TlsStream::server(s, server_cfg);
        });
        let sock = TcpStream::connect(addr).expect("connect");
        let err = TlsStream::client(sock, other_client, "127.0.0.1").expect_err("untrusted");
        let msg = crate::tls::explain(&err.to_string(), None);
        assert!(msg.contains("not trusted"), "{msg}");
        assert!(msg.contains("tls_ca"), "{msg}");
    }
}
