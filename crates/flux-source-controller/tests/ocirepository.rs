//! The OCIRepository reconciler against a real API server and a real
//! registry (with htpasswd), reading artifacts pushed by upstream's `flux`
//! CLI and by ours.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use flux_api::meta::ConditionStatus;
use flux_api::source::v1::OCIRepository;
use flux_artifact::{Limits, Retention, Storage, verify_and_extract};
use flux_oci::artifact::{self, CONTENT_MEDIA_TYPE, Metadata};
use flux_oci::{Client, ClientOptions, Credentials, Reference};
use flux_source_controller::{Context, run, server::serve_storage};
use flux_testenv::{ControlPlane, OciRegistry, TestNamespace};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
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

fn condition<'a>(repo: &'a OCIRepository, kind: &str) -> Option<&'a flux_api::meta::Condition> {
    repo.status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
}

async fn start_controller(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_storage(root.path().to_path_buf(), listener));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let mut ctx = Context::new(cp.client().unwrap(), storage);
    ctx.retry_interval = std::time::Duration::from_secs(2);
    ctx.artifact_limits = Limits {
        max_bytes: 8 << 20,
        max_entries: 10_000,
    };
    let namespace = ns.name().to_string();
    tokio::spawn(async move { run(ctx, Some(&namespace)).await });
    root
}

