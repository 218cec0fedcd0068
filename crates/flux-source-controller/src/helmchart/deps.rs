//! The dependency build of a chart folder (upstream's `DependencyManager`):
//! the dependencies `Chart.lock` (else `Chart.yaml`) declares and
//! `charts/` lacks (by alias or name) are added — local ones (`file://`
//! or no repository) loaded from the source, checked against their
//! version constraint; remote ones chosen in the repository's index (a
//! HelmRepository of the namespace with the same URL: its stored index and
//! credentials; else the repository read anonymously) and downloaded;
//! `oci://` ones chosen among the registry's tags (through an OCI
//! HelmRepository of the namespace with that URL, else anonymously) and
//! pulled.

use std::path::Path;

use flux_api::source::v1::{HelmChart, HelmRepository, HelmRepositoryType};
use flux_helm::Chart;
use flux_helm::chart::Dependency;
use flux_helm::index::ChartIndex;
use kube::{Api, ResourceExt};

use super::local::{confine, shown};
use crate::Context;

/// Adds the missing dependencies of `chart` (the folder `chart_dir` below
/// the source `root`); returns how many.
pub(super) async fn build(
    chart: &mut Chart,
    root: &Path,
    chart_dir: &Path,
    object: &HelmChart,
    ctx: &Context,
) -> Result<usize, String> {
    let requested: Vec<Dependency> = match &chart.lock {
        Some(lock) => lock.dependencies.clone(),
        None => chart
            .metadata
            .dependencies
            .clone()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect(),
    };
    if chart.dependencies.len() == requested.len() {
        return Ok(0);
    }
    let mut missing: Vec<(String, Dependency)> = Vec::new();
    for dep in requested {
        let name = if dep.alias.is_empty() {
            dep.name.clone()
        } else {
            dep.alias.clone()
        };
        if chart.dependencies.iter().any(|c| c.name() == name) {
            continue;
        }
        missing.retain(|(n, _)| *n != name);
        missing.push((name, dep));
    }
    missing.sort_by(|a, b| a.0.cmp(&b.0));
    let count = missing.len();
    for (name, dep) in missing {
        let local = dep.repository.is_empty() || dep.repository.starts_with("file://");
        let mut loaded = if local {
            local_dependency(root, chart_dir, &dep)
                .map_err(|e| format!("failed to add local dependency '{name}': {e}"))?
        } else {
            remote_dependency(&dep, object, ctx)
                .await
                .map_err(|e| format!("failed to add remote dependency '{name}': {e}"))?
        };
        if !dep.alias.is_empty() {
            loaded.metadata.name = dep.alias.clone();
        }
        chart.dependencies.push(loaded);
    }
    if count > 0 {
        tracing::info!("resolved {count} chart dependencies");
    }
    Ok(count)
}

fn local_dependency(root: &Path, chart_dir: &Path, dep: &Dependency) -> Result<Chart, String> {
    let relative = match dep.repository.strip_prefix("file://") {
        None => format!("{}/charts/{}", chart_dir.display(), dep.name),
        Some(rest) => format!("{}/{rest}", chart_dir.display()),
    };
    let path = confine(root, &relative);
    if !path.exists() {
        return Err(format!(
            "no chart found at '{}' (reference '{}')",
            shown(root, &path),
            dep.repository
        ));
    }
    let constraints: flux_semver::Constraints = dep
        .version
        .parse()
        .map_err(|e| format!("invalid version/constraint format '{}': {e}", dep.version))?;
    let loaded = Chart::load(&path).map_err(|e| {
        format!(
            "failed to load chart from '{}' (reference '{}'): {e}",
            shown(root, &path),
            dep.repository
        )
    })?;
    let version: flux_semver::Version = loaded
        .metadata
        .version
        .parse()
        .map_err(|e: flux_semver::Error| e.to_string())?;
    if !constraints.check(&version) {
        return Err(format!(
            "can't get a valid version for constraint '{}'",
            dep.version
        ));
    }
    Ok(loaded)
}

/// Helm's `NormalizeURL` for repository URLs: a trailing `/` for HTTP(S),
/// none for `oci://`.
fn normalize(url: &str) -> String {
    if url.starts_with("oci://") {
        url.trim_end_matches('/').to_string()
    } else {
        crate::helmrepository::normalize_url(url)
    }
}

