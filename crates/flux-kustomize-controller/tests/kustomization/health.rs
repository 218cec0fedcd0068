use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_testenv::{ControlPlane, GitHttpServer};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks() {
    let (_, ns, client, _storage) = test_bed("health").await;
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write(
            "app/pvc.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  storageClassName: \"\"\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n",
        )
        .unwrap();
    let head = remote.commit("app").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1m").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "app"},
                "spec": {
                    "interval": "10m",
                    "retryInterval": "2s",
                    "timeout": "3s",
                    "wait": true,
                    "path": "./app",
                    "prune": true,
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // No volume matches the claim: it stays Pending and the health check
    // times out.
    let failed = eventually("HealthCheckFailed", || async {
        let k = kustomizations.get("app").await.ok()?;
        let condition = ready(&k)?;
        (condition.reason == "HealthCheckFailed").then_some(k)
    })
    .await;
    let message = ready(&failed).unwrap().message.clone();
    assert!(
        message.contains(&format!(
            "timeout waiting for: [PersistentVolumeClaim/{}/data status: 'InProgress']",
            ns.name()
        )),
        "{message}"
    );
    let status = failed.status.clone().unwrap();
    let healthy = flux_runtime::conditions::get(&status.conditions, "Healthy").unwrap();
    assert_eq!(healthy.status, ConditionStatus::False);
    assert_eq!(
        status.last_applied_revision, None,
        "not applied until healthy"
    );

    // A matching volume appears; the volume controller binds the claim and
    // the next attempt passes.
    let volumes: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(client.clone());
    let volume = format!("{}-pv", ns.name());
    volumes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": volume},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "",
                    "hostPath": {"path": "/tmp/flux-health-test"},
                    "claimRef": {"namespace": ns.name(), "name": "data"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let done = wait_applied(&kustomizations, "app", &format!("main@sha1:{head}")).await;
    let healthy =
        flux_runtime::conditions::get(&done.status.as_ref().unwrap().conditions, "Healthy")
            .unwrap();
    assert_eq!(healthy.status, ConditionStatus::True);
    assert!(
        healthy.message.starts_with("Health check passed in"),
        "{}",
        healthy.message
    );
    let _ = volumes.delete(&volume, &DeleteParams::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cel_health_checks() {
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let crds = tempfile::tempdir().unwrap();
    std::fs::write(
        crds.path().join("gadgets.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.cel.fluxrs.test\nspec:\n  group: cel.fluxrs.test\n  names:\n    kind: Gadget\n    listKind: GadgetList\n    plural: gadgets\n    singular: gadget\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
    )
    .unwrap();
    cp.install_crd_dir(crds.path()).await.unwrap();
    let ns = cp.namespace("cel").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write(
            "gadgets/g.yaml",
            "apiVersion: cel.fluxrs.test/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  size: 1\n",
        )
        .unwrap();
    let revision = remote.commit("gadget").unwrap();
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
                "metadata": {"name": "gadgets"},
                "spec": {
                    "interval": "1h",
                    "path": "./gadgets",
                    "prune": true,
                    "wait": true,
                    "timeout": "40s",
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                    "healthCheckExprs": [{
                        "apiVersion": "cel.fluxrs.test/v1",
                        "kind": "Gadget",
                        "current": "status.?phase.orValue('') == 'Ready'",
                        "failed": "has(status.phase) && status.phase == 'Broken'"
                    }]
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let resource = kube::api::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "cel.fluxrs.test",
        "v1",
        "Gadget",
    ));
    let gadgets: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &resource);
    eventually("gadget applied", || async {
        gadgets.get_opt("g1").await.ok()?.map(|_| ())
    })
    .await;
    // Not Ready while the expression says the gadget is not current.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let k = kustomizations.get("gadgets").await.unwrap();
    assert_ne!(
        ready(&k).map(|c| c.status),
        Some(ConditionStatus::True),
        "must wait for the gadget"
    );
    gadgets
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    let k = wait_applied(&kustomizations, "gadgets", &format!("main@sha1:{revision}")).await;
    let healthy = flux_runtime::conditions::get(&k.status.as_ref().unwrap().conditions, "Healthy")
        .cloned()
        .unwrap();
    assert_eq!(healthy.status, ConditionStatus::True, "{healthy:?}");

    // The failed expression fails fast.
    gadgets
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Broken"}})),
        )
        .await
        .unwrap();
    request_reconcile(&kustomizations, "gadgets", "broken").await;
    let failed = eventually("HealthCheckFailed", || async {
        let k = kustomizations.get("gadgets").await.ok()?;
        let condition = ready(&k)?;
        (condition.reason == "HealthCheckFailed").then(|| condition.clone())
    })
    .await;
    assert!(
        failed
            .message
            .contains("failed early due to stalled resources")
            && failed
                .message
                .contains(&format!("Gadget/{}/g1 status: 'Failed'", ns.name())),
        "{}",
        failed.message
    );
}

/// A Kustomization over workloads, as `spec` of a test.
fn workload_kustomization(
    name: &str,
    path: &str,
    namespace: &str,
    extra: serde_json::Value,
) -> Kustomization {
    let mut spec = json!({
        "interval": "10m",
        "retryInterval": "1h",
        "timeout": "90s",
        "wait": true,
        "path": path,
        "prune": true,
        "targetNamespace": namespace,
        "sourceRef": {"kind": "GitRepository", "name": "fleet"}
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

fn deployment_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: web\n        image: {image}\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: 8080\n          periodSeconds: 1\n"
    )
}

/// On the node, health is the workloads' own: a Deployment is Ready
/// because its Pods run, a Job because it completed; a Deployment whose
/// image does not exist fails the health check with kstatus' message, and
/// what depends on it is not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_are_healthy_when_their_pods_are() {
    let (cp, ns, client, _storage) = test_bed("workloads").await;
    let node = cp.node().expect("the node");
    let web = node.image("web").unwrap();
    let missing = format!("{}/flux-testenv/absent:1", flux_testenv::REGISTRY_ALIAS);
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write("web/deployment.yaml", deployment_yaml("web", web))
        .unwrap();
    remote
        .write(
            "job/job.yaml",
            format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: {web}\n        args: [print, done]\n"),
        )
        .unwrap();
    remote
        .write(
            "broken/deployment.yaml",
            deployment_yaml("broken", &missing),
        )
        .unwrap();
    remote
        .write(
            "after/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-broken\ndata:\n  a: b\n",
        )
        .unwrap();
    let head = remote.commit("workloads").unwrap();
    let revision = format!("main@sha1:{head}");
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1h").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    for k in [
        workload_kustomization("web", "./web", ns.name(), json!({})),
        workload_kustomization("job", "./job", ns.name(), json!({})),
        workload_kustomization("broken", "./broken", ns.name(), json!({"timeout": "5s"})),
        workload_kustomization(
            "after",
            "./after",
            ns.name(),
            json!({"dependsOn": [{"name": "broken"}]}),
        ),
    ] {
        kustomizations
            .create(&PostParams::default(), &k)
            .await
            .unwrap();
    }

    // Ready because two Pods run and pass their probes.
    let done = wait_applied(&kustomizations, "web", &revision).await;
    let healthy =
        flux_runtime::conditions::get(&done.status.as_ref().unwrap().conditions, "Healthy")
            .unwrap();
    assert_eq!(healthy.status, ConditionStatus::True);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), ns.name());
    let status = deployments.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.ready_replicas, Some(2));

    // Ready once the Job has completed.
    wait_applied(&kustomizations, "job", &revision).await;
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), ns.name());
    let job = jobs.get("once").await.unwrap().status.unwrap();
    assert_eq!(job.succeeded, Some(1));

    // The missing image: kstatus' message after the timeout, not applied.
    let failed = eventually("broken: HealthCheckFailed", || async {
        let k = kustomizations.get("broken").await.ok()?;
        let condition = ready(&k)?;
        (condition.reason == "HealthCheckFailed").then_some(k)
    })
    .await;
    let message = ready(&failed).unwrap().message.clone();
    assert!(
        message.starts_with("health check failed after "),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "s: timeout waiting for: [Deployment/{}/broken status: 'InProgress']",
            ns.name()
        )),
        "{message}"
    );
    assert_eq!(failed.status.as_ref().unwrap().last_applied_revision, None);
    // Its Pods really failed to pull.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns.name());
    let pulling = pods
        .list(&kube::api::ListParams::default().labels("app=broken"))
        .await
        .unwrap()
        .items
        .iter()
        .filter_map(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .waiting
                .as_ref()?
                .reason
                .clone()
        })
        .collect::<Vec<_>>();
    assert!(
        !pulling.is_empty() && pulling.iter().all(|r| r.contains("ImagePull")),
        "{pulling:?}"
    );

    // What depends on it waits and applies nothing.
    let waiting = eventually("after: DependencyNotReady", || async {
        let k = kustomizations.get("after").await.ok()?;
        let condition = ready(&k)?;
        (condition.reason == "DependencyNotReady").then_some(k)
    })
    .await;
    assert_eq!(waiting.status.as_ref().unwrap().last_applied_revision, None);
    let configs: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), ns.name());
    assert!(configs.get_opt("after-broken").await.unwrap().is_none());
}
