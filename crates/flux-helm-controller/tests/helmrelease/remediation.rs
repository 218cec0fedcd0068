//! A failing hook, remediated by rollback until the retries run out; a
//! release left pending is unlocked; a release `helm install` made is
//! adopted.

use flux_api::meta::ConditionStatus;
use serde_json::json;

use crate::support::*;

/// upstream's e2e `upgrade-fail-remediate`: an upgrade whose post-upgrade
/// hook fails is rolled back (`Rollback to 1`); with `retries: 1` the
/// second failure is rolled back too and the release stalls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upgrades_are_rolled_back_until_retries_run_out() {
    let bed = Bed::new("hr-remediate").await;
    bed.create(
        "app",
        json!({
            "values": {"hook": {"enabled": true}},
            "upgrade": {"remediation": {"retries": 1}},
            "timeout": "60s"
        }),
    )
    .await;
    bed.wait_ready("app", ConditionStatus::True, "InstallSucceeded")
        .await;
    bed.patch_spec(
        "app",
        json!({"values": {"hook": {"enabled": true, "fail": true}}}),
    )
    .await;
    let hr = bed
        .wait_for("app", "Stalled RetriesExceeded", |hr| {
            condition(hr, "Stalled").is_some_and(|c| c.reason == "RetriesExceeded")
        })
        .await;
    let status = hr.status.clone().unwrap();
    assert_eq!(status.upgrade_failures, Some(2), "{status:#?}");
    let stalled = condition(&hr, "Stalled").unwrap();
    assert_eq!(stalled.message, "Failed to upgrade after 2 attempt(s)");
    let ready = condition(&hr, "Ready").unwrap();
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "RollbackSucceeded")
    );
    let history = bed.history("app");
    let descriptions: Vec<&str> = history.iter().map(|h| h.2.as_str()).collect();
    assert_eq!(descriptions[0], "Install complete", "{history:?}");
    assert!(
        descriptions[1].starts_with("Upgrade \"app\" failed: post-upgrade hooks failed"),
        "{history:?}"
    );
    assert_eq!(descriptions[2], "Rollback to 1");
    assert!(
        descriptions[3].starts_with("Upgrade \"app\" failed"),
        "{history:?}"
    );
    assert_eq!(descriptions[4], "Rollback to 3");
    assert_eq!(history.last().map(|h| h.1.as_str()), Some("deployed"));

    // `resetAt` with a reconcile request: the counters restart, the
    // upgrade is attempted (and remediated) again.
    bed.annotate(
        "app",
        json!({"reconcile.fluxcd.io/requestedAt": "reset-1", "reconcile.fluxcd.io/resetAt": "reset-1"}),
    )
    .await;
    let hr = bed
        .wait_for("app", "reset handled and stalled again", |hr| {
            hr.status.as_ref().is_some_and(|s| {
                s.last_handled_reset_at.as_deref() == Some("reset-1")
                    && s.last_handled_reconcile_at.as_deref() == Some("reset-1")
            }) && condition(hr, "Stalled").is_some_and(|c| c.reason == "RetriesExceeded")
        })
        .await;
    assert_eq!(hr.status.unwrap().upgrade_failures, Some(2));
    assert_eq!(bed.history("app").len(), 5, "maxHistory keeps 5 records");

    // The fix: a new generation restarts the counters and the upgrade
    // succeeds.
    bed.patch_spec(
        "app",
        json!({"values": {"hook": {"enabled": true, "fail": false}}}),
    )
    .await;
    let hr = bed
        .wait_ready("app", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert!(condition(&hr, "Stalled").is_none());
    assert_eq!(hr.status.unwrap().upgrade_failures, None);
}

