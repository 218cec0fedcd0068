//! Registry credentials: basic pairs, Docker config files
//! (`.dockerconfigjson` Secrets, `~/.docker/config.json`), and the
//! `WWW-Authenticate` challenges registries answer with.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;

use crate::error::{Error, Result};

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// `user[:password]`, as `flux push artifact --creds` takes them.
    pub fn parse(creds: &str) -> Credentials {
        let (username, password) = creds.split_once(':').unwrap_or((creds, ""));
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// `Authorization: Basic …`.
    pub(crate) fn basic_header(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password));
        format!("Basic {token}")
    }
}

/// The host a Docker config key names: `https://index.docker.io/v1/` →
/// `index.docker.io`, `ghcr.io` → `ghcr.io`.
fn config_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "docker.io" | "registry-1.docker.io" => crate::reference::DEFAULT_REGISTRY.to_string(),
        other => other.to_string(),
    }
}

/// The credentials for `registry` in the image pull Secret `name` (its
/// `.dockerconfigjson`, or legacy `.dockercfg`), with upstream's errors.
pub fn from_pull_secret(
    name: &str,
    data: &BTreeMap<String, Vec<u8>>,
    registry: &str,
) -> std::result::Result<Option<Credentials>, String> {
    let Some(config) = data
        .get(".dockerconfigjson")
        .or_else(|| data.get(".dockercfg"))
    else {
        return Err(format!(
            "invalid '{name}' secret data: expected a '.dockerconfigjson' key"
        ));
    };
    from_docker_config(config, registry).map_err(|e| format!("invalid '{name}' secret data: {e}"))
}

/// The credentials for `registry` in a Docker config file (the `auths`
/// of a `kubernetes.io/dockerconfigjson` Secret or `config.json`):
/// `username`/`password`, or `auth` (base64 `user:password`).
pub fn from_docker_config(json: &[u8], registry: &str) -> Result<Option<Credentials>> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
        #[serde(default)]
        auth: String,
        #[serde(default, rename = "identitytoken")]
        identity_token: String,
    }
    let config: Config = serde_json::from_slice(json)
        .map_err(|e| Error::Io(format!("invalid Docker config: {e}")))?;
    let wanted = config_host(registry);
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| config_host(key) == wanted)
        .map(|(_, e)| e)
    else {
        return Ok(None);
    };
    if !entry.username.is_empty() || !entry.password.is_empty() {
        return Ok(Some(Credentials {
            username: entry.username.clone(),
            password: entry.password.clone(),
        }));
    }
    if !entry.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .map_err(|e| Error::Io(format!("invalid Docker config auth for '{registry}': {e}")))?;
        let text = String::from_utf8_lossy(&decoded);
        let Some((username, password)) = text.split_once(':') else {
            return Err(Error::Io(format!(
                "invalid Docker config auth for '{registry}': not user:password"
            )));
        };
        return Ok(Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }));
    }
    if !entry.identity_token.is_empty() {
        // Docker's convention: an identity token is a refresh token sent
        // as the password of the fixed user `<token>`.
        return Ok(Some(Credentials {
            username: "<token>".to_string(),
            password: entry.identity_token.clone(),
        }));
    }
    Ok(None)
}

/// A `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="…"`.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(params);
            Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        }
        _ => None,
    }
}

/// `key="value",key2=value2` (values may hold commas inside quotes).
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_configs_match_registries_as_docker_does() {
        let config = br#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
            "ghcr.io": {"username": "bot", "password": "tok"},
            "http://127.0.0.1:5000": {"identitytoken": "refresh"}
        }}"#;
        let c = from_docker_config(config, "index.docker.io")
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user", "pass"));
        let c = from_docker_config(config, "ghcr.io").unwrap().unwrap();
        assert_eq!(c.password, "tok");
        let c = from_docker_config(config, "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "<token>");
        assert_eq!(from_docker_config(config, "quay.io").unwrap(), None);
        assert!(from_docker_config(b"{", "quay.io").is_err());
        assert!(!format!("{c:?}").contains("refresh"));
    }

    #[test]
    fn challenges_parse_with_quoted_commas() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:org/app:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
