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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn unknown_controllers_and_missing_clusters_are_one_line_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .args(["--controllers=helm"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "fluxd: unknown controller \"helm\" (available: source, kustomize, source-watcher)"
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
    let (storage_port, health_port, metrics_port) = (free_port(), free_port(), free_port());
    let start = |storage_port: u16, health_port: u16, metrics_port: u16| {
        Command::new(env!("CARGO_BIN_EXE_fluxd"))
            .env("KUBECONFIG", cp.kubeconfig_path())
            .env("RUNTIME_NAMESPACE", ns.name())
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
    let mut standby = start(free_port(), free_port(), free_port());
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
