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

pub mod artifactgenerator;
pub mod bucket;
pub mod frame;
pub mod gitrepository;
pub mod helmchart;
pub mod helmrepository;
pub mod ocirepository;
pub mod server;
pub mod signature;

use std::collections::HashMap;
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
    /// The largest chart downloaded (`--helm-chart-max-size`).
    pub helm_chart_max_size: u64,
    /// Parsed HelmRepository indexes by artifact path, with the digest they
    /// were parsed from: every HelmChart of a repository shares one parse
    /// per index revision.
    pub indexes: std::sync::Mutex<HashMap<String, (String, Arc<flux_helm::index::ChartIndex>)>>,
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
            helm_chart_max_size: helmchart::DEFAULT_CHART_MAX_SIZE,
            indexes: Default::default(),
        }
    }

    /// The versions of a HelmRepository artifact's index: from the cache
    /// when the artifact's digest is the one it was read from, else read
    /// from storage (once: concurrent readers wait for the first) and kept
    /// in place of the older revision's.
    pub fn index(
        &self,
        artifact: &flux_api::meta::Artifact,
    ) -> Result<Arc<flux_helm::index::ChartIndex>, String> {
        let mut cache = self
            .indexes
            .lock()
            .map_err(|_| "the index cache is unusable".to_string())?;
        if let Some((digest, index)) = cache.get(&artifact.path)
            && *digest == artifact.digest
        {
            return Ok(index.clone());
        }
        let data = std::fs::read(self.storage.local_path(&artifact.path))
            .map_err(|e| format!("reading {}: {e}", artifact.path))?;
        let index = Arc::new(flux_helm::index::ChartIndex::from_stored_json(&data)?);
        cache.insert(
            artifact.path.clone(),
            (artifact.digest.clone(), index.clone()),
        );
        Ok(index)
    }
}

/// Runs every source reconciler, watching `namespace` (all when `None`).
pub async fn run(ctx: Context, namespace: Option<&str>) {
    run_shared(Arc::new(ctx), namespace).await;
}

/// [`run`] with a context other controllers of the process share (the
/// ArtifactGenerator controller stores into the same storage).
pub async fn run_shared(ctx: Arc<Context>, namespace: Option<&str>) {
    let client = ctx.client.clone();
    let api = |c: &Client| match namespace {
        Some(ns) => ApiScope::Namespaced(c.clone(), ns.to_string()),
        None => ApiScope::All(c.clone()),
    };
    let scope = api(&client);
    tokio::join!(
        gitrepository::run(scope.api(), ctx.clone()),
        ocirepository::run(scope.api(), ctx.clone()),
        helmrepository::run(scope.api(), ctx.clone()),
        helmchart::run(
            scope.api(),
            helmchart::Sources {
                helm: scope.api(),
                git: scope.api(),
                bucket: scope.api(),
            },
            ctx.clone()
        ),
        bucket::run(scope.api(), ctx),
    );
}

/// Runs source-watcher's ArtifactGenerator controller, watching
/// `namespace` (all when `None`), with the storage of `ctx`.
pub async fn run_source_watcher(ctx: Arc<Context>, namespace: Option<&str>) {
    let scope = match namespace {
        Some(ns) => ApiScope::Namespaced(ctx.client.clone(), ns.to_string()),
        None => ApiScope::All(ctx.client.clone()),
    };
    let sources = artifactgenerator::Sources {
        git: scope.api(),
        oci: scope.api(),
        bucket: scope.api(),
        chart: scope.api(),
        external: scope.api(),
    };
    artifactgenerator::run(scope.api(), sources, ctx).await;
}

/// Where the reconcilers watch: one namespace or all.
enum ApiScope {
    Namespaced(Client, String),
    All(Client),
}

impl ApiScope {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            ApiScope::Namespaced(c, ns) => Api::namespaced(c.clone(), ns),
            ApiScope::All(c) => Api::all(c.clone()),
        }
    }
}
