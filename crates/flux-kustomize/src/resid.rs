//! Resource ids and kustomize's legacy output order.

use std::cmp::Ordering;
use std::fmt;

use flux_yaml::Value;

/// Group, version, kind, namespace and name of a resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResId {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when none).
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// An object kustomize cannot identify (no mapping, no kind or name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidObject(pub String);

impl From<String> for InvalidObject {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<InvalidObject> for String {
    fn from(error: InvalidObject) -> String {
        error.0
    }
}

impl ResId {
    /// The id of `object`; kustomize needs a kind and a name.
    pub fn of(object: &Value) -> Result<Self, InvalidObject> {
        let Value::Map(_) = object else {
            return Err(InvalidObject("a resource must be a mapping".to_string()));
        };
        let text = node_text;
        let api_version = text(object.get("apiVersion"));
        // Split at the first slash, as kustomize does.
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version),
        };
        let metadata = object.get("metadata");
        let name = text(metadata.and_then(|m| m.get("name")));
        let kind = text(object.get("kind"));
        if kind.is_empty() {
            return Err(InvalidObject("missing kind in object".to_string()));
        }
        if name.is_empty() {
            return Err(InvalidObject(format!(
                "missing metadata.name in object of kind {kind}"
            )));
        }
        Ok(Self {
            group,
            version,
            kind,
            namespace: text(metadata.and_then(|m| m.get("namespace"))),
            name,
        })
    }
}

impl ResId {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether kustomize knows the kind as cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        crate::namespace::is_cluster_scoped_parts(&self.group, &self.version, &self.kind)
    }

    /// kustomize's effective namespace: `_non_namespaceable_` for a
    /// cluster-scoped kind, `default` for none.
    pub fn effective_namespace(&self) -> String {
        if self.is_cluster_scoped() {
            "_non_namespaceable_".to_string()
        } else if self.namespace.is_empty() {
            "default".to_string()
        } else {
            self.namespace.clone()
        }
    }

    /// The id with its effective namespace: ids that are [`Self::equals`]
    /// have the same key (a cluster-scoped object's `namespace` is
    /// ignored).
    pub fn key(&self) -> ResId {
        ResId {
            namespace: self.effective_namespace(),
            ..self.clone()
        }
    }

    /// kustomize's id equality: same group, version, kind and name, and
    /// the same effective namespace.
    pub fn equals(&self, other: &ResId) -> bool {
        self.group == other.group
            && self.version == other.version
            && self.kind == other.kind
            && self.name == other.name
            && self.effective_namespace() == other.effective_namespace()
    }
}

impl fmt::Display for ResId {
    /// kustomize's form: `Deployment.v1.apps/name.namespace`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or = |s: &str, empty: &'static str| {
            if s.is_empty() {
                empty.to_string()
            } else {
                s.to_string()
            }
        };
        write!(
            f,
            "{}.{}.{}/{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]"),
            self.name,
            or(&self.namespace, "[noNs]")
        )
    }
}

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// kustomize's default legacy lists.
pub fn default_orders() -> (Vec<String>, Vec<String>) {
    (
        ORDER_FIRST.iter().map(|k| k.to_string()).collect(),
        ORDER_LAST.iter().map(|k| k.to_string()).collect(),
    )
}

/// The priority of `kind`: negative for the first list, positive for the
/// last; when a kind is in both, the last list wins (a map assignment in
/// kustomize).
fn type_order(kind: &str, first: &[String], last: &[String]) -> i64 {
    if let Some(i) = last.iter().rposition(|k| k == kind) {
        return 1 + i as i64;
    }
    if let Some(i) = first.iter().rposition(|k| k == kind) {
        return i as i64 - first.len() as i64;
    }
    0
}

fn gvk_sort_string(id: &ResId) -> String {
    let or = |s: &str, empty: &'static str| {
        if s.is_empty() {
            empty.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&id.group, "~G"),
        or(&id.version, "~V"),
        or(&id.kind, "~K")
    )
}

/// kustomize's legacy order: kinds by the priority lists, then group,
/// version and kind, then the id (namespace, name).
pub fn legacy_order(a: &ResId, b: &ResId, first: &[String], last: &[String]) -> Ordering {
    let same_gvk = a.group == b.group && a.version == b.version && a.kind == b.kind;
    if !same_gvk {
        let (ia, ib) = (
            type_order(&a.kind, first, last),
            type_order(&b.kind, first, last),
        );
        if ia != ib {
            return ia.cmp(&ib);
        }
        let (sa, sb) = (gvk_sort_string(a), gvk_sort_string(b));
        if a.kind == "Namespace"
            && b.kind == "Namespace"
            && (a.group.is_empty() || b.group.is_empty())
        {
            return sb.cmp(&sa);
        }
        return sa.cmp(&sb);
    }
    let key = |id: &ResId| {
        let gvk = format!(
            "{}.{}.{}",
            id.kind,
            if id.version.is_empty() {
                "[noVer]"
            } else {
                &id.version
            },
            if id.group.is_empty() {
                "[noGrp]"
            } else {
                &id.group
            }
        );
        format!(
            "{gvk}|{}|{}",
            if id.namespace.is_empty() {
                "~X"
            } else {
                &id.namespace
            },
            if id.name.is_empty() { "~N" } else { &id.name }
        )
    };
    key(a).cmp(&key(b))
}

/// The text kustomize reads from an identity field, whatever its node's tag
/// (a name a replacement wrote as `1` into an untagged node is the name
/// "1"); empty for a missing field, a null, a mapping or a sequence.
pub(crate) fn node_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Uint(u)) => u.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}
