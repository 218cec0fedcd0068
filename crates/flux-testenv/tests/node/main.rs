//! Proof that the node is a real one: Pods run from images of the local
//! registry, their logs read back, Services and cluster DNS work,
//! Deployments roll out and scale. One node for the whole binary.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // test code

use std::time::Duration;

use flux_testenv::{CLUSTER_DOMAIN, ControlPlane, Image, Node, eventually_within};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{LogParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// The error type of these tests.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Pods start in seconds, but image pulls and probes add up on 2 busy cores.
const POD_TIMEOUT: Duration = Duration::from_secs(120);

fn node() -> (&'static ControlPlane, &'static Node) {
    let cp = ControlPlane::shared_with_node().expect("the control plane with a node starts");
    let node = cp.node().expect("started with a node");
    eprintln!("node {} up in {:?}", node.name(), node.started_in());
    (cp, node)
}

fn pod(name: &str, image: &str, args: &[&str]) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": image, "args": args}],
        },
    }))
    .unwrap()
}

/// Waits until Pod `name` has finished, and returns its phase.
async fn finished(pods: &Api<Pod>, name: &str) -> String {
    eventually_within(&format!("Pod {name} to finish"), POD_TIMEOUT, || async {
        let phase = pods.get(name).await.ok()?.status?.phase?;
        matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase)
    })
    .await
    .unwrap()
}

async fn log(pods: &Api<Pod>, name: &str) -> String {
    pods.logs(name, &LogParams::default()).await.unwrap()
}

fn web_deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "web",
                        "image": image,
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
                    }],
                },
            },
        },
    }))
    .unwrap()
}

