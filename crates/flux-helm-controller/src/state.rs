//! The release state and the next action (upstream's
//! `DetermineReleaseState` and `actionForState`), pure over what storage
//! holds and the object's status, so that every branch is tested without a
//! cluster.

use flux_api::helm::v2::{
    ActionStrategyName, HelmRelease, HelmReleaseStatus, ReleaseAction, RemediationStrategy,
    Snapshot,
};
use flux_helm::release::{Release, status};

use crate::snapshot;

/// What storage and the status say about the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// No release (or an uninstalled one).
    Absent(&'static str),
    /// The newest release is `pending-*`.
    Locked(String),
    /// A release the history does not describe.
    Unmanaged(String),
    /// The chart, the values or the post-renderers changed.
    OutOfSync(&'static str),
    /// Tests are enabled and the release was not tested.
    Untested,
    /// The release failed (or its test did).
    Failed(&'static str),
    /// Deployed as desired.
    InSync,
    /// Deployed as desired, but the cluster's objects drifted.
    Drifted,
    /// A record in a state the controller does not act on.
    Unknown(String),
}

/// The action the state calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing: the release is in sync.
    Done,
    /// Install.
    Install,
    /// Upgrade.
    Upgrade,
    /// Run the tests.
    Test,
    /// Unlock a pending release.
    Unlock,
    /// Roll back to this revision.
    Rollback(i64),
    /// Uninstall as remediation.
    UninstallRemediation,
    /// Correct the cluster's drift.
    CorrectDrift,
}

/// The kinds of action; each runs at most once per reconciliation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// install, upgrade
    Release,
    /// rollback, uninstall remediation
    Remediate,
    /// test
    Test,
    /// unlock
    Unlock,
    /// drift correction
    DriftCorrection,
}

impl Next {
    /// The kind of action.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Next::Done => None,
            Next::Install | Next::Upgrade => Some(Kind::Release),
            Next::Test => Some(Kind::Test),
            Next::Unlock => Some(Kind::Unlock),
            Next::Rollback(_) | Next::UninstallRemediation => Some(Kind::Remediate),
            Next::CorrectDrift => Some(Kind::DriftCorrection),
        }
    }

    /// The name in progress messages (`Running 'install' action …`).
    pub fn name(&self) -> &'static str {
        match self {
            Next::Done => "",
            Next::Install => "install",
            Next::Upgrade => "upgrade",
            Next::Test => "test",
            Next::Unlock => "unlock",
            Next::Rollback(_) => "rollback",
            Next::UninstallRemediation => "uninstall",
            Next::CorrectDrift => "correct cluster drift",
        }
    }
}

/// Why no action can be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The state could not be determined (retried).
    StateError(String),
    /// `exceeded maximum retries: cannot <install|upgrade|remediate> release`
    RetriesExceeded(String),
    /// No release to roll back to.
    MissingRollbackTarget(String),
}

/// The remediation of the last attempted action.
#[derive(Clone, Copy, Debug)]
pub struct Remediation {
    /// `install` or `upgrade`.
    pub action: ReleaseAction,
    /// `retries` (negative: unlimited).
    pub retries: i64,
    /// `remediateLastFailure`
    pub remediate_last_failure: bool,
    /// `ignoreTestFailures` (falls back to `test.ignoreFailures`).
    pub ignore_test_failures: Option<bool>,
    /// `rollback` or `uninstall`.
    pub strategy: RemediationStrategy,
}

impl Remediation {
    /// The failures counted against it.
    pub fn failure_count(&self, status: &HelmReleaseStatus) -> i64 {
        match self.action {
            ReleaseAction::Install => status.install_failures.unwrap_or(0),
            _ => status.upgrade_failures.unwrap_or(0),
        }
    }

    /// Counts one more failure.
    pub fn increment(&self, status: &mut HelmReleaseStatus) {
        let slot = match self.action {
            ReleaseAction::Install => &mut status.install_failures,
            _ => &mut status.upgrade_failures,
        };
        *slot = Some(slot.unwrap_or(0) + 1);
    }

    /// `retries >= 0 && failures > retries`
    pub fn exhausted(&self, status: &HelmReleaseStatus) -> bool {
        self.retries >= 0 && self.failure_count(status) > self.retries
    }

    /// Whether test failures are ignored.
    pub fn ignore_tests(&self, test_default: bool) -> bool {
        self.ignore_test_failures.unwrap_or(test_default)
    }
}

