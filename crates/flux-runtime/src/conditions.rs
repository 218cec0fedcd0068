//! Condition bookkeeping shared by every reconciler, with the semantics of
//! upstream's `fluxcd/pkg/runtime/conditions` and Kubernetes' own helpers:
//! setting a condition keeps its `lastTransitionTime` unless the status
//! changes, and the reconcile-request protocol compares the
//! `reconcile.fluxcd.io/requestedAt` annotation with the status.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use flux_api::meta::{Condition, ConditionStatus, RECONCILE_REQUEST_ANNOTATION, condition_type};

/// The condition of type `kind`, if present.
pub fn get<'a>(conditions: &'a [Condition], kind: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.r#type == kind)
}

/// True when condition `kind` is present with status `True`.
pub fn is_true(conditions: &[Condition], kind: &str) -> bool {
    get(conditions, kind).is_some_and(|c| c.status == ConditionStatus::True)
}

/// True when the object is Ready at its current `generation`: Ready=True,
/// computed for that generation, and not Stalled.
pub fn is_ready(conditions: &[Condition], generation: Option<i64>) -> bool {
    get(conditions, condition_type::READY).is_some_and(|c| {
        c.status == ConditionStatus::True
            && (generation.is_none() || c.observed_generation == generation)
    }) && !is_true(conditions, condition_type::STALLED)
}

/// The longest condition message the API server accepts
/// (`metav1.Condition`'s validation): a longer one would make every status
/// write fail.
pub const MAX_MESSAGE: usize = 32768;

/// `message`, cut to [`MAX_MESSAGE`] bytes (at a character boundary) with
/// a note of how long it was.
pub fn bounded_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_string();
    }
    let note = format!(" … (message cut: {} bytes)", message.len());
    let mut end = MAX_MESSAGE - note.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &message[..end])
}

/// Sets condition `kind`. `lastTransitionTime` becomes `now` only when the
/// condition is new or its status changes; reason, message (bounded, see
/// [`bounded_message`]) and observed generation are always updated.
pub fn set(
    conditions: &mut Vec<Condition>,
    kind: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Time,
) {
    match conditions.iter_mut().find(|c| c.r#type == kind) {
        Some(existing) => {
            if existing.status != status {
                existing.status = status;
                existing.last_transition_time = now;
            }
            existing.reason = reason.to_string();
            existing.message = bounded_message(message);
            existing.observed_generation = observed_generation;
        }
        None => conditions.push(Condition {
            r#type: kind.to_string(),
            status,
            observed_generation,
            last_transition_time: now,
            reason: reason.to_string(),
            message: bounded_message(message),
        }),
    }
}

/// Removes condition `kind`; true if it was present.
pub fn remove(conditions: &mut Vec<Condition>, kind: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.r#type != kind);
    conditions.len() != before
}