/// Waits until Deployment `name` has `replicas` updated, available replicas
/// of its latest generation.
async fn rolled_out(deployments: &Api<Deployment>, name: &str, replicas: i32) {
    eventually_within(
        &format!("Deployment {name} to roll out {replicas} replicas"),
        POD_TIMEOUT,
        || async {
            let d = deployments.get(name).await.ok()?;
            let status = d.status?;
            (status.observed_generation == d.metadata.generation
                && status.updated_replicas == Some(replicas)
                && status.available_replicas == Some(replicas)
                && status.replicas == Some(replicas))
            .then_some(())
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_pod_runs_and_its_log_is_read_back() -> TestResult {
    let (cp, node) = node();
    let ns = cp.namespace("node-log").await?;
    let pods: Api<Pod> = Api::namespaced(cp.client()?, ns.name());
    let image = node.image("web").unwrap();
    pods.create(
        &PostParams::default(),
        &pod("hello", image, &["print", "hello", "from", "a", "pod"]),
    )
    .await?;
    assert_eq!(finished(&pods, "hello").await, "Succeeded");
    assert_eq!(log(&pods, "hello").await, "hello from a pod\n");
    // The Pod ran on the node, with an address from its pod CIDR.
    let status = pods.get("hello").await?;
    assert_eq!(status.spec.unwrap().node_name.as_deref(), Some(node.name()));
    Ok(())
}

#[tokio::test]
async fn an_image_pushed_to_the_registry_is_pulled() -> TestResult {
    let (cp, node) = node();
    let ns = cp.namespace("node-image").await?;
    let marker = format!("built-here-{}", std::process::id());
    let pushed = Image::new()
        .host_file("/bin/web", &flux_testenv::tool("flux-testenv-web")?, 0o755)?
        .file("/etc/marker", marker.clone().into_bytes(), 0o644)
        .entrypoint(&["/bin/web"])
        .cmd(&["print", &marker])
        .push(&node.registry().host(), "tests/marker", "v1")?;
    assert_eq!(
        pushed.reference,
        format!("{}/tests/marker:v1", node.registry().host())
    );
    let pods: Api<Pod> = Api::namespaced(cp.client()?, ns.name());
    let mut p = pod("marker", &pushed.reference, &[]);
    p.spec.as_mut().unwrap().containers[0].args = None;
    pods.create(&PostParams::default(), &p).await?;
    assert_eq!(finished(&pods, "marker").await, "Succeeded");
    assert_eq!(log(&pods, "marker").await, format!("{marker}\n"));
    // The image the Pod ran is the one pushed, by digest.
    let status = pods.get("marker").await?.status.unwrap();
    let image_id = &status.container_statuses.unwrap()[0].image_id;
    assert!(
        image_id.ends_with(&pushed.digest),
        "{image_id} vs {}",
        pushed.digest
    );

    // A missing image is reported the way users see it.
    pods.create(
        &PostParams::default(),
        &pod(
            "missing",
            &format!("{}/tests/absent:v1", node.registry().host()),
            &[],
        ),
    )
    .await?;
    let reason = eventually_within("an image pull failure", POD_TIMEOUT, || async {
        let statuses = pods.get("missing").await.ok()?.status?.container_statuses?;
        let waiting = statuses.first()?.state.clone()?.waiting?;
        let reason = waiting.reason?;
        matches!(reason.as_str(), "ErrImagePull" | "ImagePullBackOff").then_some(reason)
    })
    .await?;
    assert!(reason.contains("ImagePull"), "{reason}");
    Ok(())
}

#[tokio::test]
async fn a_pod_reaches_a_cluster_ip_service_by_its_dns_name() -> TestResult {
    let (cp, node) = node();
    let ns = cp.namespace("node-dns").await?;
    let client: Client = cp.client()?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    let services: Api<Service> = Api::namespaced(client.clone(), ns.name());
    let pods: Api<Pod> = Api::namespaced(client, ns.name());
    deployments
        .create(
            &PostParams::default(),
            &web_deployment("web", node.image("web").unwrap(), 1),
        )
        .await?;
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }))?;
    let service = services.create(&PostParams::default(), &service).await?;
    let cluster_ip = service.spec.unwrap().cluster_ip.unwrap();
    assert!(cluster_ip.starts_with("10.0.0."), "{cluster_ip}");
    rolled_out(&deployments, "web", 1).await;

    // The fully qualified name, and the short one through the search path.
    for (name, url) in [
        (
            "fqdn",
            format!("http://web.{}.svc.{CLUSTER_DOMAIN}./", ns.name()),
        ),
        ("short", "http://web/".to_string()),
    ] {
        // kube-proxy programs the Service's rules a moment after its
        // endpoint is ready (longer on a loaded machine): until then the
        // ClusterIP refuses connections, and only that is tried again.
        let mut attempt = 0;
        let (phase, out) = loop {
            let pod_name = format!("{name}-{attempt}");
            pods.create(
                &PostParams::default(),
                &pod(&pod_name, node.image("web").unwrap(), &["get", &url]),
            )
            .await?;
            let phase = finished(&pods, &pod_name).await;
            let out = log(&pods, &pod_name).await;
            if phase == "Succeeded" || !out.contains("connection refused") || attempt == 9 {
                break (phase, out);
            }
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        assert_eq!(phase, "Succeeded", "{url}: {out}");
        assert_eq!(out, "hello from flux-testenv\n", "{url}");
    }
    // The web server logged both requests, from Pod addresses.
    let server = pods
        .list(&kube::api::ListParams::default().labels("app=web"))
        .await?
        .items
        .remove(0);
    let server_log = log(&pods, server.metadata.name.as_deref().unwrap()).await;
    assert_eq!(server_log.matches("GET /").count(), 2, "{server_log}");
    Ok(())
}

#[tokio::test]
async fn a_deployment_rolls_out_and_scales() -> TestResult {
    let (cp, node) = node();
    let ns = cp.namespace("node-rollout").await?;
    let client = cp.client()?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    let pods: Api<Pod> = Api::namespaced(client, ns.name());
    deployments
        .create(
            &PostParams::default(),
            &web_deployment("app", node.image("web").unwrap(), 1),
        )
        .await?;
    rolled_out(&deployments, "app", 1).await;

    // Scale up: three Pods run and are ready.
    deployments
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    rolled_out(&deployments, "app", 3).await;
    let running = pods
        .list(&kube::api::ListParams::default().labels("app=app"))
        .await?
        .items
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    assert_eq!(running, 3);

    // A new template rolls out: every replica is replaced.
    deployments
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}}),
            ),
        )
        .await?;
    rolled_out(&deployments, "app", 3).await;
    let revisions: Vec<String> = pods
        .list(&kube::api::ListParams::default().labels("app=app"))
        .await?
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.annotations?.get("rev").cloned())
        .collect();
    assert_eq!(revisions, vec!["2"; 3]);

    // Scale down to zero.
    deployments
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await?;
    eventually_within("the Pods to go", POD_TIMEOUT, || async {
        let left = pods
            .list(&kube::api::ListParams::default().labels("app=app"))
            .await
            .ok()?
            .items
            .len();
        (left == 0).then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_registry_answers_to_its_fixed_name() -> TestResult {
    let (cp, _node) = node();
    let ns = cp.namespace("node-alias").await?;
    let pods: Api<Pod> = Api::namespaced(cp.client()?, ns.name());
    let image = format!("{}/flux-testenv/web:1", flux_testenv::REGISTRY_ALIAS);
    pods.create(
        &PostParams::default(),
        &pod("alias", &image, &["print", "by alias"]),
    )
    .await?;
    assert_eq!(finished(&pods, "alias").await, "Succeeded");
    assert_eq!(log(&pods, "alias").await, "by alias\n");
    Ok(())
}
