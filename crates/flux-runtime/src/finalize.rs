//! The end of every reconciliation, the same for every kind: the outcome
//! becomes conditions (`Ready` summarised from the kind's owned
//! conditions, `Reconciling`/`Stalled` as kstatus reads them), an event
//! and a log line for a failure, the schedule's memory, the requeue
//! decision, `observedGeneration` and `lastHandledReconcileAt` — then the
//! status is written once, if it changed.
//!
//! [`settle`] is the pure decision (tested without a cluster);
//! [`finalize`] adds the I/O around it. [`report_progress`] writes
//! `Reconciling=True` while a long step runs.

use std::time::Duration;

use flux_api::meta::{ConditionStatus, reason};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conditions::{self, Owned, ReconcileStatus};
use crate::error::{Next, StepError};
use crate::{EventRecorder, ReconcileResult, Schedule, now, patch_status};

/// What a reconciliation ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step succeeded: `Ready=True` with this reason and message.
    Ready {
        /// The `Ready` reason (`ReconciliationSucceeded`, `Succeeded`).
        reason: &'static str,
        /// The `Ready` message (`Applied revision: …`).
        message: String,
    },
    /// A step failed.
    Failed(StepError),
}

impl From<StepError> for Outcome {
    fn from(error: StepError) -> Self {
        Outcome::Failed(error)
    }
}

/// What the finaliser knows of the object's reconciler.
pub struct Finish<'a> {
    /// Where failure events go.
    pub events: &'a EventRecorder,
    /// The memory of successful reconciliations.
    pub schedule: &'a Schedule,
    /// The kind's owned conditions.
    pub owned: &'a Owned,
    /// `spec.interval`: the requeue after a success.
    pub interval: Duration,
    /// The requeue after a failure that a retry may fix.
    pub retry: Duration,
    /// The revision this reconciliation applied or attempted, remembered by
    /// the schedule (for kinds that record one).
    pub revision: Option<&'a str>,
}

/// Sets the conditions for `outcome` and decides the requeue: success →
/// the interval; [`Next::Retry`] → `retry`; [`Next::Wait`] → its delay;
/// [`Next::Stall`] → nothing until the object changes. Also sets
/// `lastHandledReconcileAt`, and `observedGeneration` when the outcome is
/// Ready or stalled.
pub fn settle<S: ReconcileStatus>(
    status: &mut S,
    outcome: &Outcome,
    owned: &Owned,
    generation: Option<i64>,
    request: Option<&str>,
    interval: Duration,
    retry: Duration,
) -> (Action, ReconcileResult) {
    let at = now();
    let decision = match outcome {
        Outcome::Ready { reason, message } => {
            conditions::mark_ready_summarised(
                status.conditions_mut(),
                owned,
                reason,
                message,
                generation,
                at,
            );
            (Action::requeue(interval), ReconcileResult::RequeueAfter)
        }
        Outcome::Failed(error) => {
            let list = status.conditions_mut();
            if let Some((kind, condition_status)) = error.condition {
                conditions::set(
                    list,
                    kind,
                    condition_status,
                    error.reason,
                    &error.message,
                    generation,
                    at.clone(),
                );
            }
            match error.next {
                Next::Stall => {
                    conditions::mark_stalled(list, error.reason, &error.message, generation, at);
                    (Action::await_change(), ReconcileResult::Success)
                }
                Next::Retry => {
                    mark_not_ready(list, error, generation, at);
                    (Action::requeue(retry), ReconcileResult::Error)
                }
                Next::Wait(after) => {
                    mark_not_ready(list, error, generation, at);
                    (Action::requeue(after), ReconcileResult::RequeueAfter)
                }
            }
        }
    };
    // As upstream: the generation counts as observed once it succeeded or
    // stalled (nothing but a change helps). After an error it is left
    // behind, so that kstatus, dependents and consumers of the artifact
    // still see the previous generation's result as not yet replaced.
    let settled = match outcome {
        Outcome::Ready { .. } => true,
        Outcome::Failed(error) => matches!(error.next, Next::Stall),
    };
    if let (true, Some(generation)) = (settled, generation) {
        status.set_observed_generation(generation);
    }
    if let Some(token) = request {
        status.set_last_handled_reconcile_at(token);
    }
    decision
}

