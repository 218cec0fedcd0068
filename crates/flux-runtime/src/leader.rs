//! Leader election on a `coordination.k8s.io/v1` Lease: controllers run
//! only while this process holds it.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;

/// Leader election could not be configured or run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LeaderError(pub String);

impl From<String> for LeaderError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// `--leader-election-*` timings.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTimes {
    /// How long a Lease is valid without renewal.
    pub duration: Duration,
    /// How long the leader tries to renew before giving up.
    pub renew_deadline: Duration,
    /// How often candidates retry and the leader renews.
    pub retry_period: Duration,
}

impl LeaseTimes {
    /// Checks upstream's constraints: duration > renew deadline > retry
    /// period, all in whole seconds (the Lease API counts seconds).
    pub fn validate(&self) -> Result<(), LeaderError> {
        let whole = |d: Duration| d.as_secs() >= 1 && d.subsec_nanos() == 0;
        if !(whole(self.duration) && whole(self.renew_deadline) && whole(self.retry_period)) {
            return Err(LeaderError(
                "leader election durations must be whole seconds".to_string(),
            ));
        }
        if self.duration <= self.renew_deadline {
            return Err(LeaderError(
                "--leader-election-lease-duration must be greater than --leader-election-renew-deadline"
                    .to_string(),
            ));
        }
        if self.renew_deadline <= self.retry_period {
            return Err(LeaderError(
                "--leader-election-renew-deadline must be greater than --leader-election-retry-period"
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// Waits for the Lease `namespace/name`, then runs `work` until it ends,
/// the Lease is lost (an error) or `stop` completes (the Lease is released
/// first when `release_on_cancel`).
pub async fn run_as_leader(
    client: Client,
    namespace: &str,
    name: &str,
    times: LeaseTimes,
    release_on_cancel: bool,
    work: impl Future<Output = ()>,
    stop: impl Future<Output = ()>,
) -> Result<(), LeaderError> {
    let identity = format!(
        "{}_{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "fluxd".to_string()),
        std::process::id()
    );
    // Renew once per retry period: the Lease is refreshed `grace` seconds
    // before it would expire.
    let grace = times.duration.as_secs() - times.retry_period.as_secs();
    let build = || {
        LeaseManagerBuilder::new(client.clone(), name)
            .with_namespace(namespace)
            .with_identity(&identity)
            .with_duration(times.duration.as_secs())
            .with_grace(grace)
            .build()
    };
    tokio::pin!(stop);
    tracing::info!(lease = %format!("{namespace}/{name}"), identity = %identity, "attempting to acquire leader lease");
    // A lease manager caches the lease and sleeps until the holder's lease
    // would expire, even when the holder releases it early. Candidates look
    // again every retry period with a fresh manager instead, as
    // controller-runtime does, so that a released lease is taken at once.
    let manager = loop {
        let attempt = async {
            let manager = build().await?;
            match tokio::time::timeout(times.retry_period, manager.changed()).await {
                Ok(Ok(true)) => Ok(Some(manager)),
                Ok(Ok(false)) | Err(_) => Ok(None),
                Ok(Err(e)) => Err(e),
            }
        };
        tokio::select! {
            acquired = attempt => match acquired {
                Ok(Some(manager)) => break manager,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "error acquiring the leader lease");
                    tokio::time::sleep(times.retry_period).await;
                }
            },
            () = &mut stop => return Ok(()),
        }
    };
    tracing::info!(lease = %format!("{namespace}/{name}"), "successfully acquired lease");
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            changed = manager.changed() => match changed {
                Ok(true) => {}
                Ok(false) => break Err(format!("leader election lost: lease {namespace}/{name}")),
                Err(e) => {
                    tracing::error!(error = %e, "error renewing the leader lease");
                    tokio::time::sleep(times.retry_period).await;
                }
            },
            () = &mut work => break Err("the controller stopped".to_string()),
            () = &mut stop => break Ok(()),
        }
    };
    if release_on_cancel
        && result.is_ok()
        && let Err(e) = manager.release().await
    {
        tracing::error!(error = %e, "releasing the leader lease");
    }
    result.map_err(LeaderError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_defaults_are_valid_and_inversions_are_refused() {
        let s = Duration::from_secs;
        let times = |d, r, p| LeaseTimes {
            duration: s(d),
            renew_deadline: s(r),
            retry_period: s(p),
        };
        assert!(times(35, 30, 5).validate().is_ok());
        assert!(times(30, 30, 5).validate().is_err());
        assert!(times(35, 5, 5).validate().is_err());
        let fractional = LeaseTimes {
            duration: Duration::from_millis(35_500),
            ..times(35, 30, 5)
        };
        assert!(fractional.validate().is_err());
    }
}
