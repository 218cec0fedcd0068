use flux_api::kustomize::v1::Kustomization;
use flux_api::source::v1::OCIRepository;
use flux_testenv::OciRegistry;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::*;

fn push(registry: &OciRegistry, tag: &str, dir: &std::path::Path, revision: &str) {
    let output = std::process::Command::new(
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)"),
    )
    .args([
        "push",
        "artifact",
        &format!("oci://{}/manifests/apps:{tag}", registry.host()),
        "--path",
    ])
    .arg(dir)
    .args([
        "--source",
        "https://example.com/fleet",
        "--revision",
        revision,
        "--insecure-registry",
    ])
    .env("HOME", "/nonexistent")
    .output()
    .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// An artifact pushed by `flux push artifact`, read through an
/// OCIRepository, applied by a Kustomization; a newer tag is applied as
/// soon as the OCIRepository has it (the Kustomization watches it), with
/// the origin revision recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomization_from_an_oci_repository() {
    let (_, ns, client, _storage) = test_bed("ks-oci").await;
    let registry = OciRegistry::start().unwrap();
    let src = tempfile::tempdir().unwrap();
    let write = |value: &str| {
        std::fs::write(
            src.path().join("cm.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\ndata:\n  value: \"{value}\"\n"),
        )
        .unwrap();
    };
    write("one");
    push(
        &registry,
        "1.0.0",
        src.path(),
        "main@sha1:1111111111111111111111111111111111111111",
    );

    let repos: Api<OCIRepository> = Api::namespaced(client.clone(), ns.name());
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "OCIRepository",
                "metadata": {"name": "apps"},
                "spec": {"url": format!("oci://{}/manifests/apps", registry.host()),
                         "interval": "10m", "insecure": true, "ref": {"semver": ">=1.0.0"}},
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
                "spec": {"interval": "10m", "path": "./", "prune": true,
                         "targetNamespace": ns.name(),
                         "sourceRef": {"kind": "OCIRepository", "name": "apps"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let value = |cms: Api<ConfigMap>| async move {
        cms.get("from-oci")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    eventually("the ConfigMap from the artifact", || async {
        (value(cms.clone()).await.as_deref() == Some("one")).then_some(())
    })
    .await;
    // The objects are applied before the status says so: wait for it.
    let status = eventually("the status records 1.0.0", || async {
        let status = kustomizations.get("apps").await.ok()?.status?;
        status
            .last_applied_revision
            .as_deref()?
            .starts_with("1.0.0@sha256:")
            .then_some(status)
    })
    .await;
    assert_eq!(
        status.last_applied_origin_revision.as_deref(),
        Some("main@sha1:1111111111111111111111111111111111111111")
    );

    // A newer version: the OCIRepository is asked to look now; the
    // Kustomization follows on its own (its interval is ten minutes).
    write("two");
    push(
        &registry,
        "1.1.0",
        src.path(),
        "main@sha1:2222222222222222222222222222222222222222",
    );
    repos
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    eventually("the new version applied", || async {
        (value(cms.clone()).await.as_deref() == Some("two")).then_some(())
    })
    .await;
    // The objects are applied before the status says so: wait for it.
    let status = eventually("the status records 1.1.0", || async {
        let status = kustomizations.get("apps").await.ok()?.status?;
        status
            .last_applied_revision
            .as_deref()?
            .starts_with("1.1.0@sha256:")
            .then_some(status)
    })
    .await;
    assert_eq!(
        status.last_applied_origin_revision.as_deref(),
        Some("main@sha1:2222222222222222222222222222222222222222")
    );
}

/// An ExternalArtifact (the status-only contract third-party producers
/// such as source-watcher write) read by a Kustomization: its artifact is
/// applied, and a new one is applied as soon as the producer publishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomization_from_an_external_artifact() {
    use flux_api::source::v1::{ExternalArtifact, GitRepository};
    let (_, ns, client, _storage) = test_bed("ks-external").await;
    // The producer's artifacts: made here by a GitRepository, published by
    // the test as an ExternalArtifact would be.
    let git = flux_testenv::GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    let write = |value: &str| {
        remote
            .write(
                "cm.yaml",
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-external\ndata:\n  value: \"{value}\"\n"),
            )
            .unwrap();
        remote.commit(value).unwrap()
    };
    write("one");
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), ns.name());
    create_fleet(&repos, remote.url(), "10m").await;
    let artifact_of = |repos: Api<GitRepository>, revision: Option<String>| async move {
        eventually("the producer's artifact", || async {
            let a = repos.get("fleet").await.ok()?.status?.artifact?;
            revision
                .as_ref()
                .is_none_or(|r| a.revision.ends_with(r.as_str()))
                .then_some(a)
        })
        .await
    };
    let first = artifact_of(repos.clone(), None).await;

    let externals: Api<ExternalArtifact> = Api::namespaced(client.clone(), ns.name());
    externals
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "ExternalArtifact",
                "metadata": {"name": "composed"},
                "spec": {"sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator", "name": "gen"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let publish = |externals: Api<ExternalArtifact>, artifact: flux_api::meta::Artifact| async move {
        externals
            .patch_status(
                "composed",
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {
                    "artifact": artifact,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                    "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                }})),
            )
            .await
            .unwrap();
    };
    publish(externals.clone(), first).await;
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "composed"},
                "spec": {"interval": "10m", "path": "./", "prune": true,
                         "targetNamespace": ns.name(),
                         "sourceRef": {"kind": "ExternalArtifact", "name": "composed"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let value = |cms: Api<ConfigMap>| async move {
        cms.get("from-external")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    eventually("the ConfigMap from the ExternalArtifact", || async {
        (value(cms.clone()).await.as_deref() == Some("one")).then_some(())
    })
    .await;

    // The producer publishes a new artifact: applied without waiting for
    // the Kustomization's ten-minute interval.
    let second = write("two");
    repos
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    let newer = artifact_of(repos.clone(), Some(second)).await;
    publish(externals.clone(), newer).await;
    eventually("the new artifact applied", || async {
        (value(cms.clone()).await.as_deref() == Some("two")).then_some(())
    })
    .await;
}
