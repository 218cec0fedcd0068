//! What every source reconciler of this crate shares: the frame (the
//! finalizer, the span, the metrics), the cleanup when an object goes (its
//! artifacts, metrics and schedule), the error policy, and the check that
//! nothing is due before the interval.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use flux_api::meta::FINALIZER;
use flux_artifact::Owner;
use flux_runtime::ReconcileResult;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Context;
use crate::gitrepository::reconcile::Error;

/// Which reconciler: the kind (storage folder, metrics) and the controller
/// name (logs, metrics).
#[derive(Clone, Copy, Debug)]
pub struct Reconciler {
    /// `GitRepository`, `HelmChart`, …
    pub kind: &'static str,
    /// `gitrepository`, `helmchart`, …
    pub controller: &'static str,
}

/// Runs one reconciliation of `object` in the frame: `apply` when it
/// lives, the cleanup when it is being deleted.
pub async fn reconcile<K, A, Fut>(
    reconciler: Reconciler,
    object: Arc<K>,
    ctx: Arc<Context>,
    apply: A,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
    A: FnOnce(Api<K>, Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<(Action, ReconcileResult), Error>>,
{
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let frame = flux_runtime::reconcile::Frame {
        controller: reconciler.controller,
        group: "source.toolkit.fluxcd.io",
        kind: reconciler.kind,
        finalizer: FINALIZER,
        metrics: &ctx.metrics,
    };
    flux_runtime::reconcile::run(frame, &api, object, |event| async {
        match event {
            Event::Apply(object) => apply(api.clone(), object, ctx.clone()).await,
            Event::Cleanup(object) => Ok(cleanup(reconciler.kind, &*object, &ctx)),
        }
    })
    .await
    .map_err(|e| match e {
        flux_runtime::reconcile::FrameError::Step(e) => e,
        flux_runtime::reconcile::FrameError::Finalizer(e) => Error::Finalizer(e),
    })
}

/// The watch of the objects reconciled: all, or those with
/// `--watch-label-selector`'s labels.
pub fn watch_config(ctx: &Context) -> kube::runtime::watcher::Config {
    let config = kube::runtime::watcher::Config::default();
    match &ctx.label_selector {
        Some(selector) => config.labels(selector),
        None => config,
    }
}

/// The controller's concurrency (`--concurrent`).
pub fn controller_config(ctx: &Context) -> kube::runtime::controller::Config {
    kube::runtime::controller::Config::default().concurrency(ctx.concurrency)
}

/// Requeue policy after an error the controller could not report.
pub fn error_policy<K>(_object: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    match error {
        Error::Finalizer(e) => Action::requeue(e.requeue()),
        Error::Kube(_) => Action::requeue(flux_runtime::reconcile::UNREPORTED_ERROR_REQUEUE),
    }
}

/// The object is gone: its artifacts (best effort: a leftover folder must
/// not keep the object alive), its metrics and its schedule.
fn cleanup<K: Resource<DynamicType = ()>>(
    kind: &str,
    object: &K,
    ctx: &Context,
) -> (Action, ReconcileResult) {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let owner = Owner {
        kind,
        namespace: &namespace,
        name: &name,
    };
    if let Err(e) = ctx.storage.remove_all(owner) {
        tracing::error!(error = %e, "garbage collection for deleted resource failed");
    }
    ctx.metrics.forget(kind, &namespace, &name);
    ctx.schedule.forget(&flux_runtime::schedule::key(object));
    (Action::await_change(), ReconcileResult::Success)
}

/// How long until `object` is due, when neither a change of its generation
/// nor a reconcile request (`reconcile.fluxcd.io/requestedAt`) asks for it
/// now.
pub fn not_due<K: Resource<DynamicType = ()>>(object: &K, ctx: &Context) -> Option<Duration> {
    let token = object
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .map(String::as_str);
    ctx.schedule.remaining(
        &flux_runtime::schedule::key(object),
        object.meta().generation,
        token,
    )
}

/// The artifacts of `object` in storage.
pub fn owner<'a>(kind: &'a str, namespace: &'a str, name: &'a str) -> Owner<'a> {
    Owner {
        kind,
        namespace,
        name,
    }
}

/// The TLS settings of a `certSecretRef` Secret: `ca.crt`, and `tls.crt`
/// with `tls.key` for a client certificate (upstream's validation and
/// messages).
pub async fn tls(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<flux_oci::http::Tls, String> {
    let data = flux_runtime::pull_secrets::secret_data(&ctx.client, namespace, name).await?;
    flux_oci::http::Tls::from_secret(&format!("{namespace}/{name}"), |key| {
        data.get(key).map(Vec::as_slice)
    })
}

/// The proxy of a `proxySecretRef` Secret (`address`, `username`,
/// `password`).
pub async fn proxy(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<flux_oci::http::Proxy, String> {
    let data = flux_runtime::pull_secrets::secret_data(&ctx.client, namespace, name).await?;
    flux_oci::http::Proxy::from_secret(namespace, name, &data)
}
