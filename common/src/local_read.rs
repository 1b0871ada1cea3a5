//! Short-circuit local reads, as HDFS's domain-socket reads: a client on a datanode's machine
//! asks the datanode over a Unix socket (in the abstract namespace, named after the datanode's
//! data address, so it needs no folder and is seen only in the datanode's network namespace) for
//! a replica, and receives the open data and checksum files as file descriptors. The datanode's
//! folders stay private to it: a client reads only the replicas the datanode hands it, after the
//! same checks as a read over the network.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

/// The abstract socket name of the datanode serving `data_addr`.
fn address(data_addr: &str) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(format!("mr-datanode-local-read/{data_addr}"))
}

/// The datanode's listener.
pub fn bind(data_addr: &str) -> io::Result<UnixListener> {
    UnixListener::bind_addr(&address(data_addr)?)
}

/// A client's connection to the datanode of `data_addr` on this machine.
pub fn connect(data_addr: &str) -> io::Result<UnixStream> {
    UnixStream::connect_addr(&address(data_addr)?)
}

/// Sends `files` as one byte carrying their descriptors.
pub fn send_files(stream: &UnixStream, files: &[&File]) -> io::Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("too many descriptors for one message"));
    }
    sendmsg(
        stream,
        &[io::IoSlice::new(&[1])],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Receives the byte `send_files` sent and the descriptors it carries (at most two).
pub fn recv_files(stream: &UnixStream) -> io::Result<Vec<OwnedFd>> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let got = recvmsg(
        stream,
        &mut [io::IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if got.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the datanode closed the local read socket before sending the files",
        ));
    }
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = msg {
            fds.extend(received);
        }
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};

    #[test]
    fn files_cross_the_socket_as_descriptors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"replica bytes").expect("write");
        let addr = format!("test-{}:1", std::process::id());
        let listener = bind(&addr).expect("bind");
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            let f = File::open(&path).expect("open");
            (&s).write_all(b"hdr").expect("header");
            send_files(&s, &[&f, &f]).expect("send");
        });
        let mut c = connect(&addr).expect("connect");
        let mut hdr = [0u8; 3];
        c.read_exact(&mut hdr).expect("header");
        let fds = recv_files(&c).expect("recv");
        server.join().expect("server");
        assert_eq!(fds.len(), 2);
        let mut f = File::from(fds.into_iter().next().expect("fd"));
        f.rewind().expect("rewind");
        let mut text = String::new();
        f.read_to_string(&mut text).expect("read");
        assert_eq!(text, "replica bytes");
    }
}
