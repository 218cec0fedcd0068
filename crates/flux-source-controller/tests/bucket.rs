//! The Bucket reconciler against a real API server and a real
//! S3-compatible server (versitygw, objects written through the S3 API).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{extract as fetch_artifact, files_of, manifests};

use std::time::Duration;

use flux_api::meta::ConditionStatus;
use flux_api::source::v1::Bucket;
use flux_artifact::Limits;
use flux_testenv::{AzureBlobServer, ControlPlane, GcsServer, S3Server, TestNamespace};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use sha2::{Digest as _, Sha256};

async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    flux_testenv::eventually(what, check).await.unwrap()
}

fn condition<'a>(bucket: &'a Bucket, kind: &str) -> Option<&'a flux_api::meta::Condition> {
    bucket
        .status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
}

async fn start_controller(cp: &ControlPlane, ns: &TestNamespace) -> tempfile::TempDir {
    common::start_controllers(cp, ns, |ctx| {
        ctx.artifact_limits = Limits {
            max_bytes: 1 << 20,
            max_entries: 10_000,
        };
    })
    .await
}

async fn create(api: &Api<Bucket>, name: &str, spec: serde_json::Value) {
    let object: Bucket = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "Bucket",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

async fn wait_ready_message(
    api: &Api<Bucket>,
    name: &str,
    status: ConditionStatus,
    reason: &str,
) -> Bucket {
    eventually(&format!("{name}: Ready={status:?} ({reason})"), || async {
        let b = api.get(name).await.ok()?;
        let c = condition(&b, "Ready")?;
        (c.status == status && c.reason == reason && c.observed_generation == b.metadata.generation)
            .then(|| b.clone())
    })
    .await
}

async fn wait_revision(api: &Api<Bucket>, name: &str, revision: &str) -> Bucket {
    eventually(&format!("{name} at {revision}"), || async {
        let b = api.get(name).await.ok()?;
        let artifact = b.status.as_ref()?.artifact.as_ref()?;
        let ready = condition(&b, "Ready")?;
        (artifact.revision == revision && ready.status == ConditionStatus::True).then(|| b.clone())
    })
    .await
}

/// The revision upstream computes: sha256 over the sorted "key etag\n"
/// lines, each key's ETag as `etag` gives it.
fn revision_over(keys: &[&str], etag: impl Fn(&str) -> String) -> String {
    let mut keys = keys.to_vec();
    keys.sort();
    let text: String = keys.iter().map(|k| format!("{k} {}\n", etag(k))).collect();
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The revision of `keys` of an S3 bucket (ETags without quotes).
fn revision_of(s3: &S3Server, bucket: &str, keys: &[&str]) -> String {
    revision_over(keys, |k| s3.etag(bucket, k).unwrap())
}

async fn secret(secrets: &Api<Secret>, name: &str, data: serde_json::Value) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": data,
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("bucket").await.unwrap();
    let client = cp.client().unwrap();
    let storage_root = start_controller(cp, &ns).await;
    let s3 = S3Server::start("flux-access", "flux-secret-key").unwrap();
    s3.create_bucket("fleet").unwrap();
    s3.put("fleet", "apps/cm.yaml", b"kind: ConfigMap\n")
        .unwrap();
    s3.put("fleet", "apps/README.md", b"# apps\n").unwrap();
    s3.put("fleet", "infra/ns.yaml", b"kind: Namespace\n")
        .unwrap();
    s3.put("fleet", "logo.png", b"\x89PNG").unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    secret(
        &secrets,
        "creds",
        json!({"accesskey": "flux-access", "secretkey": "flux-secret-key"}),
    )
    .await;
    secret(
        &secrets,
        "wrong",
        json!({"accesskey": "flux-access", "secretkey": "nope"}),
    )
    .await;
    secret(&secrets, "partial", json!({"accesskey": "flux-access"})).await;

    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    let endpoint = s3.endpoint();
    create(
        &buckets,
        "fleet",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}}),
    )
    .await;
    // No default exclusions for buckets (unlike Git): the image is kept.
    let expected = revision_of(
        &s3,
        "fleet",
        &[
            "apps/README.md",
            "apps/cm.yaml",
            "infra/ns.yaml",
            "logo.png",
        ],
    );
    let fleet = wait_revision(&buckets, "fleet", &expected).await;
    let ready = condition(&fleet, "Ready").unwrap();
    assert_eq!(ready.reason, "Succeeded");
    assert_eq!(
        ready.message,
        format!("stored artifact: revision '{expected}'")
    );
    let status = fleet.status.as_ref().unwrap();
    let artifact = status.artifact.as_ref().unwrap();
    assert_eq!(
        artifact.path,
        format!(
            "bucket/{}/fleet/{}.tar.gz",
            ns.name(),
            expected.trim_start_matches("sha256:")
        )
    );
    assert!(
        status
            .url
            .as_deref()
            .unwrap()
            .ends_with("/fleet/latest.tar.gz")
    );
    let content = fetch_artifact(artifact);
    assert_eq!(
        files_of(content.path()),
        [
            "apps/README.md",
            "apps/cm.yaml",
            "infra/ns.yaml",
            "logo.png"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(content.path().join("infra/ns.yaml")).unwrap(),
        "kind: Namespace\n"
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
        "stored artifact with 4 fetched files from 'fleet' bucket"
    );

    // A changed object and a .sourceignore at the bucket's root make a new
    // revision; the ignore file is not indexed, and the artifact holds it
    // (as upstream's).
    s3.put("fleet", ".sourceignore", b"*.md\n").unwrap();
    s3.put(
        "fleet",
        "infra/ns.yaml",
        b"kind: Namespace\nmetadata: {name: x}\n",
    )
    .unwrap();
    let expected = revision_of(&s3, "fleet", &["apps/cm.yaml", "infra/ns.yaml", "logo.png"]);
    request_reconcile(&buckets, "fleet", "1").await;
    let fleet = wait_revision(&buckets, "fleet", &expected).await;
    let content = fetch_artifact(fleet.status.as_ref().unwrap().artifact.as_ref().unwrap());
    assert_eq!(
        files_of(content.path()),
        [".sourceignore", "apps/cm.yaml", "infra/ns.yaml", "logo.png"]
    );

    // spec.prefix and spec.ignore: only infra/, keys kept whole.
    create(
        &buckets,
        "infra",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}, "prefix": "infra/", "ignore": "*.png\n"}),
    )
    .await;
    let expected = revision_of(&s3, "fleet", &["infra/ns.yaml"]);
    let infra = wait_revision(&buckets, "infra", &expected).await;
    assert_eq!(
        infra.status.as_ref().unwrap().observed_ignore.as_deref(),
        Some("*.png\n")
    );
    let content = fetch_artifact(infra.status.as_ref().unwrap().artifact.as_ref().unwrap());
    assert_eq!(files_of(content.path()), [".sourceignore", "infra/ns.yaml"]);

    // Refused credentials, incomplete Secret, missing bucket.
    create(
        &buckets,
        "wrong",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "wrong"}}),
    )
    .await;
    let wrong = wait_ready_message(
        &buckets,
        "wrong",
        ConditionStatus::False,
        "BucketOperationFailed",
    )
    .await;
    assert_eq!(
        condition(&wrong, "Ready").unwrap().message,
        "failed to confirm existence of 'fleet' bucket: The request signature we calculated does not match the signature you provided. Check your key and signing method."
    );
    assert_eq!(
        condition(&wrong, "FetchFailed").unwrap().status,
        ConditionStatus::True
    );
    create(
        &buckets,
        "partial",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "partial"}}),
    )
    .await;
    let partial = wait_ready_message(
        &buckets,
        "partial",
        ConditionStatus::False,
        "AuthenticationFailed",
    )
    .await;
    assert_eq!(
        condition(&partial, "Ready").unwrap().message,
        "invalid 'partial' secret data: required fields 'accesskey' and 'secretkey'"
    );
    create(
        &buckets,
        "missing",
        json!({"bucketName": "no-such-bucket", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}}),
    )
    .await;
    let missing = wait_ready_message(
        &buckets,
        "missing",
        ConditionStatus::False,
        "BucketOperationFailed",
    )
    .await;
    assert_eq!(
        condition(&missing, "Ready").unwrap().message,
        "bucket 'no-such-bucket' not found"
    );

    // Suspended: a new object is not picked up until resumed.
    patch_spec(&buckets, "fleet", json!({"suspend": true})).await;
    let before = buckets
        .get("fleet")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap()
        .revision;
    s3.put("fleet", "apps/new.yaml", b"kind: Secret\n").unwrap();
    request_reconcile(&buckets, "fleet", "2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        buckets
            .get("fleet")
            .await
            .unwrap()
            .status
            .unwrap()
            .artifact
            .unwrap()
            .revision,
        before
    );
    patch_spec(&buckets, "fleet", json!({"suspend": false})).await;
    let expected = revision_of(
        &s3,
        "fleet",
        &["apps/cm.yaml", "apps/new.yaml", "infra/ns.yaml", "logo.png"],
    );
    wait_revision(&buckets, "fleet", &expected).await;

    // A hung server: reported within spec.timeout, the artifact kept.
    patch_spec(&buckets, "fleet", json!({"timeout": "3s"})).await;
    wait_revision(&buckets, "fleet", &expected).await;
    s3.hang().unwrap();
    request_reconcile(&buckets, "fleet", "3").await;
    let hung = wait_ready_message(
        &buckets,
        "fleet",
        ConditionStatus::False,
        "BucketOperationFailed",
    )
    .await;
    let message = &condition(&hung, "Ready").unwrap().message;
    assert!(message.contains("timeout after 3s"), "{message}");
    assert_eq!(
        hung.status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .revision,
        expected
    );
    s3.resume().unwrap();
    request_reconcile(&buckets, "fleet", "4").await;
    wait_revision(&buckets, "fleet", &expected).await;

    // Through an authenticating proxy (`proxySecretRef`): every request
    // tunnels through it; a wrong proxy password is reported.
    let proxy = flux_testenv::HttpProxy::start(Some(("proxy-user", "proxy-pass"))).unwrap();
    secret(
        &secrets,
        "proxy",
        json!({"address": proxy.url(), "username": "proxy-user", "password": "proxy-pass"}),
    )
    .await;
    secret(
        &secrets,
        "proxy-wrong",
        json!({"address": proxy.url(), "username": "proxy-user", "password": "nope"}),
    )
    .await;
    create(
        &buckets,
        "proxied",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}, "proxySecretRef": {"name": "proxy"}}),
    )
    .await;
    let proxied = wait_ready_message(&buckets, "proxied", ConditionStatus::True, "Succeeded").await;
    assert_eq!(
        proxied
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .revision,
        expected
    );
    assert!(
        proxy.log().contains(&format!("CONNECT {endpoint}")),
        "{}",
        proxy.log()
    );
    create(
        &buckets,
        "proxy-refused",
        json!({"bucketName": "fleet", "endpoint": endpoint, "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}, "proxySecretRef": {"name": "proxy-wrong"}}),
    )
    .await;
    let refused = wait_ready_message(
        &buckets,
        "proxy-refused",
        ConditionStatus::False,
        "BucketOperationFailed",
    )
    .await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.contains("failed to confirm existence of 'fleet' bucket"),
        "{message}"
    );

    // Deleting removes the artifacts.
    let dir = storage_root
        .path()
        .join(format!("bucket/{}/fleet", ns.name()));
    assert!(dir.is_dir());
    buckets
        .delete("fleet", &DeleteParams::default())
        .await
        .unwrap();
    eventually("fleet deleted", || async {
        buckets.get("fleet").await.is_err().then_some(())
    })
    .await;
    assert!(!dir.exists());
}