/// `RetryOnFailure`: a failed upgrade is retried after `retryInterval`,
/// never rolled back; `forceAt` (with the same reconcile request) upgrades
/// a release that is in sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_on_failure_retries_and_force_upgrades() {
    let bed = Bed::new("hr-retry").await;
    bed.create(
        "app",
        json!({
            "values": {"hook": {"enabled": true}},
            "upgrade": {"strategy": {"name": "RetryOnFailure", "retryInterval": "3s"}},
            "timeout": "60s"
        }),
    )
    .await;
    bed.wait_ready("app", ConditionStatus::True, "InstallSucceeded")
        .await;
    bed.patch_spec(
        "app",
        json!({"values": {"hook": {"enabled": true, "fail": true}}}),
    )
    .await;
    let hr = bed
        .wait_for("app", "two failed upgrades, waiting to retry", |hr| {
            hr.status
                .as_ref()
                .is_some_and(|s| s.upgrade_failures.unwrap_or(0) >= 2)
                && condition(hr, "Reconciling").is_some_and(|c| c.reason == "ProgressingWithRetry")
        })
        .await;
    let reconciling = condition(&hr, "Reconciling").unwrap();
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    assert_eq!(reconciling.message, "retrying after 3s");
    assert!(condition(&hr, "Stalled").is_none());
    let history = bed.history("app");
    assert!(
        history.iter().all(|h| !h.2.starts_with("Rollback")),
        "no remediation: {history:?}"
    );
    assert!(
        history[1..]
            .iter()
            .all(|h| h.1 == "failed" && h.2.starts_with("Upgrade \"app\" failed")),
        "{history:?}"
    );

    // Fixed: the next retry succeeds and clears the counters.
    bed.patch_spec(
        "app",
        json!({"values": {"hook": {"enabled": true, "fail": false}}}),
    )
    .await;
    let hr = bed
        .wait_ready("app", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert_eq!(hr.status.as_ref().unwrap().upgrade_failures, None);
    let revision = hr.status.unwrap().history[0].version;

    // `forceAt`: an upgrade of a release in sync, handled once.
    bed.annotate(
        "app",
        json!({"reconcile.fluxcd.io/requestedAt": "force-1", "reconcile.fluxcd.io/forceAt": "force-1"}),
    )
    .await;
    let hr = bed
        .wait_for("app", "force handled", |hr| {
            hr.status.as_ref().is_some_and(|s| {
                s.last_handled_force_at.as_deref() == Some("force-1")
                    && s.history.first().is_some_and(|h| h.version > revision)
                    && condition(hr, "Reconciling").is_none()
            })
        })
        .await;
    let status = hr.status.unwrap();
    assert_eq!(status.history[0].version, revision + 1);
    assert_eq!(status.history[0].status, "deployed");
    let last = bed.history("app").last().cloned().unwrap();
    assert_eq!(
        (last.1.as_str(), last.2.as_str()),
        ("deployed", "Upgrade complete")
    );
}