async fn create(api: &Api<OCIRepository>, name: &str, spec: serde_json::Value) {
    let object: OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

async fn wait_condition(
    api: &Api<OCIRepository>,
    name: &str,
    kind: &str,
    status: ConditionStatus,
    reason: &str,
) -> OCIRepository {
    eventually(&format!("{name}: {kind}={status:?} ({reason})"), || async {
        let repo = api.get(name).await.ok()?;
        let c = condition(&repo, kind)?;
        (c.status == status && c.reason == reason).then(|| repo.clone())
    })
    .await
}

fn fetch_artifact(artifact: &flux_api::meta::Artifact) -> tempfile::TempDir {
    let bytes = Command::new("curl")
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

fn docker_config(registry: &OciRegistry, username: &str, password: &str) -> serde_json::Value {
    json!({"auths": {registry.host(): {"username": username, "password": password}}})
}

async fn create_pull_secret(secrets: &Api<Secret>, name: &str, config: serde_json::Value) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config.to_string()},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn layer_of(dir: &Path) -> Bytes {
    let mut out = Vec::new();
    artifact::build_layer(dir, &artifact::default_ignore_paths(), &mut out).unwrap();
    Bytes::from(out)
}

async fn push(client: &Client, reference: &str, dir: &Path, revision: &str) -> String {
    let reference = Reference::parse(reference).unwrap();
    let metadata = Metadata {
        source: "https://example.com/fleet".into(),
        revision: revision.into(),
        ..Metadata::default()
    };
    artifact::push(
        client,
        &reference,
        layer_of(dir),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_repository_lifecycle() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ocirepo").await.unwrap();
    let client = cp.client().unwrap();
    let storage_root = start_controller(cp, &ns).await;
    let registry = OciRegistry::start_with_basic_auth("flux", "s3cret").unwrap();
    let oci = Client::new(ClientOptions {
        insecure: true,
        credentials: Some(Credentials::parse("flux:s3cret")),
        ..ClientOptions::default()
    })
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    create_pull_secret(
        &secrets,
        "creds",
        docker_config(&registry, "flux", "s3cret"),
    )
    .await;
    create_pull_secret(&secrets, "wrong", docker_config(&registry, "flux", "nope")).await;

    // An artifact pushed by upstream's CLI, read by a tag.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("apps")).unwrap();
    std::fs::write(src.path().join("apps/cm.yaml"), "kind: ConfigMap\n").unwrap();
    let output = Command::new(flux_testenv::tool("flux-upstream").unwrap())
        .args([
            "push",
            "artifact",
            &format!("oci://{}/manifests/app:v1", registry.host()),
            "--path",
            src.path().to_str().unwrap(),
            "--source",
            "https://example.com/fleet",
            "--revision",
            "main@sha1:1111111111111111111111111111111111111111",
            "--insecure-registry",
            "--creds",
            "flux:s3cret",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let v1 = oci
        .resolve(&Reference::parse(&format!("{}/manifests/app:v1", registry.host())).unwrap())
        .await
        .unwrap()
        .digest;

    let repos: Api<OCIRepository> = Api::namespaced(client.clone(), ns.name());
    let url = format!("oci://{}/manifests/app", registry.host());
    create(
        &repos,
        "app",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "v1"}, "secretRef": {"name": "creds"}}),
    )
    .await;
    let ready = wait_condition(&repos, "app", "Ready", ConditionStatus::True, "Succeeded").await;
    let artifact = ready.status.clone().unwrap().artifact.unwrap();
    assert_eq!(artifact.revision, format!("v1@{v1}"));
    assert_eq!(
        condition(&ready, "Ready").unwrap().message,
        format!("stored artifact for digest 'v1@{v1}'")
    );
    assert_eq!(
        artifact.path,
        format!("ocirepository/{}/app/{v1}.tar.gz", ns.name())
    );
    let metadata = artifact.metadata.clone().unwrap();
    assert_eq!(
        metadata["org.opencontainers.image.revision"],
        "main@sha1:1111111111111111111111111111111111111111"
    );
    let content = fetch_artifact(&artifact);
    assert_eq!(
        std::fs::read_to_string(content.path().join("apps/cm.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );
    assert!(
        ready
            .status
            .as_ref()
            .unwrap()
            .url
            .as_deref()
            .unwrap()
            .ends_with("/app/latest.tar.gz")
    );
    let events: Api<Event> = Api::namespaced(client.clone(), ns.name());
    let note = eventually("the NewArtifact event", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .find(|e| e.reason.as_deref() == Some("NewArtifact"))
            .and_then(|e| e.note.clone())
    })
    .await;
    assert_eq!(
        note,
        format!(
            "stored artifact with revision 'v1@{v1}' from '{url}', origin source 'https://example.com/fleet', origin revision 'main@sha1:1111111111111111111111111111111111111111'"
        )
    );

    // Semver over tags pushed by us; a newer tag is picked up.
    let host = registry.host();
    push(
        &oci,
        &format!("{host}/manifests/app:1.0.0"),
        src.path(),
        "r1",
    )
    .await;
    std::fs::write(src.path().join("apps/cm2.yaml"), "kind: ConfigMap\n").unwrap();
    let d110 = push(
        &oci,
        &format!("{host}/manifests/app:1.1.0"),
        src.path(),
        "r2",
    )
    .await;
    push(
        &oci,
        &format!("{host}/manifests/app:2.0.0"),
        src.path(),
        "r3",
    )
    .await;
    repos
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"ref": {"tag": null, "semver": ">=1.0.0 <2.0.0"}}})),
        )
        .await
        .unwrap();
    eventually("semver picks 1.1.0", || async {
        let repo = repos.get("app").await.ok()?;
        let a = repo.status?.artifact?;
        (a.revision == format!("1.1.0@{d110}")).then_some(())
    })
    .await;
    let d120 = push(
        &oci,
        &format!("{host}/manifests/app:1.2.0"),
        src.path(),
        "r4",
    )
    .await;
    repos
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    eventually("the new tag 1.2.0", || async {
        let repo = repos.get("app").await.ok()?;
        let a = repo.status?.artifact?;
        (a.revision == format!("1.2.0@{d120}")).then_some(())
    })
    .await;

    // `copy` stores the layer blob itself.
    let (manifest, _) = oci
        .manifest(&Reference::parse(&format!("{host}/manifests/app:1.2.0")).unwrap())
        .await
        .unwrap();
    create(
        &repos,
        "copied",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"digest": d120},
               "secretRef": {"name": "creds"}, "layerSelector": {"mediaType": CONTENT_MEDIA_TYPE, "operation": "copy"}}),
    )
    .await;
    let copied = wait_condition(
        &repos,
        "copied",
        "Ready",
        ConditionStatus::True,
        "Succeeded",
    )
    .await;
    let copied_artifact = copied.status.unwrap().artifact.unwrap();
    assert_eq!(copied_artifact.revision, d120);
    assert_eq!(copied_artifact.digest, manifest.layers[0].digest);

    // Wrong credentials, a tag in the URL, a missing tag.
    create(
        &repos,
        "wrong",
        json!({"url": url, "interval": "10m", "insecure": true, "secretRef": {"name": "wrong"}}),
    )
    .await;
    let wrong = wait_condition(
        &repos,
        "wrong",
        "Ready",
        ConditionStatus::False,
        "AuthenticationFailed",
    )
    .await;
    let message = &condition(&wrong, "Ready").unwrap().message;
    assert!(message.contains("401 Unauthorized"), "{message}");
    assert!(!message.contains("nope"), "{message}");
    create(
        &repos,
        "tagged",
        json!({"url": format!("{url}:v1"), "interval": "10m", "insecure": true}),
    )
    .await;
    let tagged = wait_condition(
        &repos,
        "tagged",
        "Stalled",
        ConditionStatus::True,
        "URLInvalid",
    )
    .await;
    assert_eq!(
        condition(&tagged, "Ready").unwrap().message,
        format!("URL validation failed for '{url}:v1': URL must not contain a tag; remove ':v1'")
    );
    create(
        &repos,
        "missing",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "v9"}, "secretRef": {"name": "creds"}}),
    )
    .await;
    let missing = wait_condition(
        &repos,
        "missing",
        "Ready",
        ConditionStatus::False,
        "OCIArtifactPullFailed",
    )
    .await;
    let message = &condition(&missing, "Ready").unwrap().message;
    assert!(
        message.starts_with("failed to determine artifact digest: HEAD"),
        "{message}"
    );

    // Through a proxy (`proxySecretRef`): the same artifact, every request
    // tunnelled.
    let proxy = flux_testenv::HttpProxy::start(None).unwrap();
    let proxy_secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "proxy"},
        "stringData": {"address": proxy.url()},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &proxy_secret)
        .await
        .unwrap();
    create(
        &repos,
        "proxied",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "v1"}, "secretRef": {"name": "creds"}, "proxySecretRef": {"name": "proxy"}}),
    )
    .await;
    let proxied = wait_condition(
        &repos,
        "proxied",
        "Ready",
        ConditionStatus::True,
        "Succeeded",
    )
    .await;
    assert_eq!(
        proxied
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .revision,
        format!("v1@{v1}")
    );
    assert!(
        proxy
            .log()
            .contains(&format!("CONNECT {}", registry.host())),
        "{}",
        proxy.log()
    );
    create(
        &repos,
        "proxy-missing",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "v1"}, "proxySecretRef": {"name": "no-such-secret"}}),
    )
    .await;
    let missing = wait_condition(
        &repos,
        "proxy-missing",
        "Ready",
        ConditionStatus::False,
        "AuthenticationFailed",
    )
    .await;
    let message = &condition(&missing, "Ready").unwrap().message;
    assert!(
        message.starts_with("failed to get proxy address: failed to get secret"),
        "{message}"
    );

    // Deleting removes the artifacts.
    let dir = storage_root
        .path()
        .join(format!("ocirepository/{}/app", ns.name()));
    assert!(dir.is_dir());
    repos.delete("app", &DeleteParams::default()).await.unwrap();
    eventually("app deleted", || async {
        repos.get("app").await.is_err().then_some(())
    })
    .await;
    assert!(!dir.exists());
}

