//! The prune step: with `spec.prune`, what the last inventory had and this
//! apply did not is deleted — only objects that still carry this
//! Kustomization's owner labels — and the new inventory is recorded.
//!
//! Contract: runs only after a successful apply; an object whose deletion
//! failed stays in the inventory and the step fails with `PruneFailed`.

use flux_api::kustomize::v1::{Kustomization, KustomizationStatus};
use flux_api::meta::reason;
use flux_runtime::StepError;
use flux_runtime::inventory::{self, Pruned};
use flux_runtime::ssa::{Applier, Change};
use kube::ResourceExt;

use crate::kustomization::build::{NAME_LABEL, NAMESPACE_LABEL};

/// The labels every object this Kustomization applied carries.
pub fn owner_labels(k: &Kustomization) -> Vec<(String, String)> {
    vec![
        (NAME_LABEL.to_string(), k.name_any()),
        (
            NAMESPACE_LABEL.to_string(),
            k.namespace().unwrap_or_default(),
        ),
    ]
}

/// Records the inventory of `changes` in `status`, pruning the old
/// inventory's leftovers first when `spec.prune` is set (the deletions are
/// added to `changes`).
pub async fn prune(
    applier: &Applier,
    k: &Kustomization,
    status: &mut KustomizationStatus,
    changes: &mut Vec<Change>,
) -> Result<(), StepError> {
    let mut current = inventory::inventory(changes);
    let mut errors = Vec::new();
    if k.spec.prune {
        let stale = inventory::stale(status.inventory.as_ref(), &current);
        let Pruned {
            deleted,
            kept,
            errors: failed,
        } = inventory::prune(applier, &stale, &owner_labels(k)).await;
        changes.extend(deleted);
        current.entries.extend(kept);
        current.entries.sort_by(|a, b| a.id.cmp(&b.id));
        errors = failed;
    }
    status.inventory = Some(current);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StepError::retry(reason::PRUNE_FAILED, errors.join("\n")))
    }
}
