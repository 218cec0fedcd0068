//! The unchanged interval reconciliation, without a request to the API
//! server. Upstream's helm-controller, on every interval, reads the chart
//! source, lists the release's Helm storage Secrets, downloads the chart
//! and writes the status twice (Reconciling, then Ready again), even when
//! nothing changed. Here, what those reads would find is already known
//! from watches:
//!
//! - the chart sources (HelmChart, OCIRepository; an ExternalArtifact is
//!   read): their artifact, whether it is usable, and the generated
//!   HelmChart's spec and labels ([`SourceCache`]);
//! - Helm's storage: the newest version and status of every release, from
//!   the labels of the release Secrets, watched metadata-only
//!   ([`ReleaseIndex`]);
//! - the HelmReleases depended on (the controller's own store).
//!
//! When all of it says the release is exactly as the last successful
//! reconciliation left it, [`unchanged`] says so and the reconciliation
//! ends there: no download, no new Secret, and no status write but
//! `lastHandledReconcileAt` when it answers a reconcile request. Any doubt
//! (an index not synced yet, drift detection on, a failure counter, a
//! pending request) takes the full path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use flux_api::helm::v2::{DriftDetectionMode, HelmRelease};
use flux_api::meta::{Artifact, ConditionStatus, condition_type};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::Value as Json;

use crate::chart;

/// What the watches last saw of one chart source.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownSource {
    /// Its artifact when ready (upstream's `isSourceReady`), else why not.
    pub usable: Result<Artifact, String>,
    /// For a HelmChart: its labels, annotations and spec, to tell whether
    /// the generated one still matches its template.
    pub object: Option<Json>,
}

impl KnownSource {
    /// What `object`, a chart source of `kind`, shows.
    pub fn of(kind: &str, object: &Json) -> KnownSource {
        let generation = object
            .pointer("/metadata/generation")
            .and_then(Json::as_i64);
        let status = object.get("status").cloned().unwrap_or(Json::Null);
        let usable = chart::usable(kind, generation, &status);
        let object = (kind == "HelmChart").then(|| {
            serde_json::json!({
                "metadata": {
                    "labels": object.pointer("/metadata/labels").cloned().unwrap_or(Json::Null),
                    "annotations": object.pointer("/metadata/annotations").cloned().unwrap_or(Json::Null),
                },
                "spec": object.get("spec").cloned().unwrap_or(Json::Null),
            })
        });
        KnownSource { usable, object }
    }
}

/// The chart sources by `Kind/namespace/name`, kept by [`watch_sources`].
#[derive(Debug, Default)]
pub struct SourceCache {
    known: Mutex<HashMap<String, KnownSource>>,
}

impl SourceCache {
    /// What is known of source `Kind/namespace/name`.
    pub fn get(&self, id: &str) -> Option<KnownSource> {
        self.known.lock().ok()?.get(id).cloned()
    }

    /// Records what a watch event shows of a source of `kind` (called by
    /// the watch that triggers the HelmReleases, before it does: a
    /// reconciliation it starts sees at least this).
    pub fn observe(&self, kind: &str, object: &Json) {
        // An ExternalArtifact may carry no finalizer: its deletion would not
        // show as a `deletionTimestamp` first, and the triggering watch
        // cannot tell a deleted object from a changed one. It is read.
        if kind == "ExternalArtifact" {
            return;
        }
        let Some(id) = id_of(kind, object) else {
            return;
        };
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if object.pointer("/metadata/deletionTimestamp").is_some() {
            known.remove(&id);
            return;
        }
        known.insert(id, KnownSource::of(kind, object));
    }

    fn forget(&self, kind: &str, object: &Json) {
        if let (Some(id), Ok(mut known)) = (id_of(kind, object), self.known.lock()) {
            known.remove(&id);
        }
    }

    /// After a relist: drops the sources of `kind` not seen in it.
    fn retain(&self, kind: &str, seen: &HashSet<String>) {
        if let Ok(mut known) = self.known.lock() {
            let prefix = format!("{kind}/");
            known.retain(|id, _| !id.starts_with(&prefix) || seen.contains(id));
        }
    }
}

fn id_of(kind: &str, object: &Json) -> Option<String> {
    let namespace = object.pointer("/metadata/namespace")?.as_str()?;
    let name = object.pointer("/metadata/name")?.as_str()?;
    Some(format!("{kind}/{namespace}/{name}"))
}

