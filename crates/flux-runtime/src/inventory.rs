//! The inventory of what a reconciliation applied (`status.inventory`),
//! what left it since the last one, the prune of those leftovers, and the
//! change-set summary events carry.
//!
//! Contract: [`inventory`] and [`stale`] are pure; [`prune`] deletes only
//! objects that still carry the owner's labels, and keeps in the inventory
//! those whose deletion failed.

use flux_api::kustomize::v1::{ResourceInventory, ResourceRef};

use crate::ssa::{Action, Applier, Change};

/// The inventory of what was applied, sorted by id, without duplicates.
pub fn inventory(changes: &[Change]) -> ResourceInventory {
    let mut entries: Vec<ResourceRef> = changes
        .iter()
        .map(|c| ResourceRef {
            id: c.id.clone(),
            v: c.version.clone(),
        })
        .collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    entries.dedup_by(|a, b| a.id == b.id);
    ResourceInventory { entries }
}

/// Entries of `old` that `new` no longer has.
pub fn stale(old: Option<&ResourceInventory>, new: &ResourceInventory) -> Vec<ResourceRef> {
    let Some(old) = old else { return Vec::new() };
    let kept: std::collections::HashSet<&str> = new.entries.iter().map(|n| n.id.as_str()).collect();
    old.entries
        .iter()
        .filter(|e| !kept.contains(e.id.as_str()))
        .cloned()
        .collect()
}

/// What a prune did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The deletions.
    pub deleted: Vec<Change>,
    /// Entries whose deletion failed: they stay in the inventory.
    pub kept: Vec<ResourceRef>,
    /// Why each of those failed.
    pub errors: Vec<String>,
}

/// Deletes the `stale` entries still labelled with `owner`.
pub async fn prune(applier: &Applier, stale: &[ResourceRef], owner: &[(String, String)]) -> Pruned {
    let mut pruned = Pruned::default();
    for entry in stale {
        match applier.prune(&entry.id, &entry.v, owner).await {
            Ok(Some(change)) => pruned.deleted.push(change),
            Ok(None) => {}
            Err(e) => {
                pruned.errors.push(e.to_string());
                pruned.kept.push(entry.clone());
            }
        }
    }
    pruned
}

/// Flux's change-set summary for events: `Kind/ns/name action` lines of
/// everything that was not unchanged.
pub fn summary(changes: &[Change]) -> String {
    changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .map(|c| format!("{} {}", c.subject, c.action.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> ResourceRef {
        ResourceRef {
            id: id.to_string(),
            v: "v1".to_string(),
        }
    }

    #[test]
    fn stale_entries_are_the_old_minus_the_new() {
        let old = ResourceInventory {
            entries: vec![entry("a_x__ConfigMap"), entry("a_y__ConfigMap")],
        };
        let changes = vec![
            Change {
                subject: "ConfigMap/a/z".into(),
                action: Action::Unchanged,
                id: "a_z__ConfigMap".into(),
                version: "v1".into(),
            },
            Change {
                subject: "ConfigMap/a/y".into(),
                action: Action::Created,
                id: "a_y__ConfigMap".into(),
                version: "v1".into(),
            },
        ];
        let new = inventory(&changes);
        assert_eq!(
            new.entries,
            vec![entry("a_y__ConfigMap"), entry("a_z__ConfigMap")]
        );
        assert_eq!(stale(Some(&old), &new), vec![entry("a_x__ConfigMap")]);
        assert!(stale(None, &new).is_empty());
        assert_eq!(summary(&changes), "ConfigMap/a/y created");
    }
}
