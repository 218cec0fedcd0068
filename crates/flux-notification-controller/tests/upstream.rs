//! Ours and upstream's notification-controller (v1.6.0, built from the Go
//! module proxy by `scripts/install-upstream-notification-controller.sh`)
//! on the same Alerts, Providers and Receivers of one API server, one
//! after the other: the same events are POSTed to each event server and a
//! loopback capture server records what each sends to every provider.
//! Method, path, headers and body must be identical.
//!
//! Normalised (listed here, nothing else):
//! - headers `User-Agent`, `Accept-Encoding`, `Content-Length`,
//!   `Connection` (transport details of Go's and our HTTP clients);
//! - for the providers whose payload upstream builds by ranging over a Go
//!   map (random order per call: Slack, Discord and Rocket fields, Google
//!   Chat widgets, Grafana tags, lines of Webex, Lark and Matrix text),
//!   arrays and lines are compared sorted; every other provider's body
//!   byte for byte.
//!
//! Receivers: both compute the same `status.webhookPath` and Ready
//! message, and both accept a correctly signed GitHub push (annotating the
//! GitRepository) and refuse a wrongly signed one with `400`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use flux_testenv::{ControlPlane, UpstreamController, free_port};
use kube::Api;
use kube::api::DynamicObject;
use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Captured {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Captured>>>;

/// A loopback server recording every request; it answers as the real
/// APIs would for the calls a provider makes before its POST (empty
/// commit-status lists, a Gitea version).
async fn capture_server() -> (String, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let recorded = log.clone();
    let app = Router::new().fallback(move |request: http::Request<Body>| {
        let log = recorded.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let mut headers = BTreeMap::new();
            for (name, value) in &parts.headers {
                let name = name.as_str().to_lowercase();
                if [
                    "user-agent",
                    "accept-encoding",
                    "content-length",
                    "connection",
                    "host",
                ]
                .contains(&name.as_str())
                {
                    continue;
                }
                headers.insert(name, value.to_str().unwrap_or_default().to_string());
            }
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let method = parts.method.to_string();
            let answer = if path.ends_with("/api/v1/version") {
                (200, r#"{"version":"1.22.0"}"#.to_string())
            } else if method == "GET" && path.contains("statuses") {
                (200, "[]".to_string())
            } else {
                (201, "{}".to_string())
            };
            log.lock().unwrap().push(Captured {
                method,
                path,
                headers,
                body: String::from_utf8_lossy(&body).to_string(),
            });
            http::Response::builder()
                .status(answer.0)
                .header("content-type", "application/json")
                .body(Body::from(answer.1))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, log)
}

/// A server process of a test (nats-server, Alertmanager), killed when
/// dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real NATS server (`nats-server`, built by `scripts/install-deps.sh`)
/// with a user, and a subscriber on `flux-events` that records every
/// message into `log` (method `NATS`, the subject as path).
async fn nats_server(log: Log) -> (Server, u16) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let port = free_port().unwrap();
    let child = Command::new(
        flux_testenv::tool("nats-server").expect("nats-server (scripts/install-deps.sh)"),
    )
    .args([
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--user",
        "flux",
        "--pass",
        "nats-secret",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let server = Server(child);
    let stream =
        flux_testenv::eventually_within("nats-server up", Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
        })
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut info = String::new();
    reader.read_line(&mut info).await.unwrap();
    write
        .write_all(b"CONNECT {\"user\":\"flux\",\"pass\":\"nats-secret\",\"verbose\":false}\r\nSUB flux-events 1\r\nPING\r\n")
        .await
        .unwrap();
    let mut pong = String::new();
    reader.read_line(&mut pong).await.unwrap();
    assert_eq!(pong.trim_end(), "PONG", "subscriber connected");
    tokio::spawn(async move {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.first() {
                Some(&"MSG") => {
                    let size: usize = parts.last().and_then(|n| n.parse().ok()).unwrap_or(0);
                    let mut payload = vec![0u8; size + 2];
                    if reader.read_exact(&mut payload).await.is_err() {
                        return;
                    }
                    payload.truncate(size);
                    log.lock().unwrap().push(Captured {
                        method: "NATS".into(),
                        path: parts.get(1).unwrap_or(&"").to_string(),
                        headers: BTreeMap::new(),
                        body: String::from_utf8_lossy(&payload).to_string(),
                    });
                }
                Some(&"PING") => {
                    let _ = write.write_all(b"PONG\r\n").await;
                }
                _ => {}
            }
        }
    });
    (server, port)
}

fn start_upstream(
    cp: &ControlPlane,
    namespace: &str,
    events: u16,
    hooks: u16,
    log: &Path,
) -> UpstreamController {
    UpstreamController::start(
        cp,
        "notification-controller-upstream",
        namespace,
        log,
        &[
            format!("--events-addr=127.0.0.1:{events}"),
            format!("--receiverAddr=127.0.0.1:{hooks}"),
        ],
    )
    .expect("upstream notification-controller (scripts/install-deps.sh)")
}

/// The provider types compared, each with its spec and Secret data.
fn providers(capture: &str, nats: u16) -> Vec<(&'static str, Value, Option<Value>)> {
    let repo = format!("{capture}/org/repo");
    vec![
        (
            "nats",
            json!({"address": format!("nats://127.0.0.1:{nats}"), "channel": "flux-events"}),
            Some(json!({"username": "flux", "password": "nats-secret"})),
        ),
        (
            "generic",
            json!({}),
            Some(json!({"headers": "X-Team: platform\nX-Env: <prod>\n"})),
        ),
        (
            "generic-hmac",
            json!({}),
            Some(json!({"token": "hmac-key"})),
        ),
        (
            "slack",
            json!({"channel": "ops", "username": "flux"}),
            Some(json!({"token": "xoxb-1"})),
        ),
        ("discord", json!({}), None),
        ("rocket", json!({"channel": "ops", "username": "bot"}), None),
        ("msteams", json!({}), None),
        ("googlechat", json!({}), None),
        (
            "webex",
            json!({"channel": "room-1"}),
            Some(json!({"token": "webex-token"})),
        ),
        ("lark", json!({}), None),
        (
            "matrix",
            json!({"channel": "!room:example.org"}),
            Some(json!({"token": "matrix-token"})),
        ),
        ("opsgenie", json!({}), Some(json!({"token": "genie"}))),
        (
            "alertmanager",
            json!({}),
            Some(json!({"token": "am-token"})),
        ),
        (
            "grafana",
            json!({}),
            Some(json!({"username": "admin", "password": "pw"})),
        ),
        (
            "github",
            json!({"address": repo}),
            Some(json!({"token": "gh-token"})),
        ),
        (
            "gitlab",
            json!({"address": repo}),
            Some(json!({"token": "gl-token"})),
        ),
        (
            "gitea",
            json!({"address": repo}),
            Some(json!({"token": "gitea-token"})),
        ),
    ]
}

async fn create(client: &kube::Client, namespace: &str, object: Value) {
    flux_testenv::create_object(client, namespace, &object)
        .await
        .unwrap();
}

fn string_data(data: &Value) -> Value {
    data.clone()
}

fn events(namespace: &str, round: &str) -> Vec<Value> {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let object = |kind: &str, name: &str, api: &str| {
        json!({"kind": kind, "namespace": namespace, "name": name, "uid": "5f1c3d6e-0000-4000-8000-000000000001",
               "apiVersion": api, "resourceVersion": "42"})
    };
    vec![
        // One metadata key: compared byte for byte everywhere.
        json!({"involvedObject": object("Kustomization", "apps", "kustomize.toolkit.fluxcd.io/v1"),
               "severity": "info", "timestamp": "2026-12-07T10:00:00Z",
               "message": format!("Reconciliation finished in 2s, next run in 10m0s <&> {round}"),
               "reason": "ReconciliationSucceeded",
               "metadata": {"kustomize.toolkit.fluxcd.io/revision": format!("main@sha1:{sha}"),
                            "kustomize.toolkit.fluxcd.io/checksum": "dropped"},
               "reportingController": "kustomize-controller", "reportingInstance": "kustomize-controller-abc"}),
        json!({"involvedObject": object("HelmRelease", "podinfo", "helm.toolkit.fluxcd.io/v2"),
               "severity": "error", "timestamp": "2026-12-07T10:00:01Z",
               "message": format!("Helm install failed for release podinfo/podinfo with chart podinfo@6.5.0: timed out\nline two {round}"),
               "reason": "InstallFailed",
               "metadata": {"helm.toolkit.fluxcd.io/revision": format!("6.5.0@sha1:{sha}"),
                            "helm.toolkit.fluxcd.io/token": "t-1"},
               "reportingController": "helm-controller"}),
        // Several keys (annotations, the Alert's eventMetadata and summary).
        json!({"involvedObject": object("Kustomization", "infra", "kustomize.toolkit.fluxcd.io/v1"),
               "severity": "info", "timestamp": "2026-12-07T10:00:02Z",
               "message": format!("Service/default/web configured {round}"),
               "reason": "Progressing",
               "metadata": {"kustomize.toolkit.fluxcd.io/revision": format!("main@sha1:{sha}"),
                            "event.toolkit.fluxcd.io/cluster": "staging-1",
                            "other.io/ignored": "x"},
               "reportingController": "kustomize-controller"}),
        // Matched only by the error-only Alert with matchLabels.
        json!({"involvedObject": object("Kustomization", "apps", "kustomize.toolkit.fluxcd.io/v1"),
               "severity": "error", "timestamp": "2026-12-07T10:00:03Z",
               "message": format!("Health check failed after 5m0s: timeout waiting for: [Deployment/default/web status: 'InProgress'] {round}"),
               "reason": "HealthCheckFailed",
               "metadata": {"kustomize.toolkit.fluxcd.io/revision": format!("main@sha1:{sha}")},
               "reportingController": "kustomize-controller"}),
        // Excluded by every Alert's exclusionList.
        json!({"involvedObject": object("Kustomization", "apps", "kustomize.toolkit.fluxcd.io/v1"),
               "severity": "info", "timestamp": "2026-12-07T10:00:04Z",
               "message": format!("ignored: dependency not ready {round}"), "reason": "DependencyNotReady",
               "reportingController": "kustomize-controller"}),
        // No Alert names GitRepositories.
        json!({"involvedObject": object("GitRepository", "flux-system", "source.toolkit.fluxcd.io/v1"),
               "severity": "info", "timestamp": "2026-12-07T10:00:05Z",
               "message": format!("stored artifact for commit 'x' {round}"), "reason": "NewArtifact",
               "reportingController": "source-controller"}),
    ]
}

fn normalise(body: &str) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Array(items) => {
                items.iter_mut().for_each(walk);
                items.sort_by_key(|x| x.to_string());
            }
            Value::Object(map) => map.values_mut().for_each(walk),
            Value::String(s) if s.contains('\n') => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                lines.sort();
                *s = lines.join("\n");
            }
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut v) => {
            walk(&mut v);
            v.to_string()
        }
        Err(_) => body.to_string(),
    }
}

