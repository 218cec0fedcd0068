//! HelmRepository: a Helm repository's `index.yaml`, stored as upstream
//! stores it.
//!
//! The index is downloaded (size-limited, `--helm-index-max-size`), its
//! revision is the digest of the bytes as served — an unchanged index
//! costs one download and no parsing — and a new one is parsed as the
//! source controller parses it (`flux_helm::index`) and stored as Helm's
//! `IndexFile` marshalled to indented JSON (`index-<hex>.yaml`, linked as
//! `index.yaml`, which `status.url` names). `type: oci` repositories are
//! static objects: their registry is used directly by HelmCharts, so
//! nothing is stored and the status is cleared.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::meta::{Artifact, ConditionStatus, reason};
use flux_api::source::v1::{HelmRepository, HelmRepositoryStatus, HelmRepositoryType};
use flux_artifact::{Digest, Owner};
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_reconciling};
use flux_runtime::ssa::kube_message;
use flux_runtime::{ReconcileResult, Severity, StepError, now, parse_duration};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::{Api, ResourceExt};

use crate::Context;
use crate::gitrepository::fetch::Failed;
use crate::gitrepository::reconcile::{
    ARTIFACT_IN_STORAGE, Error, FETCH_FAILED, NEW_ARTIFACT, STORAGE_OPERATION_FAILED,
};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "helmrepository";
const KIND: &str = "HelmRepository";

/// Upstream's default `--helm-index-max-size`: 50 MiB.
pub const DEFAULT_INDEX_MAX_SIZE: u64 = 50 << 20;

/// The conditions the reconciler owns besides Ready, Reconciling and
/// Stalled, in the order they decide Ready.
pub const OWNED: Owned = Owned {
    negative: &[FETCH_FAILED, STORAGE_OPERATION_FAILED],
    positive: &[ARTIFACT_IN_STORAGE],
};

