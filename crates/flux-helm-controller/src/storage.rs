//! Helm's `secrets` storage driver: release records in Secrets named
//! `sh.helm.release.v1.NAME.vN` in the storage namespace, labelled
//! `owner=helm`, `name`, `status`, `version` and `createdAt` (on create) or
//! `modifiedAt` (on update), as Helm v3 and v4 write them — so `helm list`,
//! `helm history` and `helm rollback` see what the controller did, and a
//! release upstream's helm-controller wrote is read here without loss
//! (unknown record fields are kept by [`flux_helm::release::Release`]).

use std::collections::BTreeMap;

use flux_helm::release::{Release, SECRET_TYPE};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

/// The labels Helm sets itself; others on a Secret are the release's.
const SYSTEM_LABELS: [&str; 6] = [
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// A storage failure, in Helm's words where it has some.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

fn kube_error(action: &str, e: &kube::Error) -> StorageError {
    StorageError(format!("{action}: {}", flux_runtime::ssa::kube_message(e)))
}

/// The releases of one namespace's storage.
#[derive(Clone)]
pub struct Storage {
    api: Api<Secret>,
}

fn unix_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string()
}

fn secret_of(release: &Release, stamp: (&str, String)) -> Result<Secret, StorageError> {
    let mut json = release
        .to_secret()
        .map_err(|e| StorageError(format!("failed to encode release {:?}: {e}", release.name)))?;
    // The record lives in the storage namespace (the client's), which may
    // differ from the release's.
    if let Some(metadata) = json
        .pointer_mut("/metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        metadata.remove("namespace");
    }
    if let Some(labels) = json
        .pointer_mut("/metadata/labels")
        .and_then(serde_json::Value::as_object_mut)
    {
        labels.insert(stamp.0.to_string(), serde_json::Value::String(stamp.1));
    }
    serde_json::from_value(json).map_err(|e| StorageError(e.to_string()))
}

/// Reads a release Secret; its custom labels become the release's.
pub fn decode(secret: &Secret) -> Result<Release, StorageError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| StorageError(format!("release Secret {name} has no release data")))?;
    let mut release = Release::decode(&data.0)
        .map_err(|e| StorageError(format!("failed to decode release Secret {name}: {e}")))?;
    release.labels = secret
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<BTreeMap<_, _>>();
    Ok(release)
}

impl Storage {
    /// The storage of `namespace` through `client`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
        }
    }

    /// Every revision of release `name`, oldest first. Records that do not
    /// decode are an error (Helm refuses them too).
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, StorageError> {
        let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
        let list = self
            .api
            .list(&params)
            .await
            .map_err(|e| kube_error("query", &e))?;
        let mut releases = Vec::new();
        for secret in &list.items {
            if secret.type_.as_deref() != Some(SECRET_TYPE) {
                continue;
            }
            releases.push(decode(secret)?);
        }
        releases.sort_by_key(|r| r.version);
        Ok(releases)
    }

    /// The newest revision of `name` (Helm's `Storage.Last`), if any.
    pub async fn last(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self.history(name).await?.pop())
    }

    /// Stores a new revision (`ErrReleaseExists` when it is there).
    pub async fn create(&self, release: &Release) -> Result<(), StorageError> {
        let secret = secret_of(release, ("createdAt", unix_now()))?;
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Err(StorageError("release: already exists".to_string()))
            }
            Err(e) => Err(kube_error("create: failed to create", &e)),
        }
    }

    /// Rewrites a revision (its status or description changed).
    pub async fn update(&self, release: &Release) -> Result<(), StorageError> {
        let secret = secret_of(release, ("modifiedAt", unix_now()))?;
        let name = release.secret_name();
        match self
            .api
            .replace(&name, &PostParams::default(), &secret)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => self.create(release).await,
            Err(e) => Err(kube_error("update: failed to update", &e)),
        }
    }

    /// Deletes a revision (a missing one is not an error).
    pub async fn delete(&self, release: &Release) -> Result<(), StorageError> {
        match self
            .api
            .delete(&release.secret_name(), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(kube_error("delete: failed to delete", &e)),
        }
    }
}