/// `Ready=False` with the error; a `Reconciling` condition left by the
/// progress reports keeps its message with reason `ProgressingWithRetry`
/// (upstream's finalizeStatus); without one, one is added with the error's
/// message — the object will be tried again, so kstatus (and `flux … --wait`)
/// read it as still in progress, not as a final verdict.
fn mark_not_ready(
    list: &mut Vec<flux_api::meta::Condition>,
    error: &StepError,
    generation: Option<i64>,
    at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) {
    use flux_api::meta::condition_type::{READY, RECONCILING, STALLED};
    conditions::remove(list, STALLED);
    let progress = conditions::get(list, RECONCILING)
        .filter(|c| c.status == ConditionStatus::True)
        .map(|c| c.message.clone())
        .unwrap_or_else(|| error.message.clone());
    conditions::set(
        list,
        RECONCILING,
        ConditionStatus::True,
        reason::PROGRESSING_WITH_RETRY,
        &progress,
        generation,
        at.clone(),
    );
    conditions::set(
        list,
        READY,
        ConditionStatus::False,
        error.reason,
        &error.message,
        generation,
        at,
    );
}

/// Finishes a reconciliation of `object`: [`settle`]s `status`, records
/// the failure (event, log) or the success in the schedule, and writes the
/// status when it differs from `before`.
pub async fn finalize<K, S>(
    api: &Api<K>,
    object: &K,
    before: Option<&S>,
    mut status: S,
    outcome: Outcome,
    finish: &Finish<'_>,
) -> Result<(Action, ReconcileResult), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: ReconcileStatus + Serialize + PartialEq,
{
    let key = crate::schedule::key(object);
    let generation = object.meta().generation;
    let token = object
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(flux_api::meta::RECONCILE_REQUEST_ANNOTATION))
        .map(String::as_str);
    let request = conditions::reconcile_request(
        object.meta().annotations.as_ref(),
        status.last_handled_reconcile_at(),
    )
    .map(str::to_string);
    let decision = settle(
        &mut status,
        &outcome,
        finish.owned,
        generation,
        request.as_deref(),
        finish.interval,
        finish.retry,
    );
    let ready = conditions::is_true(status.conditions(), "Ready");
    remember(finish, &key, generation, token, &outcome, ready);
    if let Outcome::Failed(error) = &outcome {
        match error.next {
            Next::Wait(_) => tracing::info!(reason = error.reason, "{}", error.message),
            _ => tracing::error!(reason = error.reason, "{}", error.message),
        }
        if let Some((severity, message)) = &error.event {
            finish
                .events
                .event(object, *severity, error.reason, message, Default::default())
                .await;
        }
    }
    if before != Some(&status) {
        patch_status(api, &object.name_any(), &status).await?;
    }
    Ok(decision)
}

/// What the schedule remembers of a finished reconciliation: a success
/// (Ready) waits for the interval; a failure a retry may fix waits for the
/// retry and a stalled one for a change, so that events that change
/// nothing — the object's own status writes — do not run it again in a
/// loop; waiting for something else (a dependency, a source) forgets, so
/// that its change is reacted to at once.
fn remember(
    finish: &Finish<'_>,
    key: &str,
    generation: Option<i64>,
    token: Option<&str>,
    outcome: &Outcome,
    ready: bool,
) {
    let schedule = finish.schedule;
    match outcome {
        // Summarised Ready: a success can still leave the object not Ready.
        Outcome::Ready { .. } if !ready => schedule.forget(key),
        Outcome::Ready { .. } => {
            schedule.succeeded(key, generation, token, finish.revision, finish.interval)
        }
        Outcome::Failed(error) => match error.next {
            Next::Wait(_) => schedule.forget(key),
            Next::Retry => schedule.failed(key, generation, token, finish.revision, finish.retry),
            Next::Stall => schedule.failed(key, generation, token, finish.revision, Duration::MAX),
        },
    }
}

