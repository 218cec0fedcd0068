//! `flux build helmrelease` (offline) and `flux diff helmrelease` (a
//! release installed by the real `helm`, edited in the cluster). Its own
//! control plane: the end-to-end test of `cli.rs` uninstalls the CRDs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::process::{Command, Output, Stdio};

use flux_testenv::ControlPlane;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

fn flux(kubeconfig: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flux"));
    match kubeconfig {
        Some(k) => command.env("KUBECONFIG", k),
        None => command.env("KUBECONFIG", "/nonexistent/kubeconfig"),
    };
    command.args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A chart of one ConfigMap of its values.
fn write_chart(dir: &Path) -> std::path::PathBuf {
    let chart = dir.join("web");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("values.yaml"),
        "greeting: hello\nreplicas: 1\ntier: {}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n  tier: {{ .Values.tier.name | default \"none\" | quote }}\n",
    )
    .unwrap();
    chart
}

#[test]
fn build_renders_what_the_controller_would_apply() {
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let file = dir.path().join("release.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  interval: 10m
  targetNamespace: prod
  chart:
    spec:
      chart: web
      sourceRef:
        kind: HelmRepository
        name: charts
  valuesFrom:
    - kind: ConfigMap
      name: web-values
    - kind: Secret
      name: web-tier
      valuesKey: tier
      targetPath: tier.name
  values:
    replicas: 3
  commonMetadata:
    labels:
      team: platform
  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: ConfigMap
            patch: |
              - op: add
                path: /data/patched
                value: "yes"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
  namespace: apps
data:
  values.yaml: |
    greeting: from-configmap
    replicas: 2
---
apiVersion: v1
kind: Secret
metadata:
  name: web-tier
  namespace: apps
stringData:
  tier: gold
"#,
    )
    .unwrap();
    let args = [
        "build",
        "helmrelease",
        "web",
        "--chart",
        chart.to_str().unwrap(),
        "--helmrelease-file",
        file.to_str().unwrap(),
        "--dry-run",
    ];
    let out = flux(None, &args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // The release name and namespace of the target namespace; valuesFrom in
    // order, then the inline values; the post-renderers, commonMetadata and
    // the origin labels.
    for line in [
        "  name: prod-web-config\n",
        "  namespace: prod\n",
        "  greeting: from-configmap\n",
        "  replicas: \"3\"\n",
        "  tier: gold\n",
        "  patched: \"yes\"\n",
        "    team: platform\n",
        "    helm.toolkit.fluxcd.io/name: web\n",
        "    helm.toolkit.fluxcd.io/namespace: apps\n",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(
        stdout.starts_with("---\n# Source: web/templates/config.yaml\n"),
        "{stdout}"
    );

    // A missing valuesFrom object: the controller's (upstream's) message.
    let broken = std::fs::read_to_string(&file)
        .unwrap()
        .replace("name: web-values\n  namespace", "name: other\n  namespace");
    std::fs::write(&file, broken).unwrap();
    let out = flux(None, &args);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("could not resolve ConfigMap chart values reference 'apps/web-values' with key 'values.yaml': configmaps \"web-values\" not found"),
        "{stderr}"
    );
    // Offline without the HelmRelease's file.
    let out = flux(
        None,
        &[
            "build",
            "hr",
            "web",
            "--chart",
            chart.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(text(&out).1.contains("--dry-run needs --helmrelease-file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_how_the_cluster_drifted_from_the_release() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("hr-diff").await.unwrap();
    let client = cp.client().unwrap();
    let kubeconfig = cp.kubeconfig_path();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    // Installed by the real helm, as a HelmRelease would have.
    let helm = flux_testenv::helm_command(dir.path())
        .unwrap()
        .env("KUBECONFIG", kubeconfig)
        .args(["install", "web"])
        .arg(&chart)
        .args(["--namespace", ns.name(), "--set", "greeting=hi"])
        .output()
        .unwrap();
    assert!(
        helm.status.success(),
        "{}",
        String::from_utf8_lossy(&helm.stderr)
    );
    let releases: Api<flux_api::helm::v2::HelmRelease> = Api::namespaced(client.clone(), ns.name());
    let hr = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web"},
        "spec": {
            "interval": "10m",
            "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
            "values": {"greeting": "hi"}
        }
    }))
    .unwrap();
    releases.create(&PostParams::default(), &hr).await.unwrap();
    let diff = ["diff", "helmrelease", "web", "-n", ns.name()];
    // The chart's HelmChart and HelmRepository, for `flux trace`.
    for object in [
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": ns.name()},
            "spec": {"url": "https://charts.example.com", "interval": "1h"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
            "metadata": {"name": format!("{}-web", ns.name()), "namespace": ns.name()},
            "spec": {"chart": "web", "version": "1.0.0", "interval": "1h",
                "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}),
    ] {
        let kind = object["kind"].as_str().unwrap();
        let resource = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "source.toolkit.fluxcd.io",
            "v1",
            kind,
        ));
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client.clone(), ns.name(), &resource);
        api.create(
            &PostParams::default(),
            &serde_json::from_value(object).unwrap(),
        )
        .await
        .unwrap();
    }
    // What the helm controller sets on what it releases.
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    configs
        .patch(
            "web-config",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {
                "helm.toolkit.fluxcd.io/name": "web",
                "helm.toolkit.fluxcd.io/namespace": ns.name()
            }}})),
        )
        .await
        .unwrap();

    // `flux tree` descends into the HelmRelease of a Kustomization's
    // inventory: the objects of its release, as upstream's `flux` prints.
    releases
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {
                "storageNamespace": ns.name(),
                "helmChart": format!("{0}/{0}-web", ns.name()),
                "lastAttemptedRevision": "1.0.0",
                "conditions": [{"type": "Ready", "status": "True", "reason": "InstallSucceeded",
                    "message": "Helm install succeeded", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "history": [{
                    "name": "web", "namespace": ns.name(), "version": 1, "status": "deployed",
                    "chartName": "web", "chartVersion": "1.0.0", "configDigest": "sha256:c",
                    "digest": "sha256:d", "firstDeployed": "2026-01-01T00:00:00Z",
                    "lastDeployed": "2026-01-01T00:00:00Z"
                }]
            }})),
        )
        .await
        .unwrap();
    let kustomizations: Api<flux_api::kustomize::v1::Kustomization> =
        Api::namespaced(client.clone(), ns.name());
    let k = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "10m", "prune": true, "path": "./",
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}}
    }))
    .unwrap();
    kustomizations
        .create(&PostParams::default(), &k)
        .await
        .unwrap();
    kustomizations
        .patch_status(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"inventory": {"entries": [
                {"id": format!("{}_web_helm.toolkit.fluxcd.io_HelmRelease", ns.name()), "v": "v2"}
            ]}}})),
        )
        .await
        .unwrap();
    let tree = ["tree", "kustomization", "apps", "-n", ns.name()];
    let ours = flux(Some(kubeconfig), &tree);
    let (stdout, stderr) = text(&ours);
    assert!(ours.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "Kustomization/{0}/apps\n└── HelmRelease/{0}/web\n    └── ConfigMap/{0}/web-config\n\n",
            ns.name()
        )
    );
    let upstream =
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)");
    let theirs = Command::new(upstream)
        .env("KUBECONFIG", kubeconfig)
        .args(tree)
        .output()
        .unwrap();
    assert_eq!(
        stdout,
        String::from_utf8_lossy(&theirs.stdout),
        "ours (left) and upstream's (right): {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    // `flux trace` of an object the HelmRelease released: the same report.
    let trace = [
        "trace",
        "web-config",
        "--kind=ConfigMap",
        "--api-version=v1",
        "-n",
        ns.name(),
    ];
    let ours = flux(Some(kubeconfig), &trace);
    let (stdout, stderr) = text(&ours);
    assert!(ours.status.success(), "{stderr}");
    assert!(stdout.contains("\nHelmRelease:    web\n"), "{stdout}");
    let theirs = Command::new(flux_testenv::tool("flux-upstream").unwrap())
        .env("KUBECONFIG", kubeconfig)
        .args(trace)
        .output()
        .unwrap();
    assert_eq!(
        stdout,
        String::from_utf8_lossy(&theirs.stdout),
        "ours (left) and upstream's (right): {}",
        String::from_utf8_lossy(&theirs.stderr)
    );

    let same = flux(Some(kubeconfig), &diff);
    let (stdout, stderr) = text(&same);
    assert_eq!(same.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "");

    // Edited in the cluster: the field, its cluster and release values.
    configs
        .patch(
            "web-config",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"greeting": "edited"}})),
        )
        .await
        .unwrap();
    let drift = flux(Some(kubeconfig), &diff);
    let (stdout, stderr) = text(&drift);
    assert_eq!(drift.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "► ConfigMap/{}/web-config changed (0 additions, 1 changes, 0 removals)\n  ~ /data/greeting: \"edited\" -> \"hi\"\n",
            ns.name()
        )
    );
    assert!(
        stderr.contains("identified at least one change"),
        "{stderr}"
    );

    // The HelmRelease's ignore rules apply.
    releases
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"driftDetection": {"mode": "warn",
                "ignore": [{"paths": ["/data/greeting"], "target": {"kind": "ConfigMap"}}]}}})),
        )
        .await
        .unwrap();
    let ignored = flux(Some(kubeconfig), &diff);
    assert_eq!(ignored.status.code(), Some(0), "{:?}", text(&ignored));

    // Deleted from the cluster.
    configs
        .delete("web-config", &Default::default())
        .await
        .unwrap();
    let removed = flux(Some(kubeconfig), &diff);
    assert_eq!(removed.status.code(), Some(1));
    assert_eq!(
        text(&removed).0,
        format!("► ConfigMap/{}/web-config removed\n", ns.name())
    );

    // No release for the HelmRelease: an error (exit 2, as upstream's diff).
    let missing = flux(Some(kubeconfig), &["diff", "hr", "nope", "-n", ns.name()]);
    assert_eq!(missing.status.code(), Some(2), "{:?}", text(&missing));
}
