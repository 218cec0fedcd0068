//! Downloading a source artifact over HTTP as upstream's fetchers do
//! (retryablehttp, `--artifact-fetch-retries` 9): connection errors, 429
//! and 5xx but 501 are retried, waiting 1 s, 2 s, 4 s … up to 30 s — a
//! source-controller that produced the artifact before its Pod became
//! Ready behind the Service is the usual case. The body is bounded.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use crate::format_duration;

/// How many times a failed download is retried.
pub const FETCH_RETRIES: u32 = 9;

/// A download that failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered 404 (the artifact is gone, or not there yet).
    #[error("artifact not found")]
    NotFound,
    /// Anything else, with its cause.
    #[error("{0}")]
    Failed(String),
}

/// An error and its causes, `outer: inner: root` (hyper's client errors
/// say only "client error (Connect)" on their own).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// GETs `url` (plain HTTP, as artifacts are served in the cluster); a body
/// longer than `max_bytes + 1` is an error (one more byte is read so that
/// the caller's own limit check sees it); each attempt within `timeout`.
pub async fn fetch(url: &str, max_bytes: u64, timeout: Duration) -> Result<Bytes, FetchError> {
    let fail = FetchError::Failed;
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| fail(format!("invalid URL '{url}': {e}")))?;
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut attempt = 0u32;
    let response = loop {
        let request = http::Request::get(uri.clone())
            .body(Empty::<Bytes>::new())
            .map_err(|e| fail(e.to_string()))?;
        let result = tokio::time::timeout(timeout, client.request(request))
            .await
            .map_err(|_| format!("timeout after {}", format_duration(timeout)))
            .and_then(|r| r.map_err(|e| format!("GET {url}: {}", error_chain(&e))));
        let retryable = match &result {
            Err(_) => true,
            Ok(response) => {
                let status = response.status();
                status == http::StatusCode::TOO_MANY_REQUESTS
                    || (status.is_server_error() && status != http::StatusCode::NOT_IMPLEMENTED)
            }
        };
        if !retryable || attempt >= FETCH_RETRIES {
            break result.map_err(fail)?;
        }
        let wait = Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30));
        tokio::time::sleep(wait).await;
        attempt += 1;
    };
    let status = response.status();
    if status == http::StatusCode::NOT_FOUND {
        return Err(FetchError::NotFound);
    }
    if !status.is_success() {
        return Err(fail(format!("GET {url}: unexpected status {status}")));
    }
    let max = usize::try_from(max_bytes.saturating_add(1)).unwrap_or(usize::MAX);
    let body = tokio::time::timeout(timeout, Limited::new(response.into_body(), max).collect())
        .await
        .map_err(|_| fail(format!("timeout after {}", format_duration(timeout))))?
        .map_err(|e| fail(e.to_string()))?
        .to_bytes();
    Ok(body)
}
