//! The seed guide's section 6 (`examples/guide-helm`), applied as a user
//! would, one example after the other, with `kubectl apply`: each
//! HelmRelease becomes Ready and does what the guide says it does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flux_api::helm::v2::HelmRelease;
use flux_api::meta::ConditionStatus;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::*;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guide-helm")
}

/// `kubectl apply --server-side` of the example `file`, in the test's
/// namespace instead of `flux-system`, with `replace` applied to its text.
fn apply(bed: &Bed, file: &str, replace: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(example_dir().join(file)).unwrap();
    text = text.replace(
        "namespace: flux-system",
        &format!("namespace: {}", bed.ns.name()),
    );
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let output = Command::new(flux_testenv::tool("kubectl").unwrap())
        .env("KUBECONFIG", bed.cp.kubeconfig_path())
        .args(["apply", "--server-side", "--field-manager=guide", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl apply {file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until HelmRelease `name` is Ready at its current generation.
async fn ready(bed: &Bed, name: &str) -> HelmRelease {
    bed.wait_for(name, "Ready at its generation", |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == ConditionStatus::True)
            && hr.status.as_ref().and_then(|s| s.observed_generation) == hr.metadata.generation
    })
    .await
}

fn revision(hr: &HelmRelease) -> String {
    hr.status
        .as_ref()
        .and_then(|s| s.last_attempted_revision.clone())
        .unwrap_or_default()
}

fn values(bed: &Bed, release: &str) -> serde_json::Value {
    serde_json::from_str(&bed.helm(&["get", "values", release, "-o", "json"])).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_section_6_examples_work() {
    let bed = Bed::new("hr-guide").await;
    let ns = bed.ns.name().to_string();

    // The repositories the examples name (`bitnami`, `internal`), served
    // locally with versions around the ranges the examples ask for.
    let charts = tempfile::tempdir().unwrap();
    for (name, version) in [
        ("nginx", "14.2.1"),
        ("nginx", "15.4.0"),
        ("nginx", "16.0.0"),
        ("postgresql", "12.12.10"),
        ("webapp", "1.1.0"),
        ("webapp", "1.2.0"),
        ("webapp", "2.0.0"),
    ] {
        bed.repo
            .add_chart(
                &flux_testenv::chart_at_version(
                    &example_dir().join("charts").join(name),
                    charts.path(),
                    version,
                )
                .unwrap(),
            )
            .unwrap();
    }
    let repos: Api<flux_api::source::v1::HelmRepository> = Api::namespaced(bed.client.clone(), &ns);
    for name in ["bitnami", "internal"] {
        let repository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": name},
            "spec": {"url": bed.repo.url(), "interval": "1h"}
        }))
        .unwrap();
        repos
            .create(&PostParams::default(), &repository)
            .await
            .unwrap();
    }

    // 6.1: nginx 15.x into the namespace `web`, created by the install.
    apply(&bed, "6.1-helmrelease.yaml", &[]);
    let hr = ready(&bed, "nginx").await;
    assert_eq!(revision(&hr), "15.4.0");
    let status = hr.status.clone().unwrap();
    assert_eq!(status.storage_namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(
        status.history[0].name, "web-nginx",
        "the release name is <targetNamespace>-<name>"
    );
    assert_eq!(
        event_messages(&bed, "HelmChartCreated").await,
        [format!(
            "created HelmChart/{ns}/{ns}-nginx with SourceRef 'HelmRepository/{ns}/bitnami'"
        )]
    );
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), "web");
    let deployment = deployments.get("web-nginx").await.unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(3));
    let ingress = Api::<Ingress>::namespaced(bed.client.clone(), "web")
        .get("web-nginx")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        ingress.rules.unwrap()[0].host.as_deref(),
        Some("nginx.example.com")
    );
    assert_eq!(
        ingress.tls.unwrap()[0].secret_name.as_deref(),
        Some("nginx.example.com-tls")
    );

    // 6.2: values from a ConfigMap and a Secret (the third, optional one
    // absent), then the inline values on top.
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "webapp-default-values"},
            "data": {"values.yaml": "replicaCount: 2\nimage:\n  tag: v2.0.1\ngreeting: from-configmap\n"}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    Api::<Secret>::namespaced(bed.client.clone(), &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "webapp-secret-values"},
                "stringData": {"secret-values.yaml": "database:\n  password: s3cr3t\n"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    apply(&bed, "6.2-values.yaml", &[]);
    let hr = ready(&bed, "webapp").await;
    assert_eq!(revision(&hr), "1.2.0");
    assert_eq!(
        values(&bed, "webapp"),
        json!({
            "replicaCount": 5,
            "image": {"tag": "v2.1.0"},
            "greeting": "from-configmap",
            "database": {"password": "s3cr3t"}
        })
    );
    let page = cms.get("webapp-page").await.unwrap().data.unwrap();
    assert_eq!(page["index.html"], "from-configmap from webapp v2.1.0\n");
    assert_eq!(page["passwordSet"], "true");
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), &ns);
    let available = |d: Deployment| d.status.and_then(|s| s.available_replicas);
    assert_eq!(available(deployments.get("webapp").await.unwrap()), Some(5));

    // 6.3: the same release with remediation, CRD policies and tests: the
    // upgrade (the values are gone) runs the chart's connection test.
    apply(&bed, "6.3-remediation.yaml", &[]);
    let hr = ready(&bed, "webapp").await;
    let test = condition(&hr, "TestSuccess").expect("TestSuccess");
    assert_eq!(test.status, ConditionStatus::True, "{test:?}");
    // No values: Helm stores none (`config` is omitted when empty) and
    // `helm get values` prints `null`.
    assert_eq!(values(&bed, "webapp"), serde_json::Value::Null);
    let snapshot = &hr.status.as_ref().unwrap().history[0];
    assert_eq!(
        snapshot.test_hooks.as_ref().unwrap()["webapp-test-connection"]
            .phase
            .as_deref(),
        Some("Succeeded")
    );
    let crds: Api<CustomResourceDefinition> = Api::all(bed.client.clone());
    assert!(
        crds.get_opt("webappconfigs.guide.example.com")
            .await
            .unwrap()
            .is_some()
    );

    // 6.4: `webapp` now waits for `database`; with no version both take
    // the newest chart.
    apply(&bed, "6.4-dependencies.yaml", &[]);
    let database = ready(&bed, "database").await;
    let webapp = ready(&bed, "webapp").await;
    assert_eq!(revision(&database), "12.12.10");
    assert_eq!(revision(&webapp), "2.0.0");
    let since = |hr: &HelmRelease| condition(hr, "Ready").unwrap().last_transition_time.0;
    assert!(
        since(&database) <= since(&webapp),
        "webapp was Ready before its dependency"
    );

    // 6.5: the chart from a folder of a Git repository.
    let git = flux_testenv::GitHttpServer::start().unwrap();
    let remote = git.create_repo("helm-charts").unwrap();
    for (path, text) in flux_testenv::files_under(&example_dir().join("charts/webapp")).unwrap() {
        remote
            .write(&format!("charts/webapp/{path}"), text)
            .unwrap();
    }
    remote.commit("webapp chart").unwrap();
    apply(
        &bed,
        "6.5-git-chart.yaml",
        &[("https://github.com/my-org/helm-charts.git", remote.url())],
    );
    let hr = ready(&bed, "webapp").await;
    assert_eq!(revision(&hr), "1.2.0");
    let chart: flux_api::source::v1::HelmChart = Api::namespaced(bed.client.clone(), &ns)
        .get(&format!("{ns}-webapp"))
        .await
        .unwrap();
    assert_eq!(
        chart.spec.source_ref.kind,
        flux_api::source::v1::ChartSourceKind::GitRepository
    );
    assert_eq!(chart.spec.chart, "./charts/webapp");
    // Two events of one reason and object, with different messages, are
    // two Events (6.4's version change, 6.5's source change), as upstream.
    let mut configured = event_messages(&bed, "HelmChartConfigured").await;
    configured.sort();
    assert_eq!(
        configured,
        [
            format!(
                "configured HelmChart/{ns}/{ns}-webapp with SourceRef 'GitRepository/{ns}/app-charts'"
            ),
            format!(
                "configured HelmChart/{ns}/{ns}-webapp with SourceRef 'HelmRepository/{ns}/internal'"
            )
        ]
    );
    assert_eq!(values(&bed, "webapp"), json!({"replicaCount": 3}));

    // 6.6: drift correction that leaves `/spec/replicas` of Deployments
    // alone.
    apply(&bed, "6.6-drift-detection.yaml", &[]);
    let hr = ready(&bed, "webapp").await;
    assert_eq!(revision(&hr), "2.0.0");
    deployments
        .patch(
            "webapp",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    cms.patch(
        "webapp-page",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"database": "elsewhere"}})),
    )
    .await
    .unwrap();
    bed.annotate(
        "webapp",
        json!({"reconcile.fluxcd.io/requestedAt": "drifted"}),
    )
    .await;
    let corrected = flux_testenv::eventually_within(
        "the ConfigMap put back",
        Duration::from_secs(120),
        || async {
            let data = cms.get("webapp-page").await.ok()?.data?;
            (data.get("database").map(String::as_str) == Some("database-postgresql")).then_some(())
        },
    )
    .await;
    corrected.unwrap();
    let deployment = deployments.get("webapp").await.unwrap();
    assert_eq!(
        deployment.spec.unwrap().replicas,
        Some(2),
        "an ignored path was corrected"
    );
    let page = format!("ConfigMap/{ns}/webapp-page");
    let events = flux_testenv::eventually("the DriftCorrected event", || async {
        let found = event_messages(&bed, "DriftCorrected").await;
        found.iter().any(|m| m.contains(&page)).then_some(found)
    })
    .await
    .unwrap();
    let version = hr.status.unwrap().history[0].version;
    assert_eq!(
        events,
        [format!(
            "Cluster state of release {ns}/webapp.v{version} has been corrected:\n{page} configured"
        )]
    );
    // The scaled Deployment differs only where the rule ignores: it was
    // never reported (nor its moving status).
    let detected = event_messages(&bed, "DriftDetected").await;
    assert!(
        detected.iter().all(|m| !m.contains("Deployment/")),
        "{detected:?}"
    );
}
