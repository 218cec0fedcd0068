//! Receivers: the webhook server (`--receiver-addr`, Service
//! `webhook-receiver`) and the Receiver reconciler.
//!
//! A Receiver is served at `/hook/<hex sha256(token + name + namespace)>`
//! once its reconciler found the token and marked it Ready. A request is
//! verified as its type documents (GitHub's HMAC, GitLab's token, …) and
//! each resource it names gets `reconcile.fluxcd.io/requestedAt`.
//! Answers as upstream: `404` unknown path, `503` suspended or not Ready,
//! `400` verification failed, `500` a resource could not be annotated,
//! `200` otherwise.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use flux_api::meta::Condition;
use flux_api::notification::v1::{Receiver, ReceiverResource, ReceiverStatus, ReceiverType};
use futures::StreamExt;
use http::{HeaderMap, StatusCode};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use crate::Context;

/// The finalizer upstream's Receiver reconciler adds.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// What the receiver server reads.
#[derive(Default)]
pub struct Settings {
    /// The Receivers, as a watch sees them (path lookup).
    pub store: OnceLock<Store<Receiver>>,
}

/// `/hook/` + hex SHA-256 of `token + name + namespace`.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    format!(
        "/hook/{}",
        crate::hex(&crate::sha256(
            format!("{token}{name}{namespace}").as_bytes()
        ))
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// go-github's `ValidateSignature`: `<sha1|sha256|sha512>=<hex HMAC>`.
pub fn validate_signature(signature: &str, body: &[u8], token: &[u8]) -> Result<(), String> {
    let Some((algorithm, mac)) = signature.split_once('=') else {
        return Err(format!("error parsing signature {signature:?}"));
    };
    let algorithm = match algorithm {
        "sha1" => aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => aws_lc_rs::hmac::HMAC_SHA256,
        "sha512" => aws_lc_rs::hmac::HMAC_SHA512,
        other => return Err(format!("unknown hash type prefix: {other:?}")),
    };
    let mac = unhex(mac).ok_or_else(|| format!("error decoding signature {signature:?}"))?;
    let expected = crate::hmac(algorithm, token, body);
    if constant_eq(&mac, &expected) {
        Ok(())
    } else {
        Err("payload signature check failed".to_string())
    }
}

/// go-github's `ValidatePayload`: the body is JSON or a form with a
/// `payload`; with a token, `X-Hub-Signature-256` (else `X-Hub-Signature`)
/// must sign the raw body.
fn validate_payload(headers: &HeaderMap, body: &[u8], token: &str) -> Result<(), String> {
    let content_type = header(headers, "content-type");
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media != "application/json" && media != "application/x-www-form-urlencoded" {
        return Err(format!(
            "webhook request has unsupported Content-Type {content_type:?}"
        ));
    }
    if token.is_empty() {
        return Ok(());
    }
    let mut signature = header(headers, "x-hub-signature-256");
    if signature.is_empty() {
        signature = header(headers, "x-hub-signature");
    }
    if signature.is_empty() {
        return Err("missing signature".to_string());
    }
    validate_signature(signature, body, token.as_bytes())
}

fn event_allowed(events: &[String], event: &str) -> bool {
    events.is_empty() || events.iter().any(|e| e.eq_ignore_ascii_case(event))
}