/// A layer whose tarball escapes the extraction folder, and one over the
/// size limit: clear errors, nothing written outside storage, the last good
/// artifact kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_layers_are_refused() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ocirepo-hostile").await.unwrap();
    let storage_root = start_controller(cp, &ns).await;
    let registry = OciRegistry::start().unwrap();
    let oci = Client::new(ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    })
    .unwrap();
    let host = registry.host();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("ok.yaml"), "kind: ConfigMap\n").unwrap();
    push(&oci, &format!("{host}/hostile:good"), src.path(), "r1").await;

    let repos: Api<OCIRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let url = format!("oci://{host}/hostile");
    create(
        &repos,
        "h",
        json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "good"}}),
    )
    .await;
    let good = wait_condition(&repos, "h", "Ready", ConditionStatus::True, "Succeeded").await;
    let good_artifact = good.status.unwrap().artifact.unwrap();

    // A tarball with `../escaped`.
    let mut raw = Vec::new();
    {
        let mut header = tar::Header::new_gnu();
        let name = b"../escaped.yaml";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(4);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            &mut raw,
            flate2::Compression::default(),
        ));
        builder.append(&header, &b"evil"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
    }
    let reference = Reference::parse(&format!("{host}/hostile:evil")).unwrap();
    artifact::push(
        &oci,
        &reference,
        Bytes::from(raw),
        CONTENT_MEDIA_TYPE,
        &Metadata::default(),
    )
    .await
    .unwrap();
    repos
        .patch(
            "h",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"ref": {"tag": "evil"}}})),
        )
        .await
        .unwrap();
    let failed = wait_condition(
        &repos,
        "h",
        "FetchFailed",
        ConditionStatus::True,
        "OCIArtifactLayerOperationFailed",
    )
    .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(
        message.starts_with("failed to extract layer contents from artifact"),
        "{message}"
    );
    assert_eq!(failed.status.unwrap().artifact.unwrap(), good_artifact);
    for dir in [std::env::temp_dir(), storage_root.path().to_path_buf()] {
        assert!(!dir.join("escaped.yaml").exists(), "{}", dir.display());
    }

    // A gzip bomb: 10 MiB of zeros in a small layer stops at the artifact
    // size limit (8 MiB here) while it is extracted.
    let bomb = tempfile::tempdir().unwrap();
    std::fs::write(bomb.path().join("zeros.bin"), vec![0u8; 10 << 20]).unwrap();
    push(&oci, &format!("{host}/hostile:bomb"), bomb.path(), "r2").await;
    retarget(&repos, "bomb").await;
    wait_message(&repos, "is bigger than max archive size of 8388608 bytes").await;

    // A layer over the limit is refused before it is downloaded.
    let big = tempfile::tempdir().unwrap();
    let mut noise = vec![0u8; 9 << 20];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").unwrap(),
        &mut noise,
    )
    .unwrap();
    std::fs::write(big.path().join("noise.bin"), noise).unwrap();
    push(&oci, &format!("{host}/hostile:big"), big.path(), "r3").await;
    retarget(&repos, "big").await;
    wait_message(&repos, "exceeds the limit of 8388608 bytes").await;
    let repo = repos.get("h").await.unwrap();
    assert_eq!(repo.status.unwrap().artifact.unwrap(), good_artifact);
}

