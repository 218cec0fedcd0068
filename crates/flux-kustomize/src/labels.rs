//! `commonLabels`: kustomize's label transformer with its built-in field
//! specs — object metadata, pod templates, and the selectors that must keep
//! matching them (Service, workloads, PodDisruptionBudget, NetworkPolicy,
//! affinity and topology spread terms).

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, gvk, merge_string_map, visit};

/// kustomize's `commonLabels` field specs (selectors, then metadata labels).
const FIELD_SPECS: &[FieldSpec] = &[
    FieldSpec {
        group: None,
        version: Some("v1"),
        kind: Some("Service"),
        path: "spec/selector",
        create: true,
    },
    FieldSpec {
        group: None,
        version: Some("v1"),
        kind: Some("ReplicationController"),
        path: "spec/selector",
        create: true,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("Deployment"),
        path: "spec/selector/matchLabels",
        create: true,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("ReplicaSet"),
        path: "spec/selector/matchLabels",
        create: true,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("DaemonSet"),
        path: "spec/selector/matchLabels",
        create: true,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/selector/matchLabels",
        create: true,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("batch"),
        version: None,
        kind: Some("Job"),
        path: "spec/selector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("batch"),
        version: None,
        kind: Some("CronJob"),
        path: "spec/jobTemplate/spec/selector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("policy"),
        version: None,
        kind: Some("PodDisruptionBudget"),
        path: "spec/selector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("networking.k8s.io"),
        version: None,
        kind: Some("NetworkPolicy"),
        path: "spec/podSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("networking.k8s.io"),
        version: None,
        kind: Some("NetworkPolicy"),
        path: "spec/ingress/from/podSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: Some("networking.k8s.io"),
        version: None,
        kind: Some("NetworkPolicy"),
        path: "spec/egress/to/podSelector/matchLabels",
        create: false,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: None,
        path: "metadata/labels",
        create: true,
    },
    FieldSpec {
        group: None,
        version: Some("v1"),
        kind: Some("ReplicationController"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("Deployment"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("ReplicaSet"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: None,
        version: None,
        kind: Some("DaemonSet"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: Some("apps"),
        version: None,
        kind: Some("StatefulSet"),
        path: "spec/volumeClaimTemplates[]/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: Some("batch"),
        version: None,
        kind: Some("Job"),
        path: "spec/template/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: Some("batch"),
        version: None,
        kind: Some("CronJob"),
        path: "spec/jobTemplate/metadata/labels",
        create: true,
    },
    FieldSpec {
        group: Some("batch"),
        version: None,
        kind: Some("CronJob"),
        path: "spec/jobTemplate/spec/template/metadata/labels",
        create: true,
    },
];

/// Where a set of labels goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `commonLabels`, or `labels` with `includeSelectors`: metadata, pod
    /// templates and selectors.
    Everywhere,
    /// `labels` with `includeTemplates`: metadata and pod templates.
    Templates,
    /// `labels`: object metadata only.
    Metadata,
}

/// Index of the first metadata-labels spec (the selectors come before).
const METADATA_SPECS: usize = FIELD_SPECS.len() - 10;

/// Adds `labels` wherever kustomize's field specs for `scope` say.
pub fn apply(object: &mut Value, labels: &[(String, String)], scope: Scope) {
    let (group, version, kind) = gvk(object);
    let specs = match scope {
        Scope::Everywhere => FIELD_SPECS,
        Scope::Templates => &FIELD_SPECS[METADATA_SPECS..],
        Scope::Metadata => &FIELD_SPECS[METADATA_SPECS..METADATA_SPECS + 1],
    };
    for spec in specs {
        if spec.matches(&group, &version, &kind) {
            visit(object, spec, &mut |node| merge_string_map(node, labels));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_specs_start_with_metadata_labels() {
        assert_eq!(FIELD_SPECS[METADATA_SPECS].path, "metadata/labels");
        assert!(FIELD_SPECS[METADATA_SPECS].kind.is_none());
        assert!(
            FIELD_SPECS[..METADATA_SPECS]
                .iter()
                .all(|s| s.path != "metadata/labels")
        );
    }
}
