//! HelmChart: one chart version of a HelmRepository, stored as an
//! artifact for the helm controller.
//!
//! The chart's versions come from the HelmRepository's stored index,
//! parsed once per index revision and shared by every HelmChart of that
//! repository (`Context::indexes`; upstream re-reads the index per chart
//! unless its optional cache is on). The version is chosen as upstream
//! chooses it — the exact version text first, else the highest version of
//! three parts in the constraint (`*` or empty: the latest stable), ties
//! broken by the newest `created` — and `urls[0]` is downloaded (resolved
//! against the repository URL, with its credentials on the same host or
//! with `passCredentials`), checked to be a chart, and stored unchanged as
//! `<name>-<version>.tgz`.
//!
//! From a GitRepository or Bucket (`local.rs`, `deps.rs`): the chart
//! folder or `.tgz` at `spec.chart` in the source's artifact, packaged as
//! Helm packages it (version build metadata, `valuesFiles`, dependency
//! build), stored as `<name>-<version>.tgz`.
//!
//! `valuesFiles` of a repository chart are files of the chart itself
//! (`values.yaml` its defaults): the chart is repackaged with the merge
//! and the generation as build metadata.
//!
//! From an OCI HelmRepository (`oci.rs`): the chart's tag chosen among
//! the registry's tags, its Helm chart layer pulled.
//!
//! `verify` (OCI charts only, as upstream): the cosign signature of the
//! chart's manifest, checked at every reconcile before the rebuild
//! avoidance (`SourceVerified`); charts of HTTP repositories carry no
//! cosign signature and fail verification; local builds ignore it.

mod deps;
mod local;
mod oci;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::meta::{Artifact, ConditionStatus};
use flux_api::source::v1::{
    Bucket, ChartSourceKind, GitRepository, HelmChart, HelmRepository, HelmRepositoryType,
};
use flux_artifact::Owner;
use flux_helm::index::{ChartIndex, LeanVersion};
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize};
use flux_runtime::ssa::kube_message;
use flux_runtime::{ReconcileResult, Severity, StepError, now, parse_duration};
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::Failed;
use crate::gitrepository::reconcile::{
    ARTIFACT_IN_STORAGE, Error, FETCH_FAILED, NEW_ARTIFACT, SOURCE_VERIFIED,
    STORAGE_OPERATION_FAILED,
};
use crate::ocirepository::VERIFICATION_ERROR;
use crate::signature;

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "helmchart";
const KIND: &str = "HelmChart";
/// Condition type: the chart could not be built (abnormal-true).
pub const BUILD_FAILED: &str = "BuildFailed";
/// Reason of a chart stored as downloaded.
pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
/// Reason of a chart packaged from a folder (or repackaged).
pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
/// Upstream's default `--helm-chart-max-size`: 10 MiB.
pub const DEFAULT_CHART_MAX_SIZE: u64 = 10 << 20;

/// The conditions the reconciler owns besides Ready, Reconciling and
/// Stalled, in the order they decide Ready.
pub const OWNED: Owned = Owned {
    negative: &[BUILD_FAILED, FETCH_FAILED, STORAGE_OPERATION_FAILED],
    positive: &[SOURCE_VERIFIED, ARTIFACT_IN_STORAGE],
};

/// The HelmCharts of `charts` whose source is `kind`/`name` in
/// `namespace`.
fn charts_of(
    charts: &kube::runtime::reflector::Store<HelmChart>,
    kind: ChartSourceKind,
    namespace: Option<String>,
    name: &str,
) -> Vec<ObjectRef<HelmChart>> {
    charts
        .state()
        .into_iter()
        .filter(|c| {
            c.namespace() == namespace
                && c.spec.source_ref.kind == kind
                && c.spec.source_ref.name == name
        })
        .map(|c| ObjectRef::from_obj(&*c))
        .collect()
}

/// The source kinds a HelmChart reads, watched for new artifacts.
pub struct Sources {
    /// HelmRepositories.
    pub helm: Api<HelmRepository>,
    /// GitRepositories.
    pub git: Api<GitRepository>,
    /// Buckets.
    pub bucket: Api<Bucket>,
}

