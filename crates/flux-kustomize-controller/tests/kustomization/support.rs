//! What every test of this binary shares: the controllers, waiting,
//! reconcile requests.

use std::path::Path;
use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_artifact::{Retention, Storage};
use flux_testenv::{ControlPlane, TestNamespace};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

pub(crate) fn manifests() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds")
}

pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    flux_testenv::eventually(what, check).await.unwrap()
}

pub(crate) fn ready(k: &Kustomization) -> Option<&flux_api::meta::Condition> {
    k.status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, "Ready"))
}

/// The source controller (with its artifact server) and this controller,
/// both watching `ns`.
pub(crate) async fn start_controllers(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    start_controllers_with(cp, ns, |_| {}).await
}

/// [`start_controllers`] with the kustomize controller's context adjusted.
pub(crate) async fn start_controllers_with(
    cp: &ControlPlane,
    ns: &TestNamespace,
    adjust: impl FnOnce(&mut flux_kustomize_controller::Context),
) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(flux_source_controller::server::serve_storage(
        root.path().to_path_buf(),
        listener,
    ));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let source = std::sync::Arc::new(flux_source_controller::Context::new(
        cp.client().unwrap(),
        storage,
    ));
    let namespace = ns.name().to_string();
    let watcher = (source.clone(), namespace.clone());
    tokio::spawn(async move { flux_source_controller::run_shared(source, Some(&namespace)).await });
    tokio::spawn(async move {
        flux_source_controller::run_source_watcher(watcher.0, Some(&watcher.1)).await
    });
    let mut ctx = flux_kustomize_controller::Context::new(cp.client().unwrap());
    ctx.requeue_dependency = Duration::from_secs(2);
    ctx.impersonator.config = Some(cp.config().clone());
    adjust(&mut ctx);
    let namespace = ns.name().to_string();
    tokio::spawn(async move { flux_kustomize_controller::run(ctx, Some(&namespace)).await });
    root
}

pub(crate) async fn request_reconcile(api: &Api<Kustomization>, name: &str, token: &str) {
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Asks the source controller to look at the remote now.
pub(crate) async fn refresh_source(client: &kube::Client, namespace: &str, token: &str) {
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), namespace);
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    repos
        .patch("fleet", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

pub(crate) async fn wait_applied(
    api: &Api<Kustomization>,
    name: &str,
    revision: &str,
) -> Kustomization {
    let expected = format!("Applied revision: {revision}");
    let found = flux_testenv::eventually(&format!("{name}: {expected}"), || async {
        let k = api.get(name).await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::True && condition.message == expected).then_some(k)
    })
    .await;
    match found {
        Ok(k) => k,
        Err(e) => {
            let status = api.get(name).await.ok().and_then(|k| k.status);
            panic!("{e}; last status: {status:#?}")
        }
    }
}

/// Creates GitRepository `fleet`: branch `main` of `url`, every `interval`.
pub(crate) async fn create_fleet(
    repos: &Api<flux_api::source::v1::GitRepository>,
    url: &str,
    interval: &str,
) {
    use flux_api::source::v1::{GitRepository, GitRepositoryRef, GitRepositorySpec};
    let repo = GitRepository::new(
        "fleet",
        GitRepositorySpec {
            url: url.to_string(),
            interval: interval.to_string(),
            reference: Some(GitRepositoryRef {
                branch: Some("main".to_string()),
                ..GitRepositoryRef::default()
            }),
            ..GitRepositorySpec::default()
        },
    );
    repos.create(&PostParams::default(), &repo).await.unwrap();
}

/// The shared control plane with the CRDs, a fresh namespace `name`, a
/// client, and both controllers watching it (their storage folder lives
/// as long as the returned guard).
pub(crate) async fn test_bed(
    name: &str,
) -> (
    &'static ControlPlane,
    TestNamespace,
    kube::Client,
    tempfile::TempDir,
) {
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace(name).await.unwrap();
    let client = cp.client().unwrap();
    let storage = start_controllers(cp, &ns).await;
    (cp, ns, client, storage)
}
