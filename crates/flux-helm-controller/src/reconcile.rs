//! The HelmRelease reconciler (upstream's `HelmReleaseReconciler` and its
//! atomic release): deleting → uninstall; finalizer; suspended; the
//! HelmChart template; `dependsOn`; the chart source and its artifact; the
//! values; the release target; the failure counters; then the loop of
//! state → action (each kind of action at most once, remediation last),
//! with upstream's conditions (`Released`, `TestSuccess`, `Remediated`,
//! Ready summarised from them), events (annotated with the chart version,
//! values digest, app version and OCI digest) and `status.history`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_api::helm::v2::{
    CrdsPolicy, DriftDetectionMode, HelmRelease, HelmReleaseStatus, ReleaseAction, Snapshot,
};
use flux_api::meta::{ConditionStatus, FINALIZER, condition_type, reason};
use flux_helm::release::{Release, status as helm_status};
use flux_runtime::conditions::{self, ReconcileStatus};
use flux_runtime::{ReconcileResult, Severity, StepError, format_duration, now, parse_duration};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::{Map, Value as Json};

use crate::action::{self, Options, Target, Written};
use crate::state::{self, Kind, Next, Refusal, State};
use crate::{Context, capabilities, chart, drift, postrender, snapshot, steady, storage, values};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "helmrelease";
const KIND: &str = "HelmRelease";

/// Condition types of HelmReleases.
pub mod condition {
    /// The last release action's outcome.
    pub const RELEASED: &str = "Released";
    /// The last test's outcome.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// The last remediation's outcome.
    pub const REMEDIATED: &str = "Remediated";
    /// Whether the cluster drifted from the release.
    pub const DRIFTED: &str = "Drifted";
}

/// Condition reasons of HelmReleases.
pub mod why {
    /// Installed.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// Install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// Upgraded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// Upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// Rolled back.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// Rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// Uninstalled.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// Uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// A release was unlocked.
    pub const PENDING_RELEASE: &str = "PendingRelease";
    /// Retries exhausted.
    pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";
    /// No release to roll back to.
    pub const MISSING_ROLLBACK_TARGET: &str = "MissingRollbackTarget";
    /// The values could not be composed.
    pub const VALUES_ERROR: &str = "ValuesError";
    /// The release state could not be determined.
    pub const STATE_ERROR: &str = "StateError";
    /// An action failed without a record.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
}

