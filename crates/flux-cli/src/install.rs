//! The install manifests (`flux install --export`, `gotk-components.yaml`),
//! applying them, and telling whether the controllers run.
//!
//! Upstream's layout, names and RBAC, with every controller Deployment
//! running the one `fluxd` image with `--controllers=<name>` (or a single
//! Deployment with `--all-in-one`).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cli::InstallOptions;
use crate::client::{Ctx, Error, describe};
use crate::output;

/// `--components` when not given: the controllers `fluxd` implements today.
pub const DEFAULT_COMPONENTS: &str =
    "source-controller,kustomize-controller,helm-controller,notification-controller";

/// `--registry` when not given.
pub const DEFAULT_REGISTRY: &str = "flux-rs";

/// The field manager of objects the CLI applies.
pub const FIELD_MANAGER: &str = "flux";

/// Every upstream component, and its `fluxd --controllers` name.
const COMPONENTS: [(&str, &str); 7] = [
    ("source-controller", "source"),
    ("source-watcher", "source-watcher"),
    ("kustomize-controller", "kustomize"),
    ("helm-controller", "helm"),
    ("notification-controller", "notification"),
    ("image-reflector-controller", "image-reflector"),
    ("image-automation-controller", "image-automation"),
];

/// The CRDs (by plural) each component serves.
fn crds_of(component: &str) -> &'static [&'static str] {
    match component {
        "source-controller" => &[
            "gitrepositories",
            "ocirepositories",
            "helmrepositories",
            "helmcharts",
            "buckets",
            "externalartifacts",
        ],
        "source-watcher" => &["artifactgenerators"],
        "kustomize-controller" => &["kustomizations"],
        "helm-controller" => &["helmreleases"],
        "notification-controller" => &["providers", "alerts", "receivers"],
        "image-reflector-controller" => &["imagerepositories", "imagepolicies"],
        "image-automation-controller" => &["imageupdateautomations"],
        _ => &[],
    }
}

/// The selected components, checked: `--components` plus `--components-extra`.
pub fn components(requested: &[String], extra: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for name in requested.iter().chain(extra).map(|c| c.trim()) {
        if name.is_empty() || out.iter().any(|c| c == name) {
            continue;
        }
        match COMPONENTS.iter().find(|(c, _)| *c == name) {
            None => {
                return Err(format!(
                    "component {name} is not supported (one of {})",
                    COMPONENTS.map(|(c, _)| c).join(", ")
                )
                .into());
            }
            Some(_) => out.push(name.to_string()),
        }
    }
    if out.is_empty() {
        return Err("no components selected".into());
    }
    Ok(out)
}

fn controller_flag(component: &str) -> &'static str {
    COMPONENTS
        .iter()
        .find(|(c, _)| *c == component)
        .map_or("source", |(_, f)| *f)
}

