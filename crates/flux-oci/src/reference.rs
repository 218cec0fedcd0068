//! Image references: `registry/repository[:tag][@digest]`, and Flux's
//! `oci://` URLs of them.

use std::fmt;

use crate::error::{Error, Result};

/// The registry of references that name none (`nginx`, `org/app`).
pub const DEFAULT_REGISTRY: &str = "index.docker.io";

/// The URL scheme of OCI sources.
pub const OCI_SCHEME: &str = "oci://";

/// One artifact (or repository, without tag and digest) in a registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// `org/app` (lowercase, `/`-separated).
    pub repository: String,
    /// A tag.
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `oci://registry/repository[:tag][@digest]`.
    pub fn parse_url(url: &str) -> Result<Reference> {
        let Some(rest) = url.strip_prefix(OCI_SCHEME) else {
            return Err(Error::InvalidReference {
                reference: url.to_string(),
                reason: format!("URL must be in format '{OCI_SCHEME}<domain>/<org>/<repo>'"),
            });
        };
        Reference::parse(rest)
    }

    /// Parses `registry/repository[:tag][@digest]` as go-containerregistry
    /// does: the first part is a registry when it has a `.` or a `:` or is
    /// `localhost`, else the reference is on Docker Hub (`library/` added
    /// to one-part names).
    pub fn parse(text: &str) -> Result<Reference> {
        let invalid = |reason: &str| Error::InvalidReference {
            reference: text.to_string(),
            reason: reason.to_string(),
        };
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let Some(hex) = digest.strip_prefix("sha256:") else {
                    return Err(invalid("unsupported digest algorithm"));
                };
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("invalid digest"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => {
                (&rest[..i], Some(rest[i + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && !tag.starts_with(['.', '-']);
            if !valid {
                return Err(invalid("invalid tag"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ if name.contains('/') => (DEFAULT_REGISTRY.to_string(), name.to_string()),
            _ => (DEFAULT_REGISTRY.to_string(), format!("library/{name}")),
        };
        let valid_repository = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repository {
            return Err(invalid(
                "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`",
            ));
        }
        if registry.is_empty() {
            return Err(invalid("missing registry"));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at `tag`.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository at `digest`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// What a manifest request names: the digest, else the tag, else
    /// `latest`.
    pub fn identifier(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_go_containerregistry_parses_them() {
        let r = Reference::parse_url("oci://ghcr.io/stefanprodan/manifests/podinfo:6.6.0").unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.repository, "stefanprodan/manifests/podinfo");
        assert_eq!(r.tag.as_deref(), Some("6.6.0"));
        let r = Reference::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("127.0.0.1:5000", None));
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(r.name(), "index.docker.io/library/nginx");
        let r = Reference::parse("localhost/app:v1").unwrap();
        assert_eq!(r.to_string(), "localhost/app:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("reg.io/app:v1@{d}")).unwrap();
        assert_eq!(r.identifier(), d);
        assert!(Reference::parse("reg.io/App").is_err());
        assert!(Reference::parse("reg.io/app:").is_err());
        assert!(Reference::parse("reg.io/app@sha256:abc").is_err());
        assert!(Reference::parse_url("https://reg.io/app").is_err());
    }
}
