//! A HelmChart from a GitRepository or Bucket artifact: the chart folder
//! (or `.tgz`) at `spec.chart` in the source, packaged as upstream's local
//! chart builder does — the version with its build metadata
//! (`reconcileStrategy: Revision`, values files), `valuesFiles` merged over
//! the defaults, the missing dependencies built, Helm's archive written —
//! or a `.tgz` that needs none of it stored as it is.

use std::path::{Component, Path, PathBuf};

use flux_api::meta::Artifact;
use flux_api::source::v1::{ChartSourceKind, HelmChart, HelmChartStatus, ReconcileStrategy};
use flux_helm::Chart;
use flux_runtime::StepError;
use serde_json::{Map, Value as Json};

use super::build_error;
use crate::Context;
use crate::gitrepository::fetch::Failed;

/// What the build produced.
pub(super) struct LocalBuild {
    /// The chart's name.
    pub name: String,
    /// The version stored (with its build metadata).
    pub version: String,
    /// Packaged (true) or stored as found.
    pub packaged: bool,
    /// The values files merged.
    pub values_files: Vec<String>,
    /// The archive to store; `None` when the stored one is still right.
    pub data: Option<Vec<u8>>,
    /// Dependencies built.
    pub resolved: usize,
}

/// `spec.valuesFiles` as upstream uses them: a lone `values.yaml` is the
/// chart's own values, nothing to merge.
pub(super) fn values_files(chart: &HelmChart) -> Vec<String> {
    let files = &chart.spec.values_files;
    if files.len() == 1 && clean(&files[0]) == "values.yaml" {
        return Vec::new();
    }
    files.clone()
}

