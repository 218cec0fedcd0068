//! The guide's §8 examples (`examples/guide-images`), applied as written
//! with the real `kubectl apply --server-side` (v1beta2 objects, read by
//! the controllers through the storage version): the ImageRepository
//! with its exclusion list and registry Secret, each of the three
//! ImagePolicy variants, the ImageUpdateAutomation with the guide's
//! message template, and the marker forms. What is the user's own is
//! filled in: the registry (here a local one with htpasswd auth, plain
//! HTTP: `insecure`), the Secret's Docker config, and the GitRepository
//! `webapp` the automation names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use flux_api::image::v1::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use flux_testenv::{ControlPlane, GitHttpServer, Image, OciRegistry};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guide-images")
}

fn kubectl_apply(kubeconfig: &Path, file: &Path) {
    let out = Command::new(flux_testenv::tool("kubectl").unwrap())
        .env("KUBECONFIG", kubeconfig)
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn latest_tag(policies: &Api<ImagePolicy>, generation: i64) -> String {
    flux_testenv::eventually_within(
        "the policy's latest tag",
        Duration::from_secs(120),
        || async {
            let p = policies.get("webapp").await.ok()?;
            let status = p.status?;
            (status.observed_generation == Some(generation))
                .then_some(())
                .and(status.latest_ref)
                .map(|r| r.tag)
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_section_8_examples_work() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let kubeconfig = cp.kubeconfig_path().to_path_buf();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "flux-system"}})).unwrap(),
        )
        .await;

    // The user's registry, with the tags CI pushed.
    let registry = OciRegistry::start_with_basic_auth("ci", "s3cret").unwrap();
    let host = registry.host();
    let image = Image::new();
    for tag in [
        "v1.0.0",
        "v1.2.0",
        "v2.0.0",
        "v2.1.0-rc.1",
        "latest",
        "main-abc123-100",
        "main-def456-200",
    ] {
        image
            .push_with_auth(&host, "my-org/webapp", tag, ("ci", "s3cret"))
            .unwrap();
    }
    // The Secret as the guide writes it, with the user's Docker config.
    let config = json!({"auths": {host.clone(): {"username": "ci", "password": "s3cret"}}});
    let encoded = base64::engine::general_purpose::STANDARD.encode(config.to_string());
    let work = tempfile::tempdir().unwrap();
    let secret = std::fs::read_to_string(examples().join("registry-creds.yaml"))
        .unwrap()
        .replace("<base64-encoded-docker-config>", &encoded);
    std::fs::write(work.path().join("registry-creds.yaml"), secret).unwrap();
    kubectl_apply(&kubeconfig, &work.path().join("registry-creds.yaml"));
    kubectl_apply(&kubeconfig, &examples().join("imagerepository.yaml"));
    let repos: Api<ImageRepository> = Api::namespaced(client.clone(), "flux-system");
    repos
        .patch(
            "webapp",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"image": format!("{host}/my-org/webapp"), "insecure": true}}),
            ),
        )
        .await
        .unwrap();

    // The fleet repository the automation writes to.
    let git = GitHttpServer::start().unwrap();
    let fleet = git.create_repo("webapp").unwrap();
    let deployment = std::fs::read_to_string(examples().join("deployment.yaml")).unwrap();
    let markers = std::fs::read_to_string(examples().join("markers.yaml")).unwrap();
    fleet.write("deploy/deployment.yaml", &deployment).unwrap();
    fleet.write("deploy/markers.yaml", &markers).unwrap();
    fleet.commit("initial").unwrap();
    flux_testenv::create_object(
        &client,
        "flux-system",
        &json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "webapp"}, "spec": {"url": fleet.url(), "interval": "1h",
            "ref": {"branch": "main"}}}),
    )
    .await
    .unwrap();

    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    let reflector = tokio::spawn(flux_image_controller::run_reflector(
        ctx.clone(),
        Some("flux-system".to_string()),
    ));

    // The exclusion list drops `latest` and the release candidate.
    let scanned = flux_testenv::eventually_within("the scan", Duration::from_secs(120), || async {
        let r = repos.get("webapp").await.ok()?;
        r.status?.last_scan_result
    })
    .await
    .unwrap();
    assert_eq!(scanned.tag_count, 5);
    assert_eq!(
        scanned.latest_tags,
        [
            "v2.0.0",
            "v1.2.0",
            "v1.0.0",
            "main-def456-200",
            "main-abc123-100"
        ]
    );

    // Each policy of the guide, in turn.
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), "flux-system");
    kubectl_apply(&kubeconfig, &examples().join("policy-timestamp.yaml"));
    assert_eq!(latest_tag(&policies, 1).await, "main-def456-200");
    kubectl_apply(&kubeconfig, &examples().join("policy-alphabetical.yaml"));
    assert_eq!(latest_tag(&policies, 2).await, "v2.0.0");
    kubectl_apply(&kubeconfig, &examples().join("policy-semver.yaml"));
    assert_eq!(latest_tag(&policies, 3).await, "v1.2.0");

    // The automation commits the semver policy's choice.
    let automation = tokio::spawn(flux_image_controller::run_automation(
        ctx,
        Some("flux-system".to_string()),
    ));
    kubectl_apply(&kubeconfig, &examples().join("imageupdateautomation.yaml"));
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), "flux-system");
    let pushed = flux_testenv::eventually_within("the push", Duration::from_secs(120), || async {
        let a = automations.get("webapp-automation").await.ok()?;
        a.status?.last_push_commit
    })
    .await
    .unwrap();
    fleet.pull().unwrap();
    assert_eq!(fleet.head().unwrap(), pushed);
    let new = format!("{host}/my-org/webapp:v1.2.0");
    assert_eq!(
        std::fs::read_to_string(fleet.work_path().join("deploy/deployment.yaml")).unwrap(),
        deployment.replace("ghcr.io/my-org/webapp:v1.0.0", &new)
    );
    assert_eq!(
        std::fs::read_to_string(fleet.work_path().join("deploy/markers.yaml")).unwrap(),
        markers
            .replace(
                "full: ghcr.io/my-org/webapp:v1.0.0",
                &format!("full: {new}")
            )
            .replace("tag: ghcr.io/my-org/webapp:v1.0.0", "tag: v1.2.0")
            .replace(
                "name: ghcr.io/my-org/webapp:v1.0.0",
                &format!("name: {host}/my-org/webapp")
            )
    );
    let message =
        flux_testenv::git(fleet.work_path(), &["log", "-1", "--format=%an <%ae>%n%B"]).unwrap();
    // `.Changed.FileChanges` holds paths relative to `update.path`, as
    // upstream's (tests/upstream.rs); `.Changed.Objects` is ranged in Go's
    // key order: the markers file's object (no kind, no name) before
    // `apps/v1` Deployment.
    assert_eq!(
        message.trim_end(),
        format!(
            "fluxcdbot <fluxcdbot@example.com>\nAutomated image update\nAutomation name: flux-system/webapp-automation\nFiles:\n- deployment.yaml\n- markers.yaml\nObjects:\n- / ()\n- ghcr.io/my-org/webapp:v1.0.0 -> {new}\n- ghcr.io/my-org/webapp:v1.0.0 -> v1.2.0\n- ghcr.io/my-org/webapp:v1.0.0 -> {host}/my-org/webapp\n- Deployment/webapp ()\n- ghcr.io/my-org/webapp:v1.0.0 -> {new}"
        )
    );
    reflector.abort();
    automation.abort();
}
