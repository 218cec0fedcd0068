//! `nats`: the event JSON published to a subject (the Provider's channel)
//! of a NATS server (the address, `nats://host:port`), with the Secret's
//! username and password, as upstream's nats.go client does: connect,
//! `PUB`, flush with `PING`, close. The NATS client protocol is a few
//! text lines; no client library is needed for one publish.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Config;
use crate::event::Event;

/// The first server of a NATS URL list: `host:port` (port 4222 by
/// default); `tls://` servers are refused (not supported yet).
fn server(address: &str) -> Result<String, String> {
    let first = address.split(',').next().unwrap_or_default().trim();
    let rest = match first.split_once("://") {
        Some(("nats", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "error connecting to server: the {scheme}:// scheme is not supported by this notification-controller"
            ));
        }
        None => first,
    };
    let host = rest
        .rsplit('@')
        .next()
        .unwrap_or(rest)
        .trim_end_matches('/');
    if host.is_empty() {
        return Err("error connecting to server: no servers available for connection".into());
    }
    Ok(
        if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_string()
        } else {
            format!("{host}:4222")
        },
    )
}

/// Checks the Provider as upstream's `NewNATS`.
pub fn check(config: &Config) -> Result<(), String> {
    if config.address.is_empty() {
        return Err("NATS server (address) cannot be empty".into());
    }
    if config.channel.is_empty() {
        return Err("NATS subject (channel) cannot be empty".into());
    }
    Ok(())
}

/// Publishes `event` (skips kustomize-controller's commit-status event).
pub async fn post(config: &Config, event: &Event) -> Result<(), String> {
    check(config)?;
    if event.is_commit_status_update() {
        return Ok(());
    }
    let subject = &config.channel;
    publish(config, subject, event.to_go_json().as_bytes())
        .await
        .map_err(|e| format!("error publishing event to subject {subject}: {e}"))
}

async fn publish(config: &Config, subject: &str, payload: &[u8]) -> Result<(), String> {
    let address = server(&config.address)?;
    let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&address))
        .await
        .map_err(|_| "error connecting to server: nats: timeout".to_string())?
        .map_err(|e| format!("error connecting to server: dial tcp {address}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    lines
        .read_line(&mut line)
        .await
        .map_err(|e| format!("error connecting to server: {e}"))?;
    if !line.starts_with("INFO ") {
        return Err(format!(
            "error connecting to server: nats: expected INFO, got {:?}",
            line.trim_end()
        ));
    }
    let mut connect = serde_json::json!({
        "verbose": false, "pedantic": false, "tls_required": false,
        "name": "NATS Provider Publisher", "lang": "rust", "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1, "echo": true, "headers": false, "no_responders": false,
    });
    if !config.username.is_empty() && !config.password.is_empty() {
        connect["user"] = serde_json::json!(config.username);
        connect["pass"] = serde_json::json!(config.password);
    }
    let mut message = format!("CONNECT {connect}\r\nPING\r\n").into_bytes();
    write
        .write_all(&message)
        .await
        .map_err(|e| format!("error connecting to server: {e}"))?;
    expect_pong(&mut lines, "error connecting to server").await?;
    message = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
    message.extend_from_slice(payload);
    message.extend_from_slice(b"\r\nPING\r\n");
    write
        .write_all(&message)
        .await
        .map_err(|e| format!("error publishing message to server: {e}"))?;
    expect_pong(&mut lines, "error publishing message to server").await?;
    let _ = write.shutdown().await;
    Ok(())
}

/// Reads until `PONG`, answering the server's `PING`s; `-ERR` fails.
async fn expect_pong<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut R,
    context: &str,
) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), lines.read_line(&mut line))
            .await
            .map_err(|_| format!("{context}: nats: timeout"))?
            .map_err(|e| format!("{context}: {e}"))?;
        if read == 0 {
            return Err(format!("{context}: nats: connection closed"));
        }
        let trimmed = line.trim_end();
        if trimmed == "PONG" {
            return Ok(());
        }
        if let Some(error) = trimmed.strip_prefix("-ERR ") {
            return Err(format!(
                "{context}: nats: {}",
                error.trim_matches('\'').to_lowercase()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_as_nats_go() {
        assert_eq!(server("nats://127.0.0.1:4223"), Ok("127.0.0.1:4223".into()));
        assert_eq!(
            server("nats://user:pw@nats.example.com"),
            Ok("nats.example.com:4222".into())
        );
        assert_eq!(server("nats://a:1,nats://b:2"), Ok("a:1".into()));
        assert!(server("tls://nats:4222").is_err());
    }
}
