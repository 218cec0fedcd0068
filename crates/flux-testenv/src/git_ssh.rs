//! Git over SSH: the real OpenSSH `sshd`, unprivileged config, loopback only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::git::GitRepo;
use crate::process::{Supervisor, free_port, port_open_on, run};

const SSHD: &str = "/usr/sbin/sshd";

/// Generates an unencrypted ed25519 key pair at `path` and `path.pub`;
/// returns `path`.
pub fn ssh_keygen(path: &Path) -> Result<PathBuf> {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "flux-testenv", "-f"])
        .arg(path))?;
    Ok(path.to_path_buf())
}

/// `sshd` on a high loopback port with a throw-away host key, accepting one
/// generated client key for the current user, serving repositories by
/// absolute path (`ssh://USER@127.0.0.1:PORT/ABS/PATH/NAME.git`).
#[derive(Debug)]
pub struct GitSshServer {
    supervisor: Supervisor,
    host: String,
    port: u16,
    root: PathBuf,
    user: String,
    client_key: PathBuf,
    known_hosts: String,
}

impl GitSshServer {
    /// Starts the server on 127.0.0.1 and waits until it accepts
    /// connections.
    pub fn start() -> Result<Self> {
        Self::start_on("127.0.0.1")
    }

    /// Starts the server on the host's address ([`crate::host_ip`]), which
    /// Pods of the node reach too (as in-cluster Flux does).
    pub fn start_reachable_from_pods() -> Result<Self> {
        Self::start_on(&crate::node::host_ip()?)
    }

    fn start_on(host: &str) -> Result<Self> {
        if !Path::new(SSHD).exists() {
            return Err(Error::MissingBinary {
                name: "sshd (Debian openssh-server)".to_string(),
                path: PathBuf::from(SSHD),
            });
        }
        // As root, sshd needs its privilege-separation folder (on tmpfs,
        // so it may be gone since the install). Harmless when not root.
        let _ = fs::create_dir_all("/run/sshd");
        let mut supervisor = Supervisor::new("git-ssh")?;
        let dir = supervisor.dir().to_path_buf();
        let root = dir.join("repos");
        fs::create_dir_all(&root).map_err(io("creating the repository root"))?;
        let user = run(Command::new("id").arg("-un"))?.trim().to_string();

        let host_key = ssh_keygen(&dir.join("host_ed25519"))?;
        let client_key = ssh_keygen(&dir.join("client_ed25519"))?;
        let authorized = dir.join("authorized_keys");
        fs::copy(dir.join("client_ed25519.pub"), &authorized)
            .map_err(io("writing authorized_keys"))?;
        let port = free_port()?;
        let config = dir.join("sshd_config");
        let lines = [
            format!("Port {port}"),
            format!("ListenAddress {host}"),
            format!("HostKey {}", host_key.display()),
            format!("AuthorizedKeysFile {}", authorized.display()),
            "PidFile none".to_string(),
            "UsePAM no".to_string(),
            "StrictModes no".to_string(),
            "PasswordAuthentication no".to_string(),
            "KbdInteractiveAuthentication no".to_string(),
            "PubkeyAuthentication yes".to_string(),
            "PermitRootLogin prohibit-password".to_string(),
            format!("AllowUsers {user}"),
            "LogLevel VERBOSE".to_string(),
        ];
        fs::write(&config, lines.join("\n") + "\n").map_err(io("writing sshd_config"))?;
        run(Command::new(SSHD).arg("-t").arg("-f").arg(&config))?;
        let mut sshd = Command::new(SSHD);
        sshd.arg("-D").arg("-e").arg("-f").arg(&config);
        supervisor.spawn("sshd", sshd)?;
        supervisor.wait_until("sshd", Duration::from_secs(30), |_| {
            port_open_on(host, port)
        })?;

        let host_pub =
            fs::read_to_string(dir.join("host_ed25519.pub")).map_err(io("reading the host key"))?;
        let mut fields = host_pub.split_whitespace();
        let known_hosts = format!(
            "[{host}]:{port} {} {}",
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default()
        );
        Ok(Self {
            supervisor,
            host: host.to_string(),
            port,
            root,
            user,
            client_key,
            known_hosts,
        })
    }

    /// Stops the server (`SIGSTOP` of sshd): connections are accepted by
    /// the kernel and never answered — a hung server.
    pub fn hang(&self) -> Result<()> {
        self.supervisor.signal("sshd", "STOP")
    }

    /// Lets a server stopped by [`GitSshServer::hang`] run again.
    pub fn resume(&self) -> Result<()> {
        self.supervisor.signal("sshd", "CONT")
    }

    /// The port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "ssh://{}@{}:{}{}/{name}.git",
            self.user,
            self.host,
            self.port,
            self.root.display()
        )
    }

    /// The `known_hosts` line of the server's host key
    /// (`[127.0.0.1]:PORT ssh-ed25519 AAAA…`), as Flux secrets carry it.
    pub fn known_hosts(&self) -> &str {
        &self.known_hosts
    }

    /// The accepted client private key (OpenSSH format); `.pub` beside it.
    pub fn client_key_path(&self) -> &Path {
        &self.client_key
    }

    /// The accepted client private key, PEM (OpenSSH format), as the
    /// `identity` of a Flux git Secret.
    pub fn client_private_key(&self) -> Result<String> {
        fs::read_to_string(&self.client_key).map_err(io("reading the client key"))
    }

    /// A `GIT_SSH_COMMAND` for the git CLI that authenticates with `key`
    /// and checks the host against `known_hosts` (a file path).
    pub fn git_ssh_command(key: &Path, known_hosts: &Path) -> String {
        format!(
            "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
            key.display(),
            known_hosts.display()
        )
    }

    /// Creates an empty repository `name` served at [`GitSshServer::url`].
    pub fn create_repo(&self, name: &str) -> Result<GitRepo> {
        GitRepo::create(
            &self.root,
            &self.supervisor.dir().join("work"),
            name,
            self.url(name),
        )
    }

    /// sshd's log (connections, accepted and refused keys).
    pub fn log(&self) -> String {
        self.supervisor.log_tail("sshd", 1000)
    }
}
