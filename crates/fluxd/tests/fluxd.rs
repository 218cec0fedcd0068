//! The `fluxd` binary against a real API server and git server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::GitRepository;
use flux_testenv::{ControlPlane, GitHttpServer};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

#[test]
fn unknown_controllers_and_missing_clusters_are_one_line_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .args(["--controllers=image-updater"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "fluxd: unknown controller \"image-updater\" (available: source, kustomize, helm, notification, source-watcher, image-reflector, image-automation)"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("fluxd: connecting to Kubernetes:"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_git_repositories_end_to_end() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("fluxd").await.unwrap();
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write("clusters/prod/app.yaml", "kind: ConfigMap\n")
        .unwrap();
    let head = remote.commit("init").unwrap();

    // The notification endpoint: a real HTTP server that keeps what it gets.
    let received = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let sink = received.clone();
    let events = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let events_url = format!("http://{}/", events.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    tokio::spawn(async move { axum::serve(events, app).await });

    let storage = tempfile::tempdir().unwrap();
    let (storage_port, health_port, metrics_port) = (
        flux_testenv::free_port().unwrap(),
        flux_testenv::free_port().unwrap(),
        flux_testenv::free_port().unwrap(),
    );
    let start = |storage_port: u16, health_port: u16, metrics_port: u16| {
        Command::new(env!("CARGO_BIN_EXE_fluxd"))
            .env("KUBECONFIG", cp.kubeconfig_path())
            .env("RUNTIME_NAMESPACE", ns.name())
            // The control plane is shared with the other tests of this file.
            .arg("--watch-all-namespaces=false")
            .arg(format!("--storage-path={}", storage.path().display()))
            .arg(format!("--storage-addr=127.0.0.1:{storage_port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{storage_port}"))
            .arg(format!("--health-addr=127.0.0.1:{health_port}"))
            .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
            .arg(format!("--events-addr={events_url}"))
            .args(["--enable-leader-election", "--log-encoding=json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let fluxd = start(storage_port, health_port, metrics_port);

    let repos: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let object: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "fleet"},
        "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
    }))
    .unwrap();
    repos.create(&PostParams::default(), &object).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let artifact = loop {
        let repo = repos.get("fleet").await.unwrap();
        let ready = repo
            .status
            .as_ref()
            .and_then(|s| flux_runtime::conditions::get(&s.conditions, "Ready"))
            .map(|c| c.status);
        if ready == Some(ConditionStatus::True) {
            break repo.status.unwrap().artifact.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not Ready: {:?}",
            repo.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(artifact.revision, format!("main@sha1:{head}"));
    assert!(
        artifact
            .url
            .starts_with(&format!("http://127.0.0.1:{storage_port}/gitrepository/"))
    );
    let status = Command::new("curl")
        .args(["-sSf", "-o", "/dev/null", &artifact.url])
        .status()
        .unwrap();
    assert!(status.success());
    let health = Command::new("curl")
        .args(["-sSf", &format!("http://127.0.0.1:{health_port}/readyz")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "ok");

    // Metrics under upstream's names.
    let metrics = Command::new("curl")
        .args(["-sSf", &format!("http://127.0.0.1:{metrics_port}/metrics")])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    let series = format!(
        "gotk_reconcile_duration_seconds_count{{kind=\"GitRepository\",name=\"fleet\",namespace=\"{}\"}}",
        ns.name()
    );
    assert!(metrics.contains(&series), "{metrics}");
    assert!(
        metrics.contains("controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"requeue_after\"}"),
        "{metrics}"
    );

    // The NewArtifact event reached the notification endpoint, as upstream sends it.
    let event = flux_testenv::eventually("the forwarded event", || async {
        received
            .lock()
            .unwrap()
            .iter()
            .find(|e| e["reason"] == "NewArtifact")
            .cloned()
    })
    .await
    .unwrap();
    assert_eq!(event["involvedObject"]["kind"], "GitRepository");
    assert_eq!(event["involvedObject"]["name"], "fleet");
    assert_eq!(event["involvedObject"]["namespace"], ns.name());
    assert_eq!(
        event["involvedObject"]["apiVersion"],
        "source.toolkit.fluxcd.io/v1"
    );
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reportingController"], "source-controller");
    assert_eq!(event["message"], "stored artifact for commit 'init'");
    assert_eq!(
        event["metadata"]["source.toolkit.fluxcd.io/revision"],
        format!("main@sha1:{head}")
    );

    // It holds the leader Lease under upstream's name; a second instance waits.
    let leases: Api<Lease> = Api::namespaced(cp.client().unwrap(), ns.name());
    let holder = |lease: Option<Lease>| {
        lease
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .filter(|h| !h.is_empty())
    };
    let first_holder = holder(
        leases
            .get_opt("source-controller-leader-election")
            .await
            .unwrap(),
    )
    .expect("a lease holder");
    assert!(
        first_holder.ends_with(&format!("_{}", fluxd.id())),
        "{first_holder}"
    );
    let mut standby = start(
        flux_testenv::free_port().unwrap(),
        flux_testenv::free_port().unwrap(),
        flux_testenv::free_port().unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        holder(
            leases
                .get_opt("source-controller-leader-election")
                .await
                .unwrap()
        ),
        Some(first_holder.clone())
    );

    // SIGTERM stops the leader cleanly and releases the Lease; the standby takes over.
    Command::new("kill")
        .args(["-TERM", &fluxd.id().to_string()])
        .status()
        .unwrap();
    let output = fluxd.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", output.status);
    let standby_id = format!("_{}", standby.id());
    flux_testenv::eventually("the standby to take the lease", || async {
        let lease = leases
            .get_opt("source-controller-leader-election")
            .await
            .ok()?;
        holder(lease).filter(|h| h.ends_with(&standby_id))
    })
    .await
    .unwrap();
    standby.kill().unwrap();
    let _ = standby.wait();

    // Logs are JSON lines with upstream's keys.
    let logs = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let stored = lines
        .iter()
        .find(|l| l["msg"] == "stored artifact for commit 'init'")
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(stored["level"], "info");
    assert_eq!(stored["controller"], "gitrepository");
    assert_eq!(stored["name"], "fleet");
    assert_eq!(stored["revision"], format!("main@sha1:{head}"));
}

/// No stuck releases: `fluxd` killed with SIGKILL while an upgrade waits
/// for its hook leaves the release `pending-upgrade`; the next `fluxd`
/// unlocks it (`failed`, upstream's description) and upgrades, instead of
/// Helm's "another operation is in progress" loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_left_pending_by_a_killed_fluxd_is_completed() {
    use flux_api::helm::v2::HelmRelease;
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{ListParams, Patch, PatchParams};

    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("fluxd-kill").await.unwrap();
    let client = cp.client().unwrap();
    let web = cp.node().and_then(|n| n.image("web")).unwrap().to_string();
    // A chart whose post-upgrade hook never completes while `hang` is set.
    let charts = tempfile::tempdir().unwrap();
    let chart = charts.path().join("slow");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: slow\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "hang: false\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\ndata:\n  hang: {{ .Values.hang | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/hook.yaml"),
        format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: slow-hook\n  annotations:\n    helm.sh/hook: post-upgrade\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: hook\n        image: {web}\n        {{{{- if .Values.hang }}}}\n        args: [\"serve\"]\n        {{{{- else }}}}\n        args: [\"print\", \"done\"]\n        {{{{- end }}}}\n"),
    )
    .unwrap();
    let repo = flux_testenv::HelmRepoServer::start().unwrap();
    repo.add_chart(&chart).unwrap();
    let apply = |object: serde_json::Value| {
        let client = client.clone();
        let namespace = ns.name().to_string();
        async move {
            let kind = object["kind"].as_str().unwrap().to_string();
            let name = object["metadata"]["name"].as_str().unwrap().to_string();
            let (group, version) = object["apiVersion"]
                .as_str()
                .unwrap()
                .split_once('/')
                .unwrap();
            let resource = kube::api::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
                group, version, &kind,
            ));
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(client, &namespace, &resource);
            api.patch(
                &name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&object),
            )
            .await
            .unwrap();
        }
    };
    apply(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "charts"}, "spec": {"url": repo.url(), "interval": "1h"}}),
    )
    .await;
    let release = |hang: bool| {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "slow"}, "spec": {"interval": "1h", "timeout": "5m",
            "chart": {"spec": {"chart": "slow", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
            "values": {"hang": hang}}})
    };
    apply(release(false)).await;

    let storage = tempfile::tempdir().unwrap();
    // The artifact server keeps its address across restarts, as a Service
    // would.
    let port = flux_testenv::free_port().unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_fluxd"))
            .env("KUBECONFIG", cp.kubeconfig_path())
            .env("RUNTIME_NAMESPACE", ns.name())
            // The control plane is shared with the other tests of this file.
            .arg("--watch-all-namespaces=false")
            .arg("--controllers=source,helm")
            .arg(format!("--storage-path={}", storage.path().display()))
            .arg(format!("--storage-addr=127.0.0.1:{port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{port}"))
            .arg(format!(
                "--health-addr=127.0.0.1:{}",
                flux_testenv::free_port().unwrap()
            ))
            .arg(format!(
                "--metrics-addr=127.0.0.1:{}",
                flux_testenv::free_port().unwrap()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let releases: Api<HelmRelease> = Api::namespaced(client.clone(), ns.name());
    let ready = |reason: &'static str| {
        let releases = releases.clone();
        async move {
            let found = flux_testenv::eventually_within(
                &format!("Ready/{reason}"),
                Duration::from_secs(180),
                || async {
                    let hr = releases.get("slow").await.ok()?;
                    let status = hr.status.clone()?;
                    let c = flux_runtime::conditions::get(&status.conditions, "Ready")?;
                    (c.status == ConditionStatus::True
                        && c.reason == reason
                        && status.observed_generation == hr.metadata.generation)
                        .then_some(status)
                },
            )
            .await;
            match found {
                Ok(status) => status,
                Err(e) => {
                    let last = releases.get("slow").await.ok().and_then(|h| h.status);
                    panic!("{e}; last status: {last:#?}")
                }
            }
        }
    };
    let mut fluxd = start();
    ready("InstallSucceeded").await;

    // The upgrade waits for a hook that never completes: kill -9 mid-way.
    apply(release(true)).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    flux_testenv::eventually_within(
        "a pending-upgrade record",
        Duration::from_secs(120),
        || async {
            let list = secrets
                .list(&ListParams::default().labels("owner=helm,name=slow,status=pending-upgrade"))
                .await
                .ok()?;
            (!list.items.is_empty()).then_some(())
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    fluxd.kill().unwrap();
    let _ = fluxd.wait();

    // The fix lands; a new fluxd unlocks the release and upgrades.
    apply(release(false)).await;
    let mut fluxd = start();
    let status = ready("UpgradeSucceeded").await;
    fluxd.kill().unwrap();
    let _ = fluxd.wait();
    let versions: Vec<(i64, String)> = status
        .history
        .iter()
        .map(|s| (s.version, s.status.clone()))
        .collect();
    assert_eq!(versions[0], (3, "deployed".to_string()), "{versions:?}");
    let v2 = secrets.get("sh.helm.release.v1.slow.v2").await.unwrap();
    let v2 = flux_helm_controller::storage::decode(&v2).unwrap();
    assert_eq!(v2.info.status, "failed");
    assert_eq!(
        v2.info.description,
        "Release unlocked from stale 'pending-upgrade' state"
    );
}

/// The loop the guide's §13 sets up, through one `fluxd` running the
/// source, kustomize and notification controllers: a push to the git
/// server, a GitHub-signed webhook to the Receiver, the GitRepository
/// reconciled at once (its interval is an hour), the Kustomization
/// applying the new commit, and the Kustomization's events — forwarded
/// in process to the event server — reaching a generic Provider with the
/// new revision, and a github Provider posting the commit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_webhook_reconciles_and_notifies() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("fluxd-notify").await.unwrap();
    let namespace = ns.name().to_string();
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    let config_map = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {namespace}\ndata:\n  value: \"{value}\"\n"
        )
    };
    remote
        .write("apps/settings.yaml", config_map("one"))
        .unwrap();
    remote.commit("one").unwrap();

    // The providers' side: a capture server (generic webhook, and a
    // GitHub Enterprise API for the commit statuses).
    let received = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let sink = received.clone();
    let capture = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let capture_url = format!("http://{}", capture.local_addr().unwrap());
    let app =
        axum::Router::new().fallback(move |request: axum::http::Request<axum::body::Body>| {
            let sink = sink.clone();
            async move {
                let path = request.uri().path().to_string();
                let method = request.method().to_string();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                sink.lock().unwrap().push((
                    format!("{method} {path}"),
                    String::from_utf8_lossy(&body).to_string(),
                ));
                if method == "GET" {
                    (axum::http::StatusCode::OK, "[]")
                } else {
                    (axum::http::StatusCode::CREATED, "{}")
                }
            }
        });
    tokio::spawn(async move { axum::serve(capture, app).await });

    let objects = [
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-token"},
               "stringData": {"token": "push-secret"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "github-token"},
               "stringData": {"token": "gh-token"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "fleet"},
               "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps"},
               "spec": {"interval": "1h", "path": "./apps", "prune": true,
                        "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "webhook"}, "spec": {"type": "generic", "address": format!("{capture_url}/events")}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "github"},
               "spec": {"type": "github", "address": format!("{capture_url}/org/fleet"), "secretRef": {"name": "github-token"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
               "metadata": {"name": "webhook"},
               "spec": {"providerRef": {"name": "webhook"}, "eventSources": [{"kind": "Kustomization", "name": "*"}]}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
               "metadata": {"name": "github"},
               "spec": {"providerRef": {"name": "github"}, "eventSources": [{"kind": "Kustomization", "name": "apps"}]}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
               "metadata": {"name": "github-push"},
               "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                        "resources": [{"kind": "GitRepository", "name": "fleet"}]}}),
    ];
    for object in objects {
        flux_testenv::create_object(&client, &namespace, &object)
            .await
            .unwrap();
    }

    let storage = tempfile::tempdir().unwrap();
    let log_path = storage.path().join("fluxd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = || flux_testenv::free_port().unwrap();
    let (storage_port, events_port, hooks_port) = (port(), port(), port());
    let mut fluxd = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .env("KUBECONFIG", cp.kubeconfig_path())
        .env("RUNTIME_NAMESPACE", &namespace)
        .arg("--controllers=source,kustomize,notification")
        .arg("--watch-all-namespaces=false")
        .arg(format!("--storage-path={}", storage.path().display()))
        .arg(format!("--storage-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--storage-adv-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--events-listen-addr=127.0.0.1:{events_port}"))
        .arg(format!("--receiver-addr=127.0.0.1:{hooks_port}"))
        .arg(format!("--health-addr=127.0.0.1:{}", port()))
        .arg(format!("--metrics-addr=127.0.0.1:{}", port()))
        .arg("--log-level=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &namespace);
    let value = || async {
        configmaps
            .get("settings")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    flux_testenv::eventually_within("first commit applied", Duration::from_secs(60), || async {
        (value().await.as_deref() == Some("one")).then_some(())
    })
    .await
    .unwrap();
    let receivers: Api<flux_api::notification::v1::Receiver> =
        Api::namespaced(client.clone(), &namespace);
    let path =
        flux_testenv::eventually_within("Receiver ready", Duration::from_secs(30), || async {
            receivers
                .get("github-push")
                .await
                .ok()?
                .status?
                .webhook_path
        })
        .await
        .unwrap();

    // A push, then GitHub's webhook.
    remote
        .write("apps/settings.yaml", config_map("two"))
        .unwrap();
    let head = remote.commit("two").unwrap();
    let body = json!({"ref": "refs/heads/main", "after": head}).to_string();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"push-secret");
    let signature: String = aws_lc_rs::hmac::sign(&key, body.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "X-GitHub-Event: push",
            "-H",
            &format!("X-Hub-Signature-256: sha256={signature}"),
            "--data-binary",
            &body,
            &format!("http://127.0.0.1:{hooks_port}{path}"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "200");
    flux_testenv::eventually_within("pushed commit applied", Duration::from_secs(60), || async {
        (value().await.as_deref() == Some("two")).then_some(())
    })
    .await
    .unwrap();

    // The Kustomization's event reached the generic Provider with the new
    // revision; the commit status was posted on the new commit.
    let revision = format!("main@sha1:{head}");
    let sent =
        flux_testenv::eventually_within("notifications sent", Duration::from_secs(30), || async {
            let seen = received.lock().unwrap().clone();
            let event = seen
                .iter()
                .find(|(at, body)| {
                    at == "POST /events"
                        && body.contains(&revision)
                        && body.contains("ReconciliationSucceeded")
                })?
                .clone();
            let status = seen
                .iter()
                .find(|(at, _)| at == &format!("POST /api/v3/repos/org/fleet/statuses/{head}"))?
                .clone();
            Some((event, status))
        })
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}: {:#?}\n{}",
                received.lock().unwrap(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });
    let event: serde_json::Value = serde_json::from_str(&sent.0.1).unwrap();
    assert_eq!(event["involvedObject"]["kind"], "Kustomization");
    assert_eq!(event["reportingController"], "kustomize-controller");
    assert_eq!(event["metadata"]["revision"], revision.as_str());
    assert!(
        sent.1.1.contains(r#""state":"success""#)
            && sent
                .1
                .1
                .contains(r#""description":"reconciliation succeeded""#),
        "{}",
        sent.1.1
    );
    let _ = fluxd.kill();
    let _ = fluxd.wait();
}

/// The guide's §8 loop through one `fluxd`: CI pushes a new image tag →
/// ImageRepository scan → ImagePolicy → a signed commit by the
/// ImageUpdateAutomation → the GitRepository (verifying every commit's
/// OpenPGP signature) → the Kustomization applies the new image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_tag_is_committed_signed_and_applied() {
    use flux_api::kustomize::v1::Kustomization;
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Patch, PatchParams};

    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("images").await.unwrap();
    let namespace = ns.name().to_string();

    let registry = flux_testenv::OciRegistry::start().unwrap();
    let host = registry.host();
    let image = flux_testenv::Image::new();
    image.push(&host, "team/web", "1.0.0").unwrap();

    // A person signs the fleet's commits with one key; the automation
    // with another, protected by a passphrase; the GitRepository trusts
    // both.
    let person = flux_testenv::SigningKey::gpg("Person <person@example.com>").unwrap();
    let bot =
        flux_testenv::SigningKey::gpg_protected("Flux <flux@example.com>", "abcde12345").unwrap();
    let git = GitHttpServer::start().unwrap();
    let repo = git.create_repo("fleet").unwrap();
    repo.write(
        "apps/web.yaml",
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: {host}/team/web:1.0.0 # {{\"$imagepolicy\": \"{namespace}:web\"}}\n"
        ),
    )
    .unwrap();
    let first = repo.commit_signed("fleet", &person).unwrap();

    let storage = tempfile::tempdir().unwrap();
    let mut fluxd = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .env("KUBECONFIG", cp.kubeconfig_path())
        .env("RUNTIME_NAMESPACE", &namespace)
        .arg("--watch-all-namespaces=false")
        .arg("--controllers=source,kustomize,image-reflector,image-automation")
        .arg(format!("--storage-path={}", storage.path().display()))
        .arg(format!(
            "--storage-addr=127.0.0.1:{}",
            flux_testenv::free_port().unwrap()
        ))
        .arg(format!(
            "--health-addr=127.0.0.1:{}",
            flux_testenv::free_port().unwrap()
        ))
        .arg(format!(
            "--metrics-addr=127.0.0.1:{}",
            flux_testenv::free_port().unwrap()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let objects = [
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "trusted-keys"},
            "stringData": {"person.asc": person.public_key(), "bot.asc": bot.public_key()}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bot-signing"},
            "stringData": {"git.asc": bot.private_key().unwrap(), "passphrase": "abcde12345"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"},
            "spec": {"url": repo.url(), "interval": "1h", "ref": {"branch": "main"},
                     "verify": {"mode": "HEAD", "secretRef": {"name": "trusted-keys"}}}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps"},
            "spec": {"interval": "1h", "path": "./apps", "prune": true,
                     "targetNamespace": namespace,
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "web"},
            "spec": {"image": format!("{host}/team/web"), "insecure": true, "interval": "1h"}}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "web"},
            "spec": {"imageRepositoryRef": {"name": "web"},
                     "policy": {"semver": {"range": ">=1.0.0"}}}}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet"},
            "spec": {"interval": "1h",
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                     "git": {"checkout": {"ref": {"branch": "main"}},
                             "commit": {"author": {"name": "Flux", "email": "flux@example.com"},
                                        "signingKey": {"secretRef": {"name": "bot-signing"}},
                                        "messageTemplate": "{{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }}{{ end }}"},
                             "push": {"branch": "main"}},
                     "update": {"path": "./apps", "strategy": "Setters"}}}),
    ];
    for object in &objects {
        flux_testenv::create_object(&client, &namespace, object)
            .await
            .unwrap();
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), &namespace);
    let applied = |revision: String, tag: &'static str| {
        let (deployments, kustomizations) = (deployments.clone(), kustomizations.clone());
        let wanted = format!("{host}/team/web:{tag}");
        async move {
            let found = flux_testenv::eventually_within(
                &format!("{wanted} applied from {revision}"),
                Duration::from_secs(120),
                || async {
                    let k = kustomizations.get("apps").await.ok()?;
                    let d = deployments.get("web").await.ok()?;
                    let image = d.spec?.template.spec?.containers.first()?.image.clone()?;
                    (k.status?.last_applied_revision.as_deref() == Some(revision.as_str())
                        && image == wanted)
                        .then_some(())
                },
            )
            .await;
            if let Err(e) = found {
                let status = kustomizations.get("apps").await.ok().and_then(|k| k.status);
                panic!("{e}: {status:?}");
            }
        }
    };
    applied(format!("main@sha1:{first}"), "1.0.0").await;

    // CI pushes 1.1.0; a scan is asked for, as a Receiver would.
    image.push(&host, "team/web", "1.1.0").unwrap();
    let image_repositories: Api<flux_api::image::v1::ImageRepository> =
        Api::namespaced(client.clone(), &namespace);
    let requested =
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "tag-pushed"}}});
    image_repositories
        .patch("web", &PatchParams::default(), &Patch::Merge(&requested))
        .await
        .unwrap();
    let automations: Api<flux_api::image::v1::ImageUpdateAutomation> =
        Api::namespaced(client.clone(), &namespace);
    let pushed = flux_testenv::eventually_within(
        "the automation's push",
        Duration::from_secs(120),
        || async {
            automations
                .get("fleet")
                .await
                .ok()?
                .status?
                .last_push_commit
        },
    )
    .await
    .unwrap();
    // The commit is signed by the bot's key, as the real git sees it.
    let report = bot
        .verify_commit(repo.bare_path(), &pushed, "flux@example.com")
        .unwrap();
    assert!(report.contains("GOODSIG"), "{report}");
    let message =
        flux_testenv::git(repo.bare_path(), &["log", "-1", "--format=%B", &pushed]).unwrap();
    assert_eq!(
        message.trim_end(),
        format!("{host}/team/web:1.0.0 -> {host}/team/web:1.1.0")
    );
    // The GitRepository fetches it (asked, as a push webhook would) and
    // verifies its signature; the Kustomization applies the new image.
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    repos
        .patch("fleet", &PatchParams::default(), &Patch::Merge(&requested))
        .await
        .unwrap();
    applied(format!("main@sha1:{pushed}"), "1.1.0").await;
    let verified = repos.get("fleet").await.unwrap().status.unwrap();
    let condition = flux_runtime::conditions::get(&verified.conditions, "SourceVerified").unwrap();
    assert_eq!(condition.status, ConditionStatus::True, "{condition:?}");
    assert!(
        condition.message.contains(&bot.id().unwrap()),
        "{}",
        condition.message
    );
    let _ = fluxd.kill();
    let _ = fluxd.wait();
}
