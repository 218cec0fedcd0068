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
    let cp = ControlPlane::shared().expect("control plane");
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
