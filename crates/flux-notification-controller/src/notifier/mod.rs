//! Providers: where an event goes and in which shape. Each provider type
//! builds upstream's request (URL, headers, JSON body byte for byte:
//! `internal/notifier/*.go` of notification-controller v1.6.0) and sends
//! it with upstream's HTTP policy ([`http`]).
//!
//! Map iteration: upstream ranges over Go maps, whose order is random
//! per call; ours is the sorted order (deterministic, and one of Go's).

pub mod chat;
pub mod git;
pub mod http;
pub mod nats;
pub mod ops;

use std::collections::BTreeMap;
use std::time::Duration;

use flux_api::notification::v1beta3::ProviderType;

use crate::event::Event;
pub use http::{Outgoing, Sender};

/// Everything a provider needs, read from the Provider and its Secrets
/// (upstream's `notifierOptions`).
#[derive(Clone, Default)]
pub struct Config {
    /// The provider type.
    pub provider_type: ProviderType,
    /// `spec.address`, or the Secret's `address`.
    pub address: String,
    /// `spec.username`, or the Secret's `username`.
    pub username: String,
    /// `spec.channel`.
    pub channel: String,
    /// The Secret's `token`.
    pub token: String,
    /// The Secret's `password`.
    pub password: String,
    /// The Secret's `headers` (a YAML map).
    pub headers: BTreeMap<String, String>,
    /// The CA of `certSecretRef` (PEM).
    pub ca: Option<Vec<u8>>,
    /// `spec.proxy`, the Secret's `proxy`, or `proxySecretRef`.
    pub proxy: Option<flux_oci::http::Proxy>,
    /// The commit status key (git providers).
    pub commit_status: String,
    /// The Provider's name and namespace.
    pub provider_name: String,
    /// The Provider's namespace.
    pub provider_namespace: String,
    /// The Provider's UID.
    pub provider_uid: String,
    /// `spec.timeout` (default 15s).
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    /// Never prints credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("type", &self.provider_type)
            .field("provider", &self.provider_name)
            .finish_non_exhaustive()
    }
}

/// The provider type as the API spells it.
pub fn type_name(t: ProviderType) -> String {
    crate::api_name(t)
}

/// The git commit-status providers (upstream's `isGitProvider`).
pub fn is_git_provider(t: ProviderType) -> bool {
    matches!(
        t,
        ProviderType::Github
            | ProviderType::Gitlab
            | ProviderType::Gitea
            | ProviderType::Bitbucketserver
            | ProviderType::Bitbucket
            | ProviderType::Azuredevops
    )
}

/// Go's `url.ParseRequestURI` acceptance: an absolute URL or a rooted path.
pub(crate) fn valid_request_uri(address: &str) -> Result<(), String> {
    let rooted = address.starts_with('/');
    let absolute = address.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
    });
    if (rooted || absolute) && !address.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("parse \"{address}\": invalid URI for request"))
    }
}

/// Sends `event` through the provider `config` describes. `Ok` also when
/// the provider skips the event (as upstream's `Post` returns nil).
pub async fn post(sender: &Sender, config: &Config, event: &Event) -> Result<(), String> {
    if config.address.is_empty() {
        // Upstream's factory answers a Nop notifier without an address.
        return Ok(());
    }
    match config.provider_type {
        ProviderType::Github => git::github(sender, config, event).await,
        ProviderType::Gitlab => git::gitlab(sender, config, event).await,
        ProviderType::Gitea => git::gitea(sender, config, event).await,
        ProviderType::Bitbucketserver => git::bitbucket_server(sender, config, event).await,
        ProviderType::Githubdispatch => git::github_dispatch(sender, config, event).await,
        ProviderType::Nats => nats::post(config, event).await,
        ProviderType::Pagerduty => {
            for (request, context) in ops::pagerduty(config, event)? {
                sender
                    .post_message(config, request)
                    .await
                    .map_err(|e| format!("{context}: {e}"))?;
            }
            Ok(())
        }
        ProviderType::Datadog => {
            let request = ops::datadog(config, event)?;
            let answer = sender
                .send(config, &request)
                .await
                .map_err(|e| format!("failed to post event to DataDog: {e}"))?;
            if answer.status >= 300 {
                return Err(format!(
                    "failed to post event to DataDog: {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ));
            }
            Ok(())
        }
        _ => match build(config, event)? {
            Some(request) => sender
                .post_message(config, request)
                .await
                .map_err(|e| format!("postMessage failed: {e}")),
            None => Ok(()),
        },
    }
}

/// The single request of a one-request provider for `event`; `None` when
/// the provider skips it; `Err` for a provider that cannot be set up
/// (upstream's factory errors) or that is not implemented.
pub fn build(config: &Config, event: &Event) -> Result<Option<Outgoing>, String> {
    match config.provider_type {
        ProviderType::Generic => chat::generic(config, event, false),
        ProviderType::GenericHmac => chat::generic(config, event, true),
        ProviderType::Slack => chat::slack(config, event),
        ProviderType::Discord => chat::discord(config, event),
        ProviderType::Rocket => chat::rocket(config, event),
        ProviderType::Msteams => chat::msteams(config, event),
        ProviderType::Googlechat => chat::google_chat(config, event),
        ProviderType::Webex => chat::webex(config, event),
        ProviderType::Lark => chat::lark(config, event),
        ProviderType::Matrix => chat::matrix(config, event),
        ProviderType::Opsgenie => ops::opsgenie(config, event),
        ProviderType::Alertmanager => ops::alertmanager(config, event),
        ProviderType::Grafana => ops::grafana(config, event),
        // Set-up checks only: these send more than one request.
        ProviderType::Pagerduty => ops::pagerduty(config, event).map(|_| None),
        ProviderType::Datadog => ops::datadog(config, event).map(|_| None),
        ProviderType::Nats => nats::check(config).map(|_| None),
        t => Err(format!(
            "provider {} not supported by this notification-controller",
            type_name(t)
        )),
    }
}

/// "ReconciliationSucceeded" → "reconciliation succeeded" (upstream's
/// `formatNameAndDescription` description: Go's `splitCamelcase`).
pub fn reason_words(reason: &str) -> String {
    split_camel_case(reason).join(" ").to_lowercase()
}

fn class(c: char) -> u8 {
    if c.is_lowercase() {
        1
    } else if c.is_uppercase() {
        2
    } else if c.is_numeric() {
        3
    } else {
        4
    }
}

/// Go's `splitCamelcase` (fatih/camelcase).
pub fn split_camel_case(src: &str) -> Vec<String> {
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in src.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper = runs[i].first().is_some_and(|c| c.is_uppercase());
        let lower_next = runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper
            && lower_next
            && let Some(moved) = runs[i].pop()
        {
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_split_as_go() {
        assert_eq!(
            reason_words("ReconciliationSucceeded"),
            "reconciliation succeeded"
        );
        assert_eq!(reason_words("HTTPServerError500"), "http server error 500");
        assert_eq!(split_camel_case("BuildFailed"), ["Build", "Failed"]);
    }

    #[test]
    fn request_uris_as_go() {
        assert!(valid_request_uri("https://hooks.slack.com/services/x").is_ok());
        assert!(valid_request_uri("/path").is_ok());
        assert_eq!(
            valid_request_uri("not a url"),
            Err("parse \"not a url\": invalid URI for request".to_string())
        );
    }
}
