//! Install → Ready with history; values change → upgrade; a chart version
//! change → upgrade; `helm` sees every revision; deletion uninstalls.

use flux_api::meta::ConditionStatus;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_upgrade_and_uninstall() {
    let bed = Bed::new("hr-life").await;
    let ns = bed.ns.name().to_string();
    bed.create("web", json!({"values": {"greeting": "hi"}}))
        .await;
    let hr = bed
        .wait_ready("web", ConditionStatus::True, "InstallSucceeded")
        .await;
    let status = hr.status.clone().unwrap();
    let ready = condition(&hr, "Ready").unwrap();
    assert_eq!(
        ready.message,
        format!("Helm install succeeded for release {ns}/web.v1 with chart app@1.0.0")
    );
    assert_eq!(status.history.len(), 1);
    let snap = &status.history[0];
    assert_eq!((snap.version, snap.status.as_str()), (1, "deployed"));
    assert_eq!(snap.action.as_deref(), Some("install"));
    assert_eq!(snap.api_version.as_deref(), Some("v2"));
    assert!(snap.digest.starts_with("sha256:"));
    assert_eq!(
        status.helm_chart.as_deref(),
        Some(format!("{ns}/{ns}-web").as_str())
    );
    assert_eq!(status.storage_namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(status.last_attempted_revision.as_deref(), Some("1.0.0"));
    let inventory: Vec<String> = status
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        inventory,
        [
            format!("{ns}_web-config__ConfigMap"),
            format!("{ns}_web-web_apps_Deployment")
        ]
    );
    // The objects carry Helm's and Flux's marks, and the Deployment is
    // available (the install waited for it).
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    let cm = cms.get("web-config").await.unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["greeting"], "hi");
    let labels = cm.metadata.labels.clone().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(labels["helm.toolkit.fluxcd.io/name"], "web");
    assert_eq!(labels["helm.toolkit.fluxcd.io/namespace"], ns);
    assert_eq!(
        cm.metadata.annotations.as_ref().unwrap()["meta.helm.sh/release-name"],
        "web"
    );
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), &ns);
    let web = deployments.get("web-web").await.unwrap();
    assert_eq!(web.status.and_then(|s| s.available_replicas), Some(1));
    // The real helm reads the release.
    assert_eq!(
        bed.history("web"),
        [(1, "deployed".to_string(), "Install complete".to_string())]
    );
    let values: serde_json::Value =
        serde_json::from_str(&bed.helm(&["get", "values", "web", "-o", "json"])).unwrap();
    assert_eq!(values, json!({"greeting": "hi"}));

    // Values change → upgrade.
    bed.patch_spec("web", json!({"values": {"greeting": "hello again"}}))
        .await;
    let hr = bed
        .wait_for("web", "upgraded to v2", |hr| {
            condition(hr, "Ready").is_some_and(|c| {
                c.reason == "UpgradeSucceeded" && c.status == ConditionStatus::True
            })
        })
        .await;
    let history = hr.status.unwrap().history;
    assert_eq!(
        history
            .iter()
            .map(|s| (s.version, s.status.as_str()))
            .collect::<Vec<_>>(),
        [(2, "deployed"), (1, "superseded")]
    );
    let cm = cms.get("web-config").await.unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["greeting"], "hello again");
    assert_eq!(cm.data.as_ref().unwrap()["revision"], "2");
    assert_eq!(
        bed.history("web"),
        [
            (1, "superseded".to_string(), "Install complete".to_string()),
            (2, "deployed".to_string(), "Upgrade complete".to_string())
        ]
    );

    // A chart version change → upgrade to 1.1.0; an interval with nothing
    // new writes no revision.
    bed.patch_spec("web", json!({"chart": {"spec": {"version": "1.1.0"}}}))
        .await;
    let hr = bed
        .wait_for("web", "chart 1.1.0", |hr| {
            hr.status
                .as_ref()
                .and_then(|s| s.history.first())
                .is_some_and(|s| s.chart_version == "1.1.0" && s.status == "deployed")
        })
        .await;
    assert_eq!(hr.status.unwrap().history[0].version, 3);
    bed.annotate("web", json!({"reconcile.fluxcd.io/requestedAt": "again"}))
        .await;
    bed.wait_for("web", "request handled", |hr| {
        hr.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("again")
    })
    .await;
    assert_eq!(bed.history("web").len(), 3);

    // Deletion uninstalls: objects, release records and the HelmChart go.
    bed.api()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(bed.client.clone(), &ns);
    flux_testenv::eventually("release records deleted", || async {
        let list = secrets
            .list(&ListParams::default().labels("owner=helm,name=web"))
            .await
            .ok()?;
        list.items.is_empty().then_some(())
    })
    .await
    .unwrap();
    flux_testenv::eventually("objects deleted", || async {
        cms.get_opt("web-config")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    let charts: Api<flux_api::source::v1::HelmChart> = Api::namespaced(bed.client.clone(), &ns);
    flux_testenv::eventually("HelmChart deleted", || async {
        charts
            .get_opt(&format!("{ns}-web"))
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
}

/// `test.enable`: the test Pod runs after the install and its result is in
/// `TestSuccess`, Ready and the history; a failing test with
/// `ignoreFailures` leaves the release Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tests_run_after_a_release() {
    let bed = Bed::new("hr-test").await;
    let ns = bed.ns.name().to_string();
    bed.create("tested", json!({"test": {"enable": true}}))
        .await;
    let hr = bed
        .wait_ready("tested", ConditionStatus::True, "TestSucceeded")
        .await;
    assert_eq!(
        condition(&hr, "Ready").unwrap().message,
        format!(
            "Helm test succeeded for release {ns}/tested.v1 with chart app@1.0.0: 1 test hook completed successfully"
        )
    );
    let snap = hr.status.unwrap().history[0].clone();
    let hooks = snap.test_hooks.unwrap();
    assert_eq!(hooks["tested-test"].phase.as_deref(), Some("Succeeded"));
    assert!(hooks["tested-test"].last_completed.is_some());

    bed.patch_spec(
        "tested",
        json!({"values": {"testFail": true}, "test": {"enable": true, "ignoreFailures": true}}),
    )
    .await;
    let hr = bed
        .wait_for("tested", "test failed and ignored", |hr| {
            condition(hr, "TestSuccess").is_some_and(|c| c.reason == "TestFailed")
                && hr.status.as_ref().and_then(|s| s.observed_generation) == hr.metadata.generation
        })
        .await;
    let ready = condition(&hr, "Ready").unwrap();
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::True, "UpgradeSucceeded"),
        "{hr:#?}"
    );
    let snap = hr.status.unwrap().history[0].clone();
    assert_eq!(snap.version, 2);
    assert_eq!(
        snap.test_hooks.unwrap()["tested-test"].phase.as_deref(),
        Some("Failed")
    );
}