/// The install remediation of `hr`.
pub fn install_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .install
        .as_ref()
        .and_then(|i| i.remediation.clone())
        .unwrap_or_default();
    Remediation {
        action: ReleaseAction::Install,
        retries: r.retries.unwrap_or(0),
        remediate_last_failure: r.remediate_last_failure.unwrap_or(false),
        ignore_test_failures: r.ignore_test_failures,
        strategy: RemediationStrategy::Uninstall,
    }
}

/// The upgrade remediation of `hr`.
pub fn upgrade_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .upgrade
        .as_ref()
        .and_then(|u| u.remediation.clone())
        .unwrap_or_default();
    let retries = r.retries.unwrap_or(0);
    Remediation {
        action: ReleaseAction::Upgrade,
        retries,
        remediate_last_failure: r.remediate_last_failure.unwrap_or(retries > 0),
        ignore_test_failures: r.ignore_test_failures,
        strategy: r.strategy.unwrap_or(RemediationStrategy::Rollback),
    }
}

/// The remediation of `status.lastAttemptedReleaseAction`.
pub fn active_remediation(hr: &HelmRelease, status: &HelmReleaseStatus) -> Option<Remediation> {
    match status.last_attempted_release_action {
        Some(ReleaseAction::Install) => Some(install_remediation(hr)),
        Some(ReleaseAction::Upgrade) => Some(upgrade_remediation(hr)),
        _ => None,
    }
}

/// The `RetryOnFailure` interval of the last attempted action, when that
/// is its strategy.
pub fn active_retry(hr: &HelmRelease, status: &HelmReleaseStatus) -> Option<std::time::Duration> {
    let strategy = match status.last_attempted_release_action {
        Some(ReleaseAction::Install) => hr.spec.install.as_ref().and_then(|i| i.strategy.clone()),
        Some(ReleaseAction::Upgrade) => hr.spec.upgrade.as_ref().and_then(|u| u.strategy.clone()),
        _ => None,
    }?;
    (strategy.name == ActionStrategyName::RetryOnFailure).then(|| {
        strategy
            .retry_interval
            .as_deref()
            .and_then(|d| flux_runtime::parse_duration(d).ok())
            .unwrap_or(std::time::Duration::from_secs(300))
    })
}

/// `driftDetection.mode` (`disabled` when not set).
pub fn drift_mode(hr: &HelmRelease) -> flux_api::helm::v2::DriftDetectionMode {
    hr.spec
        .drift_detection
        .as_ref()
        .and_then(|d| d.mode)
        .unwrap_or(flux_api::helm::v2::DriftDetectionMode::Disabled)
}

/// Whether tests are enabled.
pub fn test_enabled(hr: &HelmRelease) -> bool {
    hr.spec
        .test
        .as_ref()
        .and_then(|t| t.enable)
        .unwrap_or(false)
}

/// `test.ignoreFailures`
pub fn test_ignore_failures(hr: &HelmRelease) -> bool {
    hr.spec
        .test
        .as_ref()
        .and_then(|t| t.ignore_failures)
        .unwrap_or(false)
}

/// What the desired release is.
pub struct Desired<'a> {
    /// Chart name.
    pub chart_name: &'a str,
    /// Chart version (with OCI digest metadata when tracked).
    pub chart_version: &'a str,
    /// The values digest.
    pub values_digest: &'a str,
    /// The post-renderers digest.
    pub post_renderers_digest: Option<&'a str>,
    /// The commonMetadata digest.
    pub common_metadata_digest: Option<&'a str>,
}

/// The state of the release (`last` is the newest record in storage).
pub fn determine(
    hr: &HelmRelease,
    status: &HelmReleaseStatus,
    last: Option<&Release>,
    desired: &Desired<'_>,
) -> State {
    let Some(last) = last else {
        return State::Absent("no release in storage for object");
    };
    if last.info.status.starts_with("pending-") {
        return State::Locked(format!("release with status '{}'", last.info.status));
    }
    let Some(current) = status.history.first() else {
        if last.info.status == status::UNINSTALLED {
            return State::Absent("found uninstalled release in storage");
        }
        return State::Unmanaged("found existing release in storage".into());
    };
    if !snapshot::verifies(current, last) {
        return State::Unmanaged("release not observed to be made for object".into());
    }
    match last.info.status.as_str() {
        status::FAILED => State::Failed(""),
        status::UNINSTALLED => State::Absent("found uninstalled release in storage"),
        status::DEPLOYED => {
            if snapshot::chart_name(last) != desired.chart_name
                || snapshot::chart_version(last) != desired.chart_version
            {
                return State::OutOfSync("release chart changed");
            }
            if current.config_digest != desired.values_digest {
                return State::OutOfSync("release config values changed");
            }
            if status.observed_generation != hr.metadata.generation {
                if desired.post_renderers_digest
                    != status
                        .observed_post_renderers_digest
                        .as_deref()
                        .filter(|d| !d.is_empty())
                {
                    return State::OutOfSync("postrenderers digest has changed");
                }
                if desired.common_metadata_digest
                    != status
                        .observed_common_metadata_digest
                        .as_deref()
                        .filter(|d| !d.is_empty())
                {
                    return State::OutOfSync("common metadata digest has changed");
                }
            }
            if test_enabled(hr) {
                if current.test_hooks.is_none() {
                    return State::Untested;
                }
                if let Some(r) = active_remediation(hr, status)
                    && !r.ignore_tests(test_ignore_failures(hr))
                    && snapshot::has_test_in_phase(current, "Failed")
                {
                    return State::Failed("release has test in failed phase");
                }
            }
            State::InSync
        }
        other => State::Unknown(format!(
            "unable to determine state for release with status '{other}'"
        )),
    }
}