async fn remote_dependency(
    dep: &Dependency,
    object: &HelmChart,
    ctx: &Context,
) -> Result<Chart, String> {
    let url = normalize(&dep.repository);
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
    if !matches!(scheme, "http" | "https" | "oci") {
        return Err(format!(
            "invalid repository URL '{}': the url scheme is not supported: {scheme}",
            dep.repository
        ));
    }
    let namespace = object.namespace().unwrap_or_default();
    let repos: Api<HelmRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let oci = scheme == "oci";
    let known = repos
        .list(&Default::default())
        .await
        .map_err(|e| {
            format!(
                "failed to get chart repository for URL '{url}': {}",
                flux_runtime::ssa::kube_message(&e)
            )
        })?
        .items
        .into_iter()
        .find(|r| {
            (r.spec.repository_type == Some(HelmRepositoryType::Oci)) == oci
                && normalize(&r.spec.url) == url
        });
    if oci {
        return oci_dependency(dep, &url, known.as_ref(), ctx).await;
    }
    let index: std::sync::Arc<ChartIndex> = match known
        .as_ref()
        .and_then(|r| r.status.as_ref()?.artifact.clone())
    {
        Some(artifact) => ctx
            .index(&artifact)
            .map_err(|e| format!("failed to get chart repository for URL '{url}': {e}"))?,
        None => std::sync::Arc::new(
            anonymous_index(&url, ctx)
                .await
                .map_err(|e| format!("failed to get chart repository for URL '{url}': {e}"))?,
        ),
    };
    let version = super::select(&index, &dep.name, &dep.version).map_err(|e| {
        format!(
            "failed to get chart '{}' version '{}' from '{}': {e}",
            dep.name, dep.version, dep.repository
        )
    })?;
    let Some(first) = version.urls.first() else {
        return Err(format!(
            "chart download of version '{}' failed: chart '{}' has no downloadable URLs",
            version.version, dep.name
        ));
    };
    let chart_url = super::resolve_reference(&url, first);
    let data = match &known {
        Some(repo) => super::download(repo, &url, &chart_url, ctx).await,
        None => {
            let client = flux_oci::http::client(None).map_err(|e| e.to_string())?;
            flux_oci::http::get(
                &client,
                &chart_url,
                None,
                ctx.helm_chart_max_size,
                std::time::Duration::from_secs(60),
            )
            .await
            .map_err(|e| e.to_string())
        }
    }
    .map_err(|e| {
        format!(
            "chart download of version '{}' failed: {e}",
            version.version
        )
    })?;
    Chart::load_archive(&data).map_err(|e| {
        format!(
            "failed to load downloaded archive of version '{}': {e}",
            version.version
        )
    })
}

/// A dependency from an OCI registry: through the OCI HelmRepository of
/// the namespace with that URL (its credentials, TLS and `insecure`), else
/// anonymously over HTTPS; the tag chosen and pulled as for a HelmChart.
async fn oci_dependency(
    dep: &Dependency,
    url: &str,
    known: Option<&HelmRepository>,
    ctx: &Context,
) -> Result<Chart, String> {
    let client = match known {
        Some(repo) => super::oci::client(repo, ctx).await.map_err(|e| e.message)?,
        None => flux_oci::Client::new(flux_oci::ClientOptions::default())
            .map_err(|e| format!("failed to create registry client: {e}"))?,
    };
    let reference = super::oci::chart_reference(url, &dep.name)?;
    let version = super::oci::choose(&client, &reference, &dep.name, &dep.version)
        .await
        .map_err(|(_, e)| {
            format!(
                "failed to get chart '{}' version '{}' from '{}': {e}",
                dep.name, dep.version, dep.repository
            )
        })?;
    let data = super::oci::pull(&client, &reference, &version, ctx.helm_chart_max_size)
        .await
        .map_err(|e| format!("chart download of version '{version}' failed: {e}"))?;
    Chart::load_archive(&data)
        .map_err(|e| format!("failed to load downloaded archive of version '{version}': {e}"))
}

/// The index of a repository no HelmRepository of the namespace names,
/// read without credentials (upstream's 60-second default).
async fn anonymous_index(url: &str, ctx: &Context) -> Result<ChartIndex, String> {
    let client = flux_oci::http::client(None).map_err(|e| e.to_string())?;
    let data = flux_oci::http::get(
        &client,
        &format!("{url}index.yaml"),
        None,
        ctx.helm_index_max_size,
        std::time::Duration::from_secs(60),
    )
    .await
    .map_err(|e| e.to_string())?;
    let parsed = flux_helm::index::IndexFile::parse(&data).map_err(|e| e.to_string())?;
    ChartIndex::from_stored_json(parsed.to_json().as_bytes())
}
