//! Git repositories with content for tests, served by [`GitHttpServer`]
//! and [`GitSshServer`](crate::GitSshServer).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result, io};
use crate::pki::CertifiedKey;
use crate::process::{Supervisor, run};
use crate::signing::SigningKey;

/// The author of commits made by the helpers.
pub const AUTHOR_NAME: &str = "Flux Testenv";
/// The author e-mail of commits made by the helpers.
pub const AUTHOR_EMAIL: &str = "testenv@example.invalid";

/// A `git` command isolated from the user's and the system's git
/// configuration, with a fixed author and `main` as the default branch.
pub fn git_command() -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
        .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
        .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
        .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
        .args(["-c", "init.defaultBranch=main"]);
    command
}

/// Runs `git ARGS` in `dir`, returning stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    run(git_command().current_dir(dir).args(args))
}

/// A bare repository on a test server plus a working copy that the helpers
/// write, commit, tag and push from. Pushes go straight to the bare
/// repository on disk; clients under test use [`GitRepo::url`].
#[derive(Debug, Clone)]
pub struct GitRepo {
    url: String,
    bare: PathBuf,
    work: PathBuf,
}

impl GitRepo {
    /// Creates bare repository `<root>/<name>.git` and its working copy under `work_root`.
    pub(crate) fn create(root: &Path, work_root: &Path, name: &str, url: String) -> Result<Self> {
        if name.is_empty() || name.contains("..") || name.starts_with('/') {
            return Err(Error::Parse {
                what: "repository name".to_string(),
                reason: format!("{name:?} is not a relative name"),
            });
        }
        let bare = root.join(format!("{name}.git"));
        let work = work_root.join(name);
        fs::create_dir_all(&bare).map_err(io(format!("creating {}", bare.display())))?;
        fs::create_dir_all(&work).map_err(io(format!("creating {}", work.display())))?;
        git(&bare, &["init", "--quiet", "--bare"])?;
        // Served over HTTP: allow pushes; keep refs in files so tests can read them.
        git(&bare, &["config", "http.receivepack", "true"])?;
        git(&work, &["init", "--quiet"])?;
        git(&work, &["remote", "add", "origin", &bare.to_string_lossy()])?;
        Ok(Self { url, bare, work })
    }

    /// The URL clients use (`http://…` or `ssh://…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bare repository on disk.
    pub fn bare_path(&self) -> &Path {
        &self.bare
    }

    /// The helpers' working copy.
    pub fn work_path(&self) -> &Path {
        &self.work
    }

