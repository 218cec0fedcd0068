//! The GitRepository reconciler against a real API server and a real git
//! server, with the artifact server in front of the storage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use flux_api::source::v1::GitRepository;
use flux_artifact::{Digest, Limits, Retention, Storage, verify_and_extract};
use flux_source_controller::{Context, run, server::serve_storage};
use flux_testenv::{ControlPlane, GitHttpServer, HttpAuth, TestNamespace};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
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

fn condition<'a>(repo: &'a GitRepository, kind: &str) -> Option<&'a flux_api::meta::Condition> {
    repo.status
        .as_ref()
        .and_then(|s| flux_api::conditions::get(&s.conditions, kind))
}

/// Starts storage + artifact server + controller for `ns`; returns the storage root.
async fn start_controller(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_storage(root.path().to_path_buf(), listener));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let ctx = Context::new(cp.client().unwrap(), storage);
    let namespace = ns.name().to_string();
    tokio::spawn(async move { run(ctx, Some(&namespace)).await });
    root
}

async fn request_reconcile(api: &Api<GitRepository>, name: &str, token: &str) {
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_repository_lifecycle() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("gitrepo").await.unwrap();
    let client = cp.client().unwrap();
    let storage_root = start_controller(cp, &ns).await;

    let git = GitHttpServer::start_with_auth(HttpAuth::basic("flux", "s3cret")).unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote.write("apps/cm.yaml", "kind: ConfigMap\n").unwrap();
    remote.write("docs/logo.png", "png").unwrap();
    let first = remote.commit("add the app").unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    let secret = |password: &str| {
        serde_json::from_value::<Secret>(json!({
            "metadata": {"name": "git-auth"},
            "stringData": {"username": "flux", "password": password}
        }))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &secret("s3cret"))
        .await
        .unwrap();

    let repos: Api<GitRepository> = Api::namespaced(client.clone(), ns.name());
    let object: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "fleet"},
        "spec": {"url": remote.url(), "interval": "10m", "ref": {"branch": "main"}, "secretRef": {"name": "git-auth"}}
    }))
    .unwrap();
    repos.create(&PostParams::default(), &object).await.unwrap();

    // Ready with the artifact of the head commit.
    let ready = eventually("Ready=True", || async {
        let repo = repos.get("fleet").await.ok()?;
        (condition(&repo, "Ready")?.status == flux_api::meta::ConditionStatus::True).then_some(repo)
    })
    .await;
    let status = ready.status.clone().unwrap();
    let artifact = status.artifact.clone().unwrap();
    assert_eq!(artifact.revision, format!("main@sha1:{first}"));
    assert_eq!(condition(&ready, "Ready").unwrap().reason, "Succeeded");
    assert_eq!(
        condition(&ready, "Ready").unwrap().message,
        format!("stored artifact for revision 'main@sha1:{first}'")
    );
    assert_eq!(
        condition(&ready, "ArtifactInStorage").unwrap().reason,
        "Succeeded"
    );
    assert!(
        ready
            .finalizers()
            .contains(&"finalizers.fluxcd.io".to_string())
    );
    assert_eq!(
        artifact.path,
        format!("gitrepository/{}/fleet/{first}.tar.gz", ns.name())
    );
    assert!(artifact.url.ends_with(&artifact.path));

    // The artifact is served, its digest is right, and it holds the checkout
    // minus the default exclusions.
    let bytes = std::process::Command::new("curl")
        .args(["-sSf", &artifact.url])
        .output()
        .unwrap()
        .stdout;
    let digest: Digest = artifact.digest.parse().unwrap();
    assert_eq!(Digest::of(&bytes), digest);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    verify_and_extract(&bytes[..], &digest, &dest, &Limits::default()).unwrap();
    assert!(dest.join("apps/cm.yaml").exists());
    assert!(!dest.join("docs/logo.png").exists());
    assert!(!dest.join(".git").exists());

    let events: Api<Event> = Api::namespaced(client.clone(), ns.name());
    eventually("the NewArtifact event", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .find(|e| e.reason.as_deref() == Some("NewArtifact"))
            .map(|e| e.note.clone().unwrap_or_default())
    })
    .await
    .contains("stored artifact for commit 'add the app'")
    .then_some(())
    .expect("event message");

    // A new commit and a reconcile request give a new artifact.
    remote
        .write("apps/cm.yaml", "kind: ConfigMap # v2\n")
        .unwrap();
    let second = remote.commit("change the app").unwrap();
    request_reconcile(&repos, "fleet", "first-request").await;
    let updated = eventually("the new revision", || async {
        let repo = repos.get("fleet").await.ok()?;
        let artifact = repo.status.as_ref()?.artifact.as_ref()?;
        (artifact.revision == format!("main@sha1:{second}")).then_some(repo)
    })
    .await;
    assert_eq!(
        updated.status.unwrap().last_handled_reconcile_at.as_deref(),
        Some("first-request")
    );
    let artifact_dir = storage_root
        .path()
        .join(format!("gitrepository/{}/fleet", ns.name()));
    assert!(artifact_dir.join(format!("{second}.tar.gz")).exists());

    // Wrong credentials: Ready=False with upstream's reason, no secret in the message.
    secrets
        .replace("git-auth", &PostParams::default(), &{
            let mut s = secret("wrong-password");
            s.metadata.resource_version = secrets
                .get("git-auth")
                .await
                .unwrap()
                .metadata
                .resource_version;
            s
        })
        .await
        .unwrap();
    remote
        .write("apps/other.yaml", "kind: ConfigMap\n")
        .unwrap();
    remote.commit("third").unwrap();
    request_reconcile(&repos, "fleet", "second-request").await;
    let failed = eventually("Ready=False", || async {
        let repo = repos.get("fleet").await.ok()?;
        let ready = condition(&repo, "Ready")?;
        (ready.status == flux_api::meta::ConditionStatus::False).then(|| repo.clone())
    })
    .await;
    let ready = condition(&failed, "Ready").unwrap();
    assert_eq!(ready.reason, "AuthenticationFailed", "{}", ready.message);
    assert!(
        ready
            .message
            .starts_with("failed to checkout and determine revision: authentication failed"),
        "{}",
        ready.message
    );
    assert!(!ready.message.contains("wrong-password"));
    assert_eq!(
        condition(&failed, "FetchFailed").unwrap().reason,
        "AuthenticationFailed"
    );
    // The last good artifact stays.
    assert_eq!(
        failed
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .revision,
        format!("main@sha1:{second}")
    );

    // Deleting the object deletes its artifacts, then the object.
    repos
        .delete("fleet", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the object to be gone", || async {
        repos.get_opt("fleet").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(!artifact_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_repository_content_stays_inside() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("hostile").await.unwrap();
    let _storage_root = start_controller(cp, &ns).await;
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("hostile").unwrap();
    remote.write("apps/cm.yaml", "kind: ConfigMap\n").unwrap();
    let work = remote.work_path();
    std::os::unix::fs::symlink("/etc", work.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", work.join("apps/passwd")).unwrap();
    std::os::unix::fs::symlink("../../../../outside", work.join("apps/up")).unwrap();
    let head = remote.commit("links everywhere").unwrap();

    let repos: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let object: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "hostile"},
        "spec": {"url": remote.url(), "interval": "10m", "ref": {"branch": "main"}}
    }))
    .unwrap();
    repos.create(&PostParams::default(), &object).await.unwrap();
    let artifact = eventually("the artifact", || async {
        let repo = repos.get("hostile").await.ok()?;
        repo.status?.artifact
    })
    .await;
    assert_eq!(artifact.revision, format!("main@sha1:{head}"));
    let bytes = std::process::Command::new("curl")
        .args(["-sSf", &artifact.url])
        .output()
        .unwrap()
        .stdout;
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    verify_and_extract(
        &bytes[..],
        &artifact.digest.parse().unwrap(),
        &dest,
        &Limits::default(),
    )
    .unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dest.join("apps")).unwrap() {
        found.push(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    assert_eq!(found, ["cm.yaml"], "links are left out");
    assert!(!dest.join("etc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_known_hosts_and_a_semver_tag() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ssh").await.unwrap();
    let _storage_root = start_controller(cp, &ns).await;
    let git = flux_testenv::GitSshServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        remote.write("version.txt", version).unwrap();
        remote.commit(version).unwrap();
        remote.tag(&format!("v{version}"), None).unwrap();
    }
    let tagged = remote.head().unwrap();
    let client = cp.client().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "ssh-auth"},
        "stringData": {"identity": git.client_private_key().unwrap(), "known_hosts": git.known_hosts()}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let repos: Api<GitRepository> = Api::namespaced(client, ns.name());
    let object: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "fleet"},
        "spec": {"url": remote.url(), "interval": "10m", "ref": {"semver": "<2.0.0"}, "secretRef": {"name": "ssh-auth"}}
    }))
    .unwrap();
    repos.create(&PostParams::default(), &object).await.unwrap();
    let artifact = eventually("the artifact", || async {
        let repo = repos.get("fleet").await.ok()?;
        repo.status?.artifact
    })
    .await;
    // v1.1.0 is the highest tag below 2.0.0; its commit is HEAD~1.
    assert!(
        artifact.revision.starts_with("v1.1.0@sha1:"),
        "{}",
        artifact.revision
    );
    assert!(
        !artifact.revision.ends_with(&tagged),
        "{}",
        artifact.revision
    );
}