/// The pending reconcile request: the `reconcile.fluxcd.io/requestedAt`
/// token when it differs from `last_handled` (the status'
/// `lastHandledReconcileAt`), else `None`.
pub fn reconcile_request<'a>(
    annotations: Option<&'a BTreeMap<String, String>>,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    let token = annotations?.get(RECONCILE_REQUEST_ANNOTATION)?;
    (Some(token.as_str()) != last_handled).then_some(token.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn messages_are_bounded_for_the_api_server() {
        let mut conditions = Vec::new();
        let long = "é".repeat(40_000);
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "BuildFailed",
            &long,
            None,
            at(1),
        );
        let message = &conditions[0].message;
        assert!(message.len() <= MAX_MESSAGE, "{}", message.len());
        assert!(message.starts_with("éé"));
        assert!(message.ends_with("(message cut: 80000 bytes)"));
        assert_eq!(bounded_message("short"), "short");
    }

    #[test]
    fn set_keeps_transition_time_unless_status_changes() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "Progressing",
            "a",
            Some(1),
            at(10),
        );
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "BuildFailed",
            "b",
            Some(2),
            at(20),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].reason, "BuildFailed");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "Succeeded",
            "c",
            Some(2),
            at(30),
        );
        assert_eq!(conditions[0].last_transition_time, at(30));
        assert!(is_true(&conditions, "Ready"));
        assert!(remove(&mut conditions, "Ready"));
        assert!(!remove(&mut conditions, "Ready"));
    }

    #[test]
    fn ready_needs_the_current_generation_and_no_stall() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "Succeeded",
            "",
            Some(3),
            at(1),
        );
        assert!(is_ready(&conditions, Some(3)));
        assert!(!is_ready(&conditions, Some(4)));
        set(
            &mut conditions,
            "Stalled",
            ConditionStatus::True,
            "InvalidPath",
            "",
            Some(3),
            at(1),
        );
        assert!(!is_ready(&conditions, Some(3)));
    }

    #[test]
    fn reconcile_request_is_pending_until_handled() {
        let annotations: BTreeMap<String, String> = [(
            RECONCILE_REQUEST_ANNOTATION.to_string(),
            "2026-11-25T10:00:00Z".to_string(),
        )]
        .into();
        assert_eq!(
            reconcile_request(Some(&annotations), None),
            Some("2026-11-25T10:00:00Z")
        );
        assert_eq!(
            reconcile_request(Some(&annotations), Some("earlier")),
            Some("2026-11-25T10:00:00Z")
        );
        assert_eq!(
            reconcile_request(Some(&annotations), Some("2026-11-25T10:00:00Z")),
            None
        );
        assert_eq!(reconcile_request(None, None), None);
    }
}

/// The status fields every reconciled kind has, so that the runtime can
/// drive any of them.
pub trait ReconcileStatus {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, mutable.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// `status.observedGeneration`.
    fn observed_generation(&self) -> Option<i64>;
    /// Sets `status.observedGeneration`.
    fn set_observed_generation(&mut self, generation: i64);
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Sets `status.lastHandledReconcileAt`.
    fn set_last_handled_reconcile_at(&mut self, token: &str);
}

macro_rules! reconcile_status {
    ($($ty:ty),* $(,)?) => {$(
        impl ReconcileStatus for $ty {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: i64) {
                self.observed_generation = Some(generation);
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, token: &str) {
                self.last_handled_reconcile_at = Some(token.to_string());
            }
        }
    )*};
}

reconcile_status!(
    flux_api::source::v1::GitRepositoryStatus,
    flux_api::source::v1::OCIRepositoryStatus,
    flux_api::source::v1::HelmRepositoryStatus,
    flux_api::source::v1::HelmChartStatus,
    flux_api::source::v1::BucketStatus,
    flux_api::kustomize::v1::KustomizationStatus,
    flux_api::helm::v2::HelmReleaseStatus,
    flux_api::notification::v1::ReceiverStatus,
    flux_api::image::v1::ImageRepositoryStatus,
    flux_api::image::v1::ImagePolicyStatus,
    flux_api::image::v1::ImageUpdateAutomationStatus,
);

/// ArtifactGenerators have no `status.observedGeneration` (upstream's API):
/// their conditions carry it.
impl ReconcileStatus for flux_api::source_extensions::v1beta1::ArtifactGeneratorStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
    fn observed_generation(&self) -> Option<i64> {
        None
    }
    fn set_observed_generation(&mut self, _generation: i64) {}
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.last_handled_reconcile_at.as_deref()
    }
    fn set_last_handled_reconcile_at(&mut self, token: &str) {
        self.last_handled_reconcile_at = Some(token.to_string());
    }
}

/// Marks a reconciliation in progress (kstatus): `Reconciling=True` with
/// `reason` and `message`. Ready is left as it was until the outcome is known.
pub fn mark_reconciling(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    set(
        conditions,
        condition_type::RECONCILING,
        ConditionStatus::True,
        reason,
        message,
        generation,
        now,
    );
}

/// Marks success: `Ready=True`; `Reconciling` and `Stalled` are removed
/// (kstatus' abnormal-true conditions exist only while true).
pub fn mark_ready(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    remove(conditions, condition_type::RECONCILING);
    remove(conditions, condition_type::STALLED);
    set(
        conditions,
        condition_type::READY,
        ConditionStatus::True,
        reason,
        message,
        generation,
        now,
    );
}

