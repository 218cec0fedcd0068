//! OCIRepository: an artifact in an OCI registry, stored as a source
//! artifact.
//!
//! The guard ladder is the GitRepository one. The steps: credentials
//! (`secretRef` Docker config, the ServiceAccount's image pull secrets,
//! `certSecretRef` CA) → the reference (`ref.digest` > `ref.semver` (+
//! `semverFilter`) > `ref.tag` > `latest`) → the revision (`<tag>@sha256:…`
//! from the manifest's digest, a cheap `HEAD`) → `spec.verify`: the cosign
//! signature of that digest, checked when the revision, the generation or
//! a failure asks (`SourceVerified`) → unchanged revision and settings:
//! nothing more → pull the manifest and the selected layer
//! (`layerSelector`), size-limited and digest-checked → `extract` it (the
//! hostile-archive checks of every consumer) and archive it with the
//! `.sourceignore` rules, or `copy` it as is → `sha256:<hex>.tar.gz` in
//! storage, the manifest annotations as the artifact's metadata.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::meta::{Artifact, ConditionStatus, reason};
use flux_api::source::v1::{OCILayerOperation, OCIRepository, OCIRepositoryStatus};
use flux_artifact::{Owner, SourceIgnore};
use flux_oci::artifact::HELM_CHART_MEDIA_TYPE;
use flux_oci::{Client, ClientOptions, Reference};
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_reconciling};
use flux_runtime::ssa::kube_message;
use flux_runtime::{ReconcileResult, Severity, StepError, now, parse_duration};
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::Failed;
use crate::gitrepository::reconcile::{
    ARTIFACT_IN_STORAGE, Error, FETCH_FAILED, NEW_ARTIFACT, SOURCE_VERIFIED,
    STORAGE_OPERATION_FAILED,
};
use crate::signature;

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "ocirepository";
const KIND: &str = "OCIRepository";

/// Reason: the URL cannot name an artifact (stalls).
pub const URL_INVALID: &str = "URLInvalid";
/// Reason: the tags could not be listed or none matches.
pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
/// Reason: the manifest or layer could not be pulled.
pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
/// Reason: the layer could not be selected, extracted or copied.
pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
/// Reason: the signature could not be verified (`SourceVerified=False`).
pub const VERIFICATION_ERROR: &str = "VerificationError";
/// Reason: credentials missing, malformed or refused.
pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";

/// The conditions the reconciler owns besides Ready, Reconciling and
/// Stalled, in the order they decide Ready.
pub const OWNED: Owned = Owned {
    negative: &[FETCH_FAILED, STORAGE_OPERATION_FAILED],
    positive: &[SOURCE_VERIFIED, ARTIFACT_IN_STORAGE],
};

