//! A Cloud Storage JSON API for Bucket sources with `provider: gcp`:
//! fake-gcs-server (the emulator Google's client libraries are tested
//! against, built from the Go module proxy by `scripts/install-deps.sh`)
//! with its filesystem backend. Buckets and objects are written through
//! its API with curl, so it computes ETags and generations as for any
//! client.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::process::{Supervisor, free_port, port_open, run, tool};

/// A running fake-gcs-server on `http://127.0.0.1:PORT`.
#[derive(Debug)]
pub struct GcsServer {
    supervisor: Supervisor,
    port: u16,
}

impl GcsServer {
    /// Starts an empty server (plain HTTP).
    pub fn start() -> Result<Self> {
        let binary = tool("fake-gcs-server")?;
        let mut supervisor = Supervisor::new("gcs")?;
        let root = supervisor.dir().join("storage");
        fs::create_dir_all(&root).map_err(io("creating the GCS storage folder"))?;
        let port = free_port()?;
        let mut command = Command::new(binary);
        command
            .args(["-scheme", "http", "-host", "127.0.0.1"])
            .args(["-port", &port.to_string()])
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .args(["-backend", "filesystem", "-filesystem-root"])
            .arg(&root);
        supervisor.spawn("fake-gcs-server", command)?;
        supervisor.wait_until("fake-gcs-server", Duration::from_secs(30), |_| {
            port_open(port)
        })?;
        Ok(Self { supervisor, port })
    }

    /// `http://127.0.0.1:PORT`: a Bucket's `spec.endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates bucket `name`.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        let body = serde_json::json!({"name": name}).to_string();
        self.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &format!("{}/storage/v1/b", self.endpoint()),
        ])
        .map(|_| ())
    }

    /// Writes object `name` of `bucket`.
    pub fn put(&self, bucket: &str, name: &str, content: &[u8]) -> Result<()> {
        let file = self.supervisor.dir().join("upload");
        fs::write(&file, content).map_err(io("writing the object to upload"))?;
        let url = format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
            self.endpoint(),
            encode(name)
        );
        self.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ])
        .map(|_| ())
    }

    /// The ETag the server reports for object `name`.
    pub fn etag(&self, bucket: &str, name: &str) -> Result<String> {
        let url = format!(
            "{}/storage/v1/b/{bucket}/o/{}",
            self.endpoint(),
            encode(name)
        );
        let text = self.curl(&[&url])?;
        let meta: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Parse {
            what: format!("metadata of {name}"),
            reason: e.to_string(),
        })?;
        meta["etag"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Parse {
                what: format!("metadata of {name}"),
                reason: "no etag".to_string(),
            })
    }

    fn curl(&self, args: &[&str]) -> Result<String> {
        run(Command::new("curl")
            .args(["-sS", "--fail-with-body"])
            .args(args))
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
