//! Post-rendering as upstream chains it (`internal/postrender`): each
//! `spec.postRenderers[].kustomize` (patches and images, an in-memory
//! kustomize build of `helm-output.yaml`), then `spec.commonMetadata`
//! (labels and annotations set on `metadata`, created when missing), then
//! the origin labels `helm.toolkit.fluxcd.io/name|namespace` on every
//! object — through Helm's `combined` strategy: the rendered files are
//! merged into one stream, each document annotated with the file it came
//! from, and split back into files afterwards, so hooks are post-rendered
//! too and keep their template paths.
//!
//! The digests of `postRenderers` and `commonMetadata` (Go's `json.Encoder`
//! of the spec fields) tell the state machine when they changed.

use std::collections::BTreeMap;
use std::path::Path;

use flux_api::helm::v2::{HelmRelease, PostRenderer};
use flux_api::kustomize::v1::CommonMetadata;
use flux_yaml::Value;

/// The annotation Helm keeps a document's file name in while post-rendering.
const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// The origin label of the HelmRelease name.
pub const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// The origin label of the HelmRelease namespace.
pub const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// What one HelmRelease's post-rendering does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostRender {
    kustomize: Vec<(
        Vec<flux_api::kustomize_types::Patch>,
        Vec<flux_api::kustomize_types::Image>,
    )>,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    origin: Vec<(String, String)>,
}

/// How hooks meet the post-renderers: `spec.postRenderStrategy`, Helm
/// v4's `combined` by default (as upstream without `UseHelm3Defaults`).
pub fn strategy(hr: &HelmRelease) -> crate::PostRenderStrategy {
    use flux_api::helm::v2::PostRenderStrategy as Spec;
    match hr.spec.post_render_strategy {
        None | Some(Spec::Combined) => crate::PostRenderStrategy::Combined,
        Some(Spec::Separate) => crate::PostRenderStrategy::Separate,
        Some(Spec::Nohooks) => crate::PostRenderStrategy::NoHooks,
    }
}

impl PostRender {
    /// The post-rendering of `hr`.
    pub fn of(hr: &HelmRelease) -> Self {
        let common = hr.spec.common_metadata.clone().unwrap_or_default();
        Self {
            kustomize: hr
                .spec
                .post_renderers
                .iter()
                .filter_map(|r| r.kustomize.as_ref())
                .map(|k| (k.patches.clone(), k.images.clone()))
                .collect(),
            labels: common.labels.unwrap_or_default().into_iter().collect(),
            annotations: common.annotations.unwrap_or_default().into_iter().collect(),
            origin: vec![
                (
                    NAME_LABEL.to_string(),
                    hr.metadata.name.clone().unwrap_or_default(),
                ),
                (
                    NAMESPACE_LABEL.to_string(),
                    hr.metadata.namespace.clone().unwrap_or_default(),
                ),
            ],
        }
    }

    /// Post-renders the rendered files (name → content).
    pub fn run(&self, files: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
        let mut objects = Vec::new();
        for (name, content) in &files {
            let base = name.rsplit('/').next().unwrap_or(name);
            if base.starts_with('_') || content.trim().is_empty() {
                continue;
            }
            for doc in crate::manifest::split_manifests(content) {
                let values = flux_yaml::parse(&doc).map_err(|e| format!("parsing {name}: {e}"))?;
                for mut value in values {
                    if matches!(value, Value::Null) {
                        continue;
                    }
                    set_meta(&mut value, "annotations", FILENAME_ANNOTATION, name);
                    objects.push(value);
                }
            }
        }
        for (patches, images) in &self.kustomize {
            objects = kustomize(&objects, patches, images)?;
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, mut value) in objects.into_iter().enumerate() {
            for (k, v) in &self.labels {
                set_meta(&mut value, "labels", k, v);
            }
            for (k, v) in &self.annotations {
                set_meta(&mut value, "annotations", k, v);
            }
            for (k, v) in &self.origin {
                set_meta(&mut value, "labels", k, v);
            }
            let file = take_filename(&mut value)
                .unwrap_or_else(|| format!("generated-by-postrender-{i}.yaml"));
            let text = flux_yaml::emit(&value.json_round_trip().map_err(|e| e.to_string())?);
            out.entry(file).or_default().push(text);
        }
        Ok(out
            .into_iter()
            .map(|(file, docs)| (file, docs.join("---\n")))
            .collect())
    }
}

fn entries_mut(value: &mut Value) -> Option<&mut Vec<(String, Value)>> {
    match value {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

fn child<'a>(entries: &'a mut Vec<(String, Value)>, key: &str) -> &'a mut Value {
    let index = match entries.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            entries.push((key.to_string(), Value::Map(Vec::new())));
            entries.len() - 1
        }
    };
    let slot = &mut entries[index].1;
    if !matches!(slot, Value::Map(_)) {
        *slot = Value::Map(Vec::new());
    }
    slot
}

