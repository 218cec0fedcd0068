//! HelmCharts from a GitRepository and a Bucket against a real API server,
//! a real Git server, a real S3-compatible server and a real Helm
//! repository: chart folders packaged (dependencies from `file://` and
//! from a HelmRepository of the namespace, values files merged, build
//! metadata), the packages rendered by the real `helm template`, archives
//! stored as they are, and the failures upstream reports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{create, manifests};

use std::process::Command;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::{Bucket, GitRepository, HelmChart, HelmRepository};
use flux_artifact::Limits;
use flux_testenv::{ControlPlane, GitHttpServer, HelmRepoServer, S3Server, TestNamespace};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

async fn start_controller(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    common::start_controllers(cp, ns, |ctx| {
        ctx.artifact_limits = Limits {
            max_bytes: 8 << 20,
            max_entries: 10_000,
        };
    })
    .await
}

fn ready(chart: &HelmChart) -> Option<&flux_api::meta::Condition> {
    flux_runtime::conditions::get(&chart.status.as_ref()?.conditions, "Ready")
}

fn condition<'a>(chart: &'a HelmChart, kind: &str) -> Option<&'a flux_api::meta::Condition> {
    flux_runtime::conditions::get(&chart.status.as_ref()?.conditions, kind)
}

/// Waits until `name`'s Ready condition has `reason` for its generation.
async fn wait_reason(api: &Api<HelmChart>, name: &str, reason: &str) -> HelmChart {
    let result = flux_testenv::eventually(&format!("{name}: {reason}"), || async {
        let c = api.get(name).await.ok()?;
        let r = ready(&c)?;
        (r.reason == reason && r.observed_generation == c.metadata.generation).then(|| c.clone())
    })
    .await;
    match result {
        Ok(c) => c,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.map(|c| c.status)),
    }
}

fn chart_object(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
           "metadata": {"name": name}, "spec": spec})
}

