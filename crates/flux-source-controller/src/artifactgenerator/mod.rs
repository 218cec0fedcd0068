//! ArtifactGenerator (source-watcher, `source.extensions.fluxcd.io`):
//! ExternalArtifacts composed from, or split out of, other sources.
//!
//! A reconciliation reads each source's artifact (GitRepository,
//! OCIRepository, Bucket, HelmChart, ExternalArtifact; not ready: retried
//! after `--requeue-dependency`), and compares a digest of them all with
//! the one it last built from: unchanged sources with every artifact still
//! stored are no work. Otherwise the artifacts are downloaded (checked
//! against their digests) and extracted, each output artifact's copy
//! operations are applied into a staging folder (`build.rs`), the folder
//! is archived as an ExternalArtifact artifact (`externalartifact/<ns>/
//! <name>/<contents hash>.tar.gz`, the default exclusions applied) with
//! revision `latest@sha256:<digest>` — so an artifact whose files did not
//! change keeps its revision and its consumers do not run — or the
//! revision of the source `revision: "@alias"` names, and the
//! ExternalArtifact is applied with that artifact in its status.
//! ExternalArtifacts no longer listed are deleted with their artifacts;
//! deleting the generator deletes them all.
//!
//! Not yet: `pathPattern` (refused: stalled `ValidationFailed`).

pub mod build;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flux_api::meta::{Artifact, ConditionStatus, reason};
use flux_api::source::v1::{Bucket, ExternalArtifact, GitRepository, HelmChart, OCIRepository};
use flux_api::source_extensions::v1beta1::{
    ArtifactGenerator, ExternalArtifactReference, FINALIZER, GENERATOR_LABEL, RECONCILE_ANNOTATION,
    SourceKind,
};
use flux_artifact::{Owner, SourceIgnore};
use flux_runtime::conditions::{self, Owned};
use flux_runtime::finalize::{Finish, Outcome, finalize, report_reconciling};
use flux_runtime::ssa::kube_message;
use flux_runtime::{ReconcileResult, Severity, StepError, now};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::Event;
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::Context;
use crate::gitrepository::reconcile::Error;

/// The controller name in metrics, logs and field managers.
pub const CONTROLLER: &str = "source-watcher";
const KIND: &str = "ArtifactGenerator";
/// Reason: a source is missing, not ready, or its artifact unreadable.
pub const SOURCE_FETCH_FAILED: &str = "SourceFetchFailed";
/// Reason: the spec cannot be built (stalls).
pub const VALIDATION_FAILED: &str = "ValidationFailed";

const OWNED: Owned = Owned {
    negative: &[],
    positive: &[],
};

/// How often an unchanged generator is looked at again (upstream's hour).
const REQUEUE: Duration = Duration::from_secs(3600);

/// The source kinds a generator reads, watched for new artifacts.
pub struct Sources {
    /// GitRepositories.
    pub git: Api<GitRepository>,
    /// OCIRepositories.
    pub oci: Api<OCIRepository>,
    /// Buckets.
    pub bucket: Api<Bucket>,
    /// HelmCharts.
    pub chart: Api<HelmChart>,
    /// ExternalArtifacts.
    pub external: Api<ExternalArtifact>,
}

