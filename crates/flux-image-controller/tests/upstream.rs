//! Ours and upstream's image-reflector-controller and
//! image-automation-controller (v1.2.4, built from the Go module proxy by
//! `scripts/install-upstream-image-controllers.sh`) side by side on the
//! same objects, each in its own namespace of one API server, scanning
//! one registry (htpasswd auth) and pushing to two copies of one git
//! repository: the same scan results (tag counts, FluxStorage revisions,
//! latest tags, canonical names), the same picks for every policy kind,
//! the same conditions — reasons and messages — for successes and
//! failures, the same committed files, commit messages and observed
//! policies. The namespace names are the only difference allowed, and
//! are replaced before comparing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flux_api::image::v1::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use flux_testenv::{ControlPlane, GitHttpServer, OciRegistry, UpstreamController};
use kube::Api;
use serde_json::{Value, json};

/// The object's status as compared: conditions reduced to type, status,
/// reason and message; times, generations and the namespace left out.
fn comparable(status: Option<Value>, namespace: &str) -> Value {
    let mut status = status.unwrap_or(Value::Null);
    if let Some(map) = status.as_object_mut() {
        for key in [
            "observedGeneration",
            "lastHandledReconcileAt",
            "lastAutomationRunTime",
            "lastPushCommit",
            "lastPushTime",
            "observedSourceRevision",
        ] {
            map.remove(key);
        }
        if let Some(scan) = map.get_mut("lastScanResult").and_then(Value::as_object_mut) {
            scan.remove("scanTime");
        }
        if let Some(conditions) = map.get_mut("conditions").and_then(Value::as_array_mut) {
            let mut reduced: Vec<Value> = conditions
                .iter()
                .map(|c| {
                    json!({"type": c["type"], "status": c["status"], "reason": c["reason"],
                           "message": c["message"]})
                })
                .collect();
            reduced.sort_by_key(|c| c["type"].as_str().unwrap_or_default().to_string());
            *conditions = reduced;
        }
    }
    let text = status.to_string().replace(namespace, "NS");
    serde_json::from_str(&text).unwrap()
}

