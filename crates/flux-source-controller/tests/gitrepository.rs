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
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
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
    // The progress report ("building artifact") is gone with the success.
    assert!(condition(&ready, "Reconciling").is_none());
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

    // Our own status writes do not trigger more work: a reconcile request
    // with an unchanged remote costs exactly one ls-remote and no clone.
    let count = |what: &str| {
        git.log()
            .lines()
            .filter(|l| l.contains(what) && l.contains("\" 200"))
            .count()
    };
    let refs_before = count("GET /fleet.git/info/refs");
    let fetches_before = count("POST /fleet.git/git-upload-pack");
    request_reconcile(&repos, "fleet", "unchanged").await;
    eventually("the request to be handled", || async {
        let repo = repos.get("fleet").await.ok()?;
        (repo.status?.last_handled_reconcile_at.as_deref() == Some("unchanged")).then_some(())
    })
    .await;
    // Give the watch event of that status write time to arrive.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        count("GET /fleet.git/info/refs"),
        refs_before + 1,
        "{}",
        git.log()
    );
    assert_eq!(
        count("POST /fleet.git/git-upload-pack"),
        fetches_before,
        "no clone for an unchanged remote: {}",
        git.log()
    );

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
    // kstatus: a failure a retry may fix keeps the object Reconciling.
    let reconciling = condition(&failed, "Reconciling").unwrap();
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    assert!(!reconciling.message.contains("wrong-password"));
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
        // A long Git timeout: fetching the 2 GiB commit below is slow on a busy machine.
        "spec": {"url": remote.url(), "interval": "10m", "timeout": "540s", "ref": {"branch": "main"}}
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

    // A 2 GiB sparse file: refused from the object headers, before anything
    // is written; the last good artifact stays.
    let bomb = std::fs::File::create(work.join("apps/zeros.bin")).unwrap();
    bomb.set_len(2 << 30).unwrap();
    drop(bomb);
    remote.commit("two gigabytes of zeros").unwrap();
    request_reconcile(&repos, "hostile", "bomb").await;
    // The fetch itself is slow under load: git packs, and libgit2 indexes,
    // the 2 GiB blob (2 MB on the wire) before the size check can refuse it.
    let refused = flux_testenv::eventually_within(
        "the oversized commit to be refused",
        std::time::Duration::from_secs(600),
        || async {
            let repo = repos.get("hostile").await.ok()?;
            let ready = condition(&repo, "Ready")?;
            (ready.status == flux_api::meta::ConditionStatus::False).then(|| repo.clone())
        },
    )
    .await
    .unwrap();
    let ready = condition(&refused, "Ready").unwrap();
    assert_eq!(ready.reason, "GitOperationFailed");
    assert!(
        ready.message.contains("checkout refused: the files of the commit add up to more than 1073741824 bytes (at 'apps/zeros.bin')"),
        "{}",
        ready.message
    );
    assert_eq!(
        refused.status.unwrap().artifact.unwrap().revision,
        format!("main@sha1:{head}")
    );
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
    create_secret(&secrets, json!({
        "metadata": {"name": "ssh-auth"},
        "stringData": {"identity": git.client_private_key().unwrap(), "known_hosts": git.known_hosts()}
    })).await;
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

    // A known_hosts entry with another key for the same host: refused.
    let impostor_dir = tempfile::tempdir().unwrap();
    let impostor = flux_testenv::ssh_keygen(&impostor_dir.path().join("key")).unwrap();
    let impostor_pub = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let mut fields = impostor_pub.split_whitespace();
    let wrong_known_hosts = format!(
        "[127.0.0.1]:{} {} {}\n",
        git.port(),
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    create_secret(&secrets, json!({
        "metadata": {"name": "ssh-wrong-host-key"},
        "stringData": {"identity": git.client_private_key().unwrap(), "known_hosts": wrong_known_hosts}
    })).await;
    create(
        &repos,
        "impostor",
        json!({"url": remote.url(), "interval": "10m", "ref": {"branch": "main"}, "secretRef": {"name": "ssh-wrong-host-key"}}),
    )
    .await;
    let refused = wait_condition(
        &repos,
        "impostor",
        "Ready",
        flux_api::meta::ConditionStatus::False,
        "GitOperationFailed",
    )
    .await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(message.contains("host key"), "{message}");
    assert!(refused.status.unwrap().artifact.is_none());

    // A host that does not resolve.
    create(
        &repos,
        "nowhere",
        json!({"url": "http://git.nonexistent.invalid/fleet.git", "interval": "10m", "ref": {"branch": "main"}}),
    )
    .await;
    let unreachable = wait_condition(
        &repos,
        "nowhere",
        "FetchFailed",
        flux_api::meta::ConditionStatus::True,
        "GitOperationFailed",
    )
    .await;
    let message = &condition(&unreachable, "Ready").unwrap().message;
    assert!(
        message.starts_with("failed to checkout and determine revision:"),
        "{message}"
    );
}