/// Errors that abort a reconciliation (status or finalizer writes failed).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("{}", flux_runtime::ssa::kube_message(.0))]
    Kube(#[from] kube::Error),
    /// The finalizer protocol failed.
    #[error("{0}")]
    Finalizer(#[from] flux_runtime::reconcile::FinalizerError),
}

/// Reconciles one HelmRelease.
pub async fn reconcile(hr: Arc<HelmRelease>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = hr.namespace().unwrap_or_default();
    let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &namespace);
    let frame = flux_runtime::reconcile::Frame {
        controller: CONTROLLER,
        group: "helm.toolkit.fluxcd.io",
        kind: KIND,
        finalizer: FINALIZER,
        metrics: &ctx.metrics,
    };
    flux_runtime::reconcile::run(frame, &api, hr, |event| async {
        match event {
            Event::Apply(hr) => reconcile_apply(&api, &hr, &ctx).await,
            Event::Cleanup(hr) => cleanup(&hr, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        flux_runtime::reconcile::FrameError::Step(e) => e,
        flux_runtime::reconcile::FrameError::Finalizer(e) => Error::Finalizer(e),
    })
}

/// Requeue policy after an unreported error.
pub fn error_policy(_hr: Arc<HelmRelease>, error: &Error, _ctx: Arc<Context>) -> Action {
    match error {
        Error::Finalizer(e) => Action::requeue(e.requeue()),
        Error::Kube(_) => Action::requeue(flux_runtime::reconcile::UNREPORTED_ERROR_REQUEUE),
    }
}

fn release_name(hr: &HelmRelease) -> String {
    crate::name::of(hr)
}

fn release_namespace(hr: &HelmRelease) -> String {
    crate::name::namespace_of(hr)
}

fn storage_namespace(hr: &HelmRelease) -> String {
    crate::name::storage_namespace_of(hr)
}

fn duration(d: Option<&String>, default: Duration) -> Duration {
    d.and_then(|d| parse_duration(d).ok()).unwrap_or(default)
}

fn base_timeout(hr: &HelmRelease) -> Duration {
    duration(hr.spec.timeout.as_ref(), Duration::from_secs(300))
}

/// The applier (impersonated when asked) and its client.
async fn applier_of(
    ctx: &Context,
    hr: &HelmRelease,
) -> Result<Option<Arc<flux_runtime::ssa::Applier>>, String> {
    ctx.impersonator
        .applier_for(
            &hr.namespace().unwrap_or_default(),
            hr.spec.service_account_name.as_deref(),
            hr.spec.kube_config.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Deleting: the release is uninstalled (unless suspended), the generated
/// HelmChart deleted.
async fn cleanup(hr: &HelmRelease, ctx: &Context) -> Result<(Action, ReconcileResult), Error> {
    ctx.forget_writes(hr);
    let status = hr.status.clone().unwrap_or_default();
    let storage_ns = status.storage_namespace.clone().unwrap_or_default();
    if !hr.spec.suspend.unwrap_or(false) && !storage_ns.is_empty() {
        match applier_of(ctx, hr).await {
            Ok(impersonated) => {
                let applier = impersonated.as_deref().unwrap_or(&ctx.applier);
                let target = Target {
                    applier,
                    client: applier.client().clone(),
                    storage: storage::Storage::new(applier.client().clone(), &storage_ns),
                    name: status
                        .history
                        .first()
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| release_name(hr)),
                    namespace: release_namespace(hr),
                };
                let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
                let options = Options {
                    timeout: duration(uninstall.timeout.as_ref(), base_timeout(hr)),
                    disable_wait: uninstall.disable_wait.unwrap_or(false),
                    disable_wait_for_jobs: false,
                    disable_hooks: uninstall.disable_hooks.unwrap_or(false),
                    max_history: 0,
                    cleanup_on_fail: false,
                    health_checks: hr.spec.health_check_exprs.clone(),
                };
                match target.storage.history(&target.name).await {
                    Ok(history) => {
                        let mut written = Written::default();
                        if let Err(e) = action::uninstall(
                            &target,
                            &history,
                            uninstall.keep_history.unwrap_or(false),
                            &options,
                            &mut written,
                        )
                        .await
                        {
                            tracing::error!(error = %e, "uninstall failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "failed to read release history"),
                }
            }
            Err(e) => tracing::error!("skipping uninstall: {e}"),
        }
    }
    if !hr.spec.suspend.unwrap_or(false)
        && let Some(chart) = &status.helm_chart
        && let Err(e) = chart::delete_chart(&ctx.client, chart).await
    {
        tracing::error!(error = %e.message, "failed to delete HelmChart");
    }
    ctx.metrics
        .forget(KIND, &hr.namespace().unwrap_or_default(), &hr.name_any());
    ctx.schedule.forget(&flux_runtime::schedule::key(hr));
    Ok((Action::await_change(), ReconcileResult::Success))
}

/// How a reconciliation ended.
enum End {
    /// Done: requeue at the interval.
    Done,
    /// Try again at once (after a remediation, a release target change).
    Requeue,
    /// Try again after this long (RetryOnFailure, waiting for a source).
    After(Duration),
    /// A failure: try again after a pause, `observedGeneration` untouched.
    Error(Duration),
    /// Nothing to do until the object changes.
    Terminal,
}

/// One reconciliation's state.
struct Run<'a> {
    api: &'a Api<HelmRelease>,
    hr: &'a HelmRelease,
    ctx: &'a Context,
    /// The status as last written.
    written: Option<HelmReleaseStatus>,
    /// The digest of the chart artifact this reconciliation read.
    revision: Option<String>,
}

impl Run<'_> {
    /// Writes the status now (progress); a failure is logged.
    async fn patch(&mut self, status: &HelmReleaseStatus) {
        if self.written.as_ref() == Some(status) {
            return;
        }
        match patch_status(self.api, &self.hr.name_any(), self.written.as_ref(), status).await {
            Ok(version) => {
                self.ctx.wrote(self.hr, version);
                self.written = Some(status.clone());
            }
            Err(e) => {
                tracing::error!(error = %flux_runtime::ssa::kube_message(&e), "failed to update status")
            }
        }
    }

    async fn event(
        &self,
        severity: Severity,
        reason: &str,
        message: &str,
        meta: BTreeMap<&str, String>,
    ) {
        self.ctx
            .events
            .event(self.hr, severity, reason, message, meta)
            .await;
    }
}

/// A merge patch of the status that also removes the fields `after` no
/// longer has.
async fn patch_status(
    api: &Api<HelmRelease>,
    name: &str,
    before: Option<&HelmReleaseStatus>,
    after: &HelmReleaseStatus,
) -> Result<Option<String>, kube::Error> {
    let mut value = serde_json::to_value(after).unwrap_or(Json::Null);
    if let (Some(before), Json::Object(map)) = (before, &mut value)
        && let Json::Object(old) = serde_json::to_value(before).unwrap_or(Json::Null)
    {
        for key in old.keys() {
            if !map.contains_key(key) {
                map.insert(key.clone(), Json::Null);
            }
        }
    }
    let patch = serde_json::json!({ "status": value });
    api.patch_status(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map(|written| written.metadata.resource_version)
}

fn set(
    status: &mut HelmReleaseStatus,
    hr: &HelmRelease,
    kind: &str,
    s: ConditionStatus,
    reason: &str,
    message: &str,
) {
    conditions::set(
        &mut status.conditions,
        kind,
        s,
        reason,
        message,
        hr.metadata.generation,
        now(),
    );
}

fn mark_ready_false(status: &mut HelmReleaseStatus, hr: &HelmRelease, reason: &str, message: &str) {
    set(
        status,
        hr,
        condition_type::READY,
        ConditionStatus::False,
        reason,
        message,
    );
}

/// `Reconciling=True` (and no `Stalled`, as fluxcd/pkg's `MarkReconciling`).
fn mark_reconciling(status: &mut HelmReleaseStatus, hr: &HelmRelease, reason: &str, message: &str) {
    conditions::remove(&mut status.conditions, condition_type::STALLED);
    set(
        status,
        hr,
        condition_type::RECONCILING,
        ConditionStatus::True,
        reason,
        message,
    );
}

/// `Stalled=True` (and no `Reconciling`, as fluxcd/pkg's `MarkStalled`).
fn mark_stalled(status: &mut HelmReleaseStatus, hr: &HelmRelease, reason: &str, message: &str) {
    conditions::remove(&mut status.conditions, condition_type::RECONCILING);
    set(
        status,
        hr,
        condition_type::STALLED,
        ConditionStatus::True,
        reason,
        message,
    );
}

/// A stale `Ready=False` of an earlier step becomes `Unknown/Progressing`
/// once that step passes.
fn clear_step(status: &mut HelmReleaseStatus, hr: &HelmRelease, reasons: &[&str]) {
    let stale = conditions::get(&status.conditions, condition_type::READY).is_some_and(|c| {
        c.status == ConditionStatus::False && reasons.contains(&c.reason.as_str())
    });
    if stale {
        set(
            status,
            hr,
            condition_type::READY,
            ConditionStatus::Unknown,
            reason::PROGRESSING,
            "reconciliation in progress",
        );
    }
}

/// Ready summarised from `Remediated`, `TestSuccess` (when tests count)
/// and `Released` (upstream's `summarize`).
fn summarize(status: &mut HelmReleaseStatus, hr: &HelmRelease) {
    let tests = state::test_enabled(hr);
    let order: &[&str] = if tests && !state::test_ignore_failures(hr) {
        &[
            condition::REMEDIATED,
            condition::TEST_SUCCESS,
            condition::RELEASED,
        ]
    } else {
        &[condition::REMEDIATED, condition::RELEASED]
    };
    if !tests {
        conditions::remove(&mut status.conditions, condition::TEST_SUCCESS);
    }
    let pos = |t: &str| order.iter().position(|o| *o == t);
    let mut candidates: Vec<&flux_api::meta::Condition> = status
        .conditions
        .iter()
        .filter(|c| pos(&c.r#type).is_some())
        .collect();
    if candidates.is_empty() {
        return;
    }
    candidates.sort_by(|a, b| {
        let newer = a.observed_generation >= b.observed_generation;
        match (newer, pos(&a.r#type).cmp(&pos(&b.r#type))) {
            (true, std::cmp::Ordering::Less) => std::cmp::Ordering::Less,
            (_, std::cmp::Ordering::Equal) => std::cmp::Ordering::Equal,
            _ => std::cmp::Ordering::Greater,
        }
    });
    let top = candidates[0].clone();
    let s = if top.r#type == condition::REMEDIATED {
        ConditionStatus::False
    } else {
        top.status
    };
    if s == ConditionStatus::True {
        conditions::remove(&mut status.conditions, condition_type::STALLED);
    }
    set(
        status,
        hr,
        condition_type::READY,
        s,
        &top.reason,
        &top.message,
    );
    status.observed_post_renderers_digest =
        postrender::post_renderers_digest(&hr.spec.post_renderers);
    status.observed_common_metadata_digest =
        postrender::common_metadata_digest(hr.spec.common_metadata.as_ref());
}

/// An action's outcome: condition `kind` `True` with `Ok`'s reason, or
/// `False` with `Err`'s (one more failure counted), and an event saying
/// the same.
async fn report(
    run: &Run<'_>,
    status: &mut HelmReleaseStatus,
    kind: &str,
    outcome: Result<&'static str, &'static str>,
    message: &str,
    meta: BTreeMap<&'static str, String>,
) {
    let (condition_status, severity, reason) = match outcome {
        Ok(reason) => (ConditionStatus::True, Severity::Info, reason),
        Err(reason) => {
            status.failures = Some(status.failures.unwrap_or(0) + 1);
            (ConditionStatus::False, Severity::Error, reason)
        }
    };
    set(status, run.hr, kind, condition_status, reason, message);
    run.event(severity, reason, message, meta).await;
}

/// Replaces the snapshots of the records an action wrote (those already
/// in the history), keeping their test hooks; `action` is the snapshot's
/// new action (`None`: kept as it was).
fn update_snapshots(status: &mut HelmReleaseStatus, written: &Written, action: Option<&str>) {
    for r in &written.releases {
        if let Some(i) = status
            .history
            .iter()
            .position(|s| snapshot::targets(s, &r.name, &r.namespace, r.version))
        {
            let old = status.history[i].clone();
            status.history[i] = Snapshot {
                action: action.map(str::to_string).or(old.action),
                test_hooks: old.test_hooks,
                ..snapshot::snapshot(r, None, old.oci_digest.as_deref())
            };
        }
    }
}

fn event_meta(
    revision: &str,
    token: &str,
    app_version: Option<&str>,
    oci: Option<&str>,
) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    if !revision.is_empty() {
        m.insert("revision", revision.to_string());
    }
    if !token.is_empty() {
        m.insert("token", token.to_string());
    }
    if let Some(a) = app_version.filter(|a| !a.is_empty()) {
        m.insert("app-version", a.to_string());
    }
    if let Some(d) = oci.filter(|d| !d.is_empty()) {
        m.insert("oci-digest", d.to_string());
    }
    m
}

fn snapshot_meta(s: &Snapshot) -> BTreeMap<&'static str, String> {
    event_meta(
        &s.chart_version,
        &s.config_digest,
        s.app_version.as_deref(),
        s.oci_digest.as_deref(),
    )
}

async fn reconcile_apply(
    api: &Api<HelmRelease>,
    hr: &HelmRelease,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    if hr.spec.suspend.unwrap_or(false) {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let interval = duration(Some(&hr.spec.interval), Duration::from_secs(600));
    // Reconciled when the spec, a reconcile request or the chart source's
    // artifact changed, or the interval passed — not after each of its own
    // status writes.
    let key = flux_runtime::schedule::key(hr);
    let token = hr
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .cloned();
    let known = chart::source_ref(hr).and_then(|s| {
        let id = format!("{}/{}/{}", s.kind, s.namespace, s.name);
        ctx.sources.lock().ok().and_then(|m| m.get(&id).cloned())
    });
    if known
        .as_ref()
        .is_none_or(|k| ctx.schedule.revision(&key).as_deref() == Some(k.as_str()))
        && let Some(remaining) =
            ctx.schedule
                .remaining(&key, hr.metadata.generation, token.as_deref())
    {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }
    if let Some(digest) = unchanged(hr, ctx, &key).await {
        tracing::debug!("release in sync and nothing new");
        // A reconcile request is recorded, and only that (the status in
        // hand may be older than the last write).
        if let Some(token) = token.as_deref().filter(|t| {
            hr.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                != Some(*t)
        }) {
            let patch = serde_json::json!({"status": {"lastHandledReconcileAt": token}});
            let written = api
                .patch_status(
                    &hr.name_any(),
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&patch),
                )
                .await?;
            ctx.wrote(hr, written.metadata.resource_version);
        }
        ctx.schedule.succeeded(
            &key,
            hr.metadata.generation,
            token.as_deref(),
            Some(&digest),
            interval,
        );
        return Ok((Action::requeue(interval), ReconcileResult::RequeueAfter));
    }
    // The status must be this controller's last write or newer: a stale
    // `status.history` would make the release look unmanaged. The object
    // in hand is that write when its version is the one the write
    // returned (or nothing was written since the process started); else
    // the watch has not delivered it yet (a remediation requeues at once),
    // or someone changed the object since, and it is read.
    let fresh = if ctx.is_last_write(hr) {
        hr.clone()
    } else {
        match api.get_opt(&hr.name_any()).await? {
            Some(fresh) => fresh,
            None => return Ok((Action::await_change(), ReconcileResult::Success)),
        }
    };
    let hr = &fresh;
    let mut status = hr.status.clone().unwrap_or_default();
    let mut run = Run {
        api,
        hr,
        ctx,
        written: hr.status.clone(),
        revision: None,
    };
    let end = match steps(&mut run, &mut status).await {
        Ok(end) => end,
        Err(error) => {
            // A step that failed before the release: Ready=False with its
            // reason, an event when it has one.
            mark_ready_false(&mut status, hr, error.reason, &error.message);
            if let Some((severity, message)) = &error.event {
                run.event(*severity, error.reason, message, BTreeMap::new())
                    .await;
            }
            match error.next {
                flux_runtime::Next::Stall => {
                    mark_stalled(&mut status, hr, error.reason, &error.message);
                    conditions::remove(&mut status.conditions, condition_type::RECONCILING);
                    End::Terminal
                }
                flux_runtime::Next::Wait(after) => End::After(after),
                flux_runtime::Next::Retry => End::Error(Duration::from_secs(10)),
            }
        }
    };
    let request = conditions::reconcile_request(
        hr.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at(),
    )
    .map(str::to_string);
    if let Some(token) = request {
        status.set_last_handled_reconcile_at(&token);
    }
    let (generation, token, revision) = (
        hr.metadata.generation,
        token.as_deref(),
        run.revision.as_deref(),
    );
    let schedule = &ctx.schedule;
    let (action, result) = match end {
        End::Done => {
            status.observed_generation = generation;
            schedule.succeeded(&key, generation, token, revision, interval);
            (Action::requeue(interval), ReconcileResult::RequeueAfter)
        }
        End::After(after) => {
            status.observed_generation = generation;
            schedule.failed(&key, generation, token, revision, after);
            (Action::requeue(after), ReconcileResult::RequeueAfter)
        }
        End::Terminal => {
            status.observed_generation = generation;
            schedule.failed(&key, generation, token, revision, Duration::MAX);
            (Action::await_change(), ReconcileResult::Success)
        }
        End::Requeue => {
            schedule.forget(&key);
            (
                Action::requeue(Duration::from_millis(500)),
                ReconcileResult::RequeueAfter,
            )
        }
        End::Error(after) => {
            schedule.failed(&key, generation, token, revision, after);
            (Action::requeue(after), ReconcileResult::Error)
        }
    };
    if run.written.as_ref() != Some(&status) {
        let version = patch_status(api, &hr.name_any(), run.written.as_ref(), &status).await?;
        ctx.wrote(hr, version);
    }
    Ok((action, result))
}

/// The unchanged interval reconciliation ([`crate::steady`]): the digest
/// of the chart artifact when `hr` is exactly as its last successful
/// reconciliation left it and nothing it reads changed since.
async fn unchanged(hr: &HelmRelease, ctx: &Context, key: &str) -> Option<String> {
    let source = chart::source_ref(hr)?;
    let known = ctx.known_sources.get(&format!(
        "{}/{}/{}",
        source.kind, source.namespace, source.name
    ));
    let digest = known.as_ref()?.usable.as_ref().ok()?.digest.clone();
    let own = hr.namespace().unwrap_or_default();
    let me = serde_json::to_value(hr).unwrap_or_default();
    let dependencies_ready = hr.spec.depends_on.iter().all(|d| {
        let namespace = d.namespace.clone().unwrap_or_else(|| own.clone());
        let reference = ObjectRef::<HelmRelease>::new(&d.name).within(&namespace);
        ctx.store
            .get()
            .and_then(|store| store.get(&reference))
            .is_some_and(|dep| {
                let mut dep = serde_json::to_value(&*dep).unwrap_or_default();
                dep["kind"] = Json::from(KIND);
                flux_runtime::dependencies::is_ready(&me, &dep, d.ready_expr.as_deref())
                    .unwrap_or(false)
            })
    });
    let succeeded_with = |digest: &str| {
        ctx.schedule
            .succeeded_with(key, hr.metadata.generation, digest)
    };
    let mut observed = steady::Observed {
        source: known,
        succeeded_with: &succeeded_with,
        latest: ctx
            .releases
            .latest(&storage_namespace(hr), &release_name(hr)),
        dependencies_ready,
        values_digest: hr
            .status
            .as_ref()
            .and_then(|s| s.last_attempted_config_digest.as_deref())
            .unwrap_or_default(),
    };
    if !steady::unchanged(hr, &observed) {
        return None;
    }
    // The values now: inline ones need no request; those of `valuesFrom`
    // are read (as the full path and upstream read them).
    let values_digest = values::digest(&compose_values(&ctx.client, hr).await.ok()?);
    observed.values_digest = &values_digest;
    steady::unchanged(hr, &observed).then_some(digest)
}

/// Everything up to and including the atomic release.
async fn steps(run: &mut Run<'_>, status: &mut HelmReleaseStatus) -> Result<End, StepError> {
    let (hr, ctx) = (run.hr, run.ctx);
    if hr.spec.chart.is_some() == hr.spec.chart_ref.is_some() {
        return Err(StepError::stall(
            "InvalidChartReference",
            "invalid Chart reference",
        ));
    }
    for check in &hr.spec.health_check_exprs {
        if let Err(e) = flux_runtime::cel::Evaluator::new(check) {
            return Err(StepError::stall(
                reason::INVALID_CEL_EXPRESSION,
                format!("Reconciliation failed terminally due to configuration error: {e}"),
            )
            .with_event_message(e.to_string()));
        }
    }
    let mut known = chart::source_ref(hr).and_then(|s| {
        ctx.known_sources
            .get(&format!("{}/{}/{}", s.kind, s.namespace, s.name))
    });
    let mut written = false;
    match chart::reconcile_template(&ctx.client, hr, &mut status.helm_chart, known.as_ref()).await {
        Ok(chart::TemplateResult::Applied(action, message, after)) if action != "unchanged" => {
            // What the watch saw is of the HelmChart before this write (its
            // old artifact would look ready): what the write returned is
            // judged instead.
            known = after.map(|o| steady::KnownSource::of("HelmChart", &o));
            written = known.is_some();
            let reason = if action == "created" {
                "HelmChartCreated"
            } else {
                "HelmChartConfigured"
            };
            tracing::info!("{message}");
            run.event(Severity::Trace, reason, &message, BTreeMap::new())
                .await;
        }
        Ok(_) => {}
        Err(e) => {
            run.event(Severity::Trace, e.reason, &e.message, BTreeMap::new())
                .await;
            tracing::error!(error = %e.message, "HelmChart template failed");
            return Ok(End::Error(Duration::from_secs(10)));
        }
    }
    // Written with the next status write (a wait for a dependency or the
    // source ends with one, the release action starts with one): a new
    // generation already reads as in progress to kstatus, and one write
    // fewer per reconciliation matters at a thousand releases.
    mark_reconciling(status, hr, reason::PROGRESSING, "Fulfilling prerequisites");
    dependencies(run, status).await?;
    clear_step(status, hr, &[reason::DEPENDENCY_NOT_READY]);
    let (source, artifact) = chart::ready_artifact(
        &ctx.client,
        hr,
        ctx.no_cross_namespace_refs,
        ctx.requeue_dependency,
        known.as_ref(),
        written,
    )
    .await?;
    clear_step(
        status,
        hr,
        &[
            reason::ACCESS_DENIED,
            reason::ARTIFACT_FAILED,
            chart::reason::SOURCE_NOT_READY,
        ],
    );
    run.revision = Some(artifact.digest.clone());
    let composed = compose_values(&ctx.client, hr).await?;
    clear_step(status, hr, &[why::VALUES_ERROR]);
    let mut loaded = chart::load(&artifact, ctx.requeue_dependency, ctx.artifact_timeout).await?;
    clear_step(status, hr, &[reason::ARTIFACT_FAILED]);
    let oci_digest = chart::track_digest(
        &mut loaded,
        &source,
        &artifact.revision,
        !ctx.disable_chart_digest_tracking,
    )?;
    let impersonated = applier_of(ctx, hr)
        .await
        .map_err(|e| StepError::retry("RESTClientError", e))?;
    let applier = impersonated.as_deref().unwrap_or(&ctx.applier);
    let storage_ns = storage_namespace(hr);
    let target = Target {
        applier,
        client: applier.client().clone(),
        storage: storage::Storage::new(applier.client().clone(), &storage_ns),
        name: release_name(hr),
        namespace: release_namespace(hr),
    };
    if let Some(end) = target_change(run, status, &loaded).await? {
        return Ok(end);
    }
    status.storage_namespace = Some(storage_ns);
    let values_digest = values::digest(&composed);
    // Failure counters restart when what is attempted changed.
    let reset_request = hr
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("reconcile.fluxcd.io/resetAt"))
        .filter(|t| status.last_handled_reset_at.as_deref() != Some(t.as_str()))
        .cloned();
    if status.last_attempted_generation != hr.metadata.generation
        || status.last_attempted_revision.as_deref() != Some(loaded.metadata.version.as_str())
        || status
            .last_attempted_config_digest
            .as_deref()
            .is_some_and(|d| d != values_digest)
        || reset_request.is_some()
    {
        status.failures = None;
        status.install_failures = None;
        status.upgrade_failures = None;
    }
    if let Some(token) = reset_request {
        status.last_handled_reset_at = Some(token);
    }
    status.last_attempted_generation = hr.metadata.generation;
    status.last_attempted_revision = Some(loaded.metadata.version.clone());
    status.last_attempted_revision_digest = oci_digest.clone();
    status.last_attempted_config_digest = Some(values_digest.clone());
    status.last_attempted_values_checksum = None;
    status.last_release_revision = None;
    let request = Request {
        chart: loaded,
        values: composed,
        values_digest,
        oci_digest,
        target,
        discovery: &ctx.discovery,
        own_client: impersonated.is_none(),
    };
    atomic_release(run, status, &request).await
}

async fn dependencies(run: &mut Run<'_>, _status: &mut HelmReleaseStatus) -> Result<(), StepError> {
    let hr = run.hr;
    if hr.spec.depends_on.is_empty() {
        return Ok(());
    }
    let own = hr.namespace().unwrap_or_default();
    let deps: Vec<flux_runtime::dependencies::Dependency> = hr
        .spec
        .depends_on
        .iter()
        .map(|d| flux_runtime::dependencies::Dependency {
            api_version: "helm.toolkit.fluxcd.io/v2".to_string(),
            kind: "HelmRelease".to_string(),
            namespace: d.namespace.clone().unwrap_or_else(|| own.clone()),
            name: d.name.clone(),
            ready_expr: d.ready_expr.clone(),
        })
        .collect();
    let me = serde_json::to_value(hr).unwrap_or_default();
    match flux_runtime::dependencies::first_not_ready(&run.ctx.client, &me, &deps).await {
        None => Ok(()),
        Some(not_ready) => Err(StepError::wait(
            reason::DEPENDENCY_NOT_READY,
            not_ready.to_string(),
            run.ctx.requeue_dependency,
        )),
    }
}

async fn compose_values(
    client: &kube::Client,
    hr: &HelmRelease,
) -> Result<Map<String, Json>, StepError> {
    let namespace = hr.namespace().unwrap_or_default();
    // Each object is read before composing (the composition is pure).
    let mut read = BTreeMap::new();
    for (kind, name) in values::references(&hr.spec.values_from) {
        let object = flux_runtime::config_data::read(client, &namespace, &kind, &name).await;
        let fetched = values::fetched(&kind, &name, object);
        read.insert((kind, name), fetched);
    }
    let inline = hr.spec.values.as_ref().and_then(Json::as_object);
    values::compose_read(&namespace, inline, &hr.spec.values_from, &read)
        .map_err(|e| StepError::retry(why::VALUES_ERROR, e))
}

/// What the atomic release works with.
struct Request<'a> {
    chart: flux_helm::Chart,
    values: Map<String, Json>,
    values_digest: String,
    oci_digest: Option<String>,
    target: Target<'a>,
    /// The cluster's discovery, reused for the controller's own client.
    discovery: &'a capabilities::Cache,
    /// The target's client is the controller's own (not impersonated).
    own_client: bool,
}

/// Upstream's `ReleaseTargetChanged`: the previous release is uninstalled
/// and the history cleared when the storage namespace, release namespace,
/// release name or (with the `Reinstall` strategy) chart name changed.
async fn target_change(
    run: &mut Run<'_>,
    status: &mut HelmReleaseStatus,
    chart: &flux_helm::Chart,
) -> Result<Option<End>, StepError> {
    let hr = run.hr;
    let Some(current) = status.history.first().cloned() else {
        return Ok(None);
    };
    let Some(old_storage) = status.storage_namespace.clone().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let reinstall = !matches!(
        hr.spec
            .upgrade
            .as_ref()
            .and_then(|u| u.chart_name_change_strategy),
        Some(flux_api::helm::v2::ChartNameChangeStrategy::InPlaceUpdate)
    );
    let changed = storage_namespace(hr) != old_storage
        || release_namespace(hr) != current.namespace
        || release_name(hr) != current.name
        || (reinstall && chart.metadata.name != current.chart_name);
    if !changed {
        return Ok(None);
    }
    let impersonated = applier_of(run.ctx, hr)
        .await
        .map_err(|e| StepError::retry("RESTClientError", e))?;
    let applier = impersonated.as_deref().unwrap_or(&run.ctx.applier);
    let old = Target {
        applier,
        client: applier.client().clone(),
        storage: storage::Storage::new(applier.client().clone(), &old_storage),
        name: current.name.clone(),
        namespace: current.namespace.clone(),
    };
    let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
    let options = Options {
        timeout: duration(uninstall.timeout.as_ref(), base_timeout(hr)),
        disable_wait: uninstall.disable_wait.unwrap_or(false),
        disable_wait_for_jobs: false,
        disable_hooks: uninstall.disable_hooks.unwrap_or(false),
        max_history: 0,
        cleanup_on_fail: false,
        health_checks: hr.spec.health_check_exprs.clone(),
    };
    let history = old
        .storage
        .history(&old.name)
        .await
        .map_err(|e| StepError::retry(why::UNINSTALL_FAILED, e.0))?;
    let mut written = Written::default();
    action::uninstall(
        &old,
        &history,
        uninstall.keep_history.unwrap_or(false),
        &options,
        &mut written,
    )
    .await
    .map_err(|e| StepError::retry(why::UNINSTALL_FAILED, e))?;
    status.history.clear();
    status.failures = None;
    status.install_failures = None;
    status.upgrade_failures = None;
    status.storage_namespace = None;
    Ok(Some(End::Requeue))
}

fn forced(hr: &HelmRelease, status: &HelmReleaseStatus) -> Option<String> {
    let annotations = hr.metadata.annotations.as_ref()?;
    let force = annotations.get("reconcile.fluxcd.io/forceAt")?;
    let requested = annotations.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION)?;
    (force == requested && status.last_handled_force_at.as_deref() != Some(force.as_str()))
        .then(|| force.clone())
}

/// The state machine: determine the state, pick the action, run it; each
/// kind of action at most once; a remediation ends the loop.
async fn atomic_release(
    run: &mut Run<'_>,
    status: &mut HelmReleaseStatus,
    req: &Request<'_>,
) -> Result<End, StepError> {
    let hr = run.hr;
    let mut previous: Vec<Kind> = Vec::new();
    let mut drifts: Vec<drift::Drift> = Vec::new();
    let force = forced(hr, status);
    let desired_post = postrender::post_renderers_digest(&hr.spec.post_renderers);
    let desired_common = postrender::common_metadata_digest(hr.spec.common_metadata.as_ref());
    loop {
        let history = match req.target.storage.history(&req.target.name).await {
            Ok(h) => h,
            Err(e) => {
                let message = format!(
                    "Could not determine release state: failed to retrieve last release from storage: {}",
                    e.0
                );
                mark_ready_false(status, hr, why::STATE_ERROR, &message);
                return Ok(End::Error(Duration::from_secs(10)));
            }
        };
        let desired = state::Desired {
            chart_name: &req.chart.metadata.name,
            chart_version: &req.chart.metadata.version,
            values_digest: &req.values_digest,
            post_renderers_digest: desired_post.as_deref(),
            common_metadata_digest: desired_common.as_deref(),
        };
        let mut state = state::determine(hr, status, history.last(), &desired);
        let mode = state::drift_mode(hr);
        if state == State::InSync
            && mode != DriftDetectionMode::Disabled
            && let Some(last) = history.last()
        {
            let ignore = hr
                .spec
                .drift_detection
                .as_ref()
                .map(|d| d.ignore.clone())
                .unwrap_or_default();
            let detected = match flux_runtime::ignore::IgnoreRules::new(&ignore) {
                Ok(rules) => drift::detect(&req.target, &last.manifest, &rules).await,
                Err(e) => Err(e.to_string()),
            };
            match detected {
                Ok(found) if !found.is_empty() => {
                    drifts = found;
                    state = State::Drifted;
                }
                Ok(_) => {}
                Err(e) => {
                    let message = format!(
                        "Could not determine release state: unable to determine cluster state: {e}"
                    );
                    mark_ready_false(status, hr, why::STATE_ERROR, &message);
                    return Ok(End::Error(Duration::from_secs(10)));
                }
            }
        }
        tracing::debug!(?state, "release state");
        let verified = |s: &Snapshot| {
            history
                .iter()
                .find(|r| snapshot::targets(s, &r.name, &r.namespace, r.version))
                .is_some_and(|r| snapshot::verifies(s, r))
        };
        let next = match state::next_action(hr, status, &state, force.is_some(), &verified) {
            Ok(n) => n,
            Err(Refusal::RetriesExceeded(_)) => {
                let remediation = state::active_remediation(hr, status);
                let action = status
                    .last_attempted_release_action
                    .map(action_word)
                    .unwrap_or_default();
                let count = remediation.map_or(0, |r| r.failure_count(status));
                let message = format!("Failed to {action} after {count} attempt(s)");
                mark_stalled(status, hr, why::RETRIES_EXCEEDED, &message);
                conditions::remove(&mut status.conditions, condition_type::RECONCILING);
                return Ok(End::Terminal);
            }
            Err(Refusal::MissingRollbackTarget(why)) => {
                let message = format!("Failed to perform remediation: {why}");
                mark_stalled(status, hr, why::MISSING_ROLLBACK_TARGET, &message);
                conditions::remove(&mut status.conditions, condition_type::RECONCILING);
                return Ok(End::Terminal);
            }
            Err(Refusal::StateError(why)) => {
                mark_ready_false(
                    status,
                    hr,
                    why::STATE_ERROR,
                    &format!("Could not determine release state: {why}"),
                );
                return Ok(End::Error(Duration::from_secs(10)));
            }
        };
        if let Some(token) = &force
            && matches!(next, Next::Install | Next::Upgrade)
        {
            status.last_handled_force_at = Some(token.clone());
        }
        if let State::InSync = state {
            in_sync_conditions(status, hr);
            if mode != DriftDetectionMode::Disabled {
                set(
                    status,
                    hr,
                    condition::DRIFTED,
                    ConditionStatus::False,
                    "NoDriftDetected",
                    "No drift detected against the cluster state",
                );
            }
        }
        if let (State::Drifted, Some(cur)) = (&state, status.history.first().cloned()) {
            let message = format!(
                "Cluster state of release {} has drifted from the desired state:\n{}",
                snapshot::full_release_name(&cur),
                drift::summary(&drifts)
            );
            run.event(
                Severity::Error,
                "DriftDetected",
                &message,
                snapshot_meta(&cur),
            )
            .await;
            set(
                status,
                hr,
                condition::DRIFTED,
                ConditionStatus::True,
                "DriftDetected",
                &message,
            );
        }
        let Some(kind) = next.kind() else {
            conditions::remove(&mut status.conditions, condition_type::RECONCILING);
            summarize(status, hr);
            return Ok(End::Done);
        };
        if previous.contains(&kind) {
            if let Some(after) = state::active_retry(hr, status) {
                mark_reconciling(
                    status,
                    hr,
                    reason::PROGRESSING_WITH_RETRY,
                    &format!("retrying after {}", format_duration(after)),
                );
                return Ok(End::After(after));
            }
            let exhausted =
                state::active_remediation(hr, status).is_some_and(|r| r.exhausted(status));
            if !exhausted {
                let message = conditions::get(&status.conditions, condition_type::READY)
                    .map(|c| c.message.clone())
                    .unwrap_or_default();
                mark_reconciling(status, hr, reason::PROGRESSING_WITH_RETRY, &message);
                return Ok(End::Requeue);
            }
            conditions::remove(&mut status.conditions, condition_type::RECONCILING);
            return Ok(End::Done);
        }
        let timeout = timeout_for(hr, &next);
        let message = format!(
            "Running '{}' action with timeout of {}",
            next.name(),
            format_duration(timeout)
        );
        mark_reconciling(status, hr, reason::PROGRESSING, &message);
        if kind == Kind::Release {
            set(
                status,
                hr,
                condition_type::READY,
                ConditionStatus::Unknown,
                reason::PROGRESSING,
                &message,
            );
        }
        run.patch(status).await;
        tracing::info!(
            "running '{}' action with timeout of {}",
            next.name(),
            format_duration(timeout)
        );
        if next == Next::CorrectDrift {
            correct_drift(run, status, &req.target, std::mem::take(&mut drifts)).await;
            previous.push(kind);
            run.patch(status).await;
            continue;
        }
        if let Err(e) = run_action(run, status, req, &next, &history, timeout).await {
            if let Some(after) = state::active_retry(hr, status) {
                mark_reconciling(
                    status,
                    hr,
                    reason::PROGRESSING_WITH_RETRY,
                    &format!("retrying after {}", format_duration(after)),
                );
                return Ok(End::After(after));
            }
            if conditions::is_true(&status.conditions, condition_type::READY) {
                mark_ready_false(status, hr, why::RECONCILE_ERROR, &e);
            }
            return Ok(End::Error(Duration::from_secs(10)));
        }
        if kind == Kind::Remediate {
            if let Some(after) = state::active_retry(hr, status) {
                mark_reconciling(
                    status,
                    hr,
                    reason::PROGRESSING_WITH_RETRY,
                    &format!("retrying after {}", format_duration(after)),
                );
                return Ok(End::After(after));
            }
            let remediation = state::active_remediation(hr, status);
            let uninstall_after_upgrade = remediation.is_some_and(|r| {
                r.action == ReleaseAction::Upgrade
                    && r.strategy == flux_api::helm::v2::RemediationStrategy::Uninstall
            });
            if remediation.is_none_or(|r| !r.exhausted(status)) || uninstall_after_upgrade {
                let message = conditions::get(&status.conditions, condition_type::READY)
                    .map(|c| c.message.clone())
                    .unwrap_or_default();
                mark_reconciling(status, hr, reason::PROGRESSING_WITH_RETRY, &message);
                return Ok(End::Requeue);
            }
            let action = status
                .last_attempted_release_action
                .map(action_word)
                .unwrap_or_default();
            let count = remediation.map_or(0, |r| r.failure_count(status));
            mark_stalled(
                status,
                hr,
                why::RETRIES_EXCEEDED,
                &format!("Failed to {action} after {count} attempt(s)"),
            );
            return Ok(End::Terminal);
        }
        previous.push(kind);
        run.patch(status).await;
    }
}

/// Corrects the drift found and reports it (`DriftCorrected`,
/// `DriftCorrectionFailed`); no new Helm revision.
async fn correct_drift(
    run: &mut Run<'_>,
    status: &mut HelmReleaseStatus,
    target: &Target<'_>,
    drifts: Vec<drift::Drift>,
) {
    let hr = run.hr;
    let Some(cur) = status.history.first().cloned() else {
        return;
    };
    set(
        status,
        hr,
        condition_type::READY,
        ConditionStatus::Unknown,
        reason::PROGRESSING,
        "correcting cluster drift",
    );
    let (changes, errors) = drift::correct(target, drifts).await;
    let release = snapshot::full_release_name(&cur);
    let corrected = flux_runtime::inventory::summary(&changes);
    if errors.is_empty() {
        if !changes.is_empty() {
            let message =
                format!("Cluster state of release {release} has been corrected:\n{corrected}");
            run.event(
                Severity::Info,
                "DriftCorrected",
                &message,
                snapshot_meta(&cur),
            )
            .await;
        }
        return;
    }
    let mut message = format!(
        "Failed to {}correct cluster state of release {release}:\n{}",
        if changes.is_empty() { "" } else { "partially " },
        errors.join("\n")
    );
    if !changes.is_empty() {
        message.push_str(&format!("\n\nSuccessful corrections:\n{corrected}"));
    }
    run.event(
        Severity::Error,
        "DriftCorrectionFailed",
        &message,
        snapshot_meta(&cur),
    )
    .await;
}

fn action_word(a: ReleaseAction) -> &'static str {
    match a {
        ReleaseAction::Install => "install",
        ReleaseAction::Upgrade => "upgrade",
    }
}

/// In sync: a `Remediated=True` left by a rollback becomes
/// `Released=True/UpgradeSucceeded`; a failed `Released` left by an
/// earlier attempt is restored.
fn in_sync_conditions(status: &mut HelmReleaseStatus, hr: &HelmRelease) {
    let Some(cur) = status.history.first().cloned() else {
        return;
    };
    let success = |verb: &str| {
        format!(
            "Helm {verb} succeeded for release {} with chart {}",
            snapshot::full_release_name(&cur),
            snapshot::versioned_chart_name(&cur)
        )
    };
    if conditions::is_true(&status.conditions, condition::REMEDIATED) {
        conditions::remove(&mut status.conditions, condition::REMEDIATED);
        set(
            status,
            hr,
            condition::RELEASED,
            ConditionStatus::True,
            why::UPGRADE_SUCCEEDED,
            &success("upgrade"),
        );
    }
    if !conditions::is_true(&status.conditions, condition_type::READY)
        || !conditions::is_true(&status.conditions, condition::RELEASED)
    {
        let released =
            conditions::get(&status.conditions, condition::RELEASED).map(|c| c.reason.clone());
        let restore = match released.as_deref() {
            Some(why::INSTALL_FAILED) => Some((why::INSTALL_SUCCEEDED, "install")),
            Some(why::UPGRADE_FAILED) => Some((why::UPGRADE_SUCCEEDED, "upgrade")),
            _ => None,
        };
        if let Some((reason, verb)) = restore {
            set(
                status,
                hr,
                condition::RELEASED,
                ConditionStatus::True,
                reason,
                &success(verb),
            );
            summarize(status, hr);
        }
    }
}

fn timeout_for(hr: &HelmRelease, next: &Next) -> Duration {
    let base = base_timeout(hr);
    let t = match next {
        Next::Install => hr.spec.install.as_ref().and_then(|i| i.timeout.clone()),
        Next::Upgrade => hr.spec.upgrade.as_ref().and_then(|u| u.timeout.clone()),
        Next::Test => hr.spec.test.as_ref().and_then(|t| t.timeout.clone()),
        Next::Rollback(_) => hr.spec.rollback.as_ref().and_then(|r| r.timeout.clone()),
        Next::UninstallRemediation => hr.spec.uninstall.as_ref().and_then(|u| u.timeout.clone()),
        _ => None,
    };
    duration(t.as_ref(), base)
}

/// Records what an action wrote in `status.history` as upstream's storage
/// observer does: the newest record becomes (or replaces) the newest
/// snapshot; an older record written too replaces its snapshot.
fn record(
    status: &mut HelmReleaseStatus,
    written: &Written,
    action: Option<ReleaseAction>,
    oci: Option<&str>,
) {
    let mut releases: Vec<&Release> = written.releases.iter().collect();
    releases.sort_by_key(|s| std::cmp::Reverse(s.version));
    let Some(newest) = releases.first() else {
        return;
    };
    let replace_newest = status
        .history
        .first()
        .is_some_and(|s| snapshot::targets(s, &newest.name, &newest.namespace, newest.version));
    let snap = snapshot::snapshot(newest, action, oci);
    if replace_newest {
        let hooks = status.history[0].test_hooks.clone();
        status.history[0] = Snapshot {
            test_hooks: hooks,
            ..snap
        };
    } else {
        status.history.insert(0, snap);
    }
    for r in releases.iter().skip(1) {
        if let Some(i) = status
            .history
            .iter()
            .position(|s| snapshot::targets(s, &r.name, &r.namespace, r.version))
        {
            let old = &status.history[i];
            // As upstream's observer: the older snapshot is made anew,
            // without its action.
            let s = Snapshot {
                test_hooks: old.test_hooks.clone(),
                ..snapshot::snapshot(r, None, old.oci_digest.as_deref())
            };
            status.history[i] = s;
            // Upstream's observer stops at the first older snapshot found.
            return;
        }
    }
}

/// The objects of a release in the inventory (`ns_name_group_kind`).
fn inventory(
    objects: &[Json],
    chart: &flux_helm::Chart,
) -> flux_api::kustomize::v1::ResourceInventory {
    let mut entries = Vec::new();
    let mut add = |object: &Json| {
        let api_version = object
            .get("apiVersion")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let name = object
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        entries.push(flux_api::kustomize::v1::ResourceRef {
            id: flux_runtime::ssa::inventory_id(namespace, name, group, kind),
            v: version.to_string(),
        });
    };
    for object in objects {
        add(object);
    }
    for (_, file) in chart.crd_objects() {
        for object in action::objects_of(&String::from_utf8_lossy(&file.data)).unwrap_or_default() {
            add(&object);
        }
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    entries.dedup_by(|a, b| a.id == b.id);
    flux_api::kustomize::v1::ResourceInventory { entries }
}

/// Renders the desired release as `revision` (post-rendered).
async fn render(
    hr: &HelmRelease,
    req: &Request<'_>,
    revision: i64,
    is_upgrade: bool,
    skip_schema: bool,
    crds_applied: bool,
) -> Result<Release, String> {
    let served = req
        .discovery
        .served(&req.target.client, req.own_client, crds_applied)
        .await
        .map_err(|e| {
            format!(
                "could not get apiVersions from Kubernetes: {}",
                flux_runtime::ssa::kube_message(&e)
            )
        })?;
    let opts = flux_helm::TemplateOptions {
        release_name: req.target.name.clone(),
        namespace: req.target.namespace.clone(),
        values: req.values.clone(),
        is_upgrade,
        revision,
        skip_schema_validation: skip_schema,
        helm4_manifests: true,
        kube_version: served.kube_version.clone(),
        cluster_api_versions: Some(served.versions.clone()),
        post_render_strategy: postrender::strategy(hr),
        ..flux_helm::TemplateOptions::default()
    };
    let (handle, client) = (tokio::runtime::Handle::current(), req.target.client.clone());
    let post_render = postrender::PostRender::of(hr);
    let chart = req.chart.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("helm-render".into())
                .stack_size(flux_helm::RENDER_STACK)
                .spawn_scoped(s, || {
                    let engine = flux_helm::engine::Engine {
                        post_render: Some(std::rc::Rc::new(move |files| post_render.run(files))),
                        lookup: Some(std::rc::Rc::new(
                            move |api_version, kind, namespace, name| {
                                served.lookup(&handle, &client, api_version, kind, namespace, name)
                            },
                        )),
                        ..flux_helm::engine::Engine::default()
                    };
                    flux_helm::render_release(&chart, &opts, &engine)
                        .map(|r| {
                            Release::new(&r, &opts, revision, helm_status::PENDING_INSTALL, "")
                        })
                        .map_err(|e| e.message)
                })
                .map_err(|e| e.to_string())?
                .join()
                .unwrap_or_else(|_| Err("the render thread failed".into()))
        })
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(rendered)
}

