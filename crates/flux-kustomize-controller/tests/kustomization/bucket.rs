use flux_api::kustomize::v1::Kustomization;
use flux_api::source::v1::Bucket;
use flux_testenv::S3Server;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::*;

fn config_map(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-bucket\ndata:\n  value: \"{value}\"\n"
    )
}

/// Objects written to a real S3-compatible server, read through a Bucket,
/// applied by a Kustomization; a changed object is applied as soon as the
/// Bucket has it (the Kustomization watches Buckets), and an object the
/// bucket no longer has is pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomization_from_a_bucket() {
    let (_, ns, client, _storage) = test_bed("ks-bucket").await;
    let s3 = S3Server::start("fleet-access", "fleet-secret-key").unwrap();
    s3.create_bucket("fleet").unwrap();
    s3.put("fleet", "apps/cm.yaml", config_map("one").as_bytes())
        .unwrap();
    s3.put(
        "fleet",
        "apps/extra.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
    )
    .unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "s3"},
                "stringData": {"accesskey": "fleet-access", "secretkey": "fleet-secret-key"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let buckets: Api<Bucket> = Api::namespaced(client.clone(), ns.name());
    buckets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "Bucket",
                "metadata": {"name": "fleet"},
                "spec": {"bucketName": "fleet", "endpoint": s3.endpoint(), "insecure": true,
                         "interval": "10m", "secretRef": {"name": "s3"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    kustomizations
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "apps"},
                "spec": {"interval": "10m", "path": "./apps", "prune": true,
                         "targetNamespace": ns.name(),
                         "sourceRef": {"kind": "Bucket", "name": "fleet"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let value = |cms: Api<ConfigMap>| async move {
        cms.get("from-bucket")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
    };
    eventually("the ConfigMap from the bucket", || async {
        (value(cms.clone()).await.as_deref() == Some("one")).then_some(())
    })
    .await;
    // Both objects come from one apply, one after the other: seeing the
    // first does not mean the second is there yet.
    eventually("the second ConfigMap from the bucket", || async {
        cms.get("extra").await.ok().map(|_| ())
    })
    .await;
    let first = eventually("the status records the bucket's revision", || async {
        let revision = kustomizations
            .get("apps")
            .await
            .ok()?
            .status?
            .last_applied_revision?;
        revision.starts_with("sha256:").then_some(revision)
    })
    .await;

    // A changed object and a deleted one: the Bucket is asked to look now,
    // the Kustomization follows on its own (its interval is ten minutes).
    s3.put("fleet", "apps/cm.yaml", config_map("two").as_bytes())
        .unwrap();
    s3.delete("fleet", "apps/extra.yaml").unwrap();
    buckets
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    eventually(
        "the new content applied, the removed object pruned",
        || async {
            (value(cms.clone()).await.as_deref() == Some("two") && cms.get("extra").await.is_err())
                .then_some(())
        },
    )
    .await;
    let bucket_revision = buckets
        .get("fleet")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap()
        .revision;
    assert_ne!(bucket_revision, first);
    eventually("the status records the new revision", || async {
        let revision = kustomizations
            .get("apps")
            .await
            .ok()?
            .status?
            .last_applied_revision?;
        (revision == bucket_revision).then_some(())
    })
    .await;
}
