//! `xwms-starter healthcheck`: asks the running app's `/health` and exits 0 on a 200.
//!
//! The container image is distroless (no shell, no curl), so the binary checks itself;
//! `docker-compose.yml` and the Dockerfile's HEALTHCHECK run this. Plain std, blocking,
//! and outside any server: it is a separate, short-lived process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// GET `/health` on 127.0.0.1:`port`; `Ok(())` when it answers 200.
pub fn probe(port: u16) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|err| err.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|err| format!("sending the request: {err}"))?;
    let mut head = [0u8; 64];
    let read = stream
        .read(&mut head)
        .map_err(|err| format!("reading the answer: {err}"))?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!(
            "unhealthy: {}",
            status_line.lines().next().unwrap_or("no answer")
        ))
    }
}

/// The port the app listens on, as `Settings` would read it (`PORT`, default 3000).
pub fn configured_port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or(3000)
}
