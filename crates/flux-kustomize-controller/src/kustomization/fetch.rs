//! The source step: find the Kustomization's source, read its artifact
//! from `status.artifact`, download it, verify its digest and extract it
//! into a fresh folder (path-safe, within the artifact limits).
//!
//! Contract: `Ok` gives the artifact and the folder it was extracted to;
//! `Err` gives upstream's reason and message, and waits for the dependency
//! interval when the source is not ready yet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flux_api::kustomize::v1::{Kustomization, SourceKind};
use flux_api::meta::{Artifact, reason};
use flux_artifact::{Digest, Limits};
use flux_runtime::{StepError, format_duration};
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};

use crate::Context;

fn artifact_failed(message: String) -> StepError {
    StepError::retry(reason::ARTIFACT_FAILED, message)
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

/// The artifact of the Kustomization's source: the one the source watch
/// last saw (`known`, keyed by [`source_id`]) or else read from the API
/// server. A source without artifact yet is waited for
/// (`requeue_dependency`).
pub async fn artifact(
    client: &Client,
    known: &std::sync::Mutex<std::collections::HashMap<String, Artifact>>,
    k: &Kustomization,
    no_cross_namespace_refs: bool,
    requeue_dependency: Duration,
) -> Result<Artifact, StepError> {
    let source = &k.spec.source_ref;
    let own = k.namespace().unwrap_or_default();
    let namespace = source.namespace.clone().unwrap_or_else(|| own.clone());
    let kind = kind_name(source.kind);
    if no_cross_namespace_refs && namespace != own {
        return Err(StepError::stall(
            reason::ACCESS_DENIED,
            format!(
                "cannot access {kind}/{namespace}/{}, cross-namespace references have been disabled",
                source.name
            ),
        ));
    }
    let api_version = source
        .api_version
        .clone()
        .unwrap_or_else(|| "source.toolkit.fluxcd.io/v1".to_string());
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let id = format!("{kind}/{namespace}/{}", source.name);
    if let Some(artifact) = known.lock().ok().and_then(|k| k.get(&id).cloned()) {
        return Ok(artifact);
    }
    let object = match api.get_opt(&source.name).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return Err(StepError::wait(
                reason::ARTIFACT_FAILED,
                format!("Source '{id}' not found"),
                requeue_dependency,
            ));
        }
        Err(e) => {
            return Err(artifact_failed(format!(
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
    artifact.ok_or_else(|| {
        StepError::wait(
            reason::ARTIFACT_FAILED,
            format!(
                "Source artifact not found for '{id}', retrying in {}",
                format_duration(requeue_dependency)
            ),
            requeue_dependency,
        )
    })
}

/// Downloads `artifact` and extracts it into `dest` (created if missing).
pub async fn download(
    artifact: &Artifact,
    dest: &Path,
    limits: &Limits,
    timeout: Duration,
) -> Result<(), StepError> {
    let fail =
        |what: String| artifact_failed(format!("failed to download artifact, error: {what}"));
    let expected: Digest = artifact
        .digest
        .parse()
        .map_err(|e: flux_artifact::Error| fail(e.to_string()))?;
    let body = flux_runtime::artifact::fetch(&artifact.url, limits.max_bytes, timeout)
        .await
        .map_err(|e| match e {
            flux_runtime::artifact::FetchError::NotFound => {
                fail(format!("GET {}: artifact not found", artifact.url))
            }
            flux_runtime::artifact::FetchError::Failed(m) => fail(m),
        })?;
    std::fs::create_dir_all(dest).map_err(|e| fail(format!("creating {}: {e}", dest.display())))?;
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

/// An extracted artifact: shared read-only with the other Kustomizations
/// of the same revision, or a private copy for one that decrypts in place.
pub enum Extracted {
    /// From the shared cache.
    Shared(Arc<Tree>),
    /// A private copy (removed when dropped).
    Private(tempfile::TempDir),
}

impl Extracted {
    /// The extracted tree.
    pub fn path(&self) -> PathBuf {
        match self {
            Extracted::Shared(tree) => tree.path(),
            Extracted::Private(dir) => dir.path().join("source"),
        }
    }
}

/// Downloads and extracts `artifact` for `k`: a private copy when `k`
/// decrypts (it writes into its tree), else the shared extraction. On
/// failure the remembered artifact of the source is forgotten (it may be
/// gone with its source): the retry reads the source again.
pub async fn extract(
    ctx: &Context,
    k: &Kustomization,
    artifact: &Artifact,
    timeout: Duration,
) -> Result<Extracted, StepError> {
    let extracted = if k.spec.decryption.is_some() {
        let work = tempfile::Builder::new()
            .prefix("kustomization-")
            .tempdir()
            .map_err(|e| {
                StepError::retry(
                    "DirectoryCreationFailed",
                    format!("failed to create temporary working directory: {e}"),
                )
            })?;
        let private = Extracted::Private(work);
        download(artifact, &private.path(), &ctx.artifact_limits, timeout)
            .await
            .map(|()| private)
    } else {
        ctx.artifacts
            .get(artifact, &ctx.artifact_limits, timeout)
            .await
            .map(Extracted::Shared)
    };
    if extracted.is_err()
        && let Ok(mut known) = ctx.sources.lock()
    {
        known.remove(&source_id(k));
    }
    extracted
}

/// An artifact extracted once, shared read-only by every reconciliation
/// that builds from it; its folder is removed when the last user and the
/// cache have let go of it.
#[derive(Debug)]
pub struct Tree {
    dir: PathBuf,
}

impl Tree {
    /// The extracted artifact.
    pub fn path(&self) -> PathBuf {
        self.dir.join("tree")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Slot = Arc<tokio::sync::OnceCell<Arc<Tree>>>;

/// A use clock and the slots with their last use.
type Slots = (u64, HashMap<String, (u64, Slot)>);

/// Extracted artifacts by digest, so that the Kustomizations of one source
/// (a monorepo with a Kustomization per folder) download and extract each
/// revision once instead of once per reconciliation. Keeps the
/// `capacity` most recently used artifacts. Builds only read the tree;
/// reconciliations that decrypt in place use a private copy instead.
pub struct ArtifactCache {
    root: PathBuf,
    capacity: usize,
    slots: std::sync::Mutex<Slots>,
}

impl ArtifactCache {
    /// A cache under a new folder of the system's temporary directory.
    pub fn new(capacity: usize) -> Self {
        let unique = format!(
            "flux-kustomize-artifacts-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        Self {
            root: std::env::temp_dir().join(unique),
            capacity: capacity.max(1),
            slots: std::sync::Mutex::new((0, HashMap::new())),
        }
    }

    fn slot(&self, digest: &str) -> Slot {
        let Ok(mut guard) = self.slots.lock() else {
            return Arc::new(tokio::sync::OnceCell::new());
        };
        let (clock, slots) = &mut *guard;
        *clock += 1;
        let now = *clock;
        let slot = match slots.get_mut(digest) {
            Some((used, slot)) => {
                *used = now;
                slot.clone()
            }
            None => {
                let slot: Slot = Arc::new(tokio::sync::OnceCell::new());
                slots.insert(digest.to_string(), (now, slot.clone()));
                slot
            }
        };
        while slots.len() > self.capacity {
            let oldest = slots
                .iter()
                .filter(|(key, _)| key.as_str() != digest)
                .min_by_key(|(_, (used, _))| *used)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => {
                    slots.remove(&key);
                }
                None => break,
            }
        }
        slot
    }

    fn discard(&self, digest: &str) {
        if let Ok(mut guard) = self.slots.lock() {
            guard.1.remove(digest);
        }
    }

    /// The extracted tree of `artifact`: downloaded, verified and extracted
    /// by the first caller, waited for by concurrent ones.
    pub async fn get(
        &self,
        artifact: &Artifact,
        limits: &Limits,
        timeout: Duration,
    ) -> Result<Arc<Tree>, StepError> {
        let slot = self.slot(&artifact.digest);
        let result = slot
            .get_or_try_init(|| async {
                let name: String = artifact
                    .digest
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                std::fs::create_dir_all(&self.root).map_err(|e| {
                    artifact_failed(format!("failed to create artifact cache: {e}"))
                })?;
                let dir = tempfile::Builder::new()
                    .prefix(&format!("{name}-"))
                    .tempdir_in(&self.root)
                    .map_err(|e| artifact_failed(format!("failed to create artifact cache: {e}")))?
                    .keep();
                let tree = Arc::new(Tree { dir });
                download(artifact, &tree.path(), limits, timeout).await?;
                Ok(tree)
            })
            .await
            .cloned();
        if result.is_err() {
            self.discard(&artifact.digest);
        }
        result
    }
}

impl Drop for ArtifactCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
