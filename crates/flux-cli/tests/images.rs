//! `flux create/get/reconcile/suspend/resume/export/delete image …`
//! against a real API server, a real registry and git server, with our
//! image controllers running; the read commands' output compared with
//! upstream's `flux` on the same objects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod support;

use std::path::Path;
use std::sync::Arc;

use support::{ok, same_as_upstream};

use flux_testenv::{ControlPlane, GitHttpServer, Image, OciRegistry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_objects_through_the_cli() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("cli-images").await.unwrap();
    let namespace = ns.name().to_string();
    let kubeconfig = cp.kubeconfig_path().to_path_buf();
    let k = kubeconfig.as_path();

    let registry = OciRegistry::start().unwrap();
    let host = registry.host();
    let image = Image::new();
    for tag in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
        image.push(&host, "team/web", tag).unwrap();
    }
    let git = GitHttpServer::start().unwrap();
    let repo = git.create_repo("fleet").unwrap();
    repo.write(
        "apps/web.yaml",
        format!("image: {host}/team/web:1.0.0 # {{\"$imagepolicy\": \"{namespace}:web\"}}\n"),
    )
    .unwrap();
    repo.commit("initial").unwrap();

    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    tokio::spawn(flux_image_controller::run_reflector(
        ctx.clone(),
        Some(namespace.clone()),
    ));
    tokio::spawn(flux_image_controller::run_automation(
        ctx,
        Some(namespace.clone()),
    ));

    let n = ["-n", namespace.as_str()];
    let with_ns = |args: &[&str]| -> Vec<String> {
        args.iter().chain(n.iter()).map(|s| s.to_string()).collect()
    };
    let call = |args: &[&str]| {
        let args = with_ns(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(k, &refs)
    };
    let compare = |args: &[&str]| {
        let args = with_ns(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        same_as_upstream(k, &refs)
    };

    // `flux create image repository` has no flag for `insecure` (the
    // registry here is plain HTTP): the object is created directly.
    flux_testenv::create_object(
        &client,
        &namespace,
        &serde_json::json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "web"}, "spec": {"image": format!("{host}/team/web"),
            "interval": "1h", "insecure": true}}),
    )
    .await
    .unwrap();
    let (_, stderr) = call(&["reconcile", "image", "repository", "web"]);
    assert!(stderr.contains("✔ scan fetched 3 tags"), "{stderr}");

    let (_, stderr) = call(&[
        "create",
        "image",
        "policy",
        "web",
        "--image-ref=web",
        "--select-semver=>=1.0.0",
    ]);
    assert!(
        stderr.contains("✔ ImagePolicy created")
            && stderr.contains("✔ ImagePolicy reconciliation completed"),
        "{stderr}"
    );
    let (_, stderr) = call(&["reconcile", "image", "policy", "web"]);
    assert!(
        stderr.contains(&format!("✔ selected ref {host}/team/web:1.1.0")),
        "{stderr}"
    );

    flux_testenv::create_object(
        &client,
        &namespace,
        &serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"}, "spec": {"url": repo.url(), "interval": "1h",
            "ref": {"branch": "main"}}}),
    )
    .await
    .unwrap();
    let (_, stderr) = call(&[
        "create",
        "image",
        "update",
        "auto",
        "--git-repo-ref=fleet",
        "--git-repo-path=./apps",
        "--checkout-branch=main",
        "--author-name=Flux",
        "--author-email=flux@example.com",
        "--interval=1h",
    ]);
    assert!(
        stderr.contains("✔ ImageUpdateAutomation reconciliation completed"),
        "{stderr}"
    );
    repo.pull().unwrap();
    assert_eq!(
        std::fs::read_to_string(repo.work_path().join("apps/web.yaml")).unwrap(),
        format!("image: {host}/team/web:1.1.0 # {{\"$imagepolicy\": \"{namespace}:web\"}}\n")
    );

    // Every read command, against upstream's.
    let all = compare(&["get", "images", "all"]);
    assert!(all.contains("imagepolicy/web"), "{all}");
    compare(&["get", "images", "repository"]);
    let policies = compare(&["get", "images", "policy"]);
    assert!(policies.contains("1.1.0"), "{policies}");
    compare(&["get", "images", "update", "auto"]);
    compare(&["export", "image", "repository", "web"]);
    compare(&["export", "image", "policy", "--all"]);
    compare(&["export", "image", "update", "auto"]);

    let (_, stderr) = call(&["suspend", "image", "update", "auto"]);
    assert!(stderr.contains("suspended"), "{stderr}");
    let table = compare(&["get", "images", "update"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("auto") && l.split_whitespace().nth(2) == Some("True")),
        "suspended: {table}"
    );
    let (_, stderr) = call(&["resume", "image", "update", "auto"]);
    assert!(stderr.contains("resumed"), "{stderr}");
    let (_, stderr) = call(&["reconcile", "image", "update", "auto"]);
    assert!(stderr.contains("✔ repository up-to-date"), "{stderr}");
    let (_, stderr) = call(&["delete", "image", "policy", "web", "--silent"]);
    assert!(stderr.contains("deleted"), "{stderr}");
}
