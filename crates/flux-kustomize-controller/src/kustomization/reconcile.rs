//! The Kustomization guard ladder: deleting (prune per `deletionPolicy`) →
//! finalizer → suspended → source artifact → unchanged? (wait for the
//! interval) → dependencies ready → download → build → apply → prune →
//! status, written once at the end of every path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_api::conditions::{self, ReconcileStatus};
use flux_api::kustomize::v1::{DeletionPolicy, Kustomization, KustomizationStatus, SubstituteKind};
use flux_api::meta::{ConditionStatus, FINALIZER, reason};
use flux_runtime::{ReconcileResult, Severity, now, parse_duration, patch_status};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::{Api, ResourceExt};

use crate::Context;
use crate::kustomization::{apply, build, decrypt, fetch};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "kustomization";
const KIND: &str = "Kustomization";

/// Errors that abort a reconciliation (status or finalizer writes failed);
/// the controller retries them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// The finalizer protocol failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// Reconciles one Kustomization, recording its duration and outcome.
pub async fn reconcile(k: Arc<Kustomization>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = k.namespace().unwrap_or_default();
    let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &namespace);
    let start = Instant::now();
    let frame = flux_runtime::reconcile::Frame {
        controller: CONTROLLER,
        group: "kustomize.toolkit.fluxcd.io",
        kind: KIND,
        finalizer: FINALIZER,
        metrics: &ctx.metrics,
    };
    flux_runtime::reconcile::run(frame, &api, k, |event| async {
        match event {
            Event::Apply(k) => reconcile_apply(&api, &k, &ctx, start).await,
            Event::Cleanup(k) => cleanup(&k, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        flux_runtime::reconcile::FrameError::Step(e) => e,
        flux_runtime::reconcile::FrameError::Finalizer(m) => Error::Finalizer(m),
    })
}

/// Requeue policy after an error the controller could not report.
pub fn error_policy(_k: Arc<Kustomization>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// The applier of a Kustomization: for the cluster of `spec.kubeConfig`
/// (else this one), as its ServiceAccount (or the default one), else the
/// controller's own (`None`). An error means nothing may be applied.
async fn applier_of(
    ctx: &Context,
    k: &Kustomization,
) -> Result<Option<Arc<flux_runtime::ssa::Applier>>, String> {
    let account = k
        .spec
        .service_account_name
        .clone()
        .or_else(|| ctx.default_service_account.clone())
        .filter(|a| !a.is_empty());
    if let Some(kube_config) = &k.spec.kube_config {
        let Some(reference) = &kube_config.secret_ref else {
            return Err(
                "spec.kubeConfig.configMapRef (workload identity) is not supported; use secretRef"
                    .to_string(),
            );
        };
        return ctx
            .remote_applier(
                &k.namespace().unwrap_or_default(),
                reference,
                account.as_deref(),
            )
            .await
            .map(Some);
    }
    match account {
        Some(account) => ctx
            .applier_as(&k.namespace().unwrap_or_default(), &account)
            .map(Some),
        None => Ok(None),
    }
}

fn owner_labels(k: &Kustomization) -> Vec<(String, String)> {
    vec![
        (build::NAME_LABEL.to_string(), k.name_any()),
        (
            build::NAMESPACE_LABEL.to_string(),
            k.namespace().unwrap_or_default(),
        ),
    ]
}

/// Deleting: with `prune`, the inventory's objects go too (unless the
/// deletion policy orphans them).
async fn cleanup(k: &Kustomization, ctx: &Context) -> Result<(Action, ReconcileResult), Error> {
    let namespace = k.namespace().unwrap_or_default();
    let name = k.name_any();
    let delete = match k.spec.deletion_policy {
        Some(DeletionPolicy::Orphan) => false,
        Some(DeletionPolicy::Delete) | Some(DeletionPolicy::WaitForTermination) => true,
        _ => k.spec.prune,
    };
    if delete
        && !k.spec.suspend
        && let Some(inventory) = k.status.as_ref().and_then(|s| s.inventory.as_ref())
    {
        match applier_of(ctx, k).await {
            Ok(target) => {
                let applier = target.as_deref().unwrap_or(&ctx.applier);
                let (deleted, _, errors) =
                    apply::prune(applier, &inventory.entries, &owner_labels(k)).await;
                for error in &errors {
                    tracing::error!(error = %error, "garbage collection failed");
                }
                if !deleted.is_empty() {
                    tracing::info!(
                        output = %apply::summary(&deleted),
                        "garbage collection completed"
                    );
                }
            }
            // Never fall back to the controller's own rights.
            Err(message) => {
                tracing::error!("skipping garbage collection: {message}");
            }
        }
    }
    ctx.metrics.forget(KIND, &namespace, &name);
    ctx.schedule.forget(&format!("{namespace}/{name}"));
    Ok((Action::await_change(), ReconcileResult::Success))
}

/// Upstream's timeout: `spec.timeout`, else the interval.
fn timeout_of(k: &Kustomization, interval: Duration) -> Duration {
    k.spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(interval)
}

/// Health checks (`wait`: everything applied; else `healthChecks`):
/// `None` when there are none.
async fn check_health(
    applier: &flux_runtime::ssa::Applier,
    k: &Kustomization,
    changes: &[flux_runtime::ssa::Change],
    timeout: Duration,
) -> Option<Result<Duration, String>> {
    use flux_runtime::health::{Target, wait};
    use flux_runtime::ssa::{Action as ChangeAction, parse_inventory_id};
    let own = k.namespace().unwrap_or_default();
    let targets: Vec<Target> = if k.spec.wait {
        changes
            .iter()
            .filter(|c| !matches!(c.action, ChangeAction::Skipped | ChangeAction::Deleted))
            .filter_map(|c| {
                let (namespace, name, group, kind) = parse_inventory_id(&c.id)?;
                let api_version = if group.is_empty() {
                    c.version.clone()
                } else {
                    format!("{group}/{}", c.version)
                };
                Some(Target {
                    api_version,
                    kind,
                    namespace,
                    name,
                })
            })
            .collect()
    } else {
        k.spec
            .health_checks
            .iter()
            .map(|h| Target {
                api_version: h.api_version.clone().unwrap_or_default(),
                kind: h.kind.clone(),
                namespace: h.namespace.clone().unwrap_or_else(|| own.clone()),
                name: h.name.clone(),
            })
            .collect()
    };
    // A Kustomization does not wait for itself.
    let targets: Vec<Target> = targets
        .into_iter()
        .filter(|t| !(t.kind == "Kustomization" && t.name == k.name_any() && t.namespace == own))
        .collect();
    if targets.is_empty() {
        return None;
    }
    let evaluators = match k
        .spec
        .health_check_exprs
        .iter()
        .map(super::cel::Evaluator::new)
        .collect::<Result<Vec<_>, String>>()
    {
        Ok(evaluators) => evaluators,
        Err(message) => return Some(Err(message)),
    };
    let custom = |api_version: &str, kind: &str, object: &serde_json::Value| {
        evaluators
            .iter()
            .find(|e| e.applies(api_version, kind))
            .map(|e| e.evaluate(object))
    };
    Some(
        wait(
            applier,
            applier.client(),
            &targets,
            &custom,
            timeout,
            Duration::from_secs(2),
        )
        .await,
    )
}

/// A failed step: its reason, message, and when to retry.
struct Failure {
    reason: &'static str,
    message: String,
    requeue: Duration,
    stalled: bool,
}

/// Loads the `postBuild` variables: `substituteFrom` in order (optional
/// ones may be missing), then `substitute`, which wins.
async fn load_vars(ctx: &Context, k: &Kustomization) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    let Some(post_build) = &k.spec.post_build else {
        return Ok(vars);
    };
    let namespace = k.namespace().unwrap_or_default();
    for reference in &post_build.substitute_from {
        match reference.kind {
            SubstituteKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
                match api.get_opt(&reference.name).await {
                    Ok(Some(cm)) => {
                        for (key, value) in cm.data.unwrap_or_default() {
                            vars.insert(key, value.replace('\n', ""));
                        }
                    }
                    Ok(None) if reference.optional => {}
                    Ok(None) => {
                        return Err(format!(
                            "substitute from 'ConfigMap/{}' error: configmaps \"{}\" not found",
                            reference.name, reference.name
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "substitute from 'ConfigMap/{}' error: {}",
                            reference.name,
                            flux_runtime::ssa::kube_message(&e)
                        ));
                    }
                }
            }
            SubstituteKind::Secret => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
                match api.get_opt(&reference.name).await {
                    Ok(Some(secret)) => {
                        for (key, value) in secret.data.unwrap_or_default() {
                            let text = String::from_utf8_lossy(&value.0).replace('\n', "");
                            vars.insert(key, text);
                        }
                    }
                    Ok(None) if reference.optional => {}
                    Ok(None) => {
                        return Err(format!(
                            "substitute from 'Secret/{}' error: secrets \"{}\" not found",
                            reference.name, reference.name
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "substitute from 'Secret/{}' error: {}",
                            reference.name,
                            flux_runtime::ssa::kube_message(&e)
                        ));
                    }
                }
            }
        }
    }
    for (key, value) in post_build.substitute.clone().unwrap_or_default() {
        vars.insert(key, value.replace('\n', ""));
    }
    Ok(vars)
}

