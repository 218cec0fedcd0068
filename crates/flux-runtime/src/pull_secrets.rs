//! The Secrets that authenticate image pulls for an object: its
//! `secretRef`, then its ServiceAccount's `imagePullSecrets`, read in that
//! order until one holds credentials for the registry (what upstream's
//! OCIRepository and ImageRepository keychains do).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::{Api, Client};

use crate::ssa::kube_message;

/// Reads the pull Secrets of an object in `namespace` one by one, giving
/// each (name, data) to `read`, and returns the first credentials `read`
/// finds. Errors are upstream's messages ("failed to get service account
/// '<ns>/<sa>': …", "failed to get secret '<ns>/<name>': …") or `read`'s.
pub async fn first_credentials<T>(
    client: &Client,
    namespace: &str,
    secret_ref: Option<&str>,
    service_account: Option<&str>,
    mut read: impl FnMut(&str, &BTreeMap<String, Vec<u8>>) -> Result<Option<T>, String>,
) -> Result<Option<T>, String> {
    let mut names: Vec<String> = secret_ref.iter().map(|s| s.to_string()).collect();
    if let Some(sa) = service_account {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let account = accounts.get(sa).await.map_err(|e| {
            format!(
                "failed to get service account '{namespace}/{sa}': {}",
                kube_message(&e)
            )
        })?;
        names.extend(
            account
                .image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name),
        );
    }
    for name in &names {
        let data = secret_data(client, namespace, name).await?;
        if let Some(found) = read(name, &data)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The data of Secret `namespace/name`, or upstream's "failed to get
/// secret '<ns>/<name>': …".
pub async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get(name).await.map_err(|e| {
        format!(
            "failed to get secret '{namespace}/{name}': {}",
            kube_message(&e)
        )
    })?;
    Ok(data_of(secret))
}

/// A Secret's `data` as bytes by key.
pub fn data_of(secret: Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}
