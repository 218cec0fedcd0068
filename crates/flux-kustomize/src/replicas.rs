//! `replicas`: kustomize's replica count transformer — the count goes to
//! every field of its field specs (kustomize's `replicas` table:
//! `spec.replicas` of Deployments, ReplicaSets, ReplicationControllers and
//! StatefulSets) of the objects with the given name (current or previous);
//! a name matching none of them is an error.

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, visit};
use crate::resource::Resource;

/// Sets the replica count of the resources named `name`.
pub fn apply(
    resources: &mut [Resource],
    name: &str,
    count: i64,
    specs: &[FieldSpec],
) -> Result<(), String> {
    let mut found = false;
    for spec in specs {
        for resource in resources.iter_mut() {
            let named = resource
                .previous_ids()
                .iter()
                .chain(std::iter::once(&resource.id))
                .any(|id| id.name == name && spec.matches(&id.group, &id.version, &id.kind));
            if !named {
                continue;
            }
            found = true;
            visit(&mut resource.value, spec, &mut |node| {
                *node = Value::Int(count);
            });
        }
    }
    if found {
        return Ok(());
    }
    let or = |s: &str, empty: &str| {
        if s.is_empty() {
            empty.to_string()
        } else {
            s.to_string()
        }
    };
    let gvks: Vec<String> = specs
        .iter()
        .map(|s| {
            format!(
                "{}.{}.{}",
                or(&s.kind, "[noKind]"),
                or(&s.version, "[noVer]"),
                or(&s.group, "[noGrp]")
            )
        })
        .collect();
    Err(format!(
        "resource with name {name} does not match a config with the following GVK [{}]",
        gvks.join(" ")
    ))
}
