//! The apply step: objects applied with server-side apply in Flux's
//! stages, within the timeout.
//!
//! Contract: applies every object or stops at the first failure (nothing
//! is pruned then); within a stage, nothing is written unless every
//! object's dry run passed. A failure is `ReconciliationFailed`.

use std::time::Duration;

use flux_api::meta::reason;
use flux_runtime::ssa::{Applier, ApplyError, Change, kind_rank, stage};
use flux_runtime::{StepError, format_duration};

/// Applies `objects` (see [`apply_stages`]) within `timeout`.
pub async fn apply(
    applier: &Applier,
    objects: Vec<serde_json::Value>,
    force: bool,
    verify: bool,
    ignore: &flux_runtime::ignore::IgnoreRules,
    timeout: Duration,
) -> Result<Vec<Change>, StepError> {
    let failed = |message: String| StepError::retry(reason::RECONCILIATION_FAILED, message);
    tokio::time::timeout(
        timeout,
        apply_stages(applier, objects, force, verify, ignore, timeout),
    )
    .await
    .map_err(|_| {
        failed(format!(
            "apply timed out after {}",
            format_duration(timeout)
        ))
    })?
    .map_err(|e| failed(e.to_string()))
}

/// Applies `objects` stage by stage (CRDs, Namespaces and ClusterRoles —
/// CRDs then waited for —, `*Class` kinds, the rest). With `verify`, every
/// object is compared with the API server's dry run, else objects the
/// drift cache knows to be in sync are skipped.
pub async fn apply_stages(
    applier: &Applier,
    mut objects: Vec<serde_json::Value>,
    force: bool,
    verify: bool,
    ignore: &flux_runtime::ignore::IgnoreRules,
    timeout: Duration,
) -> Result<Vec<Change>, ApplyError> {
    let kind = |o: &serde_json::Value| {
        o.get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string()
    };
    objects.sort_by_key(|o| {
        let k = kind(o);
        (stage(&k), kind_rank(&k))
    });
    let mut changes = Vec::with_capacity(objects.len());
    for current in 0..=2u8 {
        // Every object of the stage passes its dry run before any is
        // written: a refusal (RBAC, validation) leaves the stage untouched.
        let mut planned = Vec::new();
        for object in objects.iter().filter(|o| stage(&kind(o)) == current) {
            let paths = ignore.paths(object);
            planned.push(applier.plan(object, force, !verify, &paths).await?);
        }
        for plan in planned {
            changes.push(applier.commit(plan).await?);
        }
        if current == 0 {
            for object in objects
                .iter()
                .filter(|o| kind(o) == "CustomResourceDefinition")
            {
                let name = object
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(|n| n.as_str())
                    .unwrap_or_default();
                applier.wait_established(name, timeout).await?;
            }
        }
    }
    Ok(changes)
}