/// Marks a failure that a retry may fix: `Ready=False` with the failure's
/// reason; `Reconciling` stays (with reason `ProgressingWithRetry`) so that
/// kstatus reports the object as still progressing.
pub fn mark_failed(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    remove(conditions, condition_type::STALLED);
    set(
        conditions,
        condition_type::RECONCILING,
        ConditionStatus::True,
        flux_api::meta::reason::PROGRESSING_WITH_RETRY,
        message,
        generation,
        now.clone(),
    );
    set(
        conditions,
        condition_type::READY,
        ConditionStatus::False,
        reason,
        message,
        generation,
        now,
    );
}

/// Marks a failure that is retried, as upstream's result finalizer of the
/// image controllers leaves it: `Ready=False` with `reason` and `message`,
/// and `Reconciling=True` `ProgressingWithRetry` still telling the step
/// that was in progress (`progress`: "processing object: new generation
/// 1 -> 2", "scanning: first scan", "reconciliation in progress").
pub fn mark_failed_in_progress(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    progress: &str,
    generation: Option<i64>,
    now: Time,
) {
    mark_failed(conditions, reason, message, generation, now.clone());
    set(
        conditions,
        condition_type::RECONCILING,
        ConditionStatus::True,
        flux_api::meta::reason::PROGRESSING_WITH_RETRY,
        progress,
        generation,
        now,
    );
}

/// What upstream's controllers say they are doing when a reconcile starts:
/// "processing object: new generation <observed or -1> -> <generation>"
/// for a new generation, else "reconciliation in progress".
pub fn progress_message(observed_generation: Option<i64>, generation: Option<i64>) -> String {
    let generation = generation.unwrap_or_default();
    let observed = observed_generation.unwrap_or(-1);
    if observed == generation {
        "reconciliation in progress".to_string()
    } else {
        format!("processing object: new generation {observed} -> {generation}")
    }
}

/// Marks a failure no retry will fix without a change to the object:
/// `Stalled=True` and `Ready=False` with the same reason; `Reconciling` is
/// removed.
pub fn mark_stalled(
    conditions: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    remove(conditions, condition_type::RECONCILING);
    set(
        conditions,
        condition_type::STALLED,
        ConditionStatus::True,
        reason,
        message,
        generation,
        now.clone(),
    );
    set(
        conditions,
        condition_type::READY,
        ConditionStatus::False,
        reason,
        message,
        generation,
        now,
    );
}

#[cfg(test)]
mod kstatus_tests {
    use super::*;
    use flux_api::source::v1::GitRepositoryStatus;
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Time {
        Time(Timestamp::from_second(100).unwrap())
    }

    #[test]
    fn the_kstatus_set_moves_through_a_reconciliation() {
        let mut status = GitRepositoryStatus::default();
        let conditions = status.conditions_mut();
        mark_reconciling(conditions, "Progressing", "fetching", Some(2), now());
        assert!(is_true(conditions, "Reconciling"));
        mark_failed(
            conditions,
            "GitOperationFailed",
            "auth failed",
            Some(2),
            now(),
        );
        assert_eq!(
            get(conditions, "Ready").unwrap().reason,
            "GitOperationFailed"
        );
        assert_eq!(
            get(conditions, "Reconciling").unwrap().reason,
            "ProgressingWithRetry"
        );
        mark_stalled(conditions, "URLInvalid", "bad url", Some(2), now());
        assert!(is_true(conditions, "Stalled"));
        assert!(get(conditions, "Reconciling").is_none());
        mark_ready(conditions, "Succeeded", "stored artifact", Some(3), now());
        assert!(is_ready(conditions, Some(3)));
        assert_eq!(conditions.len(), 1);
        status.set_observed_generation(3);
        status.set_last_handled_reconcile_at("token");
        assert_eq!(status.observed_generation(), Some(3));
        assert_eq!(status.last_handled_reconcile_at(), Some("token"));
    }
}

