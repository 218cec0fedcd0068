//! Where charts and values come from: `chartRef` to an OCIRepository (OCI
//! digest tracking), `valuesFrom` ConfigMaps and Secrets (`targetPath`),
//! and `targetNamespace` with `install.createNamespace`.

use flux_api::meta::ConditionStatus;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::*;

/// A chart pushed with `helm push` to a real registry, read through an
/// OCIRepository: the release's chart version carries the manifest digest
/// (`1.0.0+<12 hex>`), and the snapshot records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_from_an_oci_repository_tracks_its_digest() {
    let bed = Bed::new("hr-oci").await;
    let ns = bed.ns.name().to_string();
    let registry = flux_testenv::OciRegistry::start().unwrap();
    let archive = bed.repo.root().join("app-1.0.0.tgz");
    let (_, digest) = registry.push_helm_chart(&archive, "charts").unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let repos: Api<flux_api::source::v1::OCIRepository> = Api::namespaced(bed.client.clone(), &ns);
    let repo = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "app"},
        "spec": {
            "url": format!("oci://{}/charts/app", registry.host()),
            "ref": {"tag": "1.0.0"},
            "insecure": true,
            "interval": "1h",
            "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}
        }
    }))
    .unwrap();
    repos.create(&PostParams::default(), &repo).await.unwrap();
    let hr: flux_api::helm::v2::HelmRelease = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "oci"},
        "spec": {"interval": "1h", "chartRef": {"kind": "OCIRepository", "name": "app"}}
    }))
    .unwrap();
    bed.api().create(&PostParams::default(), &hr).await.unwrap();
    let hr = bed
        .wait_ready("oci", ConditionStatus::True, "InstallSucceeded")
        .await;
    let status = hr.status.unwrap();
    let short = &digest["sha256:".len()..][..12];
    let tracked = format!("1.0.0+{short}");
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(tracked.as_str())
    );
    assert_eq!(
        status.last_attempted_revision_digest.as_deref(),
        Some(digest.as_str())
    );
    let snap = &status.history[0];
    assert_eq!(snap.chart_version, tracked);
    assert_eq!(snap.oci_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(
        status.helm_chart, None,
        "no HelmChart is generated for a chartRef"
    );
    // helm shows the tracked version as the chart's.
    let list = bed.helm(&["list", "-o", "json"]);
    assert!(
        list.contains(&format!("\"chart\":\"app-{tracked}\"")),
        "{list}"
    );
}

/// `valuesFrom` in order, a `targetPath` over the inline values, the
/// result as `helm get values` prints it; `targetNamespace` with
/// `createNamespace`: the release lives in the target namespace under
/// `<targetNamespace>-<name>`, its records in the HelmRelease's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_from_references_and_a_target_namespace() {
    let bed = Bed::new("hr-values").await;
    let ns = bed.ns.name().to_string();
    let target = format!("{ns}-apps");
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    let cm = serde_json::from_value(json!({
        "metadata": {"name": "base"},
        "data": {"values.yaml": "greeting: from-configmap\nreplicas: 1\nextra:\n  a: 1\n  b: two\n"}
    }))
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(bed.client.clone(), &ns);
    let secret = serde_json::from_value(json!({
        "metadata": {"name": "token"},
        "stringData": {"token": "s3cr3t"}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    bed.create(
        "web",
        json!({
            "targetNamespace": target,
            "install": {"createNamespace": true},
            "valuesFrom": [
                {"kind": "ConfigMap", "name": "base"},
                {"kind": "Secret", "name": "token", "valuesKey": "token", "targetPath": "auth.token"},
                {"kind": "ConfigMap", "name": "missing", "optional": true}
            ],
            "values": {"extra": {"b": "inline"}}
        }),
    )
    .await;
    let hr = bed
        .wait_ready("web", ConditionStatus::True, "InstallSucceeded")
        .await;
    let snap = hr.status.unwrap().history[0].clone();
    let release = format!("{target}-web");
    assert_eq!(
        (snap.name.as_str(), snap.namespace.as_str()),
        (release.as_str(), target.as_str())
    );
    // The records are in the HelmRelease's namespace (helm --namespace ns).
    let output = flux_testenv::helm_command(bed.helm_home.path())
        .unwrap()
        .env("KUBECONFIG", bed.cp.kubeconfig_path())
        .args(["get", "values", &release, "-o", "json", "--namespace", &ns])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        values,
        json!({"greeting": "from-configmap", "replicas": 1, "extra": {"a": 1, "b": "inline"}, "auth": {"token": "s3cr3t"}})
    );
    // The objects are in the created target namespace.
    let target_cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &target);
    let cm = target_cms.get(&format!("{release}-config")).await.unwrap();
    assert_eq!(cm.data.unwrap()["greeting"], "from-configmap");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(bed.client.clone());
    namespaces
        .delete(&target, &Default::default())
        .await
        .unwrap();
}

/// The chart's `crds/` are created on install (policy `Create`, the
/// default), labelled with the HelmRelease, before the templates that use
/// them; they are not part of the release manifest but are in the
/// inventory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_crds_are_created_before_the_release() {
    let bed = Bed::new("hr-crds").await;
    let ns = bed.ns.name().to_string();
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    let seed = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "seed"}, "data": {"value": "from-cluster"}
    }))
    .unwrap();
    cms.create(&Default::default(), &seed).await.unwrap();
    bed.create(
        "widgets",
        json!({"chart": {"spec": {"chart": "widgets", "version": "0.1.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}),
    )
    .await;
    let hr = bed
        .wait_ready("widgets", ConditionStatus::True, "InstallSucceeded")
        .await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(bed.client.clone());
    let crd = crds.get("widgets.example.com").await.unwrap();
    let labels = crd.metadata.labels.unwrap();
    assert_eq!(labels["helm.toolkit.fluxcd.io/name"], "widgets");
    assert_eq!(labels["helm.toolkit.fluxcd.io/namespace"], ns);
    let ids: Vec<String> = hr
        .status
        .unwrap()
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(
        ids.contains(
            &"_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition".to_string()
        ),
        "{ids:?}"
    );
    assert!(
        ids.contains(&format!("{ns}_widgets_example.com_Widget")),
        "{ids:?}"
    );
    // The templates saw the cluster: the chart's own CRD served (the CRDs
    // go first, as with Helm), and live objects through `lookup`.
    let probe = cms.get("widgets-probe").await.unwrap().data.unwrap();
    assert_eq!(probe["widgetsServed"], "true");
    assert_eq!(probe["seed"], "from-cluster");
    assert_eq!(probe["absent"], "missing");
    assert_eq!(probe["listed"], "true");
    let manifest = bed.helm(&["get", "manifest", "widgets"]);
    assert!(!manifest.contains("CustomResourceDefinition"), "{manifest}");

    // `healthCheckExprs` decide the health of custom kinds in the wait.
    bed.create(
        "judged",
        json!({"chart": {"spec": {"chart": "widgets", "version": "0.1.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
            "timeout": "20s",
            "healthCheckExprs": [{"apiVersion": "example.com/v1", "kind": "Widget",
                "current": "spec.size > 5", "failed": "spec.size == 3"}]}),
    )
    .await;
    let hr = bed
        .wait_ready("judged", ConditionStatus::False, "InstallFailed")
        .await;
    let message = condition(&hr, "Ready").unwrap().message.clone();
    assert!(
        message.contains(&format!("Widget/{ns}/judged")),
        "{message}"
    );
    bed.api()
        .delete("widgets", &Default::default())
        .await
        .unwrap();
}
