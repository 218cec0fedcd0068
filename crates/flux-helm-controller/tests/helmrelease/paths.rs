//! The paths the issue lists that the other files do not walk: an upgrade
//! remediated by uninstall, the CRD policies, a release rolled back by hand,
//! post-renderers with `commonMetadata`, deleting a suspended release, and
//! deleting the namespace of a release.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flux_api::meta::ConditionStatus;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

use crate::support::*;

/// An upgrade whose hook fails, with `upgrade.remediation.strategy:
/// uninstall`, is remediated by uninstalling the release (`Remediated`
/// `UninstallSucceeded`, upstream's message); the next attempt installs
/// again, and once the values are fixed that release is upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_remediated_by_uninstall_starts_again_from_an_install() {
    let bed = Bed::new("hr-uninstall-remediate").await;
    let ns = bed.ns.name().to_string();
    bed.create(
        "app",
        json!({
            "values": {"hook": {"enabled": true}},
            "upgrade": {"remediation": {"retries": 1, "strategy": "uninstall"}},
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
    let messages = flux_testenv::eventually_within(
        "the uninstall remediation event",
        Duration::from_secs(180),
        || async {
            let found = event_messages(&bed, "UninstallSucceeded").await;
            (!found.is_empty()).then_some(found)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        messages[0],
        format!(
            "Helm uninstall remediation for release {ns}/app.v2 with chart app@1.0.0 succeeded"
        )
    );
    // The remediation uninstalled the release: no deployed record is left
    // until the next install.
    let failed = event_messages(&bed, "UpgradeFailed").await;
    assert!(
        failed
            .iter()
            .any(|m| m.contains("post-upgrade hooks failed")),
        "{failed:?}"
    );

    // The next reconcile installs again, with the hook still failing; the
    // fix is made only once that install failed, or it would race it.
    flux_testenv::eventually_within(
        "the install after the remediation",
        Duration::from_secs(180),
        || async {
            let found = event_messages(&bed, "InstallFailed").await;
            found
                .iter()
                .any(|m| m.contains("failed post-install"))
                .then_some(())
        },
    )
    .await
    .unwrap();

    bed.patch_spec(
        "app",
        json!({"values": {"hook": {"enabled": true, "fail": false}}}),
    )
    .await;
    let hr = bed
        .wait_for("app", "Ready after the fix", |hr| {
            condition(hr, "Ready").is_some_and(|c| c.status == ConditionStatus::True)
                && hr.status.as_ref().and_then(|s| s.observed_generation) == hr.metadata.generation
        })
        .await;
    // The uninstall removed the records: revision 1 is the install made
    // after it (with the hook still failing, not remediated: no install
    // retries), and the fix upgrades that failed release.
    let history = bed.history("app");
    let summary: Vec<(i64, &str)> = history.iter().map(|h| (h.0, h.1.as_str())).collect();
    assert_eq!(summary, [(1, "failed"), (2, "deployed")], "{history:?}");
    assert!(history[0].2.contains("failed post-install"), "{history:?}");
    assert_eq!(condition(&hr, "Ready").unwrap().reason, "UpgradeSucceeded");
    assert!(condition(&hr, "Stalled").is_none());
}

/// A chart whose `crds/` holds the CRD of `Gadget`; versions from 0.3.0 on
/// give it the short name `gd`. The templates hold only a ConfigMap, so a
/// release installs whatever the CRD policy did.
fn write_gadget_chart(dir: &Path, version: &str) -> PathBuf {
    let chart = dir.join(format!("gadgets-{version}"));
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::create_dir_all(chart.join("crds")).unwrap();
    let short = if version >= "0.3.0" {
        "    shortNames: [gd]\n"
    } else {
        ""
    };
    let files = [
        (
            "Chart.yaml".to_string(),
            format!("apiVersion: v2\nname: gadgets\nversion: {version}\n"),
        ),
        (
            "crds/gadget.yaml".to_string(),
            format!(
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\nspec:\n  group: example.com\n  names:\n    kind: Gadget\n    plural: gadgets\n{short}  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
            ),
        ),
        (
            "templates/config.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-gadgets\ndata:\n  version: {{ .Chart.Version | quote }}\n".to_string(),
        ),
    ];
    for (file, text) in files {
        std::fs::write(chart.join(file), text).unwrap();
    }
    chart
}

/// The CRD policies: `install.crds: Skip` leaves the chart's CRD out;
/// `upgrade.crds: Create` creates it; the upgrade default (`Skip`) leaves
/// a changed CRD as it is; `CreateReplace` updates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_policies_skip_create_and_replace() {
    let bed = Bed::new("hr-crd-policy").await;
    let sources = tempfile::tempdir().unwrap();
    for version in ["0.1.0", "0.2.0", "0.3.0", "0.4.0"] {
        bed.repo
            .add_chart(&write_gadget_chart(sources.path(), version))
            .unwrap();
    }
    let repos: Api<flux_api::source::v1::HelmRepository> =
        Api::namespaced(bed.client.clone(), bed.ns.name());
    repos
        .create(
            &Default::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "gadgets"},
                "spec": {"url": bed.repo.url(), "interval": "1h"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let chart = |version: &str| {
        json!({"spec": {"chart": "gadgets", "version": version,
            "sourceRef": {"kind": "HelmRepository", "name": "gadgets"}}})
    };
    let crds: Api<CustomResourceDefinition> = Api::all(bed.client.clone());
    let short_names = || async {
        crds.get_opt("gadgets.example.com")
            .await
            .unwrap()
            .map(|crd| crd.spec.names.short_names.unwrap_or_default())
    };

    bed.create(
        "gadgets",
        json!({"chart": chart("0.1.0"), "install": {"crds": "Skip"}}),
    )
    .await;
    bed.wait_ready("gadgets", ConditionStatus::True, "InstallSucceeded")
        .await;
    assert_eq!(short_names().await, None, "Skip created the CRD");

    bed.patch_spec(
        "gadgets",
        json!({"chart": chart("0.2.0"), "upgrade": {"crds": "Create"}}),
    )
    .await;
    bed.wait_ready("gadgets", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert_eq!(short_names().await, Some(vec![]), "Create made the CRD");

    bed.patch_spec(
        "gadgets",
        json!({"chart": chart("0.3.0"), "upgrade": {"crds": null}}),
    )
    .await;
    let hr = bed
        .wait_ready("gadgets", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert_eq!(
        hr.status.unwrap().last_attempted_revision.as_deref(),
        Some("0.3.0")
    );
    assert_eq!(
        short_names().await,
        Some(vec![]),
        "the upgrade default (Skip) changed the CRD"
    );

    bed.patch_spec(
        "gadgets",
        json!({"chart": chart("0.4.0"), "upgrade": {"crds": "CreateReplace"}}),
    )
    .await;
    bed.wait_ready("gadgets", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    assert_eq!(short_names().await, Some(vec!["gd".to_string()]));
    bed.api()
        .delete("gadgets", &Default::default())
        .await
        .unwrap();
}

/// A release rolled back with `helm rollback` outside Flux no longer
/// matches the last release the controller made: the next reconciliation
/// upgrades it back to the HelmRelease's values, with post-renderers and
/// `commonMetadata` applied to what it releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_rolled_back_by_hand_is_upgraded_again() {
    let bed = Bed::new("hr-rolled-back").await;
    let ns = bed.ns.name().to_string();
    bed.create(
        "app",
        json!({
            "values": {"greeting": "one"},
            "commonMetadata": {"labels": {"team": "platform"}, "annotations": {"owner": "sre"}},
            "postRenderers": [{"kustomize": {"patches": [{
                "target": {"kind": "ConfigMap"},
                "patch": "- op: add\n  path: /data/rendered\n  value: post\n"
            }]}}]
        }),
    )
    .await;
    bed.wait_ready("app", ConditionStatus::True, "InstallSucceeded")
        .await;
    bed.patch_spec("app", json!({"values": {"greeting": "two"}}))
        .await;
    bed.wait_ready("app", ConditionStatus::True, "UpgradeSucceeded")
        .await;
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    let cm = cms.get("app-config").await.unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(
        (data["greeting"].as_str(), data["rendered"].as_str()),
        ("two", "post")
    );
    assert_eq!(cm.metadata.labels.unwrap()["team"], "platform");
    assert_eq!(cm.metadata.annotations.unwrap()["owner"], "sre");

    bed.helm(&["rollback", "app", "1", "--wait"]);
    let greeting = cms.get("app-config").await.unwrap().data.unwrap()["greeting"].clone();
    assert_eq!(greeting, "one");
    bed.annotate(
        "app",
        json!({"reconcile.fluxcd.io/requestedAt": "after-rollback"}),
    )
    .await;
    let hr = bed
        .wait_for("app", "upgraded after the rollback", |hr| {
            hr.status.as_ref().is_some_and(|s| {
                s.last_handled_reconcile_at.as_deref() == Some("after-rollback")
                    && s.history.first().is_some_and(|h| h.version == 4)
            }) && condition(hr, "Ready").is_some_and(|c| c.status == ConditionStatus::True)
        })
        .await;
    assert_eq!(condition(&hr, "Ready").unwrap().reason, "UpgradeSucceeded");
    let descriptions: Vec<String> = bed.history("app").into_iter().map(|h| h.2).collect();
    assert_eq!(
        descriptions,
        [
            "Install complete",
            "Upgrade complete",
            "Rollback to 1",
            "Upgrade complete"
        ]
    );
    let data = cms.get("app-config").await.unwrap().data.unwrap();
    assert_eq!(
        (data["greeting"].as_str(), data["rendered"].as_str()),
        ("two", "post")
    );
}

/// Deleting a suspended HelmRelease removes only the object: the release,
/// its records and its objects stay (upstream skips the uninstall).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_suspended_release_keeps_what_it_installed() {
    let bed = Bed::new("hr-suspend-delete").await;
    let ns = bed.ns.name().to_string();
    bed.create("kept", json!({})).await;
    bed.wait_ready("kept", ConditionStatus::True, "InstallSucceeded")
        .await;
    bed.patch_spec("kept", json!({"suspend": true})).await;
    bed.api()
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    let api = bed.api();
    flux_testenv::eventually("the HelmRelease gone", || async {
        api.get_opt("kept").await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(bed.client.clone(), &ns);
    assert!(cms.get_opt("kept-config").await.unwrap().is_some());
    let history = bed.history("kept");
    assert_eq!(
        history.iter().map(|h| h.1.as_str()).collect::<Vec<_>>(),
        ["deployed"]
    );
}

/// Deleting the namespace of a release does not hang on the HelmRelease's
/// finalizer: the release is uninstalled in the terminating namespace and
/// the namespace goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_namespace_of_a_release_completes() {
    let bed = Bed::new("hr-ns-delete").await;
    let ns = bed.ns.name().to_string();
    bed.create("doomed", json!({})).await;
    bed.wait_ready("doomed", ConditionStatus::True, "InstallSucceeded")
        .await;
    let namespaces: Api<Namespace> = Api::all(bed.client.clone());
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(bed.client.clone(), &ns);
    let gone =
        flux_testenv::eventually_within("the namespace gone", Duration::from_secs(180), || async {
            namespaces.get_opt(&ns).await.ok()?.is_none().then_some(())
        })
        .await;
    if let Err(e) = gone {
        let left = secrets
            .list(&ListParams::default().labels("owner=helm"))
            .await
            .map(|l| l.items.len());
        let hr = bed.api().get_opt("doomed").await;
        panic!("{e}; helm records left: {left:?}; HelmRelease: {hr:#?}");
    }
}
