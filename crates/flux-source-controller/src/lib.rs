//! The source controller: GitRepository, OCIRepository and HelmRepository objects
//! reconciled into stored artifacts, served over HTTP for the other
//! controllers.
//!
//! A reconciliation fetches the reference the object names (a cheap
//! remote check first: an unchanged remote costs no clone), archives the
//! checkout with its ignore rules, stores it under
//! `gitrepository/<namespace>/<name>/<commit>.tar.gz`, and reports
//! `status.artifact` with upstream's conditions (`Ready`,
//! `ArtifactInStorage`, `FetchFailed`, `Reconciling`), reasons and events
//! (`NewArtifact`). Deleting the object deletes its artifacts.

pub mod gitrepository;
pub mod helmrepository;
pub mod ocirepository;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use flux_artifact::{Limits, Storage};
use flux_runtime::{EventRecorder, Metrics, Schedule};
use kube::{Api, Client};

/// What the reconcilers share.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// The artifact store.
    pub storage: Storage,
    /// Event recorder (`source-controller`).
    pub events: EventRecorder,
    /// Reconcile metrics.
    pub metrics: Metrics,
    /// When each object is next due (status writes do not re-trigger).
    pub schedule: Schedule,
    /// Concurrent reconciliations per kind (`--concurrent`).
    pub concurrency: u16,
    /// Delay before retrying a failed reconciliation (capped by the interval).
    pub retry_interval: Duration,
    /// Delay before retrying when an included source has no artifact yet
    /// (`--requeue-dependency`).
    pub requeue_dependency: Duration,
    /// Only objects with these labels are reconciled (`--watch-label-selector`).
    pub label_selector: Option<String>,
    /// The largest checkout and artifact (uncompressed bytes, files): a
    /// repository over them is refused before anything is written.
    pub artifact_limits: Limits,
    /// The largest Helm repository index downloaded (`--helm-index-max-size`).
    pub helm_index_max_size: u64,
}

/// Default of [`Context::artifact_limits`]: 1 GiB in 1,000,000 files.
pub const DEFAULT_ARTIFACT_LIMITS: Limits = Limits {
    max_bytes: 1 << 30,
    max_entries: 1_000_000,
};

impl Context {
    /// A context with upstream's defaults.
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            events: EventRecorder::new(client.clone(), "source-controller"),
            metrics: Metrics::new(),
            schedule: Schedule::default(),
            client,
            storage,
            concurrency: 2,
            retry_interval: Duration::from_secs(10),
            requeue_dependency: Duration::from_secs(30),
            label_selector: None,
            artifact_limits: DEFAULT_ARTIFACT_LIMITS,
            helm_index_max_size: helmrepository::DEFAULT_INDEX_MAX_SIZE,
        }
    }
}

/// Runs every source reconciler, watching `namespace` (all when `None`).
pub async fn run(ctx: Context, namespace: Option<&str>) {
    let client = ctx.client.clone();
    let (git, oci, helm) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client),
        ),
    };
    let ctx = Arc::new(ctx);
    tokio::join!(
        gitrepository::run(git, ctx.clone()),
        ocirepository::run(oci, ctx.clone()),
        helmrepository::run(helm, ctx),
    );
}
