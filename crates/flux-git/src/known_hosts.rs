//! `known_hosts` checking for SSH remotes, as OpenSSH does it for the
//! entries Flux secrets carry (`ssh-keyscan` output): host patterns
//! `host`, `[host]:port`, comma-separated lists and hashed names
//! (`|1|salt|HMAC-SHA1`, `ssh-keyscan -H` / `ssh-keygen -H`), and the key
//! itself. Wildcards and negations are not supported.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// Whether `pattern` is a hashed host (`|1|salt|hash`) of `name`.
fn hashed_match(pattern: &str, name: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Some(rest) = pattern.strip_prefix("|1|") else {
        return false;
    };
    let Some((salt, hash)) = rest.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// One `known_hosts` line: host patterns, key type, key blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownHost {
    hosts: Vec<String>,
    key_type: String,
    key: Vec<u8>,
}

/// The parsed contents of a `known_hosts` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts(Vec<KnownHost>);

impl KnownHosts {
    /// Parses `known_hosts` text; comments and blank lines are skipped,
    /// `@cert-authority`/`@revoked` markers are refused.
    pub fn parse(text: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('@') {
                return Err(Error::KnownHosts(format!(
                    "line {}: markers (@cert-authority, @revoked) are not supported",
                    n + 1
                )));
            }
            let mut fields = line.split_whitespace();
            let (Some(hosts), Some(key_type), Some(key)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(Error::KnownHosts(format!(
                    "line {}: expected `hosts key-type key`",
                    n + 1
                )));
            };
            let key = STANDARD
                .decode(key)
                .map_err(|e| Error::KnownHosts(format!("line {}: bad key: {e}", n + 1)))?;
            entries.push(KnownHost {
                hosts: hosts.split(',').map(str::to_string).collect(),
                key_type: key_type.to_string(),
                key,
            });
        }
        if entries.is_empty() {
            return Err(Error::KnownHosts("no host keys".to_string()));
        }
        Ok(Self(entries))
    }

    /// Checks that `key` (the raw SSH public-key blob the server presented)
    /// is a known key of `host` on `port`.
    pub fn verify(&self, host: &str, port: Option<u16>, key: &[u8]) -> Result<()> {
        let name = match port {
            Some(port) if port != 22 => format!("[{host}]:{port}"),
            _ => host.to_string(),
        };
        let mut known_for_host = false;
        for entry in &self.0 {
            if entry
                .hosts
                .iter()
                .any(|h| h == &name || hashed_match(h, &name))
            {
                known_for_host = true;
                if entry.key == key {
                    return Ok(());
                }
            }
        }
        Err(Error::HostKey {
            host: name,
            reason: if known_for_host {
                "the presented key is not the known key (possible man-in-the-middle)".to_string()
            } else {
                "no known_hosts entry for this host".to_string()
            },
        })
    }

    /// The key types known for any host (for diagnostics).
    pub fn key_types(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.key_type.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn matches_host_port_and_key() {
        let hosts = KnownHosts::parse(&format!(
            "# comment\n[127.0.0.1]:2222 ssh-ed25519 {KEY}\ngithub.com,140.82.121.4 ssh-ed25519 {KEY}\n"
        ))
        .unwrap();
        let key = STANDARD.decode(KEY).unwrap();
        hosts.verify("127.0.0.1", Some(2222), &key).unwrap();
        hosts.verify("github.com", Some(22), &key).unwrap();
        hosts.verify("140.82.121.4", None, &key).unwrap();
        let err = hosts.verify("127.0.0.1", Some(2223), &key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "host key verification failed for '[127.0.0.1]:2223': no known_hosts entry for this host"
        );
        let err = hosts.verify("github.com", None, b"other key").unwrap_err();
        assert!(err.to_string().contains("not the known key"), "{err}");
    }

    #[test]
    fn malformed_files_are_named() {
        assert!(
            KnownHosts::parse("")
                .unwrap_err()
                .to_string()
                .contains("no host keys")
        );
        assert!(
            KnownHosts::parse("host ssh-ed25519")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            KnownHosts::parse("host ssh-ed25519 !!!")
                .unwrap_err()
                .to_string()
                .contains("bad key")
        );
        assert!(
            KnownHosts::parse("@revoked * ssh-rsa AAAA")
                .unwrap_err()
                .to_string()
                .contains("markers")
        );
    }
}
