//! A fleet in the layout of `fluxcd/flux2-kustomize-helm-example`
//! (`examples/kustomize-helm`) reconciled by one `fluxd` running the
//! source, kustomize and helm controllers over all namespaces, as a
//! bootstrapped cluster runs them: infrastructure controllers (a Helm
//! release that brings its CRDs), then their configs (a custom resource of
//! those CRDs), then the apps (a HelmRelease patched per cluster). Then a
//! change in Git upgrades the release, and removing the app from Git
//! uninstalls it. Its own control plane: this `fluxd` watches every
//! namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flux_api::helm::v2::HelmRelease;
use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::ConditionStatus;
use flux_testenv::{ControlPlane, GitHttpServer, HelmRepoServer};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, ResourceExt};
use serde_json::json;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kustomize-helm")
}

struct Fluxd(Child);

impl Drop for Fluxd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn ready_kustomization(api: &Api<Kustomization>, name: &str, revision: &str) {
    let found = flux_testenv::eventually_within(
        &format!("Kustomization {name} applied {revision}"),
        Duration::from_secs(240),
        || async {
            let k = api.get(name).await.ok()?;
            let status = k.status.as_ref()?;
            let ready = flux_runtime::conditions::get(&status.conditions, "Ready")?;
            (ready.status == ConditionStatus::True
                && status.last_applied_revision.as_deref() == Some(revision))
            .then_some(())
        },
    )
    .await;
    if let Err(e) = found {
        let status = api.get(name).await.ok().and_then(|k| k.status);
        panic!("{e}; last status: {status:#?}");
    }
}