/// The manifests for `namespace`, in apply order.
pub fn manifests(
    options: &InstallOptions,
    namespace: &str,
    components: &[String],
) -> Result<Vec<Value>, Error> {
    if options.log_level != "debug" && options.log_level != "info" && options.log_level != "error" {
        return Err(format!(
            "log level '{}' is not supported, can be one of: debug, info, error",
            options.log_level
        )
        .into());
    }
    let version = format!("v{}", crate::VERSION);
    let labels = |component: Option<&str>| {
        let mut l = json!({
            "app.kubernetes.io/instance": namespace,
            "app.kubernetes.io/part-of": "flux",
            "app.kubernetes.io/version": version,
        });
        if let Some(c) = component {
            l["app.kubernetes.io/component"] = json!(c);
        }
        l
    };
    let mut out = Vec::new();
    let mut ns_labels = labels(None);
    ns_labels["pod-security.kubernetes.io/warn"] = json!("restricted");
    ns_labels["pod-security.kubernetes.io/warn-version"] = json!("latest");
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": ns_labels},
    }));

    for component in components {
        for crd in flux_api::all_crds() {
            if !crds_of(component).contains(&crd.plural) {
                continue;
            }
            let mut value = crd.to_value();
            value["metadata"]["labels"] = labels(Some(component));
            out.push(value);
        }
    }

    out.push(json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": format!("critical-pods-{namespace}"), "namespace": namespace, "labels": labels(None)},
        "spec": {
            "hard": {"pods": "1000"},
            "scopeSelector": {"matchExpressions": [{
                "operator": "In",
                "scopeName": "PriorityClass",
                "values": ["system-node-critical", "system-cluster-critical"],
            }]},
        },
    }));
    let toolkit_groups = [
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io",
    ];
    let mut controller_rules: Vec<Value> = toolkit_groups
        .iter()
        .map(|g| json!({"apiGroups": [g], "resources": ["*"], "verbs": ["*"]}))
        .collect();
    controller_rules.extend([
        json!({"apiGroups": [""], "resources": ["namespaces", "secrets", "configmaps", "serviceaccounts"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}),
        json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]}),
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}),
        json!({"apiGroups": [""], "resources": ["configmaps/status"], "verbs": ["get", "update", "patch"]}),
        json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}),
        json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}),
        json!({"nonResourceURLs": ["/livez/ping"], "verbs": ["head"]}),
    ]);
    let accounts: Vec<String> = if options.all_in_one {
        vec!["fluxd".to_string()]
    } else {
        components.to_vec()
    };
    let subject =
        |name: &str| json!({"kind": "ServiceAccount", "name": name, "namespace": namespace});
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": format!("crd-controller-{namespace}"), "labels": labels(None)},
        "rules": controller_rules,
    }));
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("crd-controller-{namespace}"), "labels": labels(None)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("crd-controller-{namespace}")},
        "subjects": accounts.iter().map(|a| subject(a)).collect::<Vec<_>>(),
    }));
    let reconcilers: Vec<Value> = accounts
        .iter()
        .filter(|a| options.all_in_one || *a == "kustomize-controller" || *a == "helm-controller")
        .map(|a| subject(a))
        .collect();
    if !reconcilers.is_empty() {
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("cluster-reconciler-{namespace}"), "labels": labels(None)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": reconcilers,
        }));
    }
    let mut edit_labels = labels(None);
    edit_labels["rbac.authorization.k8s.io/aggregate-to-admin"] = json!("true");
    edit_labels["rbac.authorization.k8s.io/aggregate-to-edit"] = json!("true");
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": format!("flux-edit-{namespace}"), "labels": edit_labels},
        "rules": [{"apiGroups": toolkit_groups, "resources": ["*"], "verbs": ["create", "delete", "deletecollection", "patch", "update"]}],
    }));
    let mut view_labels = edit_labels.clone();
    view_labels["rbac.authorization.k8s.io/aggregate-to-view"] = json!("true");
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": format!("flux-view-{namespace}"), "labels": view_labels},
        "rules": [{"apiGroups": toolkit_groups, "resources": ["*"], "verbs": ["get", "list", "watch"]}],
    }));

    for account in &accounts {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": namespace, "labels": labels(Some(account))},
        }));
    }
    let source_app = if options.all_in_one {
        "fluxd"
    } else {
        "source-controller"
    };
    // The artifact servers: source-controller's, and source-watcher's for
    // the ExternalArtifacts it generates (one fluxd serves both with
    // --all-in-one).
    for (component, app) in [
        ("source-controller", source_app),
        (
            "source-watcher",
            if options.all_in_one {
                "fluxd"
            } else {
                "source-watcher"
            },
        ),
    ] {
        if components.iter().any(|c| c == component) {
            out.push(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": component, "namespace": namespace, "labels": labels(Some(component))},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app": app},
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
                },
            }));
        }
    }
    // The notification servers: events from the other controllers, and
    // webhooks for Receivers.
    if components.iter().any(|c| c == "notification-controller") {
        let app = if options.all_in_one {
            "fluxd"
        } else {
            "notification-controller"
        };
        for (service, port) in [
            ("notification-controller", "http-events"),
            ("webhook-receiver", "http-webhook"),
        ] {
            out.push(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, "namespace": namespace, "labels": labels(Some("notification-controller"))},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app": app},
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": port}],
                },
            }));
        }
    }
    let notifications = (!options.all_in_one
        && components.iter().any(|c| c == "notification-controller"))
    .then(|| {
        format!(
            "--events-addr=http://notification-controller.$(RUNTIME_NAMESPACE).svc.{}./",
            options.cluster_domain
        )
    });
    let deployments: Vec<(String, Vec<String>)> = if options.all_in_one {
        vec![(
            "fluxd".to_string(),
            components
                .iter()
                .map(|c| controller_flag(c).to_string())
                .collect(),
        )]
    } else {
        components
            .iter()
            .map(|c| (c.clone(), vec![controller_flag(c).to_string()]))
            .collect()
    };
    for (name, controllers) in &deployments {
        let mut deployment = deployment(options, namespace, name, controllers, &version, &labels);
        // Controllers in other Pods send their events to the Service.
        if let Some(events) = &notifications
            && !controllers.iter().any(|c| c == "notification")
            && let Some(args) =
                deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array_mut()
        {
            args.push(json!(events));
        }
        out.push(deployment);
    }
    if options.network_policy {
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-egress", "namespace": namespace, "labels": labels(None)},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{}],
            },
        }));
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-scraping", "namespace": namespace, "labels": labels(None)},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
            },
        }));
    }
    Ok(out)
}