/// `helm template rel <archive>` by the real helm.
fn helm_template(archive: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.tgz");
    std::fs::write(&path, archive).unwrap();
    let out = Command::new(flux_testenv::tool("helm").unwrap())
        .args(["template", "rel"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fetch(chart: &HelmChart) -> Vec<u8> {
    common::download(
        &chart
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .url,
    )
}

fn write_fleet(repo: &flux_testenv::GitRepo) {
    repo.write(
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: common\n  version: \">=1.0.0\"\n  repository: file://../common\n- name: web\n  version: 1.x\n  repository: REPO\n",
    )
    .unwrap();
    repo.write(
        "charts/app/values.yaml",
        "replicas: 1\nimage:\n  tag: v1\n  pull: Always\n",
    )
    .unwrap();
    repo.write(
        "charts/app/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  tag: {{ .Values.image.tag }}\n  pull: {{ .Values.image.pull }}\n",
    )
    .unwrap();
    repo.write(
        "charts/app/values-prod.yaml",
        "replicas: 3\nimage:\n  tag: v2\n",
    )
    .unwrap();
    repo.write(
        "charts/common/Chart.yaml",
        "apiVersion: v2\nname: common\nversion: 1.2.0\n",
    )
    .unwrap();
    repo.write(
        "charts/common/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: common\n",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_from_git_and_buckets() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("chart-local").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controller(cp, &ns).await;

    // The remote dependency's repository, known to the namespace.
    let helm = HelmRepoServer::start().unwrap();
    helm.add_simple_chart("web", "1.0.0").unwrap();
    helm.add_simple_chart("web", "1.4.0").unwrap();
    helm.add_simple_chart("web", "2.0.0").unwrap();
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    create(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "charts"}, "spec": {"url": helm.url(), "interval": "10m"}}),
    )
    .await;

    let git = GitHttpServer::start().unwrap();
    let repo = git.create_repo("fleet").unwrap();
    write_fleet(&repo);
    let chart_yaml = std::fs::read_to_string(repo.work_path().join("charts/app/Chart.yaml"))
        .unwrap()
        .replace("REPO", &helm.url());
    repo.write("charts/app/Chart.yaml", chart_yaml).unwrap();
    let commit = repo.commit("charts").unwrap();
    let gits: Api<GitRepository> = Api::namespaced(client.clone(), ns.name());
    create(
        &gits,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "fleet"},
               "spec": {"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}}}),
    )
    .await;

    // A chart folder: packaged, its dependencies built.
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    create(
        &charts,
        chart_object(
            "app",
            json!({"chart": "./charts/app", "interval": "10m",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let app = wait_reason(&charts, "app", "ChartPackageSucceeded").await;
    assert_eq!(
        ready(&app).unwrap().message,
        "packaged 'app' chart with version '0.1.0'"
    );
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.artifact.as_ref().unwrap().revision, "0.1.0");
    assert_eq!(status.observed_chart_name.as_deref(), Some("app"));
    assert_eq!(
        status.observed_source_artifact_revision.as_deref(),
        Some(format!("main@sha1:{commit}").as_str())
    );
    assert!(
        status
            .artifact
            .as_ref()
            .unwrap()
            .path
            .ends_with("/app-0.1.0.tgz"),
        "{:?}",
        status.artifact
    );
    let rendered = helm_template(&fetch(&app));
    assert!(rendered.contains("name: common"), "{rendered}");
    // The remote dependency, at the highest 1.x version.
    assert!(rendered.contains("name: rel-web"), "{rendered}");
    assert!(rendered.contains("replicas: \"1\""), "{rendered}");
    let loaded = flux_helm::Chart::load_archive(&fetch(&app)).unwrap();
    let mut deps: Vec<(String, String)> = loaded
        .dependencies
        .iter()
        .map(|d| (d.name().to_string(), d.metadata.version.clone()))
        .collect();
    deps.sort();
    assert_eq!(
        deps,
        [
            ("common".to_string(), "1.2.0".to_string()),
            ("web".to_string(), "1.4.0".to_string())
        ]
    );

    // Values files merged over the defaults: the version carries the
    // generation, the message the files.
    create(
        &charts,
        chart_object(
            "app-prod",
            json!({"chart": "charts/app", "interval": "10m",
                   "valuesFiles": ["charts/app/values.yaml", "charts/app/values-prod.yaml"],
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let prod = wait_reason(&charts, "app-prod", "ChartPackageSucceeded").await;
    assert_eq!(
        ready(&prod).unwrap().message,
        "packaged 'app' chart with version '0.1.0+1' and merged values files [charts/app/values.yaml charts/app/values-prod.yaml]"
    );
    let rendered = helm_template(&fetch(&prod));
    assert!(rendered.contains("replicas: \"3\""), "{rendered}");
    assert!(rendered.contains("tag: v2"), "{rendered}");
    assert!(rendered.contains("pull: Always"), "{rendered}");
    let loaded = flux_helm::Chart::load_archive(&fetch(&prod)).unwrap();
    assert_eq!(loaded.metadata.version, "0.1.0+1");

    // reconcileStrategy Revision: the commit in the version; a new commit
    // is a new version, picked up as soon as the GitRepository has it.
    create(
        &charts,
        chart_object(
            "app-rev",
            json!({"chart": "charts/app", "interval": "10m", "reconcileStrategy": "Revision",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let rev = wait_reason(&charts, "app-rev", "ChartPackageSucceeded").await;
    assert_eq!(
        rev.status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .revision,
        format!("0.1.0+{}", &commit[..12])
    );
    repo.write(
        "charts/app/templates/extra.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n",
    )
    .unwrap();
    let second = repo.commit("a template more").unwrap();
    gits.patch(
        "fleet",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
        ),
    )
    .await
    .unwrap();
    let expected = format!("0.1.0+{}", &second[..12]);
    flux_testenv::eventually("the new commit's chart", || async {
        let c = charts.get("app-rev").await.ok()?;
        (c.status?.artifact?.revision == expected).then_some(())
    })
    .await
    .unwrap();

    // Missing values file: stalled; ignored when asked, and recorded.
    create(
        &charts,
        chart_object(
            "missing-values",
            json!({"chart": "charts/app", "interval": "10m",
                   "valuesFiles": ["charts/app/values.yaml", "charts/app/nope.yaml"],
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let missing = wait_reason(&charts, "missing-values", "ValuesFilesError").await;
    assert_eq!(
        ready(&missing).unwrap().message,
        "values files merge error: no values file found at path '/charts/app/nope.yaml' (reference 'charts/app/nope.yaml')"
    );
    assert_eq!(
        condition(&missing, "Stalled").map(|c| c.status),
        Some(ConditionStatus::True)
    );
    assert_eq!(
        condition(&missing, "BuildFailed").map(|c| c.reason.as_str()),
        Some("ValuesFilesError")
    );
    charts
        .patch(
            "missing-values",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ignoreMissingValuesFiles": true}})),
        )
        .await
        .unwrap();
    let ignored = wait_reason(&charts, "missing-values", "ChartPackageSucceeded").await;
    assert_eq!(
        ignored.status.as_ref().unwrap().observed_values_files,
        ["charts/app/values.yaml"]
    );

    // A missing local dependency: a dependency build error.
    repo.write(
        "charts/broken/Chart.yaml",
        "apiVersion: v2\nname: broken\nversion: 1.0.0\ndependencies:\n- name: gone\n  version: 1.x\n  repository: file://../gone\n",
    )
    .unwrap();
    repo.commit("a broken chart").unwrap();
    gits.patch(
        "fleet",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2"}}}),
        ),
    )
    .await
    .unwrap();
    create(
        &charts,
        chart_object(
            "broken",
            json!({"chart": "charts/broken", "interval": "10m",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let broken = wait_reason(&charts, "broken", "DependencyBuildError").await;
    assert_eq!(
        ready(&broken).unwrap().message,
        "dependency build error: failed to add local dependency 'gone': no chart found at '/charts/gone' (reference 'file://../gone')"
    );
    // A path that is not in the source: stalled.
    create(
        &charts,
        chart_object(
            "nowhere",
            json!({"chart": "../../charts/none", "interval": "10m",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let nowhere = wait_reason(&charts, "nowhere", "InvalidChartReference").await;
    assert_eq!(
        ready(&nowhere).unwrap().message,
        "invalid chart reference: stat /charts/none: no such file or directory"
    );

    // An aliased dependency is stored under its alias (as upstream's
    // dependency manager names it).
    repo.write(
        "charts/aliased/Chart.yaml",
        "apiVersion: v2\nname: aliased\nversion: 1.0.0\ndependencies:\n- name: common\n  version: 1.x\n  repository: file://../common\n  alias: shared\n",
    )
    .unwrap();
    repo.commit("an aliased dependency").unwrap();
    gits.patch(
        "fleet",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "3"}}}),
        ),
    )
    .await
    .unwrap();
    create(
        &charts,
        chart_object(
            "aliased",
            json!({"chart": "charts/aliased", "interval": "10m",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let aliased = wait_reason(&charts, "aliased", "ChartPackageSucceeded").await;
    let loaded = flux_helm::Chart::load_archive(&fetch(&aliased)).unwrap();
    assert_eq!(loaded.dependencies.len(), 1);
    assert_eq!(loaded.dependencies[0].name(), "shared");

    // A dependency from an OCI registry (charts pushed by the real `helm
    // push`), reached through the namespace's OCI HelmRepository of that
    // URL (plain HTTP: `insecure`), at the highest 1.x tag.
    let registry = flux_testenv::OciRegistry::start().unwrap();
    for version in ["1.0.0", "1.4.0", "2.0.0"] {
        registry
            .push_helm_chart(&helm.root().join(format!("web-{version}.tgz")), "charts")
            .unwrap();
    }
    let oci_url = format!("oci://{}/charts", registry.host());
    create(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "oci-charts"},
               "spec": {"type": "oci", "url": oci_url, "insecure": true, "interval": "10m"}}),
    )
    .await;
    repo.write(
        "charts/ocidep/Chart.yaml",
        format!("apiVersion: v2\nname: ocidep\nversion: 1.0.0\ndependencies:\n- name: web\n  version: 1.x\n  repository: {oci_url}/\n"),
    )
    .unwrap();
    repo.commit("an OCI dependency").unwrap();
    gits.patch(
        "fleet",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "4"}}}),
        ),
    )
    .await
    .unwrap();
    create(
        &charts,
        chart_object(
            "ocidep",
            json!({"chart": "charts/ocidep", "interval": "10m",
                   "sourceRef": {"kind": "GitRepository", "name": "fleet"}}),
        ),
    )
    .await;
    let ocidep = wait_reason(&charts, "ocidep", "ChartPackageSucceeded").await;
    let loaded = flux_helm::Chart::load_archive(&fetch(&ocidep)).unwrap();
    let deps: Vec<(String, String)> = loaded
        .dependencies
        .iter()
        .map(|d| (d.name().to_string(), d.metadata.version.clone()))
        .collect();
    assert_eq!(deps, [("web".to_string(), "1.4.0".to_string())]);

    // A packaged chart in a bucket: stored as it is.
    let s3 = S3Server::start("chart-access", "chart-secret-key").unwrap();
    s3.create_bucket("charts").unwrap();
    let packaged = std::fs::read(helm.root().join("web-2.0.0.tgz")).unwrap();
    s3.put("charts", "web-2.0.0.tgz", &packaged).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    create(
        &secrets,
        json!({"metadata": {"name": "s3"},
               "stringData": {"accesskey": "chart-access", "secretkey": "chart-secret-key"}}),
    )
    .await;
    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    create(
        &buckets,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
               "metadata": {"name": "charts"},
               "spec": {"bucketName": "charts", "endpoint": s3.endpoint(), "insecure": true,
                        "interval": "10m", "secretRef": {"name": "s3"}}}),
    )
    .await;
    create(
        &charts,
        chart_object(
            "from-bucket",
            json!({"chart": "web-2.0.0.tgz", "interval": "10m",
                   "sourceRef": {"kind": "Bucket", "name": "charts"}}),
        ),
    )
    .await;
    let from_bucket = wait_reason(&charts, "from-bucket", "ChartPullSucceeded").await;
    assert_eq!(
        ready(&from_bucket).unwrap().message,
        "pulled 'web' chart with version '2.0.0'"
    );
    assert_eq!(fetch(&from_bucket), packaged);
}
