//! `spec.include`: the artifacts of other GitRepositories of the namespace
//! copied into this one's (`IncludeUnavailable` while one is missing).

use std::path::{Component, Path, PathBuf};

use flux_api::meta::Artifact;
use flux_api::source::v1::{GitRepository, GitRepositoryInclude};
use flux_artifact::{Digest, Limits, Storage, verify_and_extract};
use kube::{Api, Client};

use flux_runtime::StepError;
use flux_runtime::ssa::kube_message;

use crate::gitrepository::fetch::Failed;

/// The current artifact of every included repository, in `spec.include` order.
pub async fn artifacts(client: &Client, repo: &GitRepository) -> Result<Vec<Artifact>, StepError> {
    if repo.spec.include.is_empty() {
        return Ok(Vec::new());
    }
    let namespace = repo.metadata.namespace.clone().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    let mut artifacts = Vec::with_capacity(repo.spec.include.len());
    for include in &repo.spec.include {
        let name = &include.repository.name;
        let included = api.get(name).await.map_err(|e| {
            Failed::Include.error(
                "NotFound",
                format!(
                    "could not get resource for include '{name}': {}",
                    kube_message(&e)
                ),
            )
        })?;
        let artifact = included.status.and_then(|s| s.artifact).ok_or_else(|| {
            Failed::Include.error(
                "NoArtifact",
                format!("no artifact available for include '{name}'"),
            )
        })?;
        artifacts.push(artifact);
    }
    Ok(artifacts)
}

/// Where an include lands in the checkout: `toPath`, or the repository's name.
pub fn to_path(include: &GitRepositoryInclude) -> &str {
    include
        .to_path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(&include.repository.name)
}

/// Copies `fromPath` of `artifact` (read from local storage, its digest
/// verified) to `toPath` in `dest`, replacing what the checkout had there.
pub fn copy_into(
    storage: &Storage,
    artifact: &Artifact,
    include: &GitRepositoryInclude,
    dest: &Path,
) -> Result<(), StepError> {
    let name = &include.repository.name;
    let from = include.from_path.as_deref().unwrap_or("");
    let to = to_path(include);
    let failure = |message: String| {
        Failed::Include.error(
            "CopyFailure",
            format!("failed to copy '{name}' include from '{from}' to '{to}': {message}"),
        )
    };
    let target = safe_join(dest, to).map_err(failure)?;
    let scratch = tempfile::Builder::new()
        .prefix("include-")
        .tempdir()
        .map_err(|e| failure(e.to_string()))?;
    let extracted = scratch.path().join("artifact");
    std::fs::create_dir(&extracted).map_err(|e| failure(e.to_string()))?;
    let digest: Digest = artifact
        .digest
        .parse()
        .map_err(|e: flux_artifact::Error| failure(e.to_string()))?;
    let file = std::fs::File::open(storage.local_path(&artifact.path))
        .map_err(|e| failure(format!("artifact not in storage: {e}")))?;
    verify_and_extract(file, &digest, &extracted, &Limits::default())
        .map_err(|e| failure(e.to_string()))?;
    let source = safe_join(&extracted, from).map_err(failure)?;
    if !source.is_dir() {
        return Err(failure("no such directory in the artifact".to_string()));
    }
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .or_else(|_| std::fs::remove_file(&target))
            .map_err(|e| failure(e.to_string()))?;
    }
    copy_dir(&source, &target).map_err(|e| failure(e.to_string()))
}

/// `root/relative`, refusing absolute paths and `..`.
fn safe_join(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let mut path = root.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return Err(format!("path '{relative}' leaves the artifact")),
        }
    }
    Ok(path)
}

/// Copies regular files and folders (artifacts hold nothing else).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_paths_stay_inside() {
        let root = Path::new("/work");
        assert_eq!(safe_join(root, "a/b").unwrap(), Path::new("/work/a/b"));
        assert_eq!(safe_join(root, "./a").unwrap(), Path::new("/work/a"));
        assert_eq!(safe_join(root, "").unwrap(), Path::new("/work"));
        assert!(safe_join(root, "../etc").is_err());
        assert!(safe_join(root, "a/../../etc").is_err());
        assert!(safe_join(root, "/etc").is_err());
    }
}
