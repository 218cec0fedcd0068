//! Credentials for a Git remote, read from a Flux git Secret.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::known_hosts::KnownHosts;
use crate::tls::TrustedCa;

/// How to authenticate to a remote.
#[derive(Clone, Default)]
pub enum Auth {
    /// Anonymous.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// An SSH private key, checked against `known_hosts`.
    Ssh {
        /// The private key (OpenSSH or PEM).
        private_key: String,
        /// Its passphrase.
        passphrase: Option<String>,
        /// The hosts the server's key must match.
        known_hosts: KnownHosts,
    },
    /// Any of these, reaching the remote through an HTTP proxy.
    Proxied {
        /// The credentials.
        auth: Box<Auth>,
        /// The proxy.
        proxy: Proxy,
    },
    /// HTTPS credentials (any of the above but SSH) with the server's
    /// certificate checked against a private CA.
    Tls {
        /// The credentials.
        auth: Box<Auth>,
        /// The CA bundle (`ca.crt`).
        ca: TrustedCa,
    },
}

impl std::fmt::Debug for Auth {
    /// Never prints secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => write!(f, "Auth::Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(***)"),
            Auth::Ssh { .. } => f.write_str("Auth::Ssh(***)"),
            Auth::Tls { auth, ca } => write!(f, "Auth::Tls({auth:?}, {ca:?})"),
            Auth::Proxied { auth, proxy } => write!(f, "Auth::Proxied({auth:?}, {proxy:?})"),
        }
    }
}

impl Auth {
    /// The credentials proper (without the CA of [`Auth::Tls`]).
    pub fn credentials(&self) -> &Auth {
        match self {
            Auth::Tls { auth, .. } | Auth::Proxied { auth, .. } => auth.credentials(),
            other => other,
        }
    }

    /// The private CA of an HTTPS remote, if any.
    pub fn ca(&self) -> Option<&TrustedCa> {
        match self {
            Auth::Tls { ca, .. } => Some(ca),
            Auth::Proxied { auth, .. } => auth.ca(),
            _ => None,
        }
    }

    /// The HTTP proxy to go through, if any.
    pub fn proxy(&self) -> Option<&Proxy> {
        match self {
            Auth::Proxied { proxy, .. } => Some(proxy),
            Auth::Tls { auth, .. } => auth.proxy(),
            _ => None,
        }
    }

    /// These credentials through `proxy`.
    pub fn with_proxy(self, proxy: Proxy) -> Auth {
        Auth::Proxied {
            auth: Box::new(self),
            proxy,
        }
    }

    /// The credentials a Flux git Secret gives for `url`: `identity`,
    /// `known_hosts` and optional `password` (passphrase) for SSH URLs;
    /// `bearerToken`, or `username` and `password`, for HTTP(S) URLs, plus
    /// `ca.crt` (or the legacy `caFile`) to trust a private CA over HTTPS.
    pub fn from_secret(data: &BTreeMap<String, Vec<u8>>, url: &str) -> Result<Self> {
        let auth = Self::credentials_from_secret(data, url)?;
        let ca = data.get("ca.crt").or_else(|| data.get("caFile"));
        match ca {
            Some(pem) if url.starts_with("https://") => Ok(Auth::Tls {
                auth: Box::new(auth),
                ca: TrustedCa::from_pem(pem).map_err(|e| Error::InvalidAuth(e.0))?,
            }),
            _ => Ok(auth),
        }
    }

    fn credentials_from_secret(data: &BTreeMap<String, Vec<u8>>, url: &str) -> Result<Self> {
        let text = |key: &str| -> Result<Option<String>> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone())
                        .map_err(|_| Error::InvalidAuth(format!("'{key}' is not UTF-8")))
                })
                .transpose()
        };
        if is_ssh(url) {
            let private_key = text("identity")?
                .ok_or_else(|| Error::InvalidAuth("'identity' is required for SSH".to_string()))?;
            let known_hosts = text("known_hosts")?.ok_or_else(|| {
                Error::InvalidAuth("'known_hosts' is required for SSH".to_string())
            })?;
            return Ok(Auth::Ssh {
                private_key,
                passphrase: text("password")?.filter(|p| !p.is_empty()),
                known_hosts: KnownHosts::parse(&known_hosts)?,
            });
        }
        if let Some(token) = text("bearerToken")? {
            return Ok(Auth::Bearer(token));
        }
        match (text("username")?, text("password")?) {
            (Some(username), Some(password)) => Ok(Auth::Basic { username, password }),
            (Some(_), None) => Err(Error::InvalidAuth("'password' is missing".to_string())),
            (None, Some(_)) => Err(Error::InvalidAuth("'username' is missing".to_string())),
            (None, None) => Ok(Auth::None),
        }
    }
}

/// An HTTP proxy (`spec.proxySecretRef`: `address`, optional `username`
/// and `password`). libgit2 tunnels HTTPS through it with `CONNECT`; SSH
/// remotes do not use it.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `http://host:port`.
    pub address: String,
    /// Proxy user.
    pub username: Option<String>,
    /// Proxy password.
    pub password: Option<String>,
}

