//! The image-automation controller: ImageUpdateAutomation checks out the
//! GitRepository, applies the ImagePolicies of its namespace with the
//! [`Setters`](crate::setters) editor, commits with the rendered message
//! and pushes — with upstream's conditions, status and events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use flux_api::image::v1::{
    ImagePolicy, ImageRef, ImageUpdateAutomation, ImageUpdateAutomationStatus, LabelSelector,
    SigningKey, SigningKeyType, UpdateStrategyName,
};
use flux_api::source::v1::{GitRepository, GitRepositoryRef};
use flux_git::{
    Auth, Author, Change, CheckoutOptions, KeyError, Pushed, Reference, Signer, Target,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};

use crate::Context;
use crate::reflector::ReconcileError;
use crate::setters::PolicyRef;
use crate::template;

/// Upstream's Ready message after a run.
pub const READY_MESSAGE: &str = "repository up-to-date";
/// Tries when the branch moves between checkout and push.
const PUSH_ATTEMPTS: usize = 3;

/// A failure, with the reason it is reported under.
enum Failure {
    Stalled(&'static str, String),
    Failed(&'static str, String),
}

/// `policySelector` as a Kubernetes label selector string, or upstream's
/// error for an operator it does not know.
pub fn selector_string(selector: &LabelSelector) -> Result<String, String> {
    let mut parts = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        parts.push(format!("{k}={v}"));
    }
    for e in &selector.match_expressions {
        let values = e.values.join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => {
                return Err(format!(
                    "\"{other}\" is not a valid label selector operator"
                ));
            }
        });
    }
    Ok(parts.join(","))
}

/// The checkout reference (`spec.git.checkout.ref`, else the
/// GitRepository's), as `flux-git` reads it.
fn reference(r: Option<&GitRepositoryRef>) -> Reference {
    let Some(r) = r else {
        return Reference::Branch(flux_git::DEFAULT_BRANCH.to_string());
    };
    if let Some(commit) = r.commit.clone().filter(|c| !c.is_empty()) {
        return Reference::Commit {
            sha: commit,
            branch: r.branch.clone().filter(|b| !b.is_empty()),
        };
    }
    if let Some(name) = r.name.clone().filter(|n| !n.is_empty()) {
        return Reference::Name(name);
    }
    if let Some(range) = r.semver.clone().filter(|s| !s.is_empty()) {
        return Reference::Semver(range);
    }
    if let Some(tag) = r.tag.clone().filter(|t| !t.is_empty()) {
        return Reference::Tag(tag);
    }
    Reference::Branch(
        r.branch
            .clone()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| flux_git::DEFAULT_BRANCH.to_string()),
    )
}

/// The credentials of the GitRepository (`secretRef`, `proxySecretRef`).
async fn git_auth(ctx: &Context, repo: &GitRepository) -> Result<Auth, String> {
    let namespace = repo.namespace().unwrap_or_default();
    let mut auth = match &repo.spec.secret_ref {
        None => Auth::None,
        Some(r) => {
            let data =
                flux_runtime::pull_secrets::secret_data(&ctx.client, &namespace, &r.name).await?;
            Auth::from_secret(&data, &repo.spec.url).map_err(|e| {
                format!(
                    "failed to configure authentication options from secret '{namespace}/{}': {e}",
                    r.name
                )
            })?
        }
    };
    if let Some(r) = &repo.spec.proxy_secret_ref {
        let data =
            flux_runtime::pull_secrets::secret_data(&ctx.client, &namespace, &r.name).await?;
        let proxy = flux_git::Proxy::from_secret(&data)
            .map_err(|e| format!("failed to configure proxy options: {e}"))?;
        auth = auth.with_proxy(proxy);
    }
    Ok(auth)
}

