//! Waiting on a condition of the cluster or a server, never a fixed sleep.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long [`eventually`] waits.
pub const EVENTUALLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls `check` every 100 ms until it returns `Some`, for at most
/// [`EVENTUALLY_TIMEOUT`]; the error names `what` was awaited.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, EVENTUALLY_TIMEOUT, check).await
}

/// [`eventually`] with its own limit, for steps whose duration depends on
/// the machine's load (a 2 GiB object through git), not on our code.
pub async fn eventually_within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