/// Sets `metadata.<field>.<key>` (maps created when missing).
fn set_meta(value: &mut Value, field: &str, key: &str, text: &str) {
    let Some(object) = entries_mut(value) else {
        return;
    };
    let Some(metadata) = entries_mut(child(object, "metadata")) else {
        return;
    };
    let Some(map) = entries_mut(child(metadata, field)) else {
        return;
    };
    let v = Value::String(text.to_string());
    match map.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = v,
        None => map.push((key.to_string(), v)),
    }
}

/// Removes the file-name annotation (and the annotations it leaves
/// empty), returning the file name.
fn take_filename(value: &mut Value) -> Option<String> {
    let object = entries_mut(value)?;
    let metadata = object
        .iter_mut()
        .find(|(k, _)| k == "metadata")
        .and_then(|(_, m)| entries_mut(m))?;
    let index = metadata.iter().position(|(k, _)| k == "annotations")?;
    let annotations = entries_mut(&mut metadata[index].1)?;
    let at = annotations
        .iter()
        .position(|(k, _)| k == FILENAME_ANNOTATION)?;
    let (_, name) = annotations.remove(at);
    if annotations.is_empty() {
        metadata.remove(index);
    }
    match name {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// One kustomize post-renderer: the objects as `helm-output.yaml` of a
/// kustomization with the patches and images, built in memory.
fn kustomize(
    objects: &[Value],
    patches: &[flux_api::kustomize_types::Patch],
    images: &[flux_api::kustomize_types::Image],
) -> Result<Vec<Value>, String> {
    let stream = objects
        .iter()
        .map(flux_yaml::emit)
        .collect::<Vec<_>>()
        .join("---\n");
    let kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["helm-output.yaml"],
        "patches": patches,
        "images": images,
    });
    let mut fs = flux_kustomize::MemFs::default();
    fs.add("/helm/helm-output.yaml", stream.into_bytes());
    fs.add(
        "/helm/kustomization.yaml",
        serde_json::to_vec(&kustomization).map_err(|e| e.to_string())?,
    );
    let options = flux_kustomize::Options {
        root_only: false,
        ..flux_kustomize::Options::default()
    };
    let built =
        flux_kustomize::build(&fs, Path::new("/helm"), &options).map_err(|e| e.to_string())?;
    let text = built.to_yaml().map_err(|e| e.to_string())?;
    flux_yaml::parse(&text).map_err(|e| e.to_string())
}

/// `sha256:` of Go's `json.Encoder` text of `value` (upstream's digests of
/// `postRenderers` and `commonMetadata`).
fn json_digest<T: serde::Serialize>(value: &T) -> String {
    let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    let mut text = crate::release::go_json_text(&json);
    text.push('\n');
    flux_artifact::Digest::of(text.as_bytes()).to_string()
}

/// The digest of `spec.postRenderers` (`None` when there are none).
pub fn post_renderers_digest(renderers: &[PostRenderer]) -> Option<String> {
    (!renderers.is_empty()).then(|| json_digest(&renderers))
}

/// The digest of `spec.commonMetadata`.
pub fn common_metadata_digest(common: Option<&CommonMetadata>) -> Option<String> {
    common.map(json_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr(spec: serde_json::Value) -> HelmRelease {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn origin_labels_common_metadata_and_patches() {
        let hr = hr(serde_json::json!({
            "interval": "1m",
            "chartRef": {"kind": "OCIRepository", "name": "web"},
            "commonMetadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
            "postRenderers": [{"kustomize": {
                "patches": [{"target": {"kind": "ConfigMap"}, "patch": "- op: add\n  path: /data/extra\n  value: yes-please\n"}],
                "images": [{"name": "nginx", "newTag": "1.27"}]
            }}]
        }));
        let files = BTreeMap::from([
            (
                "web/templates/cm.yaml".to_string(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n".to_string(),
            ),
            (
                "web/templates/_helpers.tpl".to_string(),
                "not yaml: [".to_string(),
            ),
            (
                "web/templates/pod.yaml".to_string(),
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers:\n  - name: c\n    image: nginx\n".to_string(),
            ),
        ]);
        let out = PostRender::of(&hr).run(files).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        let cm = &out["web/templates/cm.yaml"];
        assert!(cm.contains("extra: yes-please"), "{cm}");
        assert!(cm.contains("helm.toolkit.fluxcd.io/name: web"), "{cm}");
        assert!(
            cm.contains("helm.toolkit.fluxcd.io/namespace: apps"),
            "{cm}"
        );
        assert!(cm.contains("team: a") && cm.contains("note: x"), "{cm}");
        assert!(!cm.contains(FILENAME_ANNOTATION), "{cm}");
        let pod = &out["web/templates/pod.yaml"];
        assert!(pod.contains("image: nginx:1.27"), "{pod}");
        assert!(pod.contains("helm.sh/hook: test"), "{pod}");
    }

    #[test]
    fn digests_change_with_the_spec() {
        let a = post_renderers_digest(&[PostRenderer::default()]);
        assert!(a.as_deref().is_some_and(|d| d.starts_with("sha256:")));
        assert_eq!(post_renderers_digest(&[]), None);
        let m = CommonMetadata {
            labels: Some(BTreeMap::from([("a".into(), "b".into())])),
            annotations: None,
        };
        assert_ne!(common_metadata_digest(Some(&m)), a);
    }
}
