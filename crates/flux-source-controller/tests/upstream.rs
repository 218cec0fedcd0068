//! Ours and upstream's source-controller (built from the Go module proxy by
//! `scripts/install-upstream-source-controller.sh`) side by side on the
//! same objects, each in its own namespace of one API server: the same
//! revisions, the same artifact digests and sizes, the same Ready messages
//! — for GitRepositories, OCIRepositories, HelmRepositories (indexes
//! from the real `helm repo index`, a hand-written one with what real
//! indexes hold, and a JSON one), HelmCharts and Buckets (a real
//! S3-compatible server; their failures too: the same reasons and
//! messages).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use bytes::Bytes;
use flux_api::meta::ConditionStatus;
use flux_api::source::v1::{Bucket, GitRepository, HelmChart, HelmRepository, OCIRepository};
use flux_artifact::{Retention, Storage};
use flux_oci::artifact::{self, CONTENT_MEDIA_TYPE, Metadata};
use flux_oci::{Client, ClientOptions, Reference};
use flux_source_controller::{Context, run, server::serve_storage};
use flux_testenv::{
    ControlPlane, GitHttpServer, HelmRepoServer, OciRegistry, S3Server, UpstreamController,
};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

fn start_upstream(cp: &ControlPlane, namespace: &str, storage: &Path) -> UpstreamController {
    std::fs::create_dir_all(storage.join("data")).unwrap();
    let storage_addr = format!("127.0.0.1:{}", flux_testenv::free_port().unwrap());
    UpstreamController::start(
        cp,
        "source-controller-upstream",
        namespace,
        &storage.join("controller.log"),
        &[
            format!("--storage-path={}", storage.join("data").display()),
            format!("--storage-addr={storage_addr}"),
            format!("--storage-adv-addr={storage_addr}"),
        ],
    )
    .expect("upstream source-controller (scripts/install-deps.sh)")
}

async fn start_ours(cp: &ControlPlane, namespace: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_storage(root.path().to_path_buf(), listener));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let ctx = Context::new(cp.client().unwrap(), storage);
    let namespace = namespace.to_string();
    tokio::spawn(async move { run(ctx, Some(&namespace)).await });
    root
}

async fn ready<K>(api: &Api<K>, name: &str) -> K
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Conditions,
{
    let result = flux_testenv::eventually(&format!("{name} Ready"), || async {
        let object = api.get(name).await.ok()?;
        let ready = object
            .ready()
            .is_some_and(|c| c.status == ConditionStatus::True);
        // Upstream's HelmRepository is briefly Ready before its artifact.
        (ready && object.artifact().is_some()).then_some(object)
    })
    .await;
    match result {
        Ok(object) => object,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.map(|o| o.ready().cloned())),
    }
}

/// The object once it failed (Ready=False for another reason than
/// progress).
async fn failed<K>(api: &Api<K>, name: &str) -> K
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Conditions,
{
    let result = flux_testenv::eventually(&format!("{name} failed"), || async {
        let object = api.get(name).await.ok()?;
        object
            .ready()
            .is_some_and(|c| c.status == ConditionStatus::False && c.reason != "Progressing")
            .then_some(object)
    })
    .await;
    match result {
        Ok(object) => object,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.map(|o| o.ready().cloned())),
    }
}

trait Conditions {
    fn ready(&self) -> Option<&flux_api::meta::Condition>;
    fn artifact(&self) -> Option<&flux_api::meta::Artifact>;
}

