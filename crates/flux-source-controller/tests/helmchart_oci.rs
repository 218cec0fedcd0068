//! HelmCharts from OCI HelmRepositories and repository charts with values
//! files, against a real API server, a real registry (charts pushed by the
//! real `helm push`, htpasswd) and a real Helm repository.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::create;

use std::path::Path;

use flux_api::source::v1::{HelmChart, HelmRepository};
use flux_testenv::{ControlPlane, HelmRepoServer, OciRegistry};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

fn ready(chart: &HelmChart) -> Option<&flux_api::meta::Condition> {
    flux_runtime::conditions::get(&chart.status.as_ref()?.conditions, "Ready")
}

async fn wait_reason(api: &Api<HelmChart>, name: &str, reason: &str) -> HelmChart {
    let result = flux_testenv::eventually(&format!("{name}: {reason}"), || async {
        let c = api.get(name).await.ok()?;
        let r = ready(&c)?;
        (r.reason == reason && r.observed_generation == c.metadata.generation).then(|| c.clone())
    })
    .await;
    match result {
        Ok(c) => c,
        Err(e) => panic!("{e}: {:?}", api.get(name).await.map(|c| c.status)),
    }
}

fn chart_object(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
           "metadata": {"name": name}, "spec": spec})
}

fn fetch(chart: &HelmChart) -> Vec<u8> {
    common::download(
        &chart
            .status
            .as_ref()
            .unwrap()
            .artifact
            .as_ref()
            .unwrap()
            .url,
    )
}

/// Packages a minimal chart with the real `helm package`.
fn package(dir: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let sources = dir.join(format!("src-{version}"));
    let chart = flux_testenv::write_chart(&sources, name, version).unwrap();
    std::fs::write(chart.join("values-extra.yaml"), "greeting: bonjour\n").unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    flux_testenv::run(
        flux_testenv::helm_command(dir)
            .unwrap()
            .arg("package")
            .arg(&chart)
            .arg("--destination")
            .arg(&out),
    )
    .unwrap();
    out.join(format!("{name}-{version}.tgz"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_from_oci_repositories_and_values_files() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("chart-oci").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = common::start_controllers(cp, &ns, |_| {}).await;
    let work = tempfile::tempdir().unwrap();

    let registry = OciRegistry::start_with_basic_auth("flux", "s3cret").unwrap();
    let mut archives = std::collections::BTreeMap::new();
    for version in ["1.0.0", "1.2.0", "2.0.0-rc.1"] {
        let archive = package(work.path(), "web", version);
        registry.push_helm_chart(&archive, "charts").unwrap();
        archives.insert(version, std::fs::read(&archive).unwrap());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    for (name, password) in [("creds", "s3cret"), ("wrong", "nope")] {
        create(
            &secrets,
            json!({"metadata": {"name": name},
                   "stringData": {"username": "flux", "password": password}}),
        )
        .await;
    }
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    for (name, secret) in [("oci", "creds"), ("oci-wrong", "wrong")] {
        create(
            &repos,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                   "metadata": {"name": name},
                   "spec": {"type": "oci", "url": format!("oci://{}/charts", registry.host()),
                            "insecure": true, "interval": "10m", "secretRef": {"name": secret}}}),
        )
        .await;
    }
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    for (name, version, repo) in [
        ("latest", "", "oci"),
        ("one", "1.x", "oci"),
        ("exact", "1.0.0", "oci"),
        ("rc", ">=2.0.0-0", "oci"),
        ("none", "9.x", "oci"),
        ("refused", "1.x", "oci-wrong"),
    ] {
        create(
            &charts,
            chart_object(
                name,
                json!({"chart": "web", "version": version, "interval": "10m",
                       "sourceRef": {"kind": "HelmRepository", "name": repo}}),
            ),
        )
        .await;
    }
    for (name, version) in [
        ("latest", "1.2.0"),
        ("one", "1.2.0"),
        ("exact", "1.0.0"),
        ("rc", "2.0.0-rc.1"),
    ] {
        let chart = wait_reason(&charts, name, "ChartPullSucceeded").await;
        assert_eq!(
            ready(&chart).unwrap().message,
            format!("pulled 'web' chart with version '{version}'")
        );
        // Stored as pushed.
        assert_eq!(fetch(&chart), archives[version], "{name}");
    }
    let none = wait_reason(&charts, "none", "ChartPullError").await;
    assert_eq!(
        ready(&none).unwrap().message,
        "chart pull error: failed to get chart version for remote reference: could not locate a version matching provided version string 9.x"
    );
    let refused = wait_reason(&charts, "refused", "AuthenticationFailed").await;
    let message = &ready(&refused).unwrap().message;
    assert!(
        message.starts_with("chart pull error: failed to get chart version for remote reference: could not get tags for \"web\""),
        "{message}"
    );

    // Values files of a repository chart: files of the chart, merged, the
    // chart repackaged with the generation as build metadata.
    charts
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"valuesFiles": ["values.yaml", "values-extra.yaml"]}})),
        )
        .await
        .unwrap();
    let merged = wait_reason(&charts, "one", "ChartPackageSucceeded").await;
    assert_eq!(
        ready(&merged).unwrap().message,
        "packaged 'web' chart with version '1.2.0+2' and merged values files [values.yaml values-extra.yaml]"
    );
    let loaded = flux_helm::Chart::load_archive(&fetch(&merged)).unwrap();
    assert_eq!(loaded.metadata.version, "1.2.0+2");
    assert_eq!(loaded.values["greeting"], "bonjour");

    // The same from an HTTP repository; a missing file stalls.
    let helm = HelmRepoServer::start().unwrap();
    helm.add_chart(&flux_testenv::write_chart(&work.path().join("http"), "api", "0.3.0").unwrap())
        .unwrap();
    create(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "http"}, "spec": {"url": helm.url(), "interval": "10m"}}),
    )
    .await;
    create(
        &charts,
        chart_object(
            "api",
            json!({"chart": "api", "interval": "10m", "valuesFiles": ["values.yaml", "missing.yaml"],
                   "sourceRef": {"kind": "HelmRepository", "name": "http"}}),
        ),
    )
    .await;
    let api = wait_reason(&charts, "api", "ValuesFilesError").await;
    assert_eq!(
        ready(&api).unwrap().message,
        "values files merge error: failed to merge chart values: no values file found at path 'missing.yaml'"
    );
    charts
        .patch(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ignoreMissingValuesFiles": true}})),
        )
        .await
        .unwrap();
    // values.yaml over nothing is the chart's own values: nothing changes,
    // so no values files are reported; the version still carries the
    // generation.
    let api = wait_reason(&charts, "api", "ChartPackageSucceeded").await;
    assert_eq!(
        ready(&api).unwrap().message,
        "packaged 'api' chart with version '0.3.0+2'"
    );
}

