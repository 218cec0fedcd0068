//! The dependencies step: every Kustomization of `spec.dependsOn` must be
//! ready (at its latest generation with its last attempt applied, or by
//! its `readyExpr`) before this one is built.
//!
//! Contract: reads the dependencies, writes nothing; a dependency that is
//! not ready is `DependencyNotReady`, waited for (`--requeue-dependency`).

use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::reason;
use flux_runtime::dependencies::{Dependency, first_not_ready};
use flux_runtime::{StepError, format_duration};
use kube::{Client, ResourceExt};

/// Waits for `spec.dependsOn`.
pub async fn check(client: &Client, k: &Kustomization, requeue: Duration) -> Result<(), StepError> {
    if k.spec.depends_on.is_empty() {
        return Ok(());
    }
    let own = k.namespace().unwrap_or_default();
    let dependencies: Vec<Dependency> = k
        .spec
        .depends_on
        .iter()
        .map(|d| Dependency {
            api_version: "kustomize.toolkit.fluxcd.io/v1".to_string(),
            kind: "Kustomization".to_string(),
            namespace: d.namespace.clone().unwrap_or_else(|| own.clone()),
            name: d.name.clone(),
            ready_expr: d.ready_expr.clone(),
        })
        .collect();
    let me = serde_json::to_value(k).unwrap_or_default();
    match first_not_ready(client, &me, &dependencies).await {
        None => Ok(()),
        Some(not_ready) => {
            Err(
                StepError::wait(reason::DEPENDENCY_NOT_READY, not_ready.to_string(), requeue)
                    .with_event_message(format!(
                        "Dependencies do not meet ready condition, retrying in {}",
                        format_duration(requeue)
                    )),
            )
        }
    }
}
