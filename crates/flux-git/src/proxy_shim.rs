//! A loopback relay in front of an authenticating HTTP proxy.
//!
//! libgit2 (1.9) answers a proxy's `407` by reconnecting with credentials,
//! but then reads the tunnelled TLS stream as an HTTP response ("http parser
//! error: Expected HTTP/"). The relay sends the credentials with the first
//! `CONNECT` instead, so libgit2 never sees a `407`: it listens on
//! 127.0.0.1, adds `Proxy-Authorization: Basic …` to each request head,
//! forwards it to the real proxy and then copies bytes both ways. It lives
//! as long as the Git operation that uses it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;

use crate::error::{Error, Result};

/// Longest request head accepted from libgit2.
const MAX_HEAD: usize = 16 << 10;

/// A running relay; stops accepting when dropped.
pub(crate) struct ProxyRelay {
    address: String,
    stop: Arc<AtomicBool>,
}

impl ProxyRelay {
    /// Starts a relay to the proxy at `upstream` (`host:port`) that
    /// authenticates as `username`/`password`.
    pub(crate) fn start(upstream: &str, username: &str, password: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(relay_error)?;
        let address = listener.local_addr().map_err(relay_error)?.to_string();
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let header = Arc::new(format!("Proxy-Authorization: Basic {token}\r\n"));
        let upstream = Arc::new(upstream.to_string());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (header, upstream) = (header.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, &upstream, &header);
                });
            }
        });
        Ok(Self { address, stop })
    }

    /// `http://127.0.0.1:PORT`, the proxy URL to give libgit2.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for ProxyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(
            &self.address.parse().unwrap_or(([127, 0, 0, 1], 0).into()),
            Duration::from_millis(200),
        );
    }
}

fn relay_error(e: std::io::Error) -> Error {
    Error::InvalidAuth(format!("proxy relay: {e}"))
}

/// Reads one request head from `client`, adds the credentials, sends it to
/// `upstream`, then copies bytes both ways until either side closes.
fn relay(mut client: TcpStream, upstream: &str, header: &str) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    client.set_read_timeout(None)?;
    let mut server = TcpStream::connect(upstream)?;
    // Before the blank line: the request line and libgit2's headers, minus
    // any credentials of its own.
    let text = String::from_utf8_lossy(&head[..head.len() - 2]);
    let mut forwarded = String::with_capacity(text.len() + header.len() + 2);
    for line in text.split_inclusive("\r\n") {
        if !line
            .to_ascii_lowercase()
            .starts_with("proxy-authorization:")
        {
            forwarded.push_str(line);
        }
    }
    forwarded.push_str(header);
    forwarded.push_str("\r\n");
    server.write_all(forwarded.as_bytes())?;
    let (mut client_read, mut server_write) = (client.try_clone()?, server.try_clone()?);
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upload.join();
    Ok(())
}
