//! The full GitOps loop against a real API server and a real git server:
//! GitRepository (the real source controller and artifact server) →
//! Kustomization (this controller) → objects in the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_artifact::{Retention, Storage};
use flux_testenv::{ControlPlane, GitHttpServer, TestNamespace};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn manifests() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds")
}

async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    flux_testenv::eventually(what, check).await.unwrap()
}

fn ready(k: &Kustomization) -> Option<&flux_api::meta::Condition> {
    k.status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, "Ready"))
}

/// The source controller (with its artifact server) and this controller,
/// both watching `ns`.
async fn start_controllers(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    start_controllers_with(cp, ns, |_| {}).await
}

/// [`start_controllers`] with the kustomize controller's context adjusted.
async fn start_controllers_with(
    cp: &ControlPlane,
    ns: &TestNamespace,
    adjust: impl FnOnce(&mut flux_kustomize_controller::Context),
) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(flux_source_controller::server::serve_storage(
        root.path().to_path_buf(),
        listener,
    ));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let source = flux_source_controller::Context::new(cp.client().unwrap(), storage);
    let namespace = ns.name().to_string();
    tokio::spawn(async move { flux_source_controller::run(source, Some(&namespace)).await });
    let mut ctx = flux_kustomize_controller::Context::new(cp.client().unwrap());
    ctx.requeue_dependency = Duration::from_secs(2);
    ctx.impersonator.config = Some(cp.config().clone());
    adjust(&mut ctx);
    let namespace = ns.name().to_string();
    tokio::spawn(async move { flux_kustomize_controller::run(ctx, Some(&namespace)).await });
    root
}