/// The commit signer of `spec.git.commit.signingKey`: an OpenPGP key
/// (`git.asc`, `passphrase`) or an SSH key (`identity`, `password`) from
/// a Secret of the automation's namespace, with upstream's messages.
async fn signer(ctx: &Context, namespace: &str, key: &SigningKey) -> Result<Signer, String> {
    let name = &key.secret_ref.name;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = secrets.get(name).await.map_err(|e| {
        format!(
            "could not find signing key secret '{name}': {}",
            flux_runtime::ssa::kube_message(&e)
        )
    })?;
    let data = flux_runtime::pull_secrets::data_of(secret);
    let (key_field, secret_field) = match key.key_type {
        None | Some(SigningKeyType::Gpg) => ("git.asc", "passphrase"),
        Some(SigningKeyType::Ssh) => ("identity", "password"),
    };
    let Some(material) = data.get(key_field) else {
        let article = if key_field == "identity" { "an" } else { "a" };
        return Err(format!(
            "signing key secret '{name}' does not contain {article} '{key_field}' key"
        ));
    };
    let secret_value = data.get(secret_field).map(Vec::as_slice);
    let result = match key.key_type {
        None | Some(SigningKeyType::Gpg) => Signer::openpgp(material, secret_value),
        Some(SigningKeyType::Ssh) => Signer::ssh(material, secret_value),
    };
    result.map_err(|e| match e {
        KeyError::PassphraseRequired => format!(
            "can not use passphrase protected signing key without '{secret_field}' field present in secret {name}"
        ),
        KeyError::Multiple => format!(
            "multiple entities read from secret '{name}', could not determine which signing key to use"
        ),
        KeyError::Decrypt(m) => format!(
            "could not decrypt private key of the signing key present in secret {name}: {m}"
        ),
        KeyError::Unreadable(m) if key_field == "git.asc" => {
            format!("could not read signing key from secret '{name}': {m}")
        }
        KeyError::Unreadable(m) | KeyError::Unsupported(m) => {
            format!("could not parse SSH signing key from secret '{name}': {m}")
        }
    })
}

/// What one run did.
struct Run {
    observed_source_revision: String,
    pushed: Option<Pushed>,
    summary: Option<String>,
}

/// Reconciles one ImageUpdateAutomation.
pub async fn reconcile(
    automation: Arc<ImageUpdateAutomation>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = automation.namespace().unwrap_or_default();
    let name = automation.name_any();
    let api: Api<ImageUpdateAutomation> = Api::namespaced(ctx.client.clone(), &namespace);
    let automation = match crate::reflector::finalizer_prelude(&api, automation, || Ok(())).await? {
        Ok(automation) => automation,
        Err(done) => return Ok(done),
    };
    if automation.spec.suspend {
        return Ok(Action::await_change());
    }
    let generation = automation.metadata.generation;
    let before = automation.status.clone().unwrap_or_default();
    let mut status = before.clone();
    let now = flux_runtime::now;
    status.last_automation_run_time = Some(now());
    if let Some(token) = flux_runtime::conditions::reconcile_request(
        automation.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at.as_deref(),
    ) {
        status.last_handled_reconcile_at = Some(token.to_string());
    }
    status.observed_generation = generation;
    let interval =
        flux_runtime::parse_duration(&automation.spec.interval).unwrap_or(Duration::from_secs(600));
    let outcome = run(&ctx, &automation, &namespace, &name, &mut status).await;
    let (action, summary) = match outcome {
        Ok(run) => {
            status.observed_source_revision = Some(run.observed_source_revision);
            if let Some(Pushed::Commit(hash)) = &run.pushed {
                status.last_push_commit = Some(hash.clone());
                status.last_push_time = Some(now());
            }
            flux_runtime::conditions::mark_ready(
                &mut status.conditions,
                "Succeeded",
                READY_MESSAGE,
                generation,
                now(),
            );
            (Action::requeue(interval), run.summary)
        }
        Err(Failure::Stalled(reason, message)) => {
            flux_runtime::conditions::mark_stalled(
                &mut status.conditions,
                reason,
                &message,
                generation,
                now(),
            );
            (Action::await_change(), None)
        }
        Err(Failure::Failed(reason, message)) => {
            flux_runtime::conditions::mark_failed(
                &mut status.conditions,
                reason,
                &message,
                generation,
                now(),
            );
            (Action::requeue(Duration::from_secs(10).min(interval)), None)
        }
    };
    crate::reflector::write_status(&api, &name, &status).await?;
    // Upstream's notify: the push summary when something was pushed, the
    // Ready message when Ready became true, a Warning when it is not.
    let was_ready = flux_runtime::conditions::is_true(&before.conditions, "Ready");
    let ready = flux_runtime::conditions::get(&status.conditions, "Ready").cloned();
    if let Some(ready) = ready {
        let is_ready = ready.status == flux_api::meta::ConditionStatus::True;
        if !is_ready {
            ctx.automation_events
                .warning(&*automation, &ready.reason, &ready.message)
                .await;
        } else if let Some(summary) = summary {
            ctx.automation_events
                .normal(&*automation, &ready.reason, &summary)
                .await;
        } else if !was_ready {
            ctx.automation_events
                .normal(&*automation, &ready.reason, &ready.message)
                .await;
        }
    }
    Ok(action)
}