/// Verifies a request to a Receiver of `kind` (upstream's `validate`).
pub fn validate(
    kind: ReceiverType,
    events: &[String],
    headers: &HeaderMap,
    body: &[u8],
    token: &str,
) -> Result<(), String> {
    let json_body = || serde_json::from_slice::<Value>(body);
    match kind {
        ReceiverType::Generic => Ok(()),
        ReceiverType::GenericHmac => {
            validate_signature(header(headers, "x-signature"), body, token.as_bytes())
                .map_err(|e| format!("unable to validate HMAC signature: {e}"))
        }
        ReceiverType::Github => {
            validate_payload(headers, body, token)
                .map_err(|e| format!("the GitHub signature header is invalid, err: {e}"))?;
            let event = header(headers, "x-github-event");
            if !event_allowed(events, event) {
                return Err(format!("the GitHub event {event:?} is not authorised"));
            }
            Ok(())
        }
        ReceiverType::Gitlab => {
            if header(headers, "x-gitlab-token") != token {
                return Err(
                    "the X-Gitlab-Token header value does not match the receiver token".into(),
                );
            }
            let event = header(headers, "x-gitlab-event");
            if !event_allowed(events, event) {
                return Err(format!("the GitLab event {event:?} is not authorised"));
            }
            Ok(())
        }
        ReceiverType::Bitbucket => {
            validate_payload(headers, body, token).map_err(|e| {
                format!("the Bitbucket server signature header is invalid, err: {e}")
            })?;
            let event = header(headers, "x-event-key");
            if !event_allowed(events, event) {
                return Err(format!(
                    "the Bitbucket server event {event:?} is not authorised"
                ));
            }
            Ok(())
        }
        ReceiverType::Harbor => {
            if header(headers, "authorization") != token {
                return Err(
                    "the Harbor Authorization header value does not match the receiver token"
                        .into(),
                );
            }
            Ok(())
        }
        ReceiverType::Quay => json_body()
            .map(|_| ())
            .map_err(|e| format!("cannot decode Quay webhook payload: {e}")),
        ReceiverType::Dockerhub => json_body()
            .map(|_| ())
            .map_err(|_| "cannot decode DockerHub webhook payload".to_string()),
        ReceiverType::Acr => json_body()
            .map(|_| ())
            .map_err(|e| format!("cannot decode ACR webhook payload: {e}")),
        ReceiverType::Nexus => {
            let signature = header(headers, "x-nexus-webhook-signature");
            if signature.is_empty() {
                return Err("Nexus signature is missing from header".into());
            }
            let expected = crate::hex(&crate::hmac(
                aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                token.as_bytes(),
                body,
            ));
            if !constant_eq(signature.as_bytes(), expected.as_bytes()) {
                return Err("invalid Nexus signature".into());
            }
            json_body()
                .map(|_| ())
                .map_err(|e| format!("cannot decode Nexus webhook payload: {e}"))
        }
        ReceiverType::Cdevents => {
            let event = header(headers, "ce-type");
            let parsed =
                json_body().map_err(|e| format!("unable to validate CDEvent event: {e}"))?;
            let context_type = parsed
                .pointer("/context/type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !context_type.starts_with("dev.cdevents.") {
                return Err(format!(
                    "unable to validate CDEvent event: unknown CDEvent type {context_type:?}"
                ));
            }
            if !event_allowed(events, event) {
                return Err(format!("the CDEvent {event:?} is not authorised"));
            }
            Ok(())
        }
        ReceiverType::Gcr | ReceiverType::GenericOidc => Err(format!(
            "receiver type {:?} is not supported by this notification-controller",
            crate::api_name(kind)
        )),
    }
}

/// The default API version of a kind a Receiver names without one.
fn default_api_version(kind: &str) -> Option<&'static str> {
    match kind {
        "Bucket" | "HelmChart" | "HelmRepository" | "GitRepository" | "OCIRepository" => {
            Some("source.toolkit.fluxcd.io/v1")
        }
        "ImageRepository" => Some("image.toolkit.fluxcd.io/v1"),
        "ArtifactGenerator" => Some("source.extensions.fluxcd.io/v1beta1"),
        _ => None,
    }
}

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Go's `metav1.Now().String()`: `2006-01-02 15:04:05.999999999 -0700 MST`
/// and the monotonic reading (`m=+1.000000001`), in UTC.
pub fn go_now_string() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    let seconds = now.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = now.subsec_nanosecond();
    let mut fraction = if nanos > 0 {
        format!(".{nanos:09}")
    } else {
        String::new()
    };
    while fraction.ends_with('0') {
        fraction.pop();
    }
    let monotonic = PROCESS_START.get_or_init(Instant::now).elapsed();
    format!(
        "{seconds}{fraction} +0000 UTC m=+{}.{:09}",
        monotonic.as_secs(),
        monotonic.subsec_nanos()
    )
}