    /// Writes `contents` to `path` (relative) in the working copy.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<&Self> {
        let file = self.work.join(path);
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        }
        fs::write(&file, contents).map_err(io(format!("writing {}", file.display())))?;
        Ok(self)
    }

    /// Removes file or folder `path` from the working copy.
    pub fn remove(&self, path: &str) -> Result<&Self> {
        let file = self.work.join(path);
        let removed = if file.is_dir() {
            fs::remove_dir_all(&file)
        } else {
            fs::remove_file(&file)
        };
        removed.map_err(io(format!("removing {}", file.display())))?;
        Ok(self)
    }

    /// Commits everything in the working copy on the current branch, pushes
    /// it, and returns the commit's SHA-1.
    pub fn commit(&self, message: &str) -> Result<String> {
        git(&self.work, &["add", "--all"])?;
        git(
            &self.work,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        )?;
        self.push_head()
    }

    /// Brings the working copy up to what others pushed to the current
    /// branch (a hard reset: local uncommitted changes are dropped).
    pub fn pull(&self) -> Result<&Self> {
        let branch = self.current_branch()?;
        git(&self.work, &["fetch", "--quiet", "origin", &branch])?;
        git(&self.work, &["reset", "--quiet", "--hard", "FETCH_HEAD"])?;
        Ok(self)
    }

    /// [`commit`](Self::commit), signed with `key` (`git commit -S`).
    pub fn commit_signed(&self, message: &str, key: &SigningKey) -> Result<String> {
        git(&self.work, &["add", "--all"])?;
        run(key
            .git(&self.work)
            .args(["commit", "--quiet", "--allow-empty", "-S", "-m", message]))?;
        self.push_head()
    }

    /// Creates the annotated tag `name` on HEAD signed with `key`
    /// (`git tag -s`) and pushes it.
    pub fn tag_signed(&self, name: &str, message: &str, key: &SigningKey) -> Result<&Self> {
        run(key
            .git(&self.work)
            .args(["tag", "--force", "-s", name, "-m", message]))?;
        self.push_tag(name)
    }

    fn push_head(&self) -> Result<String> {
        let branch = self.current_branch()?;
        git(
            &self.work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ],
        )?;
        self.head()
    }

    /// Creates tag `name` on HEAD (annotated when `message` is given) and pushes it.
    pub fn tag(&self, name: &str, message: Option<&str>) -> Result<&Self> {
        match message {
            Some(message) => git(&self.work, &["tag", "--force", "-a", name, "-m", message])?,
            None => git(&self.work, &["tag", "--force", name])?,
        };
        self.push_tag(name)
    }

    fn push_tag(&self, name: &str) -> Result<&Self> {
        git(
            &self.work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                &format!("refs/tags/{name}"),
            ],
        )?;
        Ok(self)
    }

    /// Adds the repository at `url` as a submodule at `path` (not committed:
    /// call [`commit`](Self::commit) next).
    pub fn add_submodule(&self, url: &str, path: &str) -> Result<&Self> {
        git(&self.work, &["submodule", "--quiet", "add", url, path])?;
        Ok(self)
    }

    /// Switches the working copy to branch `name`, creating it from HEAD if needed.
    pub fn checkout(&self, name: &str) -> Result<&Self> {
        if git(&self.work, &["rev-parse", "--verify", "--quiet", name]).is_ok() {
            git(&self.work, &["checkout", "--quiet", name])?;
        } else {
            git(&self.work, &["checkout", "--quiet", "-b", name])?;
        }
        Ok(self)
    }

    /// The SHA-1 of the working copy's HEAD.
    pub fn head(&self) -> Result<String> {
        Ok(git(&self.work, &["rev-parse", "HEAD"])?.trim().to_string())
    }

    fn current_branch(&self) -> Result<String> {
        Ok(git(&self.work, &["symbolic-ref", "--short", "HEAD"])?
            .trim()
            .to_string())
    }
}

/// Authentication a test HTTP server demands.
#[derive(Clone, Debug, Default)]
pub enum HttpAuth {
    /// Anonymous access.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
}

impl HttpAuth {
    /// Basic authentication with `username` and `password`.
    pub fn basic(username: &str, password: &str) -> Self {
        Self::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// Bearer-token authentication.
    pub fn bearer(token: &str) -> Self {
        Self::Bearer(token.to_string())
    }
}

const HTTP_SERVER_PY: &str = include_str!("../assets/http_server.py");

/// Starts the Python HTTP front (`mode` is `git` or `static`) serving
/// `root`, under `supervisor` as component `name`; returns its port.
pub(crate) fn start_http_front(
    supervisor: &mut Supervisor,
    name: &str,
    mode: &str,
    root: &Path,
    auth: &HttpAuth,
    tls: Option<(&CertifiedKey, Option<&str>)>,
    host: &str,
) -> Result<u16> {
    let script = supervisor.dir().join("http_server.py");
    fs::write(&script, HTTP_SERVER_PY).map_err(io("writing http_server.py"))?;
    let port_file = supervisor.dir().join(format!("{name}.port"));
    let mut command = Command::new("python3");
    command.arg(&script).arg(mode).arg(root).arg(&port_file);
    command.env_remove("TESTENV_BASIC_AUTH");
    command.env_remove("TESTENV_BEARER_TOKEN");
    command.env_remove("TESTENV_TLS_CERT");
    command.env_remove("TESTENV_TLS_KEY");
    command.env_remove("TESTENV_TLS_CLIENT_CA");
    command.env("TESTENV_BIND", host);
    if let Some((tls, client_ca)) = tls {
        if let Some(ca) = client_ca {
            let path = supervisor.dir().join(format!("{name}-client-ca.crt"));
            fs::write(&path, ca).map_err(io("writing the client CA"))?;
            command.env("TESTENV_TLS_CLIENT_CA", path);
        }
        let cert = supervisor.dir().join(format!("{name}.crt"));
        let key = supervisor.dir().join(format!("{name}.key"));
        fs::write(&cert, &tls.cert_pem).map_err(io("writing the server certificate"))?;
        fs::write(&key, &tls.key_pem).map_err(io("writing the server key"))?;
        command
            .env("TESTENV_TLS_CERT", cert)
            .env("TESTENV_TLS_KEY", key);
    }
    match auth {
        HttpAuth::None => {}
        HttpAuth::Basic { username, password } => {
            command.env("TESTENV_BASIC_AUTH", format!("{username}:{password}"));
        }
        HttpAuth::Bearer(token) => {
            command.env("TESTENV_BEARER_TOKEN", token);
        }
    }
    supervisor.spawn(name, command)?;
    supervisor.wait_for_port_file(name, &port_file)
}

/// Smart-HTTP git (the real `git http-backend`) on 127.0.0.1, with optional
/// basic or bearer authentication and chunked request bodies (large pushes).
#[derive(Debug)]
pub struct GitHttpServer {
    supervisor: Supervisor,
    host: String,
    port: u16,
    root: PathBuf,
    auth: HttpAuth,
    scheme: &'static str,
}

impl GitHttpServer {
    /// Starts an anonymous server.
    pub fn start() -> Result<Self> {
        Self::start_with_auth(HttpAuth::None)
    }

