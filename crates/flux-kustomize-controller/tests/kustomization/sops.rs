use flux_api::kustomize::v1::Kustomization;
use flux_testenv::GitHttpServer;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sops_decryption() {
    let (_, ns, client, _storage) = test_bed("sops").await;
    let n = ns.name();
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_key(keys.path(), "flux");
    let (stranger, _) = age_key(keys.path(), "stranger");

    // The real sops encrypts the Secret's data.
    let plain = keys.path().join("secret.yaml");
    std::fs::write(
        &plain,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: s3cr3t-value\n",
    )
    .unwrap();
    let out = std::process::Command::new(flux_testenv::tool("sops").unwrap())
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encrypted = String::from_utf8(out.stdout).unwrap();
    assert!(!encrypted.contains("s3cr3t-value"));

    // A secretGenerator reading an encrypted dotenv and binary file.
    let sops_file = |name: &str, content: &[u8]| {
        let path = keys.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = std::process::Command::new(flux_testenv::tool("sops").unwrap())
            .args(["--encrypt", "--age", &recipient])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let app_env = sops_file("app.env", b"USER=admin\nPASSWORD=env-s3cr3t\n");
    let tls_key = sops_file("tls.key", b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n");

    let git = GitHttpServer::start().unwrap();
    let remote = git.create_repo("secrets").unwrap();
    remote.write("secrets/db.yaml", &encrypted).unwrap();
    remote.write("generated/app.env", &app_env).unwrap();
    remote.write("generated/tls.key", &tls_key).unwrap();
    remote
        .write(
            "generated/kustomization.yaml",
            "secretGenerator:\n- name: app\n  envs:\n  - app.env\n  files:\n  - tls.key\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
        )
        .unwrap();
    let head = remote.commit("encrypted secret").unwrap();
    let repos: Api<flux_api::source::v1::GitRepository> = Api::namespaced(client.clone(), n);
    create_fleet(&repos, remote.url(), "1m").await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), n);
    for (name, key) in [("sops-age", &identity), ("wrong-age", &stranger)] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "stringData": {"age.agekey": key}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), n);
    let create = |name: &str, decryption: serde_json::Value| {
        let mut spec = json!({
            "interval": "10m",
            "retryInterval": "2s",
            "path": "./secrets",
            "prune": true,
            "targetNamespace": n,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}
        });
        if !decryption.is_null() {
            spec["decryption"] = decryption;
        }
        serde_json::from_value::<Kustomization>(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name},
            "spec": spec
        }))
        .unwrap()
    };
    let failure = |name: &'static str| {
        let api = kustomizations.clone();
        async move {
            eventually(&format!("{name} BuildFailed"), || async {
                let k = api.get(name).await.ok()?;
                let condition = ready(&k)?;
                (condition.reason == "BuildFailed").then_some(condition.message.clone())
            })
            .await
        }
    };

    // Without decryption: refused, nothing applied.
    kustomizations
        .create(
            &PostParams::default(),
            &create("plain", serde_json::Value::Null),
        )
        .await
        .unwrap();
    let message = failure("plain").await;
    assert!(
        message.contains("is SOPS encrypted, configuring decryption is required"),
        "{message}"
    );

    // With a stranger's key: refused with a clear message, no secret in it.
    kustomizations
        .create(
            &PostParams::default(),
            &create(
                "wrong",
                json!({"provider": "sops", "secretRef": {"name": "wrong-age"}}),
            ),
        )
        .await
        .unwrap();
    let message = failure("wrong").await;
    assert!(message.contains("cannot get sops data key"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(
        secrets.get_opt("db").await.unwrap().is_none(),
        "nothing applied"
    );

    // With the right key: applied decrypted.
    kustomizations
        .create(
            &PostParams::default(),
            &create(
                "right",
                json!({"provider": "sops", "secretRef": {"name": "sops-age"}}),
            ),
        )
        .await
        .unwrap();
    wait_applied(&kustomizations, "right", &format!("main@sha1:{head}")).await;
    let db = secrets.get("db").await.unwrap();
    let password = db.data.unwrap()["password"].0.clone();
    assert_eq!(password, b"s3cr3t-value");

    // Generator inputs in SOPS's dotenv and binary formats.
    let mut generated = create(
        "generated",
        json!({"provider": "sops", "secretRef": {"name": "sops-age"}}),
    );
    generated.spec.path = Some("./generated".to_string());
    kustomizations
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    wait_applied(&kustomizations, "generated", &format!("main@sha1:{head}")).await;
    let app = secrets.get("app").await.unwrap().data.unwrap();
    assert_eq!(app["USER"].0, b"admin");
    assert_eq!(app["PASSWORD"].0, b"env-s3cr3t");
    assert_eq!(
        app["tls.key"].0,
        b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
    );
}

/// A new age key from the real `age-keygen`: (identity file, recipient).
fn age_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(format!("{name}.agekey"));
    let out = std::process::Command::new(flux_testenv::tool("age-keygen").unwrap())
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (text, recipient)
}