async fn ready_release(api: &Api<HelmRelease>, name: &str, history: usize) -> HelmRelease {
    let found = flux_testenv::eventually_within(
        &format!("HelmRelease {name} Ready with {history} release(s)"),
        Duration::from_secs(240),
        || async {
            let hr = api.get(name).await.ok()?;
            let status = hr.status.as_ref()?;
            let ready = flux_runtime::conditions::get(&status.conditions, "Ready")?;
            (ready.status == ConditionStatus::True
                && status.observed_generation == hr.metadata.generation
                && status.history.first().map(|s| s.version) == Some(history as i64))
            .then(|| hr.clone())
        },
    )
    .await;
    match found {
        Ok(hr) => hr,
        Err(e) => {
            let status = api.get(name).await.ok().and_then(|k| k.status);
            panic!("{e}; last status: {status:#?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomize_helm_fleet_is_reconciled_end_to_end() {
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let ns = cp.namespace("flux-system").await.unwrap();
    let client = cp.client().unwrap();

    // The chart repositories the fleet names, served locally: `1.x` must
    // pick cert-manager v1.14.4 over v2.0.0; `>=1.0.0-alpha` (staging)
    // takes podinfo's release candidate.
    let repo = HelmRepoServer::start().unwrap();
    let charts = tempfile::tempdir().unwrap();
    for (name, version) in [
        ("cert-manager", "v1.14.4"),
        ("cert-manager", "v2.0.0"),
        ("podinfo", "6.5.4"),
        ("podinfo", "6.6.0-rc.1"),
    ] {
        repo.add_chart(
            &flux_testenv::chart_at_version(
                &example().join("charts").join(name),
                charts.path(),
                version,
            )
            .unwrap(),
        )
        .unwrap();
    }

    // The fleet repository, with the namespace of this test for
    // flux-system and the local repository for the public ones.
    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("fleet").unwrap();
    let fleet: Vec<(String, String)> = flux_testenv::files_under(&example())
        .unwrap()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("charts/") && path != "README.md")
        .map(|(path, data)| (path, String::from_utf8(data).unwrap()))
        .collect();
    for (path, text) in &fleet {
        let text = text
            .replace(
                "namespace: flux-system",
                &format!("namespace: {}", ns.name()),
            )
            .replace("https://charts.jetstack.io", &repo.url())
            .replace("https://stefanprodan.github.io/podinfo", &repo.url());
        remote.write(path, text).unwrap();
    }
    let first = format!("main@sha1:{}", remote.commit("fleet").unwrap());

    let storage = tempfile::tempdir().unwrap();
    let port = flux_testenv::free_port().unwrap();
    let _fluxd = Fluxd(
        Command::new(env!("CARGO_BIN_EXE_fluxd"))
            .env("KUBECONFIG", cp.kubeconfig_path())
            .env("RUNTIME_NAMESPACE", ns.name())
            .arg("--controllers=source,kustomize,helm")
            .arg(format!("--storage-path={}", storage.path().display()))
            .arg(format!("--storage-addr=127.0.0.1:{port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{port}"))
            .arg(format!(
                "--health-addr=127.0.0.1:{}",
                flux_testenv::free_port().unwrap()
            ))
            .arg(format!(
                "--metrics-addr=127.0.0.1:{}",
                flux_testenv::free_port().unwrap()
            ))
            .arg("--requeue-dependency=2s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // What `flux bootstrap` leaves: the sync GitRepository and
    // Kustomization of the cluster's folder.
    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "flux-system"},
                "spec": {"url": remote.url(), "interval": "1m", "ref": {"branch": "main"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "flux-system"},
                "spec": {
                    "interval": "10m",
                    "path": "./clusters/staging",
                    "prune": true,
                    "sourceRef": {"kind": "GitRepository", "name": "flux-system"}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    for name in ["flux-system", "infra-controllers", "infra-configs", "apps"] {
        ready_kustomization(&kustomizations, name, &first).await;
    }

    // The infrastructure: cert-manager 1.x with its CRDs, then the
    // ClusterIssuer of those CRDs, patched for staging.
    let cert_manager: Api<HelmRelease> = Api::namespaced(client.clone(), "cert-manager");
    let hr = ready_release(&cert_manager, "cert-manager", 1).await;
    assert_eq!(
        hr.status.unwrap().last_attempted_revision.as_deref(),
        Some("v1.14.4")
    );
    let issuers: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "cert-manager.io",
            "v1",
            "ClusterIssuer",
        )),
    );
    let issuer = issuers.get("letsencrypt").await.unwrap();
    assert_eq!(
        issuer.data["spec"]["acme"]["server"],
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    );
    assert_eq!(
        issuer.labels()["kustomize.toolkit.fluxcd.io/name"],
        "infra-configs"
    );

    // The app: the base release with the staging patch merged, tested.
    let podinfo: Api<HelmRelease> = Api::namespaced(client.clone(), "podinfo");
    let hr = ready_release(&podinfo, "podinfo", 1).await;
    let status = hr.status.clone().unwrap();
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some("6.6.0-rc.1")
    );
    let tested = flux_runtime::conditions::get(&status.conditions, "TestSuccess").unwrap();
    assert_eq!(tested.status, ConditionStatus::True, "{tested:?}");
    assert_eq!(
        hr.labels()["kustomize.toolkit.fluxcd.io/name"],
        "apps",
        "applied by the apps Kustomization"
    );
    let helm_home = tempfile::tempdir().unwrap();
    let helm = |args: &[&str]| {
        let out = flux_testenv::helm_command(helm_home.path())
            .unwrap()
            .env("KUBECONFIG", cp.kubeconfig_path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let values: serde_json::Value = serde_json::from_str(&helm(&[
        "get", "values", "podinfo", "-n", "podinfo", "-o", "json",
    ]))
    .unwrap();
    assert_eq!(
        values,
        json!({
            "redis": {"enabled": true, "repository": "public.ecr.aws/docker/library/redis", "tag": "7.0.6"},
            "ingress": {"enabled": true, "className": "nginx", "hosts": [
                {"host": "podinfo.staging", "paths": [{"path": "/", "pathType": "ImplementationSpecific"}]}
            ]}
        })
    );
    let ingress = Api::<Ingress>::namespaced(client.clone(), "podinfo")
        .get("podinfo")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        ingress.rules.unwrap()[0].host.as_deref(),
        Some("podinfo.staging")
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "podinfo");
    for name in ["podinfo", "podinfo-redis"] {
        let d = deployments.get(name).await.unwrap();
        assert_eq!(
            d.status.and_then(|s| s.available_replicas),
            Some(1),
            "{name} available (the apps Kustomization waited for it)"
        );
    }

    // A change in Git: two replicas for staging. The source's next fetch
    // (asked for at once here) upgrades the release.
    let values_path = "apps/staging/podinfo-values.yaml";
    let patched = fleet
        .iter()
        .find(|(p, _)| p == values_path)
        .map(|(_, t)| t.replace("  values:\n", "  values:\n    replicaCount: 2\n"))
        .unwrap();
    remote.write(values_path, patched).unwrap();
    let second = format!("main@sha1:{}", remote.commit("two replicas").unwrap());
    let request = |token: &str| json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    repos
        .patch(
            "flux-system",
            &PatchParams::default(),
            &Patch::Merge(request("scale")),
        )
        .await
        .unwrap();
    ready_kustomization(&kustomizations, "apps", &second).await;
    let hr = ready_release(&podinfo, "podinfo", 2).await;
    assert_eq!(
        flux_runtime::conditions::get(&hr.status.unwrap().conditions, "Ready")
            .unwrap()
            .reason,
        "TestSucceeded"
    );
    let d = deployments.get("podinfo").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(2));

    // The app removed from Git: the Kustomization prunes the HelmRelease,
    // whose deletion uninstalls the release.
    remote
        .write(
            "apps/staging/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
        )
        .unwrap();
    remote.remove(values_path).unwrap();
    let third = format!("main@sha1:{}", remote.commit("no apps").unwrap());
    repos
        .patch(
            "flux-system",
            &PatchParams::default(),
            &Patch::Merge(request("prune")),
        )
        .await
        .unwrap();
    ready_kustomization(&kustomizations, "apps", &third).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    flux_testenv::eventually_within(
        "podinfo uninstalled and its namespace gone",
        Duration::from_secs(180),
        || async {
            namespaces
                .get_opt("podinfo")
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await
    .unwrap();
    // The infrastructure stays.
    assert!(
        cert_manager
            .get_opt("cert-manager")
            .await
            .unwrap()
            .is_some()
    );
}
