//! Ours and upstream's helm-controller (built from the Go module proxy by
//! `scripts/install-upstream-helm-controller.sh`) side by side on the same
//! HelmReleases, each in its own namespace of one API server with its own
//! source controller (ours, in process): the same conditions and events,
//! the same `status.history` (versions, statuses, actions, chart versions,
//! values digests), the same release records (manifests, values, hooks,
//! descriptions) — and each side's snapshot digest verifies the other
//! side's records, which proves the digest is computed as upstream does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::time::Duration;

use flux_api::helm::v2::{HelmRelease, HelmReleaseStatus};
use flux_artifact::{Retention, Storage};
use flux_testenv::{ControlPlane, HelmRepoServer, UpstreamController};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

fn start_upstream(cp: &ControlPlane, namespace: &str, log: &Path) -> UpstreamController {
    UpstreamController::start(
        cp,
        "helm-controller-upstream",
        namespace,
        log,
        &["--requeue-dependency=2s".to_string()],
    )
    .expect("upstream helm-controller (scripts/install-deps.sh)")
}

/// Our source controller for `namespace` (both sides read their charts
/// through it).
async fn start_sources(client: kube::Client, namespace: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(flux_source_controller::server::serve_storage(
        root.path().to_path_buf(),
        listener,
    ));
    let storage = Storage::new(root.path(), &address, Retention::default()).unwrap();
    let ctx = std::sync::Arc::new(flux_source_controller::Context::new(client, storage));
    let namespace = namespace.to_string();
    tokio::spawn(async move { flux_source_controller::run_shared(ctx, Some(&namespace)).await });
    root
}

fn write_chart(dir: &Path, version: &str) -> std::path::PathBuf {
    let chart = dir.join(format!("app-{version}"));
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    let files = [
        ("Chart.yaml", format!("apiVersion: v2\nname: app\nversion: {version}\nappVersion: \"{version}\"\ndescription: A <test> & chart\n")),
        ("values.yaml", "greeting: hello\nhook:\n  fail: false\nlist: [1, 2.5, \"x\"]\n".to_string()),
        ("templates/NOTES.txt", "Release {{ .Release.Name }} v{{ .Release.Revision }} <ok>\n".to_string()),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n  labels:\n    app: {{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  revision: {{ .Release.Revision | quote }}\n  list: {{ toJson .Values.list | quote }}\n".to_string(),
        ),
        (
            "templates/post-hook.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-post\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\ndata:\n  revision: {{ .Release.Revision | quote }}\n".to_string(),
        ),
        (
            "templates/hook.yaml",
            "{{- if .Values.hook.fail }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    helm.sh/hook: pre-upgrade\n    helm.sh/hook-weight: \"-1\"\ndata:\n  - not a map\n{{- end }}\n".to_string(),
        ),
    ];
    for (file, text) in files {
        std::fs::write(chart.join(file), text).unwrap();
    }
    chart
}

struct Side {
    namespace: String,
    api: Api<HelmRelease>,
    secrets: Api<Secret>,
}

impl Side {
    async fn get(&self) -> HelmRelease {
        self.api.get("web").await.unwrap()
    }

    async fn wait(&self, what: &str, check: impl Fn(&HelmRelease) -> bool) -> HelmRelease {
        let found = flux_testenv::eventually_within(
            &format!("{}: {what}", self.namespace),
            Duration::from_secs(120),
            || async {
                let hr = self.api.get("web").await.ok()?;
                check(&hr).then_some(hr)
            },
        )
        .await;
        match found {
            Ok(hr) => hr,
            Err(e) => panic!("{e}; last status: {:#?}", self.get().await.status),
        }
    }

    async fn records(&self) -> Vec<flux_helm::release::Release> {
        let storage =
            flux_helm_controller::storage::Storage::new(self.api_client(), &self.namespace);
        storage.history("web").await.unwrap()
    }

    fn api_client(&self) -> kube::Client {
        self.secrets.clone().into_client()
    }
}

/// The status with the namespace replaced and times dropped, for
/// comparison: conditions (type, status, reason, message) and history.
fn comparable(status: &HelmReleaseStatus, namespace: &str) -> serde_json::Value {
    let strip = |s: &str| s.replace(namespace, "NS");
    let mut conditions: Vec<serde_json::Value> = status
        .conditions
        .iter()
        .map(|c| json!([c.r#type, c.status, c.reason, cut_detail(&strip(&c.message))]))
        .collect();
    conditions.sort_by_key(|c| c[0].as_str().unwrap_or_default().to_string());
    let history: Vec<serde_json::Value> = status
        .history
        .iter()
        .map(|s| {
            json!([
                s.version,
                s.status,
                s.action,
                s.chart_name,
                s.chart_version,
                s.app_version,
                s.config_digest,
                strip(&s.namespace)
            ])
        })
        .collect();
    json!({
        "conditions": conditions,
        "history": history,
        "failures": status.failures,
        "installFailures": status.install_failures,
        "upgradeFailures": status.upgrade_failures,
        "lastAttemptedRevision": status.last_attempted_revision,
        "lastAttemptedConfigDigest": status.last_attempted_config_digest,
        "lastAttemptedReleaseAction": status.last_attempted_release_action,
        "storageNamespace": status.storage_namespace.as_deref().map(strip),
        "helmChart": status.helm_chart.as_deref().map(strip),
        "inventory": status.inventory.as_ref().map(|i| i.entries.iter().map(|e| json!([strip(&e.id), e.v])).collect::<Vec<_>>()),
    })
}

/// A failure message up to its cause: the causes are the API server's
/// words through two different clients (Helm's validates objects before
/// sending them), the rest is the controllers' own.
fn cut_detail(message: &str) -> String {
    let start = message
        .find(" with chart ")
        .map_or(0, |i| i + " with chart ".len());
    let anchor = if message[start..].contains(": ") && start > 0 {
        message[start..].find(": ").map(|i| start + i + 2)
    } else {
        message.find(" failed: ").map(|i| i + " failed: ".len())
    };
    match anchor {
        Some(end) => format!("{}…", &message[..end]),
        None => message.to_string(),
    }
}

/// The records with the namespace replaced and times dropped.
fn comparable_records(
    records: &[flux_helm::release::Release],
    namespace: &str,
) -> Vec<serde_json::Value> {
    let strip = |s: &str| s.replace(namespace, "NS");
    records
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "namespace": strip(&r.namespace),
                "version": r.version,
                "status": r.info.status,
                "description": cut_detail(&strip(&r.info.description)),
                "notes": r.info.notes,
                "manifest": strip(&r.manifest),
                "config": r.config,
                "chartMetadata": r.chart.get("metadata"),
                "hooks": r.hooks.iter().map(|h| json!([h.hook.name, h.hook.kind, h.hook.path, h.hook.events, h.hook.weight, h.last_run.2, strip(&h.hook.manifest)])).collect::<Vec<_>>(),
                "labels": r.labels,
            })
        })
        .collect()
}

