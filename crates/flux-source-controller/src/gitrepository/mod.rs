//! GitRepository: a Git reference archived as an artifact.

pub mod fetch;
pub mod reconcile;

use std::sync::Arc;

use flux_api::source::v1::GitRepository;
use futures::StreamExt;
use kube::Api;
use kube::runtime::controller::Controller;
use kube::runtime::watcher;

use crate::Context;

/// Runs the GitRepository controller until the stream ends: reconciles on
/// every change of an object (a status write that changes nothing ends
/// without another write) and on each object's interval.
pub async fn run(api: Api<GitRepository>, ctx: Arc<Context>) {
    Controller::new(api, watcher::Config::default())
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| async {})
        .await;
}