impl Conditions for GitRepository {
    fn ready(&self) -> Option<&flux_api::meta::Condition> {
        let s = self.status.as_ref()?;
        flux_runtime::conditions::get(&s.conditions, "Ready")
    }
    fn artifact(&self) -> Option<&flux_api::meta::Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Conditions for HelmRepository {
    fn ready(&self) -> Option<&flux_api::meta::Condition> {
        let s = self.status.as_ref()?;
        flux_runtime::conditions::get(&s.conditions, "Ready")
    }
    fn artifact(&self) -> Option<&flux_api::meta::Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Conditions for HelmChart {
    fn ready(&self) -> Option<&flux_api::meta::Condition> {
        let s = self.status.as_ref()?;
        flux_runtime::conditions::get(&s.conditions, "Ready")
    }
    fn artifact(&self) -> Option<&flux_api::meta::Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Conditions for Bucket {
    fn ready(&self) -> Option<&flux_api::meta::Condition> {
        let status = self.status.as_ref()?;
        flux_runtime::conditions::get(&status.conditions, "Ready")
    }
    fn artifact(&self) -> Option<&flux_api::meta::Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Conditions for OCIRepository {
    fn ready(&self) -> Option<&flux_api::meta::Condition> {
        let s = self.status.as_ref()?;
        flux_runtime::conditions::get(&s.conditions, "Ready")
    }
    fn artifact(&self) -> Option<&flux_api::meta::Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

fn tree(repo: &flux_testenv::GitRepo) {
    repo.write("apps/web/deploy.yaml", "kind: Deployment\n")
        .unwrap();
    repo.write("apps/web/kustomization.yaml", "resources: [deploy.yaml]\n")
        .unwrap();
    repo.write("infra/big.yaml", "x: y\n".repeat(40_000))
        .unwrap();
    repo.write("logo.png", "not really a png").unwrap();
    repo.write(".sourceignore", "docs/\n").unwrap();
    repo.write("docs/readme.md", "ignored\n").unwrap();
    repo.write(
        &format!("{}/{}.yaml", "nested".repeat(16), "deep".repeat(10)),
        "kind: ConfigMap\n",
    )
    .unwrap();
    repo.write("scripts/run.sh", "#!/bin/sh\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(repo.work_path().join("scripts/run.sh"))
        .status()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_and_digests_equal_upstreams() {
    // Upstream names its temporary folder (`stat /tmp/helmchart-…/
    // source/charts/none`); ours, deliberately, the path in the source
    // only.
    let temporary = regex::Regex::new(r"/tmp/[^ ]*/source/").unwrap();
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ours_ns = cp.namespace("diff-ours").await.unwrap();
    let theirs_ns = cp.namespace("diff-theirs").await.unwrap();
    let _ours = start_ours(cp, ours_ns.name()).await;
    let theirs_dir = tempfile::tempdir().unwrap();
    let _theirs = start_upstream(cp, theirs_ns.name(), theirs_dir.path());

    let git = GitHttpServer::start().unwrap();
    let repo = git.create_repo("fleet").unwrap();
    tree(&repo);
    repo.commit("a tree with every kind of entry").unwrap();

    let registry = OciRegistry::start().unwrap();
    let oci = Client::new(ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    })
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("apps")).unwrap();
    std::fs::write(src.path().join("apps/cm.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(src.path().join("logo.png"), "png").unwrap();
    let mut layer = Vec::new();
    artifact::build_layer(src.path(), &[], &mut layer).unwrap();
    let reference = Reference::parse(&format!("{}/fleet:v1.0.0", registry.host())).unwrap();
    let metadata = Metadata {
        source: "https://example.com/fleet".into(),
        revision: "main@sha1:abc".into(),
        ..Metadata::default()
    };
    artifact::push(
        &oci,
        &reference,
        Bytes::from(layer),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .unwrap();
    // The same tree signed by the real `cosign` in the format upstream's
    // cosign v2 library reads (simple signing), and an unsigned twin.
    let key = flux_testenv::CosignKey::generate().unwrap();
    for (tag, sign) in [("signed", true), ("unsigned", false)] {
        let mut layer = Vec::new();
        artifact::build_layer(src.path(), &[], &mut layer).unwrap();
        let reference = Reference::parse(&format!("{}/verify:{tag}", registry.host())).unwrap();
        // Distinct revisions: distinct manifests, not one digest twice.
        let metadata = Metadata {
            revision: format!("{tag}@sha1:abc"),
            ..metadata.clone()
        };
        let digest = artifact::push(
            &oci,
            &reference,
            Bytes::from(layer),
            CONTENT_MEDIA_TYPE,
            &metadata,
        )
        .await
        .unwrap();
        if sign {
            key.sign(
                &format!("{}/verify@{digest}", registry.host()),
                flux_testenv::CosignFormat::SimpleSigning,
            )
            .unwrap();
        }
    }

    // Helm repositories: one indexed by the real `helm repo index`, one
    // written by hand with what real indexes hold (maintainers,
    // dependencies, annotations, times with offsets, unsorted and invalid
    // versions, a JSON index).
    let helm = HelmRepoServer::start().unwrap();
    for (name, version) in [("web", "1.0.0"), ("web", "1.2.0"), ("api", "0.1.0")] {
        helm.add_simple_chart(name, version).unwrap();
    }
    let crafted = HelmRepoServer::start().unwrap();
    std::fs::write(crafted.root().join("index.yaml"), CRAFTED_INDEX).unwrap();
    let json = HelmRepoServer::start().unwrap();
    std::fs::write(
        json.root().join("index.yaml"),
        r#"{"apiVersion":"v1","entries":{"x":[{"name":"x","version":"1.0.0","urls":["x-1.0.0.tgz"],"created":"2020-05-06T07:08:09.1+01:00","Digest":"abc","custom":1}]},"generated":"2020-05-06T07:08:09Z"}"#,
    )
    .unwrap();

    // A bucket with folder markers, nested keys, keys that need encoding,
    // a .sourceignore and an image (no default exclusions for buckets).
    let s3 = S3Server::start("flux-access", "flux-secret-key").unwrap();
    s3.create_bucket("fleet").unwrap();
    for (key, content) in [
        ("apps/cm.yaml", "kind: ConfigMap\n"),
        ("apps/a b+c&d.yaml", "kind: Secret\n"),
        ("infra/ns.yaml", "kind: Namespace\n"),
        ("infra/notes.md", "# notes\n"),
        ("logo.png", "png"),
        (".sourceignore", "*.md\n"),
    ] {
        s3.put("fleet", key, content.as_bytes()).unwrap();
    }

    // Charts in Git: a folder with a local dependency, values files.
    let charts_repo = git.create_repo("charts").unwrap();
    for (path, text) in [
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: common\n  version: \">=1.0.0\"\n  repository: file://../common\n",
        ),
        ("charts/app/values.yaml", "replicas: 1\n"),
        ("charts/app/values-prod.yaml", "replicas: 3\n"),
        (
            "charts/app/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
        ),
        (
            "charts/common/Chart.yaml",
            "apiVersion: v2\nname: common\nversion: 1.2.0\n",
        ),
    ] {
        charts_repo.write(path, text).unwrap();
    }
    charts_repo.commit("charts").unwrap();
    // A packaged chart in the bucket: stored as it is by both.
    s3.put(
        "fleet",
        "charts/web-1.2.0.tgz",
        &std::fs::read(helm.root().join("web-1.2.0.tgz")).unwrap(),
    )
    .unwrap();

    // Charts in an OCI registry, pushed by the real `helm push`.
    registry
        .push_helm_chart(&helm.root().join("web-1.0.0.tgz"), "charts")
        .unwrap();
    registry
        .push_helm_chart(&helm.root().join("web-1.2.0.tgz"), "charts")
        .unwrap();

    let mut results = Vec::new();
    for ns in [ours_ns.name(), theirs_ns.name()] {
        let helms: Api<HelmRepository> = Api::namespaced(cp.client().unwrap(), ns);
        let object: HelmRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "oci-charts"},
            "spec": {"type": "oci", "url": format!("oci://{}/charts", registry.host()),
                     "insecure": true, "interval": "10m"},
        }))
        .unwrap();
        helms.create(&PostParams::default(), &object).await.unwrap();
        let charts: Api<HelmChart> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, spec) in [
            (
                "oci-web",
                json!({"chart": "web", "version": "1.x", "sourceRef": {"kind": "HelmRepository", "name": "oci-charts"}}),
            ),
            (
                "oci-none",
                json!({"chart": "web", "version": "7.x", "sourceRef": {"kind": "HelmRepository", "name": "oci-charts"}}),
            ),
            (
                "web-values",
                json!({"chart": "web", "valuesFiles": ["values.yaml", "missing.yaml"], "ignoreMissingValuesFiles": true,
                                  "sourceRef": {"kind": "HelmRepository", "name": "helm"}}),
            ),
            (
                "web-missing",
                json!({"chart": "web", "valuesFiles": ["missing.yaml"], "sourceRef": {"kind": "HelmRepository", "name": "helm"}}),
            ),
        ] {
            let mut full = json!({"interval": "10m"});
            for (k, v) in spec.as_object().unwrap() {
                full[k] = v.clone();
            }
            let object: HelmChart = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": name}, "spec": full,
            }))
            .unwrap();
            charts
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
        let gits: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns);
        let object: GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "charts"},
            "spec": {"url": charts_repo.url(), "interval": "10m", "ref": {"branch": "main"}},
        }))
        .unwrap();
        gits.create(&PostParams::default(), &object).await.unwrap();
        let charts: Api<HelmChart> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, spec) in [
            ("local", json!({"chart": "./charts/app"})),
            (
                "local-values",
                json!({"chart": "charts/app", "valuesFiles": ["charts/app/values.yaml", "charts/app/values-prod.yaml"]}),
            ),
            (
                "local-revision",
                json!({"chart": "charts/app", "reconcileStrategy": "Revision", "valuesFiles": ["charts/app/values-prod.yaml"]}),
            ),
            (
                "local-missing",
                json!({"chart": "charts/app", "valuesFiles": ["charts/app/nope.yaml"]}),
            ),
            ("local-nowhere", json!({"chart": "charts/none"})),
        ] {
            let mut full = json!({"interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "charts"}});
            for (k, v) in spec.as_object().unwrap() {
                full[k] = v.clone();
            }
            let object: HelmChart = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": name}, "spec": full,
            }))
            .unwrap();
            charts
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
        let object: HelmChart = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
            "metadata": {"name": "from-bucket"},
            "spec": {"chart": "charts/web-1.2.0.tgz", "interval": "10m",
                     "sourceRef": {"kind": "Bucket", "name": "bucket"}},
        }))
        .unwrap();
        charts
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
    }
    for ns in [ours_ns.name(), theirs_ns.name()] {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(cp.client().unwrap(), ns);
        for (name, data) in [
            (
                "s3",
                json!({"accesskey": "flux-access", "secretkey": "flux-secret-key"}),
            ),
            (
                "s3-wrong",
                json!({"accesskey": "flux-access", "secretkey": "nope"}),
            ),
            ("s3-partial", json!({"secretkey": "x"})),
        ] {
            let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
                "metadata": {"name": name}, "stringData": data,
            }))
            .unwrap();
            secrets
                .create(&PostParams::default(), &secret)
                .await
                .unwrap();
        }
        let buckets: Api<Bucket> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, spec) in [
            ("bucket", json!({})),
            (
                "bucket-prefix",
                json!({"prefix": "infra", "ignore": "!*.md\n"}),
            ),
            ("bucket-wrong", json!({"secretRef": {"name": "s3-wrong"}})),
            (
                "bucket-partial",
                json!({"secretRef": {"name": "s3-partial"}}),
            ),
            ("bucket-missing", json!({"bucketName": "nothing-here"})),
        ] {
            let mut full = json!({"bucketName": "fleet", "endpoint": s3.endpoint(), "insecure": true,
                                  "interval": "10m", "secretRef": {"name": "s3"}});
            for (k, v) in spec.as_object().unwrap() {
                full[k] = v.clone();
            }
            let object: Bucket = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
                "metadata": {"name": name}, "spec": full,
            }))
            .unwrap();
            buckets
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
        let gits: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, spec) in [
            (
                "plain",
                json!({"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}}),
            ),
            (
                "ignore",
                json!({"url": repo.url(), "interval": "10m", "ref": {"branch": "main"}, "ignore": "/infra\n!logo.png\n"}),
            ),
        ] {
            let object: GitRepository = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": {"name": name}, "spec": spec,
            }))
            .unwrap();
            gits.create(&PostParams::default(), &object).await.unwrap();
        }
        let ocis: Api<OCIRepository> = Api::namespaced(cp.client().unwrap(), ns);
        let object: OCIRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "app"},
            "spec": {"url": format!("oci://{}/fleet", registry.host()), "interval": "10m",
                     "insecure": true, "ref": {"semver": ">=1.0.0"}},
        }))
        .unwrap();
        ocis.create(&PostParams::default(), &object).await.unwrap();
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(cp.client().unwrap(), ns);
        let secret = serde_json::from_value(json!({
            "metadata": {"name": "cosign"}, "stringData": {"cosign.pub": key.public_pem()},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        for tag in ["signed", "unsigned"] {
            let object: OCIRepository = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                "metadata": {"name": tag},
                "spec": {"url": format!("oci://{}/verify", registry.host()), "interval": "10m",
                         "insecure": true, "ref": {"tag": tag},
                         "verify": {"provider": "cosign", "secretRef": {"name": "cosign"}}},
            }))
            .unwrap();
            ocis.create(&PostParams::default(), &object).await.unwrap();
        }
        let helms: Api<HelmRepository> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, url) in [
            ("helm", helm.url()),
            ("crafted", crafted.url()),
            ("json", json.url()),
        ] {
            let object: HelmRepository = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": name},
                "spec": {"url": url, "interval": "10m"},
            }))
            .unwrap();
            helms.create(&PostParams::default(), &object).await.unwrap();
        }
        let charts: Api<HelmChart> = Api::namespaced(cp.client().unwrap(), ns);
        for (name, version) in [("web", "1.x"), ("web-latest", "*")] {
            let object: HelmChart = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": name},
                "spec": {"chart": "web", "version": version, "interval": "10m",
                         "sourceRef": {"kind": "HelmRepository", "name": "helm"}},
            }))
            .unwrap();
            charts
                .create(&PostParams::default(), &object)
                .await
                .unwrap();
        }
    }
    for ns in [ours_ns.name(), theirs_ns.name()] {
        let gits: Api<GitRepository> = Api::namespaced(cp.client().unwrap(), ns);
        let ocis: Api<OCIRepository> = Api::namespaced(cp.client().unwrap(), ns);
        let mut seen = Vec::new();
        for name in ["plain", "ignore"] {
            let object = ready(&gits, name).await;
            seen.push(summary(object.ready(), object.artifact()));
        }
        let object = ready(&ocis, "app").await;
        seen.push(summary(object.ready(), object.artifact()));
        // Signatures: the same SourceVerified; for the unsigned one the
        // same reason, upstream's message being the start of ours (which
        // says why nothing matched).
        let object = ready(&ocis, "signed").await;
        let verified = flux_runtime::conditions::get(
            &object.status.as_ref().unwrap().conditions,
            "SourceVerified",
        )
        .map(|c| (c.reason.clone(), c.message.clone()));
        seen.push((
            format!("{verified:?}"),
            object.artifact().unwrap().revision.clone(),
            String::new(),
            None,
            String::new(),
        ));
        let object = failed(&ocis, "unsigned").await;
        let r = object.ready().unwrap();
        let upstream_words = "failed to verify the signature using provider 'cosign': no matching signatures were found for";
        let shown = format!("'{}/verify:unsigned'", registry.host());
        assert!(
            r.message.starts_with(&format!("{upstream_words} {shown}")),
            "{}",
            r.message
        );
        seen.push((r.reason.clone(), shown, String::new(), None, String::new()));
        let helms: Api<HelmRepository> = Api::namespaced(cp.client().unwrap(), ns);
        for name in ["helm", "crafted", "json"] {
            let object = ready(&helms, name).await;
            seen.push(summary(object.ready(), object.artifact()));
        }
        let charts: Api<HelmChart> = Api::namespaced(cp.client().unwrap(), ns);
        for name in ["web", "web-latest"] {
            let object = ready(&charts, name).await;
            seen.push(summary(object.ready(), object.artifact()));
        }
        let buckets: Api<Bucket> = Api::namespaced(cp.client().unwrap(), ns);
        for name in ["bucket", "bucket-prefix"] {
            let object = ready(&buckets, name).await;
            seen.push(summary(object.ready(), object.artifact()));
        }
        for name in ["bucket-wrong", "bucket-partial", "bucket-missing"] {
            let object = failed(&buckets, name).await;
            let ready = object.ready().unwrap();
            seen.push((
                ready.reason.clone(),
                ready.message.clone(),
                String::new(),
                None,
                String::new(),
            ));
        }
        // Packaged charts carry the time of packaging: their reason,
        // message and revision must agree; a chart stored as it is, its
        // digest too.
        for name in ["local", "local-values", "local-revision"] {
            let object = ready(&charts, name).await;
            let r = object.ready().unwrap();
            let artifact = object.artifact().unwrap();
            seen.push((
                r.reason.clone(),
                r.message.clone(),
                artifact.revision.clone(),
                None,
                String::new(),
            ));
        }
        for name in ["local-missing", "local-nowhere"] {
            let object = failed(&charts, name).await;
            let r = object.ready().unwrap();
            let message = temporary.replace(&r.message, "/").into_owned();
            seen.push((
                r.reason.clone(),
                message,
                String::new(),
                None,
                String::new(),
            ));
        }
        let object = ready(&charts, "from-bucket").await;
        seen.push(summary(object.ready(), object.artifact()));
        // An OCI chart is stored as pulled: the same digest.
        let object = ready(&charts, "oci-web").await;
        seen.push(summary(object.ready(), object.artifact()));
        // Asked again: the rebuild-avoidance path (upstream then reports
        // every listed values file, missing ones included); the first
        // build's message depends on how often each side has run.
        ready(&charts, "web-values").await;
        charts
            .patch(
                "web-values",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}})),
            )
            .await
            .unwrap();
        let object = flux_testenv::eventually("web-values handled again", || async {
            let c = charts.get("web-values").await.ok()?;
            (c.status.as_ref()?.last_handled_reconcile_at.as_deref() == Some("again")).then_some(c)
        })
        .await
        .unwrap();
        let r = object.ready().unwrap();
        seen.push((
            r.reason.clone(),
            r.message.clone(),
            object.artifact().unwrap().revision.clone(),
            None,
            format!(
                "{:?}",
                object.status.as_ref().unwrap().observed_values_files
            ),
        ));
        for name in ["oci-none", "web-missing"] {
            let object = failed(&charts, name).await;
            let r = object.ready().unwrap();
            seen.push((
                r.reason.clone(),
                r.message.clone(),
                String::new(),
                None,
                String::new(),
            ));
        }
        results.push(seen);
    }
    let log = std::fs::read_to_string(theirs_dir.path().join("controller.log")).unwrap_or_default();
    for theirs in &results[1] {
        println!("upstream: {theirs:?}");
    }
    assert_eq!(results[0].len(), results[1].len());
    for (ours, theirs) in results[0].iter().zip(&results[1]) {
        assert_eq!(
            ours,
            theirs,
            "upstream's log:\n{}",
            &log[log.len().saturating_sub(3000)..]
        );
    }
}

