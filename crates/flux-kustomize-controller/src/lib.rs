//! The kustomize controller: Kustomization objects reconciled from their
//! source's artifact into the cluster.
//!
//! A reconciliation waits for its `dependsOn`, downloads the source's
//! artifact (digest verified, extracted safely), builds `spec.path` as
//! kustomize-controller does (`flux-kustomize`: generated kustomization,
//! injected `targetNamespace`/prefix/suffix/patches/images/components),
//! substitutes `postBuild` variables, applies the objects with server-side
//! apply in Flux's stages (`flux_runtime::ssa`), records them in
//! `status.inventory`, prunes what left the inventory (`spec.prune`), and
//! reports upstream's conditions and events (`Applied revision: …`). A
//! failed build or apply changes nothing and prunes nothing.

pub mod kustomization;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flux_artifact::Limits;
use flux_runtime::{EventRecorder, Metrics, Schedule};
use kube::{Api, Client};

/// What the reconcilers share.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// Event recorder (`kustomize-controller`).
    pub events: EventRecorder,
    /// Reconcile metrics.
    pub metrics: Metrics,
    /// When each object is next due (status writes do not re-trigger).
    pub schedule: Schedule,
    /// Server-side apply with the `kustomize-controller` field manager.
    pub applier: flux_runtime::ssa::Applier,
    /// Concurrent reconciliations (`--concurrent`).
    pub concurrency: u16,
    /// Retry delay when a dependency or source is not ready
    /// (`--requeue-dependency`).
    pub requeue_dependency: Duration,
    /// Refuse sources in other namespaces (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Only objects with these labels (`--watch-label-selector`).
    pub label_selector: Option<String>,
    /// The largest artifact accepted (bytes, files).
    pub artifact_limits: Limits,
    /// The appliers of `spec.serviceAccountName` and `spec.kubeConfig`
    /// (with `--default-service-account`, `--insecure-kubeconfig-*`).
    pub impersonator: flux_runtime::impersonation::Impersonator,
    /// What was applied and the live resource versions of labelled
    /// objects: a reconciliation where nothing changed sends no request per
    /// object (`flux_runtime::drift`).
    pub drift: Arc<flux_runtime::drift::DriftCache>,
    /// The newest artifact of each source (`Kind/namespace/name`) seen by
    /// the source watch, read instead of a GET on every reconciliation.
    pub sources: Mutex<HashMap<String, flux_api::meta::Artifact>>,
    /// Extracted artifacts shared by the reconciliations building them.
    pub artifacts: kustomization::fetch::ArtifactCache,
}

/// The controller's name: field manager, event source, metrics.
pub const CONTROLLER_NAME: &str = "kustomize-controller";

impl Context {
    /// A context with upstream's defaults.
    pub fn new(client: Client) -> Self {
        let drift =
            flux_runtime::drift::DriftCache::new(client.clone(), kustomization::build::NAME_LABEL);
        Self {
            impersonator: flux_runtime::impersonation::Impersonator::new(
                client.clone(),
                CONTROLLER_NAME,
                kustomization::build::NAME_LABEL,
                drift.clone(),
            ),
            events: EventRecorder::new(client.clone(), CONTROLLER_NAME),
            metrics: Metrics::new(),
            schedule: Schedule::default(),
            applier: flux_runtime::ssa::Applier::new(client.clone(), CONTROLLER_NAME)
                .with_drift_cache(drift.clone(), ""),
            drift,
            sources: Mutex::new(HashMap::new()),
            artifacts: kustomization::fetch::ArtifactCache::new(16),
            client,
            concurrency: 4,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            label_selector: None,
            artifact_limits: Limits {
                max_bytes: 1 << 30,
                max_entries: 1_000_000,
            },
        }
    }
}

/// Runs the Kustomization reconciler, watching `namespace` (all when
/// `None`).
pub async fn run(ctx: Context, namespace: Option<&str>) {
    let ctx = Arc::new(ctx);
    let client = ctx.client.clone();
    let (kustomizations, git, oci, bucket, external) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client),
        ),
    };
    let sources = kustomization::Sources {
        git,
        oci,
        bucket,
        external,
    };
    kustomization::run(kustomizations, sources, ctx).await;
}
