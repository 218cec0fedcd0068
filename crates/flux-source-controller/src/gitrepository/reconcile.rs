//! The GitRepository guard ladder: deleting → finalizer → suspended →
//! fetch (or the cheap "unchanged" path) → archive → status, written once
//! at the end of every path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::conditions::{self, ReconcileStatus};
use flux_api::meta::{Artifact, ConditionStatus, FINALIZER, reason};
use flux_api::source::v1::{GitRepository, GitRepositoryStatus};
use flux_artifact::{Owner, Revision, SourceIgnore};
use flux_git::CheckoutOptions;
use flux_runtime::{ReconcileResult, Severity, now, parse_duration, patch_status};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event;
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::{self, Failed, FetchError};
use crate::gitrepository::{include, verify};

/// Condition type: the artifact is in storage.
pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
/// Condition type: the last fetch failed (abnormal-true).
pub const FETCH_FAILED: &str = "FetchFailed";
/// Condition type: an included repository has no artifact (abnormal-true).
pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
/// Condition type: the signature verification outcome.
pub const SOURCE_VERIFIED: &str = "SourceVerified";
/// Condition type: a storage operation failed (abnormal-true).
pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
/// Event reason of a new artifact.
pub const NEW_ARTIFACT: &str = "NewArtifact";

/// Errors that abort a reconciliation (status could not be written, the
/// finalizer could not be managed); the controller retries them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// The finalizer protocol failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// The controller name in metrics and logs (controller-runtime's).
pub const CONTROLLER: &str = "gitrepository";
const KIND: &str = "GitRepository";

/// Reconciles one GitRepository, recording its duration and outcome.
pub async fn reconcile(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let frame = flux_runtime::reconcile::Frame {
        controller: CONTROLLER,
        group: "source.toolkit.fluxcd.io",
        kind: KIND,
        finalizer: FINALIZER,
        metrics: &ctx.metrics,
    };
    flux_runtime::reconcile::run(frame, &api, repo, |event| async {
        match event {
            Event::Apply(repo) => apply(&api, &repo, &ctx).await,
            Event::Cleanup(repo) => cleanup(&repo, &ctx),
        }
    })
    .await
    .map_err(|e| match e {
        flux_runtime::reconcile::FrameError::Step(e) => e,
        flux_runtime::reconcile::FrameError::Finalizer(m) => Error::Finalizer(m),
    })
}

/// Requeue policy after an error the controller could not report.
pub fn error_policy(_repo: Arc<GitRepository>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn cleanup(repo: &GitRepository, ctx: &Context) -> Result<(Action, ReconcileResult), Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let owner = Owner {
        kind: "GitRepository",
        namespace: &namespace,
        name: &name,
    };
    // Best effort: a leftover folder must not keep the object alive.
    if let Err(e) = ctx.storage.remove_all(owner) {
        tracing::error!(error = %e, "garbage collection for deleted resource failed");
    }
    ctx.metrics.forget(KIND, &namespace, &name);
    ctx.schedule.forget(&format!("{namespace}/{name}"));
    Ok((Action::await_change(), ReconcileResult::Success))
}