/// Objects over the artifact limit: a clear error, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_buckets_are_refused() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("bucket-limits").await.unwrap();
    let client = cp.client().unwrap();
    let storage_root = start_controller(cp, &ns).await;
    let s3 = S3Server::start("flux-access", "flux-secret-key").unwrap();
    s3.create_bucket("big").unwrap();
    // Two objects that together exceed the 1 MiB limit of the test context.
    s3.put("big", "a.bin", &vec![7u8; 700 << 10]).unwrap();
    s3.put("big", "b.bin", &vec![8u8; 700 << 10]).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    secret(
        &secrets,
        "creds",
        json!({"accesskey": "flux-access", "secretkey": "flux-secret-key"}),
    )
    .await;
    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    create(
        &buckets,
        "big",
        json!({"bucketName": "big", "endpoint": s3.endpoint(), "insecure": true, "interval": "10m", "secretRef": {"name": "creds"}}),
    )
    .await;
    let big = wait_ready_message(
        &buckets,
        "big",
        ConditionStatus::False,
        "BucketOperationFailed",
    )
    .await;
    let message = &condition(&big, "Ready").unwrap().message;
    assert!(
        message.starts_with("fetch from bucket 'big' failed: failed to get '"),
        "{message}"
    );
    assert!(
        message.ends_with("exceed the limit of 1048576 bytes"),
        "{message}"
    );
    assert!(big.status.as_ref().unwrap().artifact.is_none());
    assert!(
        !storage_root
            .path()
            .join(format!("bucket/{}/big", ns.name()))
            .exists()
    );
}

