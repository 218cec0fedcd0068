use std::time::Duration;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_testenv::GitHttpServer;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitops_loop() {
    let (_, ns, client, _storage) = test_bed("ks").await;

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
    create_fleet(&repos, remote.url(), "1m").await;

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
