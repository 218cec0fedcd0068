//! The Kustomization guard ladder: deleting (prune per `deletionPolicy`) →
//! finalizer → suspended → steps → status, finalised once on every path
//! by [`flux_runtime::finalize`].
//!
//! The steps, each in its own module and each returning a
//! [`StepError`]: source artifact ([`fetch`]) → unchanged? (wait for the
//! interval) → [`dependencies`] → download ([`fetch`]) → [`decrypt`] →
//! [`build`] → [`apply`] → [`prune`] → [`health`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_api::kustomize::v1::{DeletionPolicy, Kustomization, KustomizationStatus};
use flux_api::meta::{FINALIZER, condition_type, reason};
use flux_runtime::conditions::{self, Owned, ReconcileStatus};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_progress};
use flux_runtime::ssa::{Applier, Change};
use flux_runtime::{ReconcileResult, Severity, StepError, format_duration, now, parse_duration};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::{Api, ResourceExt};

use crate::Context;
use crate::kustomization::{apply, build, decrypt, dependencies, fetch, health, prune};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "kustomization";
const KIND: &str = "Kustomization";

/// The conditions the Kustomization reconciler owns besides Ready,
/// Reconciling and Stalled (upstream's patch options).
pub const OWNED: Owned = Owned {
    negative: &[],
    positive: &[condition_type::HEALTHY],
};

/// Errors that abort a reconciliation (status or finalizer writes failed);
/// the controller retries them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("{}", flux_runtime::ssa::kube_message(.0))]
    Kube(#[from] kube::Error),
    /// The finalizer protocol failed.
    #[error("{0}")]
    Finalizer(#[from] flux_runtime::reconcile::FinalizerError),
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
        flux_runtime::reconcile::FrameError::Finalizer(e) => Error::Finalizer(e),
    })
}

/// Requeue policy after an error the controller could not report (a
/// status or finalizer write failed).
pub fn error_policy(_k: Arc<Kustomization>, error: &Error, _ctx: Arc<Context>) -> Action {
    match error {
        Error::Finalizer(e) => Action::requeue(e.requeue()),
        Error::Kube(_) => Action::requeue(flux_runtime::reconcile::UNREPORTED_ERROR_REQUEUE),
    }
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
                let pruned = flux_runtime::inventory::prune(
                    applier,
                    &inventory.entries,
                    &prune::owner_labels(k),
                )
                .await;
                for error in &pruned.errors {
                    tracing::error!(error = %error, "garbage collection failed");
                }
                if !pruned.deleted.is_empty() {
                    let output = flux_runtime::inventory::summary(&pruned.deleted);
                    tracing::info!(output = %output, "garbage collection completed");
                }
            }
            // Never fall back to the controller's own rights.
            Err(error) => tracing::error!("skipping garbage collection: {error}"),
        }
    }
    ctx.metrics.forget(KIND, &namespace, &name);
    ctx.schedule.forget(&flux_runtime::schedule::key(k));
    Ok((Action::await_change(), ReconcileResult::Success))
}

/// The applier of a Kustomization (see [`flux_runtime::impersonation`]);
/// `None` is the controller's own.
async fn applier_of(
    ctx: &Context,
    k: &Kustomization,
) -> Result<Option<Arc<Applier>>, flux_runtime::impersonation::ImpersonationError> {
    ctx.impersonator
        .applier_for(
            &k.namespace().unwrap_or_default(),
            k.spec.service_account_name.as_deref(),
            k.spec.kube_config.as_ref(),
        )
        .await
}

/// What one reconciliation works with.
struct Run<'a> {
    api: &'a Api<Kustomization>,
    k: &'a Kustomization,
    ctx: &'a Context,
    /// `spec.timeout`, else the interval (upstream's).
    timeout: Duration,
    /// A `flux reconcile` request not handled yet: every object is checked
    /// with the API server (interval runs trust the drift cache).
    requested: bool,
    /// The status as last written.
    written: Option<KustomizationStatus>,
}

/// How the steps ended when none failed.
enum Done {
    /// Nothing changed since the last apply: wait this long.
    Unchanged(Duration),
    /// `revision` applied with `changes`.
    Applied {
        revision: String,
        changes: Vec<Change>,
    },
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
    let interval = parse_duration(&k.spec.interval).unwrap_or(Duration::from_secs(600));
    let retry = k
        .spec
        .retry_interval
        .as_deref()
        .and_then(|r| parse_duration(r).ok())
        .unwrap_or(interval);
    let timeout = k
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(interval);
    let mut status = k.status.clone().unwrap_or_default();
    let requested = conditions::reconcile_request(
        k.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at(),
    )
    .is_some();
    let mut run = Run {
        api,
        k,
        ctx,
        timeout,
        requested,
        written: k.status.clone(),
    };
    let (outcome, revision) = match steps(&mut run, &mut status).await {
        Ok(Done::Unchanged(remaining)) => {
            return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
        }
        Ok(Done::Applied { revision, changes }) => {
            let origin = status.last_applied_origin_revision.clone();
            announce(ctx, k, &revision, origin.as_deref(), &changes, start).await;
            let outcome = Outcome::Ready {
                reason: reason::RECONCILIATION_SUCCEEDED,
                message: format!("Applied revision: {revision}"),
            };
            (outcome, Some(revision))
        }
        Err(error) => (
            Outcome::Failed(error),
            status.last_attempted_revision.clone(),
        ),
    };
    let finish = Finish {
        events: &ctx.events,
        schedule: &ctx.schedule,
        owned: &OWNED,
        interval,
        retry,
        revision: revision.as_deref(),
    };
    Ok(finalize(api, k, run.written.as_ref(), status, outcome, &finish).await?)
}