async fn retarget(repos: &Api<OCIRepository>, tag: &str) {
    repos
        .patch(
            "h",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"ref": {"tag": tag}}})),
        )
        .await
        .unwrap();
}

async fn wait_message(repos: &Api<OCIRepository>, text: &str) {
    eventually(&format!("Ready message with '{text}'"), || async {
        let repo = repos.get("h").await.ok()?;
        let c = condition(&repo, "Ready")?;
        (c.status == ConditionStatus::False && c.message.contains(text)).then_some(())
    })
    .await;
}

async fn create_key_secret(secrets: &Api<Secret>, name: &str, data: serde_json::Value) {
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": name}, "stringData": data})).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

async fn wait_ready_message(api: &Api<OCIRepository>, name: &str, text: &str) -> OCIRepository {
    eventually(&format!("{name}: Ready=False with '{text}'"), || async {
        let repo = api.get(name).await.ok()?;
        let c = condition(&repo, "Ready")?;
        (c.status == ConditionStatus::False && c.message.contains(text)).then_some(repo)
    })
    .await
}

/// `spec.verify` with cosign public keys: artifacts signed by the real
/// `cosign` v3 (Sigstore bundles and simple signing) become Ready with
/// `SourceVerified`; unsigned, wrongly signed and keyless ones fail with
/// `VerificationError` and store nothing; signing later recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_signatures_are_verified() {
    use flux_testenv::{CosignFormat, CosignKey};
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ocisig").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controller(cp, &ns).await;
    let registry = OciRegistry::start().unwrap();
    let oci = Client::new(ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    })
    .unwrap();
    let host = registry.host();
    let key = CosignKey::generate().unwrap();
    let other = CosignKey::generate().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    // Two keys, the right one second: any `*.pub` entry may verify.
    create_key_secret(
        &secrets,
        "cosign-keys",
        json!({"other.pub": other.public_pem(), "cosign.pub": key.public_pem(), "README": "not a key"}),
    )
    .await;
    create_key_secret(
        &secrets,
        "wrong-key",
        json!({"cosign.pub": other.public_pem()}),
    )
    .await;
    create_key_secret(&secrets, "no-keys", json!({"notes.txt": "nothing"})).await;

    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("cm.yaml"), "kind: ConfigMap\n").unwrap();
    let bundled = push(&oci, &format!("{host}/app:bundled"), src.path(), "v1").await;
    std::fs::write(src.path().join("cm.yaml"), "kind: Secret\n").unwrap();
    let simple = push(&oci, &format!("{host}/app:simple"), src.path(), "v2").await;
    std::fs::write(src.path().join("cm.yaml"), "kind: Service\n").unwrap();
    let later = push(&oci, &format!("{host}/app:later"), src.path(), "v3").await;
    key.sign(&format!("{host}/app@{bundled}"), CosignFormat::Bundle)
        .unwrap();
    key.sign(&format!("{host}/app@{simple}"), CosignFormat::SimpleSigning)
        .unwrap();

    let repos: Api<OCIRepository> = Api::namespaced(client.clone(), ns.name());
    let url = format!("oci://{host}/app");
    let spec = |tag: &str, verify: serde_json::Value| json!({"url": url, "interval": "10m", "insecure": true, "ref": {"tag": tag}, "verify": verify});
    let with_keys = |secret: &str| json!({"provider": "cosign", "secretRef": {"name": secret}});
    for (name, tag, verify) in [
        ("bundled", "bundled", with_keys("cosign-keys")),
        ("simple", "simple", with_keys("cosign-keys")),
        ("later", "later", with_keys("cosign-keys")),
        ("wrong", "bundled", with_keys("wrong-key")),
        ("nokeys", "bundled", with_keys("no-keys")),
        ("keyless", "bundled", json!({"provider": "cosign"})),
    ] {
        create(&repos, name, spec(tag, verify)).await;
    }

    for (name, tag, digest) in [
        ("bundled", "bundled", &bundled),
        ("simple", "simple", &simple),
    ] {
        let repo = wait_condition(&repos, name, "Ready", ConditionStatus::True, "Succeeded").await;
        let verified = condition(&repo, "SourceVerified").unwrap();
        assert_eq!(verified.status, ConditionStatus::True);
        assert_eq!(verified.reason, "Succeeded");
        assert_eq!(
            verified.message,
            format!("verified signature of revision {tag}@{digest}")
        );
        assert_eq!(
            repo.status.unwrap().artifact.unwrap().revision,
            format!("{tag}@{digest}")
        );
    }

    let prefix = "failed to verify the signature using provider";
    for (name, text) in [
        (
            "later",
            format!(
                "{prefix} 'cosign': no matching signatures were found for '{host}/app:later': no signature found"
            ),
        ),
        (
            "wrong",
            format!(
                "{prefix} 'cosign': no matching signatures were found for '{host}/app:bundled': bundle 1: the signature does not verify with the public key"
            ),
        ),
        (
            "nokeys",
            format!(
                "{prefix} 'cosign': no public keys found in secret '{}/no-keys'",
                ns.name()
            ),
        ),
        (
            "keyless",
            format!("{prefix} 'cosign keyless': keyless verification needs"),
        ),
    ] {
        let repo = wait_ready_message(&repos, name, &text).await;
        let verified = condition(&repo, "SourceVerified").unwrap();
        assert_eq!(verified.status, ConditionStatus::False, "{name}");
        assert_eq!(verified.reason, "VerificationError", "{name}");
        assert!(
            verified.message.starts_with(&text),
            "{name}: {}",
            verified.message
        );
        assert_eq!(
            condition(&repo, "Ready").unwrap().reason,
            "VerificationError"
        );
        let status = repo.status.unwrap();
        assert!(
            status.artifact.is_none(),
            "{name} stored an unverified artifact"
        );
    }

    // Signed afterwards: the retry verifies it and stores the artifact.
    key.sign(&format!("{host}/app@{later}"), CosignFormat::Bundle)
        .unwrap();
    let repo = wait_condition(
        &repos,
        "later",
        "SourceVerified",
        ConditionStatus::True,
        "Succeeded",
    )
    .await;
    assert_eq!(
        repo.status.unwrap().artifact.map(|a| a.revision),
        Some(format!("later@{later}"))
    );

    // Verification turned off: the condition goes away.
    repos
        .patch(
            "wrong",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"verify": null}})),
        )
        .await
        .unwrap();
    eventually("wrong: Ready without SourceVerified", || async {
        let repo = repos.get("wrong").await.ok()?;
        let ready = condition(&repo, "Ready")?.status == ConditionStatus::True;
        (ready && condition(&repo, "SourceVerified").is_none()).then_some(())
    })
    .await;
}

