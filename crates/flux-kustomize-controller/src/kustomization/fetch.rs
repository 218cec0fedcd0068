//! The source step: find the Kustomization's source, read its artifact
//! from `status.artifact`, download it, verify its digest and extract it
//! into a fresh folder (path-safe, within the artifact limits).
//!
//! Contract: `Ok` gives the artifact and the folder it was extracted to;
//! `Err` gives upstream's reason and message, and whether to wait for the
//! dependency interval (source not ready) or the retry interval.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use flux_api::kustomize::v1::{Kustomization, SourceKind};
use flux_api::meta::{Artifact, reason};
use flux_artifact::{Digest, Limits};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};

/// Why the source step failed.
#[derive(Debug)]
pub struct SourceError {
    /// Condition reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
    /// Retry after `--requeue-dependency` (the source is not ready yet).
    pub dependency: bool,
    /// Retrying cannot help until the object changes.
    pub stalled: bool,
}

impl SourceError {
    fn artifact(message: String) -> Self {
        Self {
            reason: reason::ARTIFACT_FAILED,
            message,
            dependency: false,
            stalled: false,
        }
    }
}

/// `Kind/namespace/name` of the source.
pub fn source_id(k: &Kustomization) -> String {
    let source = &k.spec.source_ref;
    let namespace = source
        .namespace
        .clone()
        .or_else(|| k.namespace())
        .unwrap_or_default();
    format!("{}/{namespace}/{}", kind_name(source.kind), source.name)
}

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::GitRepository => "GitRepository",
        SourceKind::OciRepository => "OCIRepository",
        SourceKind::Bucket => "Bucket",
        SourceKind::ExternalArtifact => "ExternalArtifact",
    }
}

/// The artifact of the Kustomization's source.
pub async fn artifact(
    client: &Client,
    k: &Kustomization,
    no_cross_namespace_refs: bool,
) -> Result<Artifact, SourceError> {
    let source = &k.spec.source_ref;
    let own = k.namespace().unwrap_or_default();
    let namespace = source.namespace.clone().unwrap_or_else(|| own.clone());
    let kind = kind_name(source.kind);
    if no_cross_namespace_refs && namespace != own {
        return Err(SourceError {
            reason: reason::ACCESS_DENIED,
            message: format!(
                "cannot access {kind}/{namespace}/{}, cross-namespace references have been disabled",
                source.name
            ),
            dependency: false,
            stalled: true,
        });
    }
    let api_version = source
        .api_version
        .clone()
        .unwrap_or_else(|| "source.toolkit.fluxcd.io/v1".to_string());
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let id = format!("{kind}/{namespace}/{}", source.name);
    let object = match api.get_opt(&source.name).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return Err(SourceError {
                reason: reason::ARTIFACT_FAILED,
                message: format!("Source '{id}' not found"),
                dependency: true,
                stalled: false,
            });
        }
        Err(e) => {
            return Err(SourceError::artifact(format!(
                "failed to get source '{id}': {}",
                flux_runtime::ssa::kube_message(&e)
            )));
        }
    };
    let artifact = object
        .data
        .get("status")
        .and_then(|s| s.get("artifact"))
        .cloned()
        .and_then(|a| serde_json::from_value::<Artifact>(a).ok());
    artifact.ok_or_else(|| SourceError {
        reason: reason::ARTIFACT_FAILED,
        message: format!("Source artifact not found for '{id}', retrying in 30s"),
        dependency: true,
        stalled: false,
    })
}

/// Downloads `artifact` and extracts it into `dest` (which must not exist).
pub async fn download(
    artifact: &Artifact,
    dest: &Path,
    limits: &Limits,
    timeout: Duration,
) -> Result<(), SourceError> {
    let fail =
        |what: String| SourceError::artifact(format!("failed to download artifact, error: {what}"));
    let expected: Digest = artifact
        .digest
        .parse()
        .map_err(|e: flux_artifact::Error| fail(e.to_string()))?;
    let uri: http::Uri = artifact
        .url
        .parse()
        .map_err(|e: http::uri::InvalidUri| fail(format!("invalid URL '{}': {e}", artifact.url)))?;
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(uri)
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail(e.to_string()))?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| fail(format!("timeout after {timeout:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!(
            "GET {} returned {}",
            artifact.url,
            response.status()
        )));
    }
    let max = usize::try_from(limits.max_bytes.saturating_add(1)).unwrap_or(usize::MAX);
    let body = tokio::time::timeout(timeout, Limited::new(response.into_body(), max).collect())
        .await
        .map_err(|_| fail(format!("timeout after {timeout:?}")))?
        .map_err(|e| fail(e.to_string()))?
        .to_bytes();
    let dest = dest.to_path_buf();
    let limits = limits.clone();
    tokio::task::spawn_blocking(move || {
        flux_artifact::verify_and_extract(std::io::Cursor::new(body), &expected, &dest, &limits)
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e| fail(e.to_string()))?;
    Ok(())
}
