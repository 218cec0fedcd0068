//! Keys that sign commits and tags the way users do: real `gpg` keys in a
//! throw-away keyring, and SSH keys used through `git -c gpg.format=ssh`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::git::git_command;
use crate::process::{Supervisor, run};

/// A key `git` signs commits and tags with.
#[derive(Debug)]
pub struct SigningKey {
    kind: Kind,
    public: String,
    _folder: Supervisor,
}

#[derive(Debug)]
enum Kind {
    Gpg {
        home: PathBuf,
        key_id: String,
        passphrase: String,
    },
    Ssh {
        private_key: PathBuf,
    },
}

impl SigningKey {
    /// A new ed25519 OpenPGP key (`gpg --quick-gen-key`, no passphrase) in
    /// its own `GNUPGHOME`; its agent is stopped when the key is dropped.
    pub fn gpg(user_id: &str) -> Result<Self> {
        Self::gpg_protected(user_id, "")
    }

    /// A new ed25519 OpenPGP key protected by `passphrase` (none when
    /// empty), made by `gpg --quick-gen-key` in its own `GNUPGHOME`.
    pub fn gpg_protected(user_id: &str, passphrase: &str) -> Result<Self> {
        let dir = tempdir()?;
        let home = dir.dir().join("gnupg");
        std::fs::create_dir(&home).map_err(crate::error::io("creating GNUPGHOME"))?;
        set_private(&home)?;
        run(gpg_with(&home, passphrase).args([
            "--quick-gen-key",
            user_id,
            "ed25519",
            "sign",
            "never",
        ]))?;
        let listing = run(gpg(&home).args(["--list-keys", "--with-colons"]))?;
        let key_id = listing
            .lines()
            .find(|l| l.starts_with("pub:"))
            .and_then(|l| l.split(':').nth(4))
            .ok_or_else(|| Error::Parse {
                what: "gpg --list-keys".to_string(),
                reason: "no public key listed".to_string(),
            })?
            .to_string();
        let public = run(gpg(&home).args(["--armor", "--export", &key_id]))?;
        Ok(Self {
            kind: Kind::Gpg {
                home,
                key_id,
                passphrase: passphrase.to_string(),
            },
            public,
            _folder: dir,
        })
    }

    /// A new ed25519 SSH key (`ssh-keygen`), for `gpg.format=ssh`.
    pub fn ssh() -> Result<Self> {
        Self::ssh_protected("")
    }

    /// A new ed25519 SSH key protected by `passphrase` (none when empty).
    pub fn ssh_protected(passphrase: &str) -> Result<Self> {
        let dir = tempdir()?;
        let private_key = dir.dir().join("signing_key");
        run(Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                passphrase,
                "-C",
                "flux-testenv",
                "-f",
            ])
            .arg(&private_key))?;
        let public_path = dir.dir().join("signing_key.pub");
        let public = std::fs::read_to_string(&public_path)
            .map_err(crate::error::io("reading the SSH public key"))?;
        Ok(Self {
            kind: Kind::Ssh { private_key },
            public,
            _folder: dir,
        })
    }

    /// The public key as users put it in the verification Secret: an
    /// armored key block (`*.asc`) or an `authorized_keys` line (`*.sshpub`).
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The private key as users put it in a signing Secret: the armored
    /// secret key block `gpg --export-secret-keys` writes (`git.asc`), or
    /// the OpenSSH private key file (`identity`).
    pub fn private_key(&self) -> Result<String> {
        match &self.kind {
            Kind::Gpg {
                home,
                key_id,
                passphrase,
            } => run(gpg_with(home, passphrase).args(["--armor", "--export-secret-keys", key_id])),
            Kind::Ssh { private_key } => std::fs::read_to_string(private_key)
                .map_err(crate::error::io("reading the SSH private key")),
        }
    }

    /// `git verify-commit --raw` of `commit` in the repository at `dir`,
    /// trusting only this key (gpg's keyring of the key; an allowed-signers
    /// file naming `email` for SSH): `Ok` with git's report when the
    /// signature is good, an error otherwise.
    pub fn verify_commit(&self, dir: &Path, commit: &str, email: &str) -> Result<String> {
        let mut command = git_command();
        command.current_dir(dir);
        let _allowed;
        match &self.kind {
            Kind::Gpg { home, .. } => {
                command.env("GNUPGHOME", home);
            }
            Kind::Ssh { private_key } => {
                let file = private_key.with_extension("allowed");
                std::fs::write(&file, format!("{email} {}", self.public))
                    .map_err(crate::error::io("writing the allowed signers file"))?;
                command
                    .arg("-c")
                    .arg(format!("gpg.ssh.allowedSignersFile={}", file.display()));
                _allowed = file;
            }
        }
        let out = command
            .args(["verify-commit", "--raw", commit])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(crate::error::io("running git verify-commit"))?;
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(report)
        } else {
            Err(Error::Parse {
                what: format!("git verify-commit {commit}"),
                reason: report,
            })
        }
    }

    /// The OpenPGP key ID (16 upper-case hex digits) or the SSH key's
    /// `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub fn id(&self) -> Result<String> {
        match &self.kind {
            Kind::Gpg { key_id, .. } => Ok(key_id.clone()),
            Kind::Ssh { private_key } => {
                let out = run(Command::new("ssh-keygen")
                    .args(["-l", "-E", "sha256", "-f"])
                    .arg(private_key))?;
                out.split_whitespace()
                    .nth(1)
                    .map(str::to_string)
                    .ok_or_else(|| Error::Parse {
                        what: "ssh-keygen -l".to_string(),
                        reason: out.clone(),
                    })
            }
        }
    }

    /// A `git` command in `dir` that signs with this key.
    pub(crate) fn git(&self, dir: &Path) -> Command {
        let mut command = git_command();
        command.current_dir(dir);
        match &self.kind {
            Kind::Gpg { home, key_id, .. } => {
                command
                    .env("GNUPGHOME", home)
                    .args(["-c", "gpg.format=openpgp"])
                    .arg("-c")
                    .arg(format!("user.signingkey={key_id}"));
            }
            Kind::Ssh { private_key } => {
                command
                    .args(["-c", "gpg.format=ssh"])
                    .arg("-c")
                    .arg(format!("user.signingkey={}", private_key.display()));
            }
        }
        command
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        if let Kind::Gpg { home, .. } = &self.kind {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", home)
                .args(["--kill", "all"])
                .output();
        }
    }
}