async fn request_reconcile(api: &Api<Kustomization>, name: &str, token: &str) {
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Asks the source controller to look at the remote now.
async fn refresh_source(client: &kube::Client, namespace: &str, token: &str) {
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), namespace);
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    repos
        .patch("fleet", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn wait_applied(api: &Api<Kustomization>, name: &str, revision: &str) -> Kustomization {
    let expected = format!("Applied revision: {revision}");
    let found = flux_testenv::eventually(&format!("{name}: {expected}"), || async {
        let k = api.get(name).await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::True && condition.message == expected).then_some(k)
    })
    .await;
    match found {
        Ok(k) => k,
        Err(e) => {
            let status = api.get(name).await.ok().and_then(|k| k.status);
            panic!("{e}; last status: {status:#?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitops_loop() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ks").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write(
            "apps/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  replicas: \"${REPLICAS}\"\n  cluster: ${CLUSTER_NAME}\n  region: ${REGION:=eu-west-1}\n  literal: $${NOT_A_VAR}\n  db_host: ${DB_HOST}\n",
        )
        .unwrap();
    remote
        .write(
            "apps/extra.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: \"1\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep-me\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\ndata:\n  a: \"1\"\n",
        )
        .unwrap();
    remote
        .write(
            "apps/sa.yaml",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n",
        )
        .unwrap();
    let first = remote.commit("first").unwrap();

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "cluster-vars"},
            "data": {"CLUSTER_NAME": "prod-1", "REPLICAS": "1"}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "cluster-secrets"},
                "stringData": {"DB_HOST": "db.internal"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "apps"},
                "spec": {
                    "interval": "10m",
                    "path": "./apps",
                    "prune": true,
                    "targetNamespace": ns.name(),
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                    "commonMetadata": {"labels": {"team": "platform"}},
                    "postBuild": {
                        "substitute": {"REPLICAS": "3"},
                        "substituteFrom": [
                            {"kind": "ConfigMap", "name": "cluster-vars"},
                            {"kind": "Secret", "name": "cluster-secrets"},
                            {"kind": "Secret", "name": "absent", "optional": true}
                        ]
                    }
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // 1. Applied: objects with the owner labels, the inventory, Ready.
    let revision = format!("main@sha1:{first}");
    let applied = wait_applied(&kustomizations, "apps", &revision).await;
    let status = applied.status.clone().unwrap();
    assert_eq!(ready(&applied).unwrap().reason, "ReconciliationSucceeded");
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(revision.as_str())
    );
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(revision.as_str())
    );
    let ids: Vec<String> = status
        .inventory
        .as_ref()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.id.clone())
        .collect();
    let n = ns.name();
    assert_eq!(
        ids,
        [
            format!("{n}_app-config__ConfigMap"),
            format!("{n}_app__ServiceAccount"),
            format!("{n}_extra__ConfigMap"),
            format!("{n}_keep-me__ConfigMap"),
        ]
    );
    let config = cms.get("app-config").await.unwrap();
    let data = config.data.clone().unwrap();
    assert_eq!(data["replicas"], "3", "substitute wins over substituteFrom");
    assert_eq!(data["cluster"], "prod-1");
    assert_eq!(data["region"], "eu-west-1");
    assert_eq!(data["literal"], "${NOT_A_VAR}");
    assert_eq!(data["db_host"], "db.internal", "from the Secret");
    let labels = config.labels();
    assert_eq!(labels["kustomize.toolkit.fluxcd.io/name"], "apps");
    assert_eq!(labels["kustomize.toolkit.fluxcd.io/namespace"], n);
    assert_eq!(labels["team"], "platform");
    let managers: Vec<String> = config
        .metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_string()),
        "{managers:?}"
    );
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), n);
    assert!(accounts.get_opt("app").await.unwrap().is_some());

    // 2. A commit changes an object and removes files: pruned, except the
    //    one marked prune: disabled.
    remote
        .write(
            "apps/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  replicas: \"${REPLICAS}\"\n  cluster: changed\n",
        )
        .unwrap();
    remote.remove("apps/extra.yaml").unwrap();
    let second = remote.commit("second").unwrap();
    refresh_source(&client, ns.name(), "second").await;
    let revision = format!("main@sha1:{second}");
    let applied = wait_applied(&kustomizations, "apps", &revision).await;
    assert_eq!(
        cms.get("app-config").await.unwrap().data.unwrap()["cluster"],
        "changed"
    );
    eventually("extra pruned", || async {
        cms.get_opt("extra").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        cms.get_opt("keep-me").await.unwrap().is_some(),
        "prune: disabled is kept"
    );
    assert_eq!(
        applied.status.unwrap().inventory.unwrap().entries.len(),
        2,
        "the inventory lists what the last apply applied"
    );

    // 3. A manual change of an applied field is reverted on the next run.
    cms.patch(
        "app-config",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"cluster": "hand-edited"}})),
    )
    .await
    .unwrap();
    request_reconcile(&kustomizations, "apps", "drift-1").await;
    eventually("drift reverted", || async {
        let data = cms.get("app-config").await.ok()?.data?;
        (data["cluster"] == "changed").then_some(())
    })
    .await;

    // 4. A broken manifest: Ready=False with the build error; nothing
    //    applied, nothing pruned.
    remote
        .write(
            "apps/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
        )
        .unwrap();
    let third = remote.commit("broken").unwrap();
    refresh_source(&client, ns.name(), "third").await;
    let failed = eventually("BuildFailed", || async {
        let k = kustomizations.get("apps").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False && condition.reason == "BuildFailed")
            .then_some(k)
    })
    .await;
    let status = failed.status.clone().unwrap();
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(revision.as_str())
    );
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(format!("main@sha1:{third}").as_str())
    );
    assert!(
        ready(&failed).unwrap().message.contains("broken.yaml"),
        "{}",
        ready(&failed).unwrap().message
    );
    assert!(
        cms.get_opt("app-config").await.unwrap().is_some(),
        "nothing pruned"
    );
    assert!(
        accounts.get_opt("app").await.unwrap().is_some(),
        "nothing pruned"
    );

    // 4b. A kind the cluster does not serve: Ready=False with the API
    //     machinery's words (no client debug dump), Reconciling kept with
    //     the last progress message as ProgressingWithRetry; nothing pruned.
    remote.remove("apps/broken.yaml").unwrap();
    remote
        .write(
            "apps/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
        )
        .unwrap();
    remote.commit("unserved kind").unwrap();
    refresh_source(&client, ns.name(), "unserved").await;
    let unserved = eventually("unserved kind refused", || async {
        let k = kustomizations.get("apps").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False && condition.reason == "ReconciliationFailed")
            .then_some(k)
    })
    .await;
    let message = &ready(&unserved).unwrap().message;
    assert!(message.starts_with("Widget/"), "{message}");
    assert!(
        message.ends_with(
            "dry-run failed: no matches for kind \"Widget\" in version \"example.com/v1\""
        ),
        "{message}"
    );
    let conditions = &unserved.status.as_ref().unwrap().conditions;
    let reconciling = flux_runtime::conditions::get(conditions, "Reconciling").unwrap();
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    assert!(
        reconciling
            .message
            .starts_with("Detecting drift for revision main@sha1:"),
        "{}",
        reconciling.message
    );
    assert!(
        cms.get_opt("app-config").await.unwrap().is_some(),
        "nothing pruned"
    );

    // 5. dependsOn: a second Kustomization waits for the first to be ready.
    remote.remove("apps/widget.yaml").unwrap();
    remote
        .write(
            "infra/ns-config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: infra\ndata:\n  x: \"1\"\n",
        )
        .unwrap();
    let fourth = remote.commit("fixed").unwrap();
    refresh_source(&client, ns.name(), "fourth").await;
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "infra"},
                "spec": {
                    "interval": "10m",
                    "path": "./infra",
                    "prune": true,
                    "targetNamespace": n,
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                    "dependsOn": [{"name": "apps"}]
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let revision = format!("main@sha1:{fourth}");
    let apps = wait_applied(&kustomizations, "apps", &revision).await;
    let conditions = &apps.status.as_ref().unwrap().conditions;
    assert!(
        flux_runtime::conditions::get(conditions, "Reconciling").is_none(),
        "a success clears Reconciling"
    );
    wait_applied(&kustomizations, "infra", &revision).await;
    assert!(cms.get_opt("infra").await.unwrap().is_some());

    // 6. Suspended: changes are not applied.
    kustomizations
        .patch(
            "infra",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    cms.delete("infra", &DeleteParams::default()).await.unwrap();
    request_reconcile(&kustomizations, "infra", "suspended-1").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        cms.get_opt("infra").await.unwrap().is_none(),
        "suspended: not re-applied"
    );

    // 7. Deleting a Kustomization with prune deletes its objects.
    kustomizations
        .delete("apps", &DeleteParams::default())
        .await
        .unwrap();
    eventually("apps deleted", || async {
        kustomizations
            .get_opt("apps")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    eventually("objects garbage-collected", || async {
        (cms.get_opt("app-config").await.ok()?.is_none()
            && accounts.get_opt("app").await.ok()?.is_none())
        .then_some(())
    })
    .await;
    assert!(
        cms.get_opt("keep-me").await.unwrap().is_some(),
        "prune: disabled survives deletion"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("health").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;
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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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
async fn impersonation() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("tenant").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;
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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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

/// A new age key from the real `age-keygen`: (identity file, recipient).
fn age_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(format!("{name}.agekey"));
    let out = std::process::Command::new(flux_testenv::tool("age-keygen").unwrap())
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (text, recipient)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sops_decryption() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("sops").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;
    let n = ns.name();
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_key(keys.path(), "flux");
    let (stranger, _) = age_key(keys.path(), "stranger");

    // The real sops encrypts the Secret's data.
    let plain = keys.path().join("secret.yaml");
    std::fs::write(
        &plain,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: s3cr3t-value\n",
    )
    .unwrap();
    let out = std::process::Command::new(flux_testenv::tool("sops").unwrap())
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encrypted = String::from_utf8(out.stdout).unwrap();
    assert!(!encrypted.contains("s3cr3t-value"));

    // A secretGenerator reading an encrypted dotenv and binary file.
    let sops_file = |name: &str, content: &[u8]| {
        let path = keys.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = std::process::Command::new(flux_testenv::tool("sops").unwrap())
            .args(["--encrypt", "--age", &recipient])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let app_env = sops_file("app.env", b"USER=admin\nPASSWORD=env-s3cr3t\n");
    let tls_key = sops_file("tls.key", b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n");

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("secrets").unwrap();
    remote.write("secrets/db.yaml", &encrypted).unwrap();
    remote.write("generated/app.env", &app_env).unwrap();
    remote.write("generated/tls.key", &tls_key).unwrap();
    remote
        .write(
            "generated/kustomization.yaml",
            "secretGenerator:\n- name: app\n  envs:\n  - app.env\n  files:\n  - tls.key\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
        )
        .unwrap();
    let head = remote.commit("encrypted secret").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> = Api::namespaced(client.clone(), n);
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), n);
    for (name, key) in [("sops-age", &identity), ("wrong-age", &stranger)] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "stringData": {"age.agekey": key}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), n);
    let create = |name: &str, decryption: serde_json::Value| {
        let mut spec = json!({
            "interval": "10m",
            "retryInterval": "2s",
            "path": "./secrets",
            "prune": true,
            "targetNamespace": n,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}
        });
        if !decryption.is_null() {
            spec["decryption"] = decryption;
        }
        serde_json::from_value::<Kustomization>(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name},
            "spec": spec
        }))
        .unwrap()
    };
    let failure = |name: &'static str| {
        let api = kustomizations.clone();
        async move {
            eventually(&format!("{name} BuildFailed"), || async {
                let k = api.get(name).await.ok()?;
                let condition = ready(&k)?;
                (condition.reason == "BuildFailed").then_some(condition.message.clone())
            })
            .await
        }
    };

    // Without decryption: refused, nothing applied.
    kustomizations
        .create(
            &PostParams::default(),
            &create("plain", serde_json::Value::Null),
        )
        .await
        .unwrap();
    let message = failure("plain").await;
    assert!(
        message.contains("is SOPS encrypted, configuring decryption is required"),
        "{message}"
    );

    // With a stranger's key: refused with a clear message, no secret in it.
    kustomizations
        .create(
            &PostParams::default(),
            &create(
                "wrong",
                json!({"provider": "sops", "secretRef": {"name": "wrong-age"}}),
            ),
        )
        .await
        .unwrap();
    let message = failure("wrong").await;
    assert!(message.contains("cannot get sops data key"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(
        secrets.get_opt("db").await.unwrap().is_none(),
        "nothing applied"
    );

    // With the right key: applied decrypted.
    kustomizations
        .create(
            &PostParams::default(),
            &create(
                "right",
                json!({"provider": "sops", "secretRef": {"name": "sops-age"}}),
            ),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "right", &format!("main@sha1:{head}")).await;
    let db = secrets.get("db").await.unwrap();
    let password = db.data.unwrap()["password"].0.clone();
    assert_eq!(password, b"s3cr3t-value");

    // Generator inputs in SOPS's dotenv and binary formats.
    let mut generated = create(
        "generated",
        json!({"provider": "sops", "secretRef": {"name": "sops-age"}}),
    );
    generated.spec.path = Some("./generated".to_string());
    kustomizations
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    wait_applied(&kustomizations, "generated", &format!("main@sha1:{head}")).await;
    let app = secrets.get("app").await.unwrap().data.unwrap();
    assert_eq!(app["USER"].0, b"admin");
    assert_eq!(app["PASSWORD"].0, b"env-s3cr3t");
    assert_eq!(
        app["tls.key"].0,
        b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_cache() {
    let cp = ControlPlane::shared().expect("control plane");
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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_cluster() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("remote").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;
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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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

/// Every file below `dir`, relative path → content.
fn fixture_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The seed guide's monorepo (section 13.1): a root Kustomization applies
/// `clusters/production`, whose Kustomizations apply the infrastructure
/// controllers, then (dependsOn) their configs, then (dependsOn) the apps
/// with substituted variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_monorepo() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("monorepo").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet-infra").unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/monorepo");
    for (path, text) in fixture_files(&fixture) {
        let text = text.replace(
            "namespace: flux-system",
            &format!("namespace: {}", ns.name()),
        );
        remote.write(&path, text).unwrap();
    }
    let revision = format!("main@sha1:{}", remote.commit("fleet").unwrap());

    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "flux-system"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "flux-system"},
                "spec": {
                    "interval": "10m",
                    "path": "./clusters/production",
                    "prune": true,
                    "sourceRef": {"kind": "GitRepository", "name": "flux-system"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    let mut ready_since = Vec::new();
    for name in [
        "flux-system",
        "infrastructure-controllers",
        "infrastructure-configs",
        "apps",
    ] {
        let k = wait_applied(&kustomizations, name, &revision).await;
        ready_since.push(ready(&k).unwrap().last_transition_time.0);
        if name == "infrastructure-controllers" || name == "apps" {
            let conditions = &k.status.as_ref().unwrap().conditions;
            let healthy = flux_runtime::conditions::get(conditions, "Healthy").unwrap();
            assert_eq!(healthy.status, ConditionStatus::True, "{name}: {healthy:?}");
        }
    }
    // dependsOn: each became Ready no earlier than what it depends on.
    assert!(
        ready_since[1] <= ready_since[2] && ready_since[2] <= ready_since[3],
        "{ready_since:?}"
    );

    let issuers = kube::api::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "monorepo.fluxrs.test",
        "v1",
        "ClusterIssuer",
    ));
    let issuers: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &issuers);
    let issuer = issuers.get("letsencrypt").await.unwrap();
    assert_eq!(
        issuer.data["spec"]["acme"]["server"],
        "https://acme.invalid/directory"
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let config = cms.get("webapp-config").await.unwrap().data.unwrap();
    assert_eq!(config["environment"], "production");
    assert_eq!(config["url"], "https://app.example.com");
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(client.clone(), ns.name());
    let service = services.get("webapp").await.unwrap();
    assert_eq!(
        service
            .labels()
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("apps")
    );
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns.name());
    assert!(
        accounts
            .get_opt("issuer-controller")
            .await
            .unwrap()
            .is_some()
    );
}

/// The seed guide's multi-tenancy (sections 5.7 and 9.3): the platform
/// applies the tenant's ServiceAccount and RoleBinding; the tenant's
/// Kustomization acts as that account inside its namespace; a tenant's
/// cluster-wide object is refused with nothing of its stage written; and
/// with `--no-cross-namespace-refs` a source in another namespace is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_multi_tenant() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("tenant").await.unwrap();
    let platform = cp.namespace("platform").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers_with(cp, &ns, |ctx| ctx.no_cross_namespace_refs = true).await;

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("tenant-repo").unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/multi-tenant");
    for (path, text) in fixture_files(&fixture) {
        remote
            .write(&path, text.replace("tenant-namespace", ns.name()))
            .unwrap();
    }
    let revision = format!("main@sha1:{}", remote.commit("tenant").unwrap());
    for namespace in [ns.name(), platform.name()] {
        let repos: Api<flux_api::source::v1::GitRepository> =
            Api::namespaced(client.clone(), namespace);
        repos
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": "tenant-repo"},
                    "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    let create = |name: &str, spec: serde_json::Value| {
        let api = kustomizations.clone();
        let k: Kustomization = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name},
            "spec": spec
        }))
        .unwrap();
        async move { api.create(&PostParams::default(), &k).await.unwrap() }
    };
    create(
        "tenants",
        json!({"interval": "1h", "path": "./tenants", "prune": true,
               "sourceRef": {"kind": "GitRepository", "name": "tenant-repo"}}),
    )
    .await;
    // The guide's tenant Kustomization (section 5.7).
    create(
        "tenant-app",
        json!({"interval": "10m", "path": "./deploy", "prune": true,
               "serviceAccountName": "tenant-deployer", "targetNamespace": ns.name(),
               "dependsOn": [{"name": "tenants"}],
               "sourceRef": {"kind": "GitRepository", "name": "tenant-repo"}}),
    )
    .await;
    create(
        "escalate",
        json!({"interval": "10m", "path": "./escalate", "prune": true,
               "serviceAccountName": "tenant-deployer", "targetNamespace": ns.name(),
               "dependsOn": [{"name": "tenants"}],
               "sourceRef": {"kind": "GitRepository", "name": "tenant-repo"}}),
    )
    .await;
    create(
        "cross",
        json!({"interval": "10m", "path": "./deploy", "prune": false,
               "sourceRef": {"kind": "GitRepository", "name": "tenant-repo",
                             "namespace": platform.name()}}),
    )
    .await;

    wait_applied(&kustomizations, "tenants", &revision).await;
    wait_applied(&kustomizations, "tenant-app", &revision).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let config = cms.get("tenant-config").await.unwrap();
    assert_eq!(config.data.as_ref().unwrap()["team"], "tenant");

    let refused = eventually("escalation refused", || async {
        let k = kustomizations.get("escalate").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False && condition.reason == "ReconciliationFailed")
            .then(|| condition.clone())
    })
    .await;
    assert!(
        refused.message.contains("ValidatingWebhookConfiguration/")
            && refused.message.contains("forbidden")
            && refused.message.contains(&format!(
                "system:serviceaccount:{}:tenant-deployer",
                ns.name()
            )),
        "{}",
        refused.message
    );
    assert!(
        cms.get_opt("smuggled").await.unwrap().is_none(),
        "nothing of a refused stage is written"
    );

    let denied = eventually("cross-namespace source refused", || async {
        let k = kustomizations.get("cross").await.ok()?;
        let condition = ready(&k)?;
        (condition.status == ConditionStatus::False).then(|| condition.clone())
    })
    .await;
    assert_eq!(denied.reason, "AccessDenied");
    assert_eq!(
        denied.message,
        format!(
            "cannot access GitRepository/{}/tenant-repo, cross-namespace references have been disabled",
            platform.name()
        )
    );
}

/// An object first applied with the real `kubectl apply` is taken over:
/// kubectl's field manager and last-applied annotation are dropped, so a
/// key later removed from Git is removed from the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_objects_are_taken_over() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("takeover").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ignore").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controllers(cp, &ns).await;

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
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet"},
                "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
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
