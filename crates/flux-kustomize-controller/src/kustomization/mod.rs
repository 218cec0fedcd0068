//! Kustomization: a path of a source artifact applied to the cluster.

pub mod apply;
pub mod build;
pub mod decrypt;
pub mod dependencies;
pub mod fetch;
pub mod health;
pub mod prune;
pub mod reconcile;

use std::sync::Arc;

use flux_api::kustomize::v1::{Kustomization, SourceKind};
use flux_api::meta::Artifact;
use flux_api::source::v1::{Bucket, ExternalArtifact, GitRepository, OCIRepository};
use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::Context;

/// A source kind a Kustomization can read, with its artifact.
trait Source:
    kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static
{
    const KIND: SourceKind;
    fn artifact(&self) -> Option<Artifact>;
}

impl Source for GitRepository {
    const KIND: SourceKind = SourceKind::GitRepository;
    fn artifact(&self) -> Option<Artifact> {
        self.status.as_ref().and_then(|s| s.artifact.clone())
    }
}

impl Source for ExternalArtifact {
    const KIND: SourceKind = SourceKind::ExternalArtifact;
    fn artifact(&self) -> Option<Artifact> {
        self.status.as_ref().and_then(|s| s.artifact.clone())
    }
}

impl Source for Bucket {
    const KIND: SourceKind = SourceKind::Bucket;
    fn artifact(&self) -> Option<Artifact> {
        self.status.as_ref().and_then(|s| s.artifact.clone())
    }
}

impl Source for OCIRepository {
    const KIND: SourceKind = SourceKind::OciRepository;
    fn artifact(&self) -> Option<Artifact> {
        self.status.as_ref().and_then(|s| s.artifact.clone())
    }
}

/// The Kustomizations to run when `source` has a new artifact (as
/// upstream's revision-change predicate: a change of the source's spec or
/// conditions alone triggers nothing — reapplying the old artifact then
/// could undo what changed the spec, such as `flux bootstrap` moving the
/// source to another URL); remembers its newest artifact before the
/// reconciliations it triggers read it (a source being deleted is looked
/// up again).
fn on_source_change<S: Source>(
    source: &S,
    kustomizations: &Store<Kustomization>,
    ctx: &Context,
) -> Vec<ObjectRef<Kustomization>> {
    let namespace = source.namespace().unwrap_or_default();
    let name = source.name_any();
    let changed = match ctx.sources.lock() {
        Ok(mut known) => {
            let id = format!("{}/{namespace}/{name}", S::kind(&()));
            match source.artifact() {
                Some(artifact) if source.meta().deletion_timestamp.is_none() => {
                    let previous = known.insert(id, artifact.clone());
                    previous.is_none_or(|p| {
                        p.revision != artifact.revision || p.digest != artifact.digest
                    })
                }
                _ => known.remove(&id).is_some(),
            }
        }
        Err(_) => true,
    };
    if !changed {
        return Vec::new();
    }
    kustomizations
        .state()
        .into_iter()
        .filter(|k| {
            let r = &k.spec.source_ref;
            r.kind == S::KIND
                && r.name == name
                && r.namespace
                    .clone()
                    .or_else(|| k.namespace())
                    .unwrap_or_default()
                    == namespace
        })
        .map(|k| ObjectRef::from_obj(&*k))
        .collect()
}

/// The source kinds a Kustomization reads, watched for new artifacts.
pub struct Sources {
    /// GitRepositories.
    pub git: Api<GitRepository>,
    /// OCIRepositories.
    pub oci: Api<OCIRepository>,
    /// Buckets.
    pub bucket: Api<Bucket>,
    /// ExternalArtifacts.
    pub external: Api<ExternalArtifact>,
}

/// Runs the Kustomization controller: reconciles on every change of an
/// object (own status writes end without another write), on its interval,
/// as soon as the GitRepository, OCIRepository, Bucket or ExternalArtifact
/// it reads has a new artifact, and when a Kustomization it depends on
/// changes.
pub async fn run(api: Api<Kustomization>, sources: Sources, ctx: Arc<Context>) {
    let Sources {
        git,
        oci,
        bucket,
        external,
    } = sources;
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.label_selector {
        config = config.labels(selector);
    }
    let controller = Controller::new(api.clone(), config.clone());
    let (by_git, by_oci, by_bucket, by_external) = (
        controller.store(),
        controller.store(),
        controller.store(),
        controller.store(),
    );
    let by_dependency = controller.store();
    let (seen_git, seen_oci, seen_bucket, seen_external) =
        (ctx.clone(), ctx.clone(), ctx.clone(), ctx.clone());
    controller
        .watches(git, watcher::Config::default(), move |repo| {
            on_source_change(&repo, &by_git, &seen_git)
        })
        .watches(oci, watcher::Config::default(), move |repo| {
            on_source_change(&repo, &by_oci, &seen_oci)
        })
        .watches(bucket, watcher::Config::default(), move |bucket| {
            on_source_change(&bucket, &by_bucket, &seen_bucket)
        })
        .watches(external, watcher::Config::default(), move |artifact| {
            on_source_change(&artifact, &by_external, &seen_external)
        })
        .watches(api, config, move |changed| {
            let namespace = changed.namespace().unwrap_or_default();
            let name = changed.name_any();
            by_dependency
                .state()
                .into_iter()
                .filter(|k| {
                    k.spec.depends_on.iter().any(|d| {
                        d.name == name
                            && d.namespace
                                .clone()
                                .or_else(|| k.namespace())
                                .unwrap_or_default()
                                == namespace
                    })
                })
                .map(|k| ObjectRef::from_obj(&*k))
                .collect::<Vec<_>>()
        })
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| async {})
        .await;
}
