//! The helm controller: HelmRelease objects reconciled into Helm releases
//! as upstream's helm-controller does (`../shared/reference/
//! upstream-helm-controller.md`).
//!
//! Built in layers, each proven against upstream's own code or the real
//! `helm` before the next builds on it:
//! - [`name`]: the release name and its 53-character shortening;
//! - [`values`]: `valuesFrom` + `values` composed in upstream's order and
//!   with Go's sharing of nested maps, and the values digest recorded in
//!   `status.history` (`configDigest`) and event tokens — checked against
//!   `fluxcd/pkg/chartutil` itself (`tests/values_oracle.rs`);
//! - [`snapshot`]: `status.history` snapshots and upstream's digest of a
//!   release record, so a release changed behind Flux's back is noticed;
//! - [`chart`]: the HelmChart generated from `spec.chart`, or `chartRef`,
//!   the artifact downloaded and verified, OCI digest tracking;
//! - [`postrender`]: kustomize post-renderers, `commonMetadata` and the
//!   origin labels, through Helm's `combined` strategy;
//! - [`storage`]: Helm's `secrets` driver (records `helm` reads);
//! - [`action`]: install, upgrade, rollback, uninstall, unlock — hooks,
//!   server-side apply, kstatus waits, Helm's record transitions;
//! - [`drift`]: drift detection and correction, with the fields that
//!   differ in the event;
//! - [`state`]: the atomic release's state and next action;
//! - [`reconcile`]: the HelmRelease reconciler (conditions, events,
//!   history, failure counters, remediation).

pub use flux_helm::helmrelease::{name, postrender, values};

pub mod action;
pub mod capabilities;
pub mod chart;
pub mod drift;
pub mod reconcile;
pub mod snapshot;
pub mod state;
pub mod steady;
pub mod storage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flux_api::helm::v2::HelmRelease;
use flux_api::source::v1::{ExternalArtifact, HelmChart, OCIRepository};
use flux_runtime::{EventRecorder, Metrics, Schedule};
use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

/// The controller's name: field manager, event source, metrics.
pub const CONTROLLER_NAME: &str = "helm-controller";

/// What the reconcilers share.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// Event recorder (`helm-controller`).
    pub events: EventRecorder,
    /// Reconcile metrics.
    pub metrics: Metrics,
    /// When each object is next due.
    pub schedule: Schedule,
    /// Server-side apply as `helm-controller`.
    pub applier: flux_runtime::ssa::Applier,
    /// The appliers of `spec.serviceAccountName` and `spec.kubeConfig`.
    pub impersonator: flux_runtime::impersonation::Impersonator,
    /// Concurrent reconciliations (`--concurrent`).
    pub concurrency: u16,
    /// Retry delay when a dependency or source is not ready
    /// (`--requeue-dependency`).
    pub requeue_dependency: Duration,
    /// Refuse sources in other namespaces (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Only objects with these labels (`--watch-label-selector`).
    pub label_selector: Option<String>,
    /// Keep chart versions free of OCI digests
    /// (`DisableChartDigestTracking`).
    pub disable_chart_digest_tracking: bool,
    /// How long an artifact download may take (`--http-timeout`).
    pub artifact_timeout: Duration,
    /// The artifact digest of each chart source (`Kind/namespace/name`) as
    /// the source watches last saw it: a reconciliation triggered by the
    /// object's own status write, with nothing new, is skipped.
    pub sources: Mutex<HashMap<String, String>>,
    /// The chart sources as their watches last saw them (for the
    /// unchanged interval reconciliation, [`steady`]).
    pub known_sources: steady::SourceCache,
    /// The newest version of every Helm release, from its Secrets' labels.
    pub releases: steady::ReleaseIndex,
    /// The HelmReleases as the controller's watch sees them.
    pub store: std::sync::OnceLock<kube::runtime::reflector::Store<HelmRelease>>,
    /// What the cluster serves, as the controller's own client discovered it.
    pub discovery: capabilities::Cache,
    /// The `resourceVersion` of each HelmRelease (`namespace/name`) after
    /// this controller's last status write.
    pub last_writes: Mutex<HashMap<String, String>>,
}

impl Context {
    fn key(hr: &HelmRelease) -> String {
        format!("{}/{}", hr.namespace().unwrap_or_default(), hr.name_any())
    }

    /// Records the version a status write of `hr` returned.
    pub(crate) fn wrote(&self, hr: &HelmRelease, version: Option<String>) {
        if let Ok(mut writes) = self.last_writes.lock() {
            // Without a version, none matches: the next reconciliation reads.
            writes.insert(Self::key(hr), version.unwrap_or_default());
        }
    }

    /// Whether `hr` is at least as new as this controller's last status
    /// write of it: that very version, or none was made.
    pub(crate) fn is_last_write(&self, hr: &HelmRelease) -> bool {
        let Ok(writes) = self.last_writes.lock() else {
            return false;
        };
        writes
            .get(&Self::key(hr))
            .is_none_or(|v| hr.metadata.resource_version.as_deref() == Some(v.as_str()))
    }

    /// Forgets the writes of a HelmRelease being deleted.
    pub(crate) fn forget_writes(&self, hr: &HelmRelease) {
        if let Ok(mut writes) = self.last_writes.lock() {
            writes.remove(&Self::key(hr));
        }
    }

