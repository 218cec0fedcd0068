//! An HTTP proxy: Debian's `tinyproxy`, with optional basic authentication,
//! logging every request it forwards. It listens on 127.0.0.2, not on the
//! 127.0.0.1 of the servers behind it: libgit2 mistakes a proxy on the same
//! host as the remote for the remote itself.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::process::{Supervisor, free_port};

const TINYPROXY: &str = "/usr/bin/tinyproxy";

/// A running `tinyproxy` (plain HTTP requests and `CONNECT` tunnels).
#[derive(Debug)]
pub struct HttpProxy {
    supervisor: Supervisor,
    port: u16,
}

impl HttpProxy {
    /// Starts a proxy; with `credentials`, clients must send them
    /// (`Proxy-Authorization: Basic …`) or get 407.
    pub fn start(credentials: Option<(&str, &str)>) -> Result<Self> {
        if !Path::new(TINYPROXY).exists() {
            return Err(Error::MissingBinary {
                name: "tinyproxy (Debian tinyproxy)".to_string(),
                path: TINYPROXY.into(),
            });
        }
        let mut supervisor = Supervisor::new("http-proxy")?;
        let port = free_port()?;
        // No ConnectPort line: CONNECT is allowed to every port.
        let mut config = format!(
            "Port {port}\nListen 127.0.0.2\nTimeout 60\nLogLevel Connect\nMaxClients 50\nAllow 127.0.0.0/8\nDisableViaHeader Yes\n"
        );
        if let Some((username, password)) = credentials {
            config.push_str(&format!("BasicAuth {username} {password}\n"));
        }
        let config_path = supervisor.dir().join("tinyproxy.conf");
        fs::write(&config_path, config).map_err(io("writing tinyproxy.conf"))?;
        let mut command = std::process::Command::new(TINYPROXY);
        command.arg("-d").arg("-c").arg(&config_path);
        supervisor.spawn("tinyproxy", command)?;
        let listening = || {
            std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 2], port)),
                Duration::from_millis(200),
            )
            .is_ok()
        };
        supervisor.wait_until("tinyproxy", Duration::from_secs(20), |_| listening())?;
        Ok(Self { supervisor, port })
    }

    /// `http://127.0.0.2:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.2:{}", self.port)
    }

    /// Everything the proxy logged (one `Request` line per forwarded
    /// request, `CONNECT` for tunnels).
    pub fn log(&self) -> String {
        fs::read_to_string(self.supervisor.log_path("tinyproxy")).unwrap_or_default()
    }
}