/// Runs the HelmChart controller: on every change of a HelmChart, on its
/// interval, and as soon as its source has a new artifact.
pub async fn run(api: Api<HelmChart>, sources: Sources, ctx: Arc<Context>) {
    let controller = Controller::new(api, crate::frame::watch_config(&ctx));
    let (by_helm, by_git, by_bucket) = (controller.store(), controller.store(), controller.store());
    controller
        .watches(sources.helm, watcher::Config::default(), move |repo| {
            charts_of(
                &by_helm,
                ChartSourceKind::HelmRepository,
                repo.namespace(),
                &repo.name_any(),
            )
        })
        .watches(sources.git, watcher::Config::default(), move |repo| {
            charts_of(
                &by_git,
                ChartSourceKind::GitRepository,
                repo.namespace(),
                &repo.name_any(),
            )
        })
        .watches(sources.bucket, watcher::Config::default(), move |bucket| {
            charts_of(
                &by_bucket,
                ChartSourceKind::Bucket,
                bucket.namespace(),
                &bucket.name_any(),
            )
        })
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Reconciles one HelmChart.
pub async fn reconcile(chart: Arc<HelmChart>, ctx: Arc<Context>) -> Result<Action, Error> {
    let reconciler = crate::frame::Reconciler {
        kind: KIND,
        controller: CONTROLLER,
    };
    crate::frame::reconcile(reconciler, chart, ctx, |api, chart, ctx| async move {
        apply(&api, &chart, &ctx).await
    })
    .await
}

/// Requeue policy after an error the controller could not report.
pub use crate::frame::error_policy;

fn owner<'a>(namespace: &'a str, name: &'a str) -> Owner<'a> {
    crate::frame::owner(KIND, namespace, name)
}

async fn apply(
    api: &Api<HelmChart>,
    chart: &HelmChart,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    if chart.spec.suspend {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let generation = chart.metadata.generation;
    let interval = parse_duration(&chart.spec.interval).unwrap_or(Duration::from_secs(60));
    let mut status = chart.status.clone().unwrap_or_default();
    let source = source(chart, ctx).await;
    // A changed source artifact is a reason to run even within the interval.
    let source_revision = source
        .as_ref()
        .ok()
        .and_then(|s| s.artifact())
        .map(|a| a.revision.clone());
    if source_revision == status.observed_source_artifact_revision
        && let Some(remaining) = crate::frame::not_due(chart, ctx)
    {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }
    // A failed verification is computed again, not carried over.
    if conditions::get(&status.conditions, SOURCE_VERIFIED)
        .is_some_and(|c| c.status == ConditionStatus::False)
    {
        conditions::remove(&mut status.conditions, SOURCE_VERIFIED);
    }
    let outcome = match build(chart, source, &status, ctx).await {
        Ok(built) => {
            match (&chart.spec.verify, &built.verified) {
                (Some(_), Some(version)) => conditions::set(
                    &mut status.conditions,
                    SOURCE_VERIFIED,
                    ConditionStatus::True,
                    flux_api::meta::reason::SUCCEEDED,
                    &format!("verified signature of version {version}"),
                    generation,
                    now(),
                ),
                (Some(_), None) => {}
                (None, _) => {
                    conditions::remove(&mut status.conditions, SOURCE_VERIFIED);
                }
            }
            let reason = if built.packaged {
                CHART_PACKAGE_SUCCEEDED
            } else {
                CHART_PULL_SUCCEEDED
            };
            let mut message = format!(
                "{} '{}' chart with version '{}'",
                if built.packaged { "packaged" } else { "pulled" },
                built.name,
                built.artifact.revision
            );
            if !built.values_files.is_empty() {
                message.push_str(&format!(
                    " and merged values files [{}]",
                    built.values_files.join(" ")
                ));
            }
            if status.artifact.as_ref().map(|a| &a.digest) != Some(&built.artifact.digest) {
                let metadata = BTreeMap::from([
                    ("revision", built.artifact.revision.clone()),
                    ("digest", built.artifact.digest.clone()),
                ]);
                ctx.events
                    .event(chart, Severity::Info, NEW_ARTIFACT, &message, metadata)
                    .await;
            }
            conditions::set(
                &mut status.conditions,
                ARTIFACT_IN_STORAGE,
                ConditionStatus::True,
                reason,
                &message,
                generation,
                now(),
            );
            status.url = Some(ctx.storage.url(&format!(
                "{}/latest.tar.gz",
                built
                    .artifact
                    .path
                    .rsplit_once('/')
                    .map(|(d, _)| d)
                    .unwrap_or_default()
            )));
            status.observed_chart_name = Some(built.name);
            status.observed_source_artifact_revision =
                (!built.source_revision.is_empty()).then_some(built.source_revision);
            if !built.reused {
                status.observed_values_files = if chart.spec.ignore_missing_values_files {
                    built.values_files
                } else {
                    Vec::new()
                };
            }
            status.artifact = Some(built.artifact);
            Outcome::Ready { reason, message }
        }
        Err(e) => {
            // A signature that does not verify fails the build and the
            // verification both, as upstream records it.
            if e.reason == "ChartVerificationError" {
                conditions::set(
                    &mut status.conditions,
                    SOURCE_VERIFIED,
                    ConditionStatus::False,
                    VERIFICATION_ERROR,
                    &e.message,
                    generation,
                    now(),
                );
            }
            if chart.spec.verify.is_none() {
                conditions::remove(&mut status.conditions, SOURCE_VERIFIED);
            }
            Outcome::Failed(e)
        }
    };
    let finish = Finish {
        events: &ctx.events,
        schedule: &ctx.schedule,
        owned: &OWNED,
        interval,
        retry: interval.min(ctx.retry_interval),
        revision: None,
    };
    Ok(finalize(api, chart, chart.status.as_ref(), status, outcome, &finish).await?)
}

/// The source object of a HelmChart.
enum Source {
    Helm(HelmRepository),
    Git(GitRepository),
    Bucket(Bucket),
}

impl Source {
    fn artifact(&self) -> Option<&Artifact> {
        match self {
            Source::Helm(r) => r.status.as_ref()?.artifact.as_ref(),
            Source::Git(r) => r.status.as_ref()?.artifact.as_ref(),
            Source::Bucket(b) => b.status.as_ref()?.artifact.as_ref(),
        }
    }
}

async fn source(chart: &HelmChart, ctx: &Context) -> Result<Source, StepError> {
    let namespace = chart.namespace().unwrap_or_default();
    let r = &chart.spec.source_ref;
    let failed = |e: kube::Error| {
        Failed::Fetch.error(
            "SourceUnavailable",
            format!("failed to get source: {}", kube_message(&e)),
        )
    };
    let client = ctx.client.clone();
    Ok(match r.kind {
        ChartSourceKind::HelmRepository => Source::Helm(
            Api::<HelmRepository>::namespaced(client, &namespace)
                .get(&r.name)
                .await
                .map_err(failed)?,
        ),
        ChartSourceKind::GitRepository => Source::Git(
            Api::<GitRepository>::namespaced(client, &namespace)
                .get(&r.name)
                .await
                .map_err(failed)?,
        ),
        ChartSourceKind::Bucket => Source::Bucket(
            Api::<Bucket>::namespaced(client, &namespace)
                .get(&r.name)
                .await
                .map_err(failed)?,
        ),
    })
}

struct Built {
    name: String,
    artifact: Artifact,
    source_revision: String,
    packaged: bool,
    values_files: Vec<String>,
    /// The stored chart was still right: nothing new was stored (the
    /// status keeps what the build that stored it observed).
    reused: bool,
    /// The chart version whose signature was verified.
    verified: Option<String>,
}

/// Verifies the cosign signature of an OCI chart's manifest when
/// `spec.verify` asks; the version verified.
async fn verify_oci_chart(
    chart: &HelmChart,
    ctx: &Context,
    client: &flux_oci::Client,
    reference: &flux_oci::Reference,
    version: &str,
) -> Result<Option<String>, StepError> {
    let Some(verify) = &chart.spec.verify else {
        return Ok(None);
    };
    let secret = verify.secret_ref.as_ref().map(|r| r.name.as_str());
    let namespace = chart.namespace().unwrap_or_default();
    let keys = signature::public_keys(ctx, &namespace, verify.provider, secret)
        .await
        .map_err(|e| {
            Failed::Verification.error(
                VERIFICATION_ERROR,
                format!(
                    "{}: {}",
                    signature::failed_prefix(verify.provider, secret),
                    e.cause()
                ),
            )
        })?;
    let shown = format!("oci://{}:{version}", reference.name());
    let failed = |e: signature::Failure| {
        build_error(
            "ChartVerificationError",
            "chart verification error",
            format!("failed to verify {shown}: {}", e.cause()),
        )
    };
    let tagged = reference.with_tag(&version.replace('+', "_"));
    let descriptor = client
        .resolve(&tagged)
        .await
        .map_err(|e| failed(signature::Failure::Registry(e)))?;
    signature::verify(client, reference, &descriptor.digest, &keys)
        .await
        .map_err(failed)?;
    Ok(Some(version.to_string()))
}

/// A build error as upstream records it: `<summary>: <message>`, on
/// `BuildFailed` for what went wrong building (metadata, values, dependencies,
/// packaging, verification), else on `FetchFailed`; a wrong reference,
/// version metadata or values files stall (no retry fixes them).
fn build_error(reason: &'static str, summary: &str, message: String) -> StepError {
    let error = format!("{summary}: {message}");
    let condition = match reason {
        "MetadataPatchError"
        | "ValuesFilesError"
        | "DependencyBuildError"
        | "ChartPackageError"
        | "ChartVerificationError" => BUILD_FAILED,
        _ => FETCH_FAILED,
    };
    let stalls = matches!(
        reason,
        "InvalidChartReference" | "MetadataPatchError" | "ValuesFilesError"
    );
    let error = if stalls {
        StepError::stall(reason, error)
    } else {
        StepError::retry(reason, error)
    };
    error.on(condition, ConditionStatus::True)
}

async fn build(
    chart: &HelmChart,
    source: Result<Source, StepError>,
    status: &flux_api::source::v1::HelmChartStatus,
    ctx: &Context,
) -> Result<Built, StepError> {
    let (kind, artifact, name) = match source? {
        Source::Helm(repo) => return build_remote(chart, repo, status, ctx).await,
        Source::Git(r) => (
            ChartSourceKind::GitRepository,
            r.status.and_then(|s| s.artifact),
            r.metadata.name.unwrap_or_default(),
        ),
        Source::Bucket(b) => (
            ChartSourceKind::Bucket,
            b.status.and_then(|s| s.artifact),
            b.metadata.name.unwrap_or_default(),
        ),
    };
    let Some(source) = artifact.filter(|a| ctx.storage.local_path(&a.path).is_file()) else {
        return Err(Failed::Fetch
            .error(
                "NoSourceArtifact",
                format!("no artifact available for {kind:?} source '{name}'"),
            )
            .retry_after(ctx.requeue_dependency));
    };
    let built = local::build(chart, kind, &source, status, ctx).await?;
    let reused = built.data.is_none();
    let artifact = match built.data {
        None => match status.artifact.clone() {
            Some(a) => a,
            None => {
                return Err(build_error(
                    "Unknown",
                    "unknown build error",
                    "the stored chart disappeared".to_string(),
                ));
            }
        },
        Some(data) => store(chart, ctx, &built.name, &built.version, &data)?,
    };
    if built.resolved > 0 {
        tracing::debug!("resolved {} chart dependencies", built.resolved);
    }
    Ok(Built {
        name: built.name,
        artifact,
        source_revision: source.revision,
        packaged: built.packaged,
        values_files: built.values_files,
        reused,
        verified: None,
    })
}

/// Stores a chart archive as `<name>-<version>.tgz` (and `latest.tar.gz`).
fn store(
    chart: &HelmChart,
    ctx: &Context,
    name: &str,
    version: &str,
    data: &[u8],
) -> Result<Artifact, StepError> {
    let namespace = chart.namespace().unwrap_or_default();
    let chart_name = chart.name_any();
    let owner = owner(&namespace, &chart_name);
    let stored = ctx
        .storage
        .store_bytes(
            owner,
            &format!("{name}-{version}.tgz"),
            data,
            "latest.tar.gz",
        )
        .map_err(|e| {
            Failed::Storage.error(
                "ArchiveOperationFailed",
                format!("unable to copy Helm chart to storage: {e}"),
            )
        })?;
    let _ = ctx
        .storage
        .garbage_collect(owner, &stored.path, SystemTime::now());
    Ok(Artifact {
        path: stored.path,
        url: stored.url,
        revision: version.to_string(),
        digest: stored.summary.digest.to_string(),
        last_update_time: now(),
        size: Some(stored.summary.size as i64),
        metadata: None,
    })
}

/// A chart of a HelmRepository: chosen in its index, downloaded, stored
/// as it is.
async fn build_remote(
    chart: &HelmChart,
    repo: HelmRepository,
    status: &flux_api::source::v1::HelmChartStatus,
    ctx: &Context,
) -> Result<Built, StepError> {
    let spec = &chart.spec;
    let valid_name = !spec.chart.is_empty()
        && regex::Regex::new(r"^([-a-z0-9]+/?\.?)+$").is_ok_and(|r| r.is_match(&spec.chart));
    if !valid_name {
        return Err(build_error(
            "InvalidChartReference",
            "invalid chart reference",
            format!(
                "invalid chart name '{}': a valid name must be lower case letters and numbers and MAY be separated with dashes (-), slashes (/) or periods (.)",
                spec.chart
            ),
        ));
    }
    // Values files: repackaged, the generation as build metadata (the
    // strategy does not apply to repository charts).
    let files = local::values_files(chart);
    let metadata = if files.is_empty() {
        String::new()
    } else {
        chart.metadata.generation.unwrap_or_default().to_string()
    };
    let wanted = spec.version.clone().unwrap_or_default();

    if repo.spec.repository_type == Some(HelmRepositoryType::Oci) {
        let client = oci::client(&repo, ctx).await?;
        let reference = oci::chart_reference(&repo.spec.url, &spec.chart)
            .map_err(|e| build_error("InvalidChartReference", "invalid chart reference", e))?;
        let version = oci::version(&client, &reference, &spec.chart, &wanted).await?;
        let verified = verify_oci_chart(chart, ctx, &client, &reference, &version).await?;
        let remote = Remote {
            name: spec
                .chart
                .rsplit('/')
                .next()
                .unwrap_or(&spec.chart)
                .to_string(),
            revision: local::patch_version(&version, &metadata)?,
            source_revision: String::new(),
            files,
        };
        if let Some(built) = cached(chart, status, ctx, &remote) {
            return Ok(Built { verified, ..built });
        }
        let data = oci::pull(&client, &reference, &version, ctx.helm_chart_max_size)
            .await
            .map_err(|e| {
                let reason = if oci::is_authentication(&e) {
                    "AuthenticationFailed"
                } else {
                    "ChartPullError"
                };
                build_error(
                    reason,
                    "chart pull error",
                    format!("failed to download chart for remote reference: {e}"),
                )
            })?;
        let built = finish_remote(chart, ctx, remote, data)?;
        return Ok(Built { verified, ..built });
    }
    if spec.verify.is_some() {
        return Err(build_error(
            "ChartVerificationError",
            "chart verification error",
            "not implemented for charts of HTTP(S) Helm repositories: only charts of OCI repositories carry cosign signatures".to_string(),
        ));
    }

    let Some(source) = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .filter(|a| ctx.storage.local_path(&a.path).is_file())
    else {
        return Err(Failed::Fetch
            .error(
                "NoSourceArtifact",
                format!(
                    "no artifact available for HelmRepository source '{}'",
                    repo.name_any()
                ),
            )
            .retry_after(ctx.requeue_dependency));
    };
    let index = ctx.index(&source).map_err(|e| {
        build_error(
            "ChartPullError",
            "chart pull error",
            format!("failed to get chart version for remote reference: failed to load index: {e}"),
        )
    })?;
    let version = select(&index, &spec.chart, &wanted).map_err(|e| {
        build_error(
            "InvalidChartReference",
            "invalid chart reference",
            format!("failed to get chart version for remote reference: {e}"),
        )
    })?;
    let remote = Remote {
        name: version.name.clone(),
        revision: local::patch_version(&version.version, &metadata)?,
        source_revision: source.revision.clone(),
        files,
    };
    if let Some(built) = cached(chart, status, ctx, &remote) {
        return Ok(built);
    }
    let Some(first) = version.urls.first().cloned() else {
        return Err(build_error(
            "ChartPullError",
            "chart pull error",
            format!(
                "failed to download chart for remote reference: chart '{}' has no downloadable URLs",
                remote.name
            ),
        ));
    };
    drop(index);
    let repo_url = crate::helmrepository::normalize_url(&repo.spec.url);
    let url = resolve_reference(&repo_url, &first);
    let data = download(&repo, &repo_url, &url, ctx).await.map_err(|e| {
        build_error(
            "ChartPullError",
            "chart pull error",
            format!("failed to download chart for remote reference: {e}"),
        )
    })?;
    finish_remote(chart, ctx, remote, data)
}

/// A repository chart chosen: its name, the version to store (with build
/// metadata), the source's revision, the values files to merge.
struct Remote {
    name: String,
    revision: String,
    source_revision: String,
    files: Vec<String>,
}

/// Rebuild avoidance: the same version stored, the object unchanged.
fn cached(
    chart: &HelmChart,
    status: &flux_api::source::v1::HelmChartStatus,
    ctx: &Context,
    remote: &Remote,
) -> Option<Built> {
    if status.observed_generation != chart.metadata.generation {
        return None;
    }
    let artifact = status
        .artifact
        .as_ref()
        .filter(|a| a.revision == remote.revision && ctx.storage.local_path(&a.path).is_file())?;
    let packaged = !remote.files.is_empty();
    let values_files = if !packaged {
        Vec::new()
    } else if status.observed_values_files.is_empty() {
        remote.files.clone()
    } else {
        status.observed_values_files.clone()
    };
    Some(Built {
        name: remote.name.clone(),
        artifact: artifact.clone(),
        source_revision: remote.source_revision.clone(),
        packaged,
        values_files,
        reused: true,
        verified: None,
    })
}

/// A downloaded chart, checked, repackaged with its values files when it
/// has some, and stored.
fn finish_remote(
    chart: &HelmChart,
    ctx: &Context,
    remote: Remote,
    data: impl AsRef<[u8]>,
) -> Result<Built, StepError> {
    let data = data.as_ref();
    let requires_packaging = !remote.files.is_empty();
    let mut loaded = match flux_helm::Chart::load_archive(data) {
        Ok(loaded) => loaded,
        Err(e) if requires_packaging => {
            return Err(build_error(
                "ChartPackageError",
                "chart package error",
                format!("failed to load downloaded chart: {}", e.0),
            ));
        }
        Err(e) => {
            return Err(build_error(
                "ChartPullError",
                "chart pull error",
                format!("failed to load chart: {}", e.0),
            ));
        }
    };
    if !requires_packaging {
        let artifact = store(chart, ctx, &remote.name, &remote.revision, data)?;
        return Ok(Built {
            name: remote.name,
            artifact,
            source_revision: remote.source_revision,
            packaged: false,
            values_files: Vec::new(),
            reused: false,
            verified: None,
        });
    }
    loaded.metadata.version = remote.revision.clone();
    let (merged, used) = local::merge_chart_values(
        &loaded,
        &remote.files,
        chart.spec.ignore_missing_values_files,
    )?;
    let changed = flux_helm::package::overwrite_default_values(&mut loaded, merged)
        .map_err(|e| build_error("ValuesFilesError", "values files merge error", e.0))?;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let packaged = flux_helm::package::package(&loaded, mtime)
        .map_err(|e| build_error("ChartPackageError", "chart package error", e.0))?;
    let artifact = store(chart, ctx, &remote.name, &remote.revision, &packaged)?;
    Ok(Built {
        name: remote.name,
        artifact,
        source_revision: remote.source_revision,
        packaged: true,
        values_files: if changed { used } else { Vec::new() },
        reused: false,
        verified: None,
    })
}

/// The version of `name` to use (upstream's `getChartVersion`).
fn select<'a>(index: &'a ChartIndex, name: &str, wanted: &str) -> Result<&'a LeanVersion, String> {
    let Some(versions) = index.versions(name) else {
        return Err("no chart name found".to_string());
    };
    if versions.is_empty() {
        return Err("no chart version found".to_string());
    }
    if !wanted.is_empty()
        && let Some(v) = versions.iter().find(|v| v.version == wanted)
    {
        return Ok(v);
    }
    let range = if wanted.is_empty() { "*" } else { wanted };
    let constraints: flux_semver::Constraints = range.parse().map_err(|e| format!("{e}"))?;
    versions
        .iter()
        .filter_map(|v| {
            flux_semver::Version::parse_flux(&v.version)
                .ok()
                .filter(|parsed| constraints.check(parsed))
                .map(|parsed| (parsed, v))
        })
        .max_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                (a.1.created.secs, a.1.created.nanos).cmp(&(b.1.created.secs, b.1.created.nanos))
            })
        })
        .map(|(_, v)| v)
        .ok_or_else(|| format!("no '{name}' chart with version matching '{wanted}' found"))
}

