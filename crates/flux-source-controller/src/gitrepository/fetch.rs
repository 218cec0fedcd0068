//! Fetch step: credentials from the Secret, the reference to follow, the
//! cheap remote check, and the checkout. Contract: never writes to the
//! cluster; every failure is a [`StepError`] with upstream's reason,
//! recorded in the condition [`Failed`] names.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::{GitRepository, GitRepositoryRef};
use flux_git::{Auth, CheckoutOptions, Commit, DEFAULT_BRANCH, Proxy, Reference};
use flux_runtime::StepError;
use flux_runtime::ssa::kube_message;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::gitrepository::reconcile::{
    FETCH_FAILED, INCLUDE_UNAVAILABLE, SOURCE_VERIFIED, STORAGE_OPERATION_FAILED,
};

/// The abnormal condition a failure is recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// `FetchFailed=True`.
    Fetch,
    /// `SourceVerified=False`.
    Verification,
    /// `IncludeUnavailable=True`.
    Include,
    /// `StorageOperationFailed=True`.
    Storage,
}

impl Failed {
    /// The condition and its status.
    pub fn condition(self) -> (&'static str, ConditionStatus) {
        match self {
            Failed::Fetch => (FETCH_FAILED, ConditionStatus::True),
            Failed::Verification => (SOURCE_VERIFIED, ConditionStatus::False),
            Failed::Include => (INCLUDE_UNAVAILABLE, ConditionStatus::True),
            Failed::Storage => (STORAGE_OPERATION_FAILED, ConditionStatus::True),
        }
    }

    /// A failure a retry may fix, recorded in this condition.
    pub fn error(self, reason: &'static str, message: impl Into<String>) -> StepError {
        let (kind, status) = self.condition();
        StepError::retry(reason, message).on(kind, status)
    }
}

/// Reason: credentials missing, malformed or refused.
pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// Reason: any other Git failure.
pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";

/// The reference `spec.ref` asks for; the first set of commit, name,
/// semver, tag, branch wins, as upstream; `master` when empty.
pub fn reference(spec_ref: Option<&GitRepositoryRef>) -> Reference {
    let Some(r) = spec_ref else {
        return Reference::Branch(DEFAULT_BRANCH.to_string());
    };
    if let Some(sha) = &r.commit {
        return Reference::Commit {
            sha: sha.clone(),
            branch: r.branch.clone(),
        };
    }
    if let Some(name) = &r.name {
        return Reference::Name(name.clone());
    }
    if let Some(range) = &r.semver {
        return Reference::Semver(range.clone());
    }
    if let Some(tag) = &r.tag {
        return Reference::Tag(tag.clone());
    }
    Reference::Branch(
        r.branch
            .clone()
            .unwrap_or_else(|| DEFAULT_BRANCH.to_string()),
    )
}

/// The credentials of `spec.secretRef` (and the proxy of
/// `spec.proxySecretRef`), read from the cluster.
pub async fn auth(client: &Client, repo: &GitRepository) -> Result<Auth, StepError> {
    let namespace = repo.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let mut auth = match &repo.spec.secret_ref {
        None => Auth::None,
        Some(secret_ref) => {
            let data = secret_data(&secrets, &secret_ref.name).await.map_err(|e| {
                Failed::Fetch.error(
                    AUTHENTICATION_FAILED,
                    format!(
                        "failed to get secret '{namespace}/{}': {e}",
                        secret_ref.name
                    ),
                )
            })?;
            Auth::from_secret(&data, &repo.spec.url).map_err(|e| {
                Failed::Fetch.error(
                    AUTHENTICATION_FAILED,
                    format!(
                        "failed to configure authentication options from secret '{namespace}/{}': {e}",
                        secret_ref.name
                    ),
                )
            })?
        }
    };
    if let Some(proxy_ref) = &repo.spec.proxy_secret_ref {
        let proxy = secret_data(&secrets, &proxy_ref.name)
            .await
            .map_err(|e| format!("failed to get secret '{namespace}/{}': {e}", proxy_ref.name))
            .and_then(|data| Proxy::from_secret(&data).map_err(|e| e.to_string()))
            .map_err(|e| {
                Failed::Fetch.error(
                    AUTHENTICATION_FAILED,
                    format!("failed to configure proxy options: {e}"),
                )
            })?;
        auth = auth.with_proxy(proxy);
    }
    Ok(auth)
}

