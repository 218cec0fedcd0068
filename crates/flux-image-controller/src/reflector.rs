//! The image-reflector controller: ImageRepository (tag scans into
//! [`Storage`](crate::storage::Storage)) and ImagePolicy (the newest tag
//! by policy), with upstream's scan decisions, conditions, messages and
//! events.

use std::sync::Arc;
use std::time::Duration;

use flux_api::image::v1::{DigestReflectionPolicy, ImagePolicy, ImageRef};
use flux_api::image::v1::{ImageRepository, ScanResult};
use flux_api::meta::Condition;
use flux_oci::Reference;
use flux_oci::{Client as RegistryClient, ClientOptions};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::Context;
use crate::policy::{Policer, TagFilterRegex};

/// The finalizer of both kinds.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
/// Upstream's default exclusion list (replaced, not extended, when set).
pub const DEFAULT_EXCLUSION: &str = "^.*\\.sig$";
const LATEST_TAGS: usize = 10;

/// Why a reconciliation failed (reported in the status already).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(pub String);

/// Parses `spec.image` as upstream does: no URL scheme, no tag.
pub fn parse_image(image: &str) -> Result<Reference, String> {
    if let Some((scheme, _)) = image.split_once("://") {
        return Err(format!(
            "image '{image}' should not include URL scheme; remove '{scheme}://'"
        ));
    }
    let reference = Reference::parse(image).map_err(|e| e.to_string())?;
    let rest = image
        .strip_prefix(reference.registry.as_str())
        .unwrap_or(image);
    if let Some((_, tag)) = rest.split_once(':') {
        let tag = tag.split(':').next().unwrap_or_default();
        return Err(format!(
            "image '{image}' should not include a tag; remove ':{tag}'"
        ));
    }
    if reference.digest.is_some() {
        return Err(format!("image '{image}' should not include a digest"));
    }
    Ok(reference)
}

/// `spec.exclusionList`, or upstream's default when unset.
pub fn exclusion_list(repo: &ImageRepository) -> Vec<String> {
    repo.spec
        .exclusion_list
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_EXCLUSION.to_string()])
}

/// The tags kept: those no exclusion pattern matches, sorted newest first
/// in byte order.
pub fn filter_tags(tags: Vec<String>, exclusions: &[String]) -> Result<Vec<String>, String> {
    let mut patterns = Vec::new();
    for p in exclusions {
        let translated = flux_go::regexp::translate(p)
            .map_err(|e| format!("failed to compile regex {p}: error parsing regexp: {e}"))?;
        patterns.push(
            regex::Regex::new(&translated)
                .map_err(|e| format!("failed to compile regex {p}: {e}"))?,
        );
    }
    let mut kept: Vec<String> = tags
        .into_iter()
        .filter(|t| !patterns.iter().any(|p| p.is_match(t)))
        .collect();
    kept.sort_by(|a, b| b.cmp(a));
    Ok(kept)
}