/// Runs the OCIRepository controller until the stream ends.
pub async fn run(api: Api<OCIRepository>, ctx: Arc<Context>) {
    Controller::new(api, crate::frame::watch_config(&ctx))
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Reconciles one OCIRepository, recording its duration and outcome.
pub async fn reconcile(repo: Arc<OCIRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let reconciler = crate::frame::Reconciler {
        kind: KIND,
        controller: CONTROLLER,
    };
    crate::frame::reconcile(reconciler, repo, ctx, |api, repo, ctx| async move {
        apply(&api, &repo, &ctx).await
    })
    .await
}

/// Requeue policy after an error the controller could not report.
pub use crate::frame::error_policy;

fn owner<'a>(namespace: &'a str, name: &'a str) -> Owner<'a> {
    crate::frame::owner(KIND, namespace, name)
}

async fn apply(
    api: &Api<OCIRepository>,
    repo: &OCIRepository,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    if repo.spec.suspend {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let name = repo.name_any();
    let namespace = repo.namespace().unwrap_or_default();
    let generation = repo.metadata.generation;
    let interval = parse_duration(&repo.spec.interval).unwrap_or(Duration::from_secs(60));
    let mut status = repo.status.clone().unwrap_or_default();
    if let Some(remaining) = crate::frame::not_due(repo, ctx) {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }

    // A failed verification is computed again, not carried over.
    if conditions::get(&status.conditions, SOURCE_VERIFIED)
        .is_some_and(|c| c.status == ConditionStatus::False)
    {
        conditions::remove(&mut status.conditions, SOURCE_VERIFIED);
    }
    let mut written = repo.status.clone();
    let outcome = match resolve(repo, &status, ctx).await {
        Ok(Resolved::Unchanged(artifact, verified)) => {
            record_verification(repo, &mut status, verified);
            let message = format!("stored artifact for digest '{}'", artifact.revision);
            conditions::set(
                &mut status.conditions,
                ARTIFACT_IN_STORAGE,
                ConditionStatus::True,
                reason::SUCCEEDED,
                &message,
                generation,
                now(),
            );
            Outcome::Ready {
                reason: reason::SUCCEEDED,
                message,
            }
        }
        Ok(Resolved::Pull(pull)) => {
            let message = format!(
                "building artifact: new revision '{}' for '{}'",
                pull.revision, pull.reference
            );
            match report_reconciling(api, repo, &mut status, &message).await {
                Ok(()) => written = Some(status.clone()),
                Err(e) => tracing::error!(error = %kube_message(&e), "failed to update status"),
            }
            match pull_and_store(repo, ctx, &pull, &namespace, &name).await {
                Ok(artifact) => {
                    record_verification(repo, &mut status, pull.verified.clone());
                    let message = format!("stored artifact for digest '{}'", artifact.revision);
                    announce(ctx, repo, status.artifact.as_ref(), &artifact).await;
                    conditions::set(
                        &mut status.conditions,
                        ARTIFACT_IN_STORAGE,
                        ConditionStatus::True,
                        reason::SUCCEEDED,
                        &message,
                        generation,
                        now(),
                    );
                    status.url = Some(ctx.storage.url(&format!(
                        "{}/latest.tar.gz",
                        artifact.path.rsplit_once('/').map(|(d, _)| d).unwrap_or_default()
                    )));
                    status.artifact = Some(artifact);
                    status.observed_ignore = repo.spec.ignore.clone();
                    status.observed_layer_selector = repo.spec.layer_selector.clone();
                    Outcome::Ready {
                        reason: reason::SUCCEEDED,
                        message,
                    }
                }
                Err(e) => Outcome::Failed(e),
            }
        }
        Err(e) => Outcome::Failed(e),
    };
    let finish = Finish {
        events: &ctx.events,
        schedule: &ctx.schedule,
        owned: &OWNED,
        interval,
        retry: interval.min(ctx.retry_interval),
        revision: None,
    };
    Ok(finalize(api, repo, written.as_ref(), status, outcome, &finish).await?)
}

/// What the cheap checks found.
enum Resolved {
    /// Same revision and settings, artifact still stored (and the
    /// `SourceVerified` message when the signature was verified now).
    Unchanged(Artifact, Option<String>),
    /// A pull is needed.
    Pull(Box<Pull>),
}

struct Pull {
    client: Client,
    /// The reference resolved (tag or digest).
    reference: Reference,
    /// `<tag>@sha256:…` or `sha256:…`.
    revision: String,
    /// The manifest digest.
    digest: String,
    /// The `SourceVerified` message when the signature was verified now.
    verified: Option<String>,
}

fn fetch_error(reason: &'static str, message: String) -> StepError {
    Failed::Fetch.error(reason, message)
}

/// Credentials, the reference and its revision.
async fn resolve(
    repo: &OCIRepository,
    status: &OCIRepositoryStatus,
    ctx: &Context,
) -> Result<Resolved, StepError> {
    let spec = &repo.spec;
    let url = &spec.url;
    let repository = parse_repository(url).map_err(|e| {
        StepError::stall(
            URL_INVALID,
            format!("URL validation failed for '{url}': {e}"),
        )
        .on(FETCH_FAILED, ConditionStatus::True)
    })?;
    if let Some(provider) = spec.provider
        && provider != flux_api::source::v1::OCIProvider::Generic
    {
        let name = format!("{provider:?}").to_lowercase();
        return Err(fetch_error(
            AUTHENTICATION_FAILED,
            format!(
                "failed to get credential from {name}: cloud provider credentials are not supported by this controller yet; use secretRef"
            ),
        ));
    }
    let mut options = client_options(repo, &repository, ctx).await?;
    if let Some(r) = &spec.proxy_secret_ref {
        let namespace = repo.namespace().unwrap_or_default();
        options.proxy = Some(
            crate::frame::proxy(ctx, &namespace, &r.name)
                .await
                .map_err(|e| {
                    fetch_error(
                        AUTHENTICATION_FAILED,
                        format!("failed to get proxy address: {e}"),
                    )
                })?,
        );
    }
    let client = Client::new(options).map_err(|e| {
        fetch_error(
            AUTHENTICATION_FAILED,
            format!("failed to generate transport for '{url}': {e}"),
        )
    })?;
    let reference = artifact_reference(repo, &repository, &client)
        .await
        .map_err(|e| {
            fetch_error(
                classify(&e, READ_OPERATION_FAILED),
                format!("failed to determine the artifact tag for '{url}': {e}"),
            )
        })?;
    let (revision, digest) = match &reference.digest {
        Some(digest) => (digest.clone(), digest.clone()),
        None => {
            let descriptor = client.resolve(&reference).await.map_err(|e| {
                fetch_error(
                    classify(&e, OCI_PULL_FAILED),
                    format!("failed to determine artifact digest: {e}"),
                )
            })?;
            let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
            (format!("{tag}@{}", descriptor.digest), descriptor.digest)
        }
    };
    let verified =
        verify_signature(repo, status, ctx, &client, &reference, &revision, &digest).await?;
    if let Some(artifact) = &status.artifact
        && artifact.revision == revision
        && status.observed_ignore == spec.ignore
        && status.observed_layer_selector == spec.layer_selector
        && ctx.storage.local_path(&artifact.path).is_file()
    {
        return Ok(Resolved::Unchanged(artifact.clone(), verified));
    }
    Ok(Resolved::Pull(Box::new(Pull {
        client,
        reference,
        revision,
        digest,
        verified,
    })))
}

/// Verifies the signature of `digest` when `spec.verify` asks and
/// something changed since the last verification — the revision, the
/// object's generation, or a failure — as upstream; the `SourceVerified`
/// message when it was verified now. The digest resolved above is the one
/// verified and then pulled: a tag moved in between cannot swap content in.
async fn verify_signature(
    repo: &OCIRepository,
    status: &OCIRepositoryStatus,
    ctx: &Context,
    client: &Client,
    reference: &Reference,
    revision: &str,
    digest: &str,
) -> Result<Option<String>, StepError> {
    let Some(verify) = &repo.spec.verify else {
        return Ok(None);
    };
    let verified = conditions::get(&status.conditions, SOURCE_VERIFIED);
    let current = status
        .artifact
        .as_ref()
        .is_some_and(|a| a.revision == revision)
        && verified.is_some_and(|c| {
            c.status == ConditionStatus::True && c.observed_generation == repo.metadata.generation
        });
    if current {
        return Ok(None);
    }
    let secret = verify.secret_ref.as_ref().map(|r| r.name.as_str());
    let failed = |e: signature::Failure| {
        Failed::Verification.error(
            VERIFICATION_ERROR,
            format!(
                "{}: {}",
                signature::failed_prefix(verify.provider, secret),
                e.describe(&reference.to_string())
            ),
        )
    };
    let namespace = repo.namespace().unwrap_or_default();
    let keys = signature::public_keys(ctx, &namespace, verify.provider, secret)
        .await
        .map_err(failed)?;
    let repository = Reference {
        tag: None,
        digest: None,
        ..reference.clone()
    };
    signature::verify(client, &repository, digest, &keys)
        .await
        .map_err(failed)?;
    Ok(Some(format!("verified signature of revision {revision}")))
}

/// Records `SourceVerified` after a successful reconcile: removed without
/// `spec.verify`, `True` when verified now, else as it was.
fn record_verification(
    repo: &OCIRepository,
    status: &mut OCIRepositoryStatus,
    verified: Option<String>,
) {
    match (&repo.spec.verify, verified) {
        (None, _) => {
            conditions::remove(&mut status.conditions, SOURCE_VERIFIED);
        }
        (Some(_), Some(message)) => conditions::set(
            &mut status.conditions,
            SOURCE_VERIFIED,
            ConditionStatus::True,
            reason::SUCCEEDED,
            &message,
            repo.metadata.generation,
            now(),
        ),
        (Some(_), None) => {}
    }
}

/// `AuthenticationFailed` when the registry refused the credentials, else
/// `otherwise`.
fn classify(e: &flux_oci::Error, otherwise: &'static str) -> &'static str {
    if e.is_authentication() {
        AUTHENTICATION_FAILED
    } else {
        otherwise
    }
}

/// The repository of `oci://registry/repository` (a tag is refused).
fn parse_repository(url: &str) -> Result<Reference, String> {
    if !url.starts_with(flux_oci::OCI_SCHEME) {
        return Err("URL must be in format 'oci://<domain>/<org>/<repo>'".to_string());
    }
    let reference = Reference::parse_url(url).map_err(|e| e.to_string())?;
    if let Some(tag) = &reference.tag {
        return Err(format!("URL must not contain a tag; remove ':{tag}'"));
    }
    if reference.digest.is_some() {
        return Err("URL must not contain a digest; use spec.ref.digest".to_string());
    }
    Ok(reference)
}

/// `ref.digest` > `ref.semver` > `ref.tag` > `latest`.
async fn artifact_reference(
    repo: &OCIRepository,
    repository: &Reference,
    client: &Client,
) -> Result<Reference, flux_oci::Error> {
    let Some(r) = &repo.spec.reference else {
        return Ok(repository.with_tag("latest"));
    };
    if let Some(digest) = r.digest.as_deref().filter(|d| !d.is_empty()) {
        return Reference::parse(&format!("{}@{digest}", repository.name()));
    }
    if let Some(range) = r.semver.as_deref().filter(|s| !s.is_empty()) {
        let tags = client.tags(repository).await?;
        let chart = repo
            .spec
            .layer_selector
            .as_ref()
            .and_then(|l| l.media_type.as_deref())
            == Some(HELM_CHART_MEDIA_TYPE);
        let tag = newest_tag(&tags, range, r.semver_filter.as_deref(), chart)
            .map_err(flux_oci::Error::Io)?;
        return Ok(repository.with_tag(&tag));
    }
    if let Some(tag) = r.tag.as_deref().filter(|t| !t.is_empty()) {
        return Ok(repository.with_tag(tag));
    }
    Ok(repository.with_tag("latest"))
}

/// The tag with the highest version in `range` among `tags` matching
/// `filter`; versions need three parts (Flux's rule); Helm chart tags
/// spell `+` as `_`.
fn newest_tag(
    tags: &[String],
    range: &str,
    filter: Option<&str>,
    chart: bool,
) -> Result<String, String> {
    let filter = match filter.filter(|f| !f.is_empty()) {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| e.to_string())?),
        None => None,
    };
    let constraints: flux_semver::Constraints = range
        .parse()
        .map_err(|e| format!("semver '{range}' parse error: {e}"))?;
    tags.iter()
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)))
        .filter_map(|t| {
            let text = if chart {
                t.replace('_', "+")
            } else {
                t.clone()
            };
            flux_semver::Version::parse_flux(&text)
                .ok()
                .filter(|v| constraints.check(v))
                .map(|v| (t.clone(), v))
        })
        .max_by(|a, b| a.1.cmp(&b.1))
        .map(|(t, _)| t)
        .ok_or_else(|| format!("no match found for semver: {range}"))
}