async fn apply(
    api: &Api<GitRepository>,
    repo: &GitRepository,
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
    let key = format!("{namespace}/{name}");
    let token = repo
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .cloned();

    // The watch event of our own status write, or any other change that
    // leaves spec and reconcile request alone: wait for the interval.
    // (Includers are woken by their includes' changes: never skipped.)
    if repo.spec.include.is_empty()
        && status.artifact.is_some()
        && let Some(remaining) = ctx.schedule.remaining(&key, generation, token.as_deref())
    {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }

    let outcome = fetch_and_store(repo, &status, ctx, &namespace, &name).await;
    let retry = interval.min(ctx.retry_interval);
    let action = match outcome {
        Ok(stored) => {
            let message = format!(
                "stored artifact for revision '{}'",
                stored.artifact.revision
            );
            let conditions = status.conditions_mut();
            for abnormal in [FETCH_FAILED, INCLUDE_UNAVAILABLE, STORAGE_OPERATION_FAILED] {
                conditions::remove(conditions, abnormal);
            }
            conditions::set(
                conditions,
                ARTIFACT_IN_STORAGE,
                ConditionStatus::True,
                reason::SUCCEEDED,
                &message,
                generation,
                now(),
            );
            match (&repo.spec.verify, &stored.verified) {
                (None, _) => {
                    conditions::remove(conditions, SOURCE_VERIFIED);
                }
                (Some(_), Some(verified)) => conditions::set(
                    conditions,
                    SOURCE_VERIFIED,
                    ConditionStatus::True,
                    reason::SUCCEEDED,
                    verified,
                    generation,
                    now(),
                ),
                // Unchanged remote: the earlier verification stands.
                (Some(_), None) => {}
            }
            conditions::mark_ready(conditions, reason::SUCCEEDED, &message, generation, now());
            let changed =
                status.artifact.as_ref().map(|a| &a.revision) != Some(&stored.artifact.revision);
            status.artifact = Some(stored.artifact);
            status.included_artifacts = stored.included;
            status.observed_ignore = repo.spec.ignore.clone();
            status.observed_recurse_submodules = repo.spec.recurse_submodules;
            status.observed_include = repo.spec.include.clone();
            status.observed_sparse_checkout = repo.spec.sparse_checkout.clone();
            status.source_verification_mode = repo
                .spec
                .verify
                .as_ref()
                .map(|v| verify::mode_name(v.mode).to_string());
            if let Some(verified) = &stored.verified {
                ctx.events
                    .event(
                        repo,
                        Severity::Trace,
                        reason::SUCCEEDED,
                        verified,
                        BTreeMap::new(),
                    )
                    .await;
            }
            let artifact = status.artifact.as_ref();
            let revision = artifact.map(|a| a.revision.clone()).unwrap_or_default();
            if changed && let Some(subject) = stored.subject {
                let message = format!("stored artifact for commit '{}'", short_message(&subject));
                tracing::info!(revision = %revision, "{message}");
                let metadata = BTreeMap::from([
                    ("revision", revision),
                    (
                        "digest",
                        artifact.map(|a| a.digest.clone()).unwrap_or_default(),
                    ),
                ]);
                ctx.events
                    .event(repo, Severity::Info, NEW_ARTIFACT, &message, metadata)
                    .await;
            } else {
                tracing::debug!(revision = %revision, "no changes since last reconciliation");
            }
            ctx.schedule
                .succeeded(&key, generation, token.as_deref(), interval);
            (Action::requeue(interval), ReconcileResult::RequeueAfter)
        }
        Err(e) => {
            ctx.schedule.forget(&key);
            let conditions = status.conditions_mut();
            let (kind, condition_status) = match e.failed {
                Failed::Fetch => (FETCH_FAILED, ConditionStatus::True),
                Failed::Verification => (SOURCE_VERIFIED, ConditionStatus::False),
                Failed::Include => (INCLUDE_UNAVAILABLE, ConditionStatus::True),
                Failed::Storage => (STORAGE_OPERATION_FAILED, ConditionStatus::True),
            };
            conditions::set(
                conditions,
                kind,
                condition_status,
                e.reason,
                &e.message,
                generation,
                now(),
            );
            if e.stalled {
                conditions::mark_stalled(conditions, e.reason, &e.message, generation, now());
            } else {
                conditions::mark_failed(conditions, e.reason, &e.message, generation, now());
            }
            tracing::error!(reason = e.reason, "{}", e.message);
            ctx.events.warning(repo, e.reason, &e.message).await;
            match (e.stalled, e.failed) {
                (true, _) => (Action::await_change(), ReconcileResult::Success),
                (false, Failed::Include) => (
                    Action::requeue(ctx.requeue_dependency),
                    ReconcileResult::Error,
                ),
                (false, _) => (Action::requeue(retry), ReconcileResult::Error),
            }
        }
    };
    if let Some(generation) = generation {
        status.set_observed_generation(generation);
    }
    if let Some(token) = conditions::reconcile_request(
        repo.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at(),
    ) {
        let token = token.to_string();
        status.set_last_handled_reconcile_at(&token);
    }
    if repo.status.as_ref() != Some(&status) {
        patch_status(api, &name, &status).await?;
    }
    Ok(action)
}

/// The first line of a commit message, at most 50 characters (as upstream's
/// events show it).
fn short_message(message: &str) -> String {
    let subject = message.lines().next().unwrap_or_default();
    if subject.chars().count() > 50 {
        format!("{}...", subject.chars().take(50).collect::<String>())
    } else {
        subject.to_string()
    }
}

struct Stored {
    artifact: Artifact,
    /// The commit subject, when a new commit was checked out.
    subject: Option<String>,
    /// The `SourceVerified` message, when signatures were verified now.
    verified: Option<String>,
    /// The artifacts of `spec.include`, in order.
    included: Vec<Artifact>,
}

/// Whether the stored artifact still reflects every setting that shapes it
/// (so that an unchanged remote needs no new checkout).
fn content_config_unchanged(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    included: &[Artifact],
) -> bool {
    let spec = &repo.spec;
    let verified = match &spec.verify {
        None => true,
        Some(v) => {
            status.source_verification_mode.as_deref() == Some(verify::mode_name(v.mode))
                && conditions::is_true(&status.conditions, SOURCE_VERIFIED)
        }
    };
    let same_includes = status.included_artifacts.len() == included.len()
        && status
            .included_artifacts
            .iter()
            .zip(included)
            .all(|(a, b)| a.revision == b.revision && a.digest == b.digest);
    verified
        && same_includes
        && status.observed_ignore == spec.ignore
        && status.observed_recurse_submodules == spec.recurse_submodules
        && status.observed_include == spec.include
        && status.observed_sparse_checkout == spec.sparse_checkout
        && status.observed_generation == repo.metadata.generation
}