/// `certSecretRef` with a client certificate against a registry that
/// demands one (Distribution's `tls.clientcas`): the pair is presented;
/// without it, or with a certificate of another CA, the handshake fails;
/// half a pair is refused with upstream's message before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_registries() {
    use flux_testenv::{RegistryTls, TestCa};
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("ocimtls").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controller(cp, &ns).await;
    let server_ca = TestCa::new("registry-ca").unwrap();
    let client_ca = TestCa::new("client-ca").unwrap();
    let stranger_ca = TestCa::new("stranger-ca").unwrap();
    let registry = OciRegistry::start_with_tls(&RegistryTls {
        server: server_ca.server_cert("registry", &["127.0.0.1"]).unwrap(),
        client_ca_pem: Some(client_ca.cert_pem()),
    })
    .unwrap();
    let flux = client_ca.client_cert("flux", &[]).unwrap();
    let stranger = stranger_ca.client_cert("flux", &[]).unwrap();
    let tls = |cert: &flux_testenv::CertifiedKey| flux_oci::http::Tls {
        ca_pem: Some(server_ca.cert_pem().into_bytes()),
        client: Some(flux_oci::http::ClientCertificate {
            cert_pem: cert.cert_pem.clone().into_bytes(),
            key_pem: cert.key_pem.clone().into_bytes(),
        }),
    };
    let oci = Client::new(ClientOptions {
        tls: tls(&flux),
        ..ClientOptions::default()
    })
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("cm.yaml"), "kind: ConfigMap\n").unwrap();
    let digest = push(
        &oci,
        &format!("{}/app:v1", registry.host()),
        src.path(),
        "v1",
    )
    .await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    for (name, data) in [
        (
            "mtls",
            json!({"ca.crt": server_ca.cert_pem(), "tls.crt": flux.cert_pem, "tls.key": flux.key_pem}),
        ),
        (
            "legacy",
            json!({"caFile": server_ca.cert_pem(), "certFile": flux.cert_pem, "keyFile": flux.key_pem}),
        ),
        ("ca-only", json!({"ca.crt": server_ca.cert_pem()})),
        (
            "stranger",
            json!({"ca.crt": server_ca.cert_pem(), "tls.crt": stranger.cert_pem, "tls.key": stranger.key_pem}),
        ),
        (
            "half",
            json!({"ca.crt": server_ca.cert_pem(), "tls.crt": flux.cert_pem}),
        ),
    ] {
        create_key_secret(&secrets, name, data).await;
    }
    let repos: Api<OCIRepository> = Api::namespaced(client.clone(), ns.name());
    let url = format!("oci://{}/app", registry.host());
    for name in ["mtls", "legacy", "ca-only", "stranger", "half"] {
        create(
            &repos,
            name,
            json!({"url": url, "interval": "10m", "ref": {"tag": "v1"}, "certSecretRef": {"name": name}}),
        )
        .await;
    }
    for name in ["mtls", "legacy"] {
        let repo = wait_condition(&repos, name, "Ready", ConditionStatus::True, "Succeeded").await;
        assert_eq!(
            repo.status.unwrap().artifact.unwrap().revision,
            format!("v1@{digest}")
        );
    }
    for name in ["ca-only", "stranger"] {
        let repo = wait_ready_message(&repos, name, "failed to determine artifact digest").await;
        println!("{name}: {}", condition(&repo, "Ready").unwrap().message);
        assert!(repo.status.unwrap().artifact.is_none(), "{name}");
    }
    let repo = wait_ready_message(
        &repos,
        "half",
        &format!(
            "secret '{}/half' contains 'tls.crt' but missing 'tls.key'",
            ns.name()
        ),
    )
    .await;
    assert_eq!(
        condition(&repo, "Ready").unwrap().reason,
        "AuthenticationFailed"
    );
    // The private key never reaches a condition.
    for name in ["mtls", "ca-only", "stranger", "half"] {
        let repo = repos.get(name).await.unwrap();
        let text = serde_json::to_string(&repo.status).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{name}: {text}");
    }
}
