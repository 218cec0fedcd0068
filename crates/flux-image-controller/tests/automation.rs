//! ImageUpdateAutomation against a real control plane and a real git
//! server (git http-backend with basic auth): the marked values are
//! committed with the rendered message and pushed, every other byte of
//! the files kept; nothing is committed when nothing changed; a push
//! branch other than the checkout branch is created from the checkout,
//! then updated on its own tip; signed commits (checked by the real
//! `git verify-commit`); a checkout pinned to a commit; configuration
//! errors stall with upstream's reasons.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flux_api::image::v1::{ImagePolicy, ImageUpdateAutomation};
use flux_testenv::{ControlPlane, GitHttpServer, HttpAuth};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

async fn create(client: &Client, namespace: &str, object: Value) {
    flux_testenv::create_object(client, namespace, &object)
        .await
        .unwrap();
}

async fn set_latest(api: &Api<ImagePolicy>, name: &str, image: &str, tag: &str) {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"latestRef": {"name": image, "tag": tag}}})),
    )
    .await
    .unwrap();
}

async fn wait(
    api: &Api<ImageUpdateAutomation>,
    name: &str,
    what: &str,
    check: impl Fn(&ImageUpdateAutomation) -> bool,
) -> ImageUpdateAutomation {
    let found = flux_testenv::eventually_within(what, Duration::from_secs(120), || async {
        let a = api.get(name).await.ok()?;
        check(&a).then_some(a)
    })
    .await;
    match found {
        Ok(a) => a,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.ok().and_then(|a| a.status)),
    }
}

fn ready(a: &ImageUpdateAutomation) -> Option<(String, String, String)> {
    a.status.as_ref().and_then(|s| {
        flux_runtime::conditions::get(&s.conditions, "Ready").map(|c| {
            (
                format!("{:?}", c.status),
                c.reason.clone(),
                c.message.clone(),
            )
        })
    })
}

const DEPLOYMENT: &str = "# Keep this comment.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n    template:\n        spec:\n            containers:\n            -   name: web\n                image: \"ghcr.io/org/web:1.0.0\"   # {\"$imagepolicy\": \"NS:web\"}\n                args: [ --port,  \"8080\" ]\n";

