//! Revision strings as upstream writes them in `status.artifact.revision`:
//! `main@sha1:<hash>`, `v1.2.3@sha1:<hash>`, `refs/pull/1/head@sha1:<hash>`,
//! `sha1:<hash>` for a bare commit, `latest@sha256:<digest>` for OCI — and
//! the legacy `main/<hash>` form still found in old statuses.

use std::fmt;

/// A reference name (optional) and a content hash with its algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Revision {
    /// Branch, tag or full reference name; none for a bare commit or digest.
    pub reference: Option<String>,
    /// `sha1`, `sha256`, …
    pub algorithm: String,
    /// The hex hash.
    pub hash: String,
}

impl Revision {
    /// A Git commit `hash` (SHA-1 when 40 hex digits, SHA-256 when 64) at
    /// `reference` (`main`, `v1.0.0`, `refs/pull/1/head`; `None` for a commit).
    pub fn git(reference: Option<&str>, hash: &str) -> Self {
        let algorithm = if hash.len() == 64 { "sha256" } else { "sha1" };
        Self {
            reference: reference.filter(|r| !r.is_empty()).map(str::to_string),
            algorithm: algorithm.to_string(),
            hash: hash.to_string(),
        }
    }

    /// Parses any revision string, including the legacy `<ref>/<hash>` form.
    /// Returns `None` when no hash can be found.
    pub fn parse(revision: &str) -> Option<Self> {
        let (reference, digest) = match revision.rsplit_once('@') {
            Some((reference, digest)) => (Some(reference), digest),
            None => (None, revision),
        };
        if let Some((algorithm, hash)) = digest.split_once(':')
            && !algorithm.is_empty()
            && is_hex(hash)
        {
            return Some(Self {
                reference: reference.map(str::to_string),
                algorithm: algorithm.to_string(),
                hash: hash.to_string(),
            });
        }
        // Legacy: `main/6f2c…` (source-controller < 1.0).
        let (reference, hash) = revision.rsplit_once('/')?;
        (is_hex(hash) && matches!(hash.len(), 40 | 64)).then(|| Self::git(Some(reference), hash))
    }

    /// The first 12 hex digits, as shown in short messages.
    pub fn short_hash(&self) -> &str {
        &self.hash[..self.hash.len().min(12)]
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Some(reference) => write!(f, "{reference}@{}:{}", self.algorithm, self.hash),
            None => write!(f, "{}:{}", self.algorithm, self.hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3f8a0b12e5d6c7a8b9e0f1a2b3c4d5e6f7a8b9c0";

    #[test]
    fn git_revisions_print_like_upstream() {
        assert_eq!(
            Revision::git(Some("main"), SHA).to_string(),
            format!("main@sha1:{SHA}")
        );
        assert_eq!(
            Revision::git(Some("v1.2.3"), SHA).to_string(),
            format!("v1.2.3@sha1:{SHA}")
        );
        assert_eq!(
            Revision::git(Some("refs/pull/1/head"), SHA).to_string(),
            format!("refs/pull/1/head@sha1:{SHA}")
        );
        assert_eq!(Revision::git(None, SHA).to_string(), format!("sha1:{SHA}"));
        let sha256 = "a".repeat(64);
        assert_eq!(
            Revision::git(Some("main"), &sha256).to_string(),
            format!("main@sha256:{sha256}")
        );
    }

    #[test]
    fn parses_current_and_legacy_forms() {
        for (input, reference, algorithm) in [
            (format!("main@sha1:{SHA}"), Some("main"), "sha1"),
            (format!("sha1:{SHA}"), None, "sha1"),
            (format!("feature/x@sha1:{SHA}"), Some("feature/x"), "sha1"),
            (format!("main/{SHA}"), Some("main"), "sha1"),
            (
                format!("latest@sha256:{}", "b".repeat(64)),
                Some("latest"),
                "sha256",
            ),
        ] {
            let parsed = Revision::parse(&input).unwrap();
            assert_eq!(parsed.reference.as_deref(), reference, "{input}");
            assert_eq!(parsed.algorithm, algorithm, "{input}");
        }
        assert_eq!(
            Revision::parse(&format!("main/{SHA}"))
                .unwrap()
                .short_hash(),
            "3f8a0b12e5d6"
        );
        assert!(Revision::parse("6.5.0").is_none());
        assert!(Revision::parse("main/notahash").is_none());
    }
}