/// Reports a long step in progress: `Ready=Unknown` and `Reconciling=True`
/// with `message`, written at once (so users see what the controller is
/// doing while it applies or waits for health).
pub async fn report_progress<K, S>(
    api: &Api<K>,
    object: &K,
    status: &mut S,
    message: &str,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: ReconcileStatus + Serialize,
{
    conditions::mark_progressing(
        status.conditions_mut(),
        message,
        object.meta().generation,
        now(),
    );
    patch_status(api, &object.name_any(), status).await?;
    Ok(())
}

/// Reports a step in progress with `Reconciling=True` and `message` only
/// (`Ready` left as it is), written at once — the source controller's
/// progress reports.
pub async fn report_reconciling<K, S>(
    api: &Api<K>,
    object: &K,
    status: &mut S,
    message: &str,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: ReconcileStatus + Serialize,
{
    conditions::mark_reconciling(
        status.conditions_mut(),
        reason::PROGRESSING,
        message,
        object.meta().generation,
        now(),
    );
    patch_status(api, &object.name_any(), status).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flux_api::kustomize::v1::KustomizationStatus;

    const OWNED: Owned = Owned {
        negative: &[],
        positive: &["Healthy"],
    };
    const MINUTE: Duration = Duration::from_secs(60);
    const RETRY: Duration = Duration::from_secs(5);

    fn reason_of(status: &KustomizationStatus, kind: &str) -> Option<String> {
        conditions::get(&status.conditions, kind).map(|c| c.reason.clone())
    }

    #[test]
    fn success_requeues_after_the_interval_and_clears_progress() {
        let mut status = KustomizationStatus::default();
        conditions::mark_progressing(&mut status.conditions, "Building", Some(2), now());
        let outcome = Outcome::Ready {
            reason: "ReconciliationSucceeded",
            message: "Applied revision: main@sha1:1".into(),
        };
        let decision = settle(
            &mut status,
            &outcome,
            &OWNED,
            Some(2),
            Some("t"),
            MINUTE,
            RETRY,
        );
        assert_eq!(
            decision,
            (Action::requeue(MINUTE), ReconcileResult::RequeueAfter)
        );
        assert!(conditions::is_ready(&status.conditions, Some(2)));
        assert_eq!(reason_of(&status, "Reconciling"), None);
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("t"));
    }

    #[test]
    fn a_retried_failure_keeps_the_progress_message() {
        let mut status = KustomizationStatus::default();
        conditions::mark_progressing(&mut status.conditions, "Detecting drift", Some(1), now());
        status.observed_generation = Some(1);
        let outcome = Outcome::Failed(StepError::retry("ReconciliationFailed", "dry-run failed"));
        let decision = settle(&mut status, &outcome, &OWNED, Some(2), None, MINUTE, RETRY);
        assert_eq!(decision, (Action::requeue(RETRY), ReconcileResult::Error));
        assert_eq!(
            status.observed_generation,
            Some(1),
            "a failed generation is not observed (upstream)"
        );
        let reconciling = conditions::get(&status.conditions, "Reconciling").unwrap();
        assert_eq!(reconciling.reason, "ProgressingWithRetry");
        assert_eq!(reconciling.message, "Detecting drift");
        let ready = conditions::get(&status.conditions, "Ready").unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.message, "dry-run failed");
        let waiting = Outcome::Failed(StepError::wait(
            "DependencyNotReady",
            "dependency 'ns/a' is not ready",
            MINUTE,
        ));
        settle(&mut status, &waiting, &OWNED, Some(2), None, MINUTE, RETRY);
        assert_eq!(status.observed_generation, Some(1));
        let stalled = Outcome::Failed(StepError::stall("InvalidPath", "no such path"));
        settle(&mut status, &stalled, &OWNED, Some(2), None, MINUTE, RETRY);
        assert_eq!(status.observed_generation, Some(2), "a stall is final");
    }

    #[tokio::test]
    async fn own_status_writes_do_not_rerun_a_failure_before_its_retry() {
        // A client that is never used: events are only recorded by finalize.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let schedule = Schedule::default();
        let finish = Finish {
            events: &EventRecorder::new(client, "test"),
            schedule: &schedule,
            owned: &OWNED,
            interval: MINUTE,
            retry: RETRY,
            revision: Some("main@sha1:1"),
        };
        let failed = |error: StepError| Outcome::Failed(error);
        remember(
            &finish,
            "ns/a",
            Some(1),
            None,
            &failed(StepError::retry("R", "m")),
            false,
        );
        assert!(
            schedule
                .remaining("ns/a", Some(1), None)
                .is_some_and(|d| d <= RETRY)
        );
        assert_eq!(schedule.revision("ns/a").as_deref(), Some("main@sha1:1"));
        let wait = StepError::wait("DependencyNotReady", "m", MINUTE);
        remember(&finish, "ns/a", Some(1), None, &failed(wait), false);
        assert_eq!(
            schedule.remaining("ns/a", Some(1), None),
            None,
            "a dependency may change"
        );
        remember(
            &finish,
            "ns/a",
            Some(1),
            None,
            &failed(StepError::stall("S", "m")),
            false,
        );
        assert!(
            schedule
                .remaining("ns/a", Some(1), None)
                .is_some_and(|d| d > MINUTE)
        );
        let ready = Outcome::Ready {
            reason: "Succeeded",
            message: "ok".into(),
        };
        remember(&finish, "ns/a", Some(1), None, &ready, true);
        assert!(
            schedule
                .remaining("ns/a", Some(1), None)
                .is_some_and(|d| d > RETRY)
        );
        remember(&finish, "ns/a", Some(1), None, &ready, false);
        assert_eq!(
            schedule.remaining("ns/a", Some(1), None),
            None,
            "not Ready after all"
        );
    }

    #[test]
    fn waiting_and_stalling_decide_the_requeue() {
        let mut status = KustomizationStatus::default();
        let wait = StepError::wait(
            "DependencyNotReady",
            "dependency 'a/b' is not ready",
            MINUTE,
        );
        let decision = settle(
            &mut status,
            &wait.into(),
            &OWNED,
            Some(1),
            None,
            MINUTE,
            RETRY,
        );
        assert_eq!(
            decision,
            (Action::requeue(MINUTE), ReconcileResult::RequeueAfter)
        );
        assert_eq!(
            reason_of(&status, "Reconciling").as_deref(),
            Some("ProgressingWithRetry"),
            "still in progress for kstatus"
        );
        let stall =
            StepError::stall("AccessDenied", "denied").on("Healthy", ConditionStatus::False);
        let decision = settle(
            &mut status,
            &stall.into(),
            &OWNED,
            Some(1),
            None,
            MINUTE,
            RETRY,
        );
        assert_eq!(decision, (Action::await_change(), ReconcileResult::Success));
        assert_eq!(
            reason_of(&status, "Stalled").as_deref(),
            Some("AccessDenied")
        );
        assert_eq!(
            reason_of(&status, "Healthy").as_deref(),
            Some("AccessDenied")
        );
        // The failed positive condition keeps Ready False after a success.
        let outcome = Outcome::Ready {
            reason: "ReconciliationSucceeded",
            message: "ok".into(),
        };
        settle(&mut status, &outcome, &OWNED, Some(1), None, MINUTE, RETRY);
        assert_eq!(reason_of(&status, "Ready").as_deref(), Some("AccessDenied"));
        assert_eq!(reason_of(&status, "Stalled"), None);
    }
}
