//! Events as upstream controllers emit them: a Kubernetes Event on the
//! object (reported by `source-controller`, `kustomize-controller`, …) and,
//! when `--events-addr` is set, the same event POSTed as JSON to the
//! notification endpoint (the payload of `event.toolkit.fluxcd.io`:
//! `involvedObject`, `severity`, `timestamp`, `message`, `reason`,
//! `metadata`, `reportingController`, `reportingInstance`).
//!
//! Forwarding runs in the background (5 s per attempt, three attempts on
//! connection errors and 5xx answers, none on 4xx): a slow or absent
//! notification service never delays a reconciliation. `trace` events go
//! to Kubernetes only, as upstream.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

/// Annotations with this prefix are copied into forwarded events' metadata.
pub const EVENT_ANNOTATION_PREFIX: &str = "event.toolkit.fluxcd.io/";
/// Longest message forwarded to the notification endpoint.
const MAX_FORWARDED_MESSAGE: usize = 39_000;
/// Longest note of a Kubernetes Event.
const MAX_NOTE: usize = 1024;

/// How important an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Kubernetes only; not forwarded.
    Trace,
    /// A Normal event; forwarded with severity `info`.
    Info,
    /// A Warning event; forwarded with severity `error`.
    Error,
}

/// An events address (`--events-addr`) that is not an `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookError(pub String);

impl From<String> for WebhookError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<WebhookError> for String {
    fn from(error: WebhookError) -> String {
        error.0
    }
}

/// Records events for one controller.
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
    controller: String,
    instance: String,
    webhook: Option<Webhook>,
}

#[derive(Clone)]
struct Webhook {
    url: http::Uri,
    client: HttpClient<HttpConnector, Full<Bytes>>,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (upstream's controller names).
    pub fn new(client: Client, controller: &str) -> Self {
        let instance = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default();
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: (!instance.is_empty()).then(|| instance.clone()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
            controller: controller.to_string(),
            instance,
            webhook: None,
        }
    }

    /// Also forwards events to `url` (`--events-addr`, an `http://` URL).
    pub fn with_webhook(mut self, url: &str) -> Result<Self, WebhookError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("invalid events address {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(WebhookError(format!(
                "invalid events address {url:?}: an http:// URL is expected"
            )));
        }
        let client = HttpClient::builder(TokioExecutor::new()).build_http();
        self.webhook = Some(Webhook { url: uri, client });
        Ok(self)
    }

    /// A Normal event.
    pub async fn normal<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: &str,
        message: &str,
    ) {
        self.event(object, Severity::Info, reason, message, BTreeMap::new())
            .await;
    }

    /// A Warning event.
    pub async fn warning<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        reason: &str,
        message: &str,
    ) {
        self.event(object, Severity::Error, reason, message, BTreeMap::new())
            .await;
    }

    /// An event with `metadata`, whose keys get the object's API group as
    /// prefix (`revision` → `source.toolkit.fluxcd.io/revision`).
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        severity: Severity,
        reason: &str,
        message: &str,
        metadata: BTreeMap<&str, String>,
    ) {
        let event = Event {
            type_: match severity {
                Severity::Error => EventType::Warning,
                Severity::Info | Severity::Trace => EventType::Normal,
            },
            reason: reason.to_string(),
            note: Some(truncate(message, MAX_NOTE)),
            action: reason.to_string(),
            secondary: None,
        };
        let reference = object.object_ref(&());
        // An event that cannot be written must not fail a reconciliation.
        let _ = self.recorder.publish(&event, &reference).await;
        if severity == Severity::Trace {
            return;
        }
        if let Some(webhook) = &self.webhook {
            let payload = self.payload(object, severity, reason, message, metadata);
            let webhook = webhook.clone();
            tokio::spawn(async move { webhook.post(payload).await });
        }
    }

    fn payload<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        severity: Severity,
        reason: &str,
        message: &str,
        metadata: BTreeMap<&str, String>,
    ) -> Value {
        let group = K::group(&());
        let mut meta = serde_json::Map::new();
        for (key, value) in object.annotations() {
            if key.starts_with(EVENT_ANNOTATION_PREFIX) {
                meta.insert(key.clone(), Value::from(value.clone()));
            }
        }
        for (key, value) in metadata {
            meta.insert(format!("{group}/{key}"), Value::from(value));
        }
        let reference = object.object_ref(&());
        let mut payload = json!({
            "involvedObject": {
                "kind": reference.kind,
                "namespace": reference.namespace,
                "name": reference.name,
                "uid": reference.uid,
                "apiVersion": reference.api_version,
                "resourceVersion": reference.resource_version,
            },
            "severity": if severity == Severity::Error { "error" } else { "info" },
            "timestamp": crate::now().0.to_string(),
            "message": truncate(message, MAX_FORWARDED_MESSAGE),
            "reason": reason,
            "reportingController": self.controller,
            "reportingInstance": self.instance,
        });
        if !meta.is_empty() {
            payload["metadata"] = Value::Object(meta);
        }
        payload
    }
}

impl Webhook {
    async fn post(&self, payload: Value) {
        let body = Bytes::from(payload.to_string());
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
            let request = http::Request::post(self.url.clone())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()));
            let Ok(request) = request else { return };
            let sent =
                tokio::time::timeout(Duration::from_secs(5), self.client.request(request)).await;
            match sent {
                Ok(Ok(response)) if response.status().is_server_error() => {
                    tracing::debug!(status = %response.status(), "event forwarding refused, retrying");
                }
                Ok(Ok(response)) => {
                    if !response.status().is_success() {
                        tracing::debug!(status = %response.status(), "event forwarding refused");
                    }
                    return;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "event forwarding failed"),
                Err(_) => tracing::debug!("event forwarding timed out"),
            }
        }
        tracing::error!(url = %self.url, "unable to forward event to the notification endpoint");
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }
}
