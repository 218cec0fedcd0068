//! Events as upstream controllers emit them: a Kubernetes Event on the
//! object (reported by `source-controller`, `kustomize-controller`, …) and,
//! when `--events-addr` is set, the same event POSTed as JSON to the
//! notification endpoint (the payload of `event.toolkit.fluxcd.io`:
//! `involvedObject`, `severity`, `timestamp`, `message`, `reason`,
//! `metadata`, `reportingController`, `reportingInstance`).
//!
//! The Kubernetes Event is a `v1` Event as client-go's recorder writes it
//! for upstream (`<object>.<hex nanoseconds>`, `source.component`, the
//! event metadata as annotations), and repeats are counted as client-go's
//! correlator counts them: the same object, type, reason *and message*
//! raise `count` and `lastTimestamp` of the first Event; another message
//! is another Event. (kube-runtime's recorder keys its series without the
//! message, so a second, different message of the same reason was lost.)
//! client-go's aggregation of ten similar events and its spam filter are
//! not reproduced.
//!
//! Forwarding runs in the background (5 s per attempt, three attempts on
//! connection errors and 5xx answers, none on 4xx): a slow or absent
//! notification service never delays a reconciliation. `trace` events go
//! to Kubernetes only, as upstream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

pub const EVENT_ANNOTATION_PREFIX: &str = "event.toolkit.fluxcd.io/";
/// Longest message forwarded to the notification endpoint.
const MAX_FORWARDED_MESSAGE: usize = 39_000;
/// Longest note of a Kubernetes Event.
/// Repeats remembered (client-go's correlator keeps as many).
const MAX_SERIES: usize = 4096;

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
    client: Client,
    controller: String,
    instance: String,
    webhook: Option<Webhook>,
    series: Arc<Mutex<HashMap<SeriesKey, Series>>>,
}

/// What makes two events the same one (client-go's `getEventKey`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct SeriesKey {
    object: String,
    type_: &'static str,
    reason: String,
    message: String,
}

/// The Event written for a key, and how often it happened.
#[derive(Clone, Debug)]
struct Series {
    name: String,
    count: i32,
    used: Instant,
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
        Self {
            client,
            controller: controller.to_string(),
            instance,
            webhook: None,
            series: Arc::new(Mutex::new(HashMap::new())),
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
        let annotations = self.annotations(object, &metadata);
        // An event that cannot be written must not fail a reconciliation.
        if let Err(e) = self
            .record(object, severity, reason, message, annotations)
            .await
        {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
        if severity == Severity::Trace {
            return;
        }
        if let Some(webhook) = &self.webhook {
            let payload = self.payload(object, severity, reason, message, metadata);
            let webhook = webhook.clone();
            tokio::spawn(async move { webhook.post(payload).await });
        }
    }

    /// The event's metadata keys prefixed with the object's API group,
    /// and the object's `event.toolkit.fluxcd.io/` annotations.
    fn annotations<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        metadata: &BTreeMap<&str, String>,
    ) -> serde_json::Map<String, Value> {
        let group = K::group(&());
        let mut meta = serde_json::Map::new();
        for (key, value) in object.annotations() {
            if key.starts_with(EVENT_ANNOTATION_PREFIX) {
                meta.insert(key.clone(), Value::from(value.clone()));
            }
        }
        for (key, value) in metadata {
            meta.insert(format!("{group}/{key}"), Value::from(value.clone()));
        }
        meta
    }

    /// Writes the Kubernetes Event: a repeat raises the count of the one
    /// written before (a new one if that is gone), anything else is new.
    async fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        severity: Severity,
        reason: &str,
        message: &str,
        annotations: serde_json::Map<String, Value>,
    ) -> Result<(), kube::Error> {
        let reference = object.object_ref(&());
        let namespace = reference
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let type_ = match severity {
            Severity::Error => "Warning",
            Severity::Info | Severity::Trace => "Normal",
        };
        let key = SeriesKey {
            object: format!(
                "{}/{}/{}/{}/{}",
                reference.api_version.clone().unwrap_or_default(),
                reference.kind.clone().unwrap_or_default(),
                namespace,
                reference.name.clone().unwrap_or_default(),
                reference.uid.clone().unwrap_or_default()
            ),
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        let now = crate::now();
        let seen = self.series.lock().ok().and_then(|mut series| {
            series.get_mut(&key).map(|s| {
                s.count += 1;
                s.used = Instant::now();
                s.clone()
            })
        });
        let events: Api<CoreEvent> = Api::namespaced(self.client.clone(), &namespace);
        if let Some(seen) = seen {
            let patch = json!({"count": seen.count, "lastTimestamp": now, "message": message});
            match events
                .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = reference.name.clone().unwrap_or_default();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let event: CoreEvent = serde_json::from_value(json!({
            "metadata": {
                "name": format!("{name}.{nanos:x}"),
                "namespace": namespace,
                "annotations": annotations,
            },
            "involvedObject": reference,
            "reason": reason,
            "message": message,
            "type": type_,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": self.controller},
            "reportingComponent": self.controller,
            "reportingInstance": "",
        }))
        .map_err(kube::Error::SerdeError)?;
        let created = events.create(&PostParams::default(), &event).await?;
        if let Ok(mut series) = self.series.lock() {
            if series.len() >= MAX_SERIES
                && let Some(oldest) = series
                    .iter()
                    .min_by_key(|(_, s)| s.used)
                    .map(|(k, _)| k.clone())
            {
                series.remove(&oldest);
            }
            series.insert(
                key,
                Series {
                    name: created.name_any(),
                    count: 1,
                    used: Instant::now(),
                },
            );
        }
        Ok(())
    }

    fn payload<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        severity: Severity,
        reason: &str,
        message: &str,
        metadata: BTreeMap<&str, String>,
    ) -> Value {
        let meta = self.annotations(object, &metadata);
        let reference = object.object_ref(&());
        // `corev1.ObjectReference` as Go marshals it: empty fields omitted.
        let mut involved = serde_json::Map::new();
        for (key, value) in [
            ("kind", &reference.kind),
            ("namespace", &reference.namespace),
            ("name", &reference.name),
            ("uid", &reference.uid),
            ("apiVersion", &reference.api_version),
            ("resourceVersion", &reference.resource_version),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                involved.insert(key.to_string(), Value::from(value));
            }
        }
        // Go's field order; `metadata` and `reportingInstance` omitted
        // when empty.
        let mut payload = json!({
            "involvedObject": involved,
            "severity": if severity == Severity::Error { "error" } else { "info" },
            // `metav1.Time`: RFC 3339 in whole seconds, UTC.
            "timestamp": crate::now().0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "message": truncate(message, MAX_FORWARDED_MESSAGE),
            "reason": reason,
        });
        if !meta.is_empty() {
            payload["metadata"] = Value::Object(meta);
        }
        payload["reportingController"] = Value::from(self.controller.as_str());
        if !self.instance.is_empty() {
            payload["reportingInstance"] = Value::from(self.instance.as_str());
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
