//! The notification controller (`../shared/reference/upstream-notification.md`):
//!
//! - the **event server** ([`server`]): the controllers POST their events
//!   (`fluxcd/pkg` event JSON, [`event`]); metadata is cleaned, duplicates
//!   are refused for a while ([`limiter`]), the Alerts that match are found
//!   and each sends the event, shaped for its Provider ([`alerts`],
//!   [`notifier`]), in the background; failures become Warning events on
//!   the Alert;
//! - the **receiver server** and the Receiver reconciler ([`receiver`]):
//!   webhooks from Git hosts and registries, verified per type, request a
//!   reconciliation of the resources they name.

pub mod alerts;
pub mod event;
pub mod gojson;
pub mod limiter;
pub mod notifier;
pub mod receiver;
pub mod server;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use flux_api::notification::v1beta3::Alert;
use flux_runtime::EventRecorder;
use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

/// The controller's name: event source, field manager.
pub const CONTROLLER_NAME: &str = "notification-controller";

/// What the servers and the reconciler share.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// Kubernetes events (`notification-controller`), never forwarded.
    pub events: EventRecorder,
    /// The duplicate-event limit (`--rate-limit-interval`).
    pub limiter: limiter::Limiter,
    /// Ignore durations in messages when keying duplicates
    /// (`--rate-limit-ignore-durations`, beyond upstream).
    pub ignore_durations: bool,
    /// Refuse events of other namespaces' objects
    /// (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// How providers' requests are sent.
    pub sender: notifier::Sender,
    /// `gotk_notification_deliveries_total` (and the process's others).
    pub metrics: flux_runtime::Metrics,
    /// The Alerts, as a watch sees them.
    pub alert_store: OnceLock<Store<Alert>>,
    /// What the receiver server reads.
    pub receivers: receiver::Settings,
    /// When the context was made.
    started: std::time::Instant,
}

impl Context {
    /// A context with upstream's defaults (`--rate-limit-interval 5m`).
    pub fn new(client: Client) -> Self {
        Self {
            events: EventRecorder::new(client.clone(), CONTROLLER_NAME),
            client,
            limiter: limiter::Limiter::new(Duration::from_secs(300)),
            ignore_durations: false,
            no_cross_namespace_refs: false,
            sender: notifier::Sender::default(),
            metrics: flux_runtime::Metrics::new(),
            alert_store: OnceLock::new(),
            receivers: receiver::Settings::default(),
            started: std::time::Instant::now(),
        }
    }

    /// The Alerts known now.
    pub fn alerts(&self) -> Vec<Arc<Alert>> {
        self.alert_store
            .get()
            .map(|s| s.state())
            .unwrap_or_default()
    }

    /// Waits until the Alerts have been listed once, at most until 10
    /// seconds after start (an API server without the Alert CRD must not
    /// slow every event down).
    pub async fn alerts_ready(&self) {
        let left = Duration::from_secs(10).saturating_sub(self.started.elapsed());
        if let Some(store) = self.alert_store.get()
            && !left.is_zero()
        {
            let _ = tokio::time::timeout(left, store.wait_until_ready()).await;
        }
    }
}

/// An API error as Kubernetes words it (`providers... "x" not found`).
pub(crate) fn api_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// How the API spells an enum value (`GitRepository`, `generic-hmac`).
pub(crate) fn api_name<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The plural resource name of a Flux kind (all are regular:
/// `GitRepository` → `gitrepositories`).
pub(crate) fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// SHA-1 (Matrix transaction ids, Bitbucket keys: not security).
pub(crate) fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// HMAC of `data` with `key`.
pub(crate) fn hmac(algorithm: aws_lc_rs::hmac::Algorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(algorithm, key);
    aws_lc_rs::hmac::sign(&key, data).as_ref().to_vec()
}

/// HMAC-SHA256 of `data` with `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac(aws_lc_rs::hmac::HMAC_SHA256, key, data)
}

/// Starts the watches the servers read (Alerts and Receivers, in all
/// namespaces or `namespace`).
pub fn start_watches(ctx: &Arc<Context>, namespace: Option<&str>) {
    let (alerts, receivers): (Api<Alert>, Api<flux_api::notification::v1::Receiver>) =
        match namespace {
            Some(ns) => (
                Api::namespaced(ctx.client.clone(), ns),
                Api::namespaced(ctx.client.clone(), ns),
            ),
            None => (Api::all(ctx.client.clone()), Api::all(ctx.client.clone())),
        };
    let (store, writer) = reflector::store();
    let _ = ctx.alert_store.set(store);
    tokio::spawn(async move {
        reflector::reflector(writer, watcher(alerts, watcher::Config::default()))
            .default_backoff()
            .for_each(|_| async {})
            .await;
    });
    let (store, writer) = reflector::store();
    let _ = ctx.receivers.store.set(store);
    tokio::spawn(async move {
        reflector::reflector(writer, watcher(receivers, watcher::Config::default()))
            .default_backoff()
            .for_each(|_| async {})
            .await;
    });
}

/// Serves events on `events` and webhooks on `receivers` until one
/// server fails. Every replica serves (as upstream's); only the Receiver
/// reconciler ([`reconcile_receivers`]) needs the leader lease.
pub async fn serve(
    ctx: Arc<Context>,
    events: tokio::net::TcpListener,
    receivers: tokio::net::TcpListener,
) -> Result<(), String> {
    tokio::select! {
        r = server::serve_events(ctx.clone(), events) => r,
        r = receiver::serve(ctx, receivers) => r,
    }
}

/// Runs the Receiver reconciler (all namespaces, or `namespace`).
pub async fn reconcile_receivers(ctx: Arc<Context>, namespace: Option<&str>) {
    receiver::run(ctx, namespace.map(str::to_string)).await;
}

/// Everything at once: the watches, both servers and the Receiver
/// reconciler, until one stops.
pub async fn run(
    ctx: Context,
    namespace: Option<&str>,
    events: tokio::net::TcpListener,
    receivers: Option<tokio::net::TcpListener>,
) -> Result<(), String> {
    let ctx = Arc::new(ctx);
    start_watches(&ctx, namespace);
    match receivers {
        Some(listener) => {
            tokio::select! {
                r = serve(ctx.clone(), events, listener) => r,
                () = reconcile_receivers(ctx.clone(), namespace) => {
                    Err("the Receiver reconciler stopped".to_string())
                }
            }
        }
        None => server::serve_events(ctx, events).await,
    }
}
