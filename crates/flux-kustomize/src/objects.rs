//! The objects a Flux Kustomization applies, built from an artifact folder:
//! `path` built as kustomize-controller builds it (the generated
//! kustomization when there is none, then the Kustomization's patches,
//! images, prefixes, components and target namespace), `postBuild`
//! variables substituted, every object stamped with `commonMetadata` and
//! the owner labels. Shared by the controller and `flux build|diff`.
//!
//! Contract: pure over the folder and the variables given (callers load
//! `substituteFrom`); `Err` is the `BuildFailed` message. No object is
//! returned unless every object built and substituted.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use flux_yaml::Value;

use crate::flux::{FluxSpec, build_flux};
use crate::fs::DiskFs;
use crate::substitute::{self, SubstituteError};

/// The label naming the Kustomization that applied an object.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// The label naming its namespace.
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// Why the objects of a Kustomization could not be built (the
/// controller's `BuildFailed` message).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `spec.path` leaves the artifact.
    #[error("path '{0}' is outside the artifact")]
    OutsideArtifact(String),
    /// `kustomize build` failed (paths shown relative to the artifact).
    #[error("kustomize build failed: {0}")]
    Kustomize(String),
    /// A built object could not be read back.
    #[error("{0}")]
    Yaml(#[from] flux_yaml::Error),
    /// An object is SOPS-encrypted and no decryption is configured.
    #[error(
        "{0} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
    )]
    Encrypted(String),
    /// Post-build substitution failed.
    #[error("post build failed for '{object}': {error}")]
    Substitution {
        /// The object's id.
        object: String,
        /// Why.
        #[source]
        error: SubstituteError,
    },
}

/// What to build, from a Kustomization's spec.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `spec.path` (relative to the artifact root).
    pub path: Option<String>,
    /// The kustomize-level fields.
    pub spec: FluxSpec,
    /// Whether `spec.postBuild` is set.
    pub post_build: bool,
    /// `postBuild.substituteStrategy: Always` (substitute even without variables).
    pub substitute_always: bool,
    /// The variables (`substitute`, then `substituteFrom`, merged by the caller).
    pub vars: BTreeMap<String, String>,
    /// `commonMetadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `commonMetadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// The Kustomization's name and namespace (the owner labels).
    pub owner: (String, String),
}

impl BuildOptions {
    /// The options of a Kustomization (`kustomize.toolkit.fluxcd.io`, as
    /// JSON) with its `postBuild` variables `vars`: the one mapping from a
    /// Kustomization's spec to the build, used by the controller and by
    /// `flux build`/`flux diff`. Fields of the wrong type count as unset.
    pub fn for_kustomization(k: &serde_json::Value, vars: BTreeMap<String, String>) -> Self {
        let spec = &k["spec"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let list = |v: &serde_json::Value| -> Vec<Value> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(json_to_value)
                .collect()
        };
        let strings = |v: &serde_json::Value| -> BTreeMap<String, String> {
            v.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        };
        let metadata = |field: &str| {
            k["metadata"][field]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        BuildOptions {
            path: text(&spec["path"]),
            spec: FluxSpec {
                target_namespace: text(&spec["targetNamespace"]),
                name_prefix: text(&spec["namePrefix"]),
                name_suffix: text(&spec["nameSuffix"]),
                patches: list(&spec["patches"]),
                images: list(&spec["images"]),
                components: spec["components"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect(),
                ignore_missing_components: spec["ignoreMissingComponents"]
                    .as_bool()
                    .unwrap_or(false),
            },
            post_build: spec.get("postBuild").is_some_and(|p| !p.is_null()),
            substitute_always: spec["postBuild"]["substituteStrategy"] == "Always",
            vars,
            labels: strings(&spec["commonMetadata"]["labels"]),
            annotations: strings(&spec["commonMetadata"]["annotations"]),
            owner: (metadata("name"), metadata("namespace")),
        }
    }
}

/// `spec.path` inside `root`; a path leaving the root is an error.
pub fn secure_join(root: &Path, path: Option<&str>) -> Result<PathBuf, BuildError> {
    let mut out = root.to_path_buf();
    for component in Path::new(path.unwrap_or("./")).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if out == root || !out.pop() || !out.starts_with(root) {
                    return Err(BuildError::OutsideArtifact(
                        path.unwrap_or_default().to_string(),
                    ));
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// JSON as a YAML value (integers stay integers).
pub fn json_to_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::Uint))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Seq(items.iter().map(json_to_value).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// A built object as JSON (what the API server takes).
pub fn value_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

/// Builds the objects from the artifact in `root`.
pub fn build_objects(
    root: &Path,
    options: &BuildOptions,
) -> Result<Vec<serde_json::Value>, BuildError> {
    let dir = secure_join(root, options.path.as_deref())?;
    let built = build_flux(&DiskFs, root, &dir, &options.spec).map_err(|e| {
        BuildError::Kustomize(e.to_string().replace(&format!("{}/", root.display()), ""))
    })?;
    let substituting =
        options.post_build && (!options.vars.is_empty() || options.substitute_always);
    let (name, namespace) = &options.owner;
    let mut out = Vec::with_capacity(built.resources.len());
    for resource in &built.resources {
        let mut value = resource.value.json_round_trip()?;
        if value.get("sops").is_some() {
            return Err(BuildError::Encrypted(resource.id.to_string()));
        }
        if substituting && !substitute::disabled(&value) {
            value =
                substitute::substitute_object(&value, &options.vars, true).map_err(|error| {
                    BuildError::Substitution {
                        object: resource.id.to_string(),
                        error,
                    }
                })?;
        }
        let mut json = value_to_json(&value);
        if let Some(meta) = json.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            let mut add = |field: &str, pairs: Vec<(String, String)>| {
                let entry = meta
                    .entry(field.to_string())
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if !entry.is_object() {
                    *entry = serde_json::Value::Object(Default::default());
                }
                if let Some(map) = entry.as_object_mut() {
                    for (k, v) in pairs {
                        map.insert(k, serde_json::Value::String(v));
                    }
                }
            };
            if !options.labels.is_empty() {
                add("labels", options.labels.clone().into_iter().collect());
            }
            if !options.annotations.is_empty() {
                add(
                    "annotations",
                    options.annotations.clone().into_iter().collect(),
                );
            }
            add(
                "labels",
                vec![
                    (NAME_LABEL.to_string(), name.clone()),
                    (NAMESPACE_LABEL.to_string(), namespace.clone()),
                ],
            );
        }
        out.push(json);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_artifact() {
        let root = Path::new("/tmp/a");
        assert_eq!(
            secure_join(root, Some("./apps/prod")).unwrap(),
            Path::new("/tmp/a/apps/prod")
        );
        assert_eq!(secure_join(root, None).unwrap(), Path::new("/tmp/a"));
        assert_eq!(
            secure_join(root, Some("apps/../base")).unwrap(),
            Path::new("/tmp/a/base")
        );
        assert!(secure_join(root, Some("../etc")).is_err());
        assert!(secure_join(root, Some("apps/../../etc")).is_err());
    }
}
