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

/// Applies `namespace` to `object` in place.
pub fn apply(object: &mut Value, namespace: &str) {
    let api_version = text(object.get("apiVersion"));
    let kind = text(object.get("kind"));
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    if !is_cluster_scoped(&api_version, &kind) {
        set_path(object, &["metadata", "namespace"], namespace, true);
    }
    if kind == "Namespace" && api_version == "v1" {
        set_path(object, &["metadata", "name"], namespace, true);
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(Value::Seq(subjects)) = get_mut(object, "subjects")
    {
        for subject in subjects {
            if subject.get("name").and_then(Value::as_str) == Some("default") {
                set_path(subject, &["namespace"], namespace, true);
            }
        }
    }
    if kind == "APIService" && group == "apiregistration.k8s.io" {
        set_path(object, &["spec", "service", "namespace"], namespace, true);
    }
    if kind == "CustomResourceDefinition" && group == "apiextensions.k8s.io" {
        set_path(
            object,
            &[
                "spec",
                "conversion",
                "webhook",
                "clientConfig",
                "service",
                "namespace",
            ],
            namespace,
            false,
        );
    }
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

/// Sets the string at `path`; with `create`, missing (or null) mappings on
/// the way are created, else a missing path leaves the object alone.
fn set_path(object: &mut Value, path: &[&str], value: &str, create: bool) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for key in parents {
        if !matches!(node, Value::Map(_)) {
            return;
        }
        let exists = matches!(get_mut(node, key), Some(Value::Map(_)));
        if !exists {
            if !create {
                return;
            }
            match get_mut(node, key) {
                Some(slot @ Value::Null) => *slot = Value::Map(Vec::new()),
                Some(_) => return,
                None => {
                    if let Value::Map(entries) = node {
                        entries.push((key.to_string(), Value::Map(Vec::new())));
                    }
                }
            }
        }
        match get_mut(node, key) {
            Some(next) => node = next,
            None => return,
        }
    }
    let Value::Map(entries) = node else { return };
    match entries.iter_mut().find(|(k, _)| k == last) {
        Some((_, slot)) => *slot = Value::String(value.to_string()),
        None if create => entries.push((last.to_string(), Value::String(value.to_string()))),
        None => {}
    }
}