/// Drift detection: `warn` reports the changed fields in the event and the
/// `Drifted` condition; an `ignore` rule hides a field; `enabled` puts the
/// cluster back, without a new Helm revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_with_its_fields_and_corrected() {
    let bed = Bed::new("hr-drift").await;
    let ns = bed.ns.name().to_string();
    bed.create("web", json!({"driftDetection": {"mode": "warn"}}))
        .await;
    bed.wait_ready("web", ConditionStatus::True, "InstallSucceeded")
        .await;
    let hr = bed
        .wait_for("web", "no drift", |hr| {
            condition(hr, "Drifted").is_some_and(|c| c.reason == "NoDriftDetected")
        })
        .await;
    assert_eq!(
        condition(&hr, "Drifted").unwrap().status,
        ConditionStatus::False
    );
    // Someone edits the ConfigMap and scales the Deployment by hand.
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    cms.patch(
        "web-config",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"data": {"greeting": "edited"}})),
    )
    .await
    .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), &ns);
    deployments
        .patch(
            "web-web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    bed.annotate("web", json!({"reconcile.fluxcd.io/requestedAt": "drift-1"}))
        .await;
    let hr = bed
        .wait_for("web", "drift detected", |hr| {
            condition(hr, "Drifted").is_some_and(|c| c.status == ConditionStatus::True)
        })
        .await;
    let message = condition(&hr, "Drifted").unwrap().message.clone();
    assert!(
        message.starts_with(&format!(
            "Cluster state of release {ns}/web.v1 has drifted from the desired state:\n"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "ConfigMap/{ns}/web-config changed (0 additions, 1 changes, 0 removals)"
        )),
        "{message}"
    );
    assert!(
        message.contains("  ~ /data/greeting: \"edited\" -> \"hello\""),
        "{message}"
    );
    assert!(message.contains("  ~ /spec/replicas: 2 -> 1"), "{message}");
    let events = event_messages(&bed, "DriftDetected").await;
    assert!(
        events.iter().any(|e| e.contains("/spec/replicas: 2 -> 1")),
        "{events:?}"
    );
    // warn: nothing was changed back.
    assert_eq!(
        cms.get("web-config").await.unwrap().data.unwrap()["greeting"],
        "edited"
    );

    // An ignore rule hides the replicas; enabled corrects the rest.
    bed.patch_spec(
        "web",
        json!({"driftDetection": {"mode": "enabled", "ignore": [
            {"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}
        ]}}),
    )
    .await;
    let hr = bed
        .wait_for("web", "drift corrected", |hr| {
            condition(hr, "Drifted").is_some_and(|c| c.status == ConditionStatus::False)
                && hr.status.as_ref().and_then(|s| s.observed_generation) == hr.metadata.generation
        })
        .await;
    assert_eq!(
        cms.get("web-config").await.unwrap().data.unwrap()["greeting"],
        "hello"
    );
    let scaled = deployments.get("web-web").await.unwrap();
    assert_eq!(
        scaled.spec.unwrap().replicas,
        Some(2),
        "ignored, so left alone"
    );
    let corrected = event_messages(&bed, "DriftCorrected").await;
    assert!(
        corrected
            .iter()
            .any(|e| e.contains(&format!("ConfigMap/{ns}/web-config configured"))),
        "{corrected:?}"
    );
    assert_eq!(hr.status.unwrap().history.len(), 1, "no new revision");
    assert_eq!(bed.history("web").len(), 1);
}

/// On its interval, a release nothing touched is left alone without a
/// status write (upstream writes Reconciling and Ready again every time);
/// a release changed outside Flux (`helm upgrade` by hand) is noticed on
/// the next interval and upgraded back to what the HelmRelease says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_release_is_left_alone_and_a_foreign_upgrade_reverted() {
    let bed = Bed::new("hr-steady").await;
    let ns = bed.ns.name().to_string();
    bed.create(
        "steady",
        json!({"interval": "2s", "values": {"greeting": "from-flux"}}),
    )
    .await;
    bed.wait_ready("steady", ConditionStatus::True, "InstallSucceeded")
        .await;
    // Let the last writes of the install settle, then watch several
    // intervals pass.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let before = bed.api().get("steady").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let after = bed.api().get("steady").await.unwrap();
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "an unchanged interval reconciliation wrote the status: {:#?}",
        after.status
    );
    assert_eq!(bed.history("steady").len(), 1);

    // Upgraded outside Flux: the next interval sees a release it did not
    // make and upgrades it back.
    let chart = format!("{}/app-1.0.0.tgz", bed.repo.root().display());
    bed.helm(&[
        "upgrade",
        "steady",
        &chart,
        "--set",
        "greeting=by-hand",
        "--wait",
        "--timeout",
        "120s",
    ]);
    let hr = bed
        .wait_for("steady", "upgraded back after the foreign upgrade", |hr| {
            hr.status
                .as_ref()
                .and_then(|s| s.history.first())
                .is_some_and(|s| s.version == 3 && s.status == "deployed")
        })
        .await;
    assert_eq!(condition(&hr, "Ready").unwrap().reason, "UpgradeSucceeded");
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    let cm = cms.get("steady-config").await.unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["greeting"], "from-flux");
    assert_eq!(
        bed.history("steady")
            .iter()
            .map(|h| h.1.as_str())
            .collect::<Vec<_>>(),
        ["superseded", "superseded", "deployed"]
    );
}

/// HelmReleases written as `v2beta2` and `v2beta1` (still served, stored
/// as v2 without conversion, as upstream's CRD does) are reconciled like v2
/// ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_api_versions_are_reconciled() {
    let bed = Bed::new("hr-beta").await;
    let ns = bed.ns.name().to_string();
    for (name, version) in [("beta2", "v2beta2"), ("beta1", "v2beta1")] {
        let resource = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "helm.toolkit.fluxcd.io",
            version,
            "HelmRelease",
        ));
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(bed.client.clone(), &ns, &resource);
        let object = serde_json::from_value(json!({
            "apiVersion": format!("helm.toolkit.fluxcd.io/{version}"),
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": {
                "interval": "1h",
                "chart": {"spec": {"chart": "app", "version": "1.0.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
                "values": {"greeting": version}
            }
        }))
        .unwrap();
        api.create(&kube::api::PostParams::default(), &object)
            .await
            .unwrap();
        bed.wait_ready(name, ConditionStatus::True, "InstallSucceeded")
            .await;
        let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
        let cm = cms.get(&format!("{name}-config")).await.unwrap();
        assert_eq!(cm.data.unwrap()["greeting"], version);
    }
}