fn deployment(
    options: &InstallOptions,
    namespace: &str,
    name: &str,
    controllers: &[String],
    version: &str,
    labels: &dyn Fn(Option<&str>) -> Value,
) -> Value {
    let runs_source = controllers.iter().any(|c| c == "source");
    // Both store and serve artifacts; fluxd's storage is shared when one
    // process runs both (advertised as source-controller's).
    let stores = runs_source || controllers.iter().any(|c| c == "source-watcher");
    let service = if runs_source {
        "source-controller"
    } else {
        "source-watcher"
    };
    let mut args = vec![
        format!("--controllers={}", controllers.join(",")),
        format!("--watch-all-namespaces={}", options.watch_all_namespaces),
        format!("--log-level={}", options.log_level),
        "--log-encoding=json".to_string(),
        "--enable-leader-election".to_string(),
        "--metrics-addr=:8080".to_string(),
        "--health-addr=:9440".to_string(),
    ];
    let mut ports = vec![
        json!({"containerPort": 8080, "name": "http-prom", "protocol": "TCP"}),
        json!({"containerPort": 9440, "name": "healthz", "protocol": "TCP"}),
    ];
    let mut mounts = vec![json!({"name": "temp", "mountPath": "/tmp"})];
    let mut volumes = vec![json!({"name": "temp", "emptyDir": {}})];
    if stores {
        args.push("--storage-path=/data".to_string());
        args.push(format!(
            "--storage-adv-addr={service}.$(RUNTIME_NAMESPACE).svc.{}.",
            options.cluster_domain
        ));
        ports.insert(
            0,
            json!({"containerPort": 9090, "name": "http", "protocol": "TCP"}),
        );
        mounts.push(json!({"name": "data", "mountPath": "/data"}));
        volumes.push(json!({"name": "data", "emptyDir": {}}));
    }
    if !stores && controllers.iter().any(|c| c == "image-reflector") {
        // The tag database (upstream's image-reflector-controller mounts
        // its `data` volume there too).
        args.push("--storage-path=/data".to_string());
        mounts.push(json!({"name": "data", "mountPath": "/data"}));
        volumes.push(json!({"name": "data", "emptyDir": {}}));
    }
    if controllers.iter().any(|c| c == "notification") {
        // One fluxd serving artifacts too keeps 9090 for them.
        let events = if stores { 9091 } else { 9090 };
        args.push(format!("--events-listen-addr=:{events}"));
        args.push("--receiver-addr=:9292".to_string());
        ports.push(json!({"containerPort": events, "name": "http-events", "protocol": "TCP"}));
        ports.push(json!({"containerPort": 9292, "name": "http-webhook", "protocol": "TCP"}));
    }
    let mut template_labels = labels(Some(name));
    template_labels["app"] = json!(name);
    let mut pod_spec = json!({
        "serviceAccountName": name,
        "priorityClassName": "system-cluster-critical",
        "terminationGracePeriodSeconds": 10,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "securityContext": {"fsGroup": 1337},
        "containers": [{
            "name": "manager",
            "image": format!("{}/fluxd:{version}", options.registry.trim_end_matches('/')),
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "env": [
                {"name": "RUNTIME_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            ],
            "ports": ports,
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "healthz"}},
            "resources": {
                "limits": {"cpu": "1000m", "memory": "1Gi"},
                "requests": {"cpu": "50m", "memory": "64Mi"},
            },
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    });
    if !options.image_pull_secret.is_empty() {
        pod_spec["imagePullSecrets"] = json!([{"name": options.image_pull_secret}]);
    }
    if !options.toleration_keys.is_empty() {
        pod_spec["tolerations"] = options
            .toleration_keys
            .iter()
            .map(|k| json!({"key": k, "operator": "Exists"}))
            .collect();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(Some(name))},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "strategy": if stores { json!({"type": "Recreate"}) } else { json!({"type": "RollingUpdate"}) },
            "template": {
                "metadata": {
                    "annotations": {"prometheus.io/port": "8080", "prometheus.io/scrape": "true"},
                    "labels": template_labels,
                },
                "spec": pod_spec,
            },
        },
    })
}

