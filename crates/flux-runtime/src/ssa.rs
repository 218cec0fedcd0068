//! Server-side apply of a set of objects the way Flux applies them, with
//! the inventory that remembers what was applied and the prune of what is
//! no longer in it.
//!
//! - Objects go in stages: CRDs, Namespaces and ClusterRoles first (CRDs
//!   are then waited for until established), then `*Class` kinds, then the
//!   rest, each stage in Flux's kind order.
//! - Each object is planned before it is written ([`Applier::plan`]): a
//!   server-side dry run (of the create when it is absent → `created`;
//!   when present, written only if the result differs from the live object
//!   → `configured`, else `unchanged`). Callers plan a whole stage, then
//!   commit it, so a refusal writes nothing of the stage. Applies force
//!   ownership of the fields they set. The drift cache
//!   ([`crate::drift`]) skips the requests for objects known in sync.
//! - `kustomize.toolkit.fluxcd.io/ssa: Ignore` skips an object,
//!   `IfNotPresent` only creates it, `Merge` keeps other managers;
//!   `kustomize.toolkit.fluxcd.io/reconcile: disabled` skips it;
//!   `kustomize.toolkit.fluxcd.io/force: enabled` recreates it when a
//!   change is refused as immutable.
//! - Before an existing object is written, `kubectl apply`'s field managers
//!   and last-applied annotation (and Flux v1's marks) are dropped, as
//!   upstream, so the controller alone keeps the fields it sets.
//! - The inventory id of an object is `<namespace>_<name>_<group>_<kind>`;
//!   prune deletes objects of an old inventory that are not in the new one,
//!   only when they still carry the owner labels and are not annotated
//!   `kustomize.toolkit.fluxcd.io/prune: disabled`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy,
};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::drift::{DriftCache, manifest_digest};

/// The annotation that changes how an object is applied.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// The annotation or label that keeps an object out of apply and prune.
pub const RECONCILE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// The annotation or label that keeps an object out of prune.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// The annotation or label (`enabled`) that recreates an object whose
/// change is refused as immutable, as `spec.force` does for all.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";

/// Field managers whose ownership is dropped before an apply (name prefix,
/// operation), as upstream: `kubectl apply` (client- and server-side),
/// objects created before their first apply, and this controller's own
/// pre-SSA updates. Fields they alone set stop being kept alive by them,
/// so a field removed from Git is removed from the object.
const CLEANUP_MANAGERS: [(&str, &str); 4] = [
    ("kubectl", "Apply"),
    ("kubectl", "Update"),
    ("before-first-apply", "Update"),
    ("kustomize-controller", "Update"),
];
/// Annotations removed before an apply (`kubectl apply`'s and Flux v1's).
const CLEANUP_ANNOTATIONS: [&str; 3] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kustomize.toolkit.fluxcd.io/checksum",
    "fluxcd.io/sync-checksum",
];
/// Labels removed before an apply (Flux v1's).
const CLEANUP_LABELS: [&str; 1] = ["fluxcd.io/sync-gc-mark"];

/// The merge patch that drops the cleanup managers, annotations and labels
/// from `live`, if it has any (an object annotated
/// `kustomize.toolkit.fluxcd.io/ssa: Merge` keeps them).
fn cleanup_patch(live: &DynamicObject, desired: &Value) -> Option<Value> {
    if text(desired, &["metadata", "annotations", SSA_ANNOTATION]).eq_ignore_ascii_case("merge") {
        return None;
    }
    let mut metadata = serde_json::Map::new();
    if let Some(entries) = &live.metadata.managed_fields {
        let kept: Vec<_> = entries
            .iter()
            .filter(|e| {
                !CLEANUP_MANAGERS.iter().any(|(name, operation)| {
                    e.manager.as_deref().is_some_and(|m| m.starts_with(name))
                        && e.operation.as_deref() == Some(*operation)
                        && e.subresource.as_deref().unwrap_or_default().is_empty()
                })
            })
            .collect();
        if kept.len() != entries.len() {
            let kept = if kept.is_empty() {
                // An empty list would leave them; one empty entry resets.
                Value::Array(vec![Value::Object(serde_json::Map::new())])
            } else {
                serde_json::to_value(&kept).unwrap_or(Value::Array(Vec::new()))
            };
            metadata.insert("managedFields".to_string(), kept);
        }
    }
    let drop = |present: Option<&std::collections::BTreeMap<String, String>>, keys: &[&str]| {
        let removed: serde_json::Map<String, Value> = keys
            .iter()
            .filter(|k| present.is_some_and(|p| p.contains_key(**k)))
            .map(|k| (k.to_string(), Value::Null))
            .collect();
        (!removed.is_empty()).then_some(Value::Object(removed))
    };
    if let Some(annotations) = drop(live.metadata.annotations.as_ref(), &CLEANUP_ANNOTATIONS) {
        metadata.insert("annotations".to_string(), annotations);
    }
    if let Some(labels) = drop(live.metadata.labels.as_ref(), &CLEANUP_LABELS) {
        metadata.insert("labels".to_string(), labels);
    }
    (!metadata.is_empty()).then(|| serde_json::json!({ "metadata": metadata }))
}

