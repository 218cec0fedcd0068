//! The event the controllers POST (`fluxcd/pkg/apis/event/v1beta1.Event`)
//! and what the event server does to it before any Alert sees it:
//! metadata clean-up, the rate-limit key, the token removed.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::gojson;

/// The group of the keys copied from object annotations.
pub const EVENT_GROUP: &str = "event.toolkit.fluxcd.io";

/// `corev1.ObjectReference` as the event carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectReference {
    /// Kind of the object (`Kustomization`).
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its UID.
    pub uid: String,
    /// `group/version`.
    pub api_version: String,
    /// Its resourceVersion when the event was emitted.
    pub resource_version: String,
    /// A field of it (unused by Flux).
    pub field_path: String,
}

impl ObjectReference {
    /// The API group of the object (`kustomize.toolkit.fluxcd.io`), empty
    /// for the core group.
    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }
}

/// An event, as received and as forwarded to providers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `trace`, `info` or `error`.
    pub severity: String,
    /// When it happened (RFC 3339), `None` for Go's zero time.
    pub timestamp: Option<Timestamp>,
    /// What happened.
    pub message: String,
    /// Why (`ReconciliationSucceeded`).
    pub reason: String,
    /// Metadata: group-prefixed keys on the way in, bare keys once an
    /// Alert combined them.
    pub metadata: BTreeMap<String, String>,
    /// `kustomize-controller`, …
    pub reporting_controller: String,
    /// The Pod that emitted it.
    pub reporting_instance: String,
}

