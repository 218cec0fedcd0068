//! The HelmRepository reconciler against a real API server and a real
//! Helm HTTP repository (indexes written by the real `helm repo index`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::HelmRepository;
use flux_artifact::{Retention, Storage};
use flux_source_controller::{Context, run, server::serve_storage};
use flux_testenv::{ControlPlane, HelmRepoServer, HttpAuth};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn condition<'a>(repo: &'a HelmRepository, kind: &str) -> Option<&'a flux_api::meta::Condition> {
    repo.status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
}

async fn wait(
    api: &Api<HelmRepository>,
    name: &str,
    kind: &str,
    status: ConditionStatus,
    reason: &str,
) -> HelmRepository {
    flux_testenv::eventually(&format!("{name}: {kind}={status:?} ({reason})"), || async {
        let repo = api.get(name).await.ok()?;
        let c = condition(&repo, kind)?;
        (c.status == status && c.reason == reason).then(|| repo.clone())
    })
    .await
    .unwrap()
}

/// Runs the source controllers on `namespace` with their storage served;
/// the storage folder lives as long as the returned value.
async fn start_controller(client: &kube::Client, namespace: &str) -> tempfile::TempDir {
    start_controller_with(client, namespace, |_| {}).await
}

/// [`start_controller`] with `configure` applied to its context.
async fn start_controller_with(
    client: &kube::Client,
    namespace: &str,
    configure: impl FnOnce(&mut Context),
) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_storage(root.path().to_path_buf(), listener));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let mut ctx = Context::new(client.clone(), storage);
    ctx.retry_interval = std::time::Duration::from_secs(2);
    configure(&mut ctx);
    let namespace = namespace.to_string();
    tokio::spawn(async move { run(ctx, Some(&namespace)).await });
    root
}

/// The shared control plane with the CRDs: a fresh namespace named after
/// `prefix`, and a client.
async fn namespace(prefix: &str) -> (flux_testenv::TestNamespace, kube::Client) {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    (cp.namespace(prefix).await.unwrap(), cp.client().unwrap())
}