async fn create_secret(secrets: &Api<Secret>, secret: serde_json::Value) {
    let secret: Secret = serde_json::from_value(secret).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

async fn create(api: &Api<GitRepository>, name: &str, spec: serde_json::Value) {
    let object: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

/// Waits until condition `kind` of `name` has `status` and `reason`.
async fn wait_condition(
    api: &Api<GitRepository>,
    name: &str,
    kind: &str,
    status: flux_api::meta::ConditionStatus,
    reason: &str,
) -> GitRepository {
    eventually(&format!("{name}: {kind}={status:?} ({reason})"), || async {
        let repo = api.get(name).await.ok()?;
        let c = condition(&repo, kind)?;
        (c.status == status && c.reason == reason).then(|| repo.clone())
    })
    .await
}

fn fetch_artifact(artifact: &flux_api::meta::Artifact) -> tempfile::TempDir {
    let bytes = std::process::Command::new("curl")
        .args(["-sSf", &artifact.url])
        .output()
        .unwrap()
        .stdout;
    let out = tempfile::tempdir().unwrap();
    verify_and_extract(
        &bytes[..],
        &artifact.digest.parse().unwrap(),
        out.path(),
        &Limits::default(),
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_verification() {
    use flux_api::meta::ConditionStatus::{False, True};
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("verify").await.unwrap();
    let _storage_root = start_controller(cp, &ns).await;
    let client = cp.client().unwrap();
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("signed").unwrap();
    let key = flux_testenv::SigningKey::gpg("Release Bot <bot@example.invalid>").unwrap();
    remote.write("app.yaml", "kind: ConfigMap\n").unwrap();
    let signed = remote.commit_signed("signed release", &key).unwrap();
    remote.tag_signed("v1.0.0", "v1.0.0", &key).unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    create_secret(
        &secrets,
        json!({
            "metadata": {"name": "pgp-public-keys"},
            "stringData": {"bot.asc": key.public_key()}
        }),
    )
    .await;
    let repos: Api<GitRepository> = Api::namespaced(client, ns.name());
    let verify = json!({"mode": "HEAD", "secretRef": {"name": "pgp-public-keys"}});
    create(
        &repos,
        "head",
        json!({"url": remote.url(), "interval": "10m", "ref": {"branch": "main"}, "verify": verify}),
    )
    .await;
    create(
        &repos,
        "tag",
        json!({"url": remote.url(), "interval": "10m", "ref": {"tag": "v1.0.0"},
               "verify": {"mode": "TagAndHEAD", "secretRef": {"name": "pgp-public-keys"}}}),
    )
    .await;
    create(
        &repos,
        "tag-mode-on-a-branch",
        json!({"url": remote.url(), "interval": "10m", "ref": {"branch": "main"},
               "verify": {"mode": "Tag", "secretRef": {"name": "pgp-public-keys"}}}),
    )
    .await;

    let key_id = key.id().unwrap();
    let head = wait_condition(&repos, "head", "SourceVerified", True, "Succeeded").await;
    assert_eq!(
        condition(&head, "SourceVerified").unwrap().message,
        format!("verified signature of\n\t- commit '{signed}' with key '{key_id}'")
    );
    let status = head.status.clone().unwrap();
    assert_eq!(status.source_verification_mode.as_deref(), Some("HEAD"));
    assert_eq!(
        status.artifact.unwrap().revision,
        format!("main@sha1:{signed}")
    );

    let tag = wait_condition(&repos, "tag", "SourceVerified", True, "Succeeded").await;
    let message = &condition(&tag, "SourceVerified").unwrap().message;
    assert!(
        message.starts_with("verified signature of\n\t- tag 'v1.0.0@sha1:"),
        "{message}"
    );
    assert!(
        message.ends_with(&format!("\n\t- commit '{signed}' with key '{key_id}'")),
        "{message}"
    );

    // Tag mode without a tag reference: stalled, nothing to retry.
    let stalled = wait_condition(
        &repos,
        "tag-mode-on-a-branch",
        "Stalled",
        True,
        "InvalidVerificationMode",
    )
    .await;
    assert_eq!(
        condition(&stalled, "Ready").unwrap().message,
        "cannot verify tag object's signature if a tag reference is not specified"
    );
    assert!(stalled.status.unwrap().artifact.is_none());

    // An unsigned commit on the branch: not stored, the verified artifact stays.
    remote
        .write("app.yaml", "kind: ConfigMap # evil\n")
        .unwrap();
    let unsigned = remote.commit("unsigned change").unwrap();
    request_reconcile(&repos, "head", "after-unsigned").await;
    let failed = wait_condition(&repos, "head", "Ready", False, "InvalidCommitSignature").await;
    assert_eq!(
        condition(&failed, "SourceVerified").unwrap().message,
        format!(
            "signature verification of commit '{unsigned}' failed: unable to verify payload as the object is not signed"
        )
    );
    assert_eq!(
        failed.status.unwrap().artifact.unwrap().revision,
        format!("main@sha1:{signed}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_sparse_checkout_suspend_and_recovery() {
    use flux_api::meta::ConditionStatus::{False, True};
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("include").await.unwrap();
    let _storage_root = start_controller(cp, &ns).await;
    let repos: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let git = GitHttpServer::start().unwrap();
    let lib = git.create_repo("lib").unwrap();
    lib.write("manifests/lib.yaml", "kind: Lib # v1\n").unwrap();
    lib.write("README.md", "lib\n").unwrap();
    lib.commit("lib v1").unwrap();
    let fleet = git.create_repo("fleet").unwrap();
    fleet.write("apps/app.yaml", "kind: App\n").unwrap();
    fleet.write("docs/guide.yaml", "kind: Doc\n").unwrap();
    let first = fleet.commit("fleet").unwrap();

    create(
        &repos,
        "lib",
        json!({"url": lib.url(), "interval": "10m", "ref": {"branch": "main"}}),
    )
    .await;
    create(
        &repos,
        "fleet",
        json!({"url": fleet.url(), "interval": "10m", "ref": {"branch": "main"},
               "sparseCheckout": ["apps"],
               "include": [{"repository": {"name": "lib"}, "fromPath": "manifests", "toPath": "vendor/lib"}]}),
    )
    .await;
    create(
        &repos,
        "ghost-include",
        json!({"url": fleet.url(), "interval": "10m", "ref": {"branch": "main"},
               "include": [{"repository": {"name": "ghost"}}]}),
    )
    .await;
    create(
        &repos,
        "later-branch",
        json!({"url": fleet.url(), "interval": "10m", "ref": {"branch": "release"}}),
    )
    .await;

    let ready = wait_condition(&repos, "fleet", "Ready", True, "Succeeded").await;
    let status = ready.status.clone().unwrap();
    let lib_artifact = repos
        .get("lib")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap();
    assert_eq!(status.included_artifacts, vec![lib_artifact.clone()]);
    assert_eq!(status.observed_include.len(), 1);
    assert_eq!(status.observed_sparse_checkout, vec!["apps".to_string()]);
    let out = fetch_artifact(status.artifact.as_ref().unwrap());
    assert!(out.path().join("apps/app.yaml").is_file());
    assert!(!out.path().join("docs").exists(), "sparse checkout");
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/lib/lib.yaml")).unwrap(),
        "kind: Lib # v1\n"
    );
    assert!(!out.path().join("vendor/lib/README.md").exists());

    // A new revision of the included repository reaches the includer.
    lib.write("manifests/lib.yaml", "kind: Lib # v2\n").unwrap();
    lib.commit("lib v2").unwrap();
    request_reconcile(&repos, "lib", "lib-v2").await;
    let updated = eventually("the includer to pick up lib v2", || async {
        let repo = repos.get("fleet").await.ok()?;
        let status = repo.status?;
        (status.included_artifacts.first()?.revision != lib_artifact.revision).then_some(status)
    })
    .await;
    let out = fetch_artifact(updated.artifact.as_ref().unwrap());
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/lib/lib.yaml")).unwrap(),
        "kind: Lib # v2\n"
    );
    assert_eq!(
        updated.artifact.unwrap().revision,
        format!("main@sha1:{first}"),
        "same commit, new content"
    );

    // A missing include and a missing branch: Ready=False with upstream's reasons.
    let ghost = wait_condition(
        &repos,
        "ghost-include",
        "IncludeUnavailable",
        True,
        "NotFound",
    )
    .await;
    assert_eq!(condition(&ghost, "Ready").unwrap().status, False);
    assert!(
        condition(&ghost, "Ready")
            .unwrap()
            .message
            .starts_with("could not get resource for include 'ghost'"),
        "{}",
        condition(&ghost, "Ready").unwrap().message
    );
    let missing =
        wait_condition(&repos, "later-branch", "Ready", False, "GitOperationFailed").await;
    let message = &condition(&missing, "FetchFailed").unwrap().message;
    assert!(message.contains("branch 'release'"), "{message}");
    // Creating the branch fixes it.
    fleet.checkout("release").unwrap();
    fleet
        .write("apps/app.yaml", "kind: App # release\n")
        .unwrap();
    let release = fleet.commit("release").unwrap();
    fleet.checkout("main").unwrap();
    request_reconcile(&repos, "later-branch", "branch-exists").await;
    let recovered = wait_condition(&repos, "later-branch", "Ready", True, "Succeeded").await;
    assert!(condition(&recovered, "FetchFailed").is_none());
    assert_eq!(
        recovered.status.unwrap().artifact.unwrap().revision,
        format!("release@sha1:{release}")
    );

    // Suspended: a new commit is not fetched; resumed: it is.
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    repos
        .patch(
            "later-branch",
            &PatchParams::default(),
            &Patch::Merge(&suspend(true)),
        )
        .await
        .unwrap();
    fleet.checkout("release").unwrap();
    fleet
        .write("apps/app.yaml", "kind: App # release 2\n")
        .unwrap();
    let release2 = fleet.commit("release 2").unwrap();
    request_reconcile(&repos, "later-branch", "while-suspended").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let suspended = repos.get("later-branch").await.unwrap().status.unwrap();
    assert_eq!(
        suspended.artifact.unwrap().revision,
        format!("release@sha1:{release}")
    );
    assert_ne!(
        suspended.last_handled_reconcile_at.as_deref(),
        Some("while-suspended")
    );
    repos
        .patch(
            "later-branch",
            &PatchParams::default(),
            &Patch::Merge(&suspend(false)),
        )
        .await
        .unwrap();
    eventually("the resumed object to fetch release 2", || async {
        let artifact = repos.get("later-branch").await.ok()?.status?.artifact?;
        (artifact.revision == format!("release@sha1:{release2}")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_private_ca_through_an_authenticating_proxy() {
    use flux_api::meta::ConditionStatus::True;
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("proxy").await.unwrap();
    let _storage_root = start_controller(cp, &ns).await;
    let client = cp.client().unwrap();
    let ca = flux_testenv::TestCa::new("corp-ca").unwrap();
    let certificate = ca.server_cert("git.corp", &["127.0.0.1"]).unwrap();
    let git = GitHttpServer::start_tls(HttpAuth::basic("flux", "s3cret"), &certificate).unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote.write("apps/app.yaml", "kind: App\n").unwrap();
    let head = remote.commit("init").unwrap();
    let proxy = flux_testenv::HttpProxy::start(Some(("proxyuser", "proxypass"))).unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    for secret in [
        json!({"metadata": {"name": "git-https"},
               "stringData": {"username": "flux", "password": "s3cret", "ca.crt": ca.cert_pem()}}),
        json!({"metadata": {"name": "corp-proxy"},
               "stringData": {"address": proxy.url(), "username": "proxyuser", "password": "proxypass"}}),
    ] {
        create_secret(&secrets, secret).await;
    }
    let repos: Api<GitRepository> = Api::namespaced(client, ns.name());
    create(
        &repos,
        "fleet",
        json!({"url": remote.url(), "interval": "10m", "ref": {"branch": "main"},
               "secretRef": {"name": "git-https"}, "proxySecretRef": {"name": "corp-proxy"}}),
    )
    .await;
    let ready = wait_condition(&repos, "fleet", "Ready", True, "Succeeded").await;
    assert_eq!(
        ready.status.unwrap().artifact.unwrap().revision,
        format!("main@sha1:{head}")
    );
    assert!(
        proxy.log().contains("CONNECT 127.0.0.1:"),
        "{}",
        proxy.log()
    );

    // A proxy Secret without an address: AuthenticationFailed, as upstream.
    create_secret(
        &secrets,
        json!({
            "metadata": {"name": "broken-proxy"}, "stringData": {"username": "x"}
        }),
    )
    .await;
    create(
        &repos,
        "broken",
        json!({"url": remote.url(), "interval": "10m", "ref": {"branch": "main"},
               "secretRef": {"name": "git-https"}, "proxySecretRef": {"name": "broken-proxy"}}),
    )
    .await;
    let broken = wait_condition(
        &repos,
        "broken",
        "FetchFailed",
        True,
        "AuthenticationFailed",
    )
    .await;
    assert_eq!(
        condition(&broken, "Ready").unwrap().message,
        "failed to configure proxy options: invalid credentials: proxy: key 'address' is missing"
    );
}

/// Our sockets connected to `port` on 127.0.0.1 (`/proc/net/tcp`,
/// ESTABLISHED).
fn open_connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

/// A Git server that accepts connections and never answers (stopped with
/// SIGSTOP) is reported within `spec.timeout`: the object goes
/// `Ready=False` (`GitOperationFailed`, the message naming the timeout),
/// its last artifact stays served, another GitRepository keeps
/// reconciling meanwhile, and libgit2 closes its connections to the hung
/// server (the silence bound of `flux_git::deadline`), so no thread stays
/// blocked on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_out_and_frees_its_connections() {
    use flux_api::meta::ConditionStatus;
    use std::time::Duration;

    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("gitrepo-hung").await.unwrap();
    let repos: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let _storage = start_controller(cp, &ns).await;

    let hung = GitHttpServer::start().unwrap();
    let fleet = hung.create_repo("fleet").unwrap();
    fleet.write("cm.yaml", "kind: ConfigMap\n").unwrap();
    fleet.commit("one").unwrap();
    let healthy = GitHttpServer::start().unwrap();
    let other = healthy.create_repo("other").unwrap();
    other.write("cm.yaml", "kind: ConfigMap\n").unwrap();
    other.commit("one").unwrap();
    let spec = |url: &str| json!({"url": url, "interval": "2s", "timeout": "3s", "ref": {"branch": "main"}});
    create(&repos, "hung", spec(fleet.url())).await;
    create(&repos, "healthy", spec(other.url())).await;
    let ok = |name: &'static str| {
        wait_condition(&repos, name, "Ready", ConditionStatus::True, "Succeeded")
    };
    let served = ok("hung").await.status.unwrap().artifact.unwrap();
    ok("healthy").await;
    assert_eq!(open_connections_to(hung.port()), 0);

    hung.hang().unwrap();
    // Reported on its next run (interval 2s) after at most the 3s timeout
    // and the one second the wait adds: 15s is a wide margin, and without
    // a deadline it would never be reported.
    let failed = flux_testenv::eventually_within(
        "hung: Ready=False (GitOperationFailed)",
        Duration::from_secs(15),
        || async {
            let repo = repos.get("hung").await.ok()?;
            let c = condition(&repo, "Ready")?;
            (c.status == ConditionStatus::False && c.reason == "GitOperationFailed")
                .then(|| repo.clone())
        },
    )
    .await
    .unwrap();
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(message.contains("timeout after 3s"), "{message}");
    assert!(message.contains(fleet.url()), "{message}");
    // The last artifact is still the object's and still served.
    let status = failed.status.clone().unwrap();
    assert_eq!(status.artifact.as_ref(), Some(&served));
    assert!(fetch_artifact(&served).path().join("cm.yaml").is_file());
    // The hung connection is real (the check below can fail).
    assert!(open_connections_to(hung.port()) > 0);

    // Another repository keeps reconciling while one server hangs.
    other.write("cm2.yaml", "kind: ConfigMap\n").unwrap();
    let second = other.commit("two").unwrap();
    eventually("healthy: the new commit", || async {
        let repo = repos.get("healthy").await.ok()?;
        let artifact = repo.status?.artifact?;
        (artifact.revision == format!("main@sha1:{second}")).then_some(())
    })
    .await;

    // Stop trying; every connection to the hung server is closed by
    // libgit2 within its silence bound, which frees the threads.
    repos
        .patch(
            "hung",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    flux_testenv::eventually_within(
        "the connections to the hung server are closed",
        flux_git::deadline::SERVER_TIMEOUT + Duration::from_secs(15),
        || async { (open_connections_to(hung.port()) == 0).then_some(()) },
    )
    .await
    .unwrap();

    // The server answers again: the object recovers.
    hung.resume().unwrap();
    repos
        .patch(
            "hung",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": false}})),
        )
        .await
        .unwrap();
    wait_condition(&repos, "hung", "Ready", ConditionStatus::True, "Succeeded").await;
}

/// The same over SSH: libssh2 gets libgit2's silence bound, so an sshd
/// that never sends its banner is reported within `spec.timeout` and its
/// connections are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_ssh_server_times_out_and_frees_its_connections() {
    use flux_api::meta::ConditionStatus;
    use flux_testenv::GitSshServer;
    use std::time::Duration;

    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("gitrepo-hung-ssh").await.unwrap();
    let client = cp.client().unwrap();
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), ns.name());
    let _storage = start_controller(cp, &ns).await;
    let git = GitSshServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    remote.write("cm.yaml", "kind: ConfigMap\n").unwrap();
    remote.commit("one").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    create_secret(&secrets, json!({
        "metadata": {"name": "ssh-auth"},
        "stringData": {"identity": git.client_private_key().unwrap(), "known_hosts": git.known_hosts()}
    }))
    .await;
    create(
        &repos,
        "hung",
        json!({"url": remote.url(), "interval": "2s", "timeout": "3s", "ref": {"branch": "main"}, "secretRef": {"name": "ssh-auth"}}),
    )
    .await;
    wait_condition(&repos, "hung", "Ready", ConditionStatus::True, "Succeeded").await;

    git.hang().unwrap();
    let failed = flux_testenv::eventually_within(
        "hung: Ready=False (GitOperationFailed)",
        Duration::from_secs(15),
        || async {
            let repo = repos.get("hung").await.ok()?;
            let c = condition(&repo, "Ready")?;
            (c.status == ConditionStatus::False && c.reason == "GitOperationFailed")
                .then(|| repo.clone())
        },
    )
    .await
    .unwrap();
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(message.contains("timeout after 3s"), "{message}");
    assert!(open_connections_to(git.port()) > 0);
    repos
        .patch(
            "hung",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    flux_testenv::eventually_within(
        "the connections to the hung sshd are closed",
        flux_git::deadline::SERVER_TIMEOUT + Duration::from_secs(15),
        || async { (open_connections_to(git.port()) == 0).then_some(()) },
    )
    .await
    .unwrap();
    git.resume().unwrap();
}
