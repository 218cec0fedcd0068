//! The GitRepository guard ladder: deleting → finalizer → suspended →
//! unchanged? (wait for the interval) → steps → status, finalised once on
//! every path by [`flux_runtime::finalize`].
//!
//! The steps, each returning a [`StepError`] recorded in the condition it
//! names: credentials ([`fetch`]) → includes ([`include`]) → verification
//! keys ([`verify`]) → the cheap remote check → checkout → verification →
//! archive into storage.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::meta::{Artifact, ConditionStatus, reason};
use flux_api::source::v1::{GitRepository, GitRepositoryStatus};
use flux_artifact::{Owner, Revision, SourceIgnore};
use flux_git::CheckoutOptions;
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_reconciling};
use flux_runtime::{ReconcileResult, Severity, StepError, now, parse_duration};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::{self, Failed};
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

/// The conditions the GitRepository reconciler owns besides Ready,
/// Reconciling and Stalled, in the order they decide Ready (upstream's
/// summary).
pub const OWNED: Owned = Owned {
    negative: &[INCLUDE_UNAVAILABLE, FETCH_FAILED, STORAGE_OPERATION_FAILED],
    positive: &[SOURCE_VERIFIED, ARTIFACT_IN_STORAGE],
};

/// Errors that abort a reconciliation (status could not be written, the
/// finalizer could not be managed); the controller retries them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("{}", flux_runtime::ssa::kube_message(.0))]
    Kube(#[from] kube::Error),
    /// The finalizer protocol failed.
    #[error("{0}")]
    Finalizer(#[from] flux_runtime::reconcile::FinalizerError),
}

/// The controller name in metrics and logs (controller-runtime's).
pub const CONTROLLER: &str = "gitrepository";
const KIND: &str = "GitRepository";

/// Reconciles one GitRepository, recording its duration and outcome.
pub async fn reconcile(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
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
    let interval = parse_duration(&repo.spec.interval).unwrap_or(Duration::from_secs(60));
    let mut status = repo.status.clone().unwrap_or_default();

    // The watch event of our own status write, or any other change that
    // leaves spec and reconcile request alone: wait for the interval (or,
    // after a failure, the retry). (Includers are woken by their includes'
    // changes: never skipped.)
    if repo.spec.include.is_empty()
        && let Some(remaining) = crate::frame::not_due(repo, ctx)
    {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }

    let mut written = repo.status.clone();
    let fetched = match prepare(repo, &status, ctx).await {
        Ok(Fetched::Unchanged(stored)) => Ok(stored),
        Ok(Fetched::Checkout(prepared)) => {
            // A checkout can take long: say so (upstream's progress message).
            let message = match &prepared.remote {
                Some(revision) => format!("building artifact: new upstream revision '{revision}'"),
                None => "building artifact".to_string(),
            };
            match report_reconciling(api, repo, &mut status, &message).await {
                Ok(()) => written = Some(status.clone()),
                Err(e) => {
                    tracing::error!(error = %flux_runtime::ssa::kube_message(&e), "failed to update status")
                }
            }
            checkout_and_store(repo, ctx, prepared, &namespace, &name).await
        }
        Err(error) => Err(error),
    };
    let outcome = match fetched {
        Ok(stored) => {
            let message = format!(
                "stored artifact for revision '{}'",
                stored.artifact.revision
            );
            announce(ctx, repo, status.artifact.as_ref(), &stored).await;
            record(repo, &mut status, stored, &message);
            Outcome::Ready {
                reason: reason::SUCCEEDED,
                message,
            }
        }
        Err(error) => Outcome::Failed(error),
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

/// Records a stored artifact and what shaped it in `status`, with
/// `ArtifactInStorage` and `SourceVerified`.
fn record(repo: &GitRepository, status: &mut GitRepositoryStatus, stored: Stored, message: &str) {
    let generation = repo.metadata.generation;
    let conditions = &mut status.conditions;
    conditions::set(
        conditions,
        ARTIFACT_IN_STORAGE,
        ConditionStatus::True,
        reason::SUCCEEDED,
        message,
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
}

/// The events of a success: the verification (trace) and, for a new
/// revision (other than `previous`'s), `NewArtifact`.
async fn announce(
    ctx: &Context,
    repo: &GitRepository,
    previous: Option<&Artifact>,
    stored: &Stored,
) {
    let changed = previous.map(|a| &a.revision) != Some(&stored.artifact.revision);
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
    let revision = stored.artifact.revision.clone();
    if changed && let Some(subject) = &stored.subject {
        let message = format!("stored artifact for commit '{}'", short_message(subject));
        tracing::info!(revision = %revision, "{message}");
        let metadata = BTreeMap::from([
            ("revision", revision),
            ("digest", stored.artifact.digest.clone()),
        ]);
        ctx.events
            .event(repo, Severity::Info, NEW_ARTIFACT, &message, metadata)
            .await;
    } else {
        tracing::debug!(revision = %revision, "no changes since last reconciliation");
    }
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

/// What the cheap checks found: nothing to do, or a checkout to make.
enum Fetched {
    /// Unchanged remote and settings, artifact still stored.
    Unchanged(Stored),
    /// A new checkout is needed.
    Checkout(Prepared),
}

/// Everything a checkout needs, read from the cluster.
struct Prepared {
    reference: flux_git::Reference,
    auth: flux_git::Auth,
    included: Vec<Artifact>,
    keys: Vec<Vec<u8>>,
    /// The new upstream revision, when the remote was asked.
    remote: Option<String>,
}

/// Credentials, includes and verification keys, then the cheap "has the
/// remote moved?" check.
async fn prepare(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    ctx: &Context,
) -> Result<Fetched, StepError> {
    let reference = fetch::reference(repo.spec.reference.as_ref());
    let auth = fetch::auth(&ctx.client, repo).await?;
    let included = include::artifacts(&ctx.client, repo)
        .await
        .map_err(|e| e.retry_after(ctx.requeue_dependency))?;
    let keys = verify::keys(&ctx.client, repo).await?;
    let mut remote_revision = None;
    // Unchanged remote, unchanged settings, artifact still stored: no clone.
    if let Some(artifact) = &status.artifact {
        let stored = ctx.storage.local_path(&artifact.path).is_file();
        if stored && content_config_unchanged(repo, status, &included) {
            let url = repo.spec.url.clone();
            let remote =
                fetch::remote_commit(url, reference.clone(), auth.clone(), git_timeout(repo))
                    .await?;
            let current = Revision::parse(&artifact.revision);
            if remote.is_some() && remote == current.as_ref().map(|r| r.hash.clone()) {
                return Ok(Fetched::Unchanged(Stored {
                    artifact: artifact.clone(),
                    subject: None,
                    verified: None,
                    included,
                }));
            }
            // Same reference, new commit (a semver range may name another
            // tag: its revision is known after the checkout).
            if !matches!(reference, flux_git::Reference::Semver(_)) {
                let named = current.and_then(|r| r.reference);
                remote_revision =
                    remote.map(|hash| Revision::git(named.as_deref(), &hash).to_string());
            }
        }
    }
    Ok(Fetched::Checkout(Prepared {
        reference,
        auth,
        included,
        keys,
        remote: remote_revision,
    }))
}

/// `spec.timeout` (60s by default): the limit of each Git operation.
fn git_timeout(repo: &GitRepository) -> Duration {
    repo.spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

/// Checks the reference out, verifies it, and archives it into storage.
async fn checkout_and_store(
    repo: &GitRepository,
    ctx: &Context,
    prepared: Prepared,
    namespace: &str,
    name: &str,
) -> Result<Stored, StepError> {
    let Prepared {
        reference,
        auth,
        included,
        keys,
        ..
    } = prepared;
    let url = repo.spec.url.clone();
    let work = tempfile::Builder::new()
        .prefix("gitrepository-")
        .tempdir()
        .map_err(|e| {
            Failed::Storage.error(
                "DirectoryCreationFailed",
                format!("failed to create temporary working directory: {e}"),
            )
        })?;
    let options = CheckoutOptions {
        shallow: true,
        sparse: repo.spec.sparse_checkout.clone(),
        recurse_submodules: repo.spec.recurse_submodules,
        max_bytes: ctx.artifact_limits.max_bytes,
        max_files: ctx.artifact_limits.max_entries,
    };
    let commit = fetch::checkout(
        url,
        reference,
        auth,
        work.path(),
        options,
        git_timeout(repo),
    )
    .await?;
    let verified = match &repo.spec.verify {
        Some(v) => Some(verify::check(v.mode, &commit, &keys)?),
        None => None,
    };
    for dir in &repo.spec.sparse_checkout {
        let path = work.path().join(dir.trim_matches('/'));
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(Failed::Fetch.error(
                fetch::GIT_OPERATION_FAILED,
                format!(
                    "failed to sparse checkout directories : sparse checkout dir '{dir}' does not exist in repository"
                ),
            ));
        }
    }
    let revision = Revision::git(commit.reference.as_deref(), &commit.hash).to_string();

    let stored = archive(
        repo,
        ctx,
        &included,
        work.path().to_path_buf(),
        &commit.hash,
        namespace,
        name,
    )
    .await?;
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

/// Copies the includes into the checkout in `dir` and archives it into
/// storage (`.sourceignore` applied), on a blocking thread; older
/// artifacts of the object are garbage-collected.
async fn archive(
    repo: &GitRepository,
    ctx: &Context,
    included: &[Artifact],
    dir: std::path::PathBuf,
    hash: &str,
    namespace: &str,
    name: &str,
) -> Result<flux_artifact::StoredArtifact, StepError> {
    let storage = ctx.storage.clone();
    let ignore_spec = repo.spec.ignore.clone();
    let includes: Vec<_> = repo
        .spec
        .include
        .iter()
        .cloned()
        .zip(included.iter().cloned())
        .collect();
    let (namespace, name, hash) = (namespace.to_string(), name.to_string(), hash.to_string());
    let limits = ctx.artifact_limits.clone();
    let requeue_dependency = ctx.requeue_dependency;
    tokio::task::spawn_blocking(move || {
        for (spec, artifact) in &includes {
            include::copy_into(&storage, artifact, spec, &dir)
                .map_err(|e| e.retry_after(requeue_dependency))?;
        }
        let owner = Owner {
            kind: "GitRepository",
            namespace: &namespace,
            name: &name,
        };
        let archive_error = |e: flux_artifact::Error| {
            Failed::Storage.error(
                "ArchiveOperationFailed",
                format!("unable to archive artifact to storage: {e}"),
            )
        };
        let ignore = SourceIgnore::load(&dir, ignore_spec.as_deref()).map_err(archive_error)?;
        let stored = storage
            .archive(owner, &format!("{hash}.tar.gz"), &dir, &ignore, &limits)
            .map_err(archive_error)?;
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok::<_, StepError>(stored)
    })
    .await
    .map_err(|e| {
        Failed::Storage.error(
            "ArchiveOperationFailed",
            format!("archive task failed: {e}"),
        )
    })?
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