    /// Starts a server that demands `auth`.
    pub fn start_with_auth(auth: HttpAuth) -> Result<Self> {
        Self::start_inner(auth, None, "127.0.0.1")
    }

    /// Starts a server that demands `auth` on the host's address
    /// ([`crate::host_ip`]), which Pods of the node reach too (as
    /// in-cluster Flux does).
    pub fn start_reachable_from_pods(auth: HttpAuth) -> Result<Self> {
        Self::start_inner(auth, None, &crate::node::host_ip()?)
    }

    /// Starts the server speaking HTTPS with `certificate` (from a
    /// [`TestCa`](crate::TestCa); issue it for `127.0.0.1`).
    pub fn start_tls(auth: HttpAuth, certificate: &CertifiedKey) -> Result<Self> {
        Self::start_inner(auth, Some(certificate), "127.0.0.1")
    }

    fn start_inner(auth: HttpAuth, tls: Option<&CertifiedKey>, host: &str) -> Result<Self> {
        let mut supervisor = Supervisor::new("git-http")?;
        let root = supervisor.dir().join("repos");
        fs::create_dir_all(&root).map_err(io("creating the repository root"))?;
        let port = start_http_front(
            &mut supervisor,
            "git-http",
            "git",
            &root,
            &auth,
            tls.map(|t| (t, None)),
            host,
        )?;
        Ok(Self {
            supervisor,
            host: host.to_string(),
            port,
            root,
            auth,
            scheme: if tls.is_some() { "https" } else { "http" },
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS; the host's address
    /// for [`GitHttpServer::start_reachable_from_pods`]).
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// The URL of repository `name`: `http://127.0.0.1:PORT/NAME.git`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.base_url())
    }

    /// The URL of repository `name` with the basic-auth credentials in it
    /// (for the git CLI); the plain URL when the server has none.
    pub fn url_with_credentials(&self, name: &str) -> String {
        match &self.auth {
            HttpAuth::Basic { username, password } => {
                format!(
                    "{}://{username}:{password}@{}:{}/{name}.git",
                    self.scheme, self.host, self.port
                )
            }
            _ => self.url(name),
        }
    }

    /// The authentication the server demands.
    pub fn auth(&self) -> &HttpAuth {
        &self.auth
    }

    /// Creates an empty repository `name` served at [`GitHttpServer::url`].
    pub fn create_repo(&self, name: &str) -> Result<GitRepo> {
        GitRepo::create(
            &self.root,
            &self.supervisor.dir().join("work"),
            name,
            self.url(name),
        )
    }

    /// The server's request log (one line per request).
    pub fn log(&self) -> String {
        self.supervisor.log_tail("git-http", 1000)
    }

    /// Stops the server (`SIGSTOP`): the kernel still accepts connections on
    /// its port, and nothing ever answers them — a hung server.
    pub fn hang(&self) -> Result<()> {
        self.supervisor.signal("git-http", "STOP")
    }

    /// Lets a server stopped by [`GitHttpServer::hang`] run again.
    pub fn resume(&self) -> Result<()> {
        self.supervisor.signal("git-http", "CONT")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}