/// Multi-document YAML, each document after `---`, written as upstream's
/// `sigs.k8s.io/yaml` writes it (go-yaml v2: keys sorted, 80-column folding
/// rules, unindented sequences).
pub fn to_yaml(objects: &[Value]) -> Result<String, Error> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&flux_yaml::emit(&flux_kustomize::objects::json_to_value(
            object,
        )));
    }
    Ok(out)
}

/// The API resource of a manifest object (the kinds the CLI writes, and
/// the toolkit kinds).
pub fn resource_of(object: &Value) -> Result<(ApiResource, bool), Error> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "CustomResourceDefinition" => ("customresourcedefinitions", false),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "Service" => ("services", true),
        "Deployment" => ("deployments", true),
        "NetworkPolicy" => ("networkpolicies", true),
        "ResourceQuota" => ("resourcequotas", true),
        "Secret" => ("secrets", true),
        "ConfigMap" => ("configmaps", true),
        other => match crate::kinds::Kind::by_kind(other) {
            Some(k) => (k.plural, true),
            None => return Err(format!("unsupported kind {other} in the manifests").into()),
        },
    };
    Ok((
        ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
        },
        namespaced,
    ))
}

/// Server-side applies `objects` in order (CRDs waited for until
/// established), printing `Kind/name created|configured|unchanged`.
pub async fn apply(ctx: &Ctx, objects: &[Value]) -> Result<(), Error> {
    let mut crds = Vec::new();
    for object in objects {
        let (resource, namespaced) = resource_of(object)?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api: Api<DynamicObject> = if namespaced {
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&ctx.namespace);
            Api::namespaced_with(ctx.client.clone(), ns, &resource)
        } else {
            Api::all_with(ctx.client.clone(), &resource)
        };
        let before = api
            .get_opt(name)
            .await
            .map_err(|e| format!("{}/{name}: {}", resource.kind, describe(&e)))?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let after = api
            .patch(name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| format!("{}/{name} apply failed: {}", resource.kind, describe(&e)))?;
        let verb = match before {
            None => "created",
            Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
                "unchanged"
            }
            Some(_) => "configured",
        };
        let id = match object["metadata"]["namespace"].as_str() {
            Some(ns) if namespaced => format!("{}/{ns}/{name}", resource.kind),
            _ => format!("{}/{name}", resource.kind),
        };
        output::print(&format!("{id} {verb}\n"));
        if resource.kind == "CustomResourceDefinition" {
            crds.push(name.to_string());
        }
    }
    wait_established(ctx, &crds).await
}

