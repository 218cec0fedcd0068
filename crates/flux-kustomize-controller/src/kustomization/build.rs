//! The build step: the `postBuild` variables loaded from the cluster, then
//! the Kustomization's spec handed to [`flux_kustomize::objects`], which
//! builds, substitutes and labels (on a blocking thread).
//!
//! Contract: reads the extracted folder and the variables' ConfigMaps and
//! Secrets, writes nothing; every failure is `BuildFailed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::reason;
use flux_kustomize::objects::{BuildOptions, build_objects};
pub use flux_kustomize::objects::{
    NAME_LABEL, NAMESPACE_LABEL, json_to_value, secure_join, value_to_json,
};
use flux_runtime::StepError;
use flux_runtime::substitution::variables;
use kube::Client;

/// The engine's options for `k`, with `vars` (the mapping `flux build`
/// uses too).
pub fn options(k: &Kustomization, vars: BTreeMap<String, String>) -> BuildOptions {
    let json = serde_json::to_value(k).unwrap_or_default();
    BuildOptions::for_kustomization(&json, vars)
}

/// Builds the Kustomization's objects from the artifact in `root`, with
/// its `postBuild` variables.
pub async fn build(
    client: &Client,
    k: &Kustomization,
    root: &Path,
) -> Result<Vec<serde_json::Value>, StepError> {
    let failed = |message: String| StepError::retry(reason::BUILD_FAILED, message);
    let namespace = k.metadata.namespace.clone().unwrap_or_default();
    let vars = variables(Some(client), &namespace, k.spec.post_build.as_ref())
        .await
        .map_err(|e| failed(e.to_string()))?;
    let options = options(k, vars);
    let root: PathBuf = root.to_path_buf();
    tokio::task::spawn_blocking(move || build_objects(&root, &options))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))
}