fn gpg(home: &Path) -> Command {
    gpg_with(home, "")
}

fn gpg_with(home: &Path, passphrase: &str) -> Command {
    let mut command = Command::new("gpg");
    command.env("GNUPGHOME", home).args([
        "--batch",
        "--quiet",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        passphrase,
    ]);
    command
}

/// The key's folder, removed with the key (or when the test process dies).
fn tempdir() -> Result<Supervisor> {
    Supervisor::new("signing")
}

fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(crate::error::io("restricting GNUPGHOME"))
}

/// A cosign key pair made by the real `cosign generate-key-pair` (empty
/// password), signing OCI artifacts and charts as users do.
#[derive(Debug)]
pub struct CosignKey {
    dir: Supervisor,
    public: String,
}

/// How `cosign sign` stores the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CosignFormat {
    /// A Sigstore bundle attached as an OCI referrer (cosign v3's default).
    Bundle,
    /// A simple-signing payload under the `sha256-<hex>.sig` tag
    /// (`--new-bundle-format=false`, cosign v2's format).
    SimpleSigning,
}

impl CosignKey {
    /// A new ECDSA P-256 key pair (`cosign.key`, `cosign.pub`).
    pub fn generate() -> Result<Self> {
        let dir = tempdir()?;
        run(cosign(dir.dir())?.arg("generate-key-pair"))?;
        let public = std::fs::read_to_string(dir.dir().join("cosign.pub"))
            .map_err(crate::error::io("reading cosign.pub"))?;
        Ok(Self { dir, public })
    }

    /// The PEM public key (`cosign.pub`).
    pub fn public_pem(&self) -> &str {
        &self.public
    }

    /// Signs `reference` (`HOST/REPO@sha256:…` or a tag) on a plain-HTTP
    /// registry, without the transparency log (offline, as in the tests).
    pub fn sign(&self, reference: &str, format: CosignFormat) -> Result<()> {
        let key = self.dir.dir().join("cosign.key");
        let mut command = cosign(self.dir.dir())?;
        command
            .args(["sign", "--yes", "--allow-http-registry"])
            .args(["--tlog-upload=false", "--use-signing-config=false"])
            .arg("--key")
            .arg(&key);
        if format == CosignFormat::SimpleSigning {
            command.arg("--new-bundle-format=false");
        }
        run(command.arg(reference))?;
        Ok(())
    }
}

/// `cosign` with an empty key password and its state in `home`.
fn cosign(home: &Path) -> Result<Command> {
    let mut command = Command::new(crate::process::tool("cosign")?);
    command
        .current_dir(home)
        .env("COSIGN_PASSWORD", "")
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("TUF_ROOT", home.join("tuf"));
    Ok(command)
}
