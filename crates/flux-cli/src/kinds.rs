//! The Flux kinds the commands handle, and how each reports itself.

use kube::api::{ApiResource, DynamicObject};
use serde_json::Value;

/// One toolkit kind at the version the CLI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// `GitRepository`.
    pub kind: &'static str,
    /// `source.toolkit.fluxcd.io`.
    pub group: &'static str,
    /// `v1`.
    pub version: &'static str,
    /// `gitrepositories`.
    pub plural: &'static str,
    /// How messages name it: `source git`, `kustomization`.
    pub noun: &'static str,
}

/// `GitRepository`.
pub const GIT_REPOSITORY: Kind = Kind {
    kind: "GitRepository",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "gitrepositories",
    noun: "source git",
};
/// `OCIRepository`.
pub const OCI_REPOSITORY: Kind = Kind {
    kind: "OCIRepository",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "ocirepositories",
    noun: "source oci",
};
/// `Bucket`.
pub const BUCKET: Kind = Kind {
    kind: "Bucket",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "buckets",
    noun: "source bucket",
};
/// `HelmRepository`.
pub const HELM_REPOSITORY: Kind = Kind {
    kind: "HelmRepository",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "helmrepositories",
    noun: "source helm",
};
/// `HelmChart`.
pub const HELM_CHART: Kind = Kind {
    kind: "HelmChart",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "helmcharts",
    noun: "source chart",
};
/// `ExternalArtifact`.
pub const EXTERNAL_ARTIFACT: Kind = Kind {
    kind: "ExternalArtifact",
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "externalartifacts",
    noun: "source external",
};
/// `Kustomization`.
pub const KUSTOMIZATION: Kind = Kind {
    kind: "Kustomization",
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    plural: "kustomizations",
    noun: "kustomization",
};
/// `HelmRelease`.
pub const HELM_RELEASE: Kind = Kind {
    kind: "HelmRelease",
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    plural: "helmreleases",
    noun: "helmrelease",
};

/// `Alert`.
pub const ALERT: Kind = Kind {
    kind: "Alert",
    group: "notification.toolkit.fluxcd.io",
    version: "v1beta3",
    plural: "alerts",
    noun: "alert",
};
/// `Provider`.
pub const ALERT_PROVIDER: Kind = Kind {
    kind: "Provider",
    group: "notification.toolkit.fluxcd.io",
    version: "v1beta3",
    plural: "providers",
    noun: "alert-provider",
};
/// `Receiver`.
pub const RECEIVER: Kind = Kind {
    kind: "Receiver",
    group: "notification.toolkit.fluxcd.io",
    version: "v1",
    plural: "receivers",
    noun: "receiver",
};

/// `ImageRepository`.
pub const IMAGE_REPOSITORY: Kind = Kind {
    kind: "ImageRepository",
    group: "image.toolkit.fluxcd.io",
    version: "v1",
    plural: "imagerepositories",
    noun: "image repository",
};
/// `ImagePolicy`.
pub const IMAGE_POLICY: Kind = Kind {
    kind: "ImagePolicy",
    group: "image.toolkit.fluxcd.io",
    version: "v1",
    plural: "imagepolicies",
    noun: "image policy",
};
/// `ImageUpdateAutomation`.
pub const IMAGE_UPDATE: Kind = Kind {
    kind: "ImageUpdateAutomation",
    group: "image.toolkit.fluxcd.io",
    version: "v1",
    plural: "imageupdateautomations",
    noun: "image update automation",
};

/// The image kinds, in upstream's `flux get images all` order.
pub const IMAGES: [Kind; 3] = [IMAGE_REPOSITORY, IMAGE_POLICY, IMAGE_UPDATE];

/// The sources, in upstream's `flux get sources all` order.
pub const SOURCES: [Kind; 6] = [
    OCI_REPOSITORY,
    BUCKET,
    GIT_REPOSITORY,
    HELM_REPOSITORY,
    HELM_CHART,
    EXTERNAL_ARTIFACT,
];

/// Every kind `flux get all` lists, in upstream's order.
pub const ALL: [Kind; 8] = [
    OCI_REPOSITORY,
    BUCKET,
    GIT_REPOSITORY,
    HELM_REPOSITORY,
    HELM_CHART,
    EXTERNAL_ARTIFACT,
    HELM_RELEASE,
    KUSTOMIZATION,
];

