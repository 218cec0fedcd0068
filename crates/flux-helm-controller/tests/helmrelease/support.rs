//! What every test of this binary shares: the control plane (with a node),
//! the source controller and its artifact server, this controller, a Helm
//! repository with the test charts, and the real `helm` to look at what
//! was released.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flux_api::helm::v2::HelmRelease;
use flux_api::meta::{Condition, ConditionStatus};
use flux_artifact::{Retention, Storage};
use flux_testenv::{ControlPlane, HelmRepoServer, TestNamespace};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

pub(crate) fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds")
}

pub(crate) fn condition<'a>(hr: &'a HelmRelease, kind: &str) -> Option<&'a Condition> {
    hr.status
        .as_ref()
        .and_then(|s| flux_runtime::conditions::get(&s.conditions, kind))
}

/// Everything a test works with; the servers live as long as it does.
pub(crate) struct Bed {
    pub cp: &'static ControlPlane,
    pub ns: TestNamespace,
    pub client: kube::Client,
    pub repo: HelmRepoServer,
    pub helm_home: tempfile::TempDir,
    _storage: tempfile::TempDir,
}

/// The application chart of the tests: `name` at `version`, a ConfigMap
/// of its values, a Deployment of the node's `web` image (waited for), and
/// hooks: a `post-install,post-upgrade` Job (when `hook.enabled`) that
/// fails when `hook.fail` is true, and a `test` Pod that fails when
/// `testFail` is true.
pub(crate) fn write_app_chart(dir: &Path, name: &str, version: &str, web_image: &str) -> PathBuf {
    let chart = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n"),
        ),
        (
            "values.yaml",
            "greeting: hello\nreplicas: 1\nhook:\n  enabled: false\n  fail: false\ntestFail: false\n".to_string(),
        ),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  revision: {{ .Release.Revision | quote }}\n".to_string(),
        ),
        (
            "templates/deployment.yaml",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ .Release.Name }}}}-web\nspec:\n  replicas: {{{{ .Values.replicas }}}}\n  selector:\n    matchLabels:\n      app: {{{{ .Release.Name }}}}-web\n  template:\n    metadata:\n      labels:\n        app: {{{{ .Release.Name }}}}-web\n    spec:\n      containers:\n      - name: web\n        image: {web_image}\n        args: [\"serve\", \"--listen\", \":8080\", \"--root\", \"/\"]\n"
            ),
        ),
        (
            "templates/hook.yaml",
            format!(
                "{{{{- if .Values.hook.enabled }}}}\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{{{ .Release.Name }}}}-hook\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: hook\n        image: {web_image}\n        {{{{- if .Values.hook.fail }}}}\n        args: [\"get\", \"http://127.0.0.1:1/\"]\n        {{{{- else }}}}\n        args: [\"print\", \"hook ran\"]\n        {{{{- end }}}}\n{{{{- end }}}}\n"
            ),
        ),
        (
            "templates/test.yaml",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{{{ .Release.Name }}}}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n  - name: test\n    image: {web_image}\n    {{{{- if .Values.testFail }}}}\n    args: [\"get\", \"http://127.0.0.1:1/\"]\n    {{{{- else }}}}\n    args: [\"print\", \"tested\"]\n    {{{{- end }}}}\n"
            ),
        ),
    ];
    for (file, text) in files {
        std::fs::write(chart.join(file), text).unwrap();
    }
    chart
}

/// A chart with a CRD in `crds/`, an object of that kind in its
/// templates, and a ConfigMap of what the templates saw of the cluster
/// (`.Capabilities.APIVersions`, `lookup` of the ConfigMap `seed`).
pub(crate) fn write_crd_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("widgets");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::create_dir_all(chart.join("crds")).unwrap();
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: widgets\nversion: 0.1.0\n",
        ),
        (
            "crds/widget.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names:\n    kind: Widget\n    plural: widgets\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
        ),
        (
            "templates/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  size: 3\n",
        ),
        (
            "templates/probe.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-probe\ndata:\n  widgetsServed: {{ .Capabilities.APIVersions.Has \"example.com/v1/Widget\" | quote }}\n  seed: {{ dig \"data\" \"value\" \"missing\" (lookup \"v1\" \"ConfigMap\" .Release.Namespace \"seed\") | quote }}\n  absent: {{ dig \"data\" \"value\" \"missing\" (lookup \"v1\" \"ConfigMap\" .Release.Namespace \"absent\") | quote }}\n  listed: {{ gt (len (lookup \"v1\" \"ConfigMap\" .Release.Namespace \"\").items) 0 | quote }}\n",
        ),
    ];
    for (file, text) in files {
        std::fs::write(chart.join(file), text).unwrap();
    }
    chart
}

