//! `commonAnnotations`: kustomize's annotations transformer with its
//! built-in field specs (object metadata and pod templates).

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, gvk, merge_string_map, visit};

const fn spec(
    group: Option<&'static str>,
    version: Option<&'static str>,
    kind: &'static str,
    path: &'static str,
) -> FieldSpec {
    FieldSpec {
        group,
        version,
        kind: Some(kind),
        path,
        create: true,
    }
}

/// kustomize's `commonAnnotations` field specs.
const FIELD_SPECS: &[FieldSpec] = &[
    FieldSpec {
        group: None,
        version: None,
        kind: None,
        path: "metadata/annotations",
        create: true,
    },
    spec(
        None,
        Some("v1"),
        "ReplicationController",
        "spec/template/metadata/annotations",
    ),
    spec(
        None,
        None,
        "Deployment",
        "spec/template/metadata/annotations",
    ),
    spec(
        None,
        None,
        "ReplicaSet",
        "spec/template/metadata/annotations",
    ),
    spec(
        None,
        None,
        "DaemonSet",
        "spec/template/metadata/annotations",
    ),
    spec(
        None,
        None,
        "StatefulSet",
        "spec/template/metadata/annotations",
    ),
    spec(
        Some("batch"),
        None,
        "Job",
        "spec/template/metadata/annotations",
    ),
    spec(
        Some("batch"),
        None,
        "CronJob",
        "spec/jobTemplate/metadata/annotations",
    ),
    spec(
        Some("batch"),
        None,
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/annotations",
    ),
];

/// Adds `annotations` wherever kustomize's field specs say.
pub fn apply(object: &mut Value, annotations: &[(String, String)]) {
    let (group, version, kind) = gvk(object);
    for spec in FIELD_SPECS {
        if spec.matches(&group, &version, &kind) {
            visit(object, spec, &mut |node| {
                merge_string_map(node, annotations)
            });
        }
    }
}
