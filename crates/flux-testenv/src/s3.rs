//! A real S3-compatible server for Bucket sources: versitygw (Apache-2.0,
//! built from the Go module proxy by `scripts/install-deps.sh`) with its
//! posix backend — every bucket a folder, every object a file. Objects are
//! written through the S3 API with curl's SigV4 signing (`--aws-sigv4`), so
//! the server computes their ETags as it does for any client.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::process::{Supervisor, free_port, port_open, tool};

/// A running versitygw serving `http://127.0.0.1:PORT` with one account.
pub struct S3Server {
    supervisor: Supervisor,
    port: u16,
    access_key: String,
    secret_key: String,
    region: String,
}

impl S3Server {
    /// Starts a server whose root account has the given keys, in region
    /// `us-east-1`.
    pub fn start(access_key: &str, secret_key: &str) -> Result<Self> {
        Self::start_in_region(access_key, secret_key, "us-east-1")
    }

    /// Starts a server in `region` (requests signed for another region are
    /// refused, as by AWS).
    pub fn start_in_region(access_key: &str, secret_key: &str, region: &str) -> Result<Self> {
        let binary = tool("versitygw")?;
        let mut supervisor = Supervisor::new("s3")?;
        let root = supervisor.dir().join("data");
        fs::create_dir_all(&root).map_err(io("creating the S3 data folder"))?;
        let port = free_port()?;
        let mut command = Command::new(binary);
        command
            .env("ROOT_ACCESS_KEY", access_key)
            .env("ROOT_SECRET_KEY", secret_key)
            .args(["--port", &format!("127.0.0.1:{port}"), "--region", region])
            .args(["--access-log", "stdout", "posix"])
            // Metadata (ETags) in a sidecar folder: no need for user xattrs
            // on the test machine's file system.
            .arg("--sidecar")
            .arg(supervisor.dir().join("meta"))
            .arg(&root);
        fs::create_dir_all(supervisor.dir().join("meta"))
            .map_err(io("creating the S3 metadata folder"))?;
        supervisor.spawn("versitygw", command)?;
        supervisor.wait_until("versitygw", Duration::from_secs(30), |_| port_open(port))?;
        Ok(Self {
            supervisor,
            port,
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            region: region.to_string(),
        })
    }

    /// `127.0.0.1:PORT`: a Bucket's `spec.endpoint` (with `insecure: true`).
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The account's access key.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The account's secret key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The server's region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Creates bucket `name`.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        self.request("PUT", name, None)
    }

    /// Writes object `key` of `bucket`.
    pub fn put(&self, bucket: &str, key: &str, content: &[u8]) -> Result<()> {
        let file = self.supervisor.dir().join("upload");
        fs::write(&file, content).map_err(io("writing the object to upload"))?;
        self.request("PUT", &format!("{bucket}/{key}"), Some(&file))
    }

    /// Deletes object `key` of `bucket`.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.request("DELETE", &format!("{bucket}/{key}"), None)
    }

    /// The ETag the server reports for `key` (without quotes).
    pub fn etag(&self, bucket: &str, key: &str) -> Result<String> {
        let output = self.curl("HEAD", &format!("{bucket}/{key}"), None, &["-I"])?;
        output
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("etag")
                    .then(|| value.trim().trim_matches('"').to_string())
            })
            .ok_or_else(|| Error::Command {
                command: format!("HEAD {bucket}/{key}"),
                status: "no ETag".to_string(),
                stderr: output.clone(),
            })
    }

    fn request(&self, method: &str, path: &str, upload: Option<&Path>) -> Result<()> {
        self.curl(method, path, upload, &[]).map(|_| ())
    }

    fn curl(
        &self,
        method: &str,
        path: &str,
        upload: Option<&Path>,
        extra: &[&str],
    ) -> Result<String> {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--fail-with-body", "--path-as-is"])
            .args(["--aws-sigv4", &format!("aws:amz:{}:s3", self.region)])
            .args([
                "--user",
                &format!("{}:{}", self.access_key, self.secret_key),
            ])
            // Signed with the payload unsigned: curl (7.88) does not send the
            // payload hash header S3 requires.
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args(extra);
        if method != "HEAD" {
            command.args(["-X", method]);
        }
        if let Some(file) = upload {
            command.arg("-T").arg(file);
        }
        command.arg(format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            encode_path(path)
        ));
        crate::process::run(&mut command)
    }

    /// Stops the server (`SIGSTOP`): connections are accepted, never
    /// answered.
    pub fn hang(&self) -> Result<()> {
        self.supervisor.signal("versitygw", "STOP")
    }

    /// Lets a server stopped by [`S3Server::hang`] run again.
    pub fn resume(&self) -> Result<()> {
        self.supervisor.signal("versitygw", "CONT")
    }

    /// The server's access log.
    pub fn log(&self) -> String {
        self.supervisor.log_tail("versitygw", 1000)
    }
}

/// S3's encoding of a path: every byte but `A-Za-z0-9-._~/` as `%XX`
/// (what the server re-encodes when it checks the signature).
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
