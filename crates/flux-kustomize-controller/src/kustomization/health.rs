//! The health step: with `spec.wait`, everything applied (but the
//! Kustomization itself); else `spec.healthChecks`. Objects are judged by
//! kstatus, or by the CEL expressions of `spec.healthCheckExprs` for their
//! kind, until they are all current or the timeout passes.
//!
//! Contract: sets `Healthy=True` (or removes `Healthy` when there is
//! nothing to check); a failure is `HealthCheckFailed`, recorded on
//! `Healthy=False` too.

use std::time::Duration;

use flux_api::kustomize::v1::{Kustomization, KustomizationStatus};
use flux_api::meta::{ConditionStatus, condition_type, reason};
use flux_runtime::cel::Evaluator;
use flux_runtime::conditions;
use flux_runtime::health::{Target, wait};
use flux_runtime::ssa::{Action as ChangeAction, Applier, Change, parse_inventory_id};
use flux_runtime::{StepError, format_duration, now};
use kube::ResourceExt;

/// The objects to check (none: nothing to wait for).
pub fn targets(k: &Kustomization, changes: &[Change]) -> Vec<Target> {
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
    targets
        .into_iter()
        .filter(|t| !(t.kind == "Kustomization" && t.name == k.name_any() && t.namespace == own))
        .collect()
}

/// Waits for `targets` to be healthy, at most `timeout`.
pub async fn check(
    applier: &Applier,
    k: &Kustomization,
    status: &mut KustomizationStatus,
    targets: &[Target],
    timeout: Duration,
) -> Result<(), StepError> {
    let generation = k.metadata.generation;
    if targets.is_empty() {
        conditions::remove(&mut status.conditions, condition_type::HEALTHY);
        return Ok(());
    }
    let failed = |message: String| {
        StepError::retry(reason::HEALTH_CHECK_FAILED, message)
            .on(condition_type::HEALTHY, ConditionStatus::False)
    };
    let evaluators = k
        .spec
        .health_check_exprs
        .iter()
        .map(Evaluator::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    let custom = |api_version: &str, kind: &str, object: &serde_json::Value| {
        evaluators
            .iter()
            .find(|e| e.applies(api_version, kind))
            .map(|e| e.evaluate(object))
    };
    let elapsed = wait(
        applier,
        applier.client(),
        targets,
        &Default::default(),
        &custom,
        timeout,
        Duration::from_secs(2),
    )
    .await
    .map_err(|e| failed(e.0))?;
    conditions::set(
        &mut status.conditions,
        condition_type::HEALTHY,
        ConditionStatus::True,
        reason::SUCCEEDED,
        &format!("Health check passed in {}", format_duration(elapsed)),
        generation,
        now(),
    );
    Ok(())
}
