//! The apply step: objects applied in Flux's stages, the new inventory,
//! and the prune of the old inventory's leftovers.
//!
//! Contract: `apply` applies every object or stops at the first failure
//! (nothing is pruned then); within a stage, nothing is written unless
//! every object's dry run passed; `stale` is a pure function of two
//! inventories; `prune` deletes only objects that still carry this
//! Kustomization's owner labels.

use std::time::Duration;

use flux_api::kustomize::v1::{ResourceInventory, ResourceRef};
use flux_runtime::ssa::{Action, Applier, ApplyError, Change, kind_rank, stage};

/// Applies `objects` stage by stage (CRDs, Namespaces and ClusterRoles —
/// CRDs then waited for —, `*Class` kinds, the rest). With `verify`, every
/// object is compared with the API server's dry run, else objects the
/// drift cache knows to be in sync are skipped.
pub async fn apply(
    applier: &Applier,
    mut objects: Vec<serde_json::Value>,
    force: bool,
    verify: bool,
    ignore: &IgnoreRules,
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
                applier
                    .wait_established(name, timeout)
                    .await
                    .map_err(|message| ApplyError {
                        subject: format!("CustomResourceDefinition/{name}"),
                        action: "wait",
                        message,
                    })?;
            }
        }
    }
    Ok(changes)
}

/// `spec.ignore`: the JSON pointers each object leaves out of drift
/// detection and apply, by target selector (regular expressions over
/// group, version, kind, name, namespace; label and annotation selectors;
/// no target: every object).
pub struct IgnoreRules {
    rules: Vec<(Option<flux_kustomize::CompiledTarget>, Vec<String>)>,
}

impl IgnoreRules {
    /// Compiles the rules; an invalid expression or selector is an error.
    pub fn new(rules: &[flux_api::kustomize::v1::IgnoreRule]) -> Result<Self, String> {
        let mut compiled = Vec::new();
        for rule in rules {
            let target = rule
                .target
                .as_ref()
                .map(|t| {
                    flux_kustomize::Target {
                        group: t.group.clone().unwrap_or_default(),
                        version: t.version.clone().unwrap_or_default(),
                        kind: t.kind.clone().unwrap_or_default(),
                        name: t.name.clone().unwrap_or_default(),
                        namespace: t.namespace.clone().unwrap_or_default(),
                        label_selector: t.label_selector.clone().unwrap_or_default(),
                        annotation_selector: t.annotation_selector.clone().unwrap_or_default(),
                    }
                    .compile()
                })
                .transpose()
                .map_err(|e| format!("spec.ignore: {e}"))?;
            compiled.push((target, rule.paths.clone()));
        }
        Ok(Self { rules: compiled })
    }

    /// The pointers that apply to `object`.
    pub fn paths(&self, object: &serde_json::Value) -> Vec<String> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let text = |path: &[&str]| {
            let mut v = object;
            for key in path {
                v = match v.get(key) {
                    Some(next) => next,
                    None => return String::new(),
                };
            }
            v.as_str().unwrap_or_default().to_string()
        };
        let api_version = text(&["apiVersion"]);
        let (group, version) = api_version
            .split_once('/')
            .map_or((String::new(), api_version.clone()), |(g, v)| {
                (g.to_string(), v.to_string())
            });
        let id = flux_kustomize::ResId {
            group,
            version,
            kind: text(&["kind"]),
            namespace: text(&["metadata", "namespace"]),
            name: text(&["metadata", "name"]),
        };
        let metadata = super::build::json_to_value(object);
        self.rules
            .iter()
            .filter(|(target, _)| {
                target
                    .as_ref()
                    .is_none_or(|t| t.matches_id(&id) && t.matches_metadata(&metadata))
            })
            .flat_map(|(_, paths)| paths.iter().cloned())
            .collect()
    }
}

/// The inventory of what was applied.
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
    old.entries
        .iter()
        .filter(|e| !new.entries.iter().any(|n| n.id == e.id))
        .cloned()
        .collect()
}

/// Deletes the stale entries this Kustomization still owns; entries whose
/// deletion failed stay in the returned inventory additions.
pub async fn prune(
    applier: &Applier,
    stale: &[ResourceRef],
    owner: &[(String, String)],
) -> (Vec<Change>, Vec<ResourceRef>, Vec<String>) {
    let (mut deleted, mut kept, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for entry in stale {
        match applier.prune(&entry.id, &entry.v, owner).await {
            Ok(Some(change)) => deleted.push(change),
            Ok(None) => {}
            Err(e) => {
                errors.push(e.to_string());
                kept.push(entry.clone());
            }
        }
    }
    (deleted, kept, errors)
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
        let new = ResourceInventory {
            entries: vec![entry("a_y__ConfigMap"), entry("a_z__ConfigMap")],
        };
        assert_eq!(stale(Some(&old), &new), vec![entry("a_x__ConfigMap")]);
        assert!(stale(None, &new).is_empty());
        let changes = vec![Change {
            subject: "ConfigMap/a/y".into(),
            action: Action::Created,
            id: "a_y__ConfigMap".into(),
            version: "v1".into(),
        }];
        assert_eq!(inventory(&changes).entries, vec![entry("a_y__ConfigMap")]);
        assert_eq!(summary(&changes), "ConfigMap/a/y created");
    }
}
