//! The build step: the `postBuild` variables loaded from the cluster, then
//! the Kustomization's spec handed to [`flux_kustomize::objects`], which
//! builds, substitutes and labels (on a blocking thread).
//!
//! Contract: reads the extracted folder and the variables' ConfigMaps and
//! Secrets, writes nothing; every failure is `BuildFailed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flux_api::kustomize::v1::{Kustomization, SubstituteKind};
use flux_api::meta::reason;
use flux_kustomize::objects::{BuildOptions, build_objects};
pub use flux_kustomize::objects::{
    NAME_LABEL, NAMESPACE_LABEL, json_to_value, secure_join, value_to_json,
};
use flux_runtime::StepError;
use flux_runtime::ssa::kube_message;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::{Api, Client};

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
            .is_some_and(|s| s == flux_api::kustomize::v1::SubstituteStrategy::Always),
        vars: vars.clone(),
        labels: metadata.and_then(|m| m.labels.clone()).unwrap_or_default(),
        annotations: metadata
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default(),
        owner: (k.name_any(), k.namespace().unwrap_or_default()),
    }
}

/// Builds the Kustomization's objects from the artifact in `root`, with
/// its `postBuild` variables.
pub async fn build(
    client: &Client,
    k: &Kustomization,
    root: &Path,
) -> Result<Vec<serde_json::Value>, StepError> {
    let failed = |message: String| StepError::retry(reason::BUILD_FAILED, message);
    let vars = load_vars(client, k).await.map_err(failed)?;
    let options = options(k, &vars);
    let root: PathBuf = root.to_path_buf();
    tokio::task::spawn_blocking(move || build_objects(&root, &options))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(failed)
}

/// Loads the `postBuild` variables: `substituteFrom` in order (optional
/// ones may be missing), then `substitute`, which wins. Newlines are
/// removed from values, as upstream does.
async fn load_vars(client: &Client, k: &Kustomization) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    let Some(post_build) = &k.spec.post_build else {
        return Ok(vars);
    };
    let namespace = k.metadata.namespace.clone().unwrap_or_default();
    for reference in &post_build.substitute_from {
        let name = &reference.name;
        let (kind, plural, data) = match reference.kind {
            SubstituteKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
                let data = api.get_opt(name).await.map(|found| {
                    found.map(|cm| cm.data.unwrap_or_default().into_iter().collect::<Vec<_>>())
                });
                ("ConfigMap", "configmaps", data)
            }
            SubstituteKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                let data = api.get_opt(name).await.map(|found| {
                    found.map(|secret| {
                        secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(key, value)| {
                                (key, String::from_utf8_lossy(&value.0).into_owned())
                            })
                            .collect::<Vec<_>>()
                    })
                });
                ("Secret", "secrets", data)
            }
        };
        match data {
            Ok(Some(data)) => {
                for (key, value) in data {
                    vars.insert(key, value.replace('\n', ""));
                }
            }
            Ok(None) if reference.optional => {}
            Ok(None) => {
                return Err(format!(
                    "substitute from '{kind}/{name}' error: {plural} \"{name}\" not found"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "substitute from '{kind}/{name}' error: {}",
                    kube_message(&e)
                ));
            }
        }
    }
    for (key, value) in post_build.substitute.iter().flatten() {
        vars.insert(key.clone(), value.replace('\n', ""));
    }
    Ok(vars)
}
