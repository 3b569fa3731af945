//! Sockets beyond what std offers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// A loopback port that refuses connections for as long as this value lives: bound, never
/// listening, so nobody else can take it (unlike a port that was merely free a moment ago).
#[derive(Debug)]
pub struct ClosedPort {
    _socket: Socket,
    /// The port.
    pub port: u16,
}

impl ClosedPort {
    /// Reserve a port.
    pub fn new() -> ClosedPort {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        ClosedPort {
            _socket: socket,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Connect to `addr` and send `head` (the request line and headers, without the blank line's
/// end) followed by `body_start`: a request whose body then never comes.
pub fn stalled_request(addr: &str, head: &str, body_start: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\n\r\n{body_start}").as_bytes())
        .unwrap();
    stream
}

/// What the server sent on `stream` until it closed the connection (or the read timed out).
pub fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Close `stream` with a reset (`SO_LINGER` 0), as a client that vanishes does.
pub fn reset(stream: TcpStream) {
    let socket = Socket::from(stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
}