    /// A context with upstream's defaults.
    pub fn new(client: Client) -> Self {
        let drift = flux_runtime::drift::DriftCache::new(client.clone(), postrender::NAME_LABEL);
        Self {
            impersonator: flux_runtime::impersonation::Impersonator::new(
                client.clone(),
                CONTROLLER_NAME,
                postrender::NAME_LABEL,
                drift.clone(),
            ),
            events: EventRecorder::new(client.clone(), CONTROLLER_NAME),
            metrics: Metrics::new(),
            schedule: Schedule::default(),
            applier: flux_runtime::ssa::Applier::new(client.clone(), CONTROLLER_NAME)
                .with_drift_cache(drift, ""),
            client,
            concurrency: 4,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            label_selector: None,
            disable_chart_digest_tracking: false,
            artifact_timeout: Duration::from_secs(30),
            sources: Mutex::new(HashMap::new()),
            known_sources: steady::SourceCache::default(),
            releases: steady::ReleaseIndex::default(),
            store: std::sync::OnceLock::new(),
            discovery: capabilities::Cache::default(),
            last_writes: Mutex::new(HashMap::new()),
        }
    }
}

/// Runs the HelmRelease reconciler, watching `namespace` (all when
/// `None`): every change of a HelmRelease, its interval, a new artifact of
/// the HelmChart or OCIRepository it reads, and a change of a HelmRelease
/// it depends on.
pub async fn run(ctx: Context, namespace: Option<&str>) {
    let ctx = Arc::new(ctx);
    let client = ctx.client.clone();
    let api: Api<HelmRelease> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.label_selector {
        config = config.labels(selector);
    }
    let controller = Controller::new(api.clone(), config.clone());
    let _ = ctx.store.set(controller.store());
    let (by_chart, by_oci, by_external, by_dependency) = (
        controller.store(),
        controller.store(),
        controller.store(),
        controller.store(),
    );
    fn on_source<S: kube::Resource<DynamicType = ()> + serde::Serialize>(
        kind: &'static str,
        store: kube::runtime::reflector::Store<HelmRelease>,
        ctx: Arc<Context>,
    ) -> impl Fn(S) -> Vec<ObjectRef<HelmRelease>> {
        move |source: S| {
            let namespace = source.namespace().unwrap_or_default();
            let name = source.name_any();
            let json = serde_json::to_value(&source).unwrap_or_default();
            ctx.known_sources.observe(kind, &json);
            let revision = json
                .pointer("/status/artifact/digest")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string();
            let id = format!("{kind}/{namespace}/{name}");
            let changed = match ctx.sources.lock() {
                Ok(mut seen) => {
                    seen.insert(id, revision.clone()).as_deref() != Some(revision.as_str())
                }
                Err(_) => true,
            };
            if !changed {
                return Vec::new();
            }
            store
                .state()
                .into_iter()
                .filter(|hr| {
                    chart::source_ref(hr).is_some_and(|s| {
                        s.kind == kind && s.namespace == namespace && s.name == name
                    })
                })
                .map(|hr| ObjectRef::from_obj(&*hr))
                .collect()
        }
    }
    let (charts, oci, external) = match namespace {
        Some(ns) => (
            Api::<HelmChart>::namespaced(client.clone(), ns),
            Api::<OCIRepository>::namespaced(client.clone(), ns),
            Api::<ExternalArtifact>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::<HelmChart>::all(client.clone()),
            Api::<OCIRepository>::all(client.clone()),
            Api::<ExternalArtifact>::all(client.clone()),
        ),
    };
    {
        let (ctx, namespace) = (ctx.clone(), namespace.map(str::to_string));
        tokio::spawn(async move {
            ctx.releases
                .watch(ctx.client.clone(), namespace.as_deref())
                .await;
        });
    }
    {
        let (ctx, api) = (ctx.clone(), charts.clone());
        tokio::spawn(async move {
            steady::watch_sources(api, "HelmChart", &ctx.known_sources).await;
        });
    }
    {
        let ctx = ctx.clone();
        tokio::spawn(async move { ctx.discovery.watch(ctx.client.clone()).await });
    }
    {
        let (ctx, api) = (ctx.clone(), oci.clone());
        tokio::spawn(async move {
            steady::watch_sources(api, "OCIRepository", &ctx.known_sources).await;
        });
    }
    controller
        .watches(
            charts,
            watcher::Config::default(),
            on_source::<HelmChart>("HelmChart", by_chart, ctx.clone()),
        )
        .watches(
            oci,
            watcher::Config::default(),
            on_source::<OCIRepository>("OCIRepository", by_oci, ctx.clone()),
        )
        .watches(
            external,
            watcher::Config::default(),
            on_source::<ExternalArtifact>("ExternalArtifact", by_external, ctx.clone()),
        )
        .watches(api, config, move |changed| {
            let namespace = changed.namespace().unwrap_or_default();
            let name = changed.name_any();
            by_dependency
                .state()
                .into_iter()
                .filter(|hr| {
                    hr.spec.depends_on.iter().any(|d| {
                        d.name == name
                            && d.namespace
                                .clone()
                                .or_else(|| hr.namespace())
                                .unwrap_or_default()
                                == namespace
                    })
                })
                .map(|hr| ObjectRef::from_obj(&*hr))
                .collect::<Vec<_>>()
        })
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| async {})
        .await;
}
