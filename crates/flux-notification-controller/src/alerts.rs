//! Which Alerts an event matches, the metadata each notification carries,
//! and the Provider it goes to (upstream's `filterAlertsForEvent`,
//! `combineEventMetadata`, `getNotificationParams`, `createNotifier`).

use std::collections::BTreeMap;
use std::time::Duration;

use flux_api::notification::v1beta3::{Alert, EventSeverity, Provider, ProviderType};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, ResourceExt};

use crate::Context;
use crate::event::{EVENT_GROUP, Event};
use crate::notifier::{self, Config};

/// Go's `regexp.MatchString` of a user's pattern; `Err` if it does not
/// compile.
fn go_regex_matches(pattern: &str, text: &str) -> Result<bool, String> {
    let translated = flux_go::regexp::translate(pattern).map_err(|e| e.to_string())?;
    let re = regex::Regex::new(&translated).map_err(|e| e.to_string())?;
    Ok(re.is_match(text))
}

impl Context {
    /// The Alerts `event` matches (not suspended, a matching event
    /// source, severity, inclusion and exclusion lists).
    pub async fn matching_alerts(&self, event: &Event) -> Vec<Alert> {
        let mut matched = Vec::new();
        for alert in self.alerts() {
            if alert.spec.suspend {
                continue;
            }
            if !self.matches_sources(event, &alert).await {
                continue;
            }
            if !self.included(event, &alert).await || self.excluded(event, &alert).await {
                continue;
            }
            matched.push((*alert).clone());
        }
        matched
    }

