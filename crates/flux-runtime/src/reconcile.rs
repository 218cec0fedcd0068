//! The frame every reconciler shares: the `finalizers.fluxcd.io`
//! finalizer protocol (apply, or clean up when deleting), the reconcile
//! span, and the outcome recorded in the metrics.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::{Metrics, ReconcileResult};

/// When to try again after an error the reconciler could not report in
/// the object's status (the status or finalizer write itself failed).
pub const UNREPORTED_ERROR_REQUEUE: std::time::Duration = std::time::Duration::from_secs(5);

/// Who is reconciling what, for logs and metrics.
pub struct Frame<'a> {
    /// The controller name (`gitrepository`, `kustomization`).
    pub controller: &'a str,
    /// Its API group.
    pub group: &'a str,
    /// The kind.
    pub kind: &'a str,
    /// The finalizer.
    pub finalizer: &'a str,
    /// Where the outcome goes.
    pub metrics: &'a Metrics,
}

/// Why the frame failed (the step's own error, or the finalizer
/// protocol's).
#[derive(Debug, thiserror::Error)]
pub enum FrameError<E: std::error::Error + 'static> {
    /// The step failed.
    #[error("{0}")]
    Step(E),
    /// Adding or removing the finalizer failed.
    #[error("{0}")]
    Finalizer(FinalizerError),
}

/// The finalizer could not be added or removed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to {action} finalizer: {message}")]
pub struct FinalizerError {
    /// `add` or `remove`.
    pub action: &'static str,
    /// The API server's message.
    pub message: String,
    /// The object changed since it was read (a conflict, or the patch's
    /// `test` of the finalizer list failed): retry at once with the fresh
    /// object, nothing is wrong.
    pub stale: bool,
}

impl FinalizerError {
    fn new(action: &'static str, error: &kube::Error) -> Self {
        let stale =
            matches!(error, kube::Error::Api(status) if status.code == 409 || status.code == 422);
        Self {
            action,
            message: crate::ssa::kube_message(error),
            stale,
        }
    }

    /// When to try again: at once (after a short pause) when the object
    /// was only stale, else after [`UNREPORTED_ERROR_REQUEUE`].
    pub fn requeue(&self) -> std::time::Duration {
        if self.stale {
            std::time::Duration::from_millis(200)
        } else {
            UNREPORTED_ERROR_REQUEUE
        }
    }
}

/// Runs `step` for `object` inside the finalizer protocol, in a span named
/// after the object, and records its duration and outcome.
pub async fn run<K, E, F, Fut>(
    frame: Frame<'_>,
    api: &Api<K>,
    object: Arc<K>,
    step: F,
) -> Result<Action, FrameError<E>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    E: std::error::Error + Send + 'static,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<(Action, ReconcileResult), E>>,
{
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let span = tracing::info_span!(
        "reconcile",
        controller = frame.controller,
        controllerGroup = frame.group,
        controllerKind = frame.kind,
        name = %name,
        namespace = %namespace,
    );
    let start = Instant::now();
    let outcome = Arc::new(Mutex::new(ReconcileResult::Success));
    let recorded = outcome.clone();
    let result = finalizer(api, frame.finalizer, object, |event| async move {
        let (action, result) = step(event).await?;
        if let Ok(mut outcome) = recorded.lock() {
            *outcome = result;
        }
        Ok(action)
    })
    .instrument(span.clone())
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => FrameError::Step(e),
        kube::runtime::finalizer::Error::AddFinalizer(e) => {
            FrameError::Finalizer(FinalizerError::new("add", &e))
        }
        kube::runtime::finalizer::Error::RemoveFinalizer(e) => {
            FrameError::Finalizer(FinalizerError::new("remove", &e))
        }
        kube::runtime::finalizer::Error::UnnamedObject => FrameError::Finalizer(FinalizerError {
            action: "add",
            message: "object has no name".to_string(),
            stale: false,
        }),
        kube::runtime::finalizer::Error::InvalidFinalizer => {
            FrameError::Finalizer(FinalizerError {
                action: "add",
                message: "invalid finalizer".to_string(),
                stale: false,
            })
        }
    });
    let outcome = match &result {
        Ok(_) => outcome
            .lock()
            .map(|o| *o)
            .unwrap_or(ReconcileResult::Success),
        Err(FrameError::Finalizer(e)) if e.stale => {
            span.in_scope(|| tracing::debug!(error = %e, "object changed meanwhile, retrying"));
            ReconcileResult::Error
        }
        Err(e) => {
            span.in_scope(|| tracing::error!(error = %e, "reconciliation failed"));
            ReconcileResult::Error
        }
    };
    frame.metrics.record_reconcile(
        frame.controller,
        frame.kind,
        &namespace,
        &name,
        start.elapsed(),
        outcome,
    );
    result
}

/// The events that wake a reconciler, as upstream's controllers filter
/// them (`GenerationChangedPredicate` or an annotation change such as
/// `reconcile.fluxcd.io/requestedAt`), and the store of every object they
/// come from. A reconciler's own status writes do not wake it again, so
/// no second reconcile decides on a cached status older than the one the
/// first has just written (the image reflector scanned a registry five
/// times per interval that way). Use with `Controller::for_stream`.
pub fn spec_changes<K>(
    api: Api<K>,
    config: kube::runtime::watcher::Config,
) -> (
    kube::runtime::reflector::Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use kube::runtime::WatchStreamExt;
    use kube::runtime::utils::{Predicate, PredicateConfig, predicates};
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(writer, kube::runtime::watcher(api, config))
        .default_backoff()
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::annotations),
            PredicateConfig::default(),
        );
    (reader, stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    #[test]
    fn a_stale_object_is_retried_at_once_and_worded_without_dumps() {
        let stale = kube::Error::Api(
            Status::failure(
                "the server rejected our request due to an error in our request",
                "Invalid",
            )
            .with_code(422)
            .boxed(),
        );
        let error = FinalizerError::new("add", &stale);
        assert!(error.stale);
        assert_eq!(error.requeue(), std::time::Duration::from_millis(200));
        assert_eq!(
            error.to_string(),
            "failed to add finalizer: the server rejected our request due to an error in our request"
        );
        let forbidden = kube::Error::Api(
            Status::failure("forbidden", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        let error = FinalizerError::new("remove", &forbidden);
        assert!(!error.stale);
        assert_eq!(error.requeue(), UNREPORTED_ERROR_REQUEUE);
    }
}