/// `path.Clean` of a relative path.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// `securejoin.SecureJoin(root, p)` for a tree without links: `p` cleaned
/// as if `root` were `/` (a `..` at the top stays at the top).
pub(super) fn confine(root: &Path, p: &str) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    for part in Path::new(p).components() {
        match part {
            Component::Normal(x) => parts.push(x.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    out
}

/// The path of `p` below `root`, as upstream prints it (`/charts/app`).
pub(super) fn shown(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p).to_string_lossy();
    format!("/{}", rel.trim_start_matches('/'))
}

/// The build metadata of the version: the source revision's first twelve
/// hex characters with `reconcileStrategy: Revision`, the generation with
/// values files.
pub(super) fn version_metadata(
    chart: &HelmChart,
    kind: ChartSourceKind,
    source_revision: &str,
    has_values_files: bool,
) -> String {
    let mut metadata = String::new();
    if chart.spec.reconcile_strategy == Some(ReconcileStrategy::Revision) {
        let rev = match kind {
            ChartSourceKind::GitRepository => source_revision
                .rsplit_once(':')
                .map_or(source_revision, |(_, hash)| hash)
                .to_string(),
            ChartSourceKind::Bucket => source_revision
                .strip_prefix("sha256:")
                .unwrap_or(source_revision)
                .to_string(),
            ChartSourceKind::HelmRepository => source_revision.to_string(),
        };
        metadata = if matches!(
            kind,
            ChartSourceKind::GitRepository | ChartSourceKind::Bucket
        ) {
            rev.chars().take(12).collect()
        } else {
            rev
        };
    }
    if has_values_files {
        if !metadata.is_empty() {
            metadata.push('.');
        }
        metadata.push_str(&chart.metadata.generation.unwrap_or_default().to_string());
    }
    metadata
}

/// `version` with `metadata` set (upstream's `SetMetadata`).
pub(super) fn patch_version(version: &str, metadata: &str) -> Result<String, StepError> {
    if metadata.is_empty() {
        return Ok(version.to_string());
    }
    let parsed: flux_semver::Version = version.parse().map_err(|e| {
        build_error(
            "MetadataPatchError",
            "chart metadata patch error",
            format!("failed to parse version from chart metadata as SemVer: {e}"),
        )
    })?;
    let patched = parsed.with_metadata(metadata).map_err(|e| {
        build_error(
            "MetadataPatchError",
            "chart metadata patch error",
            format!("failed to set SemVer metadata on chart version: {e}"),
        )
    })?;
    Ok(patched.to_string())
}

/// Builds the chart of `chart` from the source artifact `source`.
pub(super) async fn build(
    chart: &HelmChart,
    kind: ChartSourceKind,
    source: &Artifact,
    status: &HelmChartStatus,
    ctx: &Context,
) -> Result<LocalBuild, StepError> {
    let files = values_files(chart);
    let metadata = version_metadata(chart, kind, &source.revision, !files.is_empty());
    let force = chart.metadata.generation != status.observed_generation;
    let work = tempfile::Builder::new()
        .prefix("helmchart-")
        .tempdir()
        .map_err(|e| {
            Failed::Fetch.error(
                "DirectoryCreationFailed",
                format!("failed to create temporary working directory: {e}"),
            )
        })?;
    let root = work.path().join("source");
    let archive = ctx.storage.local_path(&source.path);
    let limits = ctx.artifact_limits.clone();
    let into = root.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&into).map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&archive).map_err(|e| e.to_string())?;
        flux_artifact::extract(std::io::BufReader::new(file), &into, &limits)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| Failed::Fetch.error("Failed", format!("artifact untar error: {e}")))?
    .map_err(|e| Failed::Fetch.error("Failed", format!("artifact untar error: {e}")))?;

    let path = confine(&root, &chart.spec.chart);
    let reference_error =
        |message: String| build_error("InvalidChartReference", "invalid chart reference", message);
    if !path.exists() {
        return Err(reference_error(format!(
            "stat {}: no such file or directory",
            shown(&root, &path)
        )));
    }
    let is_dir = path.is_dir();
    let loaded = Chart::load(&path).map_err(|e| reference_error(e.to_string()))?;
    let name = loaded.name().to_string();
    let version = patch_version(&loaded.metadata.version, &metadata)?;
    let requires_packaging = is_dir || !metadata.is_empty() || !files.is_empty();

    // The stored chart is still right: same name and version, the object
    // unchanged.
    if !force
        && let Some(artifact) = &status.artifact
        && let Ok(data) = std::fs::read(ctx.storage.local_path(&artifact.path))
        && let Ok(cached) = Chart::load_archive(&data)
        && cached.name() == name
        && cached.metadata.version == version
    {
        let values_files = if status.observed_values_files.is_empty() {
            files
        } else {
            status.observed_values_files.clone()
        };
        return Ok(LocalBuild {
            name,
            version,
            packaged: requires_packaging,
            values_files,
            data: None,
            resolved: 0,
        });
    }

    if !requires_packaging {
        let data = std::fs::read(&path).map_err(|e| {
            build_error(
                "ChartPullError",
                "chart pull error",
                format!("failed to read chart: {e}"),
            )
        })?;
        return Ok(LocalBuild {
            name,
            version,
            packaged: false,
            values_files: Vec::new(),
            data: Some(data),
            resolved: 0,
        });
    }

    let mut merged_files = Vec::new();
    let mut merged: Option<Map<String, Json>> = None;
    if !files.is_empty() {
        let (values, used) =
            merge_values_files(&root, &files, chart.spec.ignore_missing_values_files)?;
        merged = Some(values);
        merged_files = used;
    }
    let mut loaded = loaded;
    loaded.metadata.version = version.clone();
    let mut values_files = Vec::new();
    if let Some(values) = merged {
        let changed = flux_helm::package::overwrite_default_values(&mut loaded, values)
            .map_err(|e| build_error("ValuesFilesError", "values files merge error", e.0))?;
        if changed {
            values_files = merged_files;
        }
    }
    let mut resolved = 0;
    if is_dir {
        let chart_dir = path
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        resolved = super::deps::build(&mut loaded, &root, &chart_dir, chart, ctx)
            .await
            .map_err(|e| build_error("DependencyBuildError", "dependency build error", e))?;
    }
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let data = flux_helm::package::package(&loaded, mtime)
        .map_err(|e| build_error("ChartPackageError", "chart package error", e.0))?;
    drop(work);
    Ok(LocalBuild {
        name,
        version,
        packaged: true,
        values_files,
        data: Some(data),
        resolved,
    })
}