fn duration_text(d: Duration) -> String {
    flux_go::duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn parse_interval(text: Option<&str>, default: Duration) -> Duration {
    text.and_then(|t| flux_runtime::parse_duration(t).ok())
        .unwrap_or(default)
}

/// The registry client for `repo`: credentials from `secretRef` and the
/// ServiceAccount's image pull secrets, `certSecretRef`,
/// `proxySecretRef`, `insecure`, the timeout.
pub async fn registry_client(
    ctx: &Context,
    repo: &ImageRepository,
    reference: &Reference,
) -> Result<RegistryClient, String> {
    if let Some(provider) = repo
        .spec
        .provider
        .filter(|p| *p != flux_api::source::v1::OCIProvider::Generic)
    {
        // As OCIRepository: said plainly rather than an anonymous scan
        // failing with the registry's "authentication required".
        let name = format!("{provider:?}").to_lowercase();
        return Err(format!(
            "failed to get credential from {name}: cloud provider credentials are not supported by this controller yet; use secretRef"
        ));
    }
    let namespace = repo.namespace().unwrap_or_default();
    let credentials = flux_runtime::pull_secrets::first_credentials(
        &ctx.client,
        &namespace,
        repo.spec.secret_ref.as_ref().map(|r| r.name.as_str()),
        repo.spec.service_account_name.as_deref(),
        |name, data| flux_oci::auth::from_pull_secret(name, data, &reference.registry),
    )
    .await?;
    let mut tls = flux_oci::http::Tls::default();
    if let Some(r) = &repo.spec.cert_secret_ref {
        let data =
            flux_runtime::pull_secrets::secret_data(&ctx.client, &namespace, &r.name).await?;
        let secret_name = format!("{namespace}/{}", r.name);
        tls = flux_oci::http::Tls::from_secret(&secret_name, |k| data.get(k).map(Vec::as_slice))?;
    }
    let mut proxy = None;
    if let Some(r) = &repo.spec.proxy_secret_ref {
        let data =
            flux_runtime::pull_secrets::secret_data(&ctx.client, &namespace, &r.name).await?;
        proxy = Some(flux_oci::http::Proxy::from_secret(
            &namespace, &r.name, &data,
        )?);
    }
    let interval = parse_interval(Some(&repo.spec.interval), Duration::from_secs(600));
    let timeout =
        parse_interval(repo.spec.timeout.as_deref(), interval).max(Duration::from_secs(1));
    RegistryClient::new(ClientOptions {
        insecure: repo.spec.insecure,
        tls,
        credentials,
        timeout,
        proxy,
    })
    .map_err(|e| e.to_string())
}

async fn patch_finalizer<K>(api: &Api<K>, object: &K, add: bool) -> Result<K, ReconcileError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut finalizers: Vec<String> = object.finalizers().to_vec();
    if add {
        finalizers.push(FINALIZER.to_string());
    } else {
        finalizers.retain(|f| f != FINALIZER);
    }
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.resource_version()}});
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|e| {
        ReconcileError(format!(
            "failed to {} finalizer: {}",
            if add { "add" } else { "remove" },
            flux_runtime::ssa::kube_message(&e)
        ))
    })
}

/// The finalizer protocol the three reconcilers share. A deleted object:
/// `clean_up` runs, the finalizer goes and the reconcile ends (`Err` with
/// its action). Otherwise the object to reconcile (`Ok`), with the
/// finalizer added when it lacked it — the object the API server
/// returned, so the reconcile does not go on from a cache that has not
/// seen that write yet.
pub(crate) async fn finalizer_prelude<K>(
    api: &Api<K>,
    object: Arc<K>,
    clean_up: impl FnOnce() -> Result<(), ReconcileError>,
) -> Result<Result<Arc<K>, Action>, ReconcileError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let has_finalizer = object.finalizers().iter().any(|f| f == FINALIZER);
    if object.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            clean_up()?;
            patch_finalizer(api, &*object, false).await?;
        }
        return Ok(Err(Action::await_change()));
    }
    if has_finalizer {
        return Ok(Ok(object));
    }
    Ok(Ok(Arc::new(patch_finalizer(api, &*object, true).await?)))
}

fn ready_message(conditions: &[Condition]) -> Option<(bool, String)> {
    flux_runtime::conditions::get(conditions, "Ready").map(|c| {
        (
            c.status == flux_api::meta::ConditionStatus::True,
            c.message.clone(),
        )
    })
}

/// Upstream's `notify`: an event when Ready changed or its message did
/// (Normal when ready, Warning when not).
async fn notify<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    before: &[Condition],
    after: &[Condition],
) {
    let old = ready_message(before);
    let Some((ready, message)) = ready_message(after) else {
        return;
    };
    let reason = flux_runtime::conditions::get(after, "Ready")
        .map(|c| c.reason.clone())
        .unwrap_or_default();
    if ready {
        if old.as_ref() != Some(&(true, message.clone())) {
            ctx.reflector_events.normal(object, &reason, &message).await;
        }
    } else {
        ctx.reflector_events
            .warning(object, &reason, &message)
            .await;
    }
}

/// Writes `status` (a merge patch of the whole status) of `K` `name`.
pub(crate) async fn write_status<K, S>(
    api: &Api<K>,
    name: &str,
    status: &S,
) -> Result<(), ReconcileError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    let patch = json!({"status": status});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| {
            ReconcileError(format!(
                "failed to update status: {}",
                flux_runtime::ssa::kube_message(&e)
            ))
        })
}

