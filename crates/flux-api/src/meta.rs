//! The types every toolkit kind shares (upstream `fluxcd/pkg/apis/meta`):
//! conditions, artifacts, object references, the reconcile-request status.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::{ARTIFACT_DIGEST, CONDITION_REASON, CONDITION_TYPE};

/// The status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// It is not known whether the condition holds.
    Unknown,
}

/// One aspect of an object's current state (Kubernetes `metav1.Condition`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    /// The condition's type, in CamelCase (`Ready`, `Reconciling`, …).
    #[schemars(length(max = 316), regex(pattern = CONDITION_TYPE))]
    pub r#type: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// The `.metadata.generation` the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    #[schemars(schema_with = "crate::schema::date_time")]
    pub last_transition_time: Time,
    /// Why the condition last changed, as a CamelCase identifier.
    #[schemars(length(min = 1, max = 1024), regex(pattern = CONDITION_REASON))]
    pub reason: String,
    /// A human-readable account of the last change.
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// The output of a source reconciliation, stored and served by the source controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Artifact {
    /// The archive's path relative to the storage root.
    pub path: String,
    /// The HTTP address the archive can be downloaded from.
    pub url: String,
    /// A human-readable identifier of the content (`main@sha1:…`).
    pub revision: String,
    /// `<algorithm>:<hex>` digest of the archive.
    #[schemars(regex(pattern = ARTIFACT_DIGEST))]
    pub digest: String,
    /// When the artifact was last updated.
    #[schemars(schema_with = "crate::schema::date_time")]
    pub last_update_time: Time,
    /// Size of the archive in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Extra metadata (for instance OCI annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalObjectReference {
    /// The object's name.
    pub name: String,
}

/// A reference to an object, optionally in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespacedObjectReference {
    /// The object's name.
    pub name: String,
    /// The object's namespace; the referrer's when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyReference {
    /// The Secret's name.
    pub name: String,
    /// The key in the Secret; a default applies when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The annotation that requests an immediate reconciliation; its value is an
/// opaque token echoed in `status.lastHandledReconcileAt` once handled.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";
/// The finalizer every toolkit controller puts on the objects it manages.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Condition types shared by every kind.
pub mod condition_type {
    /// The object is reconciled and its last reconciliation succeeded.
    pub const READY: &str = "Ready";
    /// A reconciliation is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// Reconciliation cannot progress without a change (abnormal-true).
    pub const STALLED: &str = "Stalled";
    /// Health checks pass.
    pub const HEALTHY: &str = "Healthy";
}

/// Condition reasons shared by every kind.
pub mod reason {
    /// The operation succeeded.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The operation failed.
    pub const FAILED: &str = "Failed";
    /// Work is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Work is in progress after a failure.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A path is invalid.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// A URL is invalid.
    pub const INVALID_URL: &str = "InvalidURL";
    /// Plain-HTTP connections are not allowed.
    pub const INSECURE_CONNECTIONS_DISALLOWED: &str = "InsecureConnectionsDisallowed";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Fetching an artifact failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A health check failed.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// The reconciliation succeeded.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// The reconciliation failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A CEL expression is invalid.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// Access to a cross-namespace reference is denied.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}

/// Namespaces allowed to reference an object (upstream `acl.AccessFrom`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessFrom {
    /// Label selectors of the allowed namespaces.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// A label selector for namespaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSelector {
    /// Labels a namespace must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// The artifact of the `v1beta2` source APIs, whose digest was optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactV1Beta2 {
    /// The archive's path relative to the storage root.
    pub path: String,
    /// The HTTP address the archive can be downloaded from.
    pub url: String,
    /// A human-readable identifier of the content.
    pub revision: String,
    /// `<algorithm>:<hex>` digest of the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ARTIFACT_DIGEST))]
    pub digest: Option<String>,
    /// When the artifact was last updated.
    #[schemars(schema_with = "crate::schema::date_time")]
    pub last_update_time: Time,
    /// Size of the archive in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Extra metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}