/// Helm's `ResolveReferenceURL`: absolute URLs as they are, others
/// relative to the repository URL.
fn resolve_reference(repo_url: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    if let Some(path) = reference.strip_prefix('/') {
        let (scheme, rest) = repo_url.split_once("://").unwrap_or(("https", repo_url));
        let host = rest.split('/').next().unwrap_or(rest);
        return format!("{scheme}://{host}/{path}");
    }
    format!("{repo_url}{reference}")
}

async fn download(
    repo: &HelmRepository,
    repo_url: &str,
    url: &str,
    ctx: &Context,
) -> Result<bytes::Bytes, String> {
    let host = |u: &str| {
        u.split_once("://")
            .map(|(_, r)| r.split('/').next().unwrap_or(r).to_string())
    };
    let same_host = host(repo_url) == host(url);
    let (authorization, tls) =
        crate::helmrepository::http_access(repo, ctx, same_host || repo.spec.pass_credentials)
            .await?;
    let client = flux_oci::http::client_with_tls(&tls, None).map_err(|e| e.to_string())?;
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    flux_oci::http::get(
        &client,
        url,
        authorization.as_deref(),
        ctx.helm_chart_max_size,
        timeout,
    )
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_chosen_as_upstream_chooses_them() {
        let index = flux_helm::index::IndexFile::parse(
            b"apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 1.0.0\n  - name: web\n    version: 1.2.0\n  - name: web\n    version: 2.0.0-rc.1\n  - name: web\n    version: '1.3'\n  - name: web\n    version: 1.1.0+b\n    created: 2024-01-02T00:00:00Z\n  - name: web\n    version: 1.1.0+a\n    created: 2024-01-01T00:00:00Z\n",
        )
        .unwrap();
        let index = ChartIndex::from_stored_json(index.to_json().as_bytes()).unwrap();
        let pick = |w: &str| select(&index, "web", w).map(|v| v.version.clone());
        assert_eq!(pick("").unwrap(), "1.2.0");
        assert_eq!(pick("*").unwrap(), "1.2.0");
        assert_eq!(pick("1.3").unwrap(), "1.3");
        assert_eq!(pick(">=2.0.0-0").unwrap(), "2.0.0-rc.1");
        assert_eq!(pick("~1.1").unwrap(), "1.1.0+b");
        assert_eq!(
            pick("9.x").unwrap_err(),
            "no 'web' chart with version matching '9.x' found"
        );
        assert_eq!(
            select(&index, "api", "").unwrap_err(),
            "no chart name found"
        );
        assert_eq!(
            resolve_reference("https://c.io/charts/", "web-1.0.0.tgz"),
            "https://c.io/charts/web-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference("https://c.io/charts/", "/dl/web.tgz"),
            "https://c.io/dl/web.tgz"
        );
        assert_eq!(
            resolve_reference("https://c.io/charts/", "https://x.io/w.tgz"),
            "https://x.io/w.tgz"
        );
    }
}