impl Kind {
    /// The kind named `kind` (as in a `sourceRef`).
    pub fn by_kind(kind: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.kind == kind)
    }

    /// For `kube::Api::namespaced_with`.
    pub fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: format!("{}/{}", self.group, self.version),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The REVISION column: the artifact's revision for sources, the last
    /// applied one for Kustomizations, the chart version for HelmReleases.
    pub fn revision(&self, object: &DynamicObject) -> String {
        let status = &object.data["status"];
        let text = match self.kind {
            "Kustomization" => status["lastAppliedRevision"].as_str(),
            "HelmRelease" => status["history"][0]["chartVersion"].as_str(),
            _ => status["artifact"]["revision"].as_str(),
        };
        text.unwrap_or_default().to_string()
    }

    /// What `reconcile` prints once the object is Ready.
    pub fn success_message(&self, object: &DynamicObject) -> String {
        let revision = self.revision(object);
        let status = &object.data["status"];
        match self.kind {
            "Receiver" => "Receiver reconciliation completed".to_string(),
            "ImageRepository" => format!(
                "scan fetched {} tags",
                status["lastScanResult"]["tagCount"]
                    .as_i64()
                    .unwrap_or_default()
            ),
            "ImagePolicy" => {
                let latest = &status["latestRef"];
                let mut reference = format!(
                    "{}:{}",
                    latest["name"].as_str().unwrap_or_default(),
                    latest["tag"].as_str().unwrap_or_default()
                );
                if let Some(digest) = latest["digest"].as_str().filter(|d| !d.is_empty()) {
                    reference.push('@');
                    reference.push_str(digest);
                }
                format!("selected ref {reference}")
            }
            "ImageUpdateAutomation" => {
                match condition(object, "Ready").and_then(|c| c["message"].as_str()) {
                    Some(message) => message.to_string(),
                    None => match status["lastAutomationRunTime"].as_str() {
                        Some(t) => format!("last run {t}"),
                        None => "automation not yet run".to_string(),
                    },
                }
            }
            "Kustomization" => format!("applied revision {revision}"),
            "HelmRelease" => format!("applied revision {revision}"),
            _ => format!("fetched revision {revision}"),
        }
    }
}

/// Kinds without a status (Alert, Provider): upstream treats them as
/// ready once they exist.
pub fn is_static(kind: &Kind) -> bool {
    matches!(kind.kind, "Alert" | "Provider")
}

/// `spec.suspend`.
pub fn suspended(object: &DynamicObject) -> bool {
    object.data["spec"]["suspend"].as_bool().unwrap_or(false)
}

/// The `Ready` condition's status and message, upstream's defaults when
/// the object has none yet.
pub fn ready(object: &DynamicObject) -> (String, String) {
    match condition(object, "Ready") {
        Some(c) => (
            c["status"].as_str().unwrap_or("Unknown").to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        ),
        None => ("False".to_string(), "waiting to be reconciled".to_string()),
    }
}

/// The condition of `type` (matched case-insensitively, as `--status-selector` does).
pub fn condition<'a>(object: &'a DynamicObject, kind: &str) -> Option<&'a Value> {
    object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .rev()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
}

/// Go's `strconv.FormatBool` title-cased: `True`/`False`.
pub fn title_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// Upstream's `TruncateHex`: every run of 40 to 128 lowercase hex digits
/// (a whole word) shortened to its first 8.
pub fn truncate_hex(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || !is_word(bytes[i - 1]);
        if at_boundary && is_hex(bytes[i]) {
            let mut j = i;
            while j < bytes.len() && is_hex(bytes[j]) {
                j += 1;
            }
            let len = j - i;
            let ends_word = j == bytes.len() || !is_word(bytes[j]);
            if (40..=128).contains(&len) && ends_word {
                out.push_str(&text[i..i + 8]);
                i = j;
                continue;
            }
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::truncate_hex;

    #[test]
    fn truncates_like_upstream() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            truncate_hex(&format!("main@sha1:{sha}")),
            "main@sha1:01234567"
        );
        assert_eq!(
            truncate_hex(&format!("Applied revision: main@sha1:{sha}")),
            "Applied revision: main@sha1:01234567"
        );
        // Too short, or glued to a word: left alone.
        assert_eq!(truncate_hex("abc123"), "abc123");
        assert_eq!(truncate_hex(&format!("x{sha}")), format!("x{sha}"));
        assert_eq!(truncate_hex("résumé 0123"), "résumé 0123");
    }
}
