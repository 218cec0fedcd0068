//! `flux reconcile`: request a reconciliation and wait until the
//! controller has handled it.

use std::time::Duration;

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::json;

use crate::cli::{ImageName, ReconcileCommand, SourceName};
use crate::client::{Ctx, Error, api_error};
use crate::kinds::{self, Kind};
use crate::output;

/// The annotation a reconcile request sets.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// Runs `flux reconcile`.
pub async fn run(ctx: &Ctx, command: &ReconcileCommand) -> Result<(), Error> {
    match command {
        ReconcileCommand::Source(source) => {
            let (kind, name) = match source {
                SourceName::Git(n) => (kinds::GIT_REPOSITORY, &n.name),
                SourceName::Oci(n) => (kinds::OCI_REPOSITORY, &n.name),
                SourceName::Bucket(n) => (kinds::BUCKET, &n.name),
                SourceName::Helm(n) => (kinds::HELM_REPOSITORY, &n.name),
                SourceName::Chart(n) => (kinds::HELM_CHART, &n.name),
            };
            reconcile(ctx, &kind, &ctx.namespace, name).await
        }
        ReconcileCommand::Kustomization(args) => {
            with_source(ctx, &kinds::KUSTOMIZATION, &args.name, args.with_source).await
        }
        ReconcileCommand::Helmrelease(args) => {
            with_source(ctx, &kinds::HELM_RELEASE, &args.name, args.with_source).await
        }
        ReconcileCommand::Receiver(args) => {
            reconcile(ctx, &kinds::RECEIVER, &ctx.namespace, &args.name).await
        }
        ReconcileCommand::Image(ImageName::Repository(args)) => {
            reconcile(ctx, &kinds::IMAGE_REPOSITORY, &ctx.namespace, &args.name).await
        }
        ReconcileCommand::Image(ImageName::Policy(args)) => {
            reconcile(ctx, &kinds::IMAGE_POLICY, &ctx.namespace, &args.name).await
        }
        ReconcileCommand::Image(ImageName::Update(args)) => {
            reconcile(ctx, &kinds::IMAGE_UPDATE, &ctx.namespace, &args.name).await
        }
    }
}

async fn with_source(ctx: &Ctx, kind: &Kind, name: &str, with_source: bool) -> Result<(), Error> {
    if with_source {
        let object = ctx
            .namespaced(kind)
            .get(name)
            .await
            .map_err(|e| api_error(kind, name, e))?;
        if kinds::suspended(&object) {
            return Err("resource is suspended".into());
        }
        let reference = if kind.kind == "HelmRelease" {
            &object.data["spec"]["chart"]["spec"]["sourceRef"]
        } else {
            &object.data["spec"]["sourceRef"]
        };
        let source_kind = reference["kind"].as_str().unwrap_or("GitRepository");
        let source_name = reference["name"].as_str().unwrap_or_default();
        let source_ns = reference["namespace"].as_str().unwrap_or(&ctx.namespace);
        match Kind::by_kind(source_kind) {
            Some(source) if !source_name.is_empty() => {
                reconcile(ctx, &source, source_ns, source_name).await?;
            }
            _ => {
                return Err(format!(
                    "cannot reconcile source of kind {source_kind}: not a supported source"
                )
                .into());
            }
        }
    }
    reconcile(ctx, kind, &ctx.namespace, name).await
}

/// Annotates `namespace/name` and waits for the outcome, printing upstream's
/// progress lines.
pub async fn reconcile(ctx: &Ctx, kind: &Kind, namespace: &str, name: &str) -> Result<(), Error> {
    let api = ctx.api(kind, Some(namespace));
    let object = api.get(name).await.map_err(|e| api_error(kind, name, e))?;
    if kinds::suspended(&object) {
        return Err("resource is suspended".into());
    }
    output::action(format!(
        "annotating {} {name} in {namespace} namespace",
        kind.kind
    ));
    let token = request(ctx, kind, namespace, name).await?;
    output::success(format!("{} annotated", kind.kind));
    output::waiting(format!("waiting for {} reconciliation", kind.kind));
    let object = wait_handled(ctx, kind, namespace, name, &token).await?;
    let (status, message) = kinds::ready(&object);
    if status != "True" {
        return Err(format!("{} reconciliation failed: '{message}'", kind.kind).into());
    }
    output::success(kind.success_message(&object));
    Ok(())
}

/// Sets the request annotation to a fresh timestamp; returns it.
pub async fn request(ctx: &Ctx, kind: &Kind, namespace: &str, name: &str) -> Result<String, Error> {
    let token = now_rfc3339();
    let patch = json!({"metadata": {"annotations": {REQUESTED_AT: token}}});
    ctx.api(kind, Some(namespace))
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| api_error(kind, name, e))?;
    Ok(token)
}

/// Waits until the object's status says it handled `token` (or, with no
/// token, until it is reconciled at its generation), within `--timeout`.
pub async fn wait_handled(
    ctx: &Ctx,
    kind: &Kind,
    namespace: &str,
    name: &str,
    token: &str,
) -> Result<DynamicObject, Error> {
    let api = ctx.api(kind, Some(namespace));
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    loop {
        let object = api.get(name).await.map_err(|e| api_error(kind, name, e))?;
        if settled(&object, Some(token)) {
            return Ok(object);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "timeout waiting for {} {namespace}/{name} to be reconciled",
                kind.kind
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the object is reconciled at its current generation and
/// has a `Ready` verdict (True, or False and no longer progressing).
pub async fn wait_ready(
    ctx: &Ctx,
    kind: &Kind,
    namespace: &str,
    name: &str,
) -> Result<DynamicObject, Error> {
    let api = ctx.api(kind, Some(namespace));
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    loop {
        let object = api.get(name).await.map_err(|e| api_error(kind, name, e))?;
        if settled(&object, None) {
            let (status, message) = kinds::ready(&object);
            if status == "True" {
                return Ok(object);
            }
            return Err(format!("{} reconciliation failed: {message}", kind.kind).into());
        }
        if tokio::time::Instant::now() > deadline {
            let (_, message) = kinds::ready(&object);
            return Err(format!(
                "timeout waiting for {} {namespace}/{name} to be Ready: {message}",
                kind.kind
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// kstatus for toolkit objects: observed at the current generation, the
/// request handled, not `Reconciling`, and a `Ready` condition that is
/// not `Unknown`.
fn settled(object: &DynamicObject, token: Option<&str>) -> bool {
    let status = &object.data["status"];
    if let Some(token) = token
        && status["lastHandledReconcileAt"].as_str() != Some(token)
    {
        return false;
    }
    let generation = object.metadata.generation.unwrap_or(0);
    if status["observedGeneration"].as_i64().unwrap_or(-1) < generation {
        return false;
    }
    let reconciling = kinds::condition(object, "Reconciling")
        .is_some_and(|c| c["status"].as_str() == Some("True"));
    let stalled =
        kinds::condition(object, "Stalled").is_some_and(|c| c["status"].as_str() == Some("True"));
    if reconciling && !stalled {
        return false;
    }
    kinds::condition(object, "Ready").is_some_and(|c| c["status"].as_str() != Some("Unknown"))
}

/// Now as RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`).
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}
