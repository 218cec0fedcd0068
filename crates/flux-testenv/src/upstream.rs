//! Upstream's controllers (built from the Go module proxy by the install
//! scripts) run out of cluster beside ours, for side-by-side tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::control_plane::ControlPlane;
use crate::error::{Result, io};
use crate::process::{free_port, tool};

/// An upstream controller watching one namespace of a control plane; it
/// is killed when dropped, however the test ends.
#[derive(Debug)]
pub struct UpstreamController(Child);

impl UpstreamController {
    /// Starts `name` (a tool the install scripts link, such as
    /// `image-reflector-controller-upstream`) on `cp`, watching only
    /// `namespace`, without leader election, logging at debug level to the
    /// file `log`, with `extra` arguments.
    pub fn start(
        cp: &ControlPlane,
        name: &str,
        namespace: &str,
        log: &Path,
        extra: &[String],
    ) -> Result<Self> {
        let binary = tool(name)?;
        let log = std::fs::File::create(log).map_err(io(format!("creating the log of {name}")))?;
        let stderr = log
            .try_clone()
            .map_err(io(format!("creating the log of {name}")))?;
        let child = Command::new(binary)
            .env("KUBECONFIG", cp.kubeconfig_path())
            .env("RUNTIME_NAMESPACE", namespace)
            .args([
                "--watch-all-namespaces=false",
                "--enable-leader-election=false",
                "--log-level=debug",
            ])
            .args(extra)
            .arg(format!("--metrics-addr=127.0.0.1:{}", free_port()?))
            .arg(format!("--health-addr=127.0.0.1:{}", free_port()?))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(io(format!("starting {name}")))?;
        Ok(Self(child))
    }
}

impl Drop for UpstreamController {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