/// Forgets the sources of `api` (of `kind`) that are deleted, or that a
/// relist no longer shows, until the process ends (the triggering watch
/// records the others, [`SourceCache::observe`]).
pub async fn watch_sources<K>(api: Api<K>, kind: &'static str, cache: &SourceCache)
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K: Send + 'static,
{
    let mut seen: Option<HashSet<String>> = None;
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(error = %e, kind, "watching chart sources");
                continue;
            }
        };
        match event {
            watcher::Event::Init => seen = Some(HashSet::new()),
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                let json = serde_json::to_value(&object).unwrap_or(Json::Null);
                if let (Some(seen), Some(id)) = (seen.as_mut(), id_of(kind, &json)) {
                    seen.insert(id);
                }
            }
            watcher::Event::Delete(object) => {
                cache.forget(kind, &serde_json::to_value(&object).unwrap_or(Json::Null));
            }
            watcher::Event::InitDone => {
                if let Some(seen) = seen.take() {
                    cache.retain(kind, &seen);
                }
            }
        }
    }
}

/// The newest version and status of every Helm release, from the labels
/// of the Secrets of Helm's `secrets` storage driver (`owner=helm`).
#[derive(Debug, Default)]
pub struct ReleaseIndex {
    state: Mutex<IndexState>,
}

#[derive(Debug, Default)]
struct IndexState {
    /// A full list was seen and the watch is live.
    synced: bool,
    /// Namespace watched, all when `None`.
    scope: Option<String>,
    /// `namespace/secret` → (`namespace/release`, version, status).
    secrets: HashMap<String, (String, u64, String)>,
    /// `namespace/release` → version → status.
    releases: HashMap<String, BTreeMap<u64, String>>,
    /// The relist in progress.
    relist: Option<HashMap<String, (String, u64, String)>>,
}

/// A release Secret's entry: `namespace/secret`, then
/// (`namespace/release`, version, status).
type Entry = (String, (String, u64, String));

fn entry<K: Resource>(secret: &K) -> Option<Entry> {
    let namespace = secret.meta().namespace.clone()?;
    let labels = secret.meta().labels.as_ref()?;
    let release = labels.get("name")?;
    let version = labels.get("version")?.parse::<u64>().ok()?;
    let status = labels.get("status")?.clone();
    Some((
        format!(
            "{namespace}/{}",
            secret.meta().name.clone().unwrap_or_default()
        ),
        (format!("{namespace}/{release}"), version, status),
    ))
}

impl IndexState {
    fn insert(&mut self, (secret, value): Entry) {
        self.remove(&secret);
        self.releases
            .entry(value.0.clone())
            .or_default()
            .insert(value.1, value.2.clone());
        self.secrets.insert(secret, value);
    }

    fn remove(&mut self, secret: &str) {
        if let Some((release, version, _)) = self.secrets.remove(secret)
            && let Some(versions) = self.releases.get_mut(&release)
        {
            versions.remove(&version);
            if versions.is_empty() {
                self.releases.remove(&release);
            }
        }
    }
}

impl ReleaseIndex {
    /// The newest version of release `namespace/name` and its status
    /// (`Some(None)`: no release); `None` when the index cannot tell (not
    /// synced, or the namespace is not watched).
    pub fn latest(&self, namespace: &str, name: &str) -> Option<Option<(u64, String)>> {
        let state = self.state.lock().ok()?;
        if !state.synced || state.scope.as_deref().is_some_and(|s| s != namespace) {
            return None;
        }
        Some(
            state
                .releases
                .get(&format!("{namespace}/{name}"))
                .and_then(|v| v.iter().next_back())
                .map(|(version, status)| (*version, status.clone())),
        )
    }

    fn handle<K: Resource>(&self, event: watcher::Event<K>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match event {
            watcher::Event::Init => state.relist = Some(HashMap::new()),
            watcher::Event::InitApply(secret) => {
                if let (Some(relist), Some((key, value))) = (state.relist.as_mut(), entry(&secret))
                {
                    relist.insert(key, value);
                }
            }
            watcher::Event::InitDone => {
                let listed = state.relist.take().unwrap_or_default();
                state.secrets.clear();
                state.releases.clear();
                for e in listed {
                    state.insert(e);
                }
                state.synced = true;
            }
            watcher::Event::Apply(secret) => match entry(&secret) {
                Some(e) => state.insert(e),
                None => {
                    let id = format!(
                        "{}/{}",
                        secret.meta().namespace.clone().unwrap_or_default(),
                        secret.name_any()
                    );
                    state.remove(&id);
                }
            },
            watcher::Event::Delete(secret) => {
                let id = format!(
                    "{}/{}",
                    secret.meta().namespace.clone().unwrap_or_default(),
                    secret.name_any()
                );
                state.remove(&id);
            }
        }
    }