async fn patch_spec(api: &Api<Bucket>, name: &str, spec: serde_json::Value) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": spec})),
    )
    .await
    .unwrap();
}

async fn request_reconcile(api: &Api<Bucket>, name: &str, token: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
        ),
    )
    .await
    .unwrap();
}

/// The objects of the azure and gcp tests: nested names, one that needs
/// encoding, and a `.sourceignore` leaving out the notes.
const FLEET_OBJECTS: [(&str, &str); 5] = [
    ("apps/cm.yaml", "kind: ConfigMap\n"),
    ("apps/a b+c&d.yaml", "kind: Secret\n"),
    ("infra/ns.yaml", "kind: Namespace\n"),
    ("infra/notes.md", "# notes\n"),
    (".sourceignore", "*.md\n"),
];

/// The revision of `names` of an Azure container (ETags quoted, as Get Blob
/// returns them).
fn azure_revision(azure: &AzureBlobServer, container: &str, names: &[&str]) -> String {
    revision_over(names, |n| azure.etag(container, n).unwrap())
}

/// `provider: azure` against Microsoft's Azurite emulator, blobs written by
/// Microsoft's SDK: an account key and a SAS token read the container
/// (prefix, `.sourceignore`, names that need encoding); a new blob is a
/// new revision; a wrong key, a missing container, a Secret without usable
/// fields and Entra credentials fail with precise messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_buckets() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("azure").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controller(cp, &ns).await;
    let azure = AzureBlobServer::start().unwrap();
    azure.create_container("fleet").unwrap();
    for (name, content) in FLEET_OBJECTS {
        azure.put("fleet", name, content.as_bytes()).unwrap();
    }
    let sas = azure.container_sas("fleet").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    secret(&secrets, "key", json!({"accountKey": azure.account_key()})).await;
    secret(&secrets, "sas", json!({"sasKey": format!("?{sas}")})).await;
    secret(
        &secrets,
        "wrong",
        json!({"accountKey": "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="}),
    )
    .await;
    secret(
        &secrets,
        "entra",
        json!({"tenantId": "t", "clientId": "c", "clientSecret": "s"}),
    )
    .await;
    secret(&secrets, "unusable", json!({"accesskey": "x"})).await;

    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    let spec = |container: &str, secret: Option<&str>, prefix: Option<&str>| {
        let mut spec = json!({"provider": "azure", "bucketName": container,
                              "endpoint": azure.endpoint(), "interval": "10m"});
        if let Some(s) = secret {
            spec["secretRef"] = json!({"name": s});
        }
        if let Some(p) = prefix {
            spec["prefix"] = json!(p);
        }
        spec
    };
    create(&buckets, "shared-key", spec("fleet", Some("key"), None)).await;
    create(&buckets, "sas", spec("fleet", Some("sas"), None)).await;
    create(
        &buckets,
        "prefix",
        spec("fleet", Some("key"), Some("apps/")),
    )
    .await;
    create(&buckets, "wrong", spec("fleet", Some("wrong"), None)).await;
    create(&buckets, "missing", spec("nope", Some("key"), None)).await;
    create(&buckets, "entra", spec("fleet", Some("entra"), None)).await;
    create(&buckets, "unusable", spec("fleet", Some("unusable"), None)).await;

    let everything = ["apps/cm.yaml", "apps/a b+c&d.yaml", "infra/ns.yaml"];
    let expected = azure_revision(&azure, "fleet", &everything);
    for name in ["shared-key", "sas"] {
        let bucket = wait_revision(&buckets, name, &expected).await;
        let content = fetch_artifact(bucket.status.unwrap().artifact.as_ref().unwrap());
        assert_eq!(
            files_of(content.path()),
            [
                ".sourceignore",
                "apps/a b+c&d.yaml",
                "apps/cm.yaml",
                "infra/ns.yaml"
            ],
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(content.path().join("apps/a b+c&d.yaml")).unwrap(),
            "kind: Secret\n"
        );
    }
    let apps = azure_revision(&azure, "fleet", &["apps/cm.yaml", "apps/a b+c&d.yaml"]);
    wait_revision(&buckets, "prefix", &apps).await;

    for (name, reason, text) in [
        (
            "wrong",
            "BucketOperationFailed",
            "failed to confirm existence of 'fleet' bucket: ",
        ),
        (
            "missing",
            "BucketOperationFailed",
            "bucket 'nope' not found",
        ),
        (
            "entra",
            "AuthenticationFailed",
            "failed to create token credential from 'entra' Secret: Microsoft Entra credentials",
        ),
        (
            "unusable",
            "AuthenticationFailed",
            "invalid 'unusable' secret data: requires a 'clientId' or 'accountKey' field",
        ),
    ] {
        let bucket = wait_ready_message(&buckets, name, ConditionStatus::False, reason).await;
        let message = &condition(&bucket, "Ready").unwrap().message;
        assert!(message.starts_with(text), "{name}: {message}");
        assert!(!message.contains(azure.account_key()), "{name}: {message}");
        assert!(bucket.status.unwrap().artifact.is_none(), "{name}");
    }

    // A new blob: a new revision.
    azure
        .put("fleet", "apps/svc.yaml", b"kind: Service\n")
        .unwrap();
    request_reconcile(&buckets, "shared-key", "azure-1").await;
    let expected = azure_revision(
        &azure,
        "fleet",
        &[
            "apps/cm.yaml",
            "apps/a b+c&d.yaml",
            "apps/svc.yaml",
            "infra/ns.yaml",
        ],
    );
    wait_revision(&buckets, "shared-key", &expected).await;
}