/// What the filters see of the request: its JSON body (`req`).
struct Request {
    json: Value,
}

fn evaluate_filter(expr: &str, object: &DynamicObject, request: &Request) -> Result<bool, String> {
    let res = serde_json::to_value(object).map_err(|e| e.to_string())?;
    flux_runtime::cel::evaluate_bool(expr, &[("res", &res), ("req", &request.json)])
        .map_err(|e| e.to_string())
}

impl Context {
    async fn annotate_resource(
        &self,
        receiver: &Receiver,
        resource: &ReceiverResource,
        request: &Request,
    ) -> Result<(), String> {
        let default_namespace = receiver.namespace().unwrap_or_default();
        let namespace = match resource.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) => {
                if self.no_cross_namespace_refs && ns != default_namespace {
                    return Err("cross-namespace references are not allowed".into());
                }
                ns.to_string()
            }
            None => default_namespace,
        };
        let kind = crate::api_name(resource.kind);
        let api_version = match resource.api_version.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => v.to_string(),
            None => default_api_version(&kind)
                .ok_or_else(|| format!("apiVersion must be specified for kind {kind:?}"))?
                .to_string(),
        };
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let ar = ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.clone(),
            kind: kind.clone(),
            plural: crate::plural(&kind),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &namespace, &ar);
        let objects = if resource.name == "*" {
            let Some(labels) = &resource.match_labels else {
                return Err("matchLabels field not set when using wildcard '*' as name".into());
            };
            let selector = labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let list = api
                .list_metadata(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| {
                    format!("failed listing resources in namespace {namespace:?} by matching labels: {}", crate::api_error(&e))
                })?;
            if list.items.is_empty() {
                tracing::error!(kind = %kind, namespace = %namespace, "no resources found with matching labels");
            }
            list.items
                .into_iter()
                .map(|m| DynamicObject {
                    types: Some(kube::core::TypeMeta {
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                    }),
                    metadata: m.metadata,
                    data: Value::Null,
                })
                .collect()
        } else {
            let m = api.get_metadata(&resource.name).await.map_err(|e| {
                format!(
                    "unable to read {kind} \"{namespace}/{}\" error: {}",
                    resource.name,
                    crate::api_error(&e)
                )
            })?;
            vec![DynamicObject {
                types: Some(kube::core::TypeMeta {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                }),
                metadata: m.metadata,
                data: Value::Null,
            }]
        };
        for object in objects {
            let filters = [
                receiver.spec.resource_filter.as_deref(),
                resource.filter.as_deref(),
            ];
            let mut accepted = true;
            for filter in filters.into_iter().flatten().filter(|f| !f.is_empty()) {
                accepted &= evaluate_filter(filter, &object, request)?;
            }
            let name = object.name_any();
            if !accepted {
                tracing::debug!(
                    "resource '{kind}/{name}.{namespace}' NOT annotated because CEL expression returned false"
                );
                continue;
            }
            let patch = json!({"metadata": {"annotations": {
                flux_api::meta::RECONCILE_REQUEST_ANNOTATION: go_now_string()}}});
            api.patch_metadata(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| {
                    format!(
                        "failed to annotate resource: '{kind}/{name}.{namespace}': unable to annotate {kind} \"{namespace}/{name}\" error: {}",
                        crate::api_error(&e)
                    )
                })?;
            tracing::info!("resource '{kind}/{name}.{namespace}' annotated");
        }
        Ok(())
    }

    async fn receiver_token(&self, receiver: &Receiver) -> Result<String, String> {
        let namespace = receiver.namespace().unwrap_or_default();
        let Some(reference) = &receiver.spec.secret_ref else {
            return Ok(String::new());
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let secret = secrets.get(&reference.name).await.map_err(|e| {
            format!(
                "unable to read token from secret '{namespace}/{}' error: {}",
                reference.name,
                crate::api_error(&e)
            )
        })?;
        secret
            .data
            .unwrap_or_default()
            .get("token")
            .map(|t| String::from_utf8_lossy(&t.0).to_string())
            .ok_or_else(|| {
                format!(
                    "invalid '{namespace}/{}' secret data: required fields 'token'",
                    reference.name
                )
            })
    }

    /// Handles one webhook request for `path` (the request URI).
    pub async fn handle_hook(&self, path: &str, headers: &HeaderMap, body: Body) -> StatusCode {
        let receiver = self.receivers.store.get().and_then(|store| {
            store
                .state()
                .into_iter()
                .find(|r| r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path))
        });
        let Some(receiver) = receiver else {
            return StatusCode::NOT_FOUND;
        };
        let ready = receiver
            .status
            .as_ref()
            .is_some_and(|s| flux_runtime::conditions::is_true(&s.conditions, "Ready"));
        if receiver.spec.suspend || !ready {
            tracing::error!(receiver = %receiver.name_any(), "unable to process request: receiver is suspended or not ready");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let body = match crate::server::read_body(body).await {
            Ok(body) => body,
            Err(_) => {
                tracing::error!(
                    "unable to validate payload: request body exceeds the maximum size of 3145728 bytes"
                );
                return StatusCode::BAD_REQUEST;
            }
        };
        let token = match self.receiver_token(&receiver).await {
            Ok(token) => token,
            Err(e) => {
                tracing::error!(error = %format!("unable to read token, error: {e}"), "unable to validate payload");
                return StatusCode::BAD_REQUEST;
            }
        };
        if let Err(e) = validate(
            receiver.spec.receiver_type,
            &receiver.spec.events,
            headers,
            &body,
            &token,
        ) {
            tracing::error!(error = %e, receiver = %receiver.name_any(), "unable to validate payload");
            return StatusCode::BAD_REQUEST;
        }
        let is_json = header(headers, "content-type")
            .split(',')
            .any(|v| v.split(';').next().unwrap_or_default().trim() == "application/json");
        let uses_req = receiver.spec.resource_filter.is_some()
            || receiver.spec.resources.iter().any(|r| r.filter.is_some());
        let json_body = if is_json && uses_req {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %format!("failed to parse request body as JSON: {e}"), "unable to create resource filter");
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
            }
        } else {
            json!({})
        };
        let request = Request { json: json_body };
        let mut failed = false;
        for resource in &receiver.spec.resources {
            if let Err(e) = self.annotate_resource(&receiver, resource, &request).await {
                tracing::error!(error = %e, "unable to request reconciliation");
                failed = true;
            }
        }
        if failed {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }
}

