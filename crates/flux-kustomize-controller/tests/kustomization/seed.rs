use std::path::Path;

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_testenv::{ControlPlane, GitHttpServer};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::support::*;

/// The seed guide's monorepo (section 13.1): a root Kustomization applies
/// `clusters/production`, whose Kustomizations apply the infrastructure
/// controllers, then (dependsOn) their configs, then (dependsOn) the apps
/// with substituted variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_monorepo() {
    let (_, ns, client, _storage) = test_bed("monorepo").await;

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
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
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

/// Every file below `dir`, relative path → content.
fn fixture_files(dir: &Path) -> Vec<(String, String)> {
    flux_testenv::files_under(dir)
        .unwrap()
        .into_iter()
        .map(|(path, data)| (path, String::from_utf8(data).unwrap()))
        .collect()
}