/// What applying one object did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It did not exist.
    Created,
    /// It existed and differed.
    Configured,
    /// It existed and matched.
    Unchanged,
    /// Skipped by annotation.
    Skipped,
    /// Deleted by prune.
    Deleted,
}

impl Action {
    /// Flux's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped",
            Action::Deleted => "deleted",
        }
    }
}

/// One applied (or deleted) object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped).
    pub subject: String,
    /// What happened.
    pub action: Action,
    /// Its inventory id.
    pub id: String,
    /// Its API version.
    pub version: String,
}

/// A kind the API server does not serve (or discovery failed), in the API
/// machinery's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// An apply failed.
#[derive(Debug, thiserror::Error)]
#[error("{subject} {action} failed: {message}")]
pub struct ApplyError {
    /// `Kind/namespace/name`.
    pub subject: String,
    /// `dry-run`, `apply`, `get`, `delete`.
    pub action: &'static str,
    /// The API server's message.
    pub message: String,
}

/// The inventory id of an object (cli-utils' `ObjMetadata` string).
pub fn inventory_id(namespace: &str, name: &str, group: &str, kind: &str) -> String {
    format!("{namespace}_{}_{group}_{kind}", name.replace(':', "__"))
}

/// Namespace, name, group and kind of an inventory id.
pub fn parse_inventory_id(id: &str) -> Option<(String, String, String, String)> {
    let parts: Vec<&str> = id.split('_').collect();
    if parts.len() < 4 {
        return None;
    }
    let kind = parts[parts.len() - 1].to_string();
    let group = parts[parts.len() - 2].to_string();
    let namespace = parts[0].to_string();
    let name = parts[1..parts.len() - 2].join("_").replace("__", ":");
    Some((namespace, name, group, kind))
}

fn text<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    let mut node = object;
    for key in path {
        match node.get(key) {
            Some(next) => node = next,
            None => return "",
        }
    }
    node.as_str().unwrap_or_default()
}

fn marked(object: &Value, key: &str, value: &str) -> bool {
    ["labels", "annotations"]
        .iter()
        .any(|field| text(object, &["metadata", field, key]).eq_ignore_ascii_case(value))
}

/// Flux's stage of a kind: 0 (CRDs, Namespaces, ClusterRoles), 1 (`*Class`
/// kinds), 2 (the rest).
pub fn stage(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" | "Namespace" | "ClusterRole" => 0,
        k if k.ends_with("Class") => 1,
        _ => 2,
    }
}