/// Serves webhooks on `listener` until it fails.
pub async fn serve(ctx: Arc<Context>, listener: tokio::net::TcpListener) -> Result<(), String> {
    let app = Router::new()
        .fallback(
            |State(ctx): State<Arc<Context>>, request: http::Request<Body>| async move {
                let (parts, body) = request.into_parts();
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                let code = if path.starts_with("/hook/") {
                    ctx.handle_hook(&path, &parts.headers, body).await
                } else {
                    StatusCode::NOT_FOUND
                };
                let mut response = Response::new(Body::empty());
                *response.status_mut() = code;
                response
            },
        )
        .with_state(ctx);
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("receiver server: {e}"))
}

/// Why a Receiver reconciliation failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(String);

fn receiver_interval(receiver: &Receiver) -> Duration {
    receiver
        .spec
        .interval
        .as_deref()
        .and_then(|i| flux_runtime::parse_duration(i).ok())
        .unwrap_or(Duration::from_secs(600))
}

async fn reconcile(receiver: Arc<Receiver>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = receiver.namespace().unwrap_or_default();
    let name = receiver.name_any();
    let api: Api<Receiver> = Api::namespaced(ctx.client.clone(), &namespace);
    let finalizers = receiver.finalizers();
    if receiver.metadata.deletion_timestamp.is_some() {
        if finalizers.iter().any(|f| f == FINALIZER) {
            let kept: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
            let patch = json!({"metadata": {"finalizers": kept, "resourceVersion": receiver.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| ReconcileError(format!("failed to remove finalizer: {e}")))?;
        }
        return Ok(Action::await_change());
    }
    if !finalizers.iter().any(|f| f == FINALIZER) {
        let mut all: Vec<String> = finalizers.to_vec();
        all.push(FINALIZER.to_string());
        let patch = json!({"metadata": {"finalizers": all, "resourceVersion": receiver.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| ReconcileError(format!("failed to add finalizer: {e}")))?;
        return Ok(Action::requeue(Duration::from_millis(1)));
    }
    if receiver.spec.suspend {
        tracing::info!(receiver = %name, "Reconciliation is suspended for this object");
        return Ok(Action::await_change());
    }
    let generation = receiver.metadata.generation;
    let mut status = receiver.status.clone().unwrap_or_default();
    let now = flux_runtime::now();
    let interval = receiver_interval(&receiver);
    if let Some(token) = flux_runtime::conditions::reconcile_request(
        receiver.metadata.annotations.as_ref(),
        status.last_handled_reconcile_at.as_deref(),
    ) {
        status.last_handled_reconcile_at = Some(token.to_string());
    }
    let mut filters: Vec<String> = receiver.spec.resource_filter.iter().cloned().collect();
    for resource in &receiver.spec.resources {
        filters.extend(resource.filter.iter().cloned());
    }
    filters.retain(|f| !f.is_empty());
    for filter in &filters {
        if let Err(e) = flux_runtime::cel::check(filter) {
            let message =
                format!("Reconciliation failed terminally due to configuration error: {e}");
            flux_runtime::conditions::mark_stalled(
                &mut status.conditions,
                "InvalidCELExpression",
                &message,
                generation,
                now.clone(),
            );
            status.observed_generation = generation;
            write_status(&api, &name, &status).await?;
            ctx.events
                .warning(&*receiver, "InvalidCELExpression", &message)
                .await;
            return Ok(Action::await_change());
        }
    }
    match ctx.receiver_token(&receiver).await {
        Err(e) => {
            flux_runtime::conditions::mark_failed(
                &mut status.conditions,
                "TokenNotFound",
                &e,
                generation,
                now,
            );
            status.webhook_path = None;
            write_status(&api, &name, &status).await?;
            ctx.events.warning(&*receiver, "Failed", &e).await;
            Err(ReconcileError(e))
        }
        Ok(token) => {
            let path = webhook_path(&token, &name, &namespace);
            let message = format!("Receiver initialized for path: {path}");
            flux_runtime::conditions::mark_ready(
                &mut status.conditions,
                "Succeeded",
                &message,
                generation,
                now,
            );
            if status.webhook_path.as_deref() != Some(path.as_str()) {
                tracing::info!(receiver = %name, "{message}");
            }
            status.webhook_path = Some(path);
            status.observed_generation = generation;
            write_status(&api, &name, &status).await?;
            let next =
                flux_go::duration::format(i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX));
            ctx.events
                .normal(
                    &*receiver,
                    "Succeeded",
                    &format!("Reconciliation finished, next run in {next}"),
                )
                .await;
            Ok(Action::requeue(interval))
        }
    }
}

async fn write_status(
    api: &Api<Receiver>,
    name: &str,
    status: &ReceiverStatus,
) -> Result<(), ReconcileError> {
    let conditions: &Vec<Condition> = &status.conditions;
    let patch = json!({"status": {
        "observedGeneration": status.observed_generation,
        "conditions": conditions,
        "webhookPath": status.webhook_path,
        "lastHandledReconcileAt": status.last_handled_reconcile_at,
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| ReconcileError(format!("failed to update status: {e}")))
}

fn error_policy(_: Arc<Receiver>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_secs(10))
}

/// Runs the Receiver reconciler (all namespaces, or `namespace`); a
/// change of a Secret re-reconciles the Receivers that read it.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>) {
    let api: Api<Receiver> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let secrets: Api<Secret> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let controller = Controller::new(api, watcher::Config::default());
    let store = controller.store();
    controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                let namespace = secret.namespace().unwrap_or_default();
                let name = secret.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|r| {
                        r.namespace().as_deref() == Some(namespace.as_str())
                            && r.spec.secret_ref.as_ref().is_some_and(|s| s.name == name)
                    })
                    .map(|r| kube::runtime::reflector::ObjectRef::from_obj(&*r))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn path_is_upstream_s_digest() {
        // sha256("tokenreceiverflux-system")
        let p = webhook_path("token", "receiver", "flux-system");
        assert!(p.starts_with("/hook/"));
        assert_eq!(p.len(), 6 + 64);
    }

    #[test]
    fn github_signatures() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let sig = format!(
            "sha256={}",
            crate::hex(&crate::hmac_sha256(b"s3cr3t", body))
        );
        let ok = headers(&[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &sig),
            ("x-github-event", "push"),
        ]);
        assert!(validate(ReceiverType::Github, &["Push".into()], &ok, body, "s3cr3t").is_ok());
        assert!(validate(ReceiverType::Github, &["ping".into()], &ok, body, "s3cr3t").is_err());
        assert!(validate(ReceiverType::Github, &[], &ok, body, "other").is_err());
        let unsigned = headers(&[("content-type", "application/json")]);
        assert_eq!(
            validate(ReceiverType::Github, &[], &unsigned, body, "s3cr3t"),
            Err("the GitHub signature header is invalid, err: missing signature".into())
        );
    }

    #[test]
    fn hmac_nexus_gitlab_harbor() {
        let body = b"{}";
        let sha512 = format!(
            "sha512={}",
            crate::hex(&crate::hmac(aws_lc_rs::hmac::HMAC_SHA512, b"k", body))
        );
        let nexus = crate::hex(&crate::hmac(
            aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            b"k",
            body,
        ));
        type Case<'a> = (ReceiverType, &'a [(&'static str, &'a str)], &'a [u8], bool);
        let cases: [Case; 8] = [
            (
                ReceiverType::GenericHmac,
                &[("x-signature", &sha512)],
                body,
                true,
            ),
            (
                ReceiverType::GenericHmac,
                &[("x-signature", "md5=00")],
                body,
                false,
            ),
            (
                ReceiverType::Nexus,
                &[("x-nexus-webhook-signature", &nexus)],
                body,
                true,
            ),
            (
                ReceiverType::Nexus,
                &[("x-nexus-webhook-signature", "00")],
                body,
                false,
            ),
            (ReceiverType::Gitlab, &[("x-gitlab-token", "k")], body, true),
            (
                ReceiverType::Gitlab,
                &[("x-gitlab-token", "x")],
                body,
                false,
            ),
            (ReceiverType::Harbor, &[("authorization", "k")], body, true),
            (ReceiverType::Dockerhub, &[], b"not json", false),
        ];
        for (kind, pairs, payload, accepted) in cases {
            assert_eq!(
                validate(kind, &[], &headers(pairs), payload, "k").is_ok(),
                accepted,
                "{kind:?} {pairs:?}"
            );
        }
    }

    #[test]
    fn go_time_string_shape() {
        let s = go_now_string();
        assert!(s.contains(" +0000 UTC m=+"), "{s}");
    }
}
