//! The generated CRDs on the real kube-apiserver: the committed manifests
//! are current, install cleanly, accept every seed example (strictly), apply
//! upstream's defaults, serve the older versions, and reject invalid objects
//! with the API server's own validation messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use flux_api::{from_yaml, kustomize, source};
use flux_testenv::ControlPlane;
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, ValidationDirective,
};
use serde_json::Value;

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds")
}

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// Parses strictly into the type of its kind and version, and back: every
/// field must survive.
fn typed_round_trip(doc: &Value) -> Result<(), String> {
    let typed = flux_api::FluxObject::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &back != doc {
        return Err(format!("round trip changed the object:\n{back}\n!=\n{doc}"));
    }
    Ok(())
}

fn resource(doc: &Value) -> ApiResource {
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap());
    let plural = flux_api::all_crds()
        .into_iter()
        .find(|c| c.group == gvk.group && c.kind == gvk.kind)
        .map(|c| c.plural)
        .unwrap_or_else(|| panic!("no CRD for {gvk:?}"));
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

/// Server-side applies `doc` into `namespace` with strict field validation.
async fn apply(
    cp: &ControlPlane,
    namespace: &str,
    doc: &Value,
) -> Result<DynamicObject, kube::Error> {
    let resource = resource(doc);
    let mut object: DynamicObject = serde_json::from_value(doc.clone()).unwrap();
    object.metadata.namespace = Some(namespace.to_string());
    let name = object.metadata.name.clone().unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(cp.client().unwrap(), namespace, &resource);
    let mut params = PatchParams::apply("flux-api-test").force();
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(&name, &params, &Patch::Apply(&object)).await
}

async fn control_plane_with_crds() -> &'static ControlPlane {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&manifests_dir())
        .await
        .expect("installing manifests/crds");
    cp
}

#[test]
fn committed_manifests_are_current() {
    for crd in flux_api::all_crds() {
        let file = manifests_dir().join(flux_api::crd::manifest_file_name(&crd));
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == crd.to_yaml().unwrap(),
            "{} is stale: run `cargo run -p flux-dev -- crds` and commit",
            file.display()
        );
    }
    let files = std::fs::read_dir(manifests_dir()).unwrap().count();
    assert_eq!(
        files,
        flux_api::all_crds().len(),
        "stale files in manifests/crds"
    );
}

#[tokio::test]
async fn seed_examples_parse_strictly_and_apply() {
    let cp = control_plane_with_crds().await;
    let ns = cp.namespace("seed").await.unwrap();
    let mut applied = 0;
    for (file, text) in fixtures("seed") {
        for doc in documents(&text) {
            typed_round_trip(&doc).unwrap_or_else(|e| panic!("{file}: {e}"));
            apply(cp, ns.name(), &doc)
                .await
                .unwrap_or_else(|e| panic!("{file}: {} rejected: {e}", doc["metadata"]["name"]));
            applied += 1;
        }
    }
    // The seed has 57 toolkit examples: 54 here (plus completed fragments
    // and older-version variants), 3 in `invalid/` as upstream refuses them.
    assert!(applied >= 54, "only {applied} seed examples applied");

    // Upstream's defaults, applied by the API server from our schema.
    let repos: Api<source::v1::GitRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let webapp = repos.get("webapp").await.unwrap();
    assert_eq!(webapp.spec.timeout.as_deref(), Some("60s"));
    assert_eq!(webapp.status.unwrap().observed_generation, Some(-1));
    let kustomizations: Api<kustomize::v1::Kustomization> =
        Api::namespaced(cp.client().unwrap(), ns.name());
    let apps = kustomizations.get("apps").await.unwrap();
    assert_eq!(apps.spec.depends_on[0].name, "infrastructure");
    assert!(!apps.spec.force);

    // Objects written as v1beta2 are read through the v1 storage version:
    // fields v1 does not have are gone, the rest is there.
    let legacy = repos.get("legacy").await.unwrap();
    assert_eq!(legacy.spec.url, "https://github.com/my-org/legacy.git");
    assert_eq!(
        legacy.spec.reference.unwrap().branch.as_deref(),
        Some("main")
    );
    let oci: Api<source::v1::OCIRepository> = Api::namespaced(cp.client().unwrap(), ns.name());
    let signed = oci.get("app-manifests-cosign").await.unwrap();
    assert_eq!(signed.spec.timeout.as_deref(), Some("60s"));
    assert_eq!(signed.spec.provider, Some(source::v1::OCIProvider::Generic));
    let legacy_ks = kustomizations.get("legacy").await.unwrap();
    assert!(legacy_ks.spec.prune);
}

/// The same manifests through our CRDs and through upstream's (on a second
/// control plane) come back identical: same defaults, same pruning.
#[tokio::test]
async fn defaults_and_pruning_match_upstream_crds() {
    let ours = control_plane_with_crds().await;
    let theirs = ControlPlane::start().expect("second control plane");
    let crds = common::upstream_crds()
        .into_values()
        .map(|crd| serde_json::from_value(crd).unwrap())
        .collect::<Vec<_>>();
    flux_testenv::install_crds(&theirs.client().unwrap(), &crds, Duration::from_secs(60))
        .await
        .expect("installing upstream's CRDs");
    let ns_ours = ours.namespace("defaults").await.unwrap();
    let ns_theirs = theirs.namespace("defaults").await.unwrap();
    let mut compared = 0;
    for (file, text) in fixtures("seed") {
        for doc in documents(&text) {
            let a = apply(ours, ns_ours.name(), &doc).await.unwrap();
            let b = apply(&theirs, ns_theirs.name(), &doc).await.unwrap();
            assert_eq!(
                a.data, b.data,
                "{file}: {} differs",
                doc["metadata"]["name"]
            );
            compared += 1;
        }
    }
    assert!(compared >= 54);
}

#[tokio::test]
async fn invalid_objects_are_rejected_with_the_api_server_message() {
    let cp = control_plane_with_crds().await;
    let ns = cp.namespace("invalid").await.unwrap();
    for (file, text) in fixtures("invalid") {
        let expected = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{file}: no `# expect:` line"));
        let doc = documents(&text).remove(0);
        match apply(cp, ns.name(), &doc).await {
            Ok(_) => panic!("{file}: accepted"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{file}: {e}\nexpected: {expected}"
            ),
        }
    }
}

#[test]
fn unknown_fields_are_named_with_their_path() {
    let err = from_yaml::<source::v1::GitRepository>(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: x}\nspec:\n  interval: 1m\n  url: https://x\n  ref:\n    brnch: main\n",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "unknown field \"spec.ref.brnch\"");
    let err = from_yaml::<kustomize::v1::Kustomization>(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x}\nspecs: {}\n",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "unknown field \"specs\"");
    let err = from_yaml::<kustomize::v1::Kustomization>(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x}\nspec: {interval: 1m, sourceRef: {kind: GitRepository, name: x}}\n",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "spec: missing field `prune`");
    let err = from_yaml::<kustomize::v1::Kustomization>(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: x}\nspec: {interval: 1m, prune: true, sourceRef: {kind: Git, name: x}}\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("spec.sourceRef.kind: unknown variant `Git`"),
        "{err}"
    );
}
