//! `flux create/get/suspend/resume/reconcile/export/delete` of Providers,
//! Alerts and Receivers against a real API server with our notification
//! controller running; every read command's output compared with
//! upstream's `flux` on the same objects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod support;

use std::path::Path;

use support::{ok, run, same_as_upstream};

use flux_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_objects_through_the_cli() {
    let cp = ControlPlane::shared().expect("control plane");
    cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
        .await
        .unwrap();
    let client = cp.client().unwrap();
    let ns = cp.namespace("cli-notify").await.unwrap();
    let namespace = ns.name().to_string();
    let kubeconfig = cp.kubeconfig_path().to_path_buf();
    let k = kubeconfig.as_path();

    let events = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks_url = format!("http://{}", hooks.local_addr().unwrap());
    let ctx = flux_notification_controller::Context::new(client.clone());
    let watched = namespace.clone();
    tokio::spawn(async move {
        flux_notification_controller::run(ctx, Some(&watched), events, Some(hooks)).await
    });

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = serde_json::from_value(serde_json::json!({"metadata": {"name": "webhook-token"},
        "stringData": {"token": "t0ken"}}))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

    let n = ["-n", namespace.as_str()];
    let with_ns = |args: &[&str]| -> Vec<String> {
        args.iter().chain(n.iter()).map(|s| s.to_string()).collect()
    };
    let call = |args: &[&str]| {
        let args = with_ns(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(k, &refs)
    };
    let compare = |args: &[&str]| {
        let args = with_ns(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        same_as_upstream(k, &refs)
    };

    let (_, stderr) = call(&[
        "create",
        "alert-provider",
        "slack",
        "--type=slack",
        "--channel=ops",
        "--address=https://hooks.slack.com/services/x",
        "--secret-ref=webhook-token",
    ]);
    assert!(
        stderr.contains("✔ Provider created") && stderr.contains("✔ Provider slack is ready"),
        "{stderr}"
    );
    let (_, stderr) = call(&[
        "create",
        "alert-provider",
        "slack",
        "--type=slack",
        "--channel=platform",
        "--address=https://hooks.slack.com/services/x",
    ]);
    assert!(stderr.contains("✔ Provider updated"), "{stderr}");
    let (_, stderr) = call(&[
        "create",
        "alert",
        "on-call",
        "--provider-ref=slack",
        "--event-source=Kustomization/*,HelmRelease/podinfo",
        "--event-severity=error",
    ]);
    assert!(stderr.contains("✔ Alert on-call is ready"), "{stderr}");
    let (_, stderr) = call(&[
        "create",
        "receiver",
        "github",
        "--type=github",
        "--event=push",
        "--secret-ref=webhook-token",
        "--resource=GitRepository/fleet",
    ]);
    assert!(stderr.contains("✔ Receiver github is ready"), "{stderr}");
    let digest = {
        let input = format!("t0kengithub{namespace}");
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(
        stderr.contains(&format!("✔ generated webhook URL /hook/{digest}")),
        "{stderr}"
    );

    let table = compare(&["get", "alert-providers"]);
    assert!(table.contains("Provider is Ready"), "{table}");
    compare(&["get", "alerts"]);
    let receivers = compare(&["get", "receivers"]);
    assert!(
        receivers.contains(&format!("Receiver initialized for path: /hook/{digest}")),
        "{receivers}"
    );
    compare(&["export", "alert-provider", "slack"]);
    compare(&["export", "alert", "--all"]);
    compare(&["export", "receiver", "github"]);

    let (_, stderr) = call(&["suspend", "alert", "on-call"]);
    assert!(stderr.contains("✔ alert suspended"), "{stderr}");
    let table = compare(&["get", "alerts"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("on-call") && l.split_whitespace().nth(1) == Some("True")),
        "suspended: {table}"
    );
    let (_, stderr) = call(&["resume", "alert", "on-call"]);
    assert!(
        stderr.contains("✔ alert resumed") && stderr.contains("Alert reconciliation completed"),
        "{stderr}"
    );
    call(&["suspend", "receiver", "github"]);
    compare(&["get", "receivers"]);
    let (_, stderr) = call(&["resume", "receiver", "github"]);
    assert!(
        stderr.contains("✔ Receiver reconciliation completed"),
        "{stderr}"
    );
    let (_, stderr) = call(&["reconcile", "receiver", "github"]);
    assert!(
        stderr.contains("Receiver reconciliation completed"),
        "{stderr}"
    );
    // `flux trigger receiver`, ours and upstream's, to a generic-hmac
    // Receiver: both accepted, worded alike, the resource annotated.
    let (_, stderr) = call(&[
        "create",
        "receiver",
        "hmac",
        "--type=generic-hmac",
        "--secret-ref=webhook-token",
        "--resource=GitRepository/fleet",
    ]);
    assert!(stderr.contains("✔ Receiver hmac is ready"), "{stderr}");
    let repos: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &kube::api::ApiResource {
            group: "source.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "source.toolkit.fluxcd.io/v1".into(),
            kind: "GitRepository".into(),
            plural: "gitrepositories".into(),
        },
    );
    repos.create(&PostParams::default(), &serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "fleet"},
        "spec": {"url": "https://example.com/fleet.git", "interval": "1h"}})).unwrap()).await.unwrap();
    let requested = || async {
        repos
            .get("fleet")
            .await
            .unwrap()
            .metadata
            .annotations
            .unwrap_or_default()
            .get("reconcile.fluxcd.io/requestedAt")
            .cloned()
    };
    let upstream = flux_testenv::tool("flux-upstream").unwrap();
    let trigger = with_ns(&[
        "trigger",
        "receiver",
        "hmac",
        "--type=generic-hmac",
        "--token=t0ken",
        &format!("--url={hooks_url}/"),
        "--payload={\"ref\":\"main\"}",
        "--retries=0",
    ]);
    let trigger: Vec<&str> = trigger.iter().map(String::as_str).collect();
    let mut outputs = Vec::new();
    for binary in [Path::new(env!("CARGO_BIN_EXE_flux")), upstream.as_path()] {
        let before = requested().await;
        let out = run(binary, k, &trigger);
        assert!(
            out.status.success(),
            "{binary:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8_lossy(&out.stderr).to_string());
        assert_ne!(
            requested().await,
            before,
            "{binary:?} triggered a reconciliation"
        );
    }
    assert_eq!(outputs[0], outputs[1], "ours (left), upstream's (right)");
    // A wrong token: both fail alike (400, not retried).
    let wrong = with_ns(&[
        "trigger",
        "receiver",
        "hmac",
        "--type=generic-hmac",
        "--token=wrong",
        &format!("--url={hooks_url}"),
        "--retries=0",
    ]);
    let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();
    let ours = run(Path::new(env!("CARGO_BIN_EXE_flux")), k, &wrong);
    let theirs = run(&upstream, k, &wrong);
    assert!(!ours.status.success() && !theirs.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );

    let (_, stderr) = call(&["delete", "alert", "on-call", "--silent"]);
    assert!(stderr.contains("✔ alert deleted"), "{stderr}");
    let (_, stderr) = call(&["delete", "alert-provider", "slack", "--silent"]);
    assert!(stderr.contains("✔ alert-provider deleted"), "{stderr}");
}
