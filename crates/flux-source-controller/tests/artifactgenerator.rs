//! ArtifactGenerators against a real API server and a real Git server: a
//! monorepo split into ExternalArtifacts whose revisions follow their own
//! files only, values merged, excludes, the inventory and its garbage
//! collection, validation and missing sources.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::{ExternalArtifact, GitRepository};
use flux_api::source_extensions::v1beta1::ArtifactGenerator;
use flux_testenv::{ControlPlane, GitHttpServer};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn ready(conditions: &[flux_api::meta::Condition]) -> Option<&flux_api::meta::Condition> {
    flux_runtime::conditions::get(conditions, "Ready")
}

async fn wait_generator(
    api: &Api<ArtifactGenerator>,
    name: &str,
    reason: &str,
    message: &str,
) -> ArtifactGenerator {
    let result = flux_testenv::eventually(&format!("{name}: {reason}"), || async {
        let g = api.get(name).await.ok()?;
        let status = g.status.clone()?;
        let r = ready(&status.conditions)?;
        (r.reason == reason && r.message.starts_with(message)).then_some(g)
    })
    .await;
    match result {
        Ok(g) => g,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.map(|g| g.status)),
    }
}

async fn artifact(api: &Api<ExternalArtifact>, name: &str) -> flux_api::meta::Artifact {
    flux_testenv::eventually(&format!("ExternalArtifact {name}"), || async {
        api.get(name).await.ok()?.status?.artifact
    })
    .await
    .unwrap()
}