async fn create(api: &Api<HelmRepository>, name: &str, spec: serde_json::Value) {
    let object: HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_repository_lifecycle() {
    let (ns, client) = namespace("helmrepo").await;
    let root = start_controller_with(&client, ns.name(), |ctx| {
        ctx.helm_index_max_size = 64 << 10;
    })
    .await;

    let server = HelmRepoServer::start_with_auth(HttpAuth::basic("flux", "s3cret")).unwrap();
    server.add_simple_chart("web", "1.0.0").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    for (name, password) in [("creds", "s3cret"), ("wrong", "nope")] {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": name},
            "stringData": {"username": "flux", "password": password},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    create(
        &repos,
        "charts",
        json!({"url": server.url(), "interval": "10m", "secretRef": {"name": "creds"}}),
    )
    .await;
    let ready = wait(
        &repos,
        "charts",
        "Ready",
        ConditionStatus::True,
        "Succeeded",
    )
    .await;
    let status = ready.status.clone().unwrap();
    let artifact = status.artifact.clone().unwrap();
    let raw = std::fs::read(server.root().join("index.yaml")).unwrap();
    assert_eq!(
        artifact.revision,
        flux_artifact::Digest::of(&raw).to_string()
    );
    assert_eq!(
        condition(&ready, "Ready").unwrap().message,
        format!("stored artifact: revision '{}'", artifact.revision)
    );
    let hex = artifact.revision.trim_start_matches("sha256:");
    assert_eq!(
        artifact.path,
        format!("helmrepository/{}/charts/index-{hex}.yaml", ns.name())
    );
    assert!(
        status
            .url
            .as_deref()
            .unwrap()
            .ends_with("/charts/index.yaml")
    );
    // The stored index is JSON that lists the chart.
    let stored = std::fs::read_to_string(root.path().join(&artifact.path)).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(parsed["entries"]["web"][0]["version"], "1.0.0");
    assert_eq!(
        artifact.digest,
        flux_artifact::Digest::of(stored.as_bytes()).to_string()
    );

    // A new chart version is a new revision.
    server.add_simple_chart("web", "1.1.0").unwrap();
    repos
        .patch(
            "charts",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
            ),
        )
        .await
        .unwrap();
    flux_testenv::eventually("the new index", || async {
        let repo = repos.get("charts").await.ok()?;
        let a = repo.status?.artifact?;
        (a.revision != artifact.revision).then_some(())
    })
    .await
    .unwrap();

    // Wrong credentials, an oci:// URL without `type: oci`, an index over
    // the size limit, an index that is not one.
    create(
        &repos,
        "wrong",
        json!({"url": server.url(), "interval": "10m", "secretRef": {"name": "wrong"}}),
    )
    .await;
    let wrong = wait(
        &repos,
        "wrong",
        "Ready",
        ConditionStatus::False,
        "AuthenticationFailed",
    )
    .await;
    assert!(
        condition(&wrong, "Ready")
            .unwrap()
            .message
            .contains("401 Unauthorized")
    );
    create(
        &repos,
        "ocidefault",
        json!({"url": "oci://ghcr.io/org/charts", "interval": "10m"}),
    )
    .await;
    let stalled = wait(
        &repos,
        "ocidefault",
        "Stalled",
        ConditionStatus::True,
        "URLInvalid",
    )
    .await;
    assert_eq!(
        condition(&stalled, "Ready").unwrap().message,
        "invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type"
    );
    let big = HelmRepoServer::start().unwrap();
    let mut index = String::from("apiVersion: v1\nentries:\n  big:\n");
    for i in 0..2000 {
        index.push_str(&format!(
            "  - name: big\n    version: 1.0.{i}\n    urls: [big-1.0.{i}.tgz]\n"
        ));
    }
    std::fs::write(big.root().join("index.yaml"), &index).unwrap();
    create(&repos, "big", json!({"url": big.url(), "interval": "10m"})).await;
    let failed = wait(&repos, "big", "Ready", ConditionStatus::False, "Failed").await;
    assert!(
        condition(&failed, "Ready")
            .unwrap()
            .message
            .ends_with("index exceeds the maximum index file size of 65536 bytes"),
        "{:?}",
        condition(&failed, "Ready")
    );
    let garbage = HelmRepoServer::start().unwrap();
    std::fs::write(
        garbage.root().join("index.yaml"),
        "entries: [not, an, index\n",
    )
    .unwrap();
    create(
        &repos,
        "garbage",
        json!({"url": garbage.url(), "interval": "10m"}),
    )
    .await;
    let failed = wait(
        &repos,
        "garbage",
        "Ready",
        ConditionStatus::False,
        "IndexationFailed",
    )
    .await;
    assert!(
        condition(&failed, "Ready")
            .unwrap()
            .message
            .starts_with("failed to load Helm repository from index YAML: "),
        "{:?}",
        condition(&failed, "Ready")
    );

    // `type: oci` is a static object: no artifact, no status.
    create(
        &repos,
        "oci",
        json!({"url": "oci://ghcr.io/org/charts", "type": "oci", "interval": "10m"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let oci = repos.get("oci").await.unwrap();
    assert!(
        oci.status
            .map(|s| s.artifact.is_none() && s.conditions.is_empty())
            .unwrap_or(true)
    );

    // Deleting removes the artifacts.
    let dir = root
        .path()
        .join(format!("helmrepository/{}/charts", ns.name()));
    assert!(dir.is_dir());
    repos
        .delete("charts", &DeleteParams::default())
        .await
        .unwrap();
    flux_testenv::eventually("charts deleted", || async {
        repos.get("charts").await.is_err().then_some(())
    })
    .await
    .unwrap();
    assert!(!dir.exists());
}

/// HelmCharts from a HelmRepository: the version chosen as upstream
/// chooses it, the chart stored as downloaded, a new version in the
/// repository followed without waiting for the chart's interval, errors in
/// upstream's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_charts_from_a_repository() {
    use flux_api::source::v1::HelmChart;
    let (ns, client) = namespace("helmchart").await;
    let root = start_controller(&client, ns.name()).await;

    let server = HelmRepoServer::start_with_auth(HttpAuth::basic("flux", "s3cret")).unwrap();
    server.add_simple_chart("web", "1.0.0").unwrap();
    let v110 = server.add_simple_chart("web", "1.1.0").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "creds"},
        "stringData": {"username": "flux", "password": "s3cret"},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    create(
        &repos,
        "charts",
        json!({"url": server.url(), "interval": "10m", "secretRef": {"name": "creds"}}),
    )
    .await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    let create_chart = |name: &'static str, chart: &'static str, version: &'static str| {
        let charts = charts.clone();
        async move {
            let object: HelmChart = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": name},
                "spec": {"chart": chart, "version": version, "interval": "10m",
                         "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
            }))
            .unwrap();
            charts
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
    };
    create_chart("web", "web", "*").await;
    let chart_condition = |c: &HelmChart, kind: &str| {
        c.status
            .as_ref()
            .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
            .cloned()
    };
    let ready = flux_testenv::eventually("web Ready", || async {
        let c = charts.get("web").await.ok()?;
        (chart_condition(&c, "Ready")?.status == ConditionStatus::True).then_some(c)
    })
    .await
    .unwrap();
    let ready_condition = chart_condition(&ready, "Ready").unwrap();
    assert_eq!(ready_condition.reason, "ChartPullSucceeded");
    assert_eq!(
        ready_condition.message,
        "pulled 'web' chart with version '1.1.0'"
    );
    let status = ready.status.unwrap();
    let artifact = status.artifact.unwrap();
    assert_eq!(artifact.revision, "1.1.0");
    assert_eq!(
        artifact.path,
        format!("helmchart/{}/web/web-1.1.0.tgz", ns.name())
    );
    // Stored as downloaded: the bytes `helm package` wrote.
    assert_eq!(
        artifact.digest,
        flux_artifact::Digest::of(&std::fs::read(&v110).unwrap()).to_string()
    );
    assert_eq!(status.observed_chart_name.as_deref(), Some("web"));

    // A new version: the repository is asked to look now, the chart follows.
    server.add_simple_chart("web", "1.2.0").unwrap();
    repos
        .patch(
            "charts",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
            ),
        )
        .await
        .unwrap();
    flux_testenv::eventually("web follows to 1.2.0", || async {
        let c = charts.get("web").await.ok()?;
        (c.status?.artifact?.revision == "1.2.0").then_some(())
    })
    .await
    .unwrap();

    // No such version, no such chart.
    create_chart("nine", "web", "9.x").await;
    let stalled = flux_testenv::eventually("nine stalled", || async {
        let c = charts.get("nine").await.ok()?;
        (chart_condition(&c, "Stalled")?.status == ConditionStatus::True).then_some(c)
    })
    .await
    .unwrap();
    let ready_condition = chart_condition(&stalled, "Ready").unwrap();
    assert_eq!(ready_condition.reason, "InvalidChartReference");
    assert_eq!(
        ready_condition.message,
        "invalid chart reference: failed to get chart version for remote reference: no 'web' chart with version matching '9.x' found"
    );
    create_chart("missing", "api", "").await;
    let missing = flux_testenv::eventually("missing fails", || async {
        let c = charts.get("missing").await.ok()?;
        (chart_condition(&c, "Ready")?.status == ConditionStatus::False).then_some(c)
    })
    .await
    .unwrap();
    assert!(
        chart_condition(&missing, "Ready")
            .unwrap()
            .message
            .ends_with("no chart name found")
    );

    // Deleting removes the chart's artifacts.
    let dir = root.path().join(format!("helmchart/{}/web", ns.name()));
    assert!(dir.is_dir());
    charts
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    flux_testenv::eventually("web deleted", || async {
        charts.get("web").await.is_err().then_some(())
    })
    .await
    .unwrap();
    assert!(!dir.exists());
}