async fn fetch_and_store(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Stored, FetchError> {
    let reference = fetch::reference(repo.spec.reference.as_ref());
    let auth = fetch::auth(&ctx.client, repo).await?;
    let included = include::artifacts(&ctx.client, repo).await?;
    let keys = verify::keys(&ctx.client, repo).await?;
    let url = repo.spec.url.clone();

    // Unchanged remote, unchanged settings, artifact still stored: no clone.
    if let Some(artifact) = &status.artifact {
        let stored = ctx.storage.local_path(&artifact.path).is_file();
        if stored && content_config_unchanged(repo, status, &included) {
            let remote = fetch::remote_commit(url.clone(), reference.clone(), auth.clone()).await?;
            let current = Revision::parse(&artifact.revision).map(|r| r.hash);
            if remote.is_some() && remote == current {
                return Ok(Stored {
                    artifact: artifact.clone(),
                    subject: None,
                    verified: None,
                    included,
                });
            }
        }
    }

    let work = tempfile::Builder::new()
        .prefix("gitrepository-")
        .tempdir()
        .map_err(|e| {
            FetchError::new(
                Failed::Storage,
                "DirectoryCreationFailed",
                format!("failed to create temporary working directory: {e}"),
            )
        })?;
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    let options = CheckoutOptions {
        shallow: true,
        sparse: repo.spec.sparse_checkout.clone(),
        recurse_submodules: repo.spec.recurse_submodules,
        max_bytes: ctx.artifact_limits.max_bytes,
        max_files: ctx.artifact_limits.max_entries,
    };
    let commit = tokio::time::timeout(
        timeout,
        fetch::checkout(url, reference, auth, work.path(), options),
    )
    .await
    .map_err(|_| {
        FetchError::fetch(
            fetch::GIT_OPERATION_FAILED,
            format!("failed to checkout and determine revision: timeout after {timeout:?}"),
        )
    })??;
    let verified = match &repo.spec.verify {
        Some(v) => Some(verify::check(v.mode, &commit, &keys)?),
        None => None,
    };
    for dir in &repo.spec.sparse_checkout {
        let path = work.path().join(dir.trim_matches('/'));
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(FetchError::fetch(
                fetch::GIT_OPERATION_FAILED,
                format!(
                    "failed to sparse checkout directories : sparse checkout dir '{dir}' does not exist in repository"
                ),
            ));
        }
    }
    let revision = Revision::git(commit.reference.as_deref(), &commit.hash).to_string();

    let storage = ctx.storage.clone();
    let ignore_spec = repo.spec.ignore.clone();
    let includes: Vec<_> = repo
        .spec
        .include
        .iter()
        .cloned()
        .zip(included.iter().cloned())
        .collect();
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let hash = commit.hash.clone();
    let dir = work.path().to_path_buf();
    let limits = ctx.artifact_limits.clone();
    let stored = tokio::task::spawn_blocking(move || {
        for (spec, artifact) in &includes {
            include::copy_into(&storage, artifact, spec, &dir)?;
        }
        let owner = Owner {
            kind: "GitRepository",
            namespace: &namespace,
            name: &name,
        };
        let archive_error = |e: flux_artifact::Error| {
            FetchError::new(
                Failed::Storage,
                "ArchiveOperationFailed",
                format!("unable to archive artifact to storage: {e}"),
            )
        };
        let ignore = SourceIgnore::load(&dir, ignore_spec.as_deref()).map_err(archive_error)?;
        let stored = storage
            .archive(owner, &format!("{hash}.tar.gz"), &dir, &ignore, &limits)
            .map_err(archive_error)?;
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok::<_, FetchError>(stored)
    })
    .await
    .map_err(|e| {
        FetchError::new(
            Failed::Storage,
            "ArchiveOperationFailed",
            format!("archive task failed: {e}"),
        )
    })??;
    drop(work);
    Ok(Stored {
        artifact: Artifact {
            path: stored.path,
            url: stored.url,
            revision,
            digest: stored.summary.digest.to_string(),
            last_update_time: now(),
            size: Some(stored.summary.size as i64),
            metadata: None,
        },
        subject: Some(commit.message.clone()),
        verified,
        included,
    })
}

#[cfg(test)]
mod tests {
    use super::short_message;

    #[test]
    fn event_subjects_are_the_first_line_cut_at_fifty_characters() {
        assert_eq!(short_message("fix: it\n\nbody"), "fix: it");
        let long = "x".repeat(60);
        assert_eq!(short_message(&long), format!("{}...", "x".repeat(50)));
    }
}
