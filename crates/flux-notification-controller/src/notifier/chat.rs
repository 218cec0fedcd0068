//! Webhook and chat providers: generic, generic-hmac, slack, discord,
//! rocket, msteams, googlechat, webex, lark, matrix.

use http::Method;
use serde_json::{Value, json};

use super::http::Validate;
use super::{Config, Outgoing, valid_request_uri};
use crate::event::Event;
use crate::gojson;

type Built = Result<Option<Outgoing>, String>;

fn check_url(config: &Config, what: &str) -> Result<(), String> {
    valid_request_uri(&config.address)
        .map_err(|e| format!("invalid {what} {}: '{e}'", config.address))
}

/// `generic` and `generic-hmac`: the event itself, `gotk-component`, the
/// Secret's headers, and for HMAC `X-Signature: sha256=<hex>`.
pub fn generic(config: &Config, event: &Event, hmac: bool) -> Built {
    valid_request_uri(&config.address)
        .map_err(|e| format!("invalid hook URL {}: {e}", config.address))?;
    if hmac && config.token.is_empty() {
        return Err("HMAC key is empty".to_string());
    }
    let body = event.to_go_json();
    let mut request = Outgoing::post(&config.address, body.clone())
        .header("gotk-component", &event.reporting_controller);
    for (name, value) in &config.headers {
        request = request.header(name, value);
    }
    if hmac {
        let signature = crate::hmac_sha256(config.token.as_bytes(), body.as_bytes());
        request = request.header("X-Signature", &format!("sha256={}", crate::hex(&signature)));
    }
    Ok(Some(request))
}

/// Metadata as Slack fields (`{title, value, short: false}`).
fn slack_fields(event: &Event) -> Vec<Value> {
    event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect()
}

fn slack_payload(channel: &str, username: &str, color: &str, event: &Event) -> String {
    gojson::to_string(&json!({
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "color": color,
            "author_name": event.object_title(),
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": slack_fields(event),
        }],
    }))
}

fn severity_color<'a>(event: &Event, info: &'a str, error: &'a str) -> &'a str {
    if event.severity == "error" {
        error
    } else {
        info
    }
}

/// `slack`: an attachment coloured by severity; `Bearer` token for the
/// Web API, whose `{"ok": false}` answers are errors.
pub fn slack(config: &Config, event: &Event) -> Built {
    check_url(config, "Slack hook URL")?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let username = if config.username.is_empty() {
        &event.reporting_controller
    } else {
        &config.username
    };
    let body = slack_payload(
        &config.channel,
        username,
        severity_color(event, "good", "danger"),
        event,
    );
    let mut request = Outgoing::post(&config.address, body);
    if !config.token.is_empty() {
        request = request.header("Authorization", &format!("Bearer {}", config.token));
    }
    if config.address == "https://slack.com/api/chat.postMessage" {
        request.validate = Validate::SlackApi;
    }
    Ok(Some(request))
}

/// Go's `path.Join(p, "slack")` on a URL's path, the query kept.
fn discord_url(address: &str) -> String {
    if address.ends_with("/slack") {
        return address.to_string();
    }
    let (before_fragment, fragment) = match address.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (address, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (before_fragment, None),
    };
    let (origin, path) = match before_query.split_once("://") {
        Some((scheme, rest)) => match rest.find('/') {
            Some(i) => (format!("{scheme}://{}", &rest[..i]), &rest[i..]),
            None => (format!("{scheme}://{rest}"), ""),
        },
        None => (String::new(), before_query),
    };
    let joined = flux_go::path::clean(&format!("{path}/slack"));
    let mut url = format!("{origin}{joined}");
    if let Some(q) = query {
        url = format!("{url}?{q}");
    }
    if let Some(f) = fragment {
        url = format!("{url}#{f}");
    }
    url
}

