//! `ArtifactGenerator` v1beta1: ExternalArtifacts built from the files of
//! other sources.

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::Condition;

/// The finalizer of ArtifactGenerators.
pub const FINALIZER: &str = "source.extensions.fluxcd.io/finalizer";
/// The label on generated ExternalArtifacts: the generator's UID.
pub const GENERATOR_LABEL: &str = "source.extensions.fluxcd.io/generator";
/// The annotation that disables reconciliation (`disabled`).
pub const RECONCILE_ANNOTATION: &str = "source.extensions.fluxcd.io/reconcile";

const ALIAS: &str = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$";
const ALIAS_PATH: &str = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$";
const ALIAS_REF: &str = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$";
const ARTIFACT_PATH: &str = r"^@artifact/([^/]{0,1}|[^./][^/]|[.][^./]|[^/]{3,})(/([^/]{0,1}|[^./][^/]|[.][^./]|[^/]{3,}))*$";

/// The desired state of an artifact generator.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(crates(kube_core = "::kube_core"))]
#[kube(
    group = "source.extensions.fluxcd.io",
    version = "v1beta1",
    kind = "ArtifactGenerator",
    plural = "artifactgenerators",
    namespaced,
    status = "ArtifactGeneratorStatus",
    schema = "disabled",
    derive = "Default",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "artifact names must be valid Kubernetes object names when pathPattern is not set", "rule": "has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, a.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))"}
]))]
pub struct ArtifactGeneratorSpec {
    /// Labels and annotations of every generated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// The sources read, by alias.
    #[schemars(extend("minItems" = 1, "maxItems" = 1000))]
    pub sources: Vec<SourceReference>,
    /// `@<alias>/<pattern>`: one set of artifacts per directory matched
    /// (named captures such as `{app}` usable in the artifacts' fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), regex(pattern = ALIAS_PATH))]
    pub path_pattern: Option<String>,
    /// The ExternalArtifacts to generate.
    #[serde(rename = "artifacts")]
    #[schemars(extend("minItems" = 1, "maxItems" = 1000))]
    pub output_artifacts: Vec<OutputArtifact>,
}

/// Labels and annotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommonMetadata {
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// A source read by a generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceReference {
    /// Its alias in copy operations (unique in the generator).
    #[schemars(length(max = 63), regex(pattern = ALIAS))]
    pub alias: String,
    /// Its name.
    #[schemars(length(max = 253), regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: String,
    /// Its namespace (the generator's when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
    /// Its kind.
    pub kind: SourceKind,
}

/// The source kinds a generator reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// A Bucket.
    Bucket,
    /// A GitRepository.
    #[default]
    GitRepository,
    /// An OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// A HelmChart.
    HelmChart,
    /// An ExternalArtifact.
    ExternalArtifact,
}

impl SourceKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Bucket => "Bucket",
            SourceKind::GitRepository => "GitRepository",
            SourceKind::OciRepository => "OCIRepository",
            SourceKind::HelmChart => "HelmChart",
            SourceKind::ExternalArtifact => "ExternalArtifact",
        }
    }
}

/// One generated ExternalArtifact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputArtifact {
    /// The ExternalArtifact's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `@<alias>`: the revision of that source instead of the content's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = ALIAS_REF))]
    pub revision: Option<String>,
    /// `@<alias>`: that source's origin revision as the artifact's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = ALIAS_REF))]
    pub origin_revision: Option<String>,
    /// The copy operations, in order (later ones overwrite).
    #[schemars(extend("minItems" = 1))]
    pub copy: Vec<CopyOperation>,
}

/// Files copied from a source into the artifact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyOperation {
    /// `@<alias>/<glob>`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = ALIAS_PATH))]
    pub from: String,
    /// `@artifact/<path>` (a trailing `/` names a folder).
    #[schemars(length(min = 1, max = 1024), regex(pattern = ARTIFACT_PATH))]
    pub to: String,
    /// Globs of files left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("maxItems" = 100), inner(length(max = 1024)))]
    pub exclude: Vec<String>,
    /// `Overwrite` (default), `Merge` (YAML values merged) or `Extract`
    /// (tarballs unpacked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<CopyStrategy>,
}

/// How a copy treats what it copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CopyStrategy {
    /// Later files replace earlier ones.
    Overwrite,
    /// YAML files are merged as Helm merges values.
    Merge,
    /// `.tar.gz`/`.tgz` archives are unpacked.
    Extract,
}

/// The observed state of an artifact generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactGeneratorStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The ExternalArtifacts generated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<ExternalArtifactReference>,
    /// A digest of the sources' artifacts last built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
}

/// A generated ExternalArtifact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalArtifactReference {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its artifact's digest.
    pub digest: String,
    /// Its artifact's file name.
    pub filename: String,
}