async fn run(
    ctx: &Context,
    automation: &ImageUpdateAutomation,
    namespace: &str,
    name: &str,
    status: &mut ImageUpdateAutomationStatus,
) -> Result<Run, Failure> {
    let spec = &automation.spec;
    // Policies of this namespace with a latest reference.
    let selector = match &spec.policy_selector {
        Some(s) => selector_string(s).map_err(|e| {
            Failure::Stalled(
                "InvalidPolicySelector",
                format!("failed to parse policy selector: {e}"),
            )
        })?,
        None => String::new(),
    };
    let policies_api: Api<ImagePolicy> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = policies_api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| {
            Failure::Failed(
                "ReconciliationFailed",
                format!(
                    "failed to list policies: {}",
                    flux_runtime::ssa::kube_message(&e)
                ),
            )
        })?;
    let mut policies = Vec::new();
    let mut observed: BTreeMap<String, ImageRef> = BTreeMap::new();
    for p in &listed.items {
        let Some(latest) = p.status.as_ref().and_then(|s| s.latest_ref.clone()) else {
            continue;
        };
        policies.push(PolicyRef {
            namespace: namespace.to_string(),
            name: p.name_any(),
            image: latest.name.clone(),
            tag: latest.tag.clone(),
            digest: latest.digest.clone().unwrap_or_default(),
        });
        observed.insert(p.name_any(), latest);
    }
    let Some(git) = &spec.git else {
        return Err(Failure::Stalled(
            "InvalidSourceConfiguration",
            "source kind 'GitRepository' necessitates field .spec.git: invalid source configuration"
                .to_string(),
        ));
    };
    if matches!(
        spec.update.as_ref().and_then(|u| u.strategy),
        Some(s) if s != UpdateStrategyName::Setters
    ) {
        return Err(Failure::Stalled(
            "InvalidUpdateStrategy",
            "update strategy not supported".to_string(),
        ));
    }
    let source_namespace = spec
        .source_ref
        .namespace
        .clone()
        .unwrap_or_else(|| namespace.to_string());
    if ctx.no_cross_namespace_refs && source_namespace != namespace {
        return Err(Failure::Stalled(
            "AccessDenied",
            format!(
                "can't access 'GitRepository/{source_namespace}/{}', cross-namespace references have been blocked",
                spec.source_ref.name
            ),
        ));
    }
    let repos: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &source_namespace);
    let repo = match repos.get(&spec.source_ref.name).await {
        Ok(r) => r,
        Err(e) => {
            let message = match &e {
                kube::Error::Api(s) if s.code == 404 => format!(
                    "referenced git repository does not exist: {}",
                    flux_runtime::ssa::kube_message(&e)
                ),
                _ => format!(
                    "failed to get referenced git repository: {}",
                    flux_runtime::ssa::kube_message(&e)
                ),
            };
            return Err(Failure::Failed(
                "SourceManagerFailed",
                format!("failed configuring source manager: {message}"),
            ));
        }
    };
    // The checkout reference and the push branch, as upstream infers them.
    let checkout_ref = git
        .checkout
        .as_ref()
        .map(|c| &c.reference)
        .or(repo.spec.reference.as_ref());
    let checkout_branch = checkout_ref
        .and_then(|r| r.branch.clone())
        .filter(|b| !b.is_empty());
    let push = git.push.as_ref();
    let refspec = push
        .and_then(|p| p.refspec.clone())
        .filter(|r| !r.is_empty());
    if let Some(r) = &refspec {
        if r.starts_with(':') {
            return Err(Failure::Stalled(
                "InvalidSourceConfiguration",
                "push refspec must not specify a deletion: invalid source configuration"
                    .to_string(),
            ));
        }
        if r.starts_with('+') {
            return Err(Failure::Stalled(
                "InvalidSourceConfiguration",
                "push refspec must not specify a force update: invalid source configuration"
                    .to_string(),
            ));
        }
    }
    let (push_branch, switch_branch) = match push
        .and_then(|p| p.branch.clone())
        .filter(|b| !b.is_empty())
    {
        Some(b) => {
            let switch = match checkout_ref {
                Some(_) => checkout_branch.as_deref() != Some(b.as_str()),
                None => b != flux_git::DEFAULT_BRANCH,
            };
            (b, switch)
        }
        None => match checkout_branch.clone() {
            Some(b) => (b, false),
            None => {
                return Err(Failure::Failed(
                    "SourceManagerFailed",
                    "failed configuring source manager: push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref".to_string(),
                ));
            }
        },
    };
    let auth = git_auth(ctx, &repo).await.map_err(|e| {
        Failure::Failed(
            "SourceManagerFailed",
            format!("failed configuring source manager: {e}"),
        )
    })?;
    let signer = match &git.commit.signing_key {
        None => None,
        Some(key) => Some(signer(ctx, namespace, key).await.map_err(|e| {
            Failure::Failed(
                "SourceManagerFailed",
                format!("failed configuring source manager: {e}"),
            )
        })?),
    };
    let reference = reference(checkout_ref);
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| flux_runtime::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    let sync_needed =
        switch_branch || refspec.is_some() || status.observed_policies.as_ref() != Some(&observed);
    let url = repo.spec.url.clone();
    // The no-op shortcut: nothing asks for a run and the remote still
    // points where the last run left it.
    if !sync_needed && let Some(last) = status.observed_source_revision.clone() {
        let (u, r, a) = (url.clone(), reference.clone(), auth.clone());
        let tip = tokio::task::spawn_blocking(move || flux_git::remote_commit(&u, &r, &a))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        if let Some(tip) = tip
            && last.ends_with(&format!("sha1:{tip}"))
        {
            return Ok(Run {
                observed_source_revision: last,
                pushed: None,
                summary: None,
            });
        }
    }
    let update_path = spec
        .update
        .as_ref()
        .and_then(|u| u.path.clone())
        .unwrap_or_default();
    let message_template = git.commit.message_template.clone().unwrap_or_default();
    let values = git
        .commit
        .message_template_values
        .clone()
        .unwrap_or_default();
    let author = Author {
        name: git.commit.author.name.clone().unwrap_or_default(),
        email: git.commit.author.email.clone(),
    };
    let push_options: Vec<String> = push
        .and_then(|p| p.options.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let automation_key = (namespace.to_string(), name.to_string());
    let job = move || -> Result<Run, Failure> {
        let checkout_failed = |e: flux_git::Error| {
            Failure::Failed(
                "GitOperationFailed",
                format!("failed to checkout source: {e}"),
            )
        };
        for attempt in 1..=PUSH_ATTEMPTS {
            let work = tempfile::Builder::new()
                .prefix("imageupdateautomation-")
                .tempdir()
                .map_err(|e| Failure::Failed("GitOperationFailed", e.to_string()))?;
            let commit = flux_git::checkout(
                &url,
                &reference,
                &auth,
                work.path(),
                &CheckoutOptions::default(),
            )
            .map_err(checkout_failed)?;
            let checkout_branch_name = match &reference {
                Reference::Branch(b)
                | Reference::Commit {
                    branch: Some(b), ..
                } => b.clone(),
                _ => commit.reference.clone().unwrap_or_default(),
            };
            let revision = if checkout_branch_name.is_empty() {
                format!("sha1:{}", commit.hash)
            } else {
                format!("{checkout_branch_name}@sha1:{}", commit.hash)
            };
            let mut base_ref = match &reference {
                Reference::Branch(b)
                | Reference::Commit {
                    branch: Some(b), ..
                } => format!("refs/heads/{b}"),
                Reference::Tag(_) | Reference::Semver(_) => {
                    format!("refs/tags/{}", commit.reference.clone().unwrap_or_default())
                }
                Reference::Name(n) => n.clone(),
                Reference::Commit { branch: None, .. } => "HEAD".to_string(),
            };
            let mut base_hash = commit.hash.clone();
            let mut files = work.path().to_path_buf();
            // Pushing to another branch that exists already: the changes
            // go on top of that branch, as upstream's switch to the push
            // branch does, so a run with nothing new commits nothing.
            let push_work = tempfile::Builder::new()
                .prefix("imageupdateautomation-push-")
                .tempdir()
                .map_err(|e| Failure::Failed("GitOperationFailed", e.to_string()))?;
            if switch_branch {
                let push_ref = format!("refs/heads/{push_branch}");
                let exists = flux_git::ls_remote(&url, &auth)
                    .map_err(checkout_failed)?
                    .iter()
                    .any(|(name, _)| *name == push_ref);
                if exists {
                    let tip = flux_git::checkout(
                        &url,
                        &Reference::Branch(push_branch.clone()),
                        &auth,
                        push_work.path(),
                        &CheckoutOptions::default(),
                    )
                    .map_err(checkout_failed)?;
                    files = push_work.path().to_path_buf();
                    base_ref = push_ref;
                    base_hash = tip.hash;
                }
            }
            let result = crate::update::update(&files, &update_path, &policies).map_err(|e| {
                Failure::Failed("UpdateFailed", format!("failed to apply policies: {e}"))
            })?;
            if result.files.is_empty() {
                return Ok(Run {
                    observed_source_revision: revision,
                    pushed: None,
                    summary: None,
                });
            }
            let message = template::render(&message_template, &automation_key, &result, &values)
                .map_err(|e| match e {
                    template::Error::Removed(m) => Failure::Stalled("RemovedTemplateField", m),
                    template::Error::Other(m) => Failure::Failed(
                        "GitOperationFailed",
                        format!("failed to update source: {m}"),
                    ),
                })?;
            let changes: Vec<Change> = result
                .files
                .iter()
                .map(|(path, bytes)| Change {
                    path: path.clone(),
                    contents: Some(bytes.clone()),
                })
                .collect();
            let target = Target {
                branch: &push_branch,
                base: Some((&base_ref, &base_hash)),
                pinned: matches!(reference, Reference::Commit { .. }) && base_hash == commit.hash,
                force: switch_branch,
                refspec: refspec.as_deref(),
                push_options: &push_options,
                signer: signer.as_ref(),
            };
            match flux_git::commit_to(&url, &auth, &target, &changes, &message, &author) {
                Err(flux_git::Error::BaseMoved { .. }) if attempt < PUSH_ATTEMPTS => continue,
                Err(e) => {
                    return Err(Failure::Failed(
                        "GitOperationFailed",
                        format!("failed to update source: {e}"),
                    ));
                }
                Ok(pushed) => {
                    let hash = pushed.hash().to_string();
                    let summary = matches!(pushed, Pushed::Commit(_)).then(|| {
                        let mut s = format!(
                            "pushed commit '{}' to branch '{push_branch}'",
                            &hash[..hash.len().min(7)]
                        );
                        if let Some(r) = &refspec {
                            s.push_str(&format!(" and refspecs '{r}'"));
                        }
                        if !message.is_empty() {
                            s.push('\n');
                            s.push_str(&message);
                        }
                        s
                    });
                    let observed_source_revision = if switch_branch {
                        revision
                    } else {
                        format!("{push_branch}@sha1:{hash}")
                    };
                    return Ok(Run {
                        observed_source_revision,
                        pushed: Some(pushed),
                        summary,
                    });
                }
            }
        }
        // Every try but the last retries; the last returns above.
        Err(Failure::Failed(
            "GitOperationFailed",
            "failed to update source: the branch kept moving".to_string(),
        ))
    };
    let outcome = tokio::time::timeout(
        timeout.saturating_mul(2 * u32::try_from(PUSH_ATTEMPTS).unwrap_or(3)),
        tokio::task::spawn_blocking(job),
    )
    .await;
    let run = match outcome {
        Err(_) => {
            return Err(Failure::Failed(
                "GitOperationFailed",
                format!(
                    "failed to update source: timeout after {}",
                    flux_go::duration::format(
                        i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX)
                    )
                ),
            ));
        }
        Ok(Err(e)) => {
            return Err(Failure::Failed("GitOperationFailed", e.to_string()));
        }
        Ok(Ok(run)) => run?,
    };
    status.observed_policies = Some(observed);
    Ok(run)
}

fn error_policy(_: Arc<ImageUpdateAutomation>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(10))
}

/// Runs the ImageUpdateAutomation reconciler: an automation runs when its
/// namespace's ImagePolicies change, and at its interval.
pub async fn run_automations(ctx: Arc<Context>, namespace: Option<String>) {
    let api: Api<ImageUpdateAutomation> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let policies: Api<ImagePolicy> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (store, trigger) = flux_runtime::reconcile::spec_changes(api, watcher::Config::default());
    let controller = Controller::for_stream(trigger, store);
    let store = controller.store();
    controller
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .watches(
            policies,
            watcher::Config::default(),
            move |policy: ImagePolicy| {
                let namespace = policy.namespace().unwrap_or_default();
                store
                    .state()
                    .into_iter()
                    .filter(|a| a.namespace().as_deref() == Some(namespace.as_str()))
                    .map(|a| kube::runtime::reflector::ObjectRef::from_obj(&*a))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}