    /// Keeps the index up to date with the release Secrets of `namespace`
    /// (all when `None`), metadata only, until the process ends.
    pub async fn watch(&self, client: kube::Client, namespace: Option<&str>) {
        if let Ok(mut state) = self.state.lock() {
            state.scope = namespace.map(str::to_string);
        }
        let api: Api<PartialObjectMeta<Secret>> = match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        let config = watcher::Config::default().labels("owner=helm");
        let mut events = std::pin::pin!(watcher(api, config).default_backoff());
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.handle(event),
                Err(e) => tracing::debug!(error = %e, "watching Helm release Secrets"),
            }
        }
    }
}

/// Whether every field of `want` is in `have` with the same value
/// (fields `have` has beyond it — server defaults, other managers' — are
/// fine, as for server-side apply).
fn subset(want: &Json, have: &Json) -> bool {
    match (want, have) {
        (Json::Object(w), Json::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        (w, h) => w == h,
    }
}

/// Whether the HelmChart `known` (as its watch saw it) is what the
/// template of `hr` (`spec.chart`) applies: every field the template sets
/// has its value. `false` without a template or a known HelmChart.
pub fn template_matches(hr: &HelmRelease, known: Option<&KnownSource>) -> bool {
    let (Some((_, object)), Some(have)) =
        (chart::template(hr), known.and_then(|k| k.object.as_ref()))
    else {
        return false;
    };
    let mut metadata = serde_json::Map::new();
    for field in ["labels", "annotations"] {
        if let Some(v) = object.get("metadata").and_then(|m| m.get(field)) {
            metadata.insert(field.to_string(), v.clone());
        }
    }
    let want = serde_json::json!({
        "metadata": metadata,
        "spec": object.get("spec").cloned().unwrap_or(Json::Null),
    });
    subset(&want, have)
}

/// What [`unchanged`] compares the HelmRelease with, gathered by the
/// caller from the watches.
pub struct Observed<'a> {
    /// What the source watch knows of the chart source.
    pub source: Option<KnownSource>,
    /// The source digest the last successful reconciliation released.
    pub succeeded_with: &'a (dyn Fn(&str) -> bool + Sync),
    /// The newest release in storage (see [`ReleaseIndex::latest`]).
    pub latest: Option<Option<(u64, String)>>,
    /// Whether every HelmRelease depended on is ready, as its watch saw it.
    pub dependencies_ready: bool,
    /// The digest of the values the HelmRelease composes now.
    pub values_digest: &'a str,
}

