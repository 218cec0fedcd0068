//! The objects of a release manifest as the helm controller applies them:
//! parsed in Helm's order, with Helm's ownership metadata.

use serde_json::{Map, Value as Json};

/// Helm's label on every object of a release.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Helm's annotation naming an object's release.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm's annotation naming an object's release namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// Sets Helm's ownership metadata on `object` of release `name` in
/// `namespace`: the `managed-by: Helm` label and the release annotations.
pub fn managed_meta(object: &mut Json, name: &str, namespace: &str) {
    let Some(metadata) = object
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Json::Object(Map::new()))
        })
        .and_then(Json::as_object_mut)
    else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Json::Object(Map::new()));
    if !labels.is_object() {
        *labels = Json::Object(Map::new());
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(MANAGED_BY_LABEL.into(), Json::String("Helm".into()));
    }
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Json::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Json::Object(Map::new());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.insert(RELEASE_NAME_ANNOTATION.into(), Json::String(name.into()));
        a.insert(
            RELEASE_NAMESPACE_ANNOTATION.into(),
            Json::String(namespace.into()),
        );
    }
}

/// The objects of a manifest, in the order Helm writes them.
pub fn objects_of(manifest: &str) -> Result<Vec<Json>, String> {
    let mut out = Vec::new();
    for doc in crate::manifest::split_manifests(manifest) {
        for value in flux_yaml::parse(&doc).map_err(|e| e.to_string())? {
            let json = flux_kustomize::objects::value_to_json(&value);
            if json.is_object() {
                out.push(json);
            }
        }
    }
    Ok(out)
}