/// A Helm repository behind mutual TLS: the `certSecretRef` pair, and the
/// deprecated TLS entries of `secretRef` (still read by upstream), reach
/// the index and the chart; a CA alone is refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_helm_repositories() {
    use flux_api::source::v1::HelmChart;
    use flux_testenv::TestCa;
    let (ns, client) = namespace("helmmtls").await;
    let _root = start_controller(&client, ns.name()).await;

    let server_ca = TestCa::new("charts-ca").unwrap();
    let client_ca = TestCa::new("clients-ca").unwrap();
    let server = HelmRepoServer::start_with_tls(
        &server_ca.server_cert("charts", &["127.0.0.1"]).unwrap(),
        Some(&client_ca.cert_pem()),
    )
    .unwrap();
    server.add_simple_chart("web", "1.0.0").unwrap();
    let pair = client_ca.client_cert("flux", &[]).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    for (name, data) in [
        (
            "mtls",
            json!({"ca.crt": server_ca.cert_pem(), "tls.crt": pair.cert_pem, "tls.key": pair.key_pem}),
        ),
        ("ca-only", json!({"ca.crt": server_ca.cert_pem()})),
    ] {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data}))
                .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    let url = server.url();
    create(
        &repos,
        "mtls",
        json!({"url": url, "interval": "10m", "certSecretRef": {"name": "mtls"}}),
    )
    .await;
    create(
        &repos,
        "deprecated",
        json!({"url": url, "interval": "10m", "secretRef": {"name": "mtls"}}),
    )
    .await;
    create(
        &repos,
        "ca-only",
        json!({"url": url, "interval": "10m", "certSecretRef": {"name": "ca-only"}}),
    )
    .await;
    for name in ["mtls", "deprecated"] {
        let repo = wait(&repos, name, "Ready", ConditionStatus::True, "Succeeded").await;
        assert!(repo.status.unwrap().artifact.is_some(), "{name}");
    }
    let refused = wait(&repos, "ca-only", "Ready", ConditionStatus::False, "Failed").await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.starts_with("failed to fetch Helm repository index: "),
        "{message}"
    );

    // The chart download carries the pair too.
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    let chart: HelmChart = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "web"},
        "spec": {"chart": "web", "version": "1.0.0", "interval": "10m",
                 "sourceRef": {"kind": "HelmRepository", "name": "mtls"}},
    }))
    .unwrap();
    charts.create(&PostParams::default(), &chart).await.unwrap();
    flux_testenv::eventually("the chart pulled over mutual TLS", || async {
        let c = charts.get("web").await.ok()?;
        let ready = flux_runtime::conditions::get(&c.status.as_ref()?.conditions, "Ready")?;
        (ready.reason == "ChartPullSucceeded").then_some(())
    })
    .await
    .unwrap();
}
