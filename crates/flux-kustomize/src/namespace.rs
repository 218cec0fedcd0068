//! The `namespace` field: kustomize's namespace transformer with its
//! built-in field specs.
//!
//! - `metadata.namespace` is set (created) on every resource kustomize's
//!   built-in OpenAPI schema does not know as cluster-scoped — kinds it does
//!   not know at all (custom resources) count as namespaced;
//! - a `v1` `Namespace` gets the namespace as its name;
//! - `RoleBinding`/`ClusterRoleBinding` subjects named `default` get it as
//!   their namespace (kustomize's default `defaultOnly` mode);
//! - `APIService` `spec.service.namespace` (created) and a CRD's conversion
//!   webhook service namespace (when present).

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, visit};

/// Types kustomize's built-in schema lists as cluster-scoped
/// (`apiVersion`, `kind`); the lookup is by exact apiVersion.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Whether kustomize treats (`api_version`, `kind`) as cluster-scoped.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(v, k)| *v == api_version && *k == kind)
}

/// The same for a group and version held apart (no allocation).
pub fn is_cluster_scoped_parts(group: &str, version: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|(v, k)| {
        *k == kind
            && match v.split_once('/') {
                Some((g, ver)) => g == group && ver == version,
                None => group.is_empty() && *v == version,
            }
    })
}

/// How RoleBinding/ClusterRoleBinding subjects follow the namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subjects {
    /// Subjects named `default` (kustomize's default).
    #[default]
    DefaultOnly,
    /// Every ServiceAccount subject.
    AllServiceAccounts,
    /// None.
    None,
}

/// The namespace transformer's settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// Its field specs (kustomize's `namespace` table by default).
    pub specs: &'a [FieldSpec],
    /// Only set namespaces that are not set yet.
    pub unset_only: bool,
    /// Which binding subjects follow.
    pub subjects: Subjects,
}

/// Applies `namespace` to `object` in place, as kustomize's namespace
/// filter does: `metadata.namespace` of every kind not known to be
/// cluster-scoped, binding subjects, then the other field specs
/// (`metadata/name` only for `v1` objects — the Namespace itself).
pub fn apply(object: &mut Value, namespace: &str, settings: Settings<'_>) -> Result<(), String> {
    let api_version = text(object.get("apiVersion"));
    let kind = text(object.get("kind"));
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let (group, version) = (group.to_string(), version.to_string());
    let set = |node: &mut Value| -> Result<(), String> {
        match node {
            Value::Map(_) | Value::Seq(_) => {
                Err("namespace field specs must target scalar nodes".to_string())
            }
            Value::String(s) if settings.unset_only && !s.is_empty() => Ok(()),
            _ => {
                *node = Value::String(namespace.to_string());
                Ok(())
            }
        }
    };
    let mut failure = Ok(());
    let mut setter = |node: &mut Value| {
        if failure.is_ok() {
            failure = set(node);
        }
    };
    if !is_cluster_scoped(&api_version, &kind) {
        let spec = FieldSpec::any("namespace", "metadata/namespace", true);
        visit(object, &spec, &mut setter);
    }
    let binding = kind == "RoleBinding" || kind == "ClusterRoleBinding";
    if binding && let Some(Value::Seq(subjects)) = get_mut(object, "subjects") {
        for subject in subjects {
            let follows = match settings.subjects {
                Subjects::None => false,
                Subjects::DefaultOnly => {
                    subject.get("name").and_then(Value::as_str) == Some("default")
                }
                Subjects::AllServiceAccounts => {
                    subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                }
            };
            if follows {
                let spec = FieldSpec::any("namespace", "namespace", true);
                visit(subject, &spec, &mut setter);
            }
        }
    }
    for spec in settings.specs {
        if spec.path == "metadata/namespace"
            || (spec.path == "metadata/name" && api_version != "v1")
            || (binding
                && spec.path == "subjects/namespace"
                && (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding"))
            || !spec.matches(&group, &version, &kind)
        {
            continue;
        }
        visit(object, spec, &mut setter);
    }
    failure
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

fn get_mut<'a>(object: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match object {
        Value::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}
