//! Objects of any kind, written as JSON manifests in tests: the API of a
//! kind from its `apiVersion` and `kind` (plural by the regular English
//! rule every Flux and core kind used in tests follows), and creation.

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::error::{Error, Result, kube as kube_err};

/// The resource of `kind` in `api_version` (`GitRepository` →
/// `gitrepositories`, `Secret` → `secrets`).
pub fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let lower = kind.to_lowercase();
    let plural = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    };
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        plural,
    }
}

/// The API of `kind` in `api_version` in `namespace`.
pub fn api(client: &Client, namespace: &str, api_version: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource(api_version, kind))
}

/// Creates the manifest `object` (JSON with `apiVersion`, `kind`,
/// `metadata.name`) in `namespace`.
pub async fn create_object(
    client: &Client,
    namespace: &str,
    object: &Value,
) -> Result<DynamicObject> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let parsed: DynamicObject = serde_json::from_value(object.clone()).map_err(|e| Error::Io {
        context: format!("reading the {kind} {name} manifest"),
        source: std::io::Error::other(e),
    })?;
    api(client, namespace, api_version, kind)
        .create(&PostParams::default(), &parsed)
        .await
        .map_err(kube_err(format!("creating {kind} {namespace}/{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(
            resource("source.toolkit.fluxcd.io/v1", "GitRepository").plural,
            "gitrepositories"
        );
        assert_eq!(resource("v1", "Secret").plural, "secrets");
        assert_eq!(resource("v1", "Secret").group, "");
        assert_eq!(
            resource("image.toolkit.fluxcd.io/v1", "ImagePolicy").plural,
            "imagepolicies"
        );
    }
}
