//! ImageRepository and ImagePolicy against a real control plane and a real
//! registry (the distribution registry, with htpasswd auth): tags pushed,
//! scanned with pagination past 1,000, `.sig` tags excluded by default,
//! stored in the FluxStorage layout, picked by each policy kind, digests
//! reflected; failures reported with upstream's reasons.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flux_api::image::v1::ImagePolicy;
use flux_api::image::v1::ImageRepository;
use flux_testenv::ControlPlane;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

async fn create(client: &Client, namespace: &str, object: Value) {
    flux_testenv::create_object(client, namespace, &object)
        .await
        .unwrap();
}

fn ready(conditions: &[flux_api::meta::Condition]) -> Option<(String, String, String)> {
    flux_runtime::conditions::get(conditions, "Ready").map(|c| {
        (
            format!("{:?}", c.status),
            c.reason.clone(),
            c.message.clone(),
        )
    })
}

async fn wait_repo(
    api: &Api<ImageRepository>,
    name: &str,
    check: impl Fn(&ImageRepository) -> bool,
) -> ImageRepository {
    flux_testenv::eventually_within(name, Duration::from_secs(120), || async {
        let r = api.get(name).await.ok()?;
        check(&r).then_some(r)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn wait_policy(
    api: &Api<ImagePolicy>,
    name: &str,
    check: impl Fn(&ImagePolicy) -> bool,
) -> ImagePolicy {
    flux_testenv::eventually_within(name, Duration::from_secs(120), || async {
        let r = api.get(name).await.ok()?;
        check(&r).then_some(r)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn policy_ready(p: &ImagePolicy) -> bool {
    p.status
        .as_ref()
        .and_then(|s| ready(&s.conditions))
        .is_some_and(|r| r.0 == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_scanned_and_policies_pick_the_newest() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("images").await.unwrap();
    let namespace = ns.name().to_string();
    let registry = flux_testenv::OciRegistry::start_with_basic_auth("ci", "s3cret").unwrap();
    let host = registry.host();
    // A small image, pushed under many tags: pagination past 1,000.
    let image = flux_testenv::Image::new();
    let mut pushed = Vec::new();
    for tag in [
        "1.0.0",
        "1.2.0",
        "v1.10.0",
        "1.9.3-rc.1",
        "2.0",
        "latest",
        "sha256-abc.sig",
    ] {
        pushed.push(
            image
                .push_with_auth(&host, "team/app", tag, ("ci", "s3cret"))
                .unwrap(),
        );
    }
    for i in 0..1100 {
        image
            .push_with_auth(&host, "team/many", &format!("0.0.{i}"), ("ci", "s3cret"))
            .unwrap();
    }
    let config = json!({"auths": {host.clone(): {"username": "ci", "password": "s3cret"}}});
    create(
        &client,
        &namespace,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcred"}, "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config.to_string()}}),
    )
    .await;
    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    let run = tokio::spawn(flux_image_controller::run_reflector(
        ctx.clone(),
        Some(namespace.clone()),
    ));

    let repos: Api<ImageRepository> = Api::namespaced(client.clone(), &namespace);
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    for (name, path) in [("app", "team/app"), ("many", "team/many")] {
        create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": name}, "spec": {"image": format!("{host}/{path}"), "interval": "1h",
            "insecure": true, "secretRef": {"name": "regcred"}}})).await;
    }
    create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "anonymous"}, "spec": {"image": format!("{host}/team/app"), "interval": "1h",
        "insecure": true}})).await;
    create(&client, &namespace, json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "tagged"}, "spec": {"image": format!("{host}/team/app:1.0.0"), "interval": "1h"}})).await;
    create(
        &client,
        &namespace,
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "ecr"}, "spec": {"image": format!("{host}/team/app"), "interval": "1h",
        "insecure": true, "provider": "aws"}}),
    )
    .await;

    let app = wait_repo(&repos, "app", |r| {
        r.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some_and(|r| r.0 == "True")
    })
    .await;
    let status = app.status.unwrap();
    let scan = status.last_scan_result.unwrap();
    assert_eq!(scan.tag_count, 6, "the .sig tag is excluded by default");
    assert_eq!(
        scan.latest_tags,
        ["v1.10.0", "latest", "2.0", "1.9.3-rc.1", "1.2.0", "1.0.0"]
    );
    let stored = std::fs::read_to_string(
        storage
            .path()
            .join(format!("imagerepository/{namespace}/app/tags.txt")),
    )
    .unwrap();
    assert_eq!(stored, "v1.10.0\nlatest\n2.0\n1.9.3-rc.1\n1.2.0\n1.0.0\n");
    let revision = scan.revision.unwrap();
    assert_eq!(
        ready(&status.conditions).unwrap(),
        (
            "True".to_string(),
            "Succeeded".to_string(),
            format!("successful scan: found 6 tags with checksum {revision}")
        )
    );
    assert_eq!(
        status.canonical_image_name.unwrap(),
        format!("{host}/team/app")
    );
    assert_eq!(status.observed_exclusion_list, ["^.*\\.sig$"]);

    let many = wait_repo(&repos, "many", |r| {
        r.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some_and(|r| r.0 == "True")
    })
    .await;
    assert_eq!(
        many.status.unwrap().last_scan_result.unwrap().tag_count,
        1100
    );
    // Gzip from 64 KiB on: 1,100 short tags stay plain.
    assert!(
        storage
            .path()
            .join(format!("imagerepository/{namespace}/many/tags.txt"))
            .exists()
    );

    let anonymous = wait_repo(&repos, "anonymous", |r| {
        r.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some_and(|r| r.0 == "False")
    })
    .await;
    let (_, reason, message) = ready(&anonymous.status.unwrap().conditions).unwrap();
    assert_eq!(reason, "ReadOperationFailed");
    assert!(message.starts_with("scan failed: "), "{message}");
    assert!(!message.contains("s3cret"));
    // A cloud provider: said plainly, no anonymous scan.
    let ecr = wait_repo(&repos, "ecr", |r| {
        r.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some_and(|r| r.0 == "False")
    })
    .await;
    assert_eq!(
        ready(&ecr.status.unwrap().conditions).unwrap(),
        (
            "False".to_string(),
            "AuthenticationFailed".to_string(),
            "failed to configure authentication options: failed to get credential from aws: cloud provider credentials are not supported by this controller yet; use secretRef".to_string()
        )
    );
    let tagged = wait_repo(&repos, "tagged", |r| {
        r.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some()
    })
    .await;
    let (_, reason, message) = ready(&tagged.status.unwrap().conditions).unwrap();
    assert_eq!(reason, "ImageURLInvalid");
    assert_eq!(
        message,
        format!("image '{host}/team/app:1.0.0' should not include a tag; remove ':1.0.0'")
    );

    // Policies.
    let policy = |name: &str, spec: Value| {
        let mut spec = spec;
        spec["imageRepositoryRef"] = json!({"name": "app"});
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
               "metadata": {"name": name}, "spec": spec})
    };
    create(
        &client,
        &namespace,
        policy(
            "semver",
            json!({"policy": {"semver": {"range": ">=1.0.0"}}}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "pre",
            json!({"policy": {"semver": {"range": ">=1.9.0-0 <1.10.0"}}}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "alpha",
            json!({"policy": {"alphabetical": {"order": "asc"}}}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "num",
            json!({"policy": {"numerical": {"order": "asc"}},
        "filterTags": {"pattern": "^1\\.(?P<minor>[0-9]+)\\.0$", "extract": "$minor"}}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "digest",
            json!({"policy": {"semver": {"range": "1.2.x"}},
        "digestReflectionPolicy": "IfNotPresent"}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "bad",
            json!({"policy": {"semver": {"range": "not a range"}}}),
        ),
    )
    .await;
    create(
        &client,
        &namespace,
        policy(
            "always",
            json!({"policy": {"semver": {"range": "*"}},
        "digestReflectionPolicy": "Always", "interval": "1h"}),
        ),
    )
    .await;

    let tag = |p: &ImagePolicy| {
        p.status
            .as_ref()
            .and_then(|s| s.latest_ref.clone())
            .map(|r| r.tag)
    };
    let semver = wait_policy(&policies, "semver", policy_ready).await;
    assert_eq!(tag(&semver).unwrap(), "v1.10.0");
    assert_eq!(
        ready(&semver.status.unwrap().conditions).unwrap().2,
        format!("Latest image tag for {host}/team/app resolved to v1.10.0")
    );
    assert_eq!(
        tag(&wait_policy(&policies, "pre", policy_ready).await).unwrap(),
        "1.9.3-rc.1"
    );
    assert_eq!(
        tag(&wait_policy(&policies, "alpha", policy_ready).await).unwrap(),
        "v1.10.0"
    );
    assert_eq!(
        tag(&wait_policy(&policies, "num", policy_ready).await).unwrap(),
        "1.2.0"
    );
    let digest = wait_policy(&policies, "digest", policy_ready).await;
    let latest = digest.status.unwrap().latest_ref.unwrap();
    assert_eq!(latest.tag, "1.2.0");
    assert_eq!(latest.digest.unwrap(), pushed[1].digest);
    let bad = wait_policy(&policies, "bad", |p| {
        p.status
            .as_ref()
            .and_then(|s| ready(&s.conditions))
            .is_some()
    })
    .await;
    let (_, reason, message) = ready(&bad.status.unwrap().conditions).unwrap();
    assert_eq!(reason, "InvalidPolicy");
    assert!(message.starts_with("invalid policy: "), "{message}");
    // `Always` without an interval is refused by the CRD's own rule;
    // with one, the digest is reflected on every reconcile.
    let always = wait_policy(&policies, "always", policy_ready).await;
    let latest = always.status.unwrap().latest_ref.unwrap();
    assert_eq!(latest.tag, "v1.10.0");
    assert_eq!(latest.digest.unwrap(), pushed[2].digest);

    // A new tag, and a reconcile request: the policy follows, with the
    // previous reference in its message.
    image
        .push_with_auth(&host, "team/app", "1.11.0", ("ci", "s3cret"))
        .unwrap();
    let requests_before = ctx
        .registry_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    repos
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    let semver = wait_policy(&policies, "semver", |p| tag(p).as_deref() == Some("1.11.0")).await;
    let status = semver.status.unwrap();
    assert_eq!(status.observed_previous_ref.unwrap().tag, "v1.10.0");
    assert_eq!(
        ready(&status.conditions).unwrap().2,
        format!(
            "Latest image tag for {host}/team/app resolved to 1.11.0 (previously {host}/team/app:v1.10.0)"
        )
    );
    assert_eq!(
        ctx.registry_requests
            .load(std::sync::atomic::Ordering::Relaxed)
            - requests_before,
        1,
        "one tag listing for the requested scan"
    );
    run.abort();
}

/// Each interval costs one tag listing per repository: the reconciler's
/// own status writes do not wake it into scanning again from a cached
/// status older than the one it wrote (it did, five to seven times per
/// interval, with a few repositories at once). Counted from the
/// registry's access log over three scans of each of six repositories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tag_listing_per_interval() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("interval").await.unwrap();
    let namespace = ns.name().to_string();
    let registry = flux_testenv::OciRegistry::start().unwrap();
    let host = registry.host();
    let image = flux_testenv::Image::new();
    const REPOSITORIES: usize = 6;
    for i in 0..REPOSITORIES {
        image.push(&host, &format!("tick/app{i}"), "1.0.0").unwrap();
    }
    let storage = tempfile::tempdir().unwrap();
    let ctx = Arc::new(flux_image_controller::Context::new(
        client.clone(),
        storage.path(),
    ));
    let run = tokio::spawn(flux_image_controller::run_reflector(
        ctx.clone(),
        Some(namespace.clone()),
    ));
    for i in 0..REPOSITORIES {
        create(
            &client,
            &namespace,
            json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": format!("app{i}")},
            "spec": {"image": format!("{host}/tick/app{i}"), "insecure": true, "interval": "3s"}}),
        )
        .await;
    }
    let repos: Api<ImageRepository> = Api::namespaced(client.clone(), &namespace);
    // Every scan time each repository reports, until each has three.
    let mut seen: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); REPOSITORIES];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !seen.iter().all(|t| t.len() >= 3) {
        assert!(
            std::time::Instant::now() < deadline,
            "three scans each not seen in 120 s: {seen:?}"
        );
        for (i, times) in seen.iter_mut().enumerate() {
            let Ok(repo) = repos.get(&format!("app{i}")).await else {
                continue;
            };
            if let Some(t) = repo
                .status
                .and_then(|s| s.last_scan_result)
                .and_then(|r| r.scan_time)
            {
                times.insert(t.0.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    run.abort();
    let _ = run.await;
    let requests = registry.requests().unwrap();
    for (i, times) in seen.iter().enumerate() {
        let listings = requests
            .iter()
            .filter(|r| r.starts_with(&format!("GET /v2/tick/app{i}/tags/list")))
            .count();
        // The scans seen, and at most one more that had not written its
        // status yet when the controller stopped.
        assert!(
            listings >= times.len() && listings <= times.len() + 1,
            "app{i}: {listings} tag listings for {} scans seen ({times:?})",
            times.len()
        );
    }
}