/// Runs the steps in order; the first failure ends the reconciliation.
async fn steps(run: &mut Run<'_>, status: &mut KustomizationStatus) -> Result<Done, StepError> {
    let (k, ctx) = (run.k, run.ctx);
    let artifact = fetch::artifact(
        &ctx.client,
        &ctx.sources,
        k,
        ctx.no_cross_namespace_refs,
        ctx.requeue_dependency,
    )
    .await?;
    let revision = artifact.revision.clone();
    // The origin an OCI artifact records (`org.opencontainers.image.revision`).
    let origin = artifact
        .metadata
        .as_ref()
        .and_then(|m| m.get("org.opencontainers.image.revision"))
        .cloned();
    let key = flux_runtime::schedule::key(k);
    let token = k
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .map(String::as_str);
    // The schedule, not the status (which may lag behind our own last
    // write), says whether this revision was applied within the interval
    // for this generation and reconcile request.
    if ctx.schedule.revision(&key).as_deref() == Some(revision.as_str())
        && let Some(remaining) = ctx.schedule.remaining(&key, k.metadata.generation, token)
    {
        return Ok(Done::Unchanged(remaining));
    }
    let applied = status.last_applied_revision.as_deref() == Some(revision.as_str());
    let ready = conditions::is_true(&status.conditions, condition_type::READY);
    status.last_attempted_revision = Some(revision.clone());
    dependencies::check(&ctx.client, k, ctx.requeue_dependency).await?;
    // Progress is written where a step may take long: before the fetch and
    // build, and before health checks. The drift detection's message is
    // kept in memory (it is what a failed apply leaves in Reconciling) to
    // spare a write. An interval run over an applied revision writes none
    // (it is a drift check, and usually changes nothing).
    let news =
        !applied || !ready || run.requested || status.observed_generation != k.metadata.generation;
    let timeout = format_duration(run.timeout);
    if news {
        let message =
            format!("Fetching manifests for revision {revision} with a timeout of {timeout}");
        progress(run, status, &message).await;
    }
    let target = applier_of(ctx, k).await;
    let objects = {
        // A Kustomization that decrypts writes into its tree: it gets a
        // private copy; the others share one extraction per revision.
        let tree = fetch::extract(ctx, k, &artifact, run.timeout).await?;
        decrypt::decrypt(&ctx.client, k, &tree.path()).await?;
        build::build(&ctx.client, k, &tree.path()).await?
    };
    let ignore = flux_runtime::ignore::IgnoreRules::new(&k.spec.ignore)
        .map_err(|e| StepError::stall(reason::RECONCILIATION_FAILED, e.to_string()))?;
    // An applier that cannot be made fails the reconciliation before
    // anything is applied (never the controller's own rights instead).
    let impersonated =
        target.map_err(|e| StepError::retry(reason::RECONCILIATION_FAILED, e.to_string()))?;
    let applier = impersonated.as_deref().unwrap_or(&ctx.applier);
    if news {
        let message =
            format!("Detecting drift for revision {revision} with a timeout of {timeout}");
        conditions::mark_progressing(
            &mut status.conditions,
            &message,
            k.metadata.generation,
            now(),
        );
    }
    let mut changes = apply::apply(
        applier,
        objects,
        k.spec.force,
        run.requested,
        &ignore,
        run.timeout,
    )
    .await?;
    let pruned = prune::prune(applier, k, status, &mut changes).await;
    let targets = health::targets(k, &changes);
    if news && !targets.is_empty() {
        let message =
            format!("Running health checks for revision {revision} with a timeout of {timeout}");
        progress(run, status, &message).await;
    }
    health::check(applier, k, status, &targets, run.timeout).await?;
    pruned?;
    status.last_applied_revision = Some(revision.clone());
    status.last_applied_origin_revision = origin;
    Ok(Done::Applied { revision, changes })
}

/// Writes `Reconciling=True` with `message`; a failed write is only
/// logged (the final status write reports the outcome).
async fn progress(run: &mut Run<'_>, status: &mut KustomizationStatus, message: &str) {
    match report_progress(run.api, run.k, status, message).await {
        Ok(()) => run.written = Some(status.clone()),
        Err(e) => {
            tracing::error!(error = %flux_runtime::ssa::kube_message(&e), "failed to update status")
        }
    }
}

/// The success events: the change set (`Progressing`) and the summary
/// (`ReconciliationSucceeded`), when something changed.
async fn announce(
    ctx: &Context,
    k: &Kustomization,
    revision: &str,
    origin: Option<&str>,
    changes: &[Change],
    start: Instant,
) {
    let summary = flux_runtime::inventory::summary(changes);
    if summary.is_empty() {
        return;
    }
    let metadata = || {
        let mut m = BTreeMap::from([("revision", revision.to_string())]);
        if let Some(origin) = origin {
            m.insert("originRevision", origin.to_string());
        }
        m
    };
    ctx.events
        .event(k, Severity::Info, reason::PROGRESSING, &summary, metadata())
        .await;
    tracing::info!(revision = %revision, output = %summary, "server-side apply completed");
    let finished = format!(
        "Reconciliation finished in {}, next run in {}",
        format_duration(start.elapsed()),
        k.spec.interval
    );
    ctx.events
        .event(
            k,
            Severity::Info,
            reason::RECONCILIATION_SUCCEEDED,
            &finished,
            metadata(),
        )
        .await;
}