async fn post_events(events_url: &str, round: &str, namespace: &str) -> Vec<u16> {
    let client = reqwest_like::Client::default();
    let mut codes = Vec::new();
    for event in events(namespace, round) {
        codes.push(client.post(events_url, &event.to_string(), &[]).await);
    }
    codes
}

/// A tiny HTTP/1 client over hyper for the test's own requests.
mod reqwest_like {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::client::legacy::Client as Hyper;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    pub struct Client(Hyper<HttpConnector, Full<Bytes>>);

    impl Default for Client {
        fn default() -> Self {
            Self(Hyper::builder(TokioExecutor::new()).build_http())
        }
    }

    impl Client {
        pub async fn post(&self, url: &str, body: &str, headers: &[(&str, &str)]) -> u16 {
            let mut request = http::Request::post(url).header("content-type", "application/json");
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
            match self.0.request(request).await {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            }
        }
    }
}

async fn wait_for(log: &Log, count: usize, what: &str) -> Vec<Captured> {
    flux_testenv::eventually_within(what, Duration::from_secs(60), || async {
        let seen = log.lock().unwrap().clone();
        (seen.len() >= count).then_some(seen)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: got {:#?}", log.lock().unwrap()))
}

/// What a side does with the two Receivers: their status (path, Ready
/// reason and message), the answers to a signed push, a wrongly signed
/// one and an unknown path; and the GitRepository gets a new
/// `requestedAt` from each accepted webhook.
async fn receivers_round(client: &kube::Client, namespace: &str, port: u16) -> Vec<String> {
    use flux_api::notification::v1::Receiver;
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), namespace);
    let repos: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &kube::api::ApiResource {
            group: "source.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "source.toolkit.fluxcd.io/v1".into(),
            kind: "GitRepository".into(),
            plural: "gitrepositories".into(),
        },
    );
    let requested = || async {
        repos
            .get("app")
            .await
            .unwrap()
            .metadata
            .annotations
            .unwrap_or_default()
            .get("reconcile.fluxcd.io/requestedAt")
            .cloned()
    };
    let mut seen = Vec::new();
    let http = reqwest_like::Client::default();
    let go_time =
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC m=\+\d+\.\d{9}$")
            .unwrap();
    for (name, signature_header) in [
        ("github", "x-hub-signature-256"),
        ("labelled", "x-signature"),
    ] {
        let status = flux_testenv::eventually_within(
            &format!("Receiver {name} ready"),
            Duration::from_secs(60),
            || async {
                let r = receivers.get(name).await.ok()?;
                let status = r.status?;
                let ready = status
                    .conditions
                    .iter()
                    .find(|c| c.r#type == "Ready")?
                    .clone();
                (ready.status == flux_api::meta::ConditionStatus::True
                    && r.metadata.generation == status.observed_generation)
                    .then_some((
                        status.webhook_path.clone()?,
                        ready.reason,
                        ready.message,
                        r.metadata.finalizers.unwrap_or_default(),
                    ))
            },
        )
        .await
        .unwrap();
        seen.push(format!("{name}: {status:?}"));
        let url = format!("http://127.0.0.1:{port}{}", status.0);
        let body =
            r#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
        let mac = |key: &[u8]| {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
            let tag = aws_lc_rs::hmac::sign(&key, body.as_bytes());
            format!(
                "sha256={}",
                tag.as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        };
        let before = requested().await;
        let good = mac(b"s3cr3t-hook");
        let bad = mac(b"wrong");
        let accepted = http
            .post(
                &url,
                body,
                &[(signature_header, &good), ("x-github-event", "push")],
            )
            .await;
        let after =
            flux_testenv::eventually_within("requestedAt set", Duration::from_secs(10), || async {
                let now = requested().await;
                (now != before).then_some(now)
            })
            .await
            .unwrap()
            .unwrap();
        // Go's `metav1.Now().String()`, monotonic reading included.
        assert!(go_time.is_match(&after), "{after}");
        let refused = http
            .post(
                &url,
                body,
                &[(signature_header, &bad), ("x-github-event", "push")],
            )
            .await;
        let wrong_event = http
            .post(
                &url,
                body,
                &[(signature_header, &good), ("x-github-event", "ping")],
            )
            .await;
        let unknown = http
            .post(&format!("http://127.0.0.1:{port}/hook/0000"), body, &[])
            .await;
        seen.push(format!("{name}: accepted {accepted}, bad signature {refused}, other event {wrong_event}, unknown path {unknown}"));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_and_upstreams_notifications_alike() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("notify").await.unwrap();
    let namespace = ns.name().to_string();
    let (capture, log) = capture_server().await;
    let (_nats, nats_port) = nats_server(log.clone()).await;

    for (kind, spec, secret) in providers(&capture, nats_port) {
        let mut spec = spec.clone();
        spec["type"] = json!(kind);
        if spec.get("address").is_none() {
            spec["address"] = json!(format!("{capture}/{kind}"));
        }
        if let Some(data) = &secret {
            spec["secretRef"] = json!({"name": format!("{kind}-secret")});
            create(
                &client,
                &namespace,
                json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("{kind}-secret")}, "stringData": string_data(data)}),
            )
            .await;
        }
        create(
            &client,
            &namespace,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
            "kind": "Provider", "metadata": {"name": kind}, "spec": spec}),
        )
        .await;
        let mut alert_spec = json!({"providerRef": {"name": kind},
            "eventSources": [{"kind": "Kustomization", "name": "*"}, {"kind": "HelmRelease", "name": "podinfo"}],
            "exclusionList": ["^ignored"]});
        if kind == "alertmanager" || kind == "msteams" || kind == "slack" {
            alert_spec["eventMetadata"] = json!({"env": "staging"});
            alert_spec["summary"] = json!("Cluster staging");
        }
        create(
            &client,
            &namespace,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
            "kind": "Alert", "metadata": {"name": kind}, "spec": alert_spec}),
        )
        .await;
    }
    let providers_count = providers(&capture, nats_port).len();
    // An error-only Alert for labelled objects: the involved objects exist.
    create(
        &client,
        &namespace,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider", "metadata": {"name": "errors"},
        "spec": {"type": "generic", "address": format!("{capture}/errors")}}),
    )
    .await;
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert", "metadata": {"name": "errors"},
        "spec": {"providerRef": {"name": "errors"}, "eventSeverity": "error",
                 "eventSources": [{"kind": "Kustomization", "name": "*", "matchLabels": {"team": "a"}},
                                  {"kind": "HelmRelease", "name": "*", "matchLabels": {"team": "a"}}]}})).await;
    create(&client, &namespace, json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "labels": {"team": "a"}},
        "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})).await;
    create(&client, &namespace, json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo"},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}})).await;

    // Receivers.
    create(
        &client,
        &namespace,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "hook-token"}, "stringData": {"token": "s3cr3t-hook"}}),
    )
    .await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "labels": {"hook": "yes"}},
        "spec": {"url": "https://example.com/app.git", "interval": "1h"}}),
    )
    .await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "github"},
        "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "hook-token"},
                 "resources": [{"kind": "GitRepository", "name": "app"}]}}),
    )
    .await;
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "labelled"},
        "spec": {"type": "generic-hmac", "secretRef": {"name": "hook-token"},
                 "resources": [{"kind": "GitRepository", "name": "*", "matchLabels": {"hook": "yes"}}]}})).await;

    // Upstream first.
    let dir = tempfile::tempdir().unwrap();
    let (their_events, their_hooks) = (free_port().unwrap(), free_port().unwrap());
    let upstream = start_upstream(
        cp,
        &namespace,
        their_events,
        their_hooks,
        &dir.path().join("nc.log"),
    );
    let their_url = format!("http://127.0.0.1:{their_events}/");
    // Its Alert cache is ready once a probe event is dispatched.
    flux_testenv::eventually_within("upstream serving", Duration::from_secs(60), || async {
        let codes = post_events(&their_url, "probe", &namespace).await;
        let _ = codes;
        (!log.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {}",
            std::fs::read_to_string(dir.path().join("nc.log")).unwrap_or_default()
        )
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    log.lock().unwrap().clear();
    let codes = post_events(&their_url, "r1", &namespace).await;
    assert_eq!(codes, [202; 6]);
    // A duplicate is refused.
    let again = post_events(&their_url, "r1", &namespace).await;
    assert_eq!(again, [429; 6]);
    let their_receivers = receivers_round(&client, &namespace, their_hooks).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let theirs = log.lock().unwrap().clone();
    assert!(
        theirs.len() >= providers_count,
        "upstream sent {}",
        theirs.len()
    );
    drop(upstream);
    log.lock().unwrap().clear();
    // Ours must compute the Receivers' status itself.
    let receivers: Api<flux_api::notification::v1::Receiver> =
        Api::namespaced(client.clone(), &namespace);
    for name in ["github", "labelled"] {
        let wipe =
            json!({"status": {"conditions": [], "webhookPath": null, "observedGeneration": -1}});
        receivers
            .patch_status(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&wipe),
            )
            .await
            .unwrap();
    }

    // Ours.
    let events_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let our_url = format!("http://{}/", events_listener.local_addr().unwrap());
    let hooks_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let our_hooks = hooks_listener.local_addr().unwrap().port();
    let ctx = flux_notification_controller::Context::new(client.clone());
    let watched = namespace.clone();
    tokio::spawn(async move {
        flux_notification_controller::run(
            ctx,
            Some(&watched),
            events_listener,
            Some(hooks_listener),
        )
        .await
    });
    let codes = post_events(&our_url, "r1", &namespace).await;
    assert_eq!(codes, [202; 6]);
    let again = post_events(&our_url, "r1", &namespace).await;
    assert_eq!(again, [429; 6]);
    let ours = wait_for(&log, theirs.len(), "our notifications").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ours = {
        let later = log.lock().unwrap().clone();
        if later.len() > ours.len() {
            later
        } else {
            ours
        }
    };

    let our_receivers = receivers_round(&client, &namespace, our_hooks).await;
    assert_eq!(our_receivers, their_receivers);

    let key = |c: &Captured| {
        // Upstream ranges over a Go map for these: compared sorted.
        let map_ordered = [
            "/api/v1/events",
            "/slack",
            "/discord/slack",
            "/rocket",
            "/googlechat",
            "/webex",
            "/lark",
            "/matrix",
            "/grafana",
        ]
        .iter()
        .any(|p| c.path.starts_with(p));
        let body = if map_ordered {
            normalise(&c.body)
        } else {
            c.body.clone()
        };
        Captured { body, ..c.clone() }
    };
    let mut theirs: Vec<Captured> = theirs.iter().map(key).collect();
    let mut ours: Vec<Captured> = ours.iter().map(key).collect();
    theirs.sort();
    ours.sort();
    let only_theirs: Vec<_> = theirs.iter().filter(|c| !ours.contains(c)).collect();
    let only_ours: Vec<_> = ours.iter().filter(|c| !theirs.contains(c)).collect();
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "requests differ\nonly upstream's: {only_theirs:#?}\nonly ours: {only_ours:#?}"
    );
    // Matching: the error-only Alert got exactly the labelled object's
    // error; nothing was sent for the excluded message or the
    // GitRepository.
    let errors: Vec<_> = ours.iter().filter(|c| c.path == "/errors").collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].body.contains("HealthCheckFailed"));
    assert!(
        !ours
            .iter()
            .any(|c| c.body.contains("ignored: dependency") || c.body.contains("stored artifact"))
    );
    // Every provider type was exercised.
    for (kind, _, _) in providers(&capture, nats_port) {
        let path = match kind {
            "github" => "/api/v3/repos/org/repo/statuses/".to_string(),
            "githubdispatch" => "/api/v3/repos/dispatch/repo/dispatches".to_string(),
            "gitlab" => "/api/v4/projects/org%2Frepo/statuses/".to_string(),
            "gitea" => "/api/v1/repos/org/repo/statuses/".to_string(),
            "bitbucketserver" => {
                "/bb/rest/api/latest/projects/PROJ/repos/repo/commits/".to_string()
            }
            "discord" => "/discord/slack".to_string(),
            "pagerduty" => "/v2/".to_string(),
            "datadog" => "/api/v1/events".to_string(),
            "nats" => "flux-events".to_string(),
            "matrix" => "/matrix/_matrix/client/r0/rooms/".to_string(),
            other => format!("/{other}"),
        };
        assert!(
            ours.iter().any(|c| c.path.starts_with(&path)),
            "nothing sent to {kind} ({path})"
        );
    }
}