/// `spec.verify` of OCI charts: a chart pushed by `helm push` and signed by
/// the real `cosign` verifies (`SourceVerified`); an unsigned version fails
/// the build with `ChartVerificationError` and stores nothing; a Secret
/// without keys fails the verification before anything is pulled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_oci_charts() {
    use flux_testenv::{CosignFormat, CosignKey};
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("chart-sig").await.unwrap();
    let client = cp.client().unwrap();
    let _storage = common::start_controllers(cp, &ns, |_| {}).await;
    let work = tempfile::tempdir().unwrap();
    let registry = OciRegistry::start().unwrap();
    let key = CosignKey::generate().unwrap();
    let mut archives = std::collections::BTreeMap::new();
    for version in ["1.0.0", "1.1.0"] {
        let archive = package(work.path(), "web", version);
        let (_, digest) = registry.push_helm_chart(&archive, "charts").unwrap();
        if version == "1.0.0" {
            let signed = format!("{}/charts/web@{digest}", registry.host());
            key.sign(&signed, CosignFormat::Bundle).unwrap();
        }
        archives.insert(version, std::fs::read(&archive).unwrap());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    create(
        &secrets,
        json!({"metadata": {"name": "cosign"}, "stringData": {"cosign.pub": key.public_pem()}}),
    )
    .await;
    create(
        &secrets,
        json!({"metadata": {"name": "empty"}, "stringData": {"key": "value"}}),
    )
    .await;
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    create(
        &repos,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "oci"},
               "spec": {"type": "oci", "url": format!("oci://{}/charts", registry.host()),
                        "insecure": true, "interval": "10m"}}),
    )
    .await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    for (name, version, secret) in [
        ("signed", "1.0.0", "cosign"),
        ("unsigned", "1.1.0", "cosign"),
        ("nokeys", "1.0.0", "empty"),
    ] {
        create(
            &charts,
            chart_object(
                name,
                json!({"chart": "web", "version": version, "interval": "10m",
                       "sourceRef": {"kind": "HelmRepository", "name": "oci"},
                       "verify": {"provider": "cosign", "secretRef": {"name": secret}}}),
            ),
        )
        .await;
    }
    let condition = |chart: &HelmChart, kind: &str| {
        flux_runtime::conditions::get(&chart.status.as_ref().unwrap().conditions, kind).cloned()
    };
    let signed = wait_reason(&charts, "signed", "ChartPullSucceeded").await;
    let verified = condition(&signed, "SourceVerified").unwrap();
    assert_eq!(
        (verified.reason.as_str(), verified.message.as_str()),
        ("Succeeded", "verified signature of version 1.0.0")
    );
    assert_eq!(fetch(&signed), archives["1.0.0"]);

    let unsigned = wait_reason(&charts, "unsigned", "ChartVerificationError").await;
    let expected = format!(
        "chart verification error: failed to verify oci://{}/charts/web:1.1.0: no matching signatures: no signature found",
        registry.host()
    );
    for kind in ["Ready", "BuildFailed", "SourceVerified"] {
        let c = condition(&unsigned, kind).unwrap();
        assert!(c.message.starts_with(&expected), "{kind}: {}", c.message);
    }
    assert_eq!(
        condition(&unsigned, "SourceVerified").unwrap().reason,
        "VerificationError"
    );
    assert!(unsigned.status.unwrap().artifact.is_none());

    let nokeys = wait_reason(&charts, "nokeys", "VerificationError").await;
    assert_eq!(
        ready(&nokeys).unwrap().message,
        format!(
            "failed to verify the signature using provider 'cosign': no public keys found in secret '{}/empty'",
            ns.name()
        )
    );
}
