use std::path::Path;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_testenv::{ControlPlane, GitHttpServer};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation() {
    let (_, ns, client, _storage) = test_bed("tenant").await;
    let n = ns.name();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), n);
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "deployer"}})).unwrap(),
        )
        .await
        .unwrap();
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("tenant").unwrap();
    remote
        .write(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tenant-config\ndata:\n  a: \"1\"\n",
        )
        .unwrap();
    let head = remote.commit("tenant app").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> = Api::namespaced(client.clone(), n);
    create_fleet(&repos, remote.url(), "1m").await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), n);
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "tenant"},
                "spec": {
                    "interval": "10m",
                    "retryInterval": "2s",
                    "path": "./app",
                    "prune": true,
                    "targetNamespace": n,
                    "serviceAccountName": "deployer",
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // The ServiceAccount has no rights: the API server's refusal is the
    // message, and nothing is written.
    let found = flux_testenv::eventually("forbidden", || async {
        let k = kustomizations.get("tenant").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False && condition.message.contains("forbidden"))
            .then_some(condition.message.clone())
    })
    .await;
    let refused = match found {
        Ok(message) => message,
        Err(e) => {
            let status = kustomizations
                .get("tenant")
                .await
                .ok()
                .and_then(|k| k.status);
            panic!("{e}: {status:?}")
        }
    };
    assert!(refused.contains("forbidden"), "{refused}");
    assert!(
        refused.contains(&format!("system:serviceaccount:{n}:deployer")),
        "{refused}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), n);
    assert!(cms.get_opt("tenant-config").await.unwrap().is_none());

    // Granted the rights through a RoleBinding, it applies.
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = Api::namespaced(client.clone(), n);
    roles
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "deployer"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(client.clone(), n);
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "deployer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": n}]
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "tenant", &format!("main@sha1:{head}")).await;
    let applied = cms.get("tenant-config").await.unwrap();
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_string()),
        "{managers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_cluster() {
    let (_, ns, client, _storage) = test_bed("remote").await;
    // The cluster the objects go to: a second, separate control plane.
    let remote_cp = ControlPlane::start().unwrap();
    let remote_client = remote_cp.client().unwrap();

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write(
            "remote/app.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: remote-apps\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote-config\n  namespace: remote-apps\ndata:\n  where: remote\n",
        )
        .unwrap();
    let revision = remote.commit("remote").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "1h").await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), ns.name());
    let exec_kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [\"-c\", \"touch /tmp/pwned\"]\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n";
    for (name, kubeconfig) in [
        (
            "remote-kubeconfig",
            remote_cp.kubeconfig_embedded().unwrap(),
        ),
        ("exec-kubeconfig", exec_kubeconfig.to_string()),
    ] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "stringData": {"value": kubeconfig}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    for (name, secret) in [("remote", "remote-kubeconfig"), ("exec", "exec-kubeconfig")] {
        kustomizations
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": name},
                    "spec": {
                        "interval": "10m",
                        "path": "./remote",
                        "prune": true,
                        "kubeConfig": {"secretRef": {"name": secret}},
                        "sourceRef": {"kind": "GitRepository", "name": "fleet"}
                    }
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    wait_applied(&kustomizations, "remote", &format!("main@sha1:{revision}")).await;
    let remote_cms: Api<ConfigMap> = Api::namespaced(remote_client.clone(), "remote-apps");
    let applied = remote_cms.get("remote-config").await.unwrap();
    assert_eq!(applied.data.as_ref().unwrap()["where"], "remote");
    assert_eq!(
        applied
            .labels()
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("remote")
    );
    let local_cms: Api<ConfigMap> = Api::namespaced(client.clone(), "remote-apps");
    assert!(
        local_cms.get_opt("remote-config").await.unwrap().is_none(),
        "nothing goes to the management cluster"
    );

    // A kubeconfig that would run a command in the controller is refused.
    let refused = eventually("exec kubeconfig refused", || async {
        let k = kustomizations.get("exec").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False).then(|| condition.clone())
    })
    .await;
    assert_eq!(refused.reason, "ReconciliationFailed");
    assert!(refused.message.contains("exec"), "{}", refused.message);
    assert!(!Path::new("/tmp/pwned").exists());

    // Deleting the Kustomization prunes its objects in the remote cluster.
    kustomizations
        .delete("remote", &DeleteParams::default())
        .await
        .unwrap();
    eventually("pruned in the remote cluster", || async {
        remote_cms
            .get_opt("remote-config")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}