/// The newest older snapshot to roll back to (`Snapshots.Previous`).
pub fn previous(history: &[Snapshot], ignore_tests: bool) -> Option<&Snapshot> {
    let mut sorted: Vec<&Snapshot> = history.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.version));
    sorted.into_iter().skip(1).find(|s| {
        matches!(s.status.as_str(), "deployed" | "superseded")
            && (ignore_tests || !snapshot::has_test_in_phase(s, "Failed"))
    })
}

/// The next action for `state` (`forced`: a `forceAt` request is pending).
/// `rollback_target_exists` tells whether storage still holds a verifying
/// record of the previous snapshot.
pub fn next_action(
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    state: &State,
    forced: bool,
    rollback_target: &dyn Fn(&Snapshot) -> bool,
) -> Result<Next, Refusal> {
    let exceeded = |what: &str| {
        Refusal::RetriesExceeded(format!("exceeded maximum retries: cannot {what} release"))
    };
    match state {
        State::InSync => {
            if active_retry(hr, status).is_some() {
                snapshot::truncate_ignoring_previous(&mut status.history);
            } else {
                let ignore = active_remediation(hr, status).map_or(test_ignore_failures(hr), |r| {
                    r.ignore_tests(test_ignore_failures(hr))
                });
                snapshot::truncate(&mut status.history, ignore);
            }
            Ok(if forced { Next::Upgrade } else { Next::Done })
        }
        State::Locked(_) => Ok(Next::Unlock),
        State::Absent(_) => {
            if install_remediation(hr).exhausted(status) && !forced {
                return Err(exceeded("install"));
            }
            Ok(Next::Install)
        }
        State::Unmanaged(_) => {
            status.history.clear();
            Ok(Next::Upgrade)
        }
        State::OutOfSync(_) => {
            if upgrade_remediation(hr).exhausted(status) && !forced {
                return Err(exceeded("upgrade"));
            }
            Ok(Next::Upgrade)
        }
        State::Untested => Ok(Next::Test),
        State::Drifted => Ok(
            if drift_mode(hr) == flux_api::helm::v2::DriftDetectionMode::Enabled {
                Next::CorrectDrift
            } else {
                Next::Done
            },
        ),
        State::Unknown(why) => Err(Refusal::StateError(why.clone())),
        State::Failed(_) => {
            if active_retry(hr, status).is_some() {
                snapshot::truncate_ignoring_previous(&mut status.history);
                return Ok(Next::Upgrade);
            }
            let Some(remediation) = active_remediation(hr, status) else {
                return Ok(Next::Upgrade);
            };
            if remediation.failure_count(status) <= 0 || forced {
                return Ok(Next::Upgrade);
            }
            if remediation.exhausted(status) && !remediation.remediate_last_failure {
                return Err(exceeded("remediate failed"));
            }
            let ignore = remediation.ignore_tests(test_ignore_failures(hr));
            snapshot::truncate(&mut status.history, ignore);
            match remediation.strategy {
                RemediationStrategy::Rollback => match previous(&status.history, ignore) {
                    None => Err(Refusal::MissingRollbackTarget(
                        "missing target release for rollback: cannot remediate failed release"
                            .into(),
                    )),
                    Some(prev) if rollback_target(prev) => Ok(Next::Rollback(prev.version)),
                    Some(_) => Ok(Next::Upgrade),
                },
                RemediationStrategy::Uninstall => Ok(Next::UninstallRemediation),
            }
        }
    }
}
