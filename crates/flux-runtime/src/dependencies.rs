//! `spec.dependsOn`: an object waits until every object it depends on is
//! ready — of any kind, so that a Kustomization can wait for a HelmRelease
//! and the other way round.
//!
//! A dependency is ready when its `readyExpr` (CEL over `self` and `dep`)
//! is true, or, without one, by upstream's built-in rule: `Ready=True`
//! computed for its current generation and, for kinds that record
//! revisions (`lastAppliedRevision`/`lastAttemptedRevision`), the last
//! attempt applied.

use std::fmt;

use kube::api::{ApiResource, DynamicObject};

use crate::cel::CelError;
use kube::core::GroupVersionKind;
use kube::{Api, Client};
use serde_json::Value;

/// One object depended on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// Its API version (`kustomize.toolkit.fluxcd.io/v1`).
    pub api_version: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace (the dependent's when the reference has none).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// A CEL expression over `self` (the dependent) and `dep` replacing
    /// the built-in rule.
    pub ready_expr: Option<String>,
}

/// Why a dependency is not ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotReady {
    /// `namespace/name` of the dependency.
    pub dependency: String,
    /// Why its `readyExpr` could not decide, if that is the cause.
    pub cause: Option<String>,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dependency '{}' is not ready", self.dependency)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// Whether `dep` (an object as JSON) is ready for `me` by `ready_expr`,
/// else by the built-in rule. Pure.
pub fn is_ready(me: &Value, dep: &Value, ready_expr: Option<&str>) -> Result<bool, CelError> {
    if let Some(expr) = ready_expr.filter(|e| !e.is_empty()) {
        return crate::cel::evaluate_bool(expr, &[("self", me), ("dep", dep)]);
    }
    let status = dep.get("status");
    let field = |name: &str| status.and_then(|s| s.get(name));
    let generation = dep.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = field("observedGeneration").and_then(Value::as_i64);
    let ready = field("conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    // A Kustomization is ready for its dependents once its last attempt
    // was applied; a HelmRelease's `lastAttemptedRevision` is a chart
    // version with no applied counterpart (upstream's helm-controller
    // checks generation and Ready only).
    let applied_last_attempt = dep.get("kind").and_then(Value::as_str) == Some("HelmRelease")
        || field("lastAppliedRevision") == field("lastAttemptedRevision");
    Ok(ready && observed == generation && applied_last_attempt)
}

/// The first of `dependencies` that is not ready for `me`, read from the
/// cluster in order; `None` when all are ready. A dependency that cannot
/// be read is not ready.
pub async fn first_not_ready(
    client: &Client,
    me: &Value,
    dependencies: &[Dependency],
) -> Option<NotReady> {
    for dependency in dependencies {
        let (group, version) = dependency
            .api_version
            .split_once('/')
            .unwrap_or(("", &dependency.api_version));
        let gvk = GroupVersionKind::gvk(group, version, &dependency.kind);
        let resource = ApiResource::from_gvk(&gvk);
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &dependency.namespace, &resource);
        let id = format!("{}/{}", dependency.namespace, dependency.name);
        let ready = match api.get_opt(&dependency.name).await {
            Ok(Some(object)) => {
                let dep = serde_json::to_value(&object).unwrap_or(Value::Null);
                match is_ready(me, &dep, dependency.ready_expr.as_deref()) {
                    Ok(ready) => ready,
                    Err(cause) => {
                        return Some(NotReady {
                            dependency: id,
                            cause: Some(cause.0),
                        });
                    }
                }
            }
            _ => false,
        };
        if !ready {
            return Some(NotReady {
                dependency: id,
                cause: None,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kustomization(generation: i64, observed: i64, ready: &str, applied: &str) -> Value {
        json!({
            "metadata": {"name": "infra", "generation": generation},
            "status": {
                "observedGeneration": observed,
                "conditions": [{"type": "Ready", "status": ready}],
                "lastAppliedRevision": applied,
                "lastAttemptedRevision": "main@sha1:2",
            }
        })
    }

    #[test]
    fn the_built_in_rule_needs_ready_at_the_generation_and_the_last_attempt_applied() {
        let me = json!({});
        let ready = kustomization(2, 2, "True", "main@sha1:2");
        assert_eq!(is_ready(&me, &ready, None), Ok(true));
        assert_eq!(
            is_ready(&me, &kustomization(3, 2, "True", "main@sha1:2"), None),
            Ok(false)
        );
        assert_eq!(
            is_ready(&me, &kustomization(2, 2, "False", "main@sha1:2"), None),
            Ok(false)
        );
        assert_eq!(
            is_ready(&me, &kustomization(2, 2, "True", "main@sha1:1"), None),
            Ok(false)
        );
        // A kind without revisions (a HelmRelease) is ready by its conditions.
        let release = json!({
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
        });
        assert_eq!(is_ready(&me, &release, None), Ok(true));
        // A HelmRelease's last attempted revision is a chart version.
        let installed = json!({
            "kind": "HelmRelease",
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "lastAttemptedRevision": "1.0.0",
                "conditions": [{"type": "Ready", "status": "True"}]}
        });
        assert_eq!(is_ready(&me, &installed, None), Ok(true));
        assert_eq!(is_ready(&me, &json!({"metadata": {}}), None), Ok(false));
    }

    #[test]
    fn ready_expressions_replace_the_rule() {
        let me = json!({"metadata": {"name": "apps"}});
        let dep = kustomization(3, 2, "False", "x");
        assert_eq!(
            is_ready(
                &me,
                &dep,
                Some("dep.metadata.name == 'infra' && self.metadata.name == 'apps'")
            ),
            Ok(true)
        );
        assert!(is_ready(&me, &dep, Some("dep.nope.field")).is_err());
        let message = NotReady {
            dependency: "flux-system/infra".into(),
            cause: None,
        };
        assert_eq!(
            message.to_string(),
            "dependency 'flux-system/infra' is not ready"
        );
    }
}
