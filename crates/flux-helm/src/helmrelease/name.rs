//! Release names (`internal/release/name.go` upstream).

/// The longest release name Helm accepts (its Secret labels and object
/// names are derived from it).
pub const MAX_RELEASE_NAME: usize = 53;

/// The release name of a HelmRelease: `spec.releaseName`, else
/// `[targetNamespace-]name`, shortened when longer than 53 characters to
/// its first 40 characters, `-` and the first 12 hex digits of the SHA-256
/// of the whole name.
pub fn release_name(
    name: &str,
    release_name: Option<&str>,
    target_namespace: Option<&str>,
) -> String {
    let full = match (release_name.filter(|r| !r.is_empty()), target_namespace) {
        (Some(r), _) => r.to_string(),
        (None, Some(ns)) if !ns.is_empty() => format!("{ns}-{name}"),
        (None, _) => name.to_string(),
    };
    shorten(&full)
}

/// The release name of HelmRelease `hr` ([`release_name`] of its fields).
pub fn of(hr: &flux_api::helm::v2::HelmRelease) -> String {
    release_name(
        hr.metadata.name.as_deref().unwrap_or_default(),
        hr.spec.release_name.as_deref(),
        hr.spec.target_namespace.as_deref(),
    )
}

/// The namespace HelmRelease `hr` releases into: `spec.targetNamespace`,
/// else its own.
pub fn namespace_of(hr: &flux_api::helm::v2::HelmRelease) -> String {
    hr.spec
        .target_namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| hr.metadata.namespace.clone())
        .unwrap_or_default()
}

/// The namespace of HelmRelease `hr`'s release records:
/// `spec.storageNamespace`, else its own.
pub fn storage_namespace_of(hr: &flux_api::helm::v2::HelmRelease) -> String {
    hr.spec
        .storage_namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| hr.metadata.namespace.clone())
        .unwrap_or_default()
}

/// A name of at most 53 characters (bytes, as Go's `len`): longer ones are
/// cut to 40 and suffixed with a digest of the whole.
pub fn shorten(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME {
        return name.to_string();
    }
    let digest = flux_artifact::Digest::of(name.as_bytes()).to_string();
    let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
    // Go slices bytes; a name is DNS-1123 (ASCII) by the CRD's validation,
    // and a cut inside a character is avoided all the same.
    let mut cut = 40;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{}", &name[..cut], &hex[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_upstream_derives_them() {
        assert_eq!(release_name("podinfo", None, None), "podinfo");
        assert_eq!(release_name("podinfo", None, Some("apps")), "apps-podinfo");
        assert_eq!(release_name("podinfo", Some("web"), Some("apps")), "web");
        assert_eq!(release_name("podinfo", Some(""), Some("")), "podinfo");
        // Upstream's own cases (`internal/release/name_test.go`, v1.6.0).
        assert_eq!(
            shorten("release-name-with-very-long-name-which-is-longer-than-53-characters"),
            "release-name-with-very-long-name-which-i-788ca0d0d7b0"
        );
        assert_eq!(
            shorten("another-release-name-with-very-long-name-which-is-longer-than-53-characters"),
            "another-release-name-with-very-long-name-7e72150d5a36"
        );
        assert_eq!(shorten(""), "");
        // A long target namespace: 40 characters, `-`, 12 hex digits.
        assert_eq!(
            release_name(
                "with-a-nice-object-name",
                None,
                Some("a-very-lengthy-target-namespace")
            ),
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3"
        );
        let exactly = "a".repeat(53);
        assert_eq!(shorten(&exactly), exactly);
        assert_eq!(shorten(&"a".repeat(54)).len(), 53);
    }
}