/// A release left `pending-upgrade` (a controller killed mid-upgrade) is
/// unlocked and upgraded by the next reconciliation; a release `helm
/// install` made (not in the history) is adopted by an upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_releases_are_unlocked_and_foreign_ones_adopted() {
    let bed = Bed::new("hr-unlock").await;
    let ns = bed.ns.name().to_string();
    // Adoption: helm installs first.
    let chart = format!("{}/app-1.0.0.tgz", bed.repo.root().display());
    bed.helm(&[
        "install",
        "adopted",
        &chart,
        "--set",
        "greeting=from-helm",
        "--wait",
        "--timeout",
        "120s",
    ]);
    bed.create("adopted", json!({"values": {"greeting": "from-flux"}}))
        .await;
    let hr = bed
        .wait_ready("adopted", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert_eq!(hr.status.unwrap().history[0].version, 2);
    assert_eq!(
        bed.history("adopted")
            .iter()
            .map(|h| h.1.as_str())
            .collect::<Vec<_>>(),
        ["superseded", "deployed"]
    );

    // A stale lock: the newest record is marked pending-upgrade by hand.
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(bed.client.clone(), &ns);
    let secret = secrets.get("sh.helm.release.v1.adopted.v2").await.unwrap();
    let mut release = flux_helm_controller::storage::decode(&secret).unwrap();
    release.info.status = "pending-upgrade".into();
    flux_helm_controller::storage::Storage::new(bed.client.clone(), &ns)
        .update(&release)
        .await
        .unwrap();
    bed.annotate(
        "adopted",
        json!({"reconcile.fluxcd.io/requestedAt": "unlock"}),
    )
    .await;
    let hr = bed
        .wait_for("adopted", "unlocked and upgraded", |hr| {
            hr.status
                .as_ref()
                .and_then(|s| s.history.first())
                .is_some_and(|s| s.version == 3 && s.status == "deployed")
        })
        .await;
    let history = bed.history("adopted");
    assert_eq!(history[1].1, "failed");
    assert_eq!(
        history[1].2,
        "Release unlocked from stale 'pending-upgrade' state"
    );
    assert_eq!(history[2].1, "deployed");
    assert_eq!(
        condition(&hr, "Ready").unwrap().status,
        ConditionStatus::True
    );
}

/// `dependsOn`: a HelmRelease waits (`DependencyNotReady`) until the one it
/// depends on is Ready, then installs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_waits_for_its_dependencies() {
    let bed = Bed::new("hr-deps").await;
    let ns = bed.ns.name().to_string();
    // The dependency asks for a chart version the repository lacks.
    bed.create(
        "base",
        json!({"chart": {"spec": {"chart": "app", "version": "9.9.9",
        "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}),
    )
    .await;
    bed.create("top", json!({"dependsOn": [{"name": "base"}]}))
        .await;
    let hr = bed
        .wait_for("top", "waiting for base", |hr| {
            condition(hr, "Ready").is_some_and(|c| c.reason == "DependencyNotReady")
        })
        .await;
    assert_eq!(
        condition(&hr, "Ready").unwrap().message,
        format!("dependency '{ns}/base' is not ready")
    );
    assert!(
        hr.status.unwrap().history.is_empty(),
        "nothing installed yet"
    );
    bed.patch_spec("base", json!({"chart": {"spec": {"version": "1.0.0"}}}))
        .await;
    bed.wait_ready("base", ConditionStatus::True, "InstallSucceeded")
        .await;
    bed.wait_ready("top", ConditionStatus::True, "InstallSucceeded")
        .await;
}

/// `serviceAccountName`: the release is made as that ServiceAccount, so
/// what it may not do fails (here: Deployments), with the API server's
/// refusal naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_are_made_as_the_service_account() {
    let bed = Bed::new("hr-sa").await;
    let ns = bed.ns.name().to_string();
    let objects = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "config-only"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["*"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "deployer-config-only"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "config-only"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}]}),
    ];
    for object in objects {
        let (group, version) = object["apiVersion"]
            .as_str()
            .unwrap()
            .split_once('/')
            .unwrap_or(("", "v1"));
        let resource = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            group,
            version,
            object["kind"].as_str().unwrap(),
        ));
        let api: kube::Api<kube::api::DynamicObject> =
            kube::Api::namespaced_with(bed.client.clone(), &ns, &resource);
        api.create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(object).unwrap(),
        )
        .await
        .unwrap();
    }
    bed.create(
        "limited",
        json!({"serviceAccountName": "deployer", "timeout": "30s"}),
    )
    .await;
    let hr = bed
        .wait_ready("limited", ConditionStatus::False, "InstallFailed")
        .await;
    let message = condition(&hr, "Ready").unwrap().message.clone();
    assert!(
        message.contains("forbidden")
            && message.contains(&format!("system:serviceaccount:{ns}:deployer")),
        "{message}"
    );
    // What it may do was done as it: the release record exists, failed.
    let history = bed.history("limited");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].1, "failed");
}
