//! Upstream's HTTP policy for providers (`hashicorp/go-retryablehttp` as
//! `internal/notifier/client.go` sets it up): four retries on connection
//! errors, `429` and `5xx` (not `501`), waits of 2s doubling up to 30s (a
//! `Retry-After` of a 429/503 honoured), the whole send bounded by the
//! Provider's timeout; success is `200`, `201` or `202`, anything else an
//! error carrying the answer's body.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};

use super::Config;

/// One request of a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// `POST`, or `PUT` (matrix).
    pub method: Method,
    /// Where.
    pub url: String,
    /// Headers beyond `Content-Type: application/json`, in order.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// How the answer is judged.
    pub validate: Validate,
    /// Whether `Content-Type: application/json` is sent.
    pub json: bool,
}

impl Outgoing {
    /// A `GET` without a body.
    pub fn get(url: &str) -> Self {
        Self {
            method: Method::GET,
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            validate: Validate::Status,
            json: false,
        }
    }

    /// A JSON `POST` of `body` (already Go-marshalled).
    pub fn post(url: &str, body: String) -> Self {
        Self {
            method: Method::POST,
            url: url.to_string(),
            headers: Vec::new(),
            body: body.into_bytes(),
            validate: Validate::Status,
            json: true,
        }
    }

    /// Adds a header (`Set` semantics: replaces one of the same name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// How an answer is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validate {
    /// 200, 201 or 202.
    Status,
    /// Slack's `chat.postMessage`: the body's `ok` (`error` otherwise).
    SlackApi,
}

/// Sends provider requests.
#[derive(Clone, Debug)]
pub struct Sender {
    /// First wait between attempts.
    pub retry_wait_min: Duration,
    /// Longest wait between attempts.
    pub retry_wait_max: Duration,
    /// Retries after the first attempt.
    pub retry_max: u32,
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            retry_wait_min: Duration::from_secs(2),
            retry_wait_max: Duration::from_secs(30),
            retry_max: 4,
        }
    }
}

/// An answer.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Bytes,
}

fn redact(url: &str) -> String {
    // Go's `redactURL`: the password of the user info becomes "xxxxx".
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:xxxxx@{host}");
    }
    url.to_string()
}

impl Sender {
    /// Sends `request` with retries; the final answer, whatever its status.
    pub async fn send(&self, config: &Config, request: &Outgoing) -> Result<Answer, String> {
        let client = flux_oci::http::client_with(config.ca.as_deref(), config.proxy.as_ref())
            .map_err(|e| e.to_string())?;
        let attempts = self.retry_max + 1;
        let mut last_error = None;
        for attempt in 0..attempts {
            let mut builder = Request::builder()
                .method(request.method.clone())
                .uri(&request.url)
                .header(http::header::USER_AGENT, "flux-notification-controller");
            if request.json {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            }
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let built = builder
                .body(Full::new(Bytes::from(request.body.clone())))
                .map_err(|e| format!("failed to create a new request: {e}"))?;
            let wait_hint;
            match client.request(built).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .map_err(|e| format!("failed to read response body: {e}"))?;
                    let retry = status == 429 || (status >= 500 && status != 501);
                    if !retry {
                        return Ok(Answer { status, body });
                    }
                    wait_hint = retry_after.filter(|_| status == 429 || status == 503);
                    last_error = None;
                }
                Err(e) => {
                    let mut message = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        message = format!("{message}: {s}");
                        source = s.source();
                    }
                    last_error = Some(message);
                    wait_hint = None;
                }
            }
            if attempt + 1 < attempts {
                let backoff = wait_hint.map(Duration::from_secs).unwrap_or_else(|| {
                    self.retry_wait_min
                        .saturating_mul(2u32.saturating_pow(attempt))
                        .min(self.retry_wait_max)
                });
                tokio::time::sleep(backoff).await;
            }
        }
        let giving_up = format!(
            "{} {} giving up after {attempts} attempt(s)",
            request.method,
            redact(&request.url)
        );
        Err(match last_error {
            Some(e) => format!("{giving_up}: {e}"),
            None => giving_up,
        })
    }

    /// Upstream's `postMessage`: one request, judged by its validator.
    pub async fn post_message(&self, config: &Config, request: Outgoing) -> Result<(), String> {
        let answer = self
            .send(config, &request)
            .await
            .map_err(|e| format!("failed to execute request: {e}"))?;
        let verdict = match request.validate {
            Validate::Status => {
                if (200..=202).contains(&answer.status) {
                    Ok(())
                } else {
                    Err(format!(
                        "request failed with status code {}, {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    ))
                }
            }
            Validate::SlackApi => {
                let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&answer.body);
                match parsed {
                    Err(e) => Err(format!("unable to unmarshal response body: {e}")),
                    Ok(v) if v.get("ok").and_then(serde_json::Value::as_bool) == Some(true) => {
                        Ok(())
                    }
                    Ok(v) => Err(format!(
                        "Slack responded with error: {}",
                        v.get("error")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                    )),
                }
            }
        };
        verdict.map_err(|e| format!("request failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_as_go() {
        assert_eq!(
            redact("https://user:secret@example.com/x"),
            "https://user:xxxxx@example.com/x"
        );
        assert_eq!(redact("https://example.com/a@b"), "https://example.com/a@b");
    }
}