/// The age keys of `spec.decryption.secretRef`.
async fn decryption_keys(
    ctx: &Context,
    k: &Kustomization,
    decryption: &flux_api::kustomize::v1::Decryption,
) -> Result<flux_sops::Keys, String> {
    let Some(reference) = &decryption.secret_ref else {
        return Err(
            "spec.decryption.secretRef is required (KMS providers are not supported yet)"
                .to_string(),
        );
    };
    let namespace = k.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret = match api.get_opt(&reference.name).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(format!(
                "cannot get decryption Secret '{namespace}/{}': not found",
                reference.name
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot get decryption Secret '{namespace}/{}': {}",
                reference.name,
                flux_runtime::ssa::kube_message(&e)
            ));
        }
    };
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    decrypt::identities(&data, &format!("{namespace}/{}", reference.name))
}

/// Why the first dependency that is not ready is not (at its latest
/// generation, or by its `readyExpr`).
async fn blocking_dependency(ctx: &Context, k: &Kustomization) -> Option<String> {
    let own = k.namespace().unwrap_or_default();
    for dependency in &k.spec.depends_on {
        let namespace = dependency.namespace.clone().unwrap_or_else(|| own.clone());
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &namespace);
        let ready = match api.get_opt(&dependency.name).await {
            // `readyExpr` replaces the built-in check (upstream's default).
            Ok(Some(d)) => match dependency.ready_expr.as_deref().filter(|e| !e.is_empty()) {
                Some(expr) => {
                    let me = serde_json::to_value(k).unwrap_or_default();
                    let dep = serde_json::to_value(&d).unwrap_or_default();
                    match super::cel::evaluate_bool(expr, &[("self", &me), ("dep", &dep)]) {
                        Ok(ready) => ready,
                        Err(error) => {
                            return Some(format!(
                                "dependency '{namespace}/{}' is not ready: {error}",
                                dependency.name
                            ));
                        }
                    }
                }
                None => d.status.as_ref().is_some_and(|s| {
                    conditions::is_true(&s.conditions, "Ready")
                        && s.observed_generation == d.metadata.generation
                        && s.last_applied_revision == s.last_attempted_revision
                }),
            },
            _ => false,
        };
        if !ready {
            return Some(format!(
                "dependency '{namespace}/{}' is not ready",
                dependency.name
            ));
        }
    }
    None
}

