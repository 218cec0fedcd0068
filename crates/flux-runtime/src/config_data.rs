//! ConfigMaps and Secrets read as JSON objects (a HelmRelease's
//! `valuesFrom`, by the helm controller and `flux build helmrelease`).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use serde_json::Value;

/// The `kind` (`Secret`, else `ConfigMap`) `namespace/name`: `Ok(None)`
/// when it does not exist, `Err` with the API's message.
pub async fn read(
    client: &Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Option<Value>, String> {
    let read = if kind == "Secret" {
        Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map(|o| o.map(|o| serde_json::to_value(o).unwrap_or_default()))
    } else {
        Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map(|o| o.map(|o| serde_json::to_value(o).unwrap_or_default()))
    };
    read.map_err(|e| crate::ssa::kube_message(&e))
}