impl std::fmt::Debug for Proxy {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy({}", self.address)?;
        if let Some(user) = &self.username {
            write!(f, ", {user}, ***")?;
        }
        f.write_str(")")
    }
}

impl Proxy {
    /// The proxy a Flux proxy Secret describes.
    pub fn from_secret(data: &BTreeMap<String, Vec<u8>>) -> Result<Self> {
        let text = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(v).trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let address = text("address")
            .ok_or_else(|| Error::InvalidAuth("proxy: key 'address' is missing".to_string()))?;
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(Error::InvalidAuth(format!(
                "proxy: address '{address}' must be an http:// or https:// URL"
            )));
        }
        Ok(Self {
            address,
            username: text("username"),
            password: text("password"),
        })
    }
}

/// `url` without the password of its user information
/// (`https://user:***@host/…`), for messages that reach conditions, events
/// and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{path}")
            } else {
                format!("{scheme}://{user}@{host}{path}")
            }
        }
        None => url.to_string(),
    }
}

/// True for `ssh://…` and scp-like `user@host:path` URLs.
pub fn is_ssh(url: &str) -> bool {
    url.starts_with("ssh://") || (!url.contains("://") && url.contains('@') && url.contains(':'))
}

/// The host and port of an SSH URL.
pub(crate) fn ssh_host_port(url: &str) -> (String, Option<u16>) {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if url.starts_with("ssh://") {
        if let Some((host, port)) = host_port.rsplit_once(':')
            && let Ok(port) = port.parse()
        {
            return (host.trim_matches(['[', ']']).to_string(), Some(port));
        }
        return (host_port.trim_matches(['[', ']']).to_string(), None);
    }
    // scp-like: user@host:path
    let host = host_port.split(':').next().unwrap_or(host_port);
    (host.to_string(), None)
}

/// The user name of an SSH URL (`git` when none).
pub(crate) fn ssh_user(url: &str) -> String {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map(|(user, _)| user.to_string())
        .unwrap_or_else(|| "git".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn secrets_map_to_credentials() {
        let basic = Auth::from_secret(
            &data(&[("username", "u"), ("password", "p")]),
            "https://h/r.git",
        )
        .unwrap();
        assert!(matches!(basic, Auth::Basic { .. }));
        assert_eq!(format!("{basic:?}"), "Auth::Basic(u, ***)");
        let bearer = Auth::from_secret(&data(&[("bearerToken", "t")]), "https://h/r.git").unwrap();
        assert!(matches!(bearer, Auth::Bearer(_)));
        assert!(matches!(
            Auth::from_secret(&data(&[]), "https://h/r.git").unwrap(),
            Auth::None
        ));
        let err = Auth::from_secret(&data(&[("identity", "k")]), "ssh://git@h/r.git").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid credentials: 'known_hosts' is required for SSH"
        );
        let err = Auth::from_secret(&data(&[("username", "u")]), "https://h/r.git").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid credentials: 'password' is missing"
        );
    }

    #[test]
    fn proxies_come_from_their_secret_and_hide_the_password() {
        let proxy = Proxy::from_secret(&data(&[
            ("address", "http://proxy:3128"),
            ("username", "me"),
            ("password", "p@ss:w/rd"),
        ]))
        .unwrap();
        assert_eq!(format!("{proxy:?}"), "Proxy(http://proxy:3128, me, ***)");
        let err = Proxy::from_secret(&data(&[("username", "me")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid credentials: proxy: key 'address' is missing"
        );
        assert!(Proxy::from_secret(&data(&[("address", "proxy:3128")])).is_err());
        let auth = Auth::None.with_proxy(proxy);
        assert!(auth.proxy().is_some());
        assert!(matches!(auth.credentials(), Auth::None));
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact("https://flux:s3cret@git.example.com/org/repo.git"),
            "https://flux:***@git.example.com/org/repo.git"
        );
        assert_eq!(
            redact("ssh://git@host:22/repo.git"),
            "ssh://git@host:22/repo.git"
        );
        assert_eq!(redact("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn ssh_urls() {
        assert_eq!(
            ssh_host_port("ssh://git@github.com/org/repo.git"),
            ("github.com".into(), None)
        );
        assert_eq!(
            ssh_host_port("ssh://root@127.0.0.1:2222/tmp/r.git"),
            ("127.0.0.1".into(), Some(2222))
        );
        assert_eq!(
            ssh_host_port("git@github.com:org/repo.git"),
            ("github.com".into(), None)
        );
        assert_eq!(ssh_user("ssh://root@127.0.0.1:2222/tmp/r.git"), "root");
        assert_eq!(ssh_user("ssh://example.com/r.git"), "git");
        assert!(is_ssh("git@github.com:org/repo.git"));
        assert!(!is_ssh("https://github.com/org/repo.git"));
    }
}
