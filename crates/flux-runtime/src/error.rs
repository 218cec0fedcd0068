//! The error every reconciliation step returns: upstream's condition
//! reason and message, the condition that records it, the event it
//! raises, and what the reconciler does next — in the spirit of upstream
//! source-controller's `internal/error` (stalling, waiting, generic).
//!
//! A step builds one with [`StepError::retry`], [`StepError::wait`] or
//! [`StepError::stall`]; [`crate::finalize`] turns it into conditions,
//! an event, a log line and the requeue decision, the same way for every
//! kind.

use std::time::Duration;

use flux_api::meta::ConditionStatus;

use crate::Severity;

/// What the reconciler does after a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Retrying cannot help until the object changes: `Stalled=True`, no
    /// requeue (upstream's stalling errors).
    Stall,
    /// Something outside the object must change first (a dependency, a
    /// source without artifact): try again after this delay, without
    /// counting a failure (upstream's waiting errors).
    Wait(Duration),
    /// A retry may help: try again after the object's retry interval
    /// (upstream's generic errors).
    Retry,
}

/// A failed reconciliation step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// Upstream's condition reason (`BuildFailed`, `GitOperationFailed`, …),
    /// also the event reason.
    pub reason: &'static str,
    /// The condition message: what failed, on what, in upstream's words.
    pub message: String,
    /// What to do next.
    pub next: Next,
    /// The condition recording the failure besides `Ready`
    /// (`FetchFailed=True`, `SourceVerified=False`, `Healthy=False`).
    pub condition: Option<(&'static str, ConditionStatus)>,
    /// The event it raises: severity and message (none when `None`).
    pub event: Option<(Severity, String)>,
}

impl StepError {
    fn new(reason: &'static str, message: String, next: Next, severity: Severity) -> Self {
        Self {
            reason,
            event: Some((severity, message.clone())),
            message,
            next,
            condition: None,
        }
    }

    /// A failure a retry may fix: a Warning event, retried after the
    /// retry interval.
    pub fn retry(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(reason, message.into(), Next::Retry, Severity::Error)
    }

    /// A failure only a change of the object can fix: `Stalled=True`, a
    /// Warning event, no requeue.
    pub fn stall(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(reason, message.into(), Next::Stall, Severity::Error)
    }

    /// Waiting for something else: a Normal event, tried again after
    /// `after`.
    pub fn wait(reason: &'static str, message: impl Into<String>, after: Duration) -> Self {
        Self::new(reason, message.into(), Next::Wait(after), Severity::Info)
    }

    /// Also records the failure in condition `kind` with `status`.
    pub fn on(mut self, kind: &'static str, status: ConditionStatus) -> Self {
        self.condition = Some((kind, status));
        self
    }

    /// Raises `message` as the event instead of the condition message,
    /// with the same severity.
    pub fn with_event_message(mut self, message: impl Into<String>) -> Self {
        if let Some((_, text)) = &mut self.event {
            *text = message.into();
        }
        self
    }

    /// Raises no event (the failure is in the status and the log only).
    pub fn without_event(mut self) -> Self {
        self.event = None;
        self
    }

    /// Marks the failure as one only a change of the object can fix.
    pub fn stalled(mut self) -> Self {
        self.next = Next::Stall;
        self
    }

    /// Retries after `after` instead of the retry interval (a stalled
    /// error stays stalled).
    pub fn retry_after(mut self, after: Duration) -> Self {
        if self.next != Next::Stall {
            self.next = Next::Wait(after);
        }
        self
    }

    /// Prefixes the message (and the event's) with `context: `.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        if let Some((_, text)) = &mut self.event {
            *text = format!("{context}: {text}");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_choose_next_step_and_event() {
        let retry = StepError::retry("BuildFailed", "kustomize build failed");
        assert_eq!(retry.next, Next::Retry);
        assert_eq!(
            retry.event,
            Some((Severity::Error, "kustomize build failed".to_string()))
        );
        let wait = StepError::wait("DependencyNotReady", "x", Duration::from_secs(30))
            .with_event_message("Dependencies do not meet ready condition, retrying in 30s");
        assert_eq!(wait.next, Next::Wait(Duration::from_secs(30)));
        assert_eq!(wait.message, "x");
        assert_eq!(wait.event.as_ref().map(|e| e.0), Some(Severity::Info));
        let stall = StepError::stall("AccessDenied", "denied")
            .on("FetchFailed", ConditionStatus::True)
            .retry_after(Duration::from_secs(1));
        assert_eq!(stall.next, Next::Stall);
        assert_eq!(
            stall.condition,
            Some(("FetchFailed", ConditionStatus::True))
        );
        assert_eq!(stall.to_string(), "denied");
        let quiet = StepError::retry("R", "m").without_event().context("step");
        assert_eq!(quiet.event, None);
        assert_eq!(quiet.message, "step: m");
    }
}