/// Credentials (`secretRef`, the ServiceAccount's image pull secrets),
/// the CA of `certSecretRef`, `insecure` and the timeout.
async fn client_options(
    repo: &OCIRepository,
    repository: &Reference,
    ctx: &Context,
) -> Result<ClientOptions, StepError> {
    let namespace = repo.namespace().unwrap_or_default();
    let auth_error = |message: String| fetch_error(AUTHENTICATION_FAILED, message);
    let credentials = flux_runtime::pull_secrets::first_credentials(
        &ctx.client,
        &namespace,
        repo.spec.secret_ref.as_ref().map(|r| r.name.as_str()),
        repo.spec.service_account_name.as_deref(),
        |name, data| flux_oci::auth::from_pull_secret(name, data, &repository.registry),
    )
    .await
    .map_err(auth_error)?;
    let mut tls = flux_oci::http::Tls::default();
    if let Some(r) = &repo.spec.cert_secret_ref {
        tls = crate::frame::tls(ctx, &namespace, &r.name)
            .await
            .map_err(auth_error)?;
    }
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    Ok(ClientOptions {
        insecure: repo.spec.insecure,
        tls,
        credentials,
        timeout,
        proxy: None,
    })
}

/// Pulls the manifest and the selected layer, and stores the artifact.
async fn pull_and_store(
    repo: &OCIRepository,
    ctx: &Context,
    pull: &Pull,
    namespace: &str,
    name: &str,
) -> Result<Artifact, StepError> {
    let url = &repo.spec.url;
    let by_digest = pull.reference.with_digest(&pull.digest);
    let (manifest, _) = pull.client.manifest(&by_digest).await.map_err(|e| {
        fetch_error(
            classify(&e, OCI_PULL_FAILED),
            format!("failed to pull artifact from '{url}': {e}"),
        )
    })?;
    let selector = repo.spec.layer_selector.as_ref();
    let media_type = selector.and_then(|s| s.media_type.as_deref());
    let layer = flux_oci::artifact::select_layer(&manifest, media_type)
        .map_err(|e| fetch_error(OCI_LAYER_OPERATION_FAILED, e.to_string()))?
        .clone();
    let work = tempfile::Builder::new()
        .prefix("ocirepository-")
        .tempdir()
        .map_err(|e| {
            Failed::Storage.error(
                "DirectoryCreationFailed",
                format!("failed to create temporary working directory: {e}"),
            )
        })?;
    let blob_path = work.path().join("layer.tar.gz");
    let mut file = std::fs::File::create(&blob_path).map_err(|e| {
        fetch_error(
            OCI_LAYER_OPERATION_FAILED,
            format!("failed to create file to copy layer to: {e}"),
        )
    })?;
    pull.client
        .blob(&by_digest, &layer, ctx.artifact_limits.max_bytes, &mut file)
        .await
        .map_err(|e| {
            fetch_error(
                classify(&e, OCI_PULL_FAILED),
                format!("failed to pull artifact from '{url}': {e}"),
            )
        })?;
    drop(file);

    let operation = selector
        .and_then(|s| s.operation)
        .unwrap_or(OCILayerOperation::Extract);
    let storage = ctx.storage.clone();
    let limits = ctx.artifact_limits.clone();
    let ignore_spec = repo.spec.ignore.clone();
    let file_name = format!("{}.tar.gz", pull.digest);
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let dir = work.path().join("content");
    let stored = tokio::task::spawn_blocking(move || {
        let owner = owner(&namespace, &name);
        let stored =
            match operation {
                OCILayerOperation::Copy => storage
                    .store_file(owner, &file_name, &blob_path)
                    .map_err(|e| {
                        Failed::Storage.error(
                            "ArchiveOperationFailed",
                            format!("unable to copy artifact to storage: {e}"),
                        )
                    })?,
                OCILayerOperation::Extract => {
                    std::fs::create_dir_all(&dir).map_err(|e| {
                        Failed::Storage.error(
                            "DirectoryCreationFailed",
                            format!("failed to create temporary working directory: {e}"),
                        )
                    })?;
                    let blob = std::fs::File::open(&blob_path).map_err(|e| {
                        fetch_error(
                            OCI_LAYER_OPERATION_FAILED,
                            format!("failed to extract layer contents from artifact: {e}"),
                        )
                    })?;
                    flux_artifact::extract(std::io::BufReader::new(blob), &dir, &limits).map_err(
                        |e| {
                            fetch_error(
                                OCI_LAYER_OPERATION_FAILED,
                                format!("failed to extract layer contents from artifact: {e}"),
                            )
                        },
                    )?;
                    let archive_error = |e: flux_artifact::Error| {
                        Failed::Storage.error(
                            "ArchiveOperationFailed",
                            format!("unable to archive artifact to storage: {e}"),
                        )
                    };
                    let ignore =
                        SourceIgnore::load(&dir, ignore_spec.as_deref()).map_err(archive_error)?;
                    storage
                        .archive(owner, &file_name, &dir, &ignore, &limits)
                        .map_err(archive_error)?
                }
            };
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok::<_, StepError>(stored)
    })
    .await
    .map_err(|e| {
        Failed::Storage.error(
            "ArchiveOperationFailed",
            format!("archive task failed: {e}"),
        )
    })??;
    drop(work);
    Ok(Artifact {
        path: stored.path,
        url: stored.url,
        revision: pull.revision.clone(),
        digest: stored.summary.digest.to_string(),
        last_update_time: now(),
        size: Some(stored.summary.size as i64),
        metadata: (!manifest.annotations.is_empty()).then_some(manifest.annotations),
    })
}

