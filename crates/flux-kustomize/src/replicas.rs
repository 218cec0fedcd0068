//! `replicas`: kustomize's replica count transformer — `spec.replicas` of
//! the Deployments, ReplicationControllers, ReplicaSets and StatefulSets
//! with the given name (current or previous); a name matching none of them is an error.

use flux_yaml::Value;

use crate::Resource;

/// In the order kustomize lists them in its error message.
const KINDS: [&str; 4] = [
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

/// Sets the replica count of the resources named `name`.
pub fn apply(resources: &mut [Resource], name: &str, count: i64) -> Result<(), String> {
    let mut found = false;
    for kind in KINDS {
        for resource in resources.iter_mut() {
            // Any id the resource has had counts (a prefix or suffix
            // applied before this transformer does not hide it).
            let named = resource
                .previous_ids()
                .iter()
                .chain(std::iter::once(&resource.id))
                .any(|id| id.name == name && id.kind == kind);
            if !named {
                continue;
            }
            found = true;
            let Value::Map(entries) = &mut resource.value else {
                continue;
            };
            let spec = match entries.iter().position(|(k, _)| k == "spec") {
                Some(i) => &mut entries[i].1,
                None => {
                    entries.push(("spec".to_string(), Value::Map(Vec::new())));
                    let last = entries.len() - 1;
                    &mut entries[last].1
                }
            };
            if matches!(spec, Value::Null) {
                *spec = Value::Map(Vec::new());
            }
            if let Value::Map(fields) = spec {
                match fields.iter_mut().find(|(k, _)| k == "replicas") {
                    Some((_, slot)) => *slot = Value::Int(count),
                    None => fields.push(("replicas".to_string(), Value::Int(count))),
                }
            }
        }
    }
    if found {
        Ok(())
    } else {
        let gvks: Vec<String> = KINDS
            .iter()
            .map(|k| format!("{k}.[noVer].[noGrp]"))
            .collect();
        Err(format!(
            "resource with name {name} does not match a config with the following GVK [{}]",
            gvks.join(" ")
        ))
    }
}
