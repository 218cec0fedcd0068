//! GitRepository: a Git reference archived as an artifact.

pub mod fetch;
pub mod include;
pub mod reconcile;
pub mod verify;

use std::sync::Arc;

use flux_api::source::v1::GitRepository;
use futures::StreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::Context;

/// Runs the GitRepository controller until the stream ends: reconciles on
/// every change of an object (a status write that changes nothing ends
/// without another write), on each object's interval, and when a
/// repository it includes changes.
pub async fn run(api: Api<GitRepository>, ctx: Arc<Context>) {
    let config = crate::frame::watch_config(&ctx);
    let controller = Controller::new(api.clone(), config.clone());
    let store = controller.store();
    controller
        .watches(api, config, move |changed| {
            let namespace = changed.namespace();
            let name = changed.name_any();
            store
                .state()
                .into_iter()
                .filter(|repo| {
                    repo.namespace() == namespace
                        && repo.spec.include.iter().any(|i| i.repository.name == name)
                })
                .map(|repo| ObjectRef::from_obj(&*repo))
                .collect::<Vec<_>>()
        })
        .with_config(crate::frame::controller_config(&ctx))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| async {})
        .await;
}