fn files(artifact: &flux_api::meta::Artifact) -> (Vec<String>, tempfile::TempDir) {
    let dir = common::extract(artifact);
    (common::files_of(dir.path()), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monorepo_split_into_external_artifacts() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&common::manifests()).await.unwrap();
    let ns = cp.namespace("generator").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = common::start_controllers(cp, &ns, |_| {}).await;

    let git = GitHttpServer::start().unwrap();
    let repo = git.create_repo("mono").unwrap();
    repo.write(
        "deploy/frontend/app.yaml",
        "kind: ConfigMap\nmetadata: {name: frontend}\n",
    )
    .unwrap();
    repo.write("deploy/frontend/README.md", "# frontend\n")
        .unwrap();
    repo.write("deploy/frontend/nested/extra.yaml", "kind: Secret\n")
        .unwrap();
    repo.write(
        "deploy/backend/app.yaml",
        "kind: ConfigMap\nmetadata: {name: backend}\n",
    )
    .unwrap();
    repo.write(
        "values/base.yaml",
        "replicas: 1\nimage:\n  tag: v1\n  pull: Always\n",
    )
    .unwrap();
    repo.write("values/prod.yaml", "replicas: 3\nimage:\n  tag: v2\n")
        .unwrap();
    let first = repo.commit("monorepo").unwrap();
    let gits: Api<GitRepository> = Api::namespaced(client.clone(), ns.name());
    gits.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "mono"},
            "spec": {"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}},
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    let generators: Api<ArtifactGenerator> = Api::namespaced(client.clone(), ns.name());
    let spec = json!({
        "sources": [{"alias": "repo", "kind": "GitRepository", "name": "mono"}],
        "artifacts": [
            {"name": "frontend", "copy": [{"from": "@repo/deploy/frontend/**", "to": "@artifact/", "exclude": ["*.md"]}]},
            {"name": "backend", "copy": [{"from": "@repo/deploy/backend/**", "to": "@artifact/"}]},
            {"name": "values", "revision": "@repo", "originRevision": "@repo", "copy": [
                {"from": "@repo/values/base.yaml", "to": "@artifact/values.yaml"},
                {"from": "@repo/values/prod.yaml", "to": "@artifact/values.yaml", "strategy": "Merge"},
            ]},
        ],
    });
    generators
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                "metadata": {"name": "split"}, "spec": spec,
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let generator = wait_generator(
        &generators,
        "split",
        "Succeeded",
        "reconciliation succeeded, generated 3 artifact(s)",
    )
    .await;
    let status = generator.status.unwrap();
    let names: Vec<&str> = status.inventory.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["frontend", "backend", "values"]);
    assert!(
        status
            .observed_sources_digest
            .unwrap()
            .starts_with("sha256:")
    );

    let eas: Api<ExternalArtifact> = Api::namespaced(client.clone(), ns.name());
    let frontend = artifact(&eas, "frontend").await;
    assert_eq!(frontend.revision, format!("latest@{}", frontend.digest));
    let (listed, _) = files(&frontend);
    assert_eq!(listed, ["app.yaml", "nested/extra.yaml"]);
    let backend = artifact(&eas, "backend").await;
    let values = artifact(&eas, "values").await;
    assert_eq!(values.revision, format!("main@sha1:{first}"));
    assert_eq!(
        values.metadata.as_ref().unwrap()["org.opencontainers.image.revision"],
        format!("main@sha1:{first}")
    );
    let (listed, dir) = files(&values);
    assert_eq!(listed, ["values.yaml"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("values.yaml")).unwrap(),
        "image:\n  pull: Always\n  tag: v2\nreplicas: 3\n"
    );
    let ea = eas.get("frontend").await.unwrap();
    assert_eq!(ea.spec.source_ref.as_ref().unwrap().name, "split");
    assert_eq!(
        ready(&ea.status.unwrap().conditions).unwrap().message,
        "Artifact is ready"
    );

    // An ExternalArtifact deleted by hand is drift: it comes back.
    eas.delete("frontend", &DeleteParams::default())
        .await
        .unwrap();
    generators
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift"}}}),
            ),
        )
        .await
        .unwrap();
    let restored = artifact(&eas, "frontend").await;
    assert_eq!(restored.revision, frontend.revision);

    // A change to the backend only: the frontend keeps its revision (its
    // files did not change), the backend gets a new one.
    repo.write(
        "deploy/backend/app.yaml",
        "kind: ConfigMap\nmetadata: {name: backend2}\n",
    )
    .unwrap();
    repo.commit("backend only").unwrap();
    gits.patch(
        "mono",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
        ),
    )
    .await
    .unwrap();
    generators
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
            ),
        )
        .await
        .unwrap();
    let changed = flux_testenv::eventually("a new backend artifact", || async {
        let a = eas.get("backend").await.ok()?.status?.artifact?;
        (a.revision != backend.revision).then_some(a)
    })
    .await
    .unwrap();
    assert_ne!(changed.digest, backend.digest);
    assert_eq!(artifact(&eas, "frontend").await.revision, frontend.revision);

    // An artifact dropped from the spec: its ExternalArtifact goes.
    let mut fewer = spec.clone();
    fewer["artifacts"].as_array_mut().unwrap().remove(1);
    generators
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": fewer})),
        )
        .await
        .unwrap();
    flux_testenv::eventually("backend deleted", || async {
        eas.get("backend").await.is_err().then_some(())
    })
    .await
    .unwrap();

    // Validation and missing sources.
    generators
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                "metadata": {"name": "unknown-alias"},
                "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "mono"}],
                         "artifacts": [{"name": "x", "copy": [{"from": "@other/**", "to": "@artifact/"}]}]},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let invalid = wait_generator(
        &generators,
        "unknown-alias",
        "ValidationFailed",
        "artifact 'x' copy operation references unknown source alias '@other'",
    )
    .await;
    let stalled = flux_runtime::conditions::get(&invalid.status.unwrap().conditions, "Stalled")
        .map(|c| c.status);
    assert_eq!(stalled, Some(ConditionStatus::True));
    generators
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                "metadata": {"name": "missing"},
                "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "nowhere"}],
                         "artifacts": [{"name": "y", "copy": [{"from": "@repo/**", "to": "@artifact/"}]}]},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait_generator(
        &generators,
        "missing",
        "SourceFetchFailed",
        "get sources failed: gitrepositories.source.toolkit.fluxcd.io \"nowhere\" not found",
    )
    .await;

    // Deleting the generator deletes its ExternalArtifacts.
    generators
        .delete("split", &DeleteParams::default())
        .await
        .unwrap();
    flux_testenv::eventually("the generated ExternalArtifacts deleted", || async {
        (eas.get("frontend").await.is_err() && eas.get("values").await.is_err()).then_some(())
    })
    .await
    .unwrap();
}
