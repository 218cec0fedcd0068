//! A static Helm chart repository (`index.yaml` + chart archives) over HTTP,
//! and the real `helm` CLI to package charts for it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, io};
use crate::git::{HttpAuth, start_http_front};
use crate::pki::CertifiedKey;
use crate::process::{Supervisor, run, tool};

/// The installed `helm` (v3) with its home, cache, config and registry
/// login file all inside `home`, so tests never touch the user's Helm setup.
pub fn helm_command(home: &Path) -> Result<Command> {
    let mut command = Command::new(tool("helm")?);
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .env("HELM_REPOSITORY_CONFIG", home.join("repositories.yaml"))
        .env("HELM_REPOSITORY_CACHE", home.join("repository"));
    Ok(command)
}

/// Copies the chart folder `src` into `dir` as `<name>-<version>` with its
/// `version` (and `appVersion`, when it has one) set to `version`: one
/// example chart served at several versions.
pub fn chart_at_version(src: &Path, dir: &Path, version: &str) -> Result<PathBuf> {
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = dir.join(format!("{name}-{version}"));
    for (path, data) in crate::files_under(src)? {
        let target = to.join(&path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io("copying a chart"))?;
        }
        let data = if path == "Chart.yaml" {
            String::from_utf8_lossy(&data)
                .lines()
                .map(|l| {
                    if l.starts_with("version:") {
                        format!("version: {version}\n")
                    } else if l.starts_with("appVersion:") {
                        format!("appVersion: {version}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect::<String>()
                .into_bytes()
        } else {
            data
        };
        fs::write(&target, data).map_err(io("copying a chart"))?;
    }
    Ok(to)
}

/// Writes a minimal application chart `name` at `version` (one ConfigMap
/// template) under `dir`; returns the chart folder.
pub fn write_chart(dir: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let chart = dir.join(name);
    fs::create_dir_all(chart.join("templates")).map_err(io("creating a chart"))?;
    let files = [
        (
            "Chart.yaml",
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\ntype: application\n"
            ),
        ),
        ("values.yaml", "greeting: hello\n".to_string()),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n".to_string(),
        ),
    ];
    for (file, text) in files {
        fs::write(chart.join(file), text).map_err(io(format!("writing {file}")))?;
    }
    Ok(chart)
}

/// A Helm HTTP repository on 127.0.0.1 with optional basic or bearer auth.
#[derive(Debug)]
pub struct HelmRepoServer {
    supervisor: Supervisor,
    port: u16,
    root: PathBuf,
    scheme: &'static str,
}

impl HelmRepoServer {
    /// Starts an anonymous repository with an empty index.
    pub fn start() -> Result<Self> {
        Self::start_with_auth(HttpAuth::None)
    }

    /// Starts a repository that demands `auth`.
    pub fn start_with_auth(auth: HttpAuth) -> Result<Self> {
        Self::start_inner(auth, None)
    }

    /// Starts an anonymous repository over HTTPS with `server`'s
    /// certificate; with `client_ca`, every client must present a
    /// certificate of that CA (mutual TLS).
    pub fn start_with_tls(server: &CertifiedKey, client_ca: Option<&str>) -> Result<Self> {
        Self::start_inner(HttpAuth::None, Some((server, client_ca)))
    }

    fn start_inner(auth: HttpAuth, tls: Option<(&CertifiedKey, Option<&str>)>) -> Result<Self> {
        let mut supervisor = Supervisor::new("helm-repo")?;
        let root = supervisor.dir().join("charts");
        fs::create_dir_all(&root).map_err(io("creating the chart folder"))?;
        let port = start_http_front(
            &mut supervisor,
            "helm-repo",
            "static",
            &root,
            &auth,
            tls,
            "127.0.0.1",
        )?;
        let server = Self {
            supervisor,
            port,
            root,
            scheme: if tls.is_some() { "https" } else { "http" },
        };
        server.reindex()?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), the repository URL.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// The folder served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Packages chart folder `chart` with `helm package` into the repository
    /// and regenerates `index.yaml` with `helm repo index`; returns the archive.
    pub fn add_chart(&self, chart: &Path) -> Result<PathBuf> {
        let out = run(helm_command(self.supervisor.dir())?
            .arg("package")
            .arg(chart)
            .arg("--destination")
            .arg(&self.root))?;
        self.reindex()?;
        let archive = out
            .trim()
            .rsplit(": ")
            .next()
            .map(PathBuf::from)
            .unwrap_or_default();
        Ok(archive)
    }

    /// Writes a minimal chart `name` at `version` and adds it.
    pub fn add_simple_chart(&self, name: &str, version: &str) -> Result<PathBuf> {
        let sources = self.supervisor.dir().join("sources").join(version);
        let chart = write_chart(&sources, name, version)?;
        self.add_chart(&chart)
    }

    fn reindex(&self) -> Result<()> {
        run(helm_command(self.supervisor.dir())?
            .args(["repo", "index"])
            .arg(&self.root)
            .arg("--url")
            .arg(self.url()))?;
        Ok(())
    }
}