/// `discord`: Slack's payload to Discord's Slack-compatible endpoint.
pub fn discord(config: &Config, event: &Event) -> Built {
    check_url(config, "Discord hook URL")?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let username = if config.username.is_empty() {
        &event.reporting_controller
    } else {
        &config.username
    };
    let body = slack_payload("", username, severity_color(event, "good", "danger"), event);
    Ok(Some(Outgoing::post(&discord_url(&config.address), body)))
}

/// `rocket`: Slack's payload, Rocket.Chat colours, no username default.
pub fn rocket(config: &Config, event: &Event) -> Built {
    check_url(config, "Rocket hook URL")?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let body = slack_payload(
        &config.channel,
        &config.username,
        severity_color(event, "#0076D7", "#FF0000"),
        event,
    );
    Ok(Some(Outgoing::post(&config.address, body)))
}

/// `msteams`: the legacy MessageCard for `*.webhook.office.com`, else a
/// Workflows Adaptive Card 1.4.
pub fn msteams(config: &Config, event: &Event) -> Built {
    check_url(config, "MS Teams webhook URL")?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let host = config
        .address
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    let title = event.object_title();
    let payload = if host.ends_with(".webhook.office.com") {
        let facts: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        json!({
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": severity_color(event, "0076D7", "FF0000"),
            "summary": title,
            "sections": [{
                "activityTitle": event.message,
                "activitySubtitle": title,
                "facts": facts,
            }],
        })
    } else {
        let mut facts: Vec<Value> = Vec::new();
        if let Some(summary) = event.metadata.get("summary") {
            facts.push(json!({"title": "summary", "value": summary}));
        }
        for (k, v) in &event.metadata {
            if k != "summary" {
                facts.push(json!({"title": k, "value": v}));
            }
        }
        let mut message = json!({"type": "TextBlock", "text": event.message});
        if event.message.is_empty() {
            message = json!({"type": "TextBlock"});
        }
        if event.severity == "error" {
            message["color"] = json!("attention");
        }
        message["wrap"] = json!(true);
        let mut fact_set = json!({"type": "FactSet"});
        if !facts.is_empty() {
            fact_set["facts"] = Value::Array(facts);
        }
        let mut heading = json!({"type": "TextBlock"});
        if !title.is_empty() {
            heading["text"] = json!(title);
        }
        heading["size"] = json!("large");
        heading["weight"] = json!("bolder");
        heading["wrap"] = json!(true);
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "Container", "items": [heading, message, fact_set]}],
                    "msteams": {"width": "Full"},
                },
            }],
        })
    };
    Ok(Some(Outgoing::post(
        &config.address,
        gojson::to_string(&payload),
    )))
}

