//! What goes wrong, reported: a provider answering an error becomes a
//! Warning event on the Alert with the status code and the answer (the
//! token masked); a missing Provider, a broken Secret, an invalid regex
//! are reported on the Alert; cross-namespace events are refused with
//! `--no-cross-namespace-refs`; a Receiver without its token Secret is
//! not Ready and has no path; a wrong token, an event not listed, an
//! oversize body and a suspended Receiver are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use flux_api::notification::v1::Receiver;
use flux_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// A provider endpoint that refuses everything with `403` and echoes
/// the Authorization header in its answer (a leaky API).
async fn create(client: &Client, namespace: &str, object: Value) {
    flux_testenv::create_object(client, namespace, &object)
        .await
        .unwrap();
}

async fn refusing_server() -> (String, Arc<Mutex<usize>>) {
    let hits = Arc::new(Mutex::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move |request: http::Request<Body>| {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            http::Response::builder()
                .status(403)
                .body(Body::from(format!("forbidden for {auth}")))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, hits)
}

async fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> u16 {
    use bytes::Bytes;
    use http_body_util::Full;
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut request = http::Request::post(url).header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    client
        .request(request)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn alert_events(client: &Client, namespace: &str, alert: &str) -> Vec<(String, String)> {
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), namespace);
    events
        .list(&ListParams::default().fields(&format!("involvedObject.name={alert}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn event(namespace: &str, name: &str, message: &str) -> String {
    json!({"involvedObject": {"kind": "Kustomization", "namespace": namespace, "name": name,
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
           "severity": "error", "timestamp": "2026-12-07T10:00:00Z", "message": message,
           "reason": "BuildFailed", "reportingController": "kustomize-controller"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_and_refused() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("notify-fail").await.unwrap();
    let namespace = ns.name().to_string();
    let other = cp.namespace("notify-other").await.unwrap();
    let (refusing, hits) = refusing_server().await;

    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack-token"},
                        "stringData": {"token": "xoxb-very-secret"}});
    create(&client, &namespace, secret).await;
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "slack"}, "spec": {"type": "slack", "address": format!("{refusing}/api"),
        "secretRef": {"name": "slack-token"}}})).await;
    let alert = |name: &str, provider: &str, extra: Value| {
        let mut spec = json!({"providerRef": {"name": provider},
            "eventSources": [{"kind": "Kustomization", "name": name}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
               "metadata": {"name": name}, "spec": spec})
    };
    create(&client, &namespace, alert("refused", "slack", json!({}))).await;
    create(
        &client,
        &namespace,
        alert("missing-provider", "nowhere", json!({})),
    )
    .await;
    create(
        &client,
        &namespace,
        alert(
            "bad-regex",
            "slack",
            json!({"inclusionList": ["(unclosed"]}),
        ),
    )
    .await;
    // An Alert in another namespace watching this namespace's objects.
    create(&client, other.name(), json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "slack"}, "spec": {"type": "slack", "address": format!("{refusing}/other")}})).await;
    create(
        &client,
        other.name(),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": "cross"}, "spec": {"providerRef": {"name": "slack"},
        "eventSources": [{"kind": "Kustomization", "name": "cross", "namespace": namespace}]}}),
    )
    .await;

    let events_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", events_listener.local_addr().unwrap());
    let hooks_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks = format!("http://{}", hooks_listener.local_addr().unwrap());
    let mut ctx = flux_notification_controller::Context::new(client.clone());
    ctx.no_cross_namespace_refs = true;
    let metrics = ctx.metrics.clone();
    tokio::spawn(async move {
        flux_notification_controller::run(ctx, None, events_listener, Some(hooks_listener)).await
    });

    // Not an event; too large.
    assert_eq!(post(&url, "{not json", &[]).await, 400);
    let huge = format!("{{\"message\": \"{}\"}}", "x".repeat(4 << 20));
    assert_eq!(post(&url, &huge, &[]).await, 413);

    // The provider refuses: a Warning on the Alert with the status code
    // and the answer, the token masked.
    assert_eq!(
        post(&url, &event(&namespace, "refused", "build failed"), &[]).await,
        202
    );
    let warning = flux_testenv::eventually_within(
        "dispatch failure reported",
        Duration::from_secs(30),
        || async {
            alert_events(&client, &namespace, "refused")
                .await
                .into_iter()
                .find(|(reason, _)| reason == "NotificationDispatchFailed")
        },
    )
    .await
    .unwrap();
    assert!(
        warning.1.starts_with(&format!("failed to send notification for Kustomization/{namespace}/refused: postMessage failed: request failed: request failed with status code 403, forbidden for Bearer *****")),
        "{warning:?}"
    );
    assert!(!warning.1.contains("xoxb-very-secret"));
    assert_eq!(*hits.lock().unwrap(), 1, "4xx answers are not retried");
    // Beyond upstream: the failed delivery is counted per Alert.
    let exposed = metrics.encode();
    assert!(
        exposed.contains(&format!(
            "gotk_notification_deliveries_total{{namespace=\"{namespace}\",alert=\"refused\",provider=\"slack\",type=\"slack\",result=\"failure\"}} 1"
        )),
        "{exposed}"
    );

    // The same event again within the interval: refused as a duplicate.
    assert_eq!(
        post(&url, &event(&namespace, "refused", "build failed"), &[]).await,
        429
    );

    // A missing Provider.
    assert_eq!(
        post(&url, &event(&namespace, "missing-provider", "m"), &[]).await,
        202
    );
    let missing = flux_testenv::eventually_within(
        "missing provider reported",
        Duration::from_secs(30),
        || async {
            alert_events(&client, &namespace, "missing-provider")
                .await
                .into_iter()
                .find(|(reason, _)| reason == "NotificationDispatchFailed")
        },
    )
    .await
    .unwrap();
    assert!(missing.1.ends_with("failed to read provider: providers.notification.toolkit.fluxcd.io \"nowhere\" not found"), "{missing:?}");

    // An inclusion regex that does not compile.
    assert_eq!(
        post(&url, &event(&namespace, "bad-regex", "x"), &[]).await,
        202
    );
    let invalid = flux_testenv::eventually_within(
        "invalid regex reported",
        Duration::from_secs(30),
        || async {
            alert_events(&client, &namespace, "bad-regex")
                .await
                .into_iter()
                .find(|(reason, _)| reason == "InvalidConfig")
        },
    )
    .await
    .unwrap();
    assert_eq!(invalid.1, "failed to compile inclusion regex: (unclosed");

    // Cross-namespace refused.
    assert_eq!(post(&url, &event(&namespace, "cross", "c"), &[]).await, 202);
    let denied = flux_testenv::eventually_within(
        "cross-namespace refused",
        Duration::from_secs(30),
        || async {
            alert_events(&client, other.name(), "cross")
                .await
                .into_iter()
                .find(|(reason, _)| reason == "NotificationDispatchFailed")
        },
    )
    .await
    .unwrap();
    assert!(
        denied
            .1
            .contains("discarding event, access denied to cross-namespace sources"),
        "{denied:?}"
    );
    assert_eq!(
        *hits.lock().unwrap(),
        1,
        "nothing sent for the cross-namespace event"
    );

    // Receivers: no token Secret → not Ready, no path.
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "no-token"}, "spec": {"type": "generic", "secretRef": {"name": "absent"},
        "resources": [{"kind": "GitRepository", "name": "app"}]}})).await;
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), &namespace);
    let not_ready =
        flux_testenv::eventually_within("TokenNotFound", Duration::from_secs(30), || async {
            let status = receivers.get("no-token").await.ok()?.status?;
            let ready = status
                .conditions
                .iter()
                .find(|c| c.r#type == "Ready")?
                .clone();
            (ready.reason == "TokenNotFound").then_some((ready, status.webhook_path))
        })
        .await
        .unwrap();
    assert!(
        not_ready
            .0
            .message
            .contains("unable to read token from secret"),
        "{:?}",
        not_ready.0
    );
    assert_eq!(not_ready.1, None);

    // A filter that does not parse: stalled, as upstream.
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "bad-filter"}, "spec": {"type": "generic", "secretRef": {"name": "absent"},
        "resourceFilter": "res.metadata.name ==",
        "resources": [{"kind": "GitRepository", "name": "app"}]}})).await;
    let stalled = flux_testenv::eventually_within(
        "InvalidCELExpression",
        Duration::from_secs(30),
        || async {
            let status = receivers.get("bad-filter").await.ok()?.status?;
            let ready = status
                .conditions
                .iter()
                .find(|c| c.r#type == "Ready")?
                .clone();
            (ready.reason == "InvalidCELExpression").then_some(status)
        },
    )
    .await
    .unwrap();
    assert!(
        stalled.conditions.iter().any(|c| c.r#type == "Stalled"),
        "{stalled:?}"
    );

    // A Ready gitlab Receiver: wrong token 400, oversize 400, suspended 503.
    create(
        &client,
        &namespace,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"},
        "stringData": {"token": "gl-hook"}}),
    )
    .await;
    create(&client, &namespace, json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app"}, "spec": {"url": "https://example.com/app.git", "interval": "1h"}})).await;
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "gitlab"}, "spec": {"type": "gitlab", "events": ["Push Hook"], "secretRef": {"name": "hook"},
        "resources": [{"kind": "GitRepository", "name": "app"}, {"kind": "GitRepository", "name": "absent"}]}})).await;
    let path = flux_testenv::eventually_within(
        "gitlab Receiver ready",
        Duration::from_secs(30),
        || async { receivers.get("gitlab").await.ok()?.status?.webhook_path },
    )
    .await
    .unwrap();
    let hook = format!("{hooks}{path}");
    assert_eq!(
        post(
            &hook,
            "{}",
            &[("x-gitlab-token", "wrong"), ("x-gitlab-event", "Push Hook")]
        )
        .await,
        400
    );
    assert_eq!(
        post(
            &hook,
            "{}",
            &[
                ("x-gitlab-token", "gl-hook"),
                ("x-gitlab-event", "Tag Push Hook")
            ]
        )
        .await,
        400
    );
    // Too large: refused after 3 MiB. The server stops reading there, so
    // a client still sending may see the connection reset before it reads
    // the 400 (as with Go's server, which drains only 256 KiB): either
    // way nothing is accepted.
    let too_large = post(
        &hook,
        &"x".repeat(4 << 20),
        &[
            ("x-gitlab-token", "gl-hook"),
            ("x-gitlab-event", "Push Hook"),
        ],
    )
    .await;
    assert!(
        too_large == 400 || too_large == 0,
        "a 4 MiB body answered {too_large}"
    );
    // One resource is missing: the other is annotated, the answer is 500.
    assert_eq!(
        post(
            &hook,
            "{}",
            &[
                ("x-gitlab-token", "gl-hook"),
                ("x-gitlab-event", "Push Hook")
            ]
        )
        .await,
        500
    );
    let repos: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &kube::api::ApiResource {
            group: "source.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "source.toolkit.fluxcd.io/v1".into(),
            kind: "GitRepository".into(),
            plural: "gitrepositories".into(),
        },
    );
    let annotations = repos
        .get("app")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(annotations.contains_key("reconcile.fluxcd.io/requestedAt"));
    receivers
        .patch(
            "gitlab",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    flux_testenv::eventually_within(
        "suspended Receiver refuses",
        Duration::from_secs(30),
        || async {
            (post(
                &hook,
                "{}",
                &[
                    ("x-gitlab-token", "gl-hook"),
                    ("x-gitlab-event", "Push Hook"),
                ],
            )
            .await
                == 503)
                .then_some(())
        },
    )
    .await
    .unwrap();
    assert_eq!(post(&format!("{hooks}/hook/unknown"), "{}", &[]).await, 404);
}
