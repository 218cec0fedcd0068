use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_testenv::{ControlPlane, GitHttpServer};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_cache() {
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    cp.install_crd_dir(&manifests()).await.unwrap();
    // A kind only this test applies, so the API server's request counts
    // for it are this test's alone.
    let crds = tempfile::tempdir().unwrap();
    std::fs::write(
        crds.path().join("widgets.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.drift.fluxrs.test\nspec:\n  group: drift.fluxrs.test\n  names:\n    kind: Widget\n    listKind: WidgetList\n    plural: widgets\n    singular: widget\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
    )
    .unwrap();
    cp.install_crd_dir(crds.path()).await.unwrap();
    let ns = cp.namespace("drift").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    let mut widgets = String::new();
    for i in 0..3 {
        widgets.push_str(&format!(
            "---\napiVersion: drift.fluxrs.test/v1\nkind: Widget\nmetadata:\n  name: w{i}\nspec:\n  size: 1\n"
        ));
    }
    remote.write("widgets/widgets.yaml", widgets).unwrap();
    let revision = remote.commit("widgets").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1h").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "widgets"},
                "spec": {
                    "interval": "2s",
                    "path": "./widgets",
                    "prune": true,
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "widgets", &format!("main@sha1:{revision}")).await;
    let resource = kube::api::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "drift.fluxrs.test",
        "v1",
        "Widget",
    ));
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource);

    // Interval runs where nothing changed: no request for any widget.
    // (The first runs may still verify while the watch starts.)
    tokio::time::sleep(Duration::from_secs(5)).await;
    let quiet = requests_for(&client, "widgets").await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        requests_for(&client, "widgets").await,
        quiet,
        "interval reconciliations of unchanged objects must not call the API server"
    );
    let quiet = total(&quiet);

    // A manual edit changes the object's resourceVersion: the next interval
    // run checks it with the API server and reverts it.
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"size": 5}})),
    )
    .await
    .unwrap();
    eventually("drift reverted on the interval", || async {
        let w = api.get("w1").await.ok()?;
        (w.data["spec"]["size"] == 1).then_some(())
    })
    .await;
    let after_drift = total(&requests_for(&client, "widgets").await);
    assert!(
        after_drift > quiet + 1.0,
        "the edited widget was verified and re-applied"
    );

    // An explicit request verifies every object with the API server.
    request_reconcile(&kustomizations, "widgets", "verify-all").await;
    eventually("request handled", || async {
        let k = kustomizations.get("widgets").await.ok()?;
        (k.status?.last_handled_reconcile_at.as_deref() == Some("verify-all")).then_some(())
    })
    .await;
    let verified = total(&requests_for(&client, "widgets").await);
    assert!(
        verified >= after_drift + 6.0,
        "a GET and a dry run for each of the 3 widgets: {after_drift} → {verified}"
    );
}

/// An object first applied with the real `kubectl apply` is taken over:
/// kubectl's field manager and last-applied annotation are dropped, so a
/// key later removed from Git is removed from the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_objects_are_taken_over() {
    let (cp, ns, client, _storage) = test_bed("takeover").await;

    let manifest = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n{data}")
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), manifest("  a: \"1\"\n  b: \"2\"\n")).unwrap();
    let out = std::process::Command::new(flux_testenv::tool("kubectl").unwrap())
        .arg(format!("--kubeconfig={}", cp.kubeconfig_path().display()))
        .args(["apply", "-n", ns.name(), "-f"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write("apps/legacy.yaml", manifest("  a: \"1\"\n  b: \"2\"\n"))
        .unwrap();
    let first = remote.commit("adopt").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1h").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "apps"},
                "spec": {
                    "interval": "1h",
                    "path": "./apps",
                    "prune": true,
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "apps", &format!("main@sha1:{first}")).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let adopted = cms.get("legacy").await.unwrap();
    assert!(
        !adopted
            .annotations()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "{:?}",
        adopted.annotations()
    );
    let managers: Vec<String> = adopted
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.manager.clone())
        .collect();
    assert!(
        !managers.iter().any(|m| m.starts_with("kubectl")),
        "{managers:?}"
    );

    // A key removed from Git goes (kubectl no longer keeps it alive).
    remote
        .write("apps/legacy.yaml", manifest("  a: \"1\"\n"))
        .unwrap();
    let second = remote.commit("drop b").unwrap();
    refresh_source(&client, ns.name(), "second").await;
    wait_applied(&kustomizations, "apps", &format!("main@sha1:{second}")).await;
    let data = cms.get("legacy").await.unwrap().data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["a"], "{data:?}");
}

/// `spec.ignore`: a field another actor owns is left alone while the rest
/// of the object is still corrected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_rules() {
    let (_, ns, client, _storage) = test_bed("ignore").await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write(
            "apps/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuned\ndata:\n  managed: v1\n  tuned: original\n",
        )
        .unwrap();
    let revision = remote.commit("config").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1h").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "apps"},
                "spec": {
                    "interval": "1h",
                    "path": "./apps",
                    "prune": true,
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                    "ignore": [{"paths": ["/data/tuned"], "target": {"kind": "Config.*", "name": "tuned"}}]
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "apps", &format!("main@sha1:{revision}")).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    assert_eq!(
        cms.get("tuned").await.unwrap().data.unwrap()["tuned"],
        "original",
        "created with every field"
    );
    // Another actor tunes one field and tampers with another.
    cms.patch(
        "tuned",
        &PatchParams::apply("tuner").force(),
        &Patch::Apply(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "tuned"},
            "data": {"tuned": "by-tuner", "managed": "tampered"}
        })),
    )
    .await
    .unwrap();
    request_reconcile(&kustomizations, "apps", "after-tuning").await;
    eventually("managed field corrected", || async {
        let data = cms.get("tuned").await.ok()?.data?;
        (data["managed"] == "v1").then_some(())
    })
    .await;
    let data = cms.get("tuned").await.unwrap().data.unwrap();
    assert_eq!(data["tuned"], "by-tuner", "the ignored field is left alone");
}

/// Requests the API server has served for single objects of `resource`
/// (`scope="resource"`: not the drift cache's lists and watches, nor the
/// namespace controller's collection deletes when other tests' namespaces
/// go), by label set.
async fn requests_for(
    client: &kube::Client,
    resource: &str,
) -> std::collections::BTreeMap<String, f64> {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(request).await.unwrap();
    let label = format!("resource=\"{resource}\"");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains(&label))
        .filter(|l| l.contains("scope=\"resource\""))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse::<f64>().ok()?))
        })
        .collect()
}

fn total(requests: &std::collections::BTreeMap<String, f64>) -> f64 {
    requests.values().sum()
}
