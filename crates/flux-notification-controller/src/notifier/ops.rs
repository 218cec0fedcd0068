//! Alerting and observability providers: opsgenie, alertmanager, grafana.

use base64::Engine as _;
use serde_json::json;

use super::{Config, Outgoing, valid_request_uri};
use crate::event::{Event, rfc3339};
use crate::gojson;

type Built = Result<Option<Outgoing>, String>;

/// `opsgenie`: an alert keyed by kind and name, `GenieKey` auth.
pub fn opsgenie(config: &Config, event: &Event) -> Built {
    valid_request_uri(&config.address)
        .map_err(|e| format!("invalid Opsgenie hook URL {}: '{e}'", config.address))?;
    if config.token.is_empty() {
        return Err("empty Opsgenie apikey/token".to_string());
    }
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let mut details = event.metadata.clone();
    details.insert("severity".into(), event.severity.clone());
    let o = &event.involved_object;
    let payload = json!({
        "message": format!("{}/{}", o.kind, o.name),
        "description": event.message,
        "details": details,
    });
    Ok(Some(
        Outgoing::post(&config.address, gojson::to_string(&payload))
            .header("Authorization", &format!("GenieKey {}", config.token)),
    ))
}

/// `cases.Title(language.Und)` of a reason: each word's first letter
/// upper-cased, the rest lower-cased.
pub fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// `alertmanager`: one firing alert; metadata become labels (`summary`
/// an annotation).
pub fn alertmanager(config: &Config, event: &Event) -> Built {
    valid_request_uri(&config.address)
        .map_err(|e| format!("invalid Alertmanager URL {}: '{e}'", config.address))?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let mut labels = event.metadata.clone();
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("message".to_string(), event.message.clone());
    if let Some(summary) = labels.remove("summary") {
        annotations.insert("summary".to_string(), summary);
    }
    let o = &event.involved_object;
    labels.insert(
        "alertname".into(),
        format!("Flux{}{}", o.kind, title_case(&event.reason)),
    );
    labels.insert("severity".into(), event.severity.clone());
    labels.insert("reason".into(), event.reason.clone());
    labels.insert("kind".into(), o.kind.clone());
    labels.insert("name".into(), o.name.clone());
    labels.insert("namespace".into(), o.namespace.clone());
    labels.insert(
        "reportingcontroller".into(),
        event.reporting_controller.clone(),
    );
    let starts = event
        .timestamp
        .as_ref()
        .map(rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    let payload = json!([{
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
    }]);
    let mut request = Outgoing::post(&config.address, gojson::to_string(&payload));
    if !config.token.is_empty() {
        request = request.header("Authorization", &format!("Bearer {}", config.token));
    }
    Ok(Some(request))
}

/// `grafana`: an annotation tagged with the metadata.
pub fn grafana(config: &Config, event: &Event) -> Built {
    valid_request_uri(&config.address)
        .map_err(|_| format!("invalid Grafana URL {}", config.address))?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let o = &event.involved_object;
    let mut tags = vec!["flux".to_string(), event.reporting_controller.clone()];
    for (k, v) in &event.metadata {
        tags.push(format!("{}: {}", k.replace(':', "|"), v.replace(':', "|")));
    }
    tags.push(format!("kind: {}", o.kind));
    tags.push(format!("name: {}", o.name));
    tags.push(format!("namespace: {}", o.namespace));
    // Go's zero time is year 1: its Unix seconds.
    let when = event
        .timestamp
        .as_ref()
        .map(|t| t.as_second())
        .unwrap_or(-62_135_596_800);
    let payload = json!({"when": when, "text": event.object_title(), "tags": tags});
    let mut request = Outgoing::post(&config.address, gojson::to_string(&payload));
    if !config.username.is_empty() && !config.password.is_empty() && config.token.is_empty() {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", config.username, config.password));
        request = request.header("Authorization", &format!("Basic {basic}"));
    }
    if !config.token.is_empty() {
        request = request.header("Authorization", &format!("Bearer {}", config.token));
    }
    Ok(Some(request))
}

/// `pagerduty`: an Events v2 `trigger` for errors (deduplicated by the
/// object's UID), a `resolve` and a change event for the rest; the
/// routing key is the channel; Progressing events are skipped.
pub fn pagerduty(config: &Config, event: &Event) -> Result<Vec<(Outgoing, &'static str)>, String> {
    valid_request_uri(&config.address).map_err(|e| {
        format!(
            "invalid PagerDuty endpoint URL \"{}\": '{e}'",
            config.address
        )
    })?;
    if event.is_commit_status_update() || event.reason == "Progressing" {
        return Ok(Vec::new());
    }
    let (scheme, rest) = config
        .address
        .split_once("://")
        .unwrap_or(("", &config.address));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let base = format!("{scheme}://{host}");
    let o = &event.involved_object;
    let name = format!("{}/{}", o.kind, o.name).to_lowercase();
    let summary = format!("{}: {name}", super::reason_words(&event.reason));
    let source = format!("Flux {}", event.reporting_controller);
    let timestamp = event
        .timestamp
        .as_ref()
        .map(rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    let details = json!({"message": event.message, "metadata": if event.metadata.is_empty() { serde_json::Value::Null } else { json!(event.metadata) }});
    let mut alert = serde_json::Map::new();
    alert.insert("routing_key".into(), json!(config.channel));
    alert.insert(
        "event_action".into(),
        json!(if event.severity == "error" {
            "trigger"
        } else {
            "resolve"
        }),
    );
    if !o.uid.is_empty() {
        alert.insert("dedup_key".into(), json!(o.uid));
    }
    if event.severity == "error" {
        let mut payload = serde_json::Map::new();
        payload.insert("summary".into(), json!(summary));
        payload.insert("source".into(), json!(source));
        payload.insert("severity".into(), json!("error"));
        payload.insert("timestamp".into(), json!(timestamp));
        if !o.name.is_empty() {
            payload.insert("component".into(), json!(o.name));
        }
        if !o.kind.is_empty() {
            payload.insert("group".into(), json!(o.kind));
        }
        payload.insert("custom_details".into(), details.clone());
        alert.insert("payload".into(), serde_json::Value::Object(payload));
    }
    let mut requests = vec![(
        Outgoing::post(
            &format!("{base}/v2/enqueue"),
            gojson::to_string(&serde_json::Value::Object(alert)),
        ),
        "failed sending event",
    )];
    if event.severity == "info" {
        let change = json!({
            "routing_key": config.channel,
            "payload": {"summary": summary, "source": source, "timestamp": timestamp, "custom_details": details},
        });
        requests.push((
            Outgoing::post(
                &format!("{base}/v2/change/enqueue"),
                gojson::to_string(&change),
            ),
            "failed sending change event",
        ));
    }
    Ok(requests)
}

/// `datadog`: an event of the Events API (v1), `DD-API-KEY` auth, tags
/// lower-cased; the host (and scheme) of the address only.
pub fn datadog(config: &Config, event: &Event) -> Result<Outgoing, String> {
    if config.token.is_empty() {
        return Err("token cannot be empty".to_string());
    }
    let (scheme, rest) = config.address.split_once("://").ok_or_else(|| {
        format!(
            "failed to parse address \"{}\": missing scheme",
            config.address
        )
    })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let o = &event.involved_object;
    let mut tags = vec![
        format!("flux_reporting_controller:{}", event.reporting_controller),
        format!("flux_reason:{}", event.reason),
        format!("kube_kind:{}", o.kind),
        format!("kube_name:{}", o.name),
        format!("kube_namespace:{}", o.namespace),
    ];
    for (k, v) in &event.metadata {
        tags.push(format!("{k}:{v}"));
    }
    let tags: Vec<String> = tags.iter().map(|t| t.to_lowercase()).collect();
    let when = event
        .timestamp
        .as_ref()
        .map(|t| t.as_second())
        .unwrap_or(-62_135_596_800);
    // The API client marshals a map (keys sorted) with an encoder (final
    // newline).
    let body = json!({
        "alert_type": if event.severity == "error" { "error" } else { "info" },
        "date_happened": when,
        "source_type_name": "fluxcd",
        "tags": tags,
        "text": event.message,
        "title": format!("Events from the {} {}/{}", o.kind, o.name, o.namespace),
    });
    Ok(Outgoing::post(
        &format!("{scheme}://{host}/api/v1/events"),
        format!("{}\n", gojson::to_string(&body)),
    )
    .header("Accept", "application/json")
    .header("DD-API-KEY", &config.token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_title_cased_as_x_text() {
        assert_eq!(
            title_case("ReconciliationSucceeded"),
            "Reconciliationsucceeded"
        );
        assert_eq!(title_case("health check"), "Health Check");
    }
}
