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
use flux_api::source::v1::GitRepository;
use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::Context;

/// Runs the Kustomization controller: reconciles on every change of an
/// object (own status writes end without another write), on its interval,
/// as soon as the GitRepository it reads has a new artifact, and when a
/// Kustomization it depends on changes.
pub async fn run(api: Api<Kustomization>, sources: Api<GitRepository>, ctx: Arc<Context>) {
    let mut config = watcher::Config::default();
    if let Some(selector) = &ctx.label_selector {
        config = config.labels(selector);
    }
    let controller = Controller::new(api.clone(), config.clone());
    let by_source = controller.store();
    let by_dependency = controller.store();
    let seen = ctx.clone();
    controller
        .watches(sources, watcher::Config::default(), move |repo| {
            let namespace = repo.namespace().unwrap_or_default();
            let name = repo.name_any();
            // Remember the newest artifact before the reconciliations it
            // triggers read it; a source being deleted is looked up again.
            if let Ok(mut known) = seen.sources.lock() {
                let id = format!("GitRepository/{namespace}/{name}");
                match repo.status.as_ref().and_then(|s| s.artifact.clone()) {
                    Some(artifact) if repo.metadata.deletion_timestamp.is_none() => {
                        known.insert(id, artifact);
                    }
                    _ => {
                        known.remove(&id);
                    }
                }
            }
            by_source
                .state()
                .into_iter()
                .filter(|k| {
                    let source = &k.spec.source_ref;
                    source.kind == SourceKind::GitRepository
                        && source.name == name
                        && source
                            .namespace
                            .clone()
                            .or_else(|| k.namespace())
                            .unwrap_or_default()
                            == namespace
                })
                .map(|k| ObjectRef::from_obj(&*k))
                .collect::<Vec<_>>()
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