    async fn matches_sources(&self, event: &Event, alert: &Alert) -> bool {
        let namespace = alert.namespace().unwrap_or_default();
        let o = &event.involved_object;
        for source in &alert.spec.event_sources {
            let source_namespace = source
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.clone());
            if o.namespace != source_namespace || o.kind != crate::api_name(source.kind) {
                continue;
            }
            let severity = alert.spec.event_severity.unwrap_or(EventSeverity::Info);
            if severity == EventSeverity::Error && event.severity != "error" {
                continue;
            }
            if source.name != "*" && source.name != o.name {
                continue;
            }
            let Some(selector) = &source.match_labels else {
                return true;
            };
            match self.object_labels(event).await {
                Ok(labels) => {
                    if selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                        return true;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "error getting the involved object");
                    self.events
                        .warning(
                            alert,
                            "SourceFetchFailed",
                            &format!("error getting source object {}", event.object_string()),
                        )
                        .await;
                }
            }
        }
        false
    }

    async fn object_labels(&self, event: &Event) -> Result<BTreeMap<String, String>, String> {
        let o = &event.involved_object;
        let (group, version) = o
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", o.api_version.as_str()));
        let resource = ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            plural: crate::plural(&o.kind),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &o.namespace, &resource);
        let object = api.get_metadata(&o.name).await.map_err(|e| e.to_string())?;
        Ok(object.labels().clone())
    }

    async fn included(&self, event: &Event, alert: &Alert) -> bool {
        alert.spec.inclusion_list.is_empty()
            || self
                .any_matches(
                    alert,
                    &alert.spec.inclusion_list,
                    "inclusion",
                    &event.message,
                )
                .await
    }

    async fn excluded(&self, event: &Event, alert: &Alert) -> bool {
        self.any_matches(
            alert,
            &alert.spec.exclusion_list,
            "exclusion",
            &event.message,
        )
        .await
    }

    /// Whether a pattern of `list` matches `message`; patterns that do not
    /// compile are reported (`InvalidConfig`) and skipped.
    async fn any_matches(
        &self,
        alert: &Alert,
        list: &[String],
        which: &str,
        message: &str,
    ) -> bool {
        for pattern in list {
            match go_regex_matches(pattern, message) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(_) => {
                    self.events
                        .warning(
                            alert,
                            "InvalidConfig",
                            &format!("failed to compile {which} regex: {pattern}"),
                        )
                        .await;
                }
            }
        }
        false
    }

    /// The event as `alert` forwards it: metadata prefix-stripped and
    /// merged (object annotations → `eventMetadata` → `summary` → the
    /// controller's own keys); a key from two places is reported.
    pub async fn combine_metadata(&self, event: &Event, alert: &Alert) -> Event {
        let mut metadata = BTreeMap::new();
        let mut sources: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let event_prefix = format!("{EVENT_GROUP}/");
        for (k, v) in &event.metadata {
            if let Some(key) = k.strip_prefix(&event_prefix) {
                metadata.insert(key.to_string(), v.clone());
                sources
                    .entry(key.to_string())
                    .or_default()
                    .push("involved object annotations");
            }
        }
        for (k, v) in alert.spec.event_metadata.iter().flatten() {
            metadata.insert(k.clone(), v.clone());
            sources
                .entry(k.clone())
                .or_default()
                .push("Alert object .spec.eventMetadata");
        }
        if let Some(summary) = alert.spec.summary.as_deref().filter(|s| !s.is_empty()) {
            metadata.insert("summary".into(), summary.to_string());
            sources
                .entry("summary".into())
                .or_default()
                .push("Alert object .spec.summary");
        }
        let object_prefix = format!("{}/", event.involved_object.group());
        for (k, v) in &event.metadata {
            if let Some(key) = k.strip_prefix(&object_prefix) {
                metadata.insert(key.to_string(), v.clone());
                sources
                    .entry(key.to_string())
                    .or_default()
                    .push("involved object controller metadata");
            }
        }
        if sources.values().any(|s| s.len() > 1) {
            self.events
                .warning(
                    alert,
                    "MetadataAppendFailed",
                    "metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)",
                )
                .await;
        }
        let mut combined = event.clone();
        if !metadata.is_empty() {
            combined.metadata = metadata;
        }
        combined
    }

    /// Sends `event` to the Provider of `alert` in the background; an
    /// error setting it up is returned, one sending it becomes a Warning
    /// event on the Alert (upstream's `dispatchNotification`).
    pub async fn dispatch(&self, event: &Event, alert: &Alert) -> Result<(), String> {
        let namespace = alert.namespace().unwrap_or_default();
        if self.no_cross_namespace_refs && event.involved_object.namespace != namespace {
            return Err(format!(
                "discarding event, access denied to cross-namespace sources: alert '{namespace}/{}' can't process event from '{}', cross-namespace references have been blocked",
                alert.name_any(),
                event.object_string()
            ));
        }
        let provider_name = &alert.spec.provider_ref.name;
        let providers: Api<Provider> = Api::namespaced(self.client.clone(), &namespace);
        let provider = providers
            .get(provider_name)
            .await
            .map_err(|e| format!("failed to read provider: {}", crate::api_error(&e)))?;
        if provider.spec.suspend {
            return Ok(());
        }
        if provider.spec.service_account_name.is_some() {
            return Err("to use spec.serviceAccountName for provider authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller".to_string());
        }
        let notification = self.combine_metadata(event, alert).await;
        let t = provider.spec.provider_type;
        // Only git commit-status providers and generic webhooks receive
        // kustomize-controller's commit-status event; git providers only
        // events about a commit (or errors), as upstream since v1.7.
        if notification.is_commit_status_update()
            && !notifier::is_git_provider(t)
            && !matches!(t, ProviderType::Generic | ProviderType::GenericHmac)
        {
            return Ok(());
        }
        if notifier::is_git_provider(t)
            && !notification.is_commit_status_update()
            && notification.severity != "error"
            && notification.revision().is_none()
            && !notification.metadata.contains_key("commit")
        {
            tracing::debug!("git provider: event without a commit dropped");
            return Ok(());
        }
        let mut config = self.provider_config(&provider).await.map_err(|e| {
            format!(
                "failed to initialize notifier for provider '{}': {e}",
                provider.name_any()
            )
        })?;
        if notifier::is_git_provider(t) {
            config.commit_status = match provider.spec.commit_status_expr.as_deref() {
                Some(expr) if !expr.is_empty() => {
                    commit_status_expr(expr, &notification, alert, &provider).map_err(|e| {
                        format!("failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: {e}")
                    })?
                }
                _ => default_commit_status(
                    &provider.metadata.uid.clone().unwrap_or_default(),
                    &notification,
                ),
            };
        }
        // Set-up errors surface now, as upstream's factory.
        if !notifier::is_git_provider(t) && !config.address.is_empty() {
            notifier::build(&config, &notification).map_err(|e| {
                format!(
                    "failed to initialize notifier for provider '{}': failed to initialize notifier: {e}",
                    provider.name_any()
                )
            })?;
        }
        let (sender, events, alert, metrics) = (
            self.sender.clone(),
            self.events.clone(),
            alert.clone(),
            self.metrics.clone(),
        );
        tokio::spawn(async move {
            let sent = tokio::time::timeout(
                config.timeout,
                notifier::post(&sender, &config, &notification),
            )
            .await
            .unwrap_or_else(|_| Err("context deadline exceeded".to_string()));
            metrics.record_delivery(
                &alert.namespace().unwrap_or_default(),
                &alert.name_any(),
                &config.provider_name,
                &notifier::type_name(config.provider_type),
                sent.is_ok(),
            );
            if let Err(e) = sent {
                let masked = mask(&e, &[&config.token, &config.password]);
                tracing::error!(error = %masked, "failed to send notification");
                events
                    .warning(
                        &alert,
                        "NotificationDispatchFailed",
                        &format!(
                            "failed to send notification for {}: {masked}",
                            notification.object_string()
                        ),
                    )
                    .await;
            }
        });
        Ok(())
    }

    /// The Provider's settings with its Secrets read (upstream's
    /// `createNotifier`).
    pub async fn provider_config(&self, provider: &Provider) -> Result<Config, String> {
        let namespace = provider.namespace().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let spec = &provider.spec;
        let mut config = Config {
            provider_type: spec.provider_type,
            address: spec.address.clone().unwrap_or_default(),
            username: spec.username.clone().unwrap_or_default(),
            channel: spec.channel.clone().unwrap_or_default(),
            provider_name: provider.name_any(),
            provider_namespace: namespace.clone(),
            provider_uid: provider.metadata.uid.clone().unwrap_or_default(),
            timeout: spec
                .timeout
                .as_deref()
                .and_then(|t| flux_runtime::parse_duration(t).ok())
                .unwrap_or(Duration::from_secs(15)),
            ..Config::default()
        };
        let mut proxy = spec.proxy.clone().filter(|p| !p.is_empty());
        if let Some(reference) = &spec.secret_ref {
            let secret = secrets
                .get(&reference.name)
                .await
                .map_err(|e| format!("failed to read secret: {}", crate::api_error(&e)))?;
            let data = secret.data.unwrap_or_default();
            let text = |key: &str| {
                data.get(key)
                    .map(|v| String::from_utf8_lossy(&v.0).trim().to_string())
            };
            if let Some(address) = data.get("address") {
                if address.0.len() > 2048 {
                    return Err(
                        "invalid address in secret: address exceeds maximum length of 2048 bytes"
                            .to_string(),
                    );
                }
                config.address = String::from_utf8_lossy(&address.0).trim().to_string();
            }
            if let Some(v) = text("password") {
                config.password = v;
            }
            if let Some(v) = text("proxy") {
                proxy = Some(v);
            }
            if let Some(v) = text("token") {
                config.token = v;
            }
            if let Some(v) = text("username") {
                config.username = v;
            }
            if let Some(headers) = data.get("headers") {
                config.headers = serde_saphyr::from_slice(&headers.0)
                    .map_err(|e| format!("failed to read headers from secret: {e}"))?;
            }
        }
        if let Some(reference) = &spec.cert_secret_ref {
            let secret = secrets
                .get(&reference.name)
                .await
                .map_err(|e| format!("failed to read cert secret: {}", crate::api_error(&e)))?;
            match secret.type_.as_deref() {
                None | Some("") | Some("Opaque") | Some("kubernetes.io/tls") => {}
                Some(other) => {
                    return Err(format!(
                        "cannot use Secret '{}' to get TLS certificate: invalid Secret type: '{other}'",
                        reference.name
                    ));
                }
            }
            let data = secret.data.unwrap_or_default();
            let ca = data
                .get("ca.crt")
                .or_else(|| data.get("caFile"))
                .ok_or_else(|| format!("no 'ca.crt' key found in Secret '{}'", reference.name))?;
            config.ca = Some(ca.0.clone());
        }
        if let Some(reference) = &spec.proxy_secret_ref {
            let secret = secrets
                .get(&reference.name)
                .await
                .map_err(|e| format!("failed to read proxy secret: {}", crate::api_error(&e)))?;
            let data = secret.data.unwrap_or_default();
            let text = |key: &str| {
                data.get(key)
                    .map(|v| String::from_utf8_lossy(&v.0).trim().to_string())
            };
            let address = text("address").ok_or_else(|| {
                format!(
                    "invalid proxy secret '{namespace}/{}': key 'address' is missing",
                    reference.name
                )
            })?;
            config.proxy = Some(flux_oci::http::Proxy {
                address,
                username: text("username"),
                password: text("password"),
            });
        } else if let Some(address) = proxy {
            config.proxy = Some(flux_oci::http::Proxy {
                address,
                username: None,
                password: None,
            });
        }
        Ok(config)
    }
}

