//! Image automation: the image-reflector controller's ImageRepository and
//! ImagePolicy (`fluxd --controllers=image-reflector`), and the
//! image-automation controller's ImageUpdateAutomation
//! (`--controllers=image-automation`).

pub mod automation;
pub mod policy;
pub mod reflector;
pub mod setters;
pub mod storage;
pub mod template;
pub mod update;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// What the reconcilers share.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// Events of the image-reflector controller.
    pub reflector_events: flux_runtime::EventRecorder,
    /// Events of the image-automation controller.
    pub automation_events: flux_runtime::EventRecorder,
    /// Reconcile metrics.
    pub metrics: flux_runtime::Metrics,
    /// The tag database.
    pub storage: storage::Storage,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
    /// `--concurrent`.
    pub concurrency: u16,
    /// Tag listings made (the benchmark's count of registry scans).
    pub registry_requests: AtomicU64,
}

impl Context {
    /// A context with upstream's defaults, storing tags under
    /// `storage_path`.
    pub fn new(client: kube::Client, storage_path: impl Into<std::path::PathBuf>) -> Context {
        Context {
            reflector_events: flux_runtime::EventRecorder::new(
                client.clone(),
                "image-reflector-controller",
            ),
            automation_events: flux_runtime::EventRecorder::new(
                client.clone(),
                "image-automation-controller",
            ),
            client,
            metrics: flux_runtime::Metrics::default(),
            storage: storage::Storage::new(storage_path, storage::DEFAULT_COMPRESSION_THRESHOLD),
            no_cross_namespace_refs: false,
            requeue_dependency: Duration::from_secs(30),
            concurrency: 4,
            registry_requests: AtomicU64::new(0),
        }
    }
}

/// Runs the image-reflector controller (ImageRepository and ImagePolicy)
/// until stopped.
pub async fn run_reflector(ctx: Arc<Context>, namespace: Option<String>) {
    tokio::join!(
        reflector::run_repositories(ctx.clone(), namespace.clone()),
        reflector::run_policies(ctx, namespace),
    );
}

/// Runs the image-automation controller (ImageUpdateAutomation) until
/// stopped.
pub async fn run_automation(ctx: Arc<Context>, namespace: Option<String>) {
    automation::run_automations(ctx, namespace).await;
}
