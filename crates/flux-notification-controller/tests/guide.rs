//! The guide's §7 examples (`examples/guide-notification`), applied as
//! written with the real `kubectl apply --server-side`: the Providers,
//! the Alerts and the GitHub Receiver. The Slack address is the user's
//! own (the Secret's `address`, pointed here at a loopback server), as is
//! PagerDuty's events endpoint (the guide's Provider names none: without
//! an address nothing is sent, as upstream).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use flux_api::notification::v1::Receiver;
use flux_testenv::ControlPlane;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

type Log = Arc<Mutex<Vec<(String, Value)>>>;

async fn capture() -> (String, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let app = axum::Router::new().fallback(move |request: http::Request<Body>| {
        let sink = sink.clone();
        async move {
            let path = request.uri().path().to_string();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            sink.lock().unwrap().push((path, value));
            http::StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, log)
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

fn event(kind: &str, name: &str, severity: &str, reason: &str, message: &str) -> String {
    let group = match kind {
        "HelmRelease" => "helm.toolkit.fluxcd.io/v2",
        "GitRepository" => "source.toolkit.fluxcd.io/v1",
        _ => "kustomize.toolkit.fluxcd.io/v1",
    };
    json!({"involvedObject": {"kind": kind, "namespace": "flux-system", "name": name,
            "uid": "0c9c2e41-0000-4000-8000-000000000001", "apiVersion": group},
           "severity": severity, "timestamp": "2026-12-07T10:00:00Z", "message": message,
           "reason": reason, "reportingController": "kustomize-controller"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_notification_examples_work() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "flux-system"}})).unwrap(),
        )
        .await;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guide-notification");
    for file in ["providers.yaml", "alerts.yaml", "receiver.yaml"] {
        let out = Command::new(flux_testenv::tool("kubectl").unwrap())
            .env("KUBECONFIG", cp.kubeconfig_path())
            .args(["apply", "--server-side", "-f"])
            .arg(examples.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (capture, log) = capture().await;
    // The user's own endpoints.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "flux-system");
    secrets
        .patch(
            "slack-webhook-url",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"stringData": {"address": format!("{capture}/services/T00/B00/XXXXXXX")}}),
            ),
        )
        .await
        .unwrap();
    let providers: Api<flux_api::notification::v1beta3::Provider> =
        Api::namespaced(client.clone(), "flux-system");
    providers
        .patch(
            "pagerduty",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"address": capture}})),
        )
        .await
        .unwrap();
    let repos: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "flux-system",
        &kube::api::ApiResource {
            group: "source.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "source.toolkit.fluxcd.io/v1".into(),
            kind: "GitRepository".into(),
            plural: "gitrepositories".into(),
        },
    );
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository", "metadata": {"name": "webapp"},
                "spec": {"url": "https://github.com/my-org/webapp", "interval": "1m"}}))
            .unwrap(),
        )
        .await
        .unwrap();

    let events = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", events.local_addr().unwrap());
    let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks_url = format!("http://{}", hooks.local_addr().unwrap());
    let ctx = flux_notification_controller::Context::new(client.clone());
    tokio::spawn(async move {
        flux_notification_controller::run(ctx, Some("flux-system"), events, Some(hooks)).await
    });

    // §7.3: excluded by the regex; an info event of the webapp
    // Kustomization to Slack with the summary; an error of another
    // Kustomization to PagerDuty only.
    for (kind, name, severity, reason, message) in [
        (
            "HelmRelease",
            "webapp",
            "info",
            "Progressing",
            "Helm upgrade has started",
        ),
        (
            "Kustomization",
            "webapp",
            "info",
            "ReconciliationSucceeded",
            "Reconciliation finished in 1s, next run in 10m0s",
        ),
        (
            "Kustomization",
            "infra",
            "error",
            "HealthCheckFailed",
            "Health check failed after 5m0s",
        ),
    ] {
        assert_eq!(
            post(&url, &event(kind, name, severity, reason, message), &[]).await,
            202
        );
    }
    let sent =
        flux_testenv::eventually_within("notifications", Duration::from_secs(30), || async {
            let seen = log.lock().unwrap().clone();
            (seen.len() >= 2).then_some(seen)
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent_now = log.lock().unwrap().clone();
    assert_eq!(sent_now.len(), 2, "{sent:#?}");
    let slack = sent_now
        .iter()
        .find(|(path, _)| path == "/services/T00/B00/XXXXXXX")
        .expect("a Slack message");
    assert_eq!(slack.1["channel"], "flux-notifications");
    assert_eq!(
        slack.1["attachments"][0]["author_name"],
        "kustomization/webapp.flux-system"
    );
    assert_eq!(slack.1["attachments"][0]["color"], "good");
    assert_eq!(
        slack.1["attachments"][0]["fields"],
        json!([{"title": "summary", "value": "Production cluster alert", "short": false}])
    );
    let pagerduty = sent_now
        .iter()
        .find(|(path, _)| path == "/v2/enqueue")
        .expect("a PagerDuty event");
    assert_eq!(pagerduty.1["routing_key"], "flux-critical");
    assert_eq!(pagerduty.1["event_action"], "trigger");
    assert_eq!(
        pagerduty.1["payload"]["summary"],
        "health check failed: kustomization/infra"
    );

    // §7.4: the Receiver's path, and GitHub's signed ping and push.
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), "flux-system");
    let path =
        flux_testenv::eventually_within("Receiver ready", Duration::from_secs(30), || async {
            receivers
                .get("github-receiver")
                .await
                .ok()?
                .status?
                .webhook_path
        })
        .await
        .unwrap();
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        b"my-webhook-secret-tokengithub-receiverflux-system",
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(path, format!("/hook/{hex}"));
    let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"my-webhook-secret-token");
    let signature: String = aws_lc_rs::hmac::sign(&key, body.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signature = format!("sha256={signature}");
    let hook = format!("{hooks_url}{path}");
    for event in ["ping", "push"] {
        assert_eq!(
            post(
                &hook,
                body,
                &[
                    ("x-hub-signature-256", &signature),
                    ("x-github-event", event)
                ]
            )
            .await,
            200,
            "{event}"
        );
    }
    assert_eq!(
        post(
            &hook,
            body,
            &[
                ("x-hub-signature-256", &signature),
                ("x-github-event", "release")
            ]
        )
        .await,
        400,
        "an event the Receiver does not list"
    );
    let annotations = repos
        .get("webapp")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(annotations.contains_key("reconcile.fluxcd.io/requestedAt"));
}