/// `<kind>/<name>/<first part of the Provider's UID>`, lower-cased.
pub fn default_commit_status(provider_uid: &str, event: &Event) -> String {
    let first = provider_uid.split('-').next().unwrap_or_default();
    format!(
        "{}/{}/{first}",
        event.involved_object.kind, event.involved_object.name
    )
    .to_lowercase()
}

fn commit_status_expr(
    expr: &str,
    event: &Event,
    alert: &Alert,
    provider: &Provider,
) -> Result<String, String> {
    let event = event.to_value();
    let alert = serde_json::to_value(alert).map_err(|e| e.to_string())?;
    let provider = serde_json::to_value(provider).map_err(|e| e.to_string())?;
    flux_runtime::cel::evaluate_string(
        expr,
        &[
            ("event", &event),
            ("alert", &alert),
            ("provider", &provider),
        ],
    )
    .map_err(|e| e.to_string())
}

/// Upstream's `masktoken`: every occurrence of a secret becomes `*****`.
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(*secret, "*****");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_of_flux_kinds() {
        assert_eq!(crate::plural("GitRepository"), "gitrepositories");
        assert_eq!(crate::plural("ImagePolicy"), "imagepolicies");
        assert_eq!(crate::plural("Kustomization"), "kustomizations");
    }

    #[test]
    fn default_commit_status_as_upstream() {
        let mut e = Event::default();
        e.involved_object.kind = "Kustomization".into();
        e.involved_object.name = "Apps".into();
        assert_eq!(
            default_commit_status("0c9c2e41-d2f9-4f9b-9c41-1f2e", &e),
            "kustomization/apps/0c9c2e41"
        );
    }

    #[test]
    fn tokens_are_masked() {
        assert_eq!(
            mask("POST https://x/bot123:abc/send failed", &["123:abc", ""]),
            "POST https://x/bot*****/send failed"
        );
    }
}
