//! The GitRepository guard ladder: deleting → finalizer → suspended →
//! fetch (or the cheap "unchanged" path) → archive → status, written once
//! at the end of every path.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::conditions::{self, ReconcileStatus};
use flux_api::meta::{Artifact, ConditionStatus, FINALIZER, reason};
use flux_api::source::v1::{GitRepository, GitRepositoryStatus};
use flux_artifact::{Limits, Owner, Revision, SourceIgnore};
use flux_runtime::{now, parse_duration, patch_status};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::{self, FetchError};

/// Condition type: the artifact is in storage.
pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
/// Condition type: the last fetch failed (abnormal-true).
pub const FETCH_FAILED: &str = "FetchFailed";
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

/// Reconciles one GitRepository.
pub async fn reconcile(repo: Arc<GitRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, repo, |event| async {
        match event {
            Event::Apply(repo) => apply(&api, &repo, &ctx).await,
            Event::Cleanup(repo) => cleanup(&repo, &ctx),
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}

/// Requeue policy after an error the controller could not report.
pub fn error_policy(_repo: Arc<GitRepository>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn cleanup(repo: &GitRepository, ctx: &Context) -> Result<Action, Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let owner = Owner {
        kind: "GitRepository",
        namespace: &namespace,
        name: &name,
    };
    // Best effort: a leftover folder must not keep the object alive.
    let _ = ctx.storage.remove_all(owner);
    Ok(Action::await_change())
}

async fn apply(
    api: &Api<GitRepository>,
    repo: &GitRepository,
    ctx: &Context,
) -> Result<Action, Error> {
    if repo.spec.suspend {
        return Ok(Action::await_change());
    }
    let name = repo.name_any();
    let namespace = repo.namespace().unwrap_or_default();
    let generation = repo.metadata.generation;
    let interval = parse_duration(&repo.spec.interval).unwrap_or(Duration::from_secs(60));
    let mut status = repo.status.clone().unwrap_or_default();

    let outcome = fetch_and_store(repo, &status, ctx, &namespace, &name).await;
    let retry = interval.min(ctx.retry_interval);
    let action = match outcome {
        Ok(stored) => {
            let message = format!(
                "stored artifact for revision '{}'",
                stored.artifact.revision
            );
            let conditions = status.conditions_mut();
            conditions::remove(conditions, FETCH_FAILED);
            conditions::set(
                conditions,
                ARTIFACT_IN_STORAGE,
                ConditionStatus::True,
                reason::SUCCEEDED,
                &message,
                generation,
                now(),
            );
            conditions::mark_ready(conditions, reason::SUCCEEDED, &message, generation, now());
            let changed =
                status.artifact.as_ref().map(|a| &a.revision) != Some(&stored.artifact.revision);
            status.artifact = Some(stored.artifact);
            status.observed_ignore = repo.spec.ignore.clone();
            if changed && let Some(subject) = stored.subject {
                let message = format!("stored artifact for commit '{subject}'");
                ctx.events.normal(repo, NEW_ARTIFACT, &message).await;
            }
            Action::requeue(interval)
        }
        Err(e) => {
            let conditions = status.conditions_mut();
            conditions::set(
                conditions,
                FETCH_FAILED,
                ConditionStatus::True,
                e.reason,
                &e.message,
                generation,
                now(),
            );
            conditions::mark_failed(conditions, e.reason, &e.message, generation, now());
            ctx.events.warning(repo, e.reason, &e.message).await;
            Action::requeue(retry)
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

struct Stored {
    artifact: Artifact,
    /// The commit subject, when a new commit was checked out.
    subject: Option<String>,
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
    let url = repo.spec.url.clone();

    // Unchanged remote, unchanged settings, artifact still stored: no clone.
    if let Some(artifact) = &status.artifact {
        let stored = ctx.storage.local_path(&artifact.path).is_file();
        let same_ignore = status.observed_ignore == repo.spec.ignore;
        let same_generation = status.observed_generation == repo.metadata.generation;
        if stored && same_ignore && same_generation {
            let remote = fetch::remote_commit(url.clone(), reference.clone(), auth.clone()).await?;
            let current = Revision::parse(&artifact.revision).map(|r| r.hash);
            if remote.is_some() && remote == current {
                return Ok(Stored {
                    artifact: artifact.clone(),
                    subject: None,
                });
            }
        }
    }

    let work = tempfile::Builder::new()
        .prefix("gitrepository-")
        .tempdir()
        .map_err(|e| FetchError {
            reason: fetch::GIT_OPERATION_FAILED,
            message: format!("failed to create temporary working directory: {e}"),
        })?;
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    let commit = tokio::time::timeout(timeout, fetch::checkout(url, reference, auth, work.path()))
        .await
        .map_err(|_| FetchError {
            reason: fetch::GIT_OPERATION_FAILED,
            message: format!(
                "failed to checkout and determine revision: timeout after {timeout:?}"
            ),
        })??;
    let revision = Revision::git(commit.reference.as_deref(), &commit.hash).to_string();

    let storage = ctx.storage.clone();
    let ignore_spec = repo.spec.ignore.clone();
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let hash = commit.hash.clone();
    let dir = work.path().to_path_buf();
    let stored = tokio::task::spawn_blocking(move || {
        let owner = Owner {
            kind: "GitRepository",
            namespace: &namespace,
            name: &name,
        };
        let ignore = SourceIgnore::load(&dir, ignore_spec.as_deref())?;
        let stored = storage.archive(
            owner,
            &format!("{hash}.tar.gz"),
            &dir,
            &ignore,
            &Limits {
                max_bytes: u64::MAX,
                max_entries: u64::MAX,
            },
        )?;
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok::<_, flux_artifact::Error>(stored)
    })
    .await
    .map_err(|e| FetchError {
        reason: "ArchiveOperationFailed",
        message: format!("archive task failed: {e}"),
    })?
    .map_err(|e| FetchError {
        reason: "ArchiveOperationFailed",
        message: format!("unable to archive artifact to storage: {e}"),
    })?;
    drop(work);
    let subject = commit
        .message
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
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
        subject: Some(subject),
    })
}
