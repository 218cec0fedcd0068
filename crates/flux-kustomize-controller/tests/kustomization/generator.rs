use flux_api::kustomize::v1::Kustomization;
use flux_api::source::v1::ExternalArtifact;
use flux_api::source_extensions::v1beta1::ArtifactGenerator;
use flux_testenv::GitHttpServer;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::*;

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// Upstream's example-fleet pattern: a monorepo split by an
/// ArtifactGenerator into one ExternalArtifact per app, each applied by its
/// Kustomization; a change to one app is applied, and the other app's
/// artifact keeps its revision, so its Kustomization has nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomizations_from_an_artifact_generator() {
    let (_, ns, client, _storage) = test_bed("ks-generator").await;
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote
        .write("apps/frontend/cm.yaml", config_map("frontend", "one"))
        .unwrap();
    remote
        .write("apps/backend/cm.yaml", config_map("backend", "one"))
        .unwrap();
    remote.commit("two apps").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "10m").await;

    let generators: Api<ArtifactGenerator> = Api::namespaced(client.clone(), ns.name());
    generators
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                "metadata": {"name": "apps"},
                "spec": {
                    "sources": [{"alias": "fleet", "kind": "GitRepository", "name": "fleet"}],
                    "artifacts": [
                        {"name": "frontend", "originRevision": "@fleet", "copy": [{"from": "@fleet/apps/frontend/**", "to": "@artifact/"}]},
                        {"name": "backend", "originRevision": "@fleet", "copy": [{"from": "@fleet/apps/backend/**", "to": "@artifact/"}]},
                    ],
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    for app in ["frontend", "backend"] {
        kustomizations
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": app},
                    "spec": {"interval": "10m", "path": "./", "prune": true,
                             "targetNamespace": ns.name(),
                             "sourceRef": {"kind": "ExternalArtifact", "name": app}},
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let value = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get(name)
                .await
                .ok()
                .and_then(|c| c.data)
                .and_then(|d| d.get("value").cloned())
        }
    };
    eventually("both apps applied", || async {
        (value("frontend").await.as_deref() == Some("one")
            && value("backend").await.as_deref() == Some("one"))
        .then_some(())
    })
    .await;
    let eas: Api<ExternalArtifact> = Api::namespaced(client.clone(), ns.name());
    let revision = |name: &'static str| {
        let eas = eas.clone();
        async move {
            eas.get(name)
                .await
                .ok()?
                .status?
                .artifact
                .map(|a| a.revision)
        }
    };
    let frontend_revision = revision("frontend").await.unwrap();
    assert!(
        frontend_revision.starts_with("latest@sha256:"),
        "{frontend_revision}"
    );
    let frontend = wait_applied(&kustomizations, "frontend", &frontend_revision).await;
    let applied_at = frontend.status.unwrap().last_applied_origin_revision;
    assert!(applied_at.is_some_and(|r| r.starts_with("main@sha1:")));

    // Only the backend changes.
    remote
        .write("apps/backend/cm.yaml", config_map("backend", "two"))
        .unwrap();
    remote.commit("backend two").unwrap();
    refresh_source(&client, ns.name(), "1").await;
    eventually("the backend change applied", || async {
        (value("backend").await.as_deref() == Some("two")).then_some(())
    })
    .await;
    assert_eq!(revision("frontend").await.unwrap(), frontend_revision);
    let frontend = kustomizations.get("frontend").await.unwrap();
    assert_eq!(
        frontend.status.unwrap().last_applied_revision.as_deref(),
        Some(frontend_revision.as_str())
    );
}
