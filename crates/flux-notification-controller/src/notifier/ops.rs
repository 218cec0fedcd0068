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