/// What must be equal: the Ready message, revision, digest, size and
/// metadata of the artifact.
fn summary(
    ready: Option<&flux_api::meta::Condition>,
    artifact: Option<&flux_api::meta::Artifact>,
) -> (String, String, String, Option<i64>, String) {
    let artifact = artifact.unwrap();
    (
        ready.unwrap().message.clone(),
        artifact.revision.clone(),
        artifact.digest.clone(),
        artifact.size,
        format!("{:?}", artifact.metadata),
    )
}

const CRAFTED_INDEX: &str = r#"apiVersion: v1
entries:
  app:
  - apiVersion: v2
    appVersion: "1.16"
    created: "2024-03-01T10:00:00.123456+02:00"
    description: An app & <friends>
    digest: 1111111111111111111111111111111111111111111111111111111111111111
    name: app
    type: application
    urls:
    - https://charts.example.com/app-1.2.0.tgz
    version: 1.2.0
    maintainers:
    - name: Jane
      email: jane@example.com
    - name: Bob
    keywords: [web, demo]
    annotations:
      category: Web
      artifacthub.io/changes: |
        - kind: added
          description: something
    dependencies:
    - name: redis
      version: 17.x.x
      repository: https://charts.bitnami.com/bitnami
      condition: redis.enabled
    - name: common
      version: 2.x.x
      repository: oci://registry-1.docker.io/bitnamicharts
      tags: [bitnami-common]
  - apiVersion: v2
    created: "2023-01-01T00:00:00Z"
    name: app
    urls: [app-1.10.0.tgz]
    version: 1.10.0
  - name: app
    version: 0.9.0
    created: "2022-12-31T23:59:59.5-05:00"
    urls: [app-0.9.0.tgz]
    kubeVersion: ">=1.20.0-0"
    deprecated: true
  - name: app
    version: not-a-version
    urls: [app-bad.tgz]
  - name: app
    version: 2.0.0-rc.1
    urls: [app-2.0.0-rc.1.tgz]
    home: https://example.com
    sources: [https://github.com/example/app]
    icon: https://example.com/icon.png
  - name: app
    version: 1.3.0
    urls: [app-1.3.0.tgz]
    dependencies:
    - name: dup
      version: 1.0.0
    - name: dup
      version: 2.0.0
  zeta:
  - name: zeta
    version: 0.0.1
    urls: []
  empty: []
generated: "2024-03-02T00:00:00.000000001Z"
serverInfo:
  contextPath: /charts
  number: 2
"#;