impl Bed {
    /// The shared control plane (with its node), a fresh namespace, the
    /// source controller and this controller watching it, and a Helm
    /// repository serving `app` 1.0.0 and 1.1.0 and `widgets` 0.1.0.
    pub(crate) async fn new(name: &str) -> Bed {
        let cp = ControlPlane::shared_with_node().expect("control plane with a node");
        cp.install_crd_dir(&manifests()).await.unwrap();
        let ns = cp.namespace(name).await.unwrap();
        let client = cp.client().unwrap();
        let storage = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(flux_source_controller::server::serve_storage(
            storage.path().to_path_buf(),
            listener,
        ));
        let artifacts = Storage::new(storage.path(), &address, Retention::default()).unwrap();
        let source = std::sync::Arc::new(flux_source_controller::Context::new(
            client.clone(),
            artifacts,
        ));
        let namespace = ns.name().to_string();
        tokio::spawn(
            async move { flux_source_controller::run_shared(source, Some(&namespace)).await },
        );
        let mut ctx = flux_helm_controller::Context::new(client.clone());
        ctx.requeue_dependency = Duration::from_secs(2);
        ctx.impersonator.config = Some(cp.config().clone());
        let namespace = ns.name().to_string();
        tokio::spawn(async move { flux_helm_controller::run(ctx, Some(&namespace)).await });
        let repo = HelmRepoServer::start().unwrap();
        let web = cp.node().and_then(|n| n.image("web")).unwrap().to_string();
        let sources = tempfile::tempdir().unwrap();
        for version in ["1.0.0", "1.1.0"] {
            repo.add_chart(&write_app_chart(sources.path(), "app", version, &web))
                .unwrap();
        }
        repo.add_chart(&write_crd_chart(sources.path())).unwrap();
        let repos: Api<flux_api::source::v1::HelmRepository> =
            Api::namespaced(client.clone(), ns.name());
        let repository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts"},
            "spec": {"url": repo.url(), "interval": "1h"}
        }))
        .unwrap();
        repos
            .create(&PostParams::default(), &repository)
            .await
            .unwrap();
        Bed {
            cp,
            ns,
            client,
            repo,
            helm_home: tempfile::tempdir().unwrap(),
            _storage: storage,
        }
    }

    pub(crate) fn api(&self) -> Api<HelmRelease> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    /// Creates HelmRelease `name` from `spec` (chart `app` of the
    /// repository unless the spec says otherwise).
    pub(crate) async fn create(&self, name: &str, spec: serde_json::Value) -> HelmRelease {
        let mut full = json!({
            "interval": "1h",
            "chart": {"spec": {"chart": "app", "version": "1.0.0",
                "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
        });
        if let (Some(base), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        let hr: HelmRelease = serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": full,
        }))
        .unwrap();
        self.api()
            .create(&PostParams::default(), &hr)
            .await
            .unwrap()
    }

    pub(crate) async fn patch_spec(&self, name: &str, spec: serde_json::Value) {
        self.api()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await
            .unwrap();
    }

    pub(crate) async fn annotate(&self, name: &str, annotations: serde_json::Value) {
        self.api()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations": annotations}})),
            )
            .await
            .unwrap();
    }

    /// Waits until `check` holds for HelmRelease `name`, printing its
    /// status when it does not.
    pub(crate) async fn wait_for(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&HelmRelease) -> bool,
    ) -> HelmRelease {
        let api = self.api();
        let found = flux_testenv::eventually_within(
            &format!("{name}: {what}"),
            Duration::from_secs(180),
            || async {
                let hr = api.get(name).await.ok()?;
                check(&hr).then_some(hr)
            },
        )
        .await;
        match found {
            Ok(hr) => hr,
            Err(e) => {
                let status = api.get(name).await.ok().and_then(|h| h.status);
                panic!("{e}; last status: {status:#?}")
            }
        }
    }

    /// Waits for `Ready=<status>` with `reason` at the current generation.
    pub(crate) async fn wait_ready(
        &self,
        name: &str,
        status: ConditionStatus,
        reason: &str,
    ) -> HelmRelease {
        self.wait_for(name, &format!("Ready={status:?}/{reason}"), |hr| {
            condition(hr, "Ready").is_some_and(|c| {
                c.status == status
                    && c.reason == reason
                    && hr.status.as_ref().and_then(|s| s.observed_generation)
                        == hr.metadata.generation
            })
        })
        .await
    }

    /// The real `helm` (v3) against the control plane, in the test
    /// namespace.
    pub(crate) fn helm(&self, args: &[&str]) -> String {
        let output = flux_testenv::helm_command(self.helm_home.path())
            .unwrap()
            .env("KUBECONFIG", self.cp.kubeconfig_path())
            .args(args)
            .args(["--namespace", self.ns.name()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `helm history NAME -o json`: (revision, status, description).
    pub(crate) fn history(&self, release: &str) -> Vec<(i64, String, String)> {
        let text = self.helm(&["history", release, "-o", "json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        list.iter()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap_or_default(),
                    r["status"].as_str().unwrap_or_default().to_string(),
                    r["description"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

/// The messages of the events with `reason` in the test namespace.
pub(crate) async fn event_messages(bed: &Bed, reason: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(bed.client.clone(), bed.ns.name());
    events
        .list(&kube::api::ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect()
}
