//! Health of Kubernetes objects, with kstatus' rules (the library Flux
//! uses): a pure [`status`] of one object — `Current`, `InProgress` or
//! `Failed`, with a message — and [`wait`], which polls objects until all
//! are current, one fails, or time runs out.
//!
//! Rules: a deleting object is in progress; an `observedGeneration` behind
//! `generation` is in progress; Deployments, StatefulSets, DaemonSets and
//! ReplicaSets compare their replica counters (a Deployment whose
//! `Progressing` condition says `ProgressDeadlineExceeded` failed); Jobs
//! are current when complete and failed when failed; Pods when succeeded
//! or running and ready; PVCs when bound; LoadBalancer Services when they
//! have an ingress; CRDs when established; Namespaces when active; any
//! other object by its standard conditions (`Stalled=True` failed,
//! `Reconciling=True` or `Ready=False`/`Unknown` in progress); no status
//! at all is current.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::ssa::Applier;

/// kstatus' verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Ready.
    Current,
    /// Not yet.
    InProgress,
    /// Will not get there.
    Failed,
}

impl Health {
    /// kstatus' name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Current => "Current",
            Health::InProgress => "InProgress",
            Health::Failed => "Failed",
        }
    }
}

fn int(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .get("status")?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn condition_is(object: &Value, kind: &str, status: &str) -> bool {
    condition(object, kind)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(status)
}

/// The health of one object (its JSON as the API server returns it).
pub fn status(object: &Value) -> (Health, String) {
    let metadata = object.get("metadata");
    if metadata.and_then(|m| m.get("deletionTimestamp")).is_some() {
        return (
            Health::InProgress,
            "Resource scheduled for deletion".to_string(),
        );
    }
    let spec = object.get("spec");
    let st = object.get("status");
    let generation = int(metadata.and_then(|m| m.get("generation")));
    if let Some(observed) = st
        .and_then(|s| s.get("observedGeneration"))
        .and_then(Value::as_i64)
        && observed < generation
    {
        return (
            Health::InProgress,
            format!("Generation mismatch: expected {generation}, observed {observed}"),
        );
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.split_once('/'))
        .map(|(g, _)| g)
        .unwrap_or("");
    let s = |key: &str| int(st.and_then(|s| s.get(key)));
    let desired = spec
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    match (group, kind) {
        ("apps", "Deployment") => {
            if condition(object, "Progressing")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
                == Some("ProgressDeadlineExceeded")
            {
                return (Health::Failed, "Progress deadline exceeded".to_string());
            }
            if st.is_none() || s("observedGeneration") == 0 && generation > 0 {
                return (
                    Health::InProgress,
                    "Deployment not yet observed".to_string(),
                );
            }
            let (updated, available, ready, total) = (
                s("updatedReplicas"),
                s("availableReplicas"),
                s("readyReplicas"),
                s("replicas"),
            );
            if updated < desired {
                return (Health::InProgress, format!("Updated: {updated}/{desired}"));
            }
            if total > updated {
                return (
                    Health::InProgress,
                    format!("Pending termination: {}", total - updated),
                );
            }
            if available < updated {
                return (
                    Health::InProgress,
                    format!("Available: {available}/{updated}"),
                );
            }
            if ready < desired {
                return (Health::InProgress, format!("Ready: {ready}/{desired}"));
            }
            (
                Health::Current,
                format!("Deployment is available. Replicas: {total}"),
            )
        }
        ("apps", "StatefulSet") => {
            if st.is_none() {
                return (
                    Health::InProgress,
                    "StatefulSet not yet observed".to_string(),
                );
            }
            let ready = s("readyReplicas");
            if ready < desired {
                return (Health::InProgress, format!("Ready: {ready}/{desired}"));
            }
            let current = st
                .and_then(|s| s.get("currentRevision"))
                .and_then(Value::as_str);
            let update = st
                .and_then(|s| s.get("updateRevision"))
                .and_then(Value::as_str);
            if current != update {
                return (
                    Health::InProgress,
                    format!(
                        "Waiting for rolling update to complete {}/{desired}",
                        s("updatedReplicas")
                    ),
                );
            }
            (
                Health::Current,
                format!("All replicas scheduled as expected. Replicas: {ready}"),
            )
        }
        ("apps", "DaemonSet") => {
            if st.is_none() {
                return (Health::InProgress, "DaemonSet not yet observed".to_string());
            }
            let wanted = s("desiredNumberScheduled");
            for (key, label) in [
                ("updatedNumberScheduled", "Updated"),
                ("numberAvailable", "Available"),
                ("numberReady", "Ready"),
            ] {
                if s(key) < wanted {
                    return (Health::InProgress, format!("{label}: {}/{wanted}", s(key)));
                }
            }
            (
                Health::Current,
                format!("All replicas scheduled as expected. Replicas: {wanted}"),
            )
        }
        ("apps", "ReplicaSet") => {
            for (key, label) in [
                ("readyReplicas", "Ready"),
                ("availableReplicas", "Available"),
            ] {
                if s(key) < desired {
                    return (Health::InProgress, format!("{label}: {}/{desired}", s(key)));
                }
            }
            (
                Health::Current,
                format!("ReplicaSet is available. Replicas: {desired}"),
            )
        }
        ("batch", "Job") => {
            if condition_is(object, "Failed", "True") {
                return (Health::Failed, "Job Failed".to_string());
            }
            if condition_is(object, "Complete", "True") {
                return (Health::Current, "Job Completed".to_string());
            }
            (Health::InProgress, "Job in progress".to_string())
        }
        ("", "Pod") => match st.and_then(|s| s.get("phase")).and_then(Value::as_str) {
            Some("Succeeded") => (
                Health::Current,
                "Pod has completed successfully".to_string(),
            ),
            Some("Failed") => (
                Health::Failed,
                "Pod has completed, but not successfully".to_string(),
            ),
            Some("Running") if condition_is(object, "Ready", "True") => {
                (Health::Current, "Pod is Ready".to_string())
            }
            _ => (Health::InProgress, "Pod is not Ready".to_string()),
        },
        ("", "PersistentVolumeClaim") => {
            if st.and_then(|s| s.get("phase")).and_then(Value::as_str) == Some("Bound") {
                (Health::Current, "PVC is Bound".to_string())
            } else {
                (Health::InProgress, "PVC is not Bound".to_string())
            }
        }
        ("", "Service") => {
            let load_balancer =
                spec.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("LoadBalancer");
            let has_ingress = st
                .and_then(|s| s.get("loadBalancer"))
                .and_then(|l| l.get("ingress"))
                .and_then(Value::as_array)
                .is_some_and(|i| !i.is_empty());
            if load_balancer && !has_ingress {
                (Health::InProgress, "Pending external IP".to_string())
            } else {
                (Health::Current, "Service is ready".to_string())
            }
        }
        ("", "Namespace") => match st.and_then(|s| s.get("phase")).and_then(Value::as_str) {
            Some("Terminating") => (Health::InProgress, "Namespace is terminating".to_string()),
            _ => (Health::Current, "Namespace is Active".to_string()),
        },
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition_is(object, "NamesAccepted", "False") {
                (
                    Health::Failed,
                    "CRD names have not been accepted".to_string(),
                )
            } else if condition_is(object, "Established", "True") {
                (Health::Current, "CRD is established".to_string())
            } else {
                (Health::InProgress, "CRD is not established".to_string())
            }
        }
        _ => {
            if condition_is(object, "Stalled", "True") {
                let message = condition(object, "Stalled")
                    .and_then(|c| c.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return (Health::Failed, message.to_string());
            }
            if condition_is(object, "Reconciling", "True") {
                return (Health::InProgress, "Reconciling".to_string());
            }
            match condition(object, "Ready")
                .and_then(|c| c.get("status"))
                .and_then(Value::as_str)
            {
                Some("False") | Some("Unknown") => {
                    let message = condition(object, "Ready")
                        .and_then(|c| c.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    (Health::InProgress, message.to_string())
                }
                _ => (Health::Current, "Resource is current".to_string()),
            }
        }
    }
}

/// An object to check: `apiVersion`, `kind`, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `group/version` or `version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Target {
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped).
    pub fn subject(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Decides the health of an object instead of kstatus (`None`: kstatus
/// decides); an `Err` leaves the object in progress and is reported if the
/// wait times out. Given `apiVersion`, kind and the object.
pub type CustomHealth<'a> =
    &'a (dyn Fn(&str, &str, &Value) -> Option<Result<Health, crate::cel::CelError>> + Sync);

/// Objects that did not become healthy in time, or failed (kstatus wording).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(pub String);

impl From<String> for Unhealthy {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// Polls `targets` every `every` until all are current (`Ok(elapsed)`),
/// one failed (fail fast), or `timeout` passed; the error is Flux's
/// message.
pub async fn wait(
    applier: &Applier,
    client: &kube::Client,
    targets: &[Target],
    observed: &HashMap<String, Value>,
    custom: CustomHealth<'_>,
    timeout: Duration,
    every: Duration,
) -> Result<Duration, Unhealthy> {
    let start = Instant::now();
    let mut first = true;
    loop {
        let mut pending = Vec::new();
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for target in targets {
            let mut judge = |json: &Value| match custom(&target.api_version, &target.kind, json) {
                None => status(json).0,
                Some(Ok(health)) => health,
                Some(Err(error)) => {
                    errors.push(format!("{}: {error}", target.subject()));
                    Health::InProgress
                }
            };
            // The first round judges what the write returned, where there
            // is one: a kind with no status is current at once, unread.
            let seen = observed.get(&target.subject()).filter(|_| first);
            let health = match seen {
                Some(json) => judge(json),
                None => match applier.resolve(&target.api_version, &target.kind).await {
                    Ok((resource, namespaced)) => {
                        let api: Api<DynamicObject> = if namespaced {
                            Api::namespaced_with(client.clone(), &target.namespace, &resource)
                        } else {
                            Api::all_with(client.clone(), &resource)
                        };
                        match api.get_opt(&target.name).await {
                            Ok(Some(object)) => {
                                judge(&serde_json::to_value(&object).unwrap_or(Value::Null))
                            }
                            Ok(None) | Err(_) => Health::InProgress,
                        }
                    }
                    Err(_) => Health::InProgress,
                },
            };
            match health {
                Health::Current => {}
                Health::InProgress => pending.push(target),
                Health::Failed => failed.push(target),
            }
        }
        first = false;
        let elapsed = start.elapsed();
        let list = |items: &[&Target], health: Health| {
            items
                .iter()
                .map(|t| format!("{} status: '{}'", t.subject(), health.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !failed.is_empty() {
            return Err(format!(
                "health check failed after {}: failed early due to stalled resources: [{}]",
                crate::format_duration(elapsed),
                list(&failed, Health::Failed)
            )
            .into());
        }
        if pending.is_empty() {
            return Ok(elapsed);
        }
        if elapsed >= timeout {
            let mut message = format!(
                "health check failed after {}: timeout waiting for: [{}]",
                crate::format_duration(elapsed),
                list(&pending, Health::InProgress)
            );
            if !errors.is_empty() {
                message.push_str(&format!("; {}", errors.join("; ")));
            }
            return Err(Unhealthy(message));
        }
        tokio::time::sleep(every.min(timeout.saturating_sub(elapsed))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn health(object: Value) -> Health {
        status(&object).0
    }

    #[test]
    fn kstatus_rules() {
        let deployment = |status: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 2},
                   "spec": {"replicas": 2}, "status": status})
        };
        assert_eq!(health(deployment(json!({}))), Health::InProgress);
        assert_eq!(
            health(deployment(
                json!({"observedGeneration": 1, "updatedReplicas": 2})
            )),
            Health::InProgress,
            "generation not observed"
        );
        assert_eq!(
            health(deployment(
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1, "readyReplicas": 1})
            )),
            Health::InProgress
        );
        assert_eq!(
            health(deployment(
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2})
            )),
            Health::Current
        );
        assert_eq!(
            health(deployment(
                json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})
            )),
            Health::Failed
        );
        let job = |c: &str| json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": c, "status": "True"}]}});
        assert_eq!(health(job("Complete")), Health::Current);
        assert_eq!(health(job("Failed")), Health::Failed);
        assert_eq!(
            health(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
            Health::Current
        );
        let flux = |ready: &str| {
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": ready}]}})
        };
        assert_eq!(health(flux("True")), Health::Current);
        assert_eq!(health(flux("False")), Health::InProgress);
        assert_eq!(
            health(
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}})
            ),
            Health::InProgress
        );
        assert_eq!(
            health(
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}})
            ),
            Health::Current
        );
    }
}