async fn run_action(
    run: &mut Run<'_>,
    status: &mut HelmReleaseStatus,
    req: &Request<'_>,
    next: &Next,
    history: &[Release],
    timeout: Duration,
) -> Result<(), String> {
    let hr = run.hr;
    let chart_name = req.chart.metadata.name.clone();
    let chart_version = req.chart.metadata.version.clone();
    let app_version = req.chart.metadata.app_version.clone();
    let full = format!("{}/{}", req.target.namespace, req.target.name);
    let mut written = Written::default();
    let started = Instant::now();
    match next {
        Next::Install | Next::Upgrade => {
            let install = hr.spec.install.clone().unwrap_or_default();
            let upgrade = hr.spec.upgrade.clone().unwrap_or_default();
            let is_install = *next == Next::Install;
            status.last_attempted_release_action = Some(if is_install {
                ReleaseAction::Install
            } else {
                ReleaseAction::Upgrade
            });
            conditions::remove(&mut status.conditions, condition::TEST_SUCCESS);
            conditions::remove(&mut status.conditions, condition::REMEDIATED);
            let options = if is_install {
                Options {
                    timeout,
                    disable_wait: install.disable_wait.unwrap_or(false),
                    disable_wait_for_jobs: install.disable_wait_for_jobs.unwrap_or(false),
                    disable_hooks: install.disable_hooks.unwrap_or(false),
                    max_history: hr.spec.max_history.unwrap_or(5),
                    cleanup_on_fail: false,
                    health_checks: hr.spec.health_check_exprs.clone(),
                }
            } else {
                Options {
                    timeout,
                    disable_wait: upgrade.disable_wait.unwrap_or(false),
                    disable_wait_for_jobs: upgrade.disable_wait_for_jobs.unwrap_or(false),
                    disable_hooks: upgrade.disable_hooks.unwrap_or(false),
                    max_history: hr.spec.max_history.unwrap_or(5),
                    cleanup_on_fail: upgrade.cleanup_on_fail.unwrap_or(false),
                    health_checks: hr.spec.health_check_exprs.clone(),
                }
            };
            let revision = history.last().map_or(1, |r| r.version + 1);
            let skip_schema = if is_install {
                install.disable_schema_validation.unwrap_or(false)
            } else {
                upgrade.disable_schema_validation.unwrap_or(false)
            };
            let policy = if is_install {
                match (install.crds, install.skip_crds) {
                    (Some(p), _) => p,
                    (None, Some(true)) => CrdsPolicy::Skip,
                    _ => CrdsPolicy::Create,
                }
            } else {
                upgrade.crds.unwrap_or(CrdsPolicy::Skip)
            };
            let crds: Vec<(String, Vec<u8>)> = req
                .chart
                .crd_objects()
                .into_iter()
                .map(|(name, file)| (name, file.data.clone()))
                .collect();
            let origin = [
                (postrender::NAME_LABEL.to_string(), hr.name_any()),
                (
                    postrender::NAMESPACE_LABEL.to_string(),
                    hr.namespace().unwrap_or_default(),
                ),
            ];
            // The chart's CRDs first, as Helm does: the templates then see
            // their API versions.
            let result = match req.target.apply_crds(&crds, policy, &origin).await {
                Err(e) => Err(format!("failed to apply CustomResourceDefinitions: {e}")),
                Ok(crds_applied) => {
                    match render(hr, req, revision, !is_install, skip_schema, crds_applied).await {
                        Err(e) => Err(e),
                        Ok(mut release) => {
                            if !is_install
                                && upgrade.preserve_values.unwrap_or(false)
                                && let Some(current) = history
                                    .iter()
                                    .rev()
                                    .find(|r| r.info.status == helm_status::DEPLOYED)
                            {
                                let mut merged = current.config.clone();
                                flux_helm::package::merge_maps(&mut merged, req.values.clone());
                                release.config = merged;
                            }
                            if is_install {
                                let create_ns = install.create_namespace.unwrap_or(false)
                                    && hr
                                        .spec
                                        .target_namespace
                                        .as_deref()
                                        .is_some_and(|t| !t.is_empty());
                                action::install(
                                    &req.target,
                                    release,
                                    history,
                                    create_ns,
                                    &options,
                                    &mut written,
                                )
                                .await
                            } else {
                                action::upgrade(
                                    &req.target,
                                    release,
                                    history,
                                    &options,
                                    &mut written,
                                )
                                .await
                            }
                        }
                    }
                }
            };
            status.last_attempted_release_action_duration =
                Some(format_duration(started.elapsed()));
            let act = status.last_attempted_release_action;
            record(status, &written, act, req.oci_digest.as_deref());
            if let Some(newest) = written.releases.iter().max_by_key(|r| r.version) {
                let objects = req.target.objects_in_cluster(&newest.manifest).await;
                status.inventory = Some(inventory(&objects, &req.chart));
            }
            let (verb, ok_reason, fail_reason) = if is_install {
                ("install", why::INSTALL_SUCCEEDED, why::INSTALL_FAILED)
            } else {
                ("upgrade", why::UPGRADE_SUCCEEDED, why::UPGRADE_FAILED)
            };
            match result {
                Err(e) => {
                    let message = format!(
                        "Helm {verb} failed for release {full} with chart {chart_name}@{chart_version}: {}",
                        e.trim()
                    );
                    let meta = event_meta(
                        &chart_version,
                        &req.values_digest,
                        Some(&app_version),
                        status.last_attempted_revision_digest.as_deref(),
                    );
                    report(
                        run,
                        status,
                        condition::RELEASED,
                        Err(fail_reason),
                        &message,
                        meta,
                    )
                    .await;
                    summarize(status, hr);
                    if written.releases.is_empty() {
                        return Err(e);
                    }
                    let remediation = if is_install {
                        state::install_remediation(hr)
                    } else {
                        state::upgrade_remediation(hr)
                    };
                    remediation.increment(status);
                    Ok(())
                }
                Ok(()) => {
                    let Some(cur) = status.history.first().cloned() else {
                        return Ok(());
                    };
                    let message = format!(
                        "Helm {verb} succeeded for release {} with chart {}",
                        snapshot::full_release_name(&cur),
                        snapshot::versioned_chart_name(&cur)
                    );
                    report(
                        run,
                        status,
                        condition::RELEASED,
                        Ok(ok_reason),
                        &message,
                        snapshot_meta(&cur),
                    )
                    .await;
                    if state::test_enabled(hr) && cur.test_hooks.is_none() {
                        let pending = format!(
                            "Helm release {} with chart {} is awaiting tests",
                            snapshot::full_release_name(&cur),
                            snapshot::versioned_chart_name(&cur)
                        );
                        set(
                            status,
                            hr,
                            condition::TEST_SUCCESS,
                            ConditionStatus::Unknown,
                            "AwaitingTests",
                            &pending,
                        );
                    }
                    if state::active_retry(hr, status).is_some() {
                        status.failures = None;
                        status.install_failures = None;
                        status.upgrade_failures = None;
                    }
                    summarize(status, hr);
                    Ok(())
                }
            }
        }
        Next::Unlock => {
            let Some(last) = history.last().cloned() else {
                return Ok(());
            };
            let cur = snapshot::snapshot(&last, None, None);
            let was = last.info.status.clone();
            let result = action::unlock(&req.target, last, &mut written).await;
            update_snapshots(status, &written, None);
            let (severity, message) = match &result {
                Ok(()) => (
                    Severity::Info,
                    format!(
                        "Unlocked Helm release {} with chart {} in {was} state",
                        snapshot::full_release_name(&cur),
                        snapshot::versioned_chart_name(&cur)
                    ),
                ),
                Err(e) => {
                    status.failures = Some(status.failures.unwrap_or(0) + 1);
                    (
                        Severity::Error,
                        format!(
                            "Unlock of Helm release {} with chart {} in {was} state failed: {}",
                            snapshot::full_release_name(&cur),
                            snapshot::versioned_chart_name(&cur),
                            e.trim()
                        ),
                    )
                }
            };
            set(
                status,
                hr,
                condition::RELEASED,
                ConditionStatus::False,
                why::PENDING_RELEASE,
                &message,
            );
            run.event(
                severity,
                why::PENDING_RELEASE,
                &message,
                snapshot_meta(&cur),
            )
            .await;
            summarize(status, hr);
            result
        }
        Next::Rollback(to) => {
            let rollback = hr.spec.rollback.clone().unwrap_or_default();
            let options = Options {
                timeout,
                disable_wait: rollback.disable_wait.unwrap_or(false),
                disable_wait_for_jobs: rollback.disable_wait_for_jobs.unwrap_or(false),
                disable_hooks: rollback.disable_hooks.unwrap_or(false),
                max_history: hr.spec.max_history.unwrap_or(5),
                cleanup_on_fail: rollback.cleanup_on_fail.unwrap_or(false),
                health_checks: hr.spec.health_check_exprs.clone(),
            };
            let Some(prev) = status.history.iter().find(|s| s.version == *to).cloned() else {
                return Err("missing target release for rollback: required to rollback".into());
            };
            let Some(target_release) = history.iter().find(|r| r.version == *to) else {
                return Err("missing target release for rollback: required to rollback".into());
            };
            let before = status.history.first().map(|s| s.digest.clone());
            let result =
                action::rollback(&req.target, target_release, history, &options, &mut written)
                    .await;
            // The rollback's records: new revisions prepended, older ones
            // (superseded) updated in place.
            // In the order they were written, as upstream's observer sees
            // them: a record not in the history (one `maxHistory` deleted)
            // is prepended.
            for r in &written.releases {
                match status
                    .history
                    .iter()
                    .position(|s| snapshot::targets(s, &r.name, &r.namespace, r.version))
                {
                    Some(i) => {
                        let old = status.history[i].clone();
                        status.history[i] = Snapshot {
                            test_hooks: old.test_hooks.clone(),
                            ..snapshot::snapshot(r, None, old.oci_digest.as_deref())
                        };
                        status.history[i].action = Some("rollback".into());
                    }
                    None => {
                        // Prepended without an action; a later write of
                        // the same revision gives it `rollback`.
                        let mut s = snapshot::snapshot(r, None, prev.oci_digest.as_deref());
                        if written.writes_of(r.version) > 1 {
                            s.action = Some("rollback".into());
                        }
                        status.history.insert(0, s);
                    }
                }
            }
            let meta = event_meta(
                &prev.chart_version,
                &req.values_digest,
                prev.app_version.as_deref(),
                prev.oci_digest.as_deref(),
            );
            match &result {
                Ok(()) => {
                    let message = format!(
                        "Helm rollback to previous release {} with chart {} succeeded",
                        snapshot::full_release_name(&prev),
                        snapshot::versioned_chart_name(&prev)
                    );
                    report(
                        run,
                        status,
                        condition::REMEDIATED,
                        Ok(why::ROLLBACK_SUCCEEDED),
                        &message,
                        meta,
                    )
                    .await;
                }
                Err(e) => {
                    let message = format!(
                        "Helm rollback to previous release {} with chart {} failed: {}",
                        snapshot::full_release_name(&prev),
                        snapshot::versioned_chart_name(&prev),
                        e.trim()
                    );
                    report(
                        run,
                        status,
                        condition::REMEDIATED,
                        Err(why::ROLLBACK_FAILED),
                        &message,
                        meta,
                    )
                    .await;
                }
            }
            summarize(status, hr);
            match result {
                Err(e) if status.history.first().map(|s| s.digest.clone()) == before => Err(e),
                _ => Ok(()),
            }
        }
        Next::UninstallRemediation => {
            let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
            let options = Options {
                timeout,
                disable_wait: uninstall.disable_wait.unwrap_or(false),
                disable_wait_for_jobs: false,
                disable_hooks: uninstall.disable_hooks.unwrap_or(false),
                max_history: 0,
                cleanup_on_fail: false,
                health_checks: hr.spec.health_check_exprs.clone(),
            };
            let Some(cur) = status.history.first().cloned() else {
                return Err("no latest release: required to uninstall".into());
            };
            let result = action::uninstall(
                &req.target,
                history,
                uninstall.keep_history.unwrap_or(false),
                &options,
                &mut written,
            )
            .await;
            update_snapshots(status, &written, Some("uninstall-remediation"));
            let changed = status.history.first().map(|s| &s.digest) != Some(&cur.digest);
            match &result {
                Ok(()) => {
                    let message = format!(
                        "Helm uninstall remediation for release {} with chart {} succeeded",
                        snapshot::full_release_name(&cur),
                        snapshot::versioned_chart_name(&cur)
                    );
                    report(
                        run,
                        status,
                        condition::REMEDIATED,
                        Ok(why::UNINSTALL_SUCCEEDED),
                        &message,
                        snapshot_meta(&cur),
                    )
                    .await;
                }
                Err(e) => {
                    let message = format!(
                        "Helm uninstall remediation for release {} with chart {} failed: {}",
                        snapshot::full_release_name(&cur),
                        snapshot::versioned_chart_name(&cur),
                        e.trim()
                    );
                    report(
                        run,
                        status,
                        condition::REMEDIATED,
                        Err(why::UNINSTALL_FAILED),
                        &message,
                        snapshot_meta(&cur),
                    )
                    .await;
                }
            }
            summarize(status, hr);
            match result {
                Err(e) if !changed => Err(e),
                _ => Ok(()),
            }
        }
        Next::Test => {
            let Some(cur) = status.history.first().cloned() else {
                return Err("no latest release: required for test".into());
            };
            let Some(last) = history.iter().find(|r| r.version == cur.version).cloned() else {
                return Err("no latest release: required for test".into());
            };
            let test = hr.spec.test.clone().unwrap_or_default();
            let filters: Vec<(String, bool)> = test
                .filters
                .iter()
                .map(|f| (f.name.clone(), f.exclude.unwrap_or(false)))
                .collect();
            let options = Options {
                timeout,
                disable_wait: false,
                disable_wait_for_jobs: false,
                disable_hooks: false,
                max_history: 0,
                cleanup_on_fail: false,
                health_checks: hr.spec.health_check_exprs.clone(),
            };
            let result = action::test(&req.target, last, &filters, &options, &mut written).await;
            if let Some(r) = written.releases.iter().find(|r| r.version == cur.version) {
                status.history[0] = Snapshot {
                    action: cur.action.clone(),
                    test_hooks: Some(snapshot::test_hooks(r)),
                    ..snapshot::snapshot(r, None, cur.oci_digest.as_deref())
                };
            }
            let tested = status
                .history
                .first()
                .is_some_and(|s| s.test_hooks.is_some());
            let now_cur = status.history.first().cloned().unwrap_or(cur);
            let name = snapshot::full_release_name(&now_cur);
            let chart = snapshot::versioned_chart_name(&now_cur);
            match result {
                Ok(()) => {
                    let n = now_cur.test_hooks.as_ref().map_or(0, |h| h.len());
                    let hooks = match n {
                        0 => "no test hooks".to_string(),
                        1 => "1 test hook completed successfully".to_string(),
                        n => format!("{n} test hooks completed successfully"),
                    };
                    let message = format!(
                        "Helm test succeeded for release {name} with chart {chart}: {hooks}"
                    );
                    report(
                        run,
                        status,
                        condition::TEST_SUCCESS,
                        Ok("TestSucceeded"),
                        &message,
                        snapshot_meta(&now_cur),
                    )
                    .await;
                    summarize(status, hr);
                    Ok(())
                }
                Err(e) => {
                    let message = format!(
                        "Helm test failed for release {name} with chart {chart}: {}",
                        e.trim()
                    );
                    report(
                        run,
                        status,
                        condition::TEST_SUCCESS,
                        Err("TestFailed"),
                        &message,
                        snapshot_meta(&now_cur),
                    )
                    .await;
                    if tested
                        && let Some(r) = state::active_remediation(hr, status)
                        && !r.ignore_tests(state::test_ignore_failures(hr))
                    {
                        r.increment(status);
                    }
                    summarize(status, hr);
                    if tested { Ok(()) } else { Err(e) }
                }
            }
        }
        Next::Done | Next::CorrectDrift => Ok(()),
    }
}
