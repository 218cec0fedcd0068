//! The build step: the Kustomization's spec handed to
//! [`flux_kustomize::objects`], which builds, substitutes and labels.
//!
//! Contract: pure over the extracted folder and the variables given (the
//! caller loads `substituteFrom`); `Err` is the `BuildFailed` message.

use std::collections::BTreeMap;
use std::path::Path;

use flux_api::kustomize::v1::Kustomization;
use flux_kustomize::objects::{BuildOptions, build_objects};
pub use flux_kustomize::objects::{
    NAME_LABEL, NAMESPACE_LABEL, json_to_value, secure_join, value_to_json,
};
use kube::ResourceExt;

/// The engine's options for `k`, with `vars`.
pub fn options(k: &Kustomization, vars: &BTreeMap<String, String>) -> BuildOptions {
    let to_values = |items: Vec<serde_json::Value>| items.iter().map(json_to_value).collect();
    let patches = k
        .spec
        .patches
        .iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let images = k
        .spec
        .images
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect();
    let metadata = k.spec.common_metadata.as_ref();
    BuildOptions {
        path: k.spec.path.clone(),
        spec: flux_kustomize::flux::FluxSpec {
            target_namespace: k.spec.target_namespace.clone(),
            name_prefix: k.spec.name_prefix.clone(),
            name_suffix: k.spec.name_suffix.clone(),
            patches: to_values(patches),
            images: to_values(images),
            components: k.spec.components.clone(),
            ignore_missing_components: k.spec.ignore_missing_components,
        },
        post_build: k.spec.post_build.is_some(),
        substitute_always: k
            .spec
            .post_build
            .as_ref()
            .and_then(|p| p.substitute_strategy)
            .is_some_and(|s| format!("{s:?}") == "Always"),
        vars: vars.clone(),
        labels: metadata.and_then(|m| m.labels.clone()).unwrap_or_default(),
        annotations: metadata
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default(),
        owner: (k.name_any(), k.namespace().unwrap_or_default()),
    }
}

/// Builds the Kustomization's objects from the artifact in `root`.
pub fn build(
    k: &Kustomization,
    root: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<serde_json::Value>, String> {
    build_objects(root, &options(k, vars))
}