/// `NewArtifact` when the stored digest changed, with the origin the
/// manifest annotations record.
async fn announce(
    ctx: &Context,
    repo: &OCIRepository,
    previous: Option<&Artifact>,
    new: &Artifact,
) {
    if previous.map(|a| &a.digest) == Some(&new.digest) {
        return;
    }
    let mut message = format!(
        "stored artifact with revision '{}' from '{}'",
        new.revision, repo.spec.url
    );
    let mut metadata = BTreeMap::from([
        ("revision", new.revision.clone()),
        ("digest", new.digest.clone()),
    ]);
    let annotations = new.metadata.clone().unwrap_or_default();
    let source = annotations.get(flux_oci::artifact::SOURCE_ANNOTATION);
    let origin = annotations.get(flux_oci::artifact::REVISION_ANNOTATION);
    if let Some(origin) = origin {
        metadata.insert("originRevision", origin.clone());
        if let Some(source) = source {
            message.push_str(&format!(
                ", origin source '{source}', origin revision '{origin}'"
            ));
        }
    }
    tracing::info!(revision = %new.revision, "{message}");
    ctx.events
        .event(repo, Severity::Info, NEW_ARTIFACT, &message, metadata)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_name_a_repository_without_tag() {
        assert!(parse_repository("oci://ghcr.io/org/app").is_ok());
        assert_eq!(
            parse_repository("oci://ghcr.io/org/app:v1").unwrap_err(),
            "URL must not contain a tag; remove ':v1'"
        );
        assert_eq!(
            parse_repository("https://ghcr.io/org/app").unwrap_err(),
            "URL must be in format 'oci://<domain>/<org>/<repo>'"
        );
    }

    #[test]
    fn semver_picks_the_highest_three_part_version() {
        let tags: Vec<String> = ["1.0.0", "1.2", "1.1.0", "2.0.0-rc.1", "v1.1.5", "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(newest_tag(&tags, ">=1.0.0", None, false).unwrap(), "v1.1.5");
        assert_eq!(newest_tag(&tags, "1.0.x", None, false).unwrap(), "1.0.0");
        assert_eq!(
            newest_tag(&tags, "*", Some("^1\\.1"), false).unwrap(),
            "1.1.0"
        );
        assert_eq!(
            newest_tag(&tags, ">=3.0.0", None, false).unwrap_err(),
            "no match found for semver: >=3.0.0"
        );
        let charts = vec!["1.0.1_build.1".to_string(), "1.0.0".to_string()];
        assert_eq!(
            newest_tag(&charts, "1.0.x", None, true).unwrap(),
            "1.0.1_build.1"
        );
        assert_eq!(newest_tag(&charts, "1.0.x", None, false).unwrap(), "1.0.0");
    }
}
