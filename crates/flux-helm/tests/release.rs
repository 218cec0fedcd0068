//! Helm's release records against the real `helm` binary and a real API
//! server: a release installed by `helm install` decodes here; revisions
//! written here (an upgrade rendered by flux-helm, the previous one marked
//! superseded) are what `helm list`, `helm history`, `helm get values`,
//! `helm get manifest` and `helm rollback` then read and act on; the
//! rollback helm writes decodes here again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::Path;

use flux_helm::release::{Release, status};
use flux_helm::{Chart, TemplateOptions};
use flux_testenv::ControlPlane;
use flux_testenv::helm_command;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, PostParams};

fn helm(home: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = helm_command(home)
        .unwrap()
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.2.0\nappVersion: \"2.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "greeting: hello\nreplicas: 1\n").unwrap();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  revision: {{ .Release.Revision | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/hook.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/NOTES.txt"),
        "Thanks for installing {{ .Release.Name }}.\n",
    )
    .unwrap();
}

async fn records(secrets: &Api<Secret>, name: &str) -> Vec<Release> {
    let list = secrets
        .list(&ListParams::default().labels(&format!("owner=helm,name={name}")))
        .await
        .unwrap();
    let mut out: Vec<Release> = list
        .items
        .iter()
        .map(|s| {
            assert_eq!(s.type_.as_deref(), Some("helm.sh/release.v1"));
            let data = &s.data.as_ref().unwrap()["release"].0;
            Release::decode(data).unwrap()
        })
        .collect();
    out.sort_by_key(|r| r.version);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_interoperate_with_helm() {
    let cp = ControlPlane::shared().expect("control plane");
    let ns = cp.namespace("helm-release").await.unwrap();
    let kubeconfig = cp.kubeconfig_path();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let chart_dir = tmp.path().join("web");
    write_chart(&chart_dir);
    let client = cp.client().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, ns.name());

    // 1. helm install → decoded here.
    helm(
        &home,
        kubeconfig,
        &[
            "install",
            "web",
            chart_dir.to_str().unwrap(),
            "-n",
            ns.name(),
            "--set",
            "greeting=hi",
        ],
    );
    let v1 = records(&secrets, "web").await;
    assert_eq!(v1.len(), 1);
    let r1 = &v1[0];
    assert_eq!(
        (r1.name.as_str(), r1.version, r1.namespace.as_str()),
        ("web", 1, ns.name())
    );
    assert_eq!(r1.info.status, status::DEPLOYED);
    assert_eq!(r1.info.description, "Install complete");
    assert_eq!(r1.config["greeting"], "hi");
    assert_eq!(r1.chart["metadata"]["version"], "1.2.0");
    assert!(r1.manifest.contains("greeting: \"hi\""), "{}", r1.manifest);
    assert_eq!(r1.hooks.len(), 1);
    assert_eq!(r1.hooks[0].hook.events, ["post-install", "post-upgrade"]);
    assert_eq!(r1.hooks[0].last_run.2, "Succeeded");
    assert_eq!(r1.info.notes, "Thanks for installing web.\n");
    // Our rendering of the same install is what helm stored.
    let chart = Chart::load(&chart_dir).unwrap();
    let mut opts = TemplateOptions {
        release_name: "web".into(),
        namespace: ns.name().into(),
        values: serde_json::from_str(r#"{"greeting": "hi"}"#).unwrap(),
        ..TemplateOptions::default()
    };
    let ours = flux_helm::render_release(&chart, &opts, &Default::default()).unwrap();
    assert_eq!(ours.manifest, r1.manifest);
    assert_eq!(ours.notes, r1.info.notes);

    // 2. An upgrade written by us: v1 superseded, v2 deployed.
    opts.values = serde_json::from_str(r#"{"greeting": "bonjour"}"#).unwrap();
    let rendered = flux_helm::render_release(&chart, &opts, &Default::default()).unwrap();
    let mut v2 = Release::new(&rendered, &opts, 2, status::DEPLOYED, "Upgrade complete");
    v2.info.first_deployed = r1.info.first_deployed.clone();
    let mut superseded = r1.clone();
    superseded.info.status = status::SUPERSEDED.into();
    let pp = PostParams::default();
    secrets
        .replace(
            &superseded.secret_name(),
            &pp,
            &serde_json::from_value({
                let mut s = superseded.to_secret().unwrap();
                let current = secrets.get(&superseded.secret_name()).await.unwrap();
                s["metadata"]["resourceVersion"] =
                    serde_json::Value::String(current.metadata.resource_version.unwrap());
                s
            })
            .unwrap(),
        )
        .await
        .unwrap();
    secrets
        .create(
            &pp,
            &serde_json::from_value(v2.to_secret().unwrap()).unwrap(),
        )
        .await
        .unwrap();

    // 3. The real helm reads our records.
    let list = helm(&home, kubeconfig, &["list", "-n", ns.name(), "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["revision"], "2");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "web-1.2.0");
    assert_eq!(list[0]["app_version"], "2.0");
    let history = helm(
        &home,
        kubeconfig,
        &["history", "web", "-n", ns.name(), "-o", "json"],
    );
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history[0]["status"], "superseded");
    assert_eq!(history[1]["status"], "deployed");
    assert_eq!(history[1]["description"], "Upgrade complete");
    let values = helm(
        &home,
        kubeconfig,
        &["get", "values", "web", "-n", ns.name(), "-o", "json"],
    );
    assert_eq!(values.trim(), r#"{"greeting":"bonjour"}"#);
    let manifest = helm(
        &home,
        kubeconfig,
        &["get", "manifest", "web", "-n", ns.name()],
    );
    assert_eq!(manifest.trim_end(), rendered.manifest.trim_end());
    assert!(manifest.contains("greeting: \"bonjour\""));
    let notes = helm(&home, kubeconfig, &["get", "notes", "web", "-n", ns.name()]);
    assert!(notes.contains("Thanks for installing web."), "{notes}");

    // 4. helm rollback to revision 1 works from our records, and the
    //    revision helm writes decodes here.
    helm(
        &home,
        kubeconfig,
        &["rollback", "web", "1", "-n", ns.name()],
    );
    let all = records(&secrets, "web").await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].info.status, status::SUPERSEDED);
    assert_eq!(all[2].info.status, status::DEPLOYED);
    assert_eq!(all[2].info.description, "Rollback to 1");
    assert_eq!(all[2].config["greeting"], "hi");
    assert_eq!(all[2].manifest, r1.manifest);
    println!(
        "helm release records: install decoded, our revision 2 read by helm list/history/get, rollback to 1 by helm decoded ({} bytes of JSON)",
        v2.to_json().len()
    );
}