/// A real Alertmanager (built by `scripts/install-deps.sh`) receives the
/// `alertmanager` Provider's alert: its API answers it with upstream's
/// labels (`alertname` Flux + kind + title-cased reason, the metadata)
/// and annotations (`message`, `summary`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_stores_our_alerts() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("alertmanager").await.unwrap();
    let namespace = ns.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    let port = free_port().unwrap();
    let _alertmanager = Server(
        Command::new(
            flux_testenv::tool("alertmanager").expect("alertmanager (scripts/install-deps.sh)"),
        )
        .arg(format!(
            "--config.file={}",
            dir.path().join("am.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    create(
        &client,
        &namespace,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "am"}, "spec": {"type": "alertmanager",
        "address": format!("http://127.0.0.1:{port}/api/v2/alerts")}}),
    )
    .await;
    create(&client, &namespace, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": "am"}, "spec": {"providerRef": {"name": "am"}, "eventSeverity": "error",
        "eventMetadata": {"summary": "Cluster staging", "env": "staging"},
        "eventSources": [{"kind": "Kustomization", "name": "*"}]}})).await;
    let events = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", events.local_addr().unwrap());
    let ctx = flux_notification_controller::Context::new(client.clone());
    let watched = namespace.clone();
    tokio::spawn(async move {
        flux_notification_controller::run(ctx, Some(&watched), events, None).await
    });
    let event = json!({"involvedObject": {"kind": "Kustomization", "namespace": namespace, "name": "apps",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
        "severity": "error", "timestamp": "2026-12-07T10:00:00Z",
        "message": "Health check failed after 5m0s", "reason": "HealthCheckFailed",
        "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
        "reportingController": "kustomize-controller"});
    let http = reqwest_like::Client::default();
    flux_testenv::eventually_within(
        "Alertmanager up and the event accepted",
        Duration::from_secs(30),
        || async { (http.post(&url, &event.to_string(), &[]).await == 202).then_some(()) },
    )
    .await
    .unwrap();
    let alerts = flux_testenv::eventually_within(
        "the alert in Alertmanager",
        Duration::from_secs(30),
        || async {
            let out = Command::new("curl")
                .args(["-sf", &format!("http://127.0.0.1:{port}/api/v2/alerts")])
                .output()
                .ok()?;
            let alerts: Value = serde_json::from_slice(&out.stdout).ok()?;
            (alerts.as_array()?.len() == 1).then_some(alerts)
        },
    )
    .await
    .unwrap();
    let alert = &alerts[0];
    assert_eq!(
        alert["labels"]["alertname"],
        "FluxKustomizationHealthcheckfailed"
    );
    assert_eq!(alert["labels"]["severity"], "error");
    assert_eq!(alert["labels"]["env"], "staging");
    assert_eq!(alert["labels"]["namespace"], namespace.as_str());
    assert_eq!(
        alert["labels"]["revision"],
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
    );
    assert!(
        alert["labels"].get("summary").is_none(),
        "summary is an annotation"
    );
    assert_eq!(alert["annotations"]["summary"], "Cluster staging");
    assert_eq!(
        alert["annotations"]["message"],
        "Health check failed after 5m0s"
    );
    assert_eq!(alert["startsAt"], "2026-12-07T10:00:00.000Z");
    assert_eq!(alert["status"]["state"], "active");
}