/// Reconciles one ImageRepository.
pub async fn reconcile_repository(
    repo: Arc<ImageRepository>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let api: Api<ImageRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let repo = match finalizer_prelude(&api, repo, || {
        ctx.storage
            .delete(&namespace, &name)
            .map_err(|e| ReconcileError(e.to_string()))
    })
    .await?
    {
        Ok(repo) => repo,
        Err(done) => return Ok(done),
    };
    if repo.spec.suspend {
        tracing::info!(imagerepository = %name, namespace = %namespace, "Reconciliation is suspended for this object");
        return Ok(Action::await_change());
    }
    let generation = repo.metadata.generation;
    let before = repo.status.clone().unwrap_or_default();
    let mut status = before.clone();
    let now = flux_runtime::now;
    let interval = parse_interval(Some(&repo.spec.interval), Duration::from_secs(600));
    let request = flux_runtime::conditions::reconcile_request(
        repo.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at.as_deref(),
    )
    .map(str::to_string);
    let reference = match parse_image(&repo.spec.image) {
        Ok(r) => r,
        Err(message) => {
            flux_runtime::conditions::mark_stalled(
                &mut status.conditions,
                "ImageURLInvalid",
                &message,
                generation,
                now(),
            );
            status.observed_generation = generation;
            write_status(&api, &name, &status).await?;
            notify(&ctx, &*repo, &before.conditions, &status.conditions).await;
            return Ok(Action::await_change());
        }
    };
    let canonical = reference.name();
    let exclusions = exclusion_list(&repo);
    // Should the registry be asked?
    let since_last = status
        .last_scan_result
        .as_ref()
        .and_then(|r| r.scan_time.as_ref())
        .map(|t| {
            let elapsed = flux_runtime::now().0.as_millisecond() - t.0.as_millisecond();
            Duration::from_millis(u64::try_from(elapsed.max(0)).unwrap_or(0))
        });
    let reason = if status.last_scan_result.is_none() {
        Some("first scan")
    } else if request.is_some() {
        Some("reconcile requested")
    } else if status.canonical_image_name.as_deref() != Some(canonical.as_str()) {
        Some("new image name")
    } else if !same_content(&exclusions, &status.observed_exclusion_list) {
        Some("updated exclusion list")
    } else if !ctx.storage.has_tags(&namespace, &name) {
        Some("no tags in database")
    } else if since_last.is_none_or(|s| interval.saturating_sub(s) < Duration::from_secs(1)) {
        Some("triggered by interval")
    } else {
        None
    };
    let next = match reason {
        None => interval.saturating_sub(since_last.unwrap_or_default()),
        Some(_) => interval,
    };
    let trace;
    if let Some(reason_text) = reason {
        let reason = reason_text;
        flux_runtime::conditions::mark_reconciling(
            &mut status.conditions,
            "Progressing",
            &format!("scanning: {reason}"),
            generation,
            now(),
        );
        write_status(&api, &name, &status).await?;
        let scanned = async {
            let client = registry_client(&ctx, &repo, &reference)
                .await
                .map_err(|e| {
                    (
                        "AuthenticationFailed",
                        format!("failed to configure authentication options: {e}"),
                    )
                })?;
            let tags = client
                .tags(&reference)
                .await
                .map_err(|e| ("ReadOperationFailed", format!("scan failed: {e}")))?;
            ctx.registry_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let kept = filter_tags(tags, &exclusions)
                .map_err(|e| ("ReadOperationFailed", format!("scan failed: {e}")))?;
            let revision = ctx
                .storage
                .set_tags(&namespace, &name, &kept)
                .map_err(|e| {
                    (
                        "ReadOperationFailed",
                        format!("scan failed: failed to set tags for \"{canonical}\": {e}"),
                    )
                })?;
            Ok::<_, (&str, String)>((kept, revision))
        }
        .await;
        match scanned {
            Err((reason, message)) => {
                flux_runtime::conditions::mark_failed_in_progress(
                    &mut status.conditions,
                    reason,
                    &message,
                    &format!("scanning: {reason_text}"),
                    generation,
                    now(),
                );
                if let Some(token) = &request {
                    status.last_handled_reconcile_at = Some(token.clone());
                }
                write_status(&api, &name, &status).await?;
                notify(&ctx, &*repo, &before.conditions, &status.conditions).await;
                return Err(ReconcileError(message));
            }
            Ok((kept, revision)) => {
                let unchanged = before
                    .last_scan_result
                    .as_ref()
                    .and_then(|r| r.revision.as_deref())
                    == Some(revision.as_str());
                trace = format!(
                    "{}, next scan in {}",
                    if unchanged {
                        "tags did not change"
                    } else {
                        "successful scan"
                    },
                    duration_text(next)
                );
                status.last_scan_result = Some(ScanResult {
                    revision: Some(revision),
                    tag_count: i64::try_from(kept.len()).unwrap_or(i64::MAX),
                    scan_time: Some(now()),
                    latest_tags: kept.iter().take(LATEST_TAGS).cloned().collect(),
                });
            }
        }
    } else {
        trace = format!(
            "no change in repository configuration since last scan, next scan in {}",
            duration_text(next)
        );
    }
    let (count, revision) = status
        .last_scan_result
        .as_ref()
        .map(|r| (r.tag_count, r.revision.clone().unwrap_or_default()))
        .unwrap_or_default();
    status.canonical_image_name = Some(canonical);
    status.observed_exclusion_list = exclusions;
    status.observed_generation = generation;
    if let Some(token) = request {
        status.last_handled_reconcile_at = Some(token);
    }
    flux_runtime::conditions::mark_ready(
        &mut status.conditions,
        "Succeeded",
        &format!("successful scan: found {count} tags with checksum {revision}"),
        generation,
        now(),
    );
    write_status(&api, &name, &status).await?;
    notify(&ctx, &*repo, &before.conditions, &status.conditions).await;
    tracing::debug!(imagerepository = %name, namespace = %namespace, "{trace}");
    Ok(Action::requeue(next))
}