/// Go's name of a JSON value's type in `UnmarshalTypeError`.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `time.RFC3339` of a whole second in UTC, as `metav1.Time` writes it.
pub fn rfc3339(ts: &Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Event {
    /// Parses a request body as Go's `json.Unmarshal` reads the event:
    /// unknown fields ignored, `null` leaves a field empty, a value of the
    /// wrong type is an error.
    pub fn parse(body: &[u8]) -> Result<Event, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let root = match &value {
            Value::Object(map) => map,
            Value::Null => return Ok(Event::default()),
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type v1beta1.Event",
                    kind(other)
                ));
            }
        };
        let text = |map: &serde_json::Map<String, Value>, field: &str| -> Result<String, String> {
            match map.get(field) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!(
                    "json: cannot unmarshal {} into Go struct field Event.{field} of type string",
                    kind(other)
                )),
            }
        };
        let mut event = Event::default();
        match root.get("involvedObject") {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                event.involved_object = ObjectReference {
                    kind: text(o, "kind")?,
                    namespace: text(o, "namespace")?,
                    name: text(o, "name")?,
                    uid: text(o, "uid")?,
                    api_version: text(o, "apiVersion")?,
                    resource_version: text(o, "resourceVersion")?,
                    field_path: text(o, "fieldPath")?,
                };
            }
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field Event.involvedObject of type v1.ObjectReference",
                    kind(other)
                ));
            }
        }
        event.severity = text(root, "severity")?;
        event.message = text(root, "message")?;
        event.reason = text(root, "reason")?;
        event.reporting_controller = text(root, "reportingController")?;
        event.reporting_instance = text(root, "reportingInstance")?;
        let stamp = text(root, "timestamp")?;
        if !stamp.is_empty() {
            event.timestamp = Some(stamp.parse::<Timestamp>().map_err(|e| e.to_string())?);
        }
        match root.get("metadata") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            event.metadata.insert(k.clone(), s.clone());
                        }
                        Value::Null => {
                            event.metadata.insert(k.clone(), String::new());
                        }
                        other => {
                            return Err(format!(
                                "json: cannot unmarshal {} into Go struct field Event.metadata of type string",
                                kind(other)
                            ));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field Event.metadata of type map[string]string",
                    kind(other)
                ));
            }
        }
        Ok(event)
    }

    /// The event as Go marshals it: fields in declaration order, metadata
    /// keys sorted, HTML characters escaped.
    pub fn to_value(&self) -> Value {
        let o = &self.involved_object;
        let mut object = serde_json::Map::new();
        for (key, value) in [
            ("kind", &o.kind),
            ("namespace", &o.namespace),
            ("name", &o.name),
            ("uid", &o.uid),
            ("apiVersion", &o.api_version),
            ("resourceVersion", &o.resource_version),
            ("fieldPath", &o.field_path),
        ] {
            if !value.is_empty() {
                object.insert(key.to_string(), Value::from(value.as_str()));
            }
        }
        let mut event = json!({
            "involvedObject": object,
            "severity": self.severity,
            "timestamp": self.timestamp.as_ref().map(rfc3339),
            "message": self.message,
            "reason": self.reason,
        });
        if !self.metadata.is_empty() {
            event["metadata"] = json!(self.metadata);
        }
        event["reportingController"] = Value::from(self.reporting_controller.as_str());
        if !self.reporting_instance.is_empty() {
            event["reportingInstance"] = Value::from(self.reporting_instance.as_str());
        }
        event
    }

    /// The event's JSON text as upstream's `json.Marshal` writes it.
    pub fn to_go_json(&self) -> String {
        gojson::to_string(&self.to_value())
    }

    /// The metadata key of the involved object's group (`<group>/<key>`).
    fn object_key(&self, key: &str) -> String {
        format!("{}/{key}", self.involved_object.group())
    }

    /// Keeps only `event.toolkit.fluxcd.io/` keys and keys of the object's
    /// group, without `<group>/checksum` and `<group>/digest` (upstream's
    /// `cleanupMetadata`).
    pub fn clean_metadata(&mut self) {
        let event_prefix = format!("{EVENT_GROUP}/");
        let object_prefix = format!("{}/", self.involved_object.group());
        let excluded = [self.object_key("checksum"), self.object_key("digest")];
        self.metadata.retain(|key, _| {
            !excluded.iter().any(|x| x.eq_ignore_ascii_case(key))
                && (key.starts_with(&event_prefix) || key.starts_with(&object_prefix))
        });
    }

    /// The rate-limit key (upstream's `eventKeyFunc`): the object, the
    /// message, and the revisions and token when present.
    pub fn rate_limit_key(&self) -> String {
        let o = &self.involved_object;
        let mut parts = vec![
            "event".to_string(),
            format!("name={}", o.name),
            format!("namespace={}", o.namespace),
            format!("kind={}", o.kind),
            format!("message={}", self.message),
        ];
        for key in ["originRevision", "revision", "token"] {
            if let Some(value) = self.metadata.get(&self.object_key(key)) {
                parts.push(format!("{key}={value}"));
            }
        }
        crate::hex(&crate::sha256(parts.join("/").as_bytes()))
    }

    /// Drops `<group>/token`: it only serves the rate limit.
    pub fn exclude_internal_metadata(&mut self) {
        let key = self.object_key("token");
        self.metadata.remove(&key);
    }

    /// `kind/namespace/name`, as upstream's messages name the object.
    pub fn object_string(&self) -> String {
        let o = &self.involved_object;
        format!("{}/{}/{}", o.kind, o.namespace, o.name)
    }

    /// `<lowercase kind>/<name>.<namespace>`, the chat providers' title.
    pub fn object_title(&self) -> String {
        let o = &self.involved_object;
        format!("{}/{}.{}", o.kind.to_lowercase(), o.name, o.namespace)
    }

    /// Whether metadata `key` is `value` (after combination: bare keys).
    pub fn has_metadata(&self, key: &str, value: &str) -> bool {
        self.metadata.get(key).is_some_and(|v| v == value)
    }

    /// Whether this is kustomize-controller's final commit-status event.
    pub fn is_commit_status_update(&self) -> bool {
        self.has_metadata("commit_status", "update")
    }

    /// The revision of a combined event: `originRevision`, else `revision`.
    pub fn revision(&self) -> Option<&str> {
        self.metadata
            .get("originRevision")
            .or_else(|| self.metadata.get("revision"))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn event() -> Event {
        Event::parse(
            br#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u-1","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"7"},
                "severity":"info","timestamp":"2026-12-07T10:00:00.5+01:00","message":"Applied <a> & b","reason":"ReconciliationSucceeded",
                "metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:abc","kustomize.toolkit.fluxcd.io/checksum":"x",
                            "kustomize.toolkit.fluxcd.io/token":"t","event.toolkit.fluxcd.io/env":"prod","other.io/x":"y"},
                "reportingController":"kustomize-controller"}"#,
        )
        .unwrap()
    }

    #[test]
    fn metadata_is_cleaned_as_upstream() {
        let mut e = event();
        e.clean_metadata();
        let keys: Vec<_> = e.metadata.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "event.toolkit.fluxcd.io/env",
                "kustomize.toolkit.fluxcd.io/revision",
                "kustomize.toolkit.fluxcd.io/token"
            ]
        );
        e.exclude_internal_metadata();
        assert!(!e.metadata.contains_key("kustomize.toolkit.fluxcd.io/token"));
    }

    #[test]
    fn nulls_are_empty_and_wrong_types_errors_as_go() {
        let e = Event::parse(br#"{"involvedObject":{"kind":"GitRepository","resourceVersion":null},"message":null,"metadata":null}"#).unwrap();
        assert_eq!(e.involved_object.kind, "GitRepository");
        assert_eq!(e.involved_object.resource_version, "");
        assert_eq!(
            Event::parse(br#"{"message": 1}"#),
            Err(
                "json: cannot unmarshal number into Go struct field Event.message of type string"
                    .to_string()
            )
        );
        assert!(Event::parse(b"{not json").is_err());
    }

    #[test]
    fn marshals_as_go() {
        let e = event();
        let text = e.to_go_json();
        assert!(
            text.starts_with(r#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u-1","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"7"},"severity":"info","timestamp":"2026-12-07T09:00:00Z","message":"Applied \u003ca\u003e \u0026 b""#),
            "{text}"
        );
        assert!(text.ends_with(r#""reportingController":"kustomize-controller"}"#));
    }

    #[test]
    fn rate_limit_key_includes_revision_and_token() {
        let mut a = event();
        let mut b = event();
        assert_eq!(a.rate_limit_key(), b.rate_limit_key());
        b.metadata
            .insert("kustomize.toolkit.fluxcd.io/token".into(), "other".into());
        assert_ne!(a.rate_limit_key(), b.rate_limit_key());
        a.metadata.clear();
        // sha256("event/name=apps/namespace=flux-system/kind=Kustomization/message=Applied <a> & b")
        assert_eq!(a.rate_limit_key().len(), 64);
    }
}
