//! The `fluxd` binary against a real API server and git server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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
        "fluxd: unknown controller \"helm\" (available: source)"
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

    let storage = tempfile::tempdir().unwrap();
    let (storage_port, health_port) = (free_port(), free_port());
    let mut fluxd = Command::new(env!("CARGO_BIN_EXE_fluxd"))
        .env("KUBECONFIG", cp.kubeconfig_path())
        .arg(format!("--storage-path={}", storage.path().display()))
        .arg(format!("--storage-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--storage-adv-addr=127.0.0.1:{storage_port}"))
        .arg(format!("--health-addr=127.0.0.1:{health_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

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
            .and_then(|s| flux_api::conditions::get(&s.conditions, "Ready"))
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

    // SIGTERM stops it cleanly.
    Command::new("kill")
        .args(["-TERM", &fluxd.id().to_string()])
        .status()
        .unwrap();
    let exit = fluxd.wait().unwrap();
    assert!(exit.success(), "{exit}");
}