/// Flux's apply order of kinds within a stage.
pub fn kind_rank(kind: &str) -> usize {
    const ORDER: [&str; 17] = [
        "CustomResourceDefinition",
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ResourceQuota",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Service",
        "LimitRange",
        "PriorityClass",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: [&str; 2] = [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    if let Some(i) = LAST.iter().position(|k| *k == kind) {
        return 1000 + i;
    }
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// An object checked against the cluster by [`Applier::plan`], to be
/// written by [`Applier::commit`].
pub struct Planned {
    change: Change,
    write: Option<Write>,
    compared: Option<(Value, Value)>,
    /// The object as the API server last returned it (an unchanged one).
    observed: Option<Value>,
}

impl Planned {
    /// What committing it will report.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// For an object that would be configured: the live object and what
    /// the API server's dry run made of it (both without managed fields,
    /// resource version and generation), for a diff.
    pub fn compared(&self) -> Option<&(Value, Value)> {
        self.compared.as_ref()
    }
}

struct Write {
    api: Api<DynamicObject>,
    resource: ApiResource,
    namespace: String,
    name: String,
    manifest: Value,
    digest: [u8; 32],
    recreate: bool,
    cleanup: Option<Value>,
}

/// Applies and deletes objects, resolving kinds through discovery (cached).
pub struct Applier {
    client: Client,
    field_manager: String,
    kinds: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    drift: Option<(Arc<DriftCache>, String)>,
}

impl Applier {
    /// An applier writing as `field_manager`.
    pub fn new(client: Client, field_manager: &str) -> Self {
        Self {
            client,
            field_manager: field_manager.to_string(),
            kinds: Mutex::new(HashMap::new()),
            drift: None,
        }
    }

    /// Skips the dry run of objects the drift cache knows to be in sync
    /// (see [`crate::drift`]); `identity` names this applier's client
    /// (e.g. the impersonated user), as records are kept per identity.
    #[must_use]
    pub fn with_drift_cache(mut self, cache: Arc<DriftCache>, identity: &str) -> Self {
        self.drift = Some((cache, identity.to_string()));
        self
    }

    /// The API resource of (`apiVersion`, `kind`) and whether it is
    /// namespaced.
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, bool), ResolveError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(found);
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| ResolveError(no_matches(kind, api_version, &e)))?;
        let namespaced = capabilities.scope == Scope::Namespaced;
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.insert(key, (resource.clone(), namespaced));
        }
        Ok((resource, namespaced))
    }

    /// The client it writes with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn api(&self, resource: &ApiResource, namespaced: bool, namespace: &str) -> Api<DynamicObject> {
        if namespaced {
            Api::namespaced_with(self.client.clone(), namespace, resource)
        } else {
            Api::all_with(self.client.clone(), resource)
        }
    }

    /// Applies one object (see the module documentation); an object the
    /// drift cache knows to be in sync is `unchanged` without a request.
    /// A new object is created without a dry run first (nothing else of a
    /// set waits on its validation: Helm writes objects one by one too).
    pub async fn apply(&self, object: &Value, force: bool) -> Result<Change, ApplyError> {
        self.apply_observed(object, force).await.map(|(c, _)| c)
    }

    /// [`Self::apply`], also returning the object as the API server
    /// returned it (written, or read and found unchanged), when it did.
    pub async fn apply_observed(
        &self,
        object: &Value,
        force: bool,
    ) -> Result<(Change, Option<Value>), ApplyError> {
        let planned = self.plan_inner(object, force, true, &[], false).await?;
        self.commit_observed(planned).await
    }

    /// Checks one object against the cluster without writing it: a server
    /// dry run (create or apply) decides whether it would be created,
    /// configured or left unchanged, and surfaces every refusal (RBAC,
    /// validation, immutable fields) before anything of the set is
    /// written. With `use_cache`, an object the drift cache knows to be in
    /// sync is `unchanged` without a request. The JSON pointers `ignore`
    /// (`spec.ignore`) are left out of an existing object's apply and
    /// comparison, so whoever else sets those fields keeps them.
    pub async fn plan(
        &self,
        object: &Value,
        force: bool,
        use_cache: bool,
        ignore: &[String],
    ) -> Result<Planned, ApplyError> {
        self.plan_inner(object, force, use_cache, ignore, true)
            .await
    }

    /// [`Self::plan`]; without `validate_new`, an object that does not
    /// exist is planned for creation without the dry run.
    async fn plan_inner(
        &self,
        object: &Value,
        force: bool,
        use_cache: bool,
        ignore: &[String],
        validate_new: bool,
    ) -> Result<Planned, ApplyError> {
        let api_version = text(object, &["apiVersion"]).to_string();
        let kind = text(object, &["kind"]).to_string();
        let name = text(object, &["metadata", "name"]).to_string();
        let mut namespace = text(object, &["metadata", "namespace"]).to_string();
        let subject_of = |ns: &str| {
            if ns.is_empty() {
                format!("{kind}/{name}")
            } else {
                format!("{kind}/{ns}/{name}")
            }
        };
        let fail = |action: &'static str, ns: &str, message: String| ApplyError {
            subject: subject_of(ns),
            action,
            message,
        };
        let (resource, namespaced) = self
            .resolve(&api_version, &kind)
            .await
            .map_err(|m| fail("dry-run", &namespace, m.0))?;
        if !namespaced {
            namespace.clear();
        } else if namespace.is_empty() {
            namespace = "default".to_string();
        }
        let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
        let change = |action| Change {
            subject: subject_of(&namespace),
            action,
            id: inventory_id(&namespace, &name, group, &kind),
            version: api_version
                .split_once('/')
                .map_or(api_version.as_str(), |(_, v)| v)
                .to_string(),
        };
        let nothing = |action| Planned {
            change: change(action),
            write: None,
            compared: None,
            observed: None,
        };
        if marked(object, RECONCILE_ANNOTATION, "disabled")
            || text(object, &["metadata", "annotations", SSA_ANNOTATION])
                .eq_ignore_ascii_case("ignore")
        {
            return Ok(nothing(Action::Skipped));
        }
        let api = self.api(&resource, namespaced, &namespace);
        let mut manifest = object.clone();
        if namespaced
            && let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.insert("namespace".to_string(), Value::String(namespace.clone()));
        }
        let force = force || marked(object, FORCE_ANNOTATION, "enabled");
        let digest = manifest_digest(&manifest, force, ignore);
        if let Some((cache, identity)) = &self.drift {
            if use_cache && cache.in_sync(identity, &resource, &namespace, &name, &digest) {
                return Ok(nothing(Action::Unchanged));
            }
            // Recorded again when the object is found in sync.
            cache.forget(identity, &resource, &namespace, &name);
        }
        let live = api
            .get_opt(&name)
            .await
            .map_err(|e| fail("get", &namespace, kube_message(&e)))?;
        if live.is_some()
            && text(object, &["metadata", "annotations", SSA_ANNOTATION])
                .eq_ignore_ascii_case("ifnotpresent")
        {
            return Ok(nothing(Action::Skipped));
        }
        if live.is_some() {
            for pointer in ignore {
                remove_pointer(&mut manifest, pointer);
            }
        }
        let mut dry = PatchParams::apply(&self.field_manager);
        dry.force = true;
        dry.dry_run = true;
        let cleanup = live.as_ref().and_then(|l| cleanup_patch(l, &manifest));
        let write = |recreate| Write {
            api: api.clone(),
            resource: resource.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            manifest: manifest.clone(),
            digest,
            recreate,
            cleanup: cleanup.clone(),
        };
        if live.is_none() && !validate_new {
            return Ok(Planned {
                change: change(Action::Created),
                write: Some(write(false)),
                compared: None,
                observed: None,
            });
        }
        let planned = match api.patch(&name, &dry, &Patch::Apply(&manifest)).await {
            Ok(planned) => planned,
            Err(e) if live.is_some() && force && is_immutable_error(&e) => {
                return Ok(Planned {
                    change: change(Action::Created),
                    write: Some(write(true)),
                    compared: None,
                    observed: None,
                });
            }
            Err(e) => return Err(fail("dry-run", &namespace, kube_message(&e))),
        };
        let Some(live) = live else {
            return Ok(Planned {
                change: change(Action::Created),
                write: Some(write(false)),
                compared: None,
                observed: None,
            });
        };
        let (planned, live_value) = (comparable(&planned), comparable(&live));
        if planned == live_value && cleanup.is_none() {
            if let Some((cache, identity)) = &self.drift {
                cache.record(
                    identity,
                    &resource,
                    &namespace,
                    &name,
                    digest,
                    live.resource_version(),
                );
            }
            return Ok(Planned {
                observed: serde_json::to_value(&live).ok(),
                ..nothing(Action::Unchanged)
            });
        }
        Ok(Planned {
            change: change(Action::Configured),
            write: Some(write(false)),
            compared: Some((live_value, planned)),
            observed: None,
        })
    }

    /// Writes a planned object (server-side apply forcing ownership; a
    /// planned recreation deletes the object first).
    pub async fn commit(&self, planned: Planned) -> Result<Change, ApplyError> {
        self.commit_observed(planned).await.map(|(c, _)| c)
    }

    /// [`Self::commit`], also returning the object as the API server
    /// returned it, when it did.
    pub async fn commit_observed(
        &self,
        planned: Planned,
    ) -> Result<(Change, Option<Value>), ApplyError> {
        let Planned {
            change,
            write,
            observed,
            ..
        } = planned;
        let Some(write) = write else {
            return Ok((change, observed));
        };
        let fail = |action: &'static str, message: String| ApplyError {
            subject: change.subject.clone(),
            action,
            message,
        };
        if let Some(cleanup) = &write.cleanup
            && !write.recreate
        {
            write
                .api
                .patch(&write.name, &PatchParams::default(), &Patch::Merge(cleanup))
                .await
                .map_err(|e| fail("cleanup", kube_message(&e)))?;
        }
        if write.recreate {
            write
                .api
                .delete(&write.name, &DeleteParams::background())
                .await
                .map_err(|e| fail("delete", kube_message(&e)))?;
            wait_gone(&write.api, &write.name).await;
        }
        let mut params = PatchParams::apply(&self.field_manager);
        params.force = true;
        let applied = write
            .api
            .patch(&write.name, &params, &Patch::Apply(&write.manifest))
            .await
            .map_err(|e| fail("apply", kube_message(&e)))?;
        if let Some((cache, identity)) = &self.drift {
            cache.record(
                identity,
                &write.resource,
                &write.namespace,
                &write.name,
                write.digest,
                applied.resource_version(),
            );
        }
        Ok((change, serde_json::to_value(&applied).ok()))
    }

    /// Waits until the CRD named `name` is established (or `timeout`).
    pub async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ApplyError> {
        let fail = |message: String| ApplyError {
            subject: format!("CustomResourceDefinition/{name}"),
            action: "wait",
            message,
        };
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        ));
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(crd)) = api.get_opt(name).await {
                let established = crd
                    .data
                    .get("status")
                    .and_then(|s| s.get("conditions"))
                    .and_then(Value::as_array)
                    .is_some_and(|conditions| {
                        conditions.iter().any(|c| {
                            c.get("type").and_then(Value::as_str) == Some("Established")
                                && c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    });
                if established {
                    // New kinds: forget cached discovery misses.
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(fail(format!(
                    "CustomResourceDefinition/{name} is not established"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deletes the object of an inventory entry when it still carries the
    /// owner labels (`labels`) and is not protected from prune. `Ok(None)`
    /// when there was nothing to delete.
    pub async fn prune(
        &self,
        id: &str,
        version: &str,
        labels: &[(String, String)],
    ) -> Result<Option<Change>, ApplyError> {
        let Some((namespace, name, group, kind)) = parse_inventory_id(id) else {
            return Ok(None);
        };
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let subject = if namespace.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{kind}/{namespace}/{name}")
        };
        let fail = |message: String| ApplyError {
            subject: subject.clone(),
            action: "delete",
            message,
        };
        let Ok((resource, namespaced)) = self.resolve(&api_version, &kind).await else {
            // The kind is gone (its CRD deleted): so are its objects.
            return Ok(None);
        };
        let api = self.api(&resource, namespaced, &namespace);
        let Some(live) = api
            .get_opt(&name)
            .await
            .map_err(|e| fail(kube_message(&e)))?
        else {
            return Ok(None);
        };
        let live_labels = live.metadata.labels.clone().unwrap_or_default();
        let owned = labels
            .iter()
            .all(|(k, v)| live_labels.get(k).map(String::as_str) == Some(v.as_str()));
        let annotations = live.metadata.annotations.clone().unwrap_or_default();
        let protected = [PRUNE_ANNOTATION, RECONCILE_ANNOTATION].iter().any(|key| {
            annotations
                .get(*key)
                .or_else(|| live_labels.get(*key))
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
        });
        if !owned || protected {
            return Ok(None);
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(e) => return Err(fail(kube_message(&e))),
        }
        if let Some((cache, identity)) = &self.drift {
            cache.forget(identity, &resource, &namespace, &name);
        }
        Ok(Some(Change {
            subject,
            action: Action::Deleted,
            id: id.to_string(),
            version: version.to_string(),
        }))
    }
}

async fn wait_gone(api: &Api<DynamicObject>, name: &str) {
    for _ in 0..150 {
        match api.get_opt(name).await {
            Ok(None) | Err(_) => return,
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn is_immutable_error(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            status.code == 422
                && (status.message.contains("immutable") || status.message.contains("Forbidden"))
        }
        _ => false,
    }
}

/// The API server's message of an error (not the client's wrapping).
pub fn kube_message(error: &kube::Error) -> String {
    match error {
        // A body that was not a Status (`404 page not found`) is the
        // message as the server wrote it; kube's own note on it
        // (`Failed to parse error data`) is left out, as is its debug dump.
        kube::Error::Api(status) if !status.message.is_empty() => {
            status.message.trim_end().to_string()
        }
        kube::Error::Api(status) => match status.code {
            0 => status.reason.clone(),
            code => format!("the server responded with status {code}"),
        },
        other => other.to_string(),
    }
}

/// Discovery's answer for a kind the API server does not serve, in the
/// API machinery's words (`no matches for kind "X" in version "g/v"`);
/// other failures keep their cause.
fn no_matches(kind: &str, api_version: &str, error: &kube::Error) -> String {
    let unserved = match error {
        kube::Error::Api(status) => status.code == 404,
        kube::Error::Discovery(_) => true,
        _ => false,
    };
    let message = format!("no matches for kind \"{kind}\" in version \"{api_version}\"");
    if unserved {
        message
    } else {
        format!("{message}: {}", kube_message(error))
    }
}

/// An object without the fields every write changes.
/// Removes the field at JSON pointer `pointer` (RFC 6901), if present.
fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

fn comparable(object: &DynamicObject) -> Value {
    // What upstream's drift check compares (fluxcd/pkg/ssa): labels,
    // annotations, and everything outside `metadata` and `status`. A status
    // that moved between the read and the dry run (a Deployment scaling) is
    // no drift, nor are the server's own metadata fields.
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
        let metadata = map.remove("metadata");
        let mut kept = serde_json::Map::new();
        for key in ["labels", "annotations"] {
            match metadata.as_ref().and_then(|m| m.get(key)) {
                Some(Value::Object(m)) if m.is_empty() => {}
                Some(v) if !v.is_null() => {
                    kept.insert(key.to_string(), v.clone());
                }
                _ => {}
            }
        }
        if !kept.is_empty() {
            map.insert("metadata".to_string(), Value::Object(kept));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unserved_kinds_are_worded_as_the_api_machinery_words_them() {
        use kube::core::Status;
        let not_found = kube::Error::Api(
            Status::failure("404 page not found\n", "Failed to parse error data")
                .with_code(404)
                .boxed(),
        );
        assert_eq!(kube_message(&not_found), "404 page not found");
        assert_eq!(
            no_matches(
                "ArtifactGenerator",
                "source.extensions.fluxcd.io/v1beta1",
                &not_found
            ),
            "no matches for kind \"ArtifactGenerator\" in version \"source.extensions.fluxcd.io/v1beta1\""
        );
        let forbidden = kube::Error::Api(
            Status::failure("groups are forbidden", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        assert_eq!(
            no_matches("Widget", "example.com/v1", &forbidden),
            "no matches for kind \"Widget\" in version \"example.com/v1\": groups are forbidden"
        );
        let empty = kube::Error::Api(Status::failure("", "").with_code(500).boxed());
        assert_eq!(kube_message(&empty), "the server responded with status 500");
    }

    #[test]
    fn json_pointers_are_removed() {
        let mut value = serde_json::json!({
            "spec": {"replicas": 3, "template": {"metadata": {"annotations": {"a/b": "x", "c": "y"}}}},
            "list": [1, 2, 3]
        });
        remove_pointer(&mut value, "/spec/replicas");
        remove_pointer(&mut value, "/spec/template/metadata/annotations/a~1b");
        remove_pointer(&mut value, "/list/1");
        remove_pointer(&mut value, "/absent/field");
        assert_eq!(
            value,
            serde_json::json!({
                "spec": {"template": {"metadata": {"annotations": {"c": "y"}}}},
                "list": [1, 3]
            })
        );
    }

    #[test]
    fn inventory_ids_round_trip() {
        let id = inventory_id("apps", "web:v1", "apps", "Deployment");
        assert_eq!(id, "apps_web__v1_apps_Deployment");
        assert_eq!(
            parse_inventory_id(&id),
            Some((
                "apps".into(),
                "web:v1".into(),
                "apps".into(),
                "Deployment".into()
            ))
        );
        assert_eq!(
            parse_inventory_id("_cluster-admin_rbac.authorization.k8s.io_ClusterRole"),
            Some((
                String::new(),
                "cluster-admin".into(),
                "rbac.authorization.k8s.io".into(),
                "ClusterRole".into()
            ))
        );
        assert_eq!(stage("CustomResourceDefinition"), 0);
        assert_eq!(stage("StorageClass"), 1);
        assert_eq!(stage("Deployment"), 2);
        assert!(kind_rank("Namespace") < kind_rank("Deployment"));
        assert!(kind_rank("Widget") < kind_rank("ValidatingWebhookConfiguration"));
    }
}