fn git(dir: &Path, args: &[&str]) -> String {
    flux_testenv::git(dir, args).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tags_are_committed_and_pushed() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("automation").await.unwrap();
    let namespace = ns.name().to_string();
    let server = GitHttpServer::start_with_auth(HttpAuth::basic("bot", "pa55")).unwrap();
    let repo = server.create_repo("fleet").unwrap();
    let deployment = DEPLOYMENT.replace("NS", &namespace);
    repo.write("apps/web.yaml", &deployment).unwrap();
    repo.write("apps/other.yaml", "a: 1 # no marker\n").unwrap();
    let first = repo.commit("initial").unwrap();

    create(
        &client,
        &namespace,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "git"}, "stringData": {"username": "bot", "password": "pa55"}}),
    )
    .await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet"}, "spec": {"url": repo.url(), "interval": "1h",
        "ref": {"branch": "main"}, "secretRef": {"name": "git"}}}),
    )
    .await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "web"}, "spec": {"image": "ghcr.io/org/web", "interval": "1h"}}),
    )
    .await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "web"}, "spec": {"imageRepositoryRef": {"name": "web"},
        "policy": {"semver": {"range": ">=1.0.0"}}}}),
    )
    .await;
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    set_latest(&policies, "web", "ghcr.io/org/web", "1.0.0").await;

    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    let run = tokio::spawn(flux_image_controller::run_automation(
        ctx.clone(),
        Some(namespace.clone()),
    ));
    let template = "Update images in {{ .AutomationObject }}\n\n{{ range $resource, $changes := .Changed.Objects -}}\n- {{ $resource.Kind }}/{{ $resource.Name }}:{{ range $changes }} {{ .OldValue }} -> {{ .NewValue }}{{ end }}\n{{ end -}}";
    create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "auto"}, "spec": {"interval": "1h",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "git": {"commit": {"author": {"name": "Flux", "email": "flux@example.com"}, "messageTemplate": template}},
        "update": {"path": "./apps", "strategy": "Setters"}}})).await;
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), &namespace);

    // The marked value already holds the policy's tag: nothing to commit.
    let a = wait(&automations, "auto", "ready without a push", |a| {
        ready(a).is_some_and(|r| r.0 == "True")
    })
    .await;
    let status = a.status.unwrap();
    assert_eq!(status.last_push_commit, None);
    assert_eq!(
        status.observed_source_revision.as_deref(),
        Some(format!("main@sha1:{first}").as_str())
    );
    assert_eq!(
        ready(&automations.get("auto").await.unwrap()).unwrap(),
        (
            "True".into(),
            "Succeeded".into(),
            "repository up-to-date".into()
        )
    );

    // A new tag: committed and pushed to main.
    set_latest(&policies, "web", "ghcr.io/org/web", "1.10.0").await;
    let a = wait(&automations, "auto", "a push", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_push_commit.is_some())
    })
    .await;
    let status = a.status.unwrap();
    let pushed = status.last_push_commit.clone().unwrap();
    assert_eq!(
        status.observed_source_revision.as_deref(),
        Some(format!("main@sha1:{pushed}").as_str())
    );
    assert_eq!(status.observed_policies.unwrap()["web"].tag, "1.10.0");
    repo.pull().unwrap();
    assert_eq!(repo.head().unwrap(), pushed);
    let after = std::fs::read_to_string(repo.work_path().join("apps/web.yaml")).unwrap();
    assert_eq!(
        after,
        deployment.replace("\"ghcr.io/org/web:1.0.0\"", "\"ghcr.io/org/web:1.10.0\""),
        "only the marked value changes"
    );
    let message = git(repo.work_path(), &["log", "-1", "--format=%an <%ae>%n%B"]);
    assert_eq!(
        message.trim_end(),
        format!(
            "Flux <flux@example.com>\nUpdate images in {namespace}/auto\n\n- Deployment/web: ghcr.io/org/web:1.0.0 -> ghcr.io/org/web:1.10.0"
        )
    );
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(client.clone(), &namespace);
    let summary =
        flux_testenv::eventually_within("the push event", Duration::from_secs(30), || async {
            events
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter_map(|e| e.message)
                .find(|m| m.starts_with("pushed commit"))
        })
        .await
        .unwrap();
    assert_eq!(
        summary.trim_end(),
        format!(
            "pushed commit '{}' to branch 'main'\n{}",
            &pushed[..7],
            message
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
        )
    );

    // A push branch of its own: created from main, then reset from main
    // with one new commit on each run (upstream's force push).
    automations
        .patch(
            "auto",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"git": {"push": {"branch": "auto-update"}}}})),
        )
        .await
        .unwrap();
    // The new spec seen before the policy moves (else main gets the push).
    wait(&automations, "auto", "the push branch seen", |a| {
        a.status.as_ref().and_then(|s| s.observed_generation) == a.metadata.generation
    })
    .await;
    set_latest(&policies, "web", "ghcr.io/org/web", "1.11.0").await;
    let a = wait(&automations, "auto", "a push to auto-update", |a| {
        a.status.as_ref().is_some_and(|s| {
            s.last_push_commit.as_deref() != Some(pushed.as_str()) && s.last_push_commit.is_some()
        })
    })
    .await;
    let branch_commit = a.status.unwrap().last_push_commit.unwrap();
    let remote = git(repo.work_path(), &["ls-remote", "origin"]);
    assert!(
        remote.contains(&format!("{branch_commit}\trefs/heads/auto-update")),
        "{remote}"
    );
    assert!(
        remote.contains(&format!("{pushed}\trefs/heads/main")),
        "main is left alone: {remote}"
    );
    let parent = git(
        repo.bare_path(),
        &["rev-parse", &format!("{branch_commit}^")],
    );
    assert_eq!(parent.trim(), pushed);

    // Nothing new: the run applies on auto-update's tip (upstream's switch
    // to an existing push branch), finds nothing to change and pushes
    // nothing.
    automations
        .patch(
            "auto",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}}),
            ),
        )
        .await
        .unwrap();
    let a = wait(&automations, "auto", "the requested run", |a| {
        a.status
            .as_ref()
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("again"))
    })
    .await;
    assert_eq!(
        a.status.unwrap().last_push_commit.as_deref(),
        Some(branch_commit.as_str())
    );
    let tip = git(repo.bare_path(), &["rev-parse", "auto-update"]);
    assert_eq!(tip.trim(), branch_commit, "no new commit on auto-update");
    // A newer tag: one commit on top of the branch.
    set_latest(&policies, "web", "ghcr.io/org/web", "1.11.1").await;
    let a = wait(&automations, "auto", "a second push to auto-update", |a| {
        a.status.as_ref().is_some_and(|s| {
            s.last_push_commit.is_some()
                && s.last_push_commit.as_deref() != Some(branch_commit.as_str())
        })
    })
    .await;
    let second = a.status.unwrap().last_push_commit.unwrap();
    let parent = git(repo.bare_path(), &["rev-parse", &format!("{second}^")]);
    assert_eq!(parent.trim(), branch_commit);

    // Signed commits (OpenPGP key with a passphrase), verified by the
    // real `git verify-commit`; without the passphrase, upstream's error.
    let key =
        flux_testenv::SigningKey::gpg_protected("Flux <flux@example.com>", "abcde12345").unwrap();
    create(
        &client,
        &namespace,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "signing"},
            "stringData": {"git.asc": key.private_key().unwrap()}}),
    )
    .await;
    automations
        .patch(
            "auto",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"git": {"commit": {"signingKey": {"secretRef": {"name": "signing"}}}}}}),
            ),
        )
        .await
        .unwrap();
    wait(&automations, "auto", "the signing key seen", |a| {
        a.status.as_ref().and_then(|s| s.observed_generation) == a.metadata.generation
    })
    .await;
    set_latest(&policies, "web", "ghcr.io/org/web", "1.11.2").await;
    let a = wait(&automations, "auto", "the missing passphrase", |a| {
        ready(a).is_some_and(|r| r.0 == "False")
    })
    .await;
    assert_eq!(
        ready(&a).unwrap(),
        (
            "False".into(),
            "SourceManagerFailed".into(),
            "failed configuring source manager: can not use passphrase protected signing key without 'passphrase' field present in secret signing".into()
        )
    );
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &namespace);
    secrets
        .patch(
            "signing",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"passphrase": "abcde12345"}})),
        )
        .await
        .unwrap();
    let a = wait(&automations, "auto", "a signed push", |a| {
        a.status.as_ref().is_some_and(|s| {
            s.last_push_commit.is_some() && s.last_push_commit.as_deref() != Some(second.as_str())
        })
    })
    .await;
    let signed = a.status.unwrap().last_push_commit.unwrap();
    let report = key
        .verify_commit(repo.bare_path(), &signed, "flux@example.com")
        .unwrap();
    assert!(report.contains("GOODSIG"), "{report}");

    // Checkout pinned to a commit, pushed to a branch of its own: the
    // commit's parent is the pinned commit.
    create(
        &client,
        &namespace,
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "pinned"}, "spec": {"interval": "1h",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "git": {"checkout": {"ref": {"commit": first}},
                "commit": {"author": {"email": "flux@example.com"}},
                "push": {"branch": "pinned"}},
        "update": {"path": "./apps"}}}),
    )
    .await;
    let a = wait(
        &automations,
        "pinned",
        "a push from the pinned commit",
        |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.last_push_commit.is_some())
        },
    )
    .await;
    let status = a.status.unwrap();
    let pinned = status.last_push_commit.unwrap();
    assert_eq!(
        status.observed_source_revision.as_deref(),
        Some(format!("sha1:{first}").as_str())
    );
    let parent = git(repo.bare_path(), &["rev-parse", &format!("{pinned}^")]);
    assert_eq!(parent.trim(), first);
    let file = git(repo.bare_path(), &["show", "pinned:apps/web.yaml"]);
    assert!(file.contains("\"ghcr.io/org/web:1.11.2\""), "{file}");

    // Configuration errors stall with upstream's reasons.
    create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "removed-field"}, "spec": {"interval": "1h",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "git": {"commit": {"author": {"email": "flux@example.com"}, "messageTemplate": "{{ .Updated }}"},
                "push": {"branch": "other"}},
        "update": {"path": "./apps"}}})).await;
    set_latest(&policies, "web", "ghcr.io/org/web", "1.12.0").await;
    let a = wait(&automations, "removed-field", "stalled", |a| {
        ready(a).is_some_and(|r| r.0 == "False")
    })
    .await;
    let (_, reason, message) = ready(&a).unwrap();
    assert_eq!(reason, "RemovedTemplateField");
    assert!(
        message.starts_with("template uses removed '.Updated' field"),
        "{message}"
    );

    create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "no-branch"}, "spec": {"interval": "1h",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "git": {"checkout": {"ref": {"tag": "v1"}}, "commit": {"author": {"email": "flux@example.com"}}}}})).await;
    let a = wait(&automations, "no-branch", "failed", |a| {
        ready(a).is_some_and(|r| r.0 == "False")
    })
    .await;
    assert_eq!(
        ready(&a).unwrap().2,
        "failed configuring source manager: push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref"
    );
    run.abort();
}