async fn wait_established(ctx: &Ctx, names: &[String]) -> Result<(), Error> {
    let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(ctx.client.clone());
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    for name in names {
        loop {
            let crd = api.get(name).await.map_err(|e| describe(&e))?;
            if established(&crd) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "timeout waiting for CustomResourceDefinition {name} to be established"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Whether the API server serves the CRD (`Established=True`).
pub fn established(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// How a component runs right now, or why it does not.
pub async fn component_status(ctx: &Ctx, component: &str) -> Result<String, Error> {
    component_status_and_images(ctx, component)
        .await
        .map(|(how, _)| how)
}

/// [`component_status`], with the images of the ready Deployment's
/// containers (none for a controller running outside the cluster).
pub async fn component_status_and_images(
    ctx: &Ctx,
    component: &str,
) -> Result<(String, Vec<String>), Error> {
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let candidates = [component.to_string(), "fluxd".to_string()];
    let mut deployed = false;
    for name in &candidates {
        if let Ok(Some(d)) = deployments.get_opt(name).await {
            deployed = true;
            let status = d.status.unwrap_or_default();
            let spec = d.spec.unwrap_or_default();
            let wanted = spec.replicas.unwrap_or(1);
            if status.ready_replicas.unwrap_or(0) >= wanted && wanted > 0 {
                let images = spec
                    .template
                    .spec
                    .map(|p| p.containers.into_iter().filter_map(|c| c.image).collect())
                    .unwrap_or_default();
                return Ok(("deployment ready".to_string(), images));
            }
        }
    }
    // In the cluster, the Deployment is what runs the controller: a live
    // lease of a Pod that is not Ready yet does not count.
    if deployed {
        return Err("deployment not ready".into());
    }
    // Out of cluster (a local `fluxd`, as in the demo): a live leader lease.
    let short = controller_flag(component);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let list = leases
        .list(&ListParams::default())
        .await
        .map_err(|e| describe(&e))?;
    let now = k8s_openapi::jiff::Timestamp::now();
    for lease in list.items {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let Some(prefix) = name.strip_suffix("-controller-leader-election") else {
            continue;
        };
        if !prefix.split('-').any(|p| p == short) {
            continue;
        }
        let spec = lease.spec.unwrap_or_default();
        let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
        let fresh = spec
            .renew_time
            .as_ref()
            .is_some_and(|MicroTime(t)| now.as_second() - t.as_second() <= duration);
        if fresh {
            let holder = spec.holder_identity.unwrap_or_default();
            return Ok((
                format!("running (leader lease {name} held by {holder})"),
                Vec::new(),
            ));
        }
    }
    Err(format!(
        "no ready deployment and no live leader lease in namespace {}",
        ctx.namespace
    )
    .into())
}

/// Waits until every component runs (Deployment ready or a live leader
/// lease), printing each as upstream does.
pub async fn wait_components(ctx: &Ctx, components: &[String]) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    let mut pending: BTreeMap<&str, String> = components
        .iter()
        .map(|c| (c.as_str(), String::new()))
        .collect();
    loop {
        let names: Vec<&str> = pending.keys().copied().collect();
        for name in names {
            match component_status(ctx, name).await {
                Ok(how) => {
                    output::success(format!("{name}: {how}"));
                    pending.remove(name);
                }
                Err(why) => {
                    pending.insert(name, why.to_string());
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let (name, why) = pending
                .iter()
                .next()
                .map(|(n, w)| (n.to_string(), w.clone()))
                .unwrap_or_default();
            return Err(format!("{name}: {why}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