/// Each side's snapshots verify the other side's records: the digest is
/// computed here exactly as upstream computes it.
fn digests_verify(status: &HelmReleaseStatus, records: &[flux_helm::release::Release]) {
    for snap in &status.history {
        // A snapshot of a record `maxHistory` deleted has nothing to verify.
        let Some(record) = records.iter().find(|r| r.version == snap.version) else {
            continue;
        };
        assert_eq!(
            snap.digest,
            flux_helm_controller::snapshot::digest(record, snap.oci_digest.as_deref()),
            "snapshot v{} of {}",
            snap.version,
            snap.namespace
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_and_upstreams_controller_release_alike() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let repo = HelmRepoServer::start().unwrap();
    let sources = tempfile::tempdir().unwrap();
    for version in ["1.0.0", "1.1.0"] {
        repo.add_chart(&write_chart(sources.path(), version))
            .unwrap();
    }
    let ours_ns = cp.namespace("hr-ours").await.unwrap();
    let theirs_ns = cp.namespace("hr-theirs").await.unwrap();
    let _ours_sources = start_sources(client.clone(), ours_ns.name()).await;
    let _their_sources = start_sources(client.clone(), theirs_ns.name()).await;
    let mut ctx = flux_helm_controller::Context::new(client.clone());
    ctx.requeue_dependency = Duration::from_secs(2);
    let namespace = ours_ns.name().to_string();
    tokio::spawn(async move { flux_helm_controller::run(ctx, Some(&namespace)).await });
    let log = tempfile::tempdir().unwrap();
    let _upstream = start_upstream(
        cp,
        theirs_ns.name(),
        &log.path().join("helm-controller.log"),
    );

    let sides: Vec<Side> = [ours_ns.name(), theirs_ns.name()]
        .iter()
        .map(|ns| Side {
            namespace: ns.to_string(),
            api: Api::namespaced(client.clone(), ns),
            secrets: Api::namespaced(client.clone(), ns),
        })
        .collect();
    for side in &sides {
        let repos: Api<flux_api::source::v1::HelmRepository> =
            Api::namespaced(client.clone(), &side.namespace);
        let repository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts"}, "spec": {"url": repo.url(), "interval": "1h"}
        }))
        .unwrap();
        repos
            .create(&PostParams::default(), &repository)
            .await
            .unwrap();
        let hr = serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "web"},
            "spec": {
                "interval": "1h",
                "chart": {"spec": {"chart": "app", "version": "1.0.0", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
                "values": {"greeting": "hi <there> & co", "n": 3, "f": 1.5, "nested": {"b": [true, null], "a": "x"}},
                "upgrade": {"remediation": {"retries": 1}}
            }
        }))
        .unwrap();
        side.api.create(&PostParams::default(), &hr).await.unwrap();
    }

    let settled = |reason: &'static str| {
        move |hr: &HelmRelease| {
            hr.status.as_ref().is_some_and(|s| {
                s.observed_generation == hr.metadata.generation
                    && flux_runtime::conditions::get(&s.conditions, "Ready")
                        .is_some_and(|c| c.reason == reason)
                    && flux_runtime::conditions::get(&s.conditions, "Reconciling").is_none()
            })
        }
    };
    let compare = |what: &'static str| {
        let sides = &sides;
        async move {
            // Both controllers settle on their own time (a watch event can
            // start one more reconciliation of an object already settled):
            // the states are compared once both are still.
            let (mut ours, mut theirs);
            let mut tries = 0;
            loop {
                ours = sides[0].get().await.status.unwrap();
                theirs = sides[1].get().await.status.unwrap();
                let still = |s: &HelmReleaseStatus| {
                    flux_runtime::conditions::get(&s.conditions, "Reconciling").is_none()
                };
                if (comparable(&ours, &sides[0].namespace)
                    == comparable(&theirs, &sides[1].namespace)
                    && still(&ours)
                    && still(&theirs))
                    || tries == 40
                {
                    break;
                }
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert_eq!(
                comparable(&ours, &sides[0].namespace),
                comparable(&theirs, &sides[1].namespace),
                "{what}: status"
            );
            let our_records = sides[0].records().await;
            let their_records = sides[1].records().await;
            assert_eq!(
                comparable_records(&our_records, &sides[0].namespace),
                comparable_records(&their_records, &sides[1].namespace),
                "{what}: release records"
            );
            digests_verify(&ours, &our_records);
            digests_verify(&theirs, &their_records);
            // Upstream's records carry Helm v4's apply method; so do ours.
            for r in their_records.iter().chain(&our_records) {
                assert_eq!(r.extra.get("apply_method"), Some(&json!("ssa")), "{what}");
            }
        }
    };

    // Install.
    for side in &sides {
        side.wait("installed", settled("InstallSucceeded")).await;
    }
    compare("install").await;

    // Upgrade to 1.1.0 with new values.
    for side in &sides {
        side.api
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"chart": {"spec": {"version": "1.1.0"}}, "values": {"greeting": "again"}}})),
            )
            .await
            .unwrap();
    }
    for side in &sides {
        side.wait("upgraded", settled("UpgradeSucceeded")).await;
    }
    compare("upgrade").await;

    // A failing pre-upgrade hook (an invalid object): remediated by
    // rollback until the retries run out.
    for side in &sides {
        side.api
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"values": {"hook": {"fail": true}}}})),
            )
            .await
            .unwrap();
    }
    for side in &sides {
        side.wait("stalled", |hr| {
            hr.status.as_ref().is_some_and(|s| {
                flux_runtime::conditions::get(&s.conditions, "Stalled")
                    .is_some_and(|c| c.reason == "RetriesExceeded")
                    && flux_runtime::conditions::get(&s.conditions, "Reconciling").is_none()
            })
        })
        .await;
    }
    compare("remediation").await;

    // Post-renderers under each of Helm v4's strategies: the hooks are
    // left out (`nohooks`), post-rendered apart (`separate`) or with the
    // templates (`combined`, the default).
    for strategy in ["nohooks", "separate", "combined"] {
        for side in &sides {
            side.api
                .patch(
                    "web",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {
                        "values": {"hook": {"fail": false}, "greeting": format!("strategy {strategy}")},
                        "postRenderStrategy": strategy,
                        "postRenderers": [{"kustomize": {"patches": [{
                            "target": {"kind": "ConfigMap"},
                            "patch": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: any\n  labels:\n    rendered: post\n"
                        }]}}]
                    }})),
                )
                .await
                .unwrap();
        }
        for side in &sides {
            side.wait("post-rendered", settled("UpgradeSucceeded"))
                .await;
        }
        compare(match strategy {
            "nohooks" => "postRenderStrategy nohooks",
            "separate" => "postRenderStrategy separate",
            _ => "postRenderStrategy combined",
        })
        .await;
        let records = sides[0].records().await;
        let last = records.last().unwrap();
        let hook = &last
            .hooks
            .iter()
            .find(|h| h.hook.name.ends_with("-post"))
            .unwrap()
            .hook;
        assert_eq!(
            hook.manifest.contains("rendered: post"),
            strategy != "nohooks",
            "{strategy}: {}",
            hook.manifest
        );
        assert!(last.manifest.contains("rendered: post"), "{strategy}");
    }
}