async fn secret_data(
    secrets: &Api<Secret>,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let secret = secrets.get(name).await.map_err(|e| kube_message(&e))?;
    Ok(flux_runtime::pull_secrets::data_of(secret))
}

/// Where `reference` points on the remote now, without cloning, within
/// `timeout`.
pub async fn remote_commit(
    url: String,
    reference: Reference,
    auth: Auth,
    timeout: Duration,
) -> Result<Option<String>, StepError> {
    let shown = flux_git::redact(&url);
    within(&shown, timeout, move || {
        flux_git::remote_commit(&url, &reference, &auth)
    })
    .await
}

/// Checks `reference` out into `dir`, within `timeout`.
pub async fn checkout(
    url: String,
    reference: Reference,
    auth: Auth,
    dir: &Path,
    options: CheckoutOptions,
    timeout: Duration,
) -> Result<Commit, StepError> {
    let dir = dir.to_path_buf();
    let shown = flux_git::redact(&url);
    within(&shown, timeout, move || {
        flux_git::checkout(&url, &reference, &auth, &dir, &options)
    })
    .await
}

/// Runs a blocking Git operation under a [`flux_git::Deadline`] of
/// `timeout`. libgit2 ends the operation itself when the deadline passes
/// or the server falls silent, freeing its thread and socket; the wait
/// here is bounded too (a second more), so the object is reported on time
/// even if libgit2 is slow to notice.
async fn within<T: Send + 'static>(
    url: &str,
    timeout: Duration,
    operation: impl FnOnce() -> flux_git::Result<T> + Send + 'static,
) -> Result<T, StepError> {
    let task = tokio::task::spawn_blocking(move || {
        let _deadline = flux_git::Deadline::start(timeout);
        operation()
    });
    match tokio::time::timeout(timeout + Duration::from_secs(1), task).await {
        Ok(joined) => joined
            .map_err(|e| Failed::Fetch.error(GIT_OPERATION_FAILED, format!("git task failed: {e}")))?
            .map_err(git_error),
        Err(_) => Err(Failed::Fetch.error(
            GIT_OPERATION_FAILED,
            format!(
                "failed to checkout and determine revision: unable to clone '{url}': timeout after {}",
                flux_runtime::format_duration(timeout)
            ),
        )),
    }
}

fn git_error(e: flux_git::Error) -> StepError {
    Failed::Fetch.error(
        if e.is_authentication() {
            AUTHENTICATION_FAILED
        } else {
            GIT_OPERATION_FAILED
        },
        format!("failed to checkout and determine revision: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_precedence_follows_upstream() {
        assert_eq!(reference(None), Reference::Branch("master".into()));
        let r = |f: fn(&mut GitRepositoryRef)| {
            let mut r = GitRepositoryRef::default();
            f(&mut r);
            reference(Some(&r))
        };
        assert_eq!(
            r(|r| r.branch = Some("main".into())),
            Reference::Branch("main".into())
        );
        assert_eq!(
            r(|r| {
                r.branch = Some("main".into());
                r.tag = Some("v1".into());
            }),
            Reference::Tag("v1".into())
        );
        assert_eq!(
            r(|r| {
                r.tag = Some("v1".into());
                r.semver = Some(">=1".into());
            }),
            Reference::Semver(">=1".into())
        );
        assert_eq!(
            r(|r| {
                r.semver = Some(">=1".into());
                r.name = Some("refs/pull/1/head".into());
            }),
            Reference::Name("refs/pull/1/head".into())
        );
        assert_eq!(
            r(|r| {
                r.branch = Some("dev".into());
                r.commit = Some("abc".into());
            }),
            Reference::Commit {
                sha: "abc".into(),
                branch: Some("dev".into())
            }
        );
    }
}
