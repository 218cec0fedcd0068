//! An OCI registry: the Distribution registry of Debian's `docker-registry`.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::{Result, io};
use crate::helm_repo::helm_command;
use crate::process::{Supervisor, free_port, port_open, run, tool};

/// A registry on 127.0.0.1 (plain HTTP), with filesystem storage, deletes
/// enabled and optional htpasswd (bcrypt) basic authentication.
#[derive(Debug)]
pub struct OciRegistry {
    supervisor: Supervisor,
    port: u16,
    credentials: Option<(String, String)>,
    tls: bool,
}

/// HTTPS for a registry: its serving certificate, and the CA whose client
/// certificates it demands (mutual TLS) when given.
#[derive(Clone, Debug)]
pub struct RegistryTls {
    /// The serving certificate (for `127.0.0.1`).
    pub server: crate::pki::CertifiedKey,
    /// PEM CA of the client certificates required; none: no client
    /// certificate asked.
    pub client_ca_pem: Option<String>,
}

impl OciRegistry {
    /// Starts an anonymous registry.
    pub fn start() -> Result<Self> {
        Self::start_inner(None, None)
    }

    /// Starts an anonymous registry over HTTPS (`tls.clientcas`: every
    /// client must present a certificate of that CA).
    pub fn start_with_tls(tls: &RegistryTls) -> Result<Self> {
        Self::start_inner(None, Some(tls))
    }

    /// Starts a registry that demands basic authentication.
    pub fn start_with_basic_auth(username: &str, password: &str) -> Result<Self> {
        Self::start_inner(Some((username.to_string(), password.to_string())), None)
    }

    fn start_inner(
        credentials: Option<(String, String)>,
        tls: Option<&RegistryTls>,
    ) -> Result<Self> {
        let binary = tool("docker-registry")?;
        let mut supervisor = Supervisor::new("oci-registry")?;
        let dir = supervisor.dir().to_path_buf();
        let port = free_port()?;
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some(tls) = tls {
            let write = |name: &str, text: &str| {
                let path = dir.join(name);
                fs::write(&path, text).map_err(io("writing the registry's TLS files"))?;
                Ok::<_, crate::error::Error>(path)
            };
            let cert = write("tls.crt", &tls.server.cert_pem)?;
            let key = write("tls.key", &tls.server.key_pem)?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            if let Some(ca) = &tls.client_ca_pem {
                let ca = write("client-ca.crt", ca)?;
                config.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        if let Some((username, password)) = &credentials {
            let line = run(Command::new("htpasswd").args(["-nbB", username, password]))?;
            fs::write(dir.join("htpasswd"), line.trim()).map_err(io("writing htpasswd"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: flux-testenv\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let config_path = dir.join("config.yml");
        fs::write(&config_path, config).map_err(io("writing the registry config"))?;
        let mut command = Command::new(binary);
        command.arg("serve").arg(&config_path);
        supervisor.spawn("docker-registry", command)?;
        supervisor.wait_until("docker-registry", Duration::from_secs(30), |_| {
            port_open(port)
        })?;
        Ok(Self {
            supervisor,
            port,
            credentials,
            tls: tls.is_some(),
        })
    }

    /// `127.0.0.1:PORT`, the registry host for image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` (`https://` when started with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// Pushes chart archive `archive` with the real `helm push` under
    /// `oci://HOST/<repository>`; returns the pushed reference
    /// (`HOST/<repository>/<chart>:<version>`) and its digest.
    pub fn push_helm_chart(&self, archive: &Path, repository: &str) -> Result<(String, String)> {
        let mut command = helm_command(self.supervisor.dir())?;
        command
            .arg("push")
            .arg(archive)
            .arg(format!("oci://{}/{repository}", self.host()))
            .arg("--plain-http");
        self.add_credentials(&mut command);
        // helm writes "Pushed: REF" and "Digest: sha256:…" on stderr.
        let output = command.output().map_err(io("running helm push"))?;
        let text = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(crate::Error::Command {
                command: format!("{command:?}"),
                status: output.status.to_string(),
                stderr: text,
            });
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        Ok((field("Pushed:"), field("Digest:")))
    }

    /// Pulls chart `oci://HOST/<repository>/<chart>` at `version` with the
    /// real `helm pull` into `destination`.
    pub fn pull_helm_chart(
        &self,
        repository_and_chart: &str,
        version: &str,
        destination: &Path,
        credentials: Option<(&str, &str)>,
    ) -> Result<String> {
        let mut command = helm_command(self.supervisor.dir())?;
        command
            .arg("pull")
            .arg(format!("oci://{}/{repository_and_chart}", self.host()))
            .args(["--version", version, "--plain-http", "--destination"])
            .arg(destination);
        if let Some((username, password)) = credentials {
            command.args(["--username", username, "--password", password]);
        }
        run(&mut command)
    }

    fn add_credentials(&self, command: &mut Command) {
        if let Some((username, password)) = &self.credentials {
            command.args(["--username", username, "--password", password]);
        }
    }

    /// The registry's log (access log included).
    pub fn log(&self) -> String {
        self.supervisor.log_tail("docker-registry", 1000)
    }

    /// Every HTTP request the registry served so far, as its access log
    /// has them: `GET /v2/team/app/tags/list?n=1000`, oldest first.
    pub fn requests(&self) -> Result<Vec<String>> {
        let log = fs::read_to_string(self.supervisor.log_path("docker-registry"))
            .map_err(io("reading the registry's log"))?;
        Ok(log
            .lines()
            .filter_map(|line| {
                // Combined log format: `… "GET /v2/… HTTP/1.1" 200 …`.
                let request = line.split('"').nth(1)?;
                let (method_path, protocol) = request.rsplit_once(' ')?;
                protocol
                    .starts_with("HTTP/")
                    .then(|| method_path.to_string())
            })
            .collect())
    }

    /// Gives the manifest tagged `existing` in `repository` the names
    /// `tags` as well, by writing the entries a manifest `PUT` by tag
    /// writes straight into the registry's filesystem storage — which the
    /// registry then serves as any pushed tag. For benchmarks that need
    /// hundreds of thousands of tags.
    pub fn add_tags_in_storage(
        &self,
        repository: &str,
        existing: &str,
        tags: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        let manifests = self
            .supervisor
            .dir()
            .join("data/docker/registry/v2/repositories")
            .join(repository)
            .join("_manifests/tags");
        let source = manifests.join(existing);
        let link = fs::read_to_string(source.join("current/link"))
            .map_err(io(format!("reading the tag {repository}:{existing}")))?;
        let hex = link.trim().trim_start_matches("sha256:").to_string();
        for tag in tags {
            let dir = manifests.join(&tag);
            let index = dir.join("index/sha256").join(&hex);
            fs::create_dir_all(&index).map_err(io(format!("writing the tag {tag}")))?;
            fs::create_dir_all(dir.join("current"))
                .map_err(io(format!("writing the tag {tag}")))?;
            fs::write(index.join("link"), &link).map_err(io(format!("writing the tag {tag}")))?;
            fs::write(dir.join("current/link"), &link)
                .map_err(io(format!("writing the tag {tag}")))?;
        }
        Ok(())
    }
}