/// The generators of `store` reading source `kind`/`namespace`/`name`.
fn readers(
    store: &kube::runtime::reflector::Store<ArtifactGenerator>,
    kind: SourceKind,
    namespace: Option<String>,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<ArtifactGenerator>> {
    store
        .state()
        .into_iter()
        .filter(|g| {
            g.spec.sources.iter().any(|s| {
                s.kind == kind
                    && s.name == name
                    && s.namespace.clone().or_else(|| g.namespace()) == namespace
            })
        })
        .map(|g| kube::runtime::reflector::ObjectRef::from_obj(&*g))
        .collect()
}

/// Runs the ArtifactGenerator controller until the stream ends: on every
/// change of a generator, hourly, and as soon as a source it reads
/// changes.
pub async fn run(api: Api<ArtifactGenerator>, sources: Sources, ctx: Arc<Context>) {
    use kube::runtime::watcher;
    let controller = Controller::new(api, crate::frame::watch_config(&ctx));
    let stores: Vec<_> = (0..5).map(|_| controller.store()).collect();
    let [git, oci, bucket, chart, external]: [_; 5] = match stores.try_into() {
        Ok(stores) => stores,
        Err(_) => return,
    };
    controller
        .watches(sources.git, watcher::Config::default(), move |o| {
            readers(
                &git,
                SourceKind::GitRepository,
                o.namespace(),
                &o.name_any(),
            )
        })
        .watches(sources.oci, watcher::Config::default(), move |o| {
            readers(
                &oci,
                SourceKind::OciRepository,
                o.namespace(),
                &o.name_any(),
            )
        })
        .watches(sources.bucket, watcher::Config::default(), move |o| {
            readers(&bucket, SourceKind::Bucket, o.namespace(), &o.name_any())
        })
        .watches(sources.chart, watcher::Config::default(), move |o| {
            readers(&chart, SourceKind::HelmChart, o.namespace(), &o.name_any())
        })
        .watches(sources.external, watcher::Config::default(), move |o| {
            readers(
                &external,
                SourceKind::ExternalArtifact,
                o.namespace(),
                &o.name_any(),
            )
        })
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// Requeue policy after an error the controller could not report.
pub use crate::frame::error_policy;

/// Reconciles one ArtifactGenerator.
pub async fn reconcile(
    generator: Arc<ArtifactGenerator>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = generator.namespace().unwrap_or_default();
    let api: Api<ArtifactGenerator> = Api::namespaced(ctx.client.clone(), &namespace);
    let frame = flux_runtime::reconcile::Frame {
        controller: CONTROLLER,
        group: "source.extensions.fluxcd.io",
        kind: KIND,
        finalizer: FINALIZER,
        metrics: &ctx.metrics,
    };
    flux_runtime::reconcile::run(frame, &api, generator, |event| async {
        match event {
            Event::Apply(g) => apply(&api, &g, &ctx).await,
            Event::Cleanup(g) => {
                let inventory = g.status.clone().unwrap_or_default().inventory;
                delete_artifacts(&ctx, &inventory).await;
                ctx.metrics.forget(KIND, &namespace, &g.name_any());
                ctx.schedule.forget(&flux_runtime::schedule::key(&*g));
                Ok((Action::await_change(), ReconcileResult::Success))
            }
        }
    })
    .await
    .map_err(|e| match e {
        flux_runtime::reconcile::FrameError::Step(e) => e,
        flux_runtime::reconcile::FrameError::Finalizer(e) => Error::Finalizer(e),
    })
}

/// A source as read: its artifact and the origin revision it records.
#[derive(Clone, Debug)]
struct Observed {
    artifact: Artifact,
    origin_revision: Option<String>,
}

/// Upstream's `HashObservedSources`: sha256 over the sorted
/// `alias=[digest=…,revision=…,url=…]` parts joined by `|`.
fn sources_digest(sources: &BTreeMap<String, Observed>) -> String {
    let mut parts: Vec<String> = sources
        .iter()
        .map(|(alias, s)| {
            format!(
                "{alias}=[digest={},revision={},url={}]",
                s.artifact.digest, s.artifact.revision, s.artifact.url
            )
        })
        .collect();
    parts.sort();
    let digest = Sha256::digest(parts.join("|").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What the spec says that cannot work, whatever the sources hold.
fn validate(generator: &ArtifactGenerator) -> Result<(), String> {
    let spec = &generator.spec;
    if spec.path_pattern.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err("spec.pathPattern is not supported by this controller yet".to_string());
    }
    let mut aliases = std::collections::BTreeSet::new();
    for s in &spec.sources {
        if !aliases.insert(s.alias.as_str()) {
            return Err(format!("duplicate source alias '{}'", s.alias));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for a in &spec.output_artifacts {
        if !names.insert(a.name.as_str()) {
            return Err(format!("duplicate artifact name '{}'", a.name));
        }
        for reference in [&a.revision, &a.origin_revision].into_iter().flatten() {
            let alias = reference.trim_start_matches('@');
            if !aliases.contains(alias) {
                return Err(format!(
                    "artifact '{}' references unknown source alias '{reference}'",
                    a.name
                ));
            }
        }
        for op in &a.copy {
            let alias = op
                .from
                .strip_prefix('@')
                .and_then(|r| r.split_once('/'))
                .map(|(alias, _)| alias)
                .unwrap_or_default();
            if !aliases.contains(alias) {
                return Err(format!(
                    "artifact '{}' copy operation references unknown source alias '@{alias}'",
                    a.name
                ));
            }
        }
    }
    Ok(())
}

async fn apply(
    api: &Api<ArtifactGenerator>,
    generator: &ArtifactGenerator,
    ctx: &Context,
) -> Result<(Action, ReconcileResult), Error> {
    if generator
        .annotations()
        .get(RECONCILE_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    {
        let message = "Reconciliation is disabled";
        ctx.events
            .event(
                generator,
                Severity::Error,
                "ReconciliationDisabled",
                message,
                BTreeMap::new(),
            )
            .await;
        return Ok((Action::await_change(), ReconcileResult::Success));
    }
    let generation = generator.metadata.generation;
    let mut status = generator.status.clone().unwrap_or_default();
    let before = generator.status.clone();
    let finish = Finish {
        events: &ctx.events,
        schedule: &ctx.schedule,
        owned: &OWNED,
        interval: REQUEUE,
        retry: ctx.retry_interval,
        revision: None,
    };
    if let Err(message) = validate(generator) {
        let error = StepError::stall(VALIDATION_FAILED, message);
        return Ok(finalize(
            api,
            generator,
            before.as_ref(),
            status,
            Outcome::Failed(error),
            &finish,
        )
        .await?);
    }
    let sources = match observe(generator, ctx).await {
        Ok(sources) => sources,
        Err(message) => {
            let error = StepError::wait(
                SOURCE_FETCH_FAILED,
                format!("get sources failed: {message}"),
                ctx.requeue_dependency,
            );
            return Ok(finalize(
                api,
                generator,
                before.as_ref(),
                status,
                Outcome::Failed(error),
                &finish,
            )
            .await?);
        }
    };
    let digest = sources_digest(&sources);
    let stored = |r: &ExternalArtifactReference| {
        ctx.storage
            .local_path(&format!(
                "externalartifact/{}/{}/{}",
                r.namespace, r.name, r.filename
            ))
            .is_file()
    };
    let up_to_date = status.observed_sources_digest.as_deref() == Some(digest.as_str())
        && status.inventory.len() == generator.spec.output_artifacts.len()
        && generator.spec.output_artifacts.iter().all(|a| {
            status
                .inventory
                .iter()
                .any(|r| r.name == a.name && stored(r))
        })
        && conditions::get(&status.conditions, "Ready").is_some_and(|c| {
            c.status == ConditionStatus::True && c.observed_generation == generation
        });
    // The ExternalArtifacts themselves must still say what was generated
    // (one deleted or rewritten by hand is drift).
    let mut up_to_date = up_to_date;
    if up_to_date {
        let eas: Api<ExternalArtifact> = Api::namespaced(
            ctx.client.clone(),
            &generator.namespace().unwrap_or_default(),
        );
        for r in &status.inventory {
            let current = eas
                .get_opt(&r.name)
                .await
                .ok()
                .flatten()
                .and_then(|ea| ea.status?.artifact)
                .map(|a| a.digest);
            if current.as_deref() != Some(r.digest.as_str()) {
                up_to_date = false;
                break;
            }
        }
    }
    if up_to_date {
        let message = format!(
            "No drift detected, {} artifact(s) up to date",
            status.inventory.len()
        );
        tracing::info!("{message}");
        return Ok(finalize(
            api,
            generator,
            before.as_ref(),
            status,
            Outcome::Ready {
                reason: reason::SUCCEEDED,
                message: conditions::get(
                    &generator.status.clone().unwrap_or_default().conditions,
                    "Ready",
                )
                .map(|c| c.message.clone())
                .unwrap_or(message),
            },
            &finish,
        )
        .await?);
    }
    let mut written = before.clone();
    match report_reconciling(api, generator, &mut status, "reconciliation in progress").await {
        Ok(()) => written = Some(status.clone()),
        Err(e) => tracing::error!(error = %kube_message(&e), "failed to update status"),
    }
    let outcome = match generate(generator, ctx, &sources).await {
        Ok(inventory) => {
            let current: Vec<&str> = inventory.iter().map(|r| r.name.as_str()).collect();
            let orphans: Vec<ExternalArtifactReference> = status
                .inventory
                .iter()
                .filter(|r| !current.contains(&r.name.as_str()))
                .cloned()
                .collect();
            delete_artifacts(ctx, &orphans).await;
            let message = format!(
                "reconciliation succeeded, generated {} artifact(s)",
                inventory.len()
            );
            status.inventory = inventory;
            status.observed_sources_digest = Some(digest);
            Outcome::Ready {
                reason: reason::SUCCEEDED,
                message,
            }
        }
        Err(e) => Outcome::Failed(e),
    };
    Ok(finalize(api, generator, written.as_ref(), status, outcome, &finish).await?)
}

/// The artifact of every source, by alias.
async fn observe(
    generator: &ArtifactGenerator,
    ctx: &Context,
) -> Result<BTreeMap<String, Observed>, String> {
    let own = generator.namespace().unwrap_or_default();
    let mut out = BTreeMap::new();
    for s in &generator.spec.sources {
        let namespace = s.namespace.clone().unwrap_or_else(|| own.clone());
        let client = ctx.client.clone();
        let name = &s.name;
        let not_found = |e: kube::Error| match &e {
            kube::Error::Api(status) if status.code == 404 => kube_message(&e),
            _ => format!(
                "unable to get source '{namespace}/{name}': {}",
                kube_message(&e)
            ),
        };
        // Every source kind keeps its artifact in `status.artifact`.
        let resource = kube::api::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "source.toolkit.fluxcd.io",
            "v1",
            s.kind.as_str(),
        ));
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client, &namespace, &resource);
        let artifact = api
            .get(name)
            .await
            .map_err(not_found)?
            .data
            .get("status")
            .and_then(|status| status.get("artifact"))
            .cloned()
            .and_then(|a| serde_json::from_value::<Artifact>(a).ok());
        let Some(artifact) = artifact else {
            return Err(format!(
                "source '{}/{namespace}/{name}' is not ready",
                s.kind.as_str()
            ));
        };
        let origin_revision = artifact
            .metadata
            .as_ref()
            .and_then(|m| m.get(flux_oci::artifact::REVISION_ANNOTATION).cloned());
        out.insert(
            s.alias.clone(),
            Observed {
                artifact,
                origin_revision,
            },
        );
    }
    Ok(out)
}

/// Downloads the sources, builds every output artifact, applies its
/// ExternalArtifact; returns the inventory.
async fn generate(
    generator: &ArtifactGenerator,
    ctx: &Context,
    sources: &BTreeMap<String, Observed>,
) -> Result<Vec<ExternalArtifactReference>, StepError> {
    let work = tempfile::Builder::new()
        .prefix("ag-")
        .tempdir()
        .map_err(|e| {
            StepError::retry(
                reason::BUILD_FAILED,
                format!("failed to create tmp dir: {e}"),
            )
        })?;
    let http = flux_oci::http::client(None)
        .map_err(|e| StepError::retry(SOURCE_FETCH_FAILED, format!("fetch sources failed: {e}")))?;
    let mut dirs: build::Sources = HashMap::new();
    for (alias, source) in sources {
        let dir = work.path().join("sources").join(alias);
        fetch(&http, ctx, &source.artifact, &dir)
            .await
            .map_err(|e| {
                StepError::wait(
                    SOURCE_FETCH_FAILED,
                    format!("fetch sources failed: {e}"),
                    ctx.requeue_dependency,
                )
            })?;
        dirs.insert(alias.clone(), dir);
    }
    let namespace = generator.namespace().unwrap_or_default();
    let previous = generator.status.clone().unwrap_or_default().inventory;
    let mut inventory = Vec::new();
    for output in &generator.spec.output_artifacts {
        let staging = work.path().join("artifacts").join(&output.name);
        let storage = ctx.storage.clone();
        let limits = ctx.artifact_limits.clone();
        let spec = output.clone();
        let source_dirs = dirs.clone();
        let ns = namespace.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<_, String> {
            std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
            build::apply(&spec.copy, &source_dirs, &staging, &limits)?;
            let hash = build::contents_hash(&staging, &spec.name)?;
            let defaults: Vec<String> = [
                flux_artifact::EXCLUDE_VCS,
                flux_artifact::EXCLUDE_EXT,
                flux_artifact::EXCLUDE_CI,
                flux_artifact::EXCLUDE_EXTRA,
            ]
            .join(",")
            .split(',')
            .map(str::to_string)
            .collect();
            let ignore =
                SourceIgnore::from_patterns(&staging, &defaults).map_err(|e| e.to_string())?;
            let owner = Owner {
                kind: "ExternalArtifact",
                namespace: &ns,
                name: &spec.name,
            };
            let stored = storage
                .archive(owner, &format!("{hash}.tar.gz"), &staging, &ignore, &limits)
                .map_err(|e| format!("failed to create artifact: {e}"))?;
            Ok(stored)
        })
        .await
        .map_err(|e| StepError::retry(reason::BUILD_FAILED, e.to_string()))?
        .map_err(|e| {
            StepError::retry(
                reason::BUILD_FAILED,
                format!("{} build failed: {e}", output.name),
            )
        })?;
        let digest = built.summary.digest.to_string();
        let mut artifact = Artifact {
            path: built.path.clone(),
            url: built.url.clone(),
            revision: format!("latest@{digest}"),
            digest: digest.clone(),
            last_update_time: now(),
            size: Some(built.summary.size as i64),
            metadata: None,
        };
        if let Some(alias) = &output.revision
            && let Some(s) = sources.get(alias.trim_start_matches('@'))
        {
            artifact.revision = s.artifact.revision.clone();
        }
        if let Some(alias) = &output.origin_revision
            && let Some(s) = sources.get(alias.trim_start_matches('@'))
        {
            let origin = s
                .origin_revision
                .clone()
                .unwrap_or_else(|| s.artifact.revision.clone());
            artifact.metadata = Some(BTreeMap::from([(
                flux_oci::artifact::REVISION_ANNOTATION.to_string(),
                origin,
            )]));
        }
        let _ = ctx.storage.garbage_collect(
            Owner {
                kind: "ExternalArtifact",
                namespace: &namespace,
                name: &output.name,
            },
            &built.path,
            SystemTime::now(),
        );
        apply_external_artifact(generator, ctx, &output.name, &artifact).await?;
        let reference = ExternalArtifactReference {
            name: output.name.clone(),
            namespace: namespace.clone(),
            digest: digest.clone(),
            filename: built
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        if !previous
            .iter()
            .any(|r| r.name == reference.name && r.digest == reference.digest)
        {
            let message = format!(
                "ExternalArtifact/{namespace}/{} reconciled with revision {}",
                output.name, artifact.revision
            );
            tracing::info!("{message}");
            ctx.events
                .event(
                    generator,
                    Severity::Info,
                    "Ready",
                    &message,
                    BTreeMap::new(),
                )
                .await;
        }
        inventory.push(reference);
    }
    Ok(inventory)
}

/// Downloads `artifact` (checked against its digest) into `dir`.
async fn fetch(
    http: &flux_oci::http::HttpClient,
    ctx: &Context,
    artifact: &Artifact,
    dir: &std::path::Path,
) -> Result<(), String> {
    let data = flux_oci::http::get(
        http,
        &artifact.url,
        None,
        ctx.artifact_limits.max_bytes,
        Duration::from_secs(60),
    )
    .await
    .map_err(|e| e.to_string())?;
    let expected: flux_artifact::Digest = artifact
        .digest
        .parse()
        .map_err(|e| format!("invalid digest '{}': {e}", artifact.digest))?;
    let limits = ctx.artifact_limits.clone();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        flux_artifact::verify_and_extract(&data[..], &expected, &dir, &limits)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Applies ExternalArtifact `name` (labelled with the generator's UID,
/// pointing back at it) with `artifact` in its status.
async fn apply_external_artifact(
    generator: &ArtifactGenerator,
    ctx: &Context,
    name: &str,
    artifact: &Artifact,
) -> Result<(), StepError> {
    let namespace = generator.namespace().unwrap_or_default();
    let api: Api<ExternalArtifact> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            CONTROLLER.to_string(),
        ),
        (
            GENERATOR_LABEL.to_string(),
            generator.uid().unwrap_or_default(),
        ),
    ]);
    let mut annotations = BTreeMap::new();
    if let Some(common) = &generator.spec.common_metadata {
        labels.extend(common.labels.clone().unwrap_or_default());
        annotations.extend(common.annotations.clone().unwrap_or_default());
    }
    let mut metadata = json!({"name": name, "namespace": namespace, "labels": labels});
    if !annotations.is_empty() {
        metadata["annotations"] = json!(annotations);
    }
    let object = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "ExternalArtifact",
        "metadata": metadata,
        "spec": {"sourceRef": {
            "apiVersion": ArtifactGenerator::api_version(&()),
            "kind": KIND,
            "name": generator.name_any(),
            "namespace": namespace,
        }},
    });
    let params = PatchParams::apply(CONTROLLER).force();
    let failed = |e: kube::Error| {
        StepError::retry(
            "ReconciliationFailed",
            format!(
                "{name} reconcile failed: failed to apply ExternalArtifact: {}",
                kube_message(&e)
            ),
        )
    };
    let applied = api
        .patch(name, &params, &Patch::Apply(&object))
        .await
        .map_err(failed)?;
    let status = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "ExternalArtifact",
        "status": {
            "artifact": artifact,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Succeeded",
                "message": "Artifact is ready",
                "observedGeneration": applied.metadata.generation,
                "lastTransitionTime": now(),
            }],
        },
    });
    api.patch_status(name, &params, &Patch::Apply(&status))
        .await
        .map_err(failed)?;
    Ok(())
}

/// Deletes the ExternalArtifacts of `references` and their stored
/// artifacts (best effort: a leftover never blocks the generator).
async fn delete_artifacts(ctx: &Context, references: &[ExternalArtifactReference]) {
    for r in references {
        let api: Api<ExternalArtifact> = Api::namespaced(ctx.client.clone(), &r.namespace);
        if let Err(e) = api.delete(&r.name, &DeleteParams::default()).await
            && !matches!(&e, kube::Error::Api(s) if s.code == 404)
        {
            tracing::error!(error = %kube_message(&e), "failed to delete ExternalArtifact {}/{}", r.namespace, r.name);
        }
        let owner = Owner {
            kind: "ExternalArtifact",
            namespace: &r.namespace,
            name: &r.name,
        };
        if let Err(e) = ctx.storage.remove_all(owner) {
            tracing::error!(error = %e, "failed to remove artifacts of {}/{}", r.namespace, r.name);
        }
    }
}