/// Both sides' statuses once `settled` holds for both (or the deadline
/// passes, and the comparison shows what differs).
async fn statuses<K>(
    ours: &Api<K>,
    theirs: &Api<K>,
    name: &str,
    namespaces: (&str, &str),
    settled: impl Fn(&Value) -> bool,
) -> (Value, Value)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let read = |api: &Api<K>| {
        let api = api.clone();
        let name = name.to_string();
        async move {
            api.get(&name)
                .await
                .ok()
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|v| v.get("status").cloned())
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (a, b) = (read(ours).await, read(theirs).await);
        let done = a.as_ref().is_some_and(&settled) && b.as_ref().is_some_and(&settled);
        if done || std::time::Instant::now() > deadline {
            return (comparable(a, namespaces.0), comparable(b, namespaces.1));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Ready is True, or False for another reason than progress.
fn settled(status: &Value) -> bool {
    status["conditions"].as_array().is_some_and(|conditions| {
        conditions.iter().any(|c| {
            c["type"] == "Ready"
                && (c["status"] == "True"
                    || (c["status"] == "False" && c["reason"] != "Progressing"))
        })
    })
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # keep\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: HOST/team/app:1.0.0 # {\"$imagepolicy\": \"NS:semver\"}\n        - name: side\n          image: \"HOST/team/app:1.0.0\" # {\"$imagepolicy\": \"NS:alpha:tag\"}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_results_as_upstream() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ours_ns = cp.namespace("img-ours").await.unwrap();
    let theirs_ns = cp.namespace("img-upstream").await.unwrap();
    let (ours, theirs) = (ours_ns.name().to_string(), theirs_ns.name().to_string());

    let registry = OciRegistry::start_with_basic_auth("ci", "s3cret").unwrap();
    let host = registry.host();
    let image = flux_testenv::Image::new();
    for tag in [
        "1.0.0",
        "1.2.0",
        "v1.10.0",
        "1.9.3-rc.1",
        "1.10.0-alpha",
        "2.0",
        "latest",
        "sha256-abc.sig",
    ] {
        image
            .push_with_auth(&host, "team/app", tag, ("ci", "s3cret"))
            .unwrap();
    }
    for tag in ["1", "20", "3", "100", "7.5"] {
        image
            .push_with_auth(&host, "team/num", tag, ("ci", "s3cret"))
            .unwrap();
    }

    let git = GitHttpServer::start().unwrap();
    let mut repos = Vec::new();
    for namespace in [&ours, &theirs] {
        let repo = git.create_repo(&format!("fleet-{namespace}")).unwrap();
        repo.write(
            "apps/web.yaml",
            DEPLOYMENT.replace("HOST", &host).replace("NS", namespace),
        )
        .unwrap();
        repo.commit("initial").unwrap();
        repos.push(repo);
    }

    let config = json!({"auths": {host.clone(): {"username": "ci", "password": "s3cret"}}});
    let template = "Automation {{ .AutomationObject }}\n{{ range $resource, $changes := .Changed.Objects -}}\n- {{ $resource.Kind }} {{ $resource.Name }}:{{ range $changes }} {{ .OldValue }} -> {{ .NewValue }}{{ end }}\n{{ end -}}\nFiles: {{ range $file, $_ := .Changed.FileChanges }}{{ $file }} {{ end }}";
    let repository = |name: &str, spec: Value| {
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
               "metadata": {"name": name}, "spec": spec})
    };
    let policy = |name: &str, spec: Value| {
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
               "metadata": {"name": name}, "spec": spec})
    };
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
               "type": "kubernetes.io/dockerconfigjson",
               "stringData": {".dockerconfigjson": config.to_string()}}),
        repository(
            "app",
            json!({"image": format!("{host}/team/app"), "insecure": true, "interval": "1h",
                   "secretRef": {"name": "regcred"}}),
        ),
        repository(
            "num",
            json!({"image": format!("{host}/team/num"), "insecure": true, "interval": "1h",
                   "secretRef": {"name": "regcred"}}),
        ),
        repository(
            "excluded",
            json!({"image": format!("{host}/team/app"), "insecure": true, "interval": "1h",
                   "secretRef": {"name": "regcred"}, "exclusionList": ["^1\\.", "^latest$"]}),
        ),
        repository(
            "anonymous",
            json!({"image": format!("{host}/team/app"), "insecure": true, "interval": "1h"}),
        ),
        repository(
            "tagged",
            json!({"image": format!("{host}/team/app:1.0.0"), "insecure": true, "interval": "1h"}),
        ),
        policy(
            "semver",
            json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}}),
        ),
        policy(
            "prerelease",
            json!({"imageRepositoryRef": {"name": "app"},
                   "policy": {"semver": {"range": ">=1.10.0-0"}}}),
        ),
        policy(
            "alpha",
            json!({"imageRepositoryRef": {"name": "app"},
                   "policy": {"alphabetical": {"order": "desc"}}}),
        ),
        policy(
            "extract",
            json!({"imageRepositoryRef": {"name": "app"},
                   "filterTags": {"pattern": "^v(?P<version>.*)$", "extract": "$version"},
                   "policy": {"semver": {"range": "1.x"}}}),
        ),
        policy(
            "numerical",
            json!({"imageRepositoryRef": {"name": "num"},
                   "policy": {"numerical": {"order": "asc"}}}),
        ),
        policy(
            "numerical-desc",
            json!({"imageRepositoryRef": {"name": "num"},
                   "policy": {"numerical": {"order": "desc"}}}),
        ),
        policy(
            "none-left",
            json!({"imageRepositoryRef": {"name": "app"},
                   "policy": {"semver": {"range": ">=9.0.0"}}}),
        ),
        policy(
            "bad-range",
            json!({"imageRepositoryRef": {"name": "app"},
                   "policy": {"semver": {"range": "not a range"}}}),
        ),
        policy(
            "ghost",
            json!({"imageRepositoryRef": {"name": "ghost"},
                   "policy": {"semver": {"range": ">=1.0.0"}}}),
        ),
    ];
    let mut per_namespace = Vec::new();
    for (namespace, repo) in [(&ours, &repos[0]), (&theirs, &repos[1])] {
        let mut list = objects.clone();
        list.push(
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet"},
            "spec": {"url": repo.url(), "interval": "1h", "ref": {"branch": "main"}}}),
        );
        per_namespace.push((namespace.clone(), list));
    }
    objects.clear();
    // Created once every policy settled on both sides, so that both
    // automations see the same policies on their first run.
    let automation_object = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "auto"},
        "spec": {"interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                 "git": {"commit": {"author": {"name": "Flux", "email": "flux@example.com"},
                                    "messageTemplate": template}},
                 "update": {"path": "./apps", "strategy": "Setters"}}});

    // The controllers: ours in one namespace, upstream's in the other.
    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    let reflector = tokio::spawn(flux_image_controller::run_reflector(
        ctx.clone(),
        Some(ours.clone()),
    ));
    let automation = tokio::spawn(flux_image_controller::run_automation(
        ctx.clone(),
        Some(ours.clone()),
    ));
    let upstream_dir = tempfile::tempdir().unwrap();
    let data = upstream_dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _upstream_reflector = UpstreamController::start(
        cp,
        "image-reflector-controller-upstream",
        &theirs,
        &upstream_dir.path().join("reflector.log"),
        &[
            format!("--storage-path={}", data.display()),
            "--feature-gates=FluxStorage=true".to_string(),
        ],
    )
    .expect("upstream image-reflector-controller (scripts/install-deps.sh)");
    let _upstream_automation = UpstreamController::start(
        cp,
        "image-automation-controller-upstream",
        &theirs,
        &upstream_dir.path().join("automation.log"),
        &[],
    )
    .expect("upstream image-automation-controller (scripts/install-deps.sh)");
    for (namespace, list) in &per_namespace {
        for object in list {
            flux_testenv::create_object(&client, namespace, object)
                .await
                .unwrap();
        }
    }

    let namespaces = (ours.as_str(), theirs.as_str());
    let mut differences = Vec::new();
    let (our_repos, their_repos): (Api<ImageRepository>, Api<ImageRepository>) = (
        Api::namespaced(client.clone(), &ours),
        Api::namespaced(client.clone(), &theirs),
    );
    // Each object waited for in the state it ends in (Ready or not), so
    // that neither side is caught on its way there.
    let ends = |ready: bool| {
        move |s: &Value| {
            settled(s)
                && s["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && (c["status"] == "True") == ready)
                })
        }
    };
    for (name, ready) in [
        ("app", true),
        ("num", true),
        ("excluded", true),
        ("anonymous", false),
        ("tagged", false),
    ] {
        let (a, b) = statuses(&our_repos, &their_repos, name, namespaces, ends(ready)).await;
        if a != b {
            differences.push(format!(
                "ImageRepository {name}:\n  ours:     {a}\n  upstream: {b}"
            ));
        }
    }
    let (our_policies, their_policies): (Api<ImagePolicy>, Api<ImagePolicy>) = (
        Api::namespaced(client.clone(), &ours),
        Api::namespaced(client.clone(), &theirs),
    );
    for (name, ready) in [
        ("semver", true),
        ("prerelease", true),
        ("alpha", true),
        ("extract", true),
        ("numerical", true),
        ("numerical-desc", true),
        ("none-left", false),
        ("bad-range", false),
        ("ghost", false),
    ] {
        let (a, b) = statuses(
            &our_policies,
            &their_policies,
            name,
            namespaces,
            ends(ready),
        )
        .await;
        if a != b {
            differences.push(format!(
                "ImagePolicy {name}:\n  ours:     {a}\n  upstream: {b}"
            ));
        }
    }
    for namespace in [&ours, &theirs] {
        flux_testenv::create_object(&client, namespace, &automation_object)
            .await
            .unwrap();
    }
    let (our_automations, their_automations): (
        Api<ImageUpdateAutomation>,
        Api<ImageUpdateAutomation>,
    ) = (
        Api::namespaced(client.clone(), &ours),
        Api::namespaced(client.clone(), &theirs),
    );
    let (a, b) = statuses(
        &our_automations,
        &their_automations,
        "auto",
        namespaces,
        // Settled once every policy that resolves (six) was applied.
        |s| {
            settled(s)
                && s.get("lastPushCommit").is_some()
                && s["observedPolicies"]
                    .as_object()
                    .is_some_and(|p| p.len() == 6)
        },
    )
    .await;
    if a != b {
        differences.push(format!(
            "ImageUpdateAutomation auto:\n  ours:     {a}\n  upstream: {b}"
        ));
    }
    // What was committed: the file, the message, the author.
    let mut commits = Vec::new();
    for (repo, namespace) in repos.iter().zip([&ours, &theirs]) {
        let bare = repo.bare_path();
        let file = flux_testenv::git(bare, &["show", "main:apps/web.yaml"]).unwrap();
        let log =
            flux_testenv::git(bare, &["log", "-1", "--format=%an <%ae>%n%B", "main"]).unwrap();
        commits.push((
            file.replace(namespace.as_str(), "NS"),
            log.replace(namespace.as_str(), "NS"),
        ));
    }
    if commits[0].1 != commits[1].1 {
        differences.push(format!(
            "commit message:\n  ours:     {:?}\n  upstream: {:?}",
            commits[0].1, commits[1].1
        ));
    }
    // The marked values agree; upstream re-serialises the file (kyaml
    // drops the quotes kept by ours), so the files are compared decoded.
    let decode = |text: &str| -> Vec<flux_yaml::Value> {
        flux_yaml::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    if decode(&commits[0].0) != decode(&commits[1].0) {
        differences.push(format!(
            "committed file:\n  ours:\n{}\n  upstream:\n{}",
            commits[0].0, commits[1].0
        ));
    }
    reflector.abort();
    automation.abort();
    assert!(
        differences.is_empty(),
        "{} differences from upstream:\n{}\nupstream's logs in {}",
        differences.len(),
        differences.join("\n"),
        upstream_dir.keep().display()
    );
    assert_ne!(
        commits[0].0,
        DEPLOYMENT.replace("HOST", &host),
        "the automation committed a change"
    );
}