/// `googlechat`: a card with the message and a section of key/values.
pub fn google_chat(config: &Config, event: &Event) -> Built {
    valid_request_uri(&config.address)
        .map_err(|_| format!("invalid Google Chat hook URL {}", config.address))?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let text = if event.severity == "error" {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![json!({
        "header": "",
        "widgets": [{"textParagraph": {"text": text}, "keyValue": null}],
    })];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                json!({"textParagraph": null, "keyValue": {
                    "topLabel": k, "content": v, "contentMultiline": false,
                    "bottomLabel": null, "icon": null}})
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    let payload = json!({"cards": [{
        "header": {"title": event.object_title(), "subtitle": event.reporting_controller,
                   "imageUrl": null, "imageStyle": null},
        "sections": sections,
    }]});
    Ok(Some(Outgoing::post(
        &config.address,
        gojson::to_string(&payload),
    )))
}

/// `webex`: Markdown to a room, `Bearer` token.
pub fn webex(config: &Config, event: &Event) -> Built {
    check_url(config, "Webex hook URL")?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let emoji = if event.severity == "error" {
        "💣"
    } else {
        "✅"
    };
    let mut markdown = format!("{emoji} **{}**\n{}\n", event.object_title(), event.message);
    for (k, v) in &event.metadata {
        markdown.push_str(&format!(">**{k}**: {v}\n"));
    }
    let mut payload = serde_json::Map::new();
    if !config.channel.is_empty() {
        payload.insert("roomId".into(), json!(config.channel));
    }
    payload.insert("markdown".into(), json!(markdown));
    Ok(Some(
        Outgoing::post(&config.address, gojson::to_string(&Value::Object(payload)))
            .header("Authorization", &format!("Bearer {}", config.token)),
    ))
}

/// `lark`: an interactive card.
pub fn lark(config: &Config, event: &Event) -> Built {
    valid_request_uri(&config.address)
        .map_err(|_| format!("invalid Slack hook URL {}", config.address))?;
    if event.is_commit_status_update() {
        return Ok(None);
    }
    let (emoji, color) = if event.severity == "error" {
        ("🚨", "red")
    } else {
        ("💫", "turquoise")
    };
    let mut message = format!("**{}**\n\n", event.message);
    for (k, v) in &event.metadata {
        message.push_str(&format!("{k}: {v}\n"));
    }
    let payload = json!({
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": true},
            "header": {
                "title": {"tag": "plain_text", "content": format!("{emoji} {}", event.object_title())},
                "template": color,
            },
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": message}}],
        },
    });
    Ok(Some(Outgoing::post(
        &config.address,
        gojson::to_string(&payload),
    )))
}

/// `matrix`: a `PUT` of an `m.text` message into the room, the
/// transaction id the SHA-1 of the event's JSON.
pub fn matrix(config: &Config, event: &Event) -> Built {
    check_url(config, "Matrix homeserver URL")?;
    let txid = crate::hex(&crate::sha1(event.to_go_json().as_bytes()));
    let url = format!(
        "{}/_matrix/client/r0/rooms/{}/send/m.room.message/{txid}",
        config.address, config.channel
    );
    let emoji = if event.severity == "error" {
        "🚨"
    } else {
        "💫"
    };
    let mut metadata = String::new();
    for (k, v) in &event.metadata {
        metadata.push_str(&format!("- {k}: {v}\n"));
    }
    let body = format!(
        "{emoji} {}\n{}\n{metadata}",
        event.object_title(),
        event.message
    );
    let mut request = Outgoing::post(
        &url,
        gojson::to_string(&json!({"body": body, "msgtype": "m.text"})),
    )
    .header("Authorization", &format!("Bearer {}", config.token));
    request.method = Method::PUT;
    Ok(Some(request))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn discord_urls_as_go() {
        assert_eq!(
            discord_url("https://discord.com/api/webhooks/1/abc"),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
        assert_eq!(
            discord_url("https://discord.com/api/webhooks/1/abc/slack"),
            "https://discord.com/api/webhooks/1/abc/slack"
        );
        assert_eq!(
            discord_url("https://discord.com/api/webhooks/1/abc/?wait=true"),
            "https://discord.com/api/webhooks/1/abc/slack?wait=true"
        );
    }

    #[test]
    fn slack_payload_shape() {
        let mut event = Event {
            severity: "error".into(),
            message: "Health check failed".into(),
            reporting_controller: "kustomize-controller".into(),
            ..Event::default()
        };
        event.involved_object.kind = "Kustomization".into();
        event.involved_object.name = "apps".into();
        event.involved_object.namespace = "flux-system".into();
        event
            .metadata
            .insert("revision".into(), "main@sha1:1".into());
        let config = Config {
            address: "https://hooks.slack.com/services/x".into(),
            channel: "ops".into(),
            ..Config::default()
        };
        let request = slack(&config, &event).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(request.body).unwrap(),
            r#"{"channel":"ops","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"color":"danger","author_name":"kustomization/apps.flux-system","text":"Health check failed","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:1","short":false}]}]}"#
        );
        event
            .metadata
            .insert("commit_status".into(), "update".into());
        assert!(slack(&config, &event).unwrap().is_none());
    }
}