/// The values files of a repository chart merged left to right: files of
/// the chart, `values.yaml` its defaults (upstream's `mergeChartValues`).
pub(super) fn merge_chart_values(
    chart: &Chart,
    files: &[String],
    ignore_missing: bool,
) -> Result<(Map<String, Json>, Vec<String>), StepError> {
    let fail = |message: String| {
        build_error(
            "ValuesFilesError",
            "values files merge error",
            format!("failed to merge chart values: {message}"),
        )
    };
    let mut merged = Map::new();
    let mut used = Vec::new();
    for file in files {
        let name = clean(file);
        if name == "values.yaml" {
            flux_helm::package::merge_maps(&mut merged, chart.values.clone());
            used.push(file.clone());
            continue;
        }
        let Some(found) = chart.files.iter().find(|f| f.name == name) else {
            if ignore_missing {
                continue;
            }
            return Err(fail(format!("no values file found at path '{file}'")));
        };
        let values = flux_helm::yaml::read_values(&found.data)
            .map_err(|e| fail(format!("unmarshaling values from '{file}' failed: {e}")))?;
        flux_helm::package::merge_maps(&mut merged, values);
        used.push(file.clone());
    }
    Ok((merged, used))
}

/// The values files merged left to right (paths relative to the source's
/// root); a missing one fails unless `ignore_missing`. Returns the merge
/// and the files used.
fn merge_values_files(
    root: &Path,
    files: &[String],
    ignore_missing: bool,
) -> Result<(Map<String, Json>, Vec<String>), StepError> {
    let mut merged = Map::new();
    let mut used = Vec::new();
    let fail =
        |message: String| build_error("ValuesFilesError", "values files merge error", message);
    for file in files {
        let path = confine(root, file);
        if !path.is_file() {
            if ignore_missing && !path.exists() {
                continue;
            }
            return Err(fail(format!(
                "no values file found at path '{}' (reference '{file}')",
                shown(root, &path)
            )));
        }
        let data = std::fs::read(&path)
            .map_err(|e| fail(format!("could not read values from file '{file}': {e}")))?;
        let values = flux_helm::yaml::read_values(&data)
            .map_err(|e| fail(format!("unmarshaling values from '{file}' failed: {e}")))?;
        flux_helm::package::merge_maps(&mut merged, values);
        used.push(file.clone());
    }
    Ok((merged, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_source() {
        let root = Path::new("/w/source");
        assert_eq!(
            confine(root, "./charts/app"),
            Path::new("/w/source/charts/app")
        );
        assert_eq!(confine(root, "../../etc"), Path::new("/w/source/etc"));
        assert_eq!(
            confine(root, "charts/app/../../../x"),
            Path::new("/w/source/x")
        );
        assert_eq!(shown(root, Path::new("/w/source/charts/x")), "/charts/x");
        assert_eq!(clean("./values.yaml"), "values.yaml");
        assert_eq!(clean("a/../values.yaml"), "values.yaml");
    }

    #[test]
    fn versions_take_upstreams_build_metadata() {
        assert_eq!(patch_version("1.2.3", "").unwrap(), "1.2.3");
        assert_eq!(
            patch_version("1.2.3+old", "abcdef012345.4").unwrap(),
            "1.2.3+abcdef012345.4"
        );
        assert_eq!(patch_version("1.2", "7").unwrap(), "1.2.0+7");
        let e = patch_version("not-a-version", "7").unwrap_err();
        assert_eq!(e.reason, "MetadataPatchError");
    }
}