/// The conditions a kind's reconciler owns besides `Ready`, `Reconciling`
/// and `Stalled`, and how `Ready` is summarised from them (upstream's
/// `summarize.Conditions`): the first abnormal one, in declaration order,
/// decides a `Ready=False`.
#[derive(Clone, Copy, Debug)]
pub struct Owned {
    /// Conditions that stand for a problem while `True` (`FetchFailed`,
    /// `StorageOperationFailed`); removed when a reconciliation succeeds.
    pub negative: &'static [&'static str],
    /// Conditions that stand for a problem while `False` (`Healthy`,
    /// `SourceVerified`); their steps set them on success too.
    pub positive: &'static [&'static str],
}

impl Owned {
    /// The condition that makes the object not Ready, if any: the first
    /// negative one that is `True`, else the first positive one that is
    /// `False`.
    pub fn problem<'a>(&self, conditions: &'a [Condition]) -> Option<&'a Condition> {
        self.negative
            .iter()
            .find_map(|kind| get(conditions, kind).filter(|c| c.status == ConditionStatus::True))
            .or_else(|| {
                self.positive.iter().find_map(|kind| {
                    get(conditions, kind).filter(|c| c.status == ConditionStatus::False)
                })
            })
    }
}

/// Marks success as summarised from `owned`: the negative conditions are
/// removed; `Ready=True` with `reason` and `message` unless a positive
/// condition is still `False` (then `Ready=False` with its reason and
/// message); `Reconciling` and `Stalled` are removed.
pub fn mark_ready_summarised(
    conditions: &mut Vec<Condition>,
    owned: &Owned,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    for kind in owned.negative {
        remove(conditions, kind);
    }
    match owned.problem(conditions).cloned() {
        Some(problem) => {
            remove(conditions, condition_type::RECONCILING);
            remove(conditions, condition_type::STALLED);
            set(
                conditions,
                condition_type::READY,
                ConditionStatus::False,
                &problem.reason,
                &problem.message,
                generation,
                now,
            );
        }
        None => mark_ready(conditions, reason, message, generation, now),
    }
}

/// Marks `Ready=Unknown` (`Progressing`, "Reconciliation in progress") and
/// `Reconciling=True` with `message`, as upstream does before a long step.
pub fn mark_progressing(
    conditions: &mut Vec<Condition>,
    message: &str,
    generation: Option<i64>,
    now: Time,
) {
    set(
        conditions,
        condition_type::READY,
        ConditionStatus::Unknown,
        flux_api::meta::reason::PROGRESSING,
        "Reconciliation in progress",
        generation,
        now.clone(),
    );
    mark_reconciling(
        conditions,
        flux_api::meta::reason::PROGRESSING,
        message,
        generation,
        now,
    );
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Time {
        Time(Timestamp::from_second(100).unwrap())
    }

    const OWNED: Owned = Owned {
        negative: &["FetchFailed", "StorageOperationFailed"],
        positive: &["SourceVerified"],
    };

    #[test]
    fn ready_is_summarised_from_the_owned_conditions() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            "FetchFailed",
            ConditionStatus::True,
            "GitOperationFailed",
            "timeout",
            Some(1),
            now(),
        );
        assert_eq!(
            OWNED.problem(&conditions).unwrap().reason,
            "GitOperationFailed"
        );
        mark_progressing(&mut conditions, "building artifact", Some(1), now());
        assert_eq!(
            get(&conditions, "Ready").unwrap().status,
            ConditionStatus::Unknown
        );
        assert!(is_true(&conditions, "Reconciling"));
        mark_ready_summarised(
            &mut conditions,
            &OWNED,
            "Succeeded",
            "stored",
            Some(1),
            now(),
        );
        assert!(get(&conditions, "FetchFailed").is_none());
        assert!(get(&conditions, "Reconciling").is_none());
        assert!(is_ready(&conditions, Some(1)));
        set(
            &mut conditions,
            "SourceVerified",
            ConditionStatus::False,
            "VerificationError",
            "no signature",
            Some(2),
            now(),
        );
        mark_ready_summarised(
            &mut conditions,
            &OWNED,
            "Succeeded",
            "stored",
            Some(2),
            now(),
        );
        let ready = get(&conditions, "Ready").unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "VerificationError");
    }
}