/// Whether `hr` is exactly as its last successful reconciliation left it,
/// with nothing new to look at: the reconciliation may end without
/// reading or writing anything. Pure.
pub fn unchanged(hr: &HelmRelease, observed: &Observed<'_>) -> bool {
    let Some(status) = hr.status.as_ref() else {
        return false;
    };
    let generation = hr.metadata.generation;
    let annotations = hr.metadata.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    // A reconcile request is answered here too (the caller records it); a
    // force or reset request takes the full path.
    let force_handled = annotation("reconcile.fluxcd.io/forceAt")
        .is_none_or(|t| status.last_handled_force_at.as_deref() == Some(t));
    let reset_handled = annotation("reconcile.fluxcd.io/resetAt")
        .is_none_or(|t| status.last_handled_reset_at.as_deref() == Some(t));
    let condition = |kind: &str| flux_runtime::conditions::get(&status.conditions, kind);
    let settled = condition(condition_type::READY)
        .is_some_and(|c| c.status == ConditionStatus::True && c.observed_generation == generation)
        && condition(condition_type::RECONCILING).is_none()
        && condition(condition_type::STALLED).is_none();
    let no_failures = [
        status.failures,
        status.install_failures,
        status.upgrade_failures,
    ]
    .iter()
    .all(|f| f.unwrap_or(0) == 0);
    let Some(current) = status.history.first() else {
        return false;
    };
    let Some(source) = &observed.source else {
        return false;
    };
    let Ok(artifact) = &source.usable else {
        return false;
    };
    // The generated HelmChart still matches its template.
    let template_matches = match chart::template(hr) {
        None => true,
        Some((target, _)) => {
            status.helm_chart.as_deref() == Some(target.id().as_str())
                && template_matches(hr, Some(source))
        }
    };
    let in_storage = observed.latest.as_ref().is_some_and(|latest| {
        latest
            .as_ref()
            .is_some_and(|(version, s)| *version as i64 == current.version && s == "deployed")
    });
    let tested = !crate::state::test_enabled(hr) || current.test_hooks.is_some();
    force_handled
        && reset_handled
        && hr.spec.kube_config.is_none()
        && hr.meta().deletion_timestamp.is_none()
        && status.observed_generation == generation
        && status.last_attempted_generation == generation
        && settled
        && no_failures
        && crate::state::drift_mode(hr) == DriftDetectionMode::Disabled
        && template_matches
        && (observed.succeeded_with)(&artifact.digest)
        && current.status == "deployed"
        && status.last_attempted_revision.as_deref() == Some(current.chart_version.as_str())
        && current.config_digest == observed.values_digest
        && status.last_attempted_config_digest.as_deref() == Some(observed.values_digest)
        && in_storage
        && tested
        && observed.dependencies_ready
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn release() -> HelmRelease {
        serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "apps", "generation": 2},
            "spec": {
                "interval": "5m",
                "chart": {"spec": {"chart": "app", "version": "1.0.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}
            },
            "status": {
                "observedGeneration": 2,
                "lastAttemptedGeneration": 2,
                "lastAttemptedRevision": "1.0.0",
                "lastAttemptedConfigDigest": "sha256:v",
                "helmChart": "apps/apps-web",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "UpgradeSucceeded",
                     "message": "", "observedGeneration": 2,
                     "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "Released", "status": "True", "reason": "UpgradeSucceeded",
                     "message": "", "observedGeneration": 2,
                     "lastTransitionTime": "2026-01-01T00:00:00Z"}
                ],
                "history": [{
                    "digest": "sha256:s", "name": "web", "namespace": "apps",
                    "version": 3, "status": "deployed", "chartName": "app",
                    "chartVersion": "1.0.0", "configDigest": "sha256:v",
                    "firstDeployed": "2026-01-01T00:00:00Z",
                    "lastDeployed": "2026-01-01T00:00:00Z"
                }]
            }
        }))
        .unwrap()
    }

    fn chart_object(hr: &HelmRelease) -> Json {
        let (_, object) = chart::template(hr).unwrap();
        let mut spec = object["spec"].clone();
        // Defaults the API server adds.
        spec["reconcileStrategy"] = json!("ChartVersion");
        json!({
            "metadata": {"labels": object["metadata"]["labels"].clone(), "annotations": null},
            "spec": spec,
        })
    }

    fn released(digest: &str) -> bool {
        digest == "sha256:artifact"
    }

    fn other(digest: &str) -> bool {
        digest == "sha256:other"
    }

    fn check<'a>(hr: &HelmRelease, adjust: impl FnOnce(&mut Observed<'a>)) -> bool {
        let mut observed = Observed {
            source: Some(KnownSource {
                usable: Ok(serde_json::from_value(json!({
                    "path": "x", "url": "http://x", "revision": "1.0.0",
                    "digest": "sha256:artifact", "lastUpdateTime": "2026-01-01T00:00:00Z"
                }))
                .unwrap()),
                object: Some(chart_object(hr)),
            }),
            succeeded_with: &released,
            latest: Some(Some((3, "deployed".into()))),
            dependencies_ready: true,
            values_digest: "sha256:v",
        };
        adjust(&mut observed);
        unchanged(hr, &observed)
    }

    #[test]
    fn a_release_as_left_is_unchanged() {
        assert!(check(&release(), |_| {}));
    }

    #[test]
    fn anything_new_takes_the_full_path() {
        let hr = release();
        // Storage moved on (a `helm rollback` outside Flux), or is not
        // known yet, or the release is gone.
        assert!(!check(&hr, |o| o.latest = Some(Some((4, "deployed".into())))));
        assert!(!check(&hr, |o| o.latest = Some(Some((3, "failed".into())))));
        assert!(!check(&hr, |o| o.latest = None));
        assert!(!check(&hr, |o| o.latest = Some(None)));
        // A new artifact, a source not ready, or gone.
        assert!(!check(&hr, |o| o.succeeded_with = &other));
        assert!(!check(&hr, |o| {
            if let Some(s) = o.source.as_mut() {
                s.usable = Err("not ready".into());
            }
        }));
        assert!(!check(&hr, |o| o.source = None));
        // The generated HelmChart was edited.
        assert!(!check(&hr, |o| {
            if let Some(object) = o.source.as_mut().and_then(|s| s.object.as_mut()) {
                object["spec"]["version"] = json!("9.9.9");
            }
        }));
        // Values composed from a changed ConfigMap.
        assert!(!check(&hr, |o| o.values_digest = "sha256:w"));
        // A dependency not ready.
        assert!(!check(&hr, |o| o.dependencies_ready = false));
    }

    #[test]
    fn requests_specs_and_states_take_the_full_path() {
        let edit = |f: &dyn Fn(&mut Json)| {
            let mut json = serde_json::to_value(release()).unwrap();
            f(&mut json);
            let hr: HelmRelease = serde_json::from_value(json).unwrap();
            check(&hr, |_| {})
        };
        assert!(edit(&|_| {}));
        assert!(!edit(&|j| j["metadata"]["generation"] = json!(3)));
        assert!(edit(&|j| {
            j["metadata"]["annotations"] = json!({"reconcile.fluxcd.io/requestedAt": "now"})
        }));
        assert!(!edit(&|j| {
            j["metadata"]["annotations"] = json!({"reconcile.fluxcd.io/requestedAt": "now",
                "reconcile.fluxcd.io/forceAt": "now"})
        }));
        assert!(!edit(&|j| {
            j["metadata"]["annotations"] = json!({"reconcile.fluxcd.io/resetAt": "now"})
        }));
        assert!(!edit(&|j| j["status"]["upgradeFailures"] = json!(1)));
        assert!(!edit(
            &|j| j["status"]["conditions"][0]["status"] = json!("False")
        ));
        assert!(!edit(
            &|j| j["status"]["history"][0]["status"] = json!("failed")
        ));
        assert!(!edit(
            &|j| j["spec"]["driftDetection"] = json!({"mode": "warn"})
        ));
        assert!(!edit(&|j| j["spec"]["test"] = json!({"enable": true})));
        assert!(edit(&|j| {
            j["spec"]["test"] = json!({"enable": true});
            j["status"]["history"][0]["testHooks"] = json!({});
        }));
        assert!(!edit(&|j| {
            j["spec"]["kubeConfig"] = json!({"secretRef": {"name": "remote"}})
        }));
    }

    #[test]
    fn the_index_follows_relists_updates_and_deletions() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let secret = |name: &str, version: u64, status: &str| Secret {
            metadata: ObjectMeta {
                name: Some(format!("sh.helm.release.v1.{name}.v{version}")),
                namespace: Some("apps".into()),
                labels: Some(
                    [
                        ("name", name.to_string()),
                        ("owner", "helm".into()),
                        ("version", version.to_string()),
                        ("status", status.into()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let index = ReleaseIndex::default();
        assert_eq!(index.latest("apps", "web"), None, "not synced");
        index.handle(watcher::Event::<Secret>::Init);
        index.handle(watcher::Event::InitApply(secret("web", 1, "superseded")));
        index.handle(watcher::Event::InitApply(secret("web", 2, "deployed")));
        assert_eq!(index.latest("apps", "web"), None, "relist not done");
        index.handle(watcher::Event::<Secret>::InitDone);
        assert_eq!(
            index.latest("apps", "web"),
            Some(Some((2, "deployed".into())))
        );
        assert_eq!(index.latest("apps", "db"), Some(None));
        index.handle(watcher::Event::Apply(secret("web", 3, "pending-upgrade")));
        assert_eq!(
            index.latest("apps", "web"),
            Some(Some((3, "pending-upgrade".into())))
        );
        index.handle(watcher::Event::Apply(secret("web", 3, "deployed")));
        assert_eq!(
            index.latest("apps", "web"),
            Some(Some((3, "deployed".into())))
        );
        index.handle(watcher::Event::Delete(secret("web", 3, "deployed")));
        assert_eq!(
            index.latest("apps", "web"),
            Some(Some((2, "deployed".into())))
        );
        // A relist replaces everything.
        index.handle(watcher::Event::<Secret>::Init);
        index.handle(watcher::Event::<Secret>::InitDone);
        assert_eq!(index.latest("apps", "web"), Some(None));
    }
}