/// Runs the HelmRepository controller until the stream ends.
pub async fn run(api: Api<HelmRepository>, ctx: Arc<Context>) {
    Controller::new(api, crate::frame::watch_config(&ctx))
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Reconciles one HelmRepository.
pub async fn reconcile(repo: Arc<HelmRepository>, ctx: Arc<Context>) -> Result<Action, Error> {
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
    api: &Api<HelmRepository>,
    repo: &HelmRepository,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    let name = repo.name_any();
    let namespace = repo.namespace().unwrap_or_default();
    if repo.spec.repository_type == Some(HelmRepositoryType::Oci) {
        // A static object: whatever an earlier `default` type stored goes,
        // and the status is cleared.
        let _ = ctx.storage.remove_all(owner(&namespace, &name));
        if repo
            .status
            .as_ref()
            .is_some_and(|s| *s != HelmRepositoryStatus::default())
        {
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({"status": null})),
            )
            .await?;
        }
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    if repo.spec.suspend {
        tracing::info!("reconciliation is suspended for this object");
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let generation = repo.metadata.generation;
    let interval = repo
        .spec
        .interval
        .as_deref()
        .and_then(|i| parse_duration(i).ok())
        .unwrap_or(Duration::from_secs(60));
    let mut status = repo.status.clone().unwrap_or_default();
    if let Some(remaining) = crate::frame::not_due(repo, ctx) {
        return Ok((Action::requeue(remaining), ReconcileResult::Skipped));
    }
    let mut written = repo.status.clone();
    let outcome = match fetch(repo, ctx).await {
        Err(e) => Outcome::Failed(e),
        Ok(mut fetched) => {
            let stored = status.artifact.as_ref().filter(|a| {
                a.revision == fetched.revision && ctx.storage.local_path(&a.path).is_file()
            });
            let result = match stored {
                Some(artifact) => Ok(artifact.clone()),
                None => {
                    let message = format!(
                        "building artifact: new index revision '{}'",
                        fetched.revision
                    );
                    match report_reconciling(api, repo, &mut status, &message).await {
                        Ok(()) => written = Some(status.clone()),
                        Err(e) => {
                            tracing::error!(error = %kube_message(&e), "failed to update status")
                        }
                    }
                    store(ctx, &namespace, &name, &mut fetched)
                        .await
                        .inspect(|artifact| {
                            status.url = Some(ctx.storage.url(&format!(
                            "{}/index.yaml",
                            artifact.path.rsplit_once('/').map(|(d, _)| d).unwrap_or_default()
                        )));
                        })
                }
            };
            match result {
                Ok(artifact) => {
                    let message = format!("stored artifact: revision '{}'", artifact.revision);
                    if status.artifact.as_ref().map(|a| &a.digest) != Some(&artifact.digest) {
                        announce(ctx, repo, &artifact, &fetched.url).await;
                    }
                    conditions::set(
                        &mut status.conditions,
                        ARTIFACT_IN_STORAGE,
                        ConditionStatus::True,
                        reason::SUCCEEDED,
                        &message,
                        generation,
                        now(),
                    );
                    status.artifact = Some(artifact);
                    Outcome::Ready {
                        reason: reason::SUCCEEDED,
                        message,
                    }
                }
                Err(e) => Outcome::Failed(e),
            }
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
    Ok(finalize(api, repo, written.as_ref(), status, outcome, &finish).await?)
}

struct Fetched {
    /// The normalised repository URL (one trailing `/`).
    url: String,
    /// The bytes as served.
    raw: bytes::Bytes,
    /// `sha256:<hex>` of them.
    revision: String,
}

/// What an HTTP(S) Helm repository's requests carry: `secretRef`'s basic
/// credentials (when `basic` — charts on another host get them only with
/// `passCredentials`) and TLS — `certSecretRef`'s, else, deprecated but
/// still read by upstream, TLS entries of `secretRef`.
pub(crate) async fn http_access(
    repo: &HelmRepository,
    ctx: &Context,
    basic: bool,
) -> Result<(Option<String>, flux_oci::http::Tls), String> {
    let namespace = repo.namespace().unwrap_or_default();
    let mut authorization = None;
    let mut tls = flux_oci::http::Tls::default();
    if let Some(r) = &repo.spec.secret_ref {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        let secret = secrets.get(&r.name).await.map_err(|e| {
            format!(
                "failed to get secret '{namespace}/{}': {}",
                r.name,
                kube_message(&e)
            )
        })?;
        let data = secret.data.unwrap_or_default();
        let get = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        match (get("username"), get("password")) {
            (Some(u), Some(p)) if basic => {
                use base64::Engine as _;
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                authorization = Some(format!("Basic {token}"));
            }
            (Some(_), Some(_)) | (None, None) => {}
            _ => {
                return Err(format!(
                    "failed to configure Helm client: invalid '{}' secret data: required fields 'username' and 'password'",
                    r.name
                ));
            }
        }
        let has_tls = [
            "tls.crt", "tls.key", "ca.crt", "certFile", "keyFile", "caFile",
        ]
        .iter()
        .any(|k| data.contains_key(*k));
        if repo.spec.cert_secret_ref.is_none() && has_tls {
            tls = flux_oci::http::Tls::from_secret(&format!("{namespace}/{}", r.name), |k| {
                data.get(k).map(|v| v.0.as_slice())
            })?;
        }
    }
    if let Some(r) = &repo.spec.cert_secret_ref {
        tls = crate::frame::tls(ctx, &namespace, &r.name).await?;
    }
    Ok((authorization, tls))
}

/// `url` with exactly one trailing `/` (upstream's `NormalizeURL`).
pub fn normalize_url(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

fn stall(reason: &'static str, message: String) -> StepError {
    StepError::stall(reason, message).on(FETCH_FAILED, ConditionStatus::True)
}

async fn fetch(repo: &HelmRepository, ctx: &Context) -> Result<Fetched, StepError> {
    let url = &repo.spec.url;
    if url.starts_with("oci://") {
        return Err(stall(
            "URLInvalid",
            "invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type".to_string(),
        ));
    }
    let scheme = url.split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("http" | "https")) {
        return Err(stall(
            "URLInvalid",
            format!(
                "invalid Helm repository URL: scheme \"{}\" not supported",
                scheme.unwrap_or_default()
            ),
        ));
    }
    let url = normalize_url(url);
    let auth_error = |message: String| Failed::Fetch.error("AuthenticationFailed", message);
    let (authorization, tls) = http_access(repo, ctx, true).await.map_err(auth_error)?;
    let client = flux_oci::http::client_with_tls(&tls, None).map_err(|e| {
        stall(
            reason::FAILED,
            format!("failed to construct Helm client: {e}"),
        )
    })?;
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    let raw = flux_oci::http::get(
        &client,
        &format!("{url}index.yaml"),
        authorization.as_deref(),
        ctx.helm_index_max_size,
        timeout,
    )
    .await
    .map_err(|e| {
        let why = match &e {
            flux_oci::Error::TooLarge { limit, .. } => {
                format!("index exceeds the maximum index file size of {limit} bytes")
            }
            other => other.to_string(),
        };
        let message = format!(
            "failed to fetch Helm repository index: failed to cache index to temporary file: {why}"
        );
        if e.is_authentication() {
            Failed::Fetch.error("AuthenticationFailed", message)
        } else {
            Failed::Fetch.error(reason::FAILED, message)
        }
    })?;
    let revision = Digest::of(&raw).to_string();
    Ok(Fetched { url, raw, revision })
}

/// Parses the index and stores it as upstream does.
async fn store(
    ctx: &Context,
    namespace: &str,
    name: &str,
    fetched: &mut Fetched,
) -> Result<Artifact, StepError> {
    // Moved into the blocking task, which frees it once stored.
    let raw = std::mem::take(&mut fetched.raw);
    let storage = ctx.storage.clone();
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let hex = fetched
        .revision
        .strip_prefix("sha256:")
        .unwrap_or(&fetched.revision)
        .to_string();
    let revision = fetched.revision.clone();
    tokio::task::spawn_blocking(move || {
        let owner = owner(&namespace, &name);
        // Read and written to storage one chart at a time: neither the
        // parsed index nor its JSON is ever whole in memory.
        let mut invalid = None;
        let stored = storage.store_streamed(
            owner,
            &format!("index-{hex}.yaml"),
            "index.yaml",
            &mut |w| match flux_helm::index::write_stored_json(&raw, w) {
                Ok(()) => Ok(()),
                Err(flux_helm::index::StoreError::Io(e)) => Err(e),
                Err(flux_helm::index::StoreError::Index(e)) => {
                    invalid = Some(e);
                    Err(std::io::Error::other("invalid index"))
                }
            },
        );
        drop(raw);
        if let Some(e) = invalid {
            return Err(Failed::Fetch.error(
                "IndexationFailed",
                format!("failed to load Helm repository from index YAML: {e}"),
            ));
        }
        let stored = stored.map_err(|e| {
            Failed::Storage.error(
                "ArchiveOperationFailed",
                format!("unable to save artifact to storage: {e}"),
            )
        })?;
        let _ = storage.garbage_collect(owner, &stored.path, SystemTime::now());
        Ok(Artifact {
            path: stored.path,
            url: stored.url,
            revision,
            digest: stored.summary.digest.to_string(),
            last_update_time: now(),
            size: Some(stored.summary.size as i64),
            metadata: None,
        })
    })
    .await
    .map_err(|e| {
        Failed::Storage.error("ArchiveOperationFailed", format!("index task failed: {e}"))
    })?
}

async fn announce(ctx: &Context, repo: &HelmRepository, artifact: &Artifact, url: &str) {
    let size = artifact
        .size
        .map(|s| format!("size {}", human_size(s as f64)))
        .unwrap_or_else(|| "unknown size".to_string());
    let message = format!("stored fetched index of {size} from '{url}'");
    tracing::info!(revision = %artifact.revision, "{message}");
    let metadata = BTreeMap::from([
        ("revision", artifact.revision.clone()),
        ("digest", artifact.digest.clone()),
    ]);
    ctx.events
        .event(repo, Severity::Info, NEW_ARTIFACT, &message, metadata)
        .await;
}

/// docker/go-units `HumanSize`: decimal units, four significant digits.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!(
        "{}{}",
        flux_go::float::format_g(size, Some(4), false),
        UNITS[i]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_urls_as_upstream_writes_them() {
        assert_eq!(human_size(527.0), "527B");
        assert_eq!(human_size(1234.0), "1.234kB");
        assert_eq!(human_size(43_779_000.0), "43.78MB");
        assert_eq!(
            normalize_url("https://charts.example.com"),
            "https://charts.example.com/"
        );
        assert_eq!(
            normalize_url("https://x.io/charts//"),
            "https://x.io/charts/"
        );
    }
}