async fn reconcile_apply(
    api: &Api<Kustomization>,
    k: &Kustomization,
    ctx: &Context,
    start: Instant,
) -> Result<(Action, ReconcileResult), Error> {
    if k.spec.suspend {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let name = k.name_any();
    let namespace = k.namespace().unwrap_or_default();
    let generation = k.metadata.generation;
    let interval = parse_duration(&k.spec.interval).unwrap_or(Duration::from_secs(600));
    let retry = k
        .spec
        .retry_interval
        .as_deref()
        .and_then(|r| parse_duration(r).ok())
        .unwrap_or(interval);
    let key = format!("{namespace}/{name}");
    let token = k
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .cloned();
    let mut status: KustomizationStatus = k.status.clone().unwrap_or_default();
    // `flux reconcile` (a new request token) checks every object with the
    // API server; interval runs trust the drift cache.
    let requested = token.is_some() && token.as_deref() != status.last_handled_reconcile_at();
    let target = applier_of(ctx, k).await;
    // Only reached with `target` Ok: an error fails the reconciliation
    // before anything is applied (never the controller's own rights).
    let applier: &flux_runtime::ssa::Applier = match &target {
        Ok(Some(a)) => a,
        _ => &ctx.applier,
    };

    let outcome: Result<(String, Vec<flux_runtime::ssa::Change>), (Option<String>, Failure)> =
        async {
            let artifact =
                fetch::artifact(&ctx.client, &ctx.sources, k, ctx.no_cross_namespace_refs)
                    .await
                    .map_err(|e| {
                        let requeue = if e.dependency {
                            ctx.requeue_dependency
                        } else {
                            retry
                        };
                        (
                            None,
                            Failure {
                                reason: e.reason,
                                message: e.message,
                                requeue,
                                stalled: e.stalled,
                            },
                        )
                    })?;
            let revision = artifact.revision.clone();
            let ready = conditions::is_true(&status.conditions, "Ready");
            if ready
                && status.last_applied_revision.as_deref() == Some(revision.as_str())
                && let Some(remaining) = ctx.schedule.remaining(&key, generation, token.as_deref())
            {
                return Err((
                    Some(revision),
                    Failure {
                        reason: "",
                        message: String::new(),
                        requeue: remaining,
                        stalled: false,
                    },
                ));
            }
            if let Some(dependency) = blocking_dependency(ctx, k).await {
                return Err((
                    Some(revision),
                    Failure {
                        reason: reason::DEPENDENCY_NOT_READY,
                        message: dependency,
                        requeue: ctx.requeue_dependency,
                        stalled: false,
                    },
                ));
            }
            let timeout = timeout_of(k, interval);
            // A Kustomization that decrypts writes into its tree: it gets a
            // private copy; the others share one extraction per revision.
            let mut private = None;
            let shared;
            let artifact_failed = |e: fetch::SourceError| {
                // The remembered artifact may be gone with its source: the
                // retry reads the source from the API server.
                if let Ok(mut known) = ctx.sources.lock() {
                    known.remove(&fetch::source_id(k));
                }
                (
                    Some(revision.clone()),
                    Failure {
                        reason: e.reason,
                        message: e.message,
                        requeue: retry,
                        stalled: false,
                    },
                )
            };
            let root = if k.spec.decryption.is_some() {
                let work = tempfile::Builder::new()
                    .prefix("kustomization-")
                    .tempdir()
                    .map_err(|e| {
                        (
                            Some(revision.clone()),
                            Failure {
                                reason: "DirectoryCreationFailed",
                                message: format!(
                                    "failed to create temporary working directory: {e}"
                                ),
                                requeue: retry,
                                stalled: false,
                            },
                        )
                    })?;
                let root = work.path().join("source");
                private = Some(work);
                fetch::download(&artifact, &root, &ctx.artifact_limits, timeout)
                    .await
                    .map_err(artifact_failed)?;
                root
            } else {
                shared = ctx
                    .artifacts
                    .get(&artifact, &ctx.artifact_limits, timeout)
                    .await
                    .map_err(artifact_failed)?;
                shared.path()
            };
            let build_failed = |message: String| {
                (
                    Some(revision.clone()),
                    Failure {
                        reason: reason::BUILD_FAILED,
                        message,
                        requeue: retry,
                        stalled: false,
                    },
                )
            };
            if let Some(decryption) = &k.spec.decryption {
                let identities = decryption_keys(ctx, k, decryption)
                    .await
                    .map_err(build_failed)?;
                let root_for_decrypt = root.clone();
                tokio::task::spawn_blocking(move || {
                    decrypt::decrypt_tree(&root_for_decrypt, &identities)
                })
                .await
                .map_err(|e| build_failed(e.to_string()))?
                .map_err(build_failed)?;
            }
            let vars = load_vars(ctx, k).await.map_err(build_failed)?;
            let spec_k = k.clone();
            let root_for_build = root.clone();
            let objects =
                tokio::task::spawn_blocking(move || build::build(&spec_k, &root_for_build, &vars))
                    .await
                    .map_err(|e| build_failed(e.to_string()))?
                    .map_err(build_failed)?;
            drop(private);
            let ignore = apply::IgnoreRules::new(&k.spec.ignore).map_err(|message| {
                (
                    Some(revision.clone()),
                    Failure {
                        reason: reason::RECONCILIATION_FAILED,
                        message,
                        requeue: retry,
                        stalled: true,
                    },
                )
            })?;
            if let Err(message) = &target {
                return Err((
                    Some(revision.clone()),
                    Failure {
                        reason: reason::RECONCILIATION_FAILED,
                        message: message.clone(),
                        requeue: retry,
                        stalled: false,
                    },
                ));
            }
            let changes = tokio::time::timeout(
                timeout,
                apply::apply(applier, objects, k.spec.force, requested, &ignore, timeout),
            )
            .await
            .map_err(|_| {
                (
                    Some(revision.clone()),
                    Failure {
                        reason: reason::RECONCILIATION_FAILED,
                        message: format!("apply timed out after {timeout:?}"),
                        requeue: retry,
                        stalled: false,
                    },
                )
            })?
            .map_err(|e| {
                (
                    Some(revision.clone()),
                    Failure {
                        reason: reason::RECONCILIATION_FAILED,
                        message: e.to_string(),
                        requeue: retry,
                        stalled: false,
                    },
                )
            })?;
            Ok((revision, changes))
        }
        .await;

    let action = match outcome {
        Ok((revision, mut changes)) => {
            let mut inventory = apply::inventory(&changes);
            let mut prune_errors = Vec::new();
            if k.spec.prune {
                let stale = apply::stale(status.inventory.as_ref(), &inventory);
                let (deleted, kept, errors) = apply::prune(applier, &stale, &owner_labels(k)).await;
                changes.extend(deleted);
                inventory.entries.extend(kept);
                inventory.entries.sort_by(|a, b| a.id.cmp(&b.id));
                prune_errors = errors;
            }
            status.inventory = Some(inventory);
            status.last_attempted_revision = Some(revision.clone());
            let health = check_health(applier, k, &changes, timeout_of(k, interval)).await;
            let conditions = status.conditions_mut();
            let summary = apply::summary(&changes);
            match &health {
                Some(Ok(elapsed)) => conditions::set(
                    conditions,
                    "Healthy",
                    ConditionStatus::True,
                    reason::SUCCEEDED,
                    &format!("Health check passed in {elapsed:.1?}"),
                    generation,
                    now(),
                ),
                Some(Err(message)) => conditions::set(
                    conditions,
                    "Healthy",
                    ConditionStatus::False,
                    reason::HEALTH_CHECK_FAILED,
                    message,
                    generation,
                    now(),
                ),
                None => {
                    conditions::remove(conditions, "Healthy");
                }
            }
            if let Some(Err(message)) = health {
                conditions::mark_failed(
                    status.conditions_mut(),
                    reason::HEALTH_CHECK_FAILED,
                    &message,
                    generation,
                    now(),
                );
                ctx.events
                    .warning(k, reason::HEALTH_CHECK_FAILED, &message)
                    .await;
                ctx.schedule.forget(&key);
                (Action::requeue(retry), ReconcileResult::Error)
            } else if prune_errors.is_empty() {
                status.last_applied_revision = Some(revision.clone());
                let message = format!("Applied revision: {revision}");
                conditions::mark_ready(
                    status.conditions_mut(),
                    reason::RECONCILIATION_SUCCEEDED,
                    &message,
                    generation,
                    now(),
                );
                if !summary.is_empty() {
                    let metadata = BTreeMap::from([("revision", revision.clone())]);
                    ctx.events
                        .event(k, Severity::Info, reason::PROGRESSING, &summary, metadata)
                        .await;
                    tracing::info!(revision = %revision, output = %summary, "server-side apply completed");
                }
                let finished = format!(
                    "Reconciliation finished in {:.0?}, next run in {}",
                    start.elapsed(),
                    k.spec.interval
                );
                if !summary.is_empty() {
                    let metadata = BTreeMap::from([("revision", revision.clone())]);
                    ctx.events
                        .event(
                            k,
                            Severity::Info,
                            reason::RECONCILIATION_SUCCEEDED,
                            &finished,
                            metadata,
                        )
                        .await;
                }
                ctx.schedule
                    .succeeded(&key, generation, token.as_deref(), interval);
                (Action::requeue(interval), ReconcileResult::RequeueAfter)
            } else {
                let message = prune_errors.join("\n");
                conditions::mark_failed(
                    conditions,
                    reason::PRUNE_FAILED,
                    &message,
                    generation,
                    now(),
                );
                ctx.events.warning(k, reason::PRUNE_FAILED, &message).await;
                ctx.schedule.forget(&key);
                (Action::requeue(retry), ReconcileResult::Error)
            }
        }
        Err((_, failure)) if failure.reason.is_empty() => {
            // Nothing changed since the last apply: wait for the interval.
            return Ok((Action::requeue(failure.requeue), ReconcileResult::Skipped));
        }
        Err((revision, failure)) => {
            ctx.schedule.forget(&key);
            if let Some(revision) = revision {
                status.last_attempted_revision = Some(revision);
            }
            let conditions = status.conditions_mut();
            if failure.stalled {
                conditions::mark_stalled(
                    conditions,
                    failure.reason,
                    &failure.message,
                    generation,
                    now(),
                );
            } else {
                conditions::mark_failed(
                    conditions,
                    failure.reason,
                    &failure.message,
                    generation,
                    now(),
                );
            }
            tracing::error!(reason = failure.reason, "{}", failure.message);
            ctx.events
                .warning(k, failure.reason, &failure.message)
                .await;
            if failure.stalled {
                (Action::await_change(), ReconcileResult::Success)
            } else {
                (Action::requeue(failure.requeue), ReconcileResult::Error)
            }
        }
    };
    if let Some(generation) = generation {
        status.set_observed_generation(generation);
    }
    if let Some(token) = conditions::reconcile_request(
        k.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at(),
    ) {
        let token = token.to_string();
        status.set_last_handled_reconcile_at(&token);
    }
    if k.status.as_ref() != Some(&status) {
        patch_status(api, &name, &status).await?;
    }
    Ok(action)
}