fn same_content(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

fn error_policy<K>(_: Arc<K>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(10))
}

/// Runs the ImageRepository reconciler.
pub async fn run_repositories(ctx: Arc<Context>, namespace: Option<String>) {
    let api: Api<ImageRepository> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (store, trigger) = flux_runtime::reconcile::spec_changes(api, watcher::Config::default());
    Controller::for_stream(trigger, store)
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .run(reconcile_repository, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Upstream's ACL: a repository in another namespace is readable only
/// from namespaces its `accessFrom` selects.
async fn check_access(
    ctx: &Context,
    policy_namespace: &str,
    repo: &ImageRepository,
) -> Result<(), String> {
    let repo_namespace = repo.namespace().unwrap_or_default();
    if repo_namespace == policy_namespace {
        return Ok(());
    }
    let reference = format!("{repo_namespace}/{}", repo.name_any());
    let Some(access) = &repo.spec.access_from else {
        return Err(format!(
            "'{reference}' can't be accessed due to missing ACL labels on 'accessFrom'"
        ));
    };
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    for selector in &access.namespace_selectors {
        let labels = selector.match_labels.clone().unwrap_or_default();
        let selector_text = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let list = namespaces
            .list(&ListParams::default().labels(&selector_text))
            .await
            .map_err(|e| {
                format!(
                    "error retrieving namespaces: {}",
                    flux_runtime::ssa::kube_message(&e)
                )
            })?;
        if list.items.iter().any(|n| n.name_any() == policy_namespace) {
            return Ok(());
        }
    }
    Err(format!(
        "'{reference}' can't be accessed due to ACL labels mismatch on namespace '{policy_namespace}'"
    ))
}

fn ready_policy_message(latest: &ImageRef, previous: Option<&ImageRef>) -> String {
    let mut message = format!(
        "Latest image tag for {} resolved to {}",
        latest.name, latest.tag
    );
    if let Some(d) = latest.digest.as_deref().filter(|d| !d.is_empty()) {
        message.push_str(&format!(" with digest {d}"));
    }
    if let Some(prev) = previous.filter(|p| *p != latest) {
        message.push_str(&format!(" (previously {}:{}", prev.name, prev.tag));
        if let Some(d) = prev.digest.as_deref().filter(|d| !d.is_empty()) {
            message.push_str(&format!("@{d}"));
        }
        message.push(')');
    }
    message
}

/// Reconciles one ImagePolicy.
pub async fn reconcile_policy(
    policy: Arc<ImagePolicy>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    let api: Api<ImagePolicy> = Api::namespaced(ctx.client.clone(), &namespace);
    let policy = match finalizer_prelude(&api, policy, || Ok(())).await? {
        Ok(policy) => policy,
        Err(done) => return Ok(done),
    };
    if policy.spec.suspend {
        return Ok(Action::await_change());
    }
    let generation = policy.metadata.generation;
    let before = policy.status.clone().unwrap_or_default();
    let mut status = before.clone();
    let now = flux_runtime::now;
    let progress =
        flux_runtime::conditions::progress_message(before.observed_generation, generation);
    if let Some(token) = flux_runtime::conditions::reconcile_request(
        policy.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at.as_deref(),
    ) {
        status.last_handled_reconcile_at = Some(token.to_string());
    }
    status.observed_generation = generation;
    let reflect = policy
        .spec
        .digest_reflection_policy
        .unwrap_or(DigestReflectionPolicy::Never);
    let interval = parse_interval(policy.spec.interval.as_deref(), Duration::from_secs(600));
    let outcome = policy_step(&ctx, &policy, &namespace, &mut status, reflect).await;
    let action = match outcome {
        Ok(()) => {
            if reflect == DigestReflectionPolicy::Always {
                Action::requeue(interval)
            } else {
                Action::await_change()
            }
        }
        Err(Outcome::Stalled(reason, message)) => {
            flux_runtime::conditions::mark_stalled(
                &mut status.conditions,
                reason,
                &message,
                generation,
                now(),
            );
            Action::await_change()
        }
        Err(Outcome::Retry(reason, message, after)) => {
            flux_runtime::conditions::mark_failed_in_progress(
                &mut status.conditions,
                reason,
                &message,
                &progress,
                generation,
                now(),
            );
            Action::requeue(after)
        }
    };
    write_status(&api, &name, &status).await?;
    notify(&ctx, &*policy, &before.conditions, &status.conditions).await;
    Ok(action)
}

enum Outcome {
    Stalled(&'static str, String),
    Retry(&'static str, String, Duration),
}

async fn policy_step(
    ctx: &Context,
    policy: &ImagePolicy,
    namespace: &str,
    status: &mut flux_api::image::v1::ImagePolicyStatus,
    reflect: DigestReflectionPolicy,
) -> Result<(), Outcome> {
    let generation = policy.metadata.generation;
    if reflect == DigestReflectionPolicy::Always && policy.spec.interval.is_none() {
        return Err(Outcome::Stalled(
            "IntervalNotConfigured",
            "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"
                .to_string(),
        ));
    }
    let repo_namespace = policy
        .spec
        .image_repository_ref
        .namespace
        .clone()
        .unwrap_or_else(|| namespace.to_string());
    let repo_name = &policy.spec.image_repository_ref.name;
    let retry = Duration::from_secs(10);
    if ctx.no_cross_namespace_refs && repo_namespace != namespace {
        return Err(Outcome::Retry(
            "AccessDenied",
            format!(
                "failed to get the referred ImageRepository: cannot access 'ImageRepository/{repo_namespace}/{repo_name}', cross-namespace references have been blocked"
            ),
            retry,
        ));
    }
    let repos: Api<ImageRepository> = Api::namespaced(ctx.client.clone(), &repo_namespace);
    let repo = match repos.get(repo_name).await {
        Ok(r) => r,
        Err(kube::Error::Api(e)) if e.code == 404 => {
            return Err(Outcome::Retry(
                "DependencyNotReady",
                format!(
                    "failed to get the referred ImageRepository: referenced ImageRepository does not exist: ImageRepository.image.toolkit.fluxcd.io \"{repo_name}\" not found"
                ),
                ctx.requeue_dependency,
            ));
        }
        Err(e) => {
            return Err(Outcome::Retry(
                "Failure",
                format!(
                    "failed to get the referred ImageRepository: {}",
                    flux_runtime::ssa::kube_message(&e)
                ),
                retry,
            ));
        }
    };
    if let Err(e) = check_access(ctx, namespace, &repo).await {
        return Err(Outcome::Retry(
            "AccessDenied",
            format!("failed to get the referred ImageRepository: access denied: {e}"),
            retry,
        ));
    }
    let reference =
        parse_image(&repo.spec.image).map_err(|e| Outcome::Stalled("ImageURLInvalid", e))?;
    let policer = Policer::from_spec(&policy.spec.policy)
        .map_err(|e| Outcome::Stalled("InvalidPolicy", e.0))?;
    let tags = ctx
        .storage
        .tags(&repo_namespace, repo_name)
        .map_err(|e| Outcome::Retry("Failure", e.to_string(), retry))?;
    if tags.is_empty() {
        return Err(Outcome::Retry(
            "DependencyNotReady",
            format!(
                "retrying in {} error: no tags in database",
                duration_text(ctx.requeue_dependency)
            ),
            ctx.requeue_dependency,
        ));
    }
    let latest = match &policy.spec.filter_tags {
        Some(filter) => {
            let filter =
                TagFilterRegex::new(filter).map_err(|e| Outcome::Stalled("InvalidPolicy", e.0))?;
            let pairs = filter.apply(&tags);
            let values: Vec<&str> = pairs.iter().map(|(v, _)| v.as_str()).collect();
            let chosen = policer
                .latest(&values)
                .map_err(|e| Outcome::Retry("Failure", e.0, retry))?;
            pairs
                .iter()
                .find(|(v, _)| v == chosen)
                .map(|(_, t)| t.to_string())
                .unwrap_or_default()
        }
        None => {
            let values: Vec<&str> = tags.iter().map(String::as_str).collect();
            policer
                .latest(&values)
                .map_err(|e| Outcome::Retry("Failure", e.0, retry))?
                .to_string()
        }
    };
    let mut latest_ref = ImageRef {
        name: repo.spec.image.clone(),
        tag: latest.clone(),
        digest: None,
    };
    let current = status.latest_ref.clone();
    let fetch = match reflect {
        DigestReflectionPolicy::Never => false,
        DigestReflectionPolicy::Always => true,
        DigestReflectionPolicy::IfNotPresent => {
            let keep = current.as_ref().filter(|c| {
                c.name == latest_ref.name
                    && c.tag == latest_ref.tag
                    && c.digest.as_deref().is_some_and(|d| !d.is_empty())
            });
            match keep {
                Some(c) => {
                    latest_ref.digest = c.digest.clone();
                    false
                }
                None => true,
            }
        }
    };
    if fetch {
        let describe = format!("{}:{}", latest_ref.name, latest_ref.tag);
        let client = registry_client(ctx, &repo, &reference).await.map_err(|e| {
            Outcome::Retry(
                "Failure",
                format!("failed fetching digest of {describe}: failed to configure authentication options: {e}"),
                retry,
            )
        })?;
        let descriptor = client.resolve(&reference.with_tag(&latest)).await.map_err(|e| {
            Outcome::Retry(
                "Failure",
                format!(
                    "failed fetching digest of {describe}: failed fetching descriptor for \"{}:{latest}\": {e}",
                    reference.name()
                ),
                retry,
            )
        })?;
        latest_ref.digest = Some(descriptor.digest);
    }
    if current.as_ref() != Some(&latest_ref) {
        status.observed_previous_ref = current;
        status.latest_ref = Some(latest_ref.clone());
    }
    flux_runtime::conditions::mark_ready(
        &mut status.conditions,
        "Succeeded",
        &ready_policy_message(&latest_ref, status.observed_previous_ref.as_ref()),
        generation,
        flux_runtime::now(),
    );
    Ok(())
}

/// Runs the ImagePolicy reconciler: a policy is reconciled when its
/// ImageRepository changes.
pub async fn run_policies(ctx: Arc<Context>, namespace: Option<String>) {
    let api: Api<ImagePolicy> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let repos: Api<ImageRepository> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (store, trigger) = flux_runtime::reconcile::spec_changes(api, watcher::Config::default());
    let controller = Controller::for_stream(trigger, store);
    let store = controller.store();
    controller
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .watches(
            repos,
            watcher::Config::default(),
            move |repo: ImageRepository| {
                let namespace = repo.namespace().unwrap_or_default();
                let name = repo.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|p| {
                        let ns = p
                            .spec
                            .image_repository_ref
                            .namespace
                            .clone()
                            .or_else(|| p.namespace())
                            .unwrap_or_default();
                        ns == namespace && p.spec.image_repository_ref.name == name
                    })
                    .map(|p| kube::runtime::reflector::ObjectRef::from_obj(&*p))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile_policy, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn image_names_as_upstream() {
        assert_eq!(
            parse_image("nginx").unwrap().name(),
            "index.docker.io/library/nginx"
        );
        assert_eq!(
            parse_image("localhost:5000/org/app").unwrap().name(),
            "localhost:5000/org/app"
        );
        assert_eq!(
            parse_image("https://ghcr.io/org/app").unwrap_err(),
            "image 'https://ghcr.io/org/app' should not include URL scheme; remove 'https://'"
        );
        assert_eq!(
            parse_image("ghcr.io/org/app:1.0").unwrap_err(),
            "image 'ghcr.io/org/app:1.0' should not include a tag; remove ':1.0'"
        );
    }

    #[test]
    fn exclusions_replace_the_default_and_tags_sort_descending() {
        let tags: Vec<String> = ["1.0.0", "sha256-abc.sig", "1.10.0", "1.9.0", "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let kept = filter_tags(tags.clone(), &[DEFAULT_EXCLUSION.to_string()]).unwrap();
        assert_eq!(kept, ["latest", "1.9.0", "1.10.0", "1.0.0"]);
        let kept = filter_tags(tags, &["^latest$".to_string()]).unwrap();
        assert_eq!(kept, ["sha256-abc.sig", "1.9.0", "1.10.0", "1.0.0"]);
    }
}