/// `provider: gcp` against fake-gcs-server (objects written through its
/// JSON API with curl): anonymous reads of the whole bucket and of a
/// prefix, revisions over the server's ETags, a new object a new
/// revision; a missing bucket and malformed `serviceaccount` Secrets fail
/// with upstream's messages; a well-formed key is exchanged at its
/// `token_uri` (here unreachable: the failure names it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_buckets() {
    use base64::Engine as _;
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests()).await.unwrap();
    let ns = cp.namespace("gcs").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = start_controller(cp, &ns).await;
    let gcs = GcsServer::start().unwrap();
    gcs.create_bucket("fleet").unwrap();
    for (name, content) in FLEET_OBJECTS {
        gcs.put("fleet", name, content.as_bytes()).unwrap();
    }
    let revision = |names: &[&str]| revision_over(names, |n| gcs.etag("fleet", n).unwrap());

    // A service account key whose token endpoint does not answer.
    let private =
        aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 =
        aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&private).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let key = json!({"type": "service_account", "client_email": "flux@p.iam.gserviceaccount.com",
                     "private_key": pem, "private_key_id": "k1",
                     "token_uri": "http://127.0.0.1:9/token"});
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    secret(&secrets, "sa", json!({"serviceaccount": key.to_string()})).await;
    secret(&secrets, "badjson", json!({"serviceaccount": "{not json"})).await;
    secret(&secrets, "nokey", json!({"accountKey": "x"})).await;

    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    let spec = |bucket: &str, secret: Option<&str>, prefix: Option<&str>| {
        let mut spec = json!({"provider": "gcp", "bucketName": bucket,
                              "endpoint": gcs.endpoint(), "interval": "10m"});
        if let Some(s) = secret {
            spec["secretRef"] = json!({"name": s});
        }
        if let Some(p) = prefix {
            spec["prefix"] = json!(p);
        }
        spec
    };
    create(&buckets, "anonymous", spec("fleet", None, None)).await;
    create(&buckets, "prefix", spec("fleet", None, Some("apps/"))).await;
    create(&buckets, "missing", spec("nope", None, None)).await;
    create(&buckets, "sa", spec("fleet", Some("sa"), None)).await;
    create(&buckets, "badjson", spec("fleet", Some("badjson"), None)).await;
    create(&buckets, "nokey", spec("fleet", Some("nokey"), None)).await;

    let everything = ["apps/cm.yaml", "apps/a b+c&d.yaml", "infra/ns.yaml"];
    let anonymous = wait_revision(&buckets, "anonymous", &revision(&everything)).await;
    let content = fetch_artifact(anonymous.status.unwrap().artifact.as_ref().unwrap());
    assert_eq!(
        files_of(content.path()),
        [
            ".sourceignore",
            "apps/a b+c&d.yaml",
            "apps/cm.yaml",
            "infra/ns.yaml"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(content.path().join("apps/a b+c&d.yaml")).unwrap(),
        "kind: Secret\n"
    );
    wait_revision(
        &buckets,
        "prefix",
        &revision(&["apps/cm.yaml", "apps/a b+c&d.yaml"]),
    )
    .await;

    for (name, reason, text) in [
        (
            "missing",
            "BucketOperationFailed",
            "bucket 'nope' not found".to_string(),
        ),
        (
            "sa",
            "AuthenticationFailed",
            "failed to get a Google access token from 'http://127.0.0.1:9/token': ".to_string(),
        ),
        (
            "badjson",
            "AuthenticationFailed",
            "invalid 'badjson' secret data: failed to parse 'serviceaccount' as JSON".to_string(),
        ),
        (
            "nokey",
            "AuthenticationFailed",
            "invalid 'nokey' secret data: required fields 'serviceaccount'".to_string(),
        ),
    ] {
        let bucket = wait_ready_message(&buckets, name, ConditionStatus::False, reason).await;
        let message = &condition(&bucket, "Ready").unwrap().message;
        assert!(message.starts_with(&text), "{name}: {message}");
        assert!(!message.contains("PRIVATE KEY"), "{name}: {message}");
    }

    gcs.put("fleet", "apps/svc.yaml", b"kind: Service\n")
        .unwrap();
    request_reconcile(&buckets, "anonymous", "gcs-1").await;
    let expected = revision(&[
        "apps/cm.yaml",
        "apps/a b+c&d.yaml",
        "apps/svc.yaml",
        "infra/ns.yaml",
    ]);
    wait_revision(&buckets, "anonymous", &expected).await;
}
