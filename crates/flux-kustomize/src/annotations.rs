//! `commonAnnotations`: kustomize's annotations transformer over its
//! `commonAnnotations` field specs (object metadata and pod templates, plus
//! what `configurations` add).

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, gvk, merge_string_map, visit};

/// Adds `annotations` at every field of `specs` that applies to `object`.
pub fn apply(object: &mut Value, annotations: &[(String, String)], specs: &[FieldSpec]) {
    let (group, version, kind) = gvk(object);
    for spec in specs {
        if spec.matches(&group, &version, &kind) {
            visit(object, spec, &mut |node| {
                merge_string_map(node, annotations)
            });
        }
    }
}
