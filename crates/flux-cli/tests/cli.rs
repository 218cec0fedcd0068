//! The `flux` binary against a real control plane, a real git server and
//! a real `fluxd`: bootstrap → change → reconcile, every read command's
//! output shape, and the error cases.
//!
//! One control plane per test binary; the end-to-end test owns the
//! `flux-system` namespace and ends with `flux uninstall`, so it is the
//! only test here that touches the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use flux_testenv::{ControlPlane, GitHttpServer, GitSshServer, HttpAuth, git};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

fn flux(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flux"))
        .env("KUBECONFIG", kubeconfig)
        .env_remove("FLUX_SYSTEM_NAMESPACE")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(kubeconfig: &Path, args: &[&str]) -> (String, String) {
    let out = flux(kubeconfig, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        out.status.success(),
        "flux {args:?} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// A failing command: exit code 1 and exactly one `✗` line on stderr.
fn fails(kubeconfig: &Path, args: &[&str]) -> String {
    let out = flux(kubeconfig, args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "flux {args:?}: {stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("✗ "), "flux {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    last.trim_start_matches("✗ ").to_string()
}

/// Runs `flux ARGS` and upstream's `flux ARGS` with the same kubeconfig and
/// requires upstream to succeed and both to print the same stdout.
fn same_as_upstream(upstream: &Path, kubeconfig: &Path, args: &[&str]) {
    let ours = flux(kubeconfig, args);
    let theirs = Command::new(upstream)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "upstream flux {args:?}: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "flux {args:?}: ours (left) and upstream's (right) differ"
    );
}

/// The `fluxd` image, built from the `fluxd` binary next to the `flux`
/// under test and pushed to the node's registry under the tag `flux install`
/// writes; returns the registry to pass as `--registry`.
fn push_fluxd_image(node: &flux_testenv::Node) -> String {
    let binary = Path::new(env!("CARGO_BIN_EXE_flux")).with_file_name("fluxd");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build -p fluxd)",
        binary.display()
    );
    let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
    flux_testenv::Image::program(&binary, "/usr/local/bin/fluxd")
        .unwrap()
        .push(&node.registry().host(), "fluxd", &tag)
        .unwrap();
    flux_testenv::REGISTRY_ALIAS.to_string()
}

fn fixture_files(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(root)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

#[test]
fn exports_work_offline_in_upstream_format() {
    let nowhere = Path::new("/nonexistent/kubeconfig");
    let (yaml, _) = ok(
        nowhere,
        &[
            "create",
            "source",
            "git",
            "podinfo",
            "--url=https://github.com/stefanprodan/podinfo",
            "--branch=master",
            "--export",
        ],
    );
    // As upstream's documentation prints it.
    assert_eq!(
        yaml,
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: master\n  url: https://github.com/stefanprodan/podinfo\n"
    );
    let (yaml, _) = ok(
        nowhere,
        &[
            "create",
            "kustomization",
            "podinfo",
            "--source=podinfo",
            "--path=./kustomize",
            "--prune=true",
            "--interval=60m",
            "--wait=true",
            "--health-check-timeout=3m",
            "--target-namespace=default",
            "--export",
        ],
    );
    assert_eq!(
        yaml,
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 1h0m0s\n  path: ./kustomize\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: podinfo\n  targetNamespace: default\n  timeout: 3m0s\n  wait: true\n"
    );

    // The install manifests: upstream's objects and names, fluxd inside.
    let (yaml, _) = ok(nowhere, &["install", "--export", "-n", "gitops"]);
    let docs: Vec<serde_json::Value> = yaml
        .split("\n---\n")
        .map(|d| serde_saphyr::from_str(d.trim_start_matches("---\n")).unwrap())
        .collect();
    let ids: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    for id in [
        "Namespace/gitops",
        "CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io",
        "CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io",
        "ClusterRole/crd-controller-gitops",
        "ClusterRoleBinding/cluster-reconciler-gitops",
        "ClusterRole/flux-edit-gitops",
        "ClusterRole/flux-view-gitops",
        "ServiceAccount/source-controller",
        "ServiceAccount/kustomize-controller",
        "Service/source-controller",
        "Deployment/source-controller",
        "Deployment/kustomize-controller",
        "NetworkPolicy/allow-egress",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
    }
    assert_eq!(ids[0], "Namespace/gitops", "the namespace comes first");
    let kc = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "kustomize-controller")
        .unwrap();
    let args = &kc["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "--controllers=kustomize");
    assert_eq!(
        kc["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "flux"
    );

    // Shell completions that the real bash accepts.
    let (script, _) = ok(nowhere, &["completion", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flux.bash");
    std::fs::write(&file, &script).unwrap();
    let registered = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p flux", file.display()))
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    assert!(String::from_utf8_lossy(&registered.stdout).contains("flux"));
    assert!(script.contains("bootstrap"), "subcommands are completed");

    // The exports, byte for byte against upstream's own `flux`.
    let upstream =
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)");
    for args in [
        &[
            "create",
            "source",
            "git",
            "podinfo",
            "--url=https://github.com/stefanprodan/podinfo",
            "--tag-semver=>=6.0.0",
            "--interval=5m",
            "--ignore-paths=/docs,*.md",
            "--export",
        ][..],
        &[
            "create",
            "kustomization",
            "apps",
            "--source=GitRepository/fleet.infra",
            "--path=./apps/prod",
            "--prune",
            "--depends-on=infra,tools/base",
            "--health-check=Deployment/web.apps",
            "--target-namespace=apps",
            "--service-account=deployer",
            "--decryption-provider=sops",
            "--decryption-secret=sops-age",
            "--retry-interval=2m",
            "--label=team=a,tier=web",
            "--export",
        ],
        &[
            "create",
            "secret",
            "git",
            "auth",
            "--url=https://example.com/org/repo",
            "--username=git",
            "--password=tok",
            "--export",
        ],
        &[
            "create",
            "secret",
            "git",
            "bearer",
            "--url=https://example.com/org/repo",
            "--bearer-token=tok",
            "--export",
        ],
        &[
            "create",
            "source",
            "helm",
            "podinfo",
            "--url=https://stefanprodan.github.io/podinfo",
            "--interval=10m",
            "--export",
        ],
        &[
            "create",
            "source",
            "helm",
            "bitnami",
            "--url=oci://registry-1.docker.io/bitnamicharts",
            "--oci-provider=aws",
            "--secret-ref=creds",
            "--pass-credentials",
            "--fetch-timeout=2m",
            "--label=a=b",
            "--export",
        ],
        &[
            "create",
            "source",
            "oci",
            "app",
            "--url=oci://ghcr.io/org/app",
            "--tag=v1",
            "--export",
        ],
        &[
            "create",
            "source",
            "oci",
            "app",
            "--url=oci://ghcr.io/org/app",
            "--tag-semver=>=1.0.0",
            "--secret-ref=s",
            "--service-account=sa",
            "--cert-ref=c",
            "--insecure",
            "--ignore-paths=/docs,*.md",
            "--layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:copy",
            "--fetch-timeout=30s",
            "--provider=aws",
            "--export",
        ],
        &[
            "create",
            "source",
            "oci",
            "signed",
            "--url=oci://ghcr.io/org/app",
            "--tag=v1",
            "--proxy-secret-ref=proxy",
            "--verify-provider=cosign",
            "--verify-secret-ref=cosign-pub",
            "--verify-issuer=https://token.actions.githubusercontent.com",
            "--verify-subject=^https://github.com/org/.*$",
            "--export",
        ],
        &[
            "create",
            "source",
            "helm",
            "private",
            "--url=https://charts.example.com",
            "--username=u",
            "--password=p",
            "--cert-file=/nonexistent/tls.crt",
            "--key-file=/nonexistent/tls.key",
            "--pass-credentials",
            "--export",
        ],
        &[
            "create",
            "source",
            "bucket",
            "podinfo",
            "--bucket-name=podinfo",
            "--endpoint=minio.minio.svc.cluster.local:9000",
            "--insecure=true",
            "--access-key=myaccesskey",
            "--secret-key=mysecretkey",
            "--interval=10m",
            "--export",
        ],
        &[
            "create",
            "source",
            "bucket",
            "fleet",
            "--bucket-name=fleet",
            "--provider=aws",
            "--endpoint=s3.amazonaws.com",
            "--region=eu-west-1",
            "--secret-ref=creds",
            "--proxy-secret-ref=proxy",
            "--ignore-paths=/docs,*.md",
            "--fetch-timeout=90s",
            "--label=team=a",
            "--export",
        ],
        &[
            "create",
            "source",
            "chart",
            "podinfo",
            "--source=HelmRepository/podinfo",
            "--chart=podinfo",
            "--chart-version=6.x",
            "--export",
        ],
        &[
            "create",
            "source",
            "chart",
            "app",
            "--source=gitrepository/fleet",
            "--chart=./charts/app",
            "--reconcile-strategy=Revision",
            "--interval=5m",
            "--label=team=a",
            "--export",
        ],
        &[
            "create",
            "source",
            "chart",
            "signed",
            "--source=HelmRepository/oci",
            "--chart=podinfo",
            "--verify-provider=cosign",
            "--verify-secret-ref=keys",
            "--verify-issuer=https://token.example.com",
            "--verify-subject=^https://github.com/org/.*$",
            "--export",
        ],
        &[
            "create",
            "helmrelease",
            "podinfo",
            "--source=HelmRepository/podinfo.flux-system",
            "--chart=podinfo",
            "--chart-version=>6.0.0",
            "--target-namespace=apps",
            "--create-target-namespace",
            "--depends-on=infra,tools/base",
            "--values-from=secret/creds,ConfigMap/extra",
            "--crds=CreateReplace",
            "--interval=5m",
            "--chart-interval=10m",
            "--release-name=web",
            "--service-account=deployer",
            "--kubeconfig-secret-ref=kc",
            "--label=team=a",
            "--export",
        ],
        &[
            "create",
            "hr",
            "app",
            "--chart-ref=OCIRepository/app.flux-system",
            "--export",
        ],
        &[
            "create",
            "hr",
            "app",
            "--source=GitRepository/fleet",
            "--chart=./charts/app",
            "--reconcile-strategy=Revision",
            "--storage-namespace=store",
            "--export",
        ],
        &["create", "hr", "app", "--chart=x", "--export"],
        &[
            "create",
            "alert-provider",
            "slack",
            "--type=slack",
            "--channel=general",
            "--address=https://hooks.slack.com/services/x",
            "--secret-ref=webhook-url",
            "--label=team=a",
            "-n",
            "apps",
            "--export",
        ],
        &[
            "create",
            "alert-provider",
            "github-podinfo",
            "--type=github",
            "--address=https://github.com/stefanprodan/podinfo",
            "--secret-ref=github-token",
            "--export",
        ],
        &[
            "create",
            "alert",
            "flux-system",
            "--event-severity=info",
            "--event-source=Kustomization/flux-system,GitRepository/*.other",
            "--event-source=HelmRelease/podinfo",
            "--provider-ref=slack",
            "--export",
        ],
        &[
            "create",
            "receiver",
            "github-receiver",
            "--type=github",
            "--event=ping",
            "--event=push",
            "--secret-ref=webhook-token",
            "--resource=GitRepository/webapp,HelmRepository/webapp",
            "--export",
        ],
        &[
            "create",
            "receiver",
            "generic",
            "--type=generic",
            "--secret-ref=token",
            "--resource=Kustomization/apps",
            "--export",
        ],
        &[
            "create",
            "image",
            "repository",
            "app",
            "--image=ghcr.io/org/app",
            "--interval=5m",
            "--secret-ref=regcred",
            "--cert-ref=ca",
            "--scan-timeout=30s",
            "--label=team=a",
            "--export",
        ],
        &[
            "create",
            "image",
            "repository",
            "alpine",
            "--image=alpine",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "app",
            "--image-ref=app",
            "--select-semver=>=1.0.0",
            "--filter-regex=^v(?P<version>.*)-(?P<build>[0-9]+)$",
            "--filter-extract=$version-${build}-$1",
            "--reflect-digest=Always",
            "--interval=10m",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "ts",
            "--image-ref=app",
            "--select-numeric=desc",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "alpha",
            "--image-ref=app",
            "--select-alpha=asc",
            "--reflect-digest=IfNotPresent",
            "--export",
        ],
        &[
            "create",
            "image",
            "update",
            "auto",
            "--git-repo-ref=fleet",
            "--git-repo-namespace=flux-system",
            "--git-repo-path=./clusters/prod",
            "--checkout-branch=main",
            "--push-branch=image-updates",
            "--author-name=Flux",
            "--author-email=flux@example.com",
            "--commit-template={{ range .Changed.Changes }}{{ .NewValue }} {{ end }}",
            "--signing-key-secret=gpg",
            "--interval=30m",
            "--export",
        ],
        &[
            "create",
            "image",
            "update",
            "minimal",
            "--git-repo-ref=fleet",
            "--checkout-branch=main",
            "--author-name=Flux",
            "--author-email=flux@example.com",
            "--export",
        ],
    ] {
        same_as_upstream(&upstream, nowhere, args);
    }
    // Refusals worded as upstream's.
    for args in [
        &[
            "create",
            "alert",
            "x",
            "--provider-ref=p",
            "--event-source=Kustomization/a",
            "--export",
        ][..],
        &[
            "create",
            "alert",
            "abc",
            "--event-source=Kustomization/a",
            "--export",
        ],
        &["create", "alert", "abc", "--provider-ref=p", "--export"],
        &[
            "create",
            "alert",
            "abc",
            "--provider-ref=p",
            "--event-source=bad",
            "--export",
        ],
        &["create", "alert-provider", "abc", "--export"],
        &["create", "receiver", "abc", "--type=github", "--export"],
        &[
            "create",
            "receiver",
            "abc",
            "--type=github",
            "--secret-ref=s",
            "--export",
        ],
        &[
            "create",
            "receiver",
            "abc",
            "--type=bogus",
            "--secret-ref=s",
            "--resource=GitRepository/a",
            "--export",
        ],
        &[
            "create",
            "receiver",
            "abc",
            "--type=gitlab",
            "--secret-ref=s",
            "--resource=GitRepository",
            "--export",
        ],
        &[
            "create",
            "source",
            "git",
            "Bad_Name",
            "--url=https://example.com/r",
            "--branch=main",
            "--export",
        ],
        &["create", "image", "repository", "abc", "--export"],
        &[
            "create",
            "image",
            "repository",
            "abc",
            "--image=Bad:Image",
            "--export",
        ],
        &[
            "create",
            "image",
            "repository",
            "abc",
            "--image=ghcr.io/org/App",
            "--export",
        ],
        &["create", "image", "policy", "abc", "--export"],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-alpha=up",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--filter-extract=$1",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--filter-regex=^(?P<a>.*)$",
            "--filter-extract=$b",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--filter-regex=(",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--filter-regex=^(?P<a>.*)$",
            "--filter-extract=${a",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--reflect-digest=Sometimes",
            "--export",
        ],
        &[
            "create",
            "image",
            "policy",
            "abc",
            "--image-ref=r",
            "--select-semver=1.x",
            "--interval=5m",
            "--export",
        ],
        &["create", "image", "update", "abc", "--export"],
        &[
            "create",
            "image",
            "update",
            "abc",
            "--git-repo-ref=f",
            "--checkout-branch=main",
            "--author-name=a",
            "--author-email=e",
            "--signing-key-type=pgp",
            "--signing-key-secret=s",
            "--export",
        ],
        &["trigger", "receiver", "r"],
        &["trigger", "receiver", "r", "--url=http://127.0.0.1:9"],
        &[
            "trigger",
            "receiver",
            "r",
            "--url=http://127.0.0.1:9",
            "--type=bogus",
        ],
        &[
            "trigger",
            "receiver",
            "r",
            "--url=http://127.0.0.1:9",
            "--type=generic-oidc",
            "--token=t",
        ],
        &[
            "trigger",
            "receiver",
            "r",
            "--url=http://127.0.0.1:9",
            "--type=generic-hmac",
            "--token=t",
            "--oidc-token=x",
        ],
        &[
            "trigger",
            "receiver",
            "r",
            "--url=http://127.0.0.1:9",
            "--type=generic-oidc",
            "--oidc-audience=a",
        ],
    ] {
        let theirs = Command::new(&upstream)
            .env("KUBECONFIG", nowhere)
            .args(args)
            .output()
            .unwrap();
        assert!(!theirs.status.success(), "upstream accepted {args:?}");
        assert_eq!(
            fails(nowhere, args),
            String::from_utf8_lossy(&theirs.stderr)
                .trim()
                .trim_start_matches("✗ "),
            "{args:?}"
        );
    }
    for (args, message) in [
        (
            &[
                "create",
                "source",
                "chart",
                "web",
                "--chart=web",
                "--export",
            ][..],
            "chart source is required",
        ),
        (
            &[
                "create",
                "source",
                "chart",
                "web",
                "--source=OCIRepository/web",
                "--chart=web",
                "--export",
            ],
            "invalid argument \"OCIRepository/web\" for \"--source\" flag: source kind 'OCIRepository' is not supported, must be one of: HelmRepository, GitRepository, Bucket",
        ),
        (
            &[
                "create",
                "source",
                "chart",
                "web",
                "--source=HelmRepository/web",
                "--export",
            ],
            "chart name or path is required",
        ),
        (
            &[
                "create",
                "hr",
                "app",
                "--source=Foo/x",
                "--chart=x",
                "--export",
            ],
            "invalid argument \"Foo/x\" for \"--source\" flag: source kind 'Foo' is not supported, must be one of: HelmRepository, GitRepository, Bucket",
        ),
        (
            &[
                "create",
                "hr",
                "app",
                "--chart-ref=GitRepository/x",
                "--export",
            ],
            "chart reference kind 'GitRepository' is not supported, must be one of: OCIRepository, HelmChart",
        ),
        (
            &[
                "create",
                "hr",
                "app",
                "--source=HelmRepository/x",
                "--chart=x",
                "--crds=Nope",
                "--export",
            ],
            "invalid argument \"Nope\" for \"--crds\" flag: unsupported upgrade CRDs policy 'Nope', must be one of: Skip, Create, CreateReplace",
        ),
        (
            &["create", "hr", "app", "--export"],
            "chart or chart-ref is required",
        ),
        (
            &[
                "create",
                "source",
                "oci",
                "app",
                "--url=oci://ghcr.io/org/app",
                "--tag=v1",
                "--verify-secret-ref=keys",
                "--export",
            ],
            "a verification provider must be specified when a secret is specified",
        ),
    ] {
        assert_eq!(fails(nowhere, args), message, "{args:?}");
    }
    assert_eq!(
        fails(
            nowhere,
            &[
                "create",
                "source",
                "bucket",
                "fleet",
                "--provider=s3",
                "--bucket-name=b",
                "--endpoint=e",
                "--export"
            ]
        ),
        "invalid argument \"s3\" for \"--provider\" flag: source bucket provider 's3' is not supported, must be one of: generic, aws, azure, gcp"
    );
    assert_eq!(
        fails(
            nowhere,
            &[
                "create",
                "source",
                "bucket",
                "fleet",
                "--endpoint=e",
                "--export"
            ]
        ),
        "bucket-name is required"
    );

    // --all-in-one: one fluxd Deployment running every controller.
    // source-watcher as an extra component: its CRD, its own Deployment
    // storing and serving the artifacts it generates, its Service.
    let (yaml, _) = ok(
        nowhere,
        &["install", "--export", "--components-extra=source-watcher"],
    );
    assert!(
        yaml.contains("  name: artifactgenerators.source.extensions.fluxcd.io\n"),
        "{yaml}"
    );
    assert!(yaml.contains("- --controllers=source-watcher\n"), "{yaml}");
    assert!(
        yaml.contains(
            "- --storage-adv-addr=source-watcher.$(RUNTIME_NAMESPACE).svc.cluster.local.\n"
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "kind: Service\nmetadata:\n  labels:\n    app.kubernetes.io/component: source-watcher\n"
        ),
        "{yaml}"
    );
    let (yaml, _) = ok(nowhere, &["install", "--export"]);
    assert!(!yaml.contains("artifactgenerators"), "{yaml}");

    let (yaml, _) = ok(nowhere, &["install", "--export", "--all-in-one"]);
    assert!(yaml.contains("  name: fluxd\n"), "{yaml}");
    assert!(
        yaml.contains("- --controllers=source,kustomize,helm,notification\n"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("name: kustomize-controller\n  namespace"),
        "{yaml}"
    );

    // Errors: one line, exit 1, never a stack trace.
    assert_eq!(
        fails(nowhere, &["install", "--export", "--components=bogus"]),
        "component bogus is not supported (one of source-controller, source-watcher, kustomize-controller, helm-controller, notification-controller, image-reflector-controller, image-automation-controller)"
    );
    // The image controllers, as extra components: the reflector keeps its
    // tag database on the `data` volume.
    let (yaml, _) = ok(
        nowhere,
        &[
            "install",
            "--export",
            "--components-extra=image-reflector-controller,image-automation-controller",
        ],
    );
    for (name, flag) in [
        (
            "image-reflector-controller",
            "--controllers=image-reflector",
        ),
        (
            "image-automation-controller",
            "--controllers=image-automation",
        ),
    ] {
        let deployment = yaml
            .split("---\n")
            .find(|d| d.contains("kind: Deployment") && d.contains(&format!("name: {name}\n")))
            .unwrap_or_else(|| panic!("no {name} Deployment"));
        assert!(deployment.contains(flag), "{deployment}");
        assert_eq!(
            deployment.contains("--storage-path=/data"),
            name == "image-reflector-controller",
            "{deployment}"
        );
    }
    assert!(yaml.contains("name: imageupdateautomations.image.toolkit.fluxcd.io"));
    assert_eq!(
        fails(
            nowhere,
            &[
                "create",
                "source",
                "git",
                "repo",
                "--url=ftp://host/repo",
                "--branch=main",
                "--export"
            ]
        ),
        "git URL scheme must be one of http, https or ssh"
    );
    let message = fails(nowhere, &["get", "kustomizations"]);
    assert_eq!(
        message,
        "kubeconfig '/nonexistent/kubeconfig' not found (--kubeconfig or KUBECONFIG)"
    );
    let message = fails(nowhere, &["get", "kustomizations", "--no-such-flag"]);
    assert!(message.contains("--no-such-flag"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_change_reconcile_and_uninstall() {
    // Flux runs in the cluster, as users deploy it: `fluxd` Pods on the
    // node, pulling Git from servers they reach at the host's address.
    let cp = ControlPlane::shared_with_node().expect("control plane with a node");
    let kubeconfig = cp.kubeconfig_path();
    let client = cp.client().unwrap();
    let registry = push_fluxd_image(cp.node().unwrap());

    // The fleet repository, shaped like the seed guide's monorepo.
    let git_server =
        GitHttpServer::start_reachable_from_pods(HttpAuth::basic("git", "s3cret")).unwrap();
    let remote = git_server.create_repo("fleet").unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/monorepo");
    for (path, text) in fixture_files(&fixture) {
        remote.write(&path, text).unwrap();
    }
    let seeded = remote.commit("fleet").unwrap();

    // Before anything is installed.
    let message = fails(kubeconfig, &["get", "kustomizations"]);
    assert!(message.contains("is Flux installed"), "{message}");

    let url = git_server.url("fleet");
    let bootstrap = [
        "bootstrap",
        "git",
        &format!("--url={url}"),
        "--username=git",
        "--password=s3cret",
        "--allow-insecure-http",
        "--path=clusters/production",
        &format!("--registry={registry}"),
        "--timeout=3m",
    ];
    let bootstrap: Vec<&str> = bootstrap.iter().map(|s| &**s).collect();
    let (_, stderr) = ok(kubeconfig, &bootstrap);
    assert!(
        stderr.contains("✔ GitRepository reconciled successfully"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✔ Kustomization reconciled successfully"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✔ kustomize-controller: deployment ready"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "no secret in the output: {stderr}"
    );

    // The repository holds Flux's own manifests, on top of the fleet.
    let bare = remote.bare_path();
    let head = git(bare, &["rev-parse", "main"])
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        git(bare, &["rev-parse", "main~2"]).unwrap().trim(),
        seeded,
        "two commits: components, then sync"
    );
    let files = git(
        bare,
        &[
            "ls-tree",
            "-r",
            "--name-only",
            "main",
            "clusters/production/flux-system",
        ],
    )
    .unwrap();
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "clusters/production/flux-system/gotk-components.yaml",
            "clusters/production/flux-system/gotk-sync.yaml",
            "clusters/production/flux-system/kustomization.yaml"
        ]
    );
    let sync = git(
        bare,
        &[
            "show",
            "main:clusters/production/flux-system/gotk-sync.yaml",
        ],
    )
    .unwrap();
    assert!(sync.contains("path: ./clusters/production\n"), "{sync}");
    assert!(
        sync.contains("secretRef:\n    name: flux-system\n"),
        "{sync}"
    );

    // Running it again changes nothing.
    let (_, stderr) = ok(kubeconfig, &bootstrap);
    assert!(
        stderr.contains("component manifests are up to date"),
        "{stderr}"
    );
    assert!(stderr.contains("sync manifests are up to date"), "{stderr}");
    assert_eq!(git(bare, &["rev-parse", "main"]).unwrap().trim(), head);

    // The fleet's Kustomizations come up in dependency order.
    let revision = format!("main@sha1:{}", &head[..8]);
    flux_testenv::eventually("every Kustomization Ready", || async {
        let (table, _) = ok(
            kubeconfig,
            &[
                "get",
                "kustomizations",
                "--status-selector",
                "ready=true",
                "--no-header",
            ],
        );
        (table.lines().count() == 4).then_some(())
    })
    .await
    .unwrap_or_else(|e| {
        let (table, _) = ok(kubeconfig, &["get", "all", "-A"]);
        let kubectl = |args: &[&str]| {
            let out = Command::new(flux_testenv::tool("kubectl").unwrap())
                .env("KUBECONFIG", kubeconfig)
                .args(args)
                .output()
                .unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        panic!(
            "{e}\n{table}\n{}\n{}\n{}\n{}",
            kubectl(&["get", "pods", "-A", "-o", "wide"]),
            kubectl(&["describe", "pods", "-n", "flux-system", "-l", "app=webapp"]),
            kubectl(&["describe", "nodes"]),
            kubectl(&[
                "get",
                "kustomization",
                "-n",
                "flux-system",
                "apps",
                "-o",
                "yaml"
            ]),
        )
    });
    let (table, _) = ok(kubeconfig, &["get", "kustomizations"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split('\t').map(str::trim).collect::<Vec<_>>(),
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    );
    let apps: Vec<&str> = lines[1].split('\t').map(str::trim).collect();
    assert_eq!(
        apps[..4],
        ["apps", revision.as_str(), "False", "True"],
        "{table}"
    );
    assert_eq!(apps[4], format!("Applied revision: {revision}"));
    assert!(
        lines[1].ends_with('\t'),
        "cells end with a tab, as upstream's: {table:?}"
    );
    assert_eq!(lines.len(), 5, "{table}");

    let (all, _) = ok(kubeconfig, &["get", "all", "-A"]);
    assert!(all.contains("gitrepository/flux-system"), "{all}");
    assert!(
        all.contains("kustomization/infrastructure-configs"),
        "{all}"
    );
    assert!(all.starts_with("NAMESPACE"), "{all}");
    let (sources, _) = ok(kubeconfig, &["get", "sources", "git", "flux-system"]);
    assert!(
        sources.contains(&format!("flux-system\t{revision}")),
        "{sources}"
    );

    // Byte for byte what upstream's own `flux` prints for the same cluster.
    let upstream =
        flux_testenv::tool("flux-upstream").expect("upstream flux (scripts/install-deps.sh)");
    for args in [
        &["get", "kustomizations"][..],
        &["get", "kustomizations", "-A"],
        &["get", "ks", "apps", "--no-header"],
        &["get", "ks", "--status-selector", "ready=true"],
        &["get", "sources", "git"],
        &["get", "sources", "all"],
        &["get", "all", "-A"],
        &["tree", "kustomization", "flux-system"],
        &["tree", "kustomization", "flux-system", "--compact"],
        &["export", "kustomization", "apps"],
        &["export", "kustomization", "--all"],
        &["export", "source", "git", "flux-system"],
        &[
            "trace",
            "webapp-config",
            "--kind=ConfigMap",
            "--api-version=v1",
        ],
    ] {
        same_as_upstream(&upstream, kubeconfig, args);
    }

    // The tree follows nested Kustomizations down to the objects.
    let (tree, _) = ok(kubeconfig, &["tree", "kustomization", "flux-system"]);
    assert!(
        tree.starts_with("Kustomization/flux-system/flux-system\n"),
        "{tree}"
    );
    assert!(
        tree.contains("── Kustomization/flux-system/apps\n"),
        "{tree}"
    );
    assert!(
        tree.contains("── ConfigMap/flux-system/webapp-config"),
        "{tree}"
    );
    assert!(
        tree.contains("── CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io"),
        "{tree}"
    );
    let (compact, _) = ok(kubeconfig, &["tree", "ks", "flux-system", "--compact"]);
    assert!(!compact.contains("ConfigMap/"), "{compact}");
    assert!(
        compact.contains("Kustomization/flux-system/apps"),
        "{compact}"
    );

    // A change in Git (on top of what bootstrap pushed), reconciled on request.
    remote.pull().unwrap();
    let config = remote.work_path().join("apps/base/webapp/config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("url: https://${DOMAIN}\n"), "{text}");
    remote
        .write(
            "apps/base/webapp/config.yaml",
            text.replace("url: https://${DOMAIN}\n", "url: https://${DOMAIN}/v2\n"),
        )
        .unwrap();
    let changed = remote.commit("v2 URL").unwrap();
    let (_, stderr) = ok(
        kubeconfig,
        &["reconcile", "kustomization", "apps", "--with-source"],
    );
    assert!(
        stderr.contains("► annotating GitRepository flux-system in flux-system namespace"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("✔ fetched revision main@sha1:{changed}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("✔ applied revision main@sha1:{changed}")),
        "{stderr}"
    );
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), "flux-system");
    let data = configs.get("webapp-config").await.unwrap().data.unwrap();
    assert_eq!(data["url"], "https://app.example.com/v2");

    // build and diff of a local checkout, against the cluster.
    let local = remote.work_path().join("apps/production");
    let local = local.to_str().unwrap();
    let (built, _) = ok(
        kubeconfig,
        &["build", "kustomization", "apps", "--path", local],
    );
    assert!(
        built.contains("  url: https://app.example.com/v2\n"),
        "{built}"
    );
    assert!(
        built.contains("kustomize.toolkit.fluxcd.io/name: apps"),
        "{built}"
    );
    let same = flux(
        kubeconfig,
        &["diff", "kustomization", "apps", "--path", local],
    );
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&same.stdout), "");
    std::fs::write(
        &config,
        text.replace("url: https://${DOMAIN}\n", "url: https://${DOMAIN}/v3\n"),
    )
    .unwrap();
    let drift = flux(
        kubeconfig,
        &["diff", "kustomization", "apps", "--path", local],
    );
    let stdout = String::from_utf8_lossy(&drift.stdout);
    assert_eq!(drift.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "► ConfigMap/flux-system/webapp-config drifted\n\ndata.url\n  ± value change\n    - https://app.example.com/v2\n    + https://app.example.com/v3\n\n"
    );
    assert!(String::from_utf8_lossy(&drift.stderr).contains("identified at least one change"));
    let broken = flux(
        kubeconfig,
        &["diff", "kustomization", "apps", "--path", "/nonexistent"],
    );
    assert_eq!(
        broken.status.code(),
        Some(2),
        "errors exit with 2, as upstream"
    );
    remote.pull().unwrap();

    // trace: the object back to its Kustomization and source.
    let (traced, _) = ok(
        kubeconfig,
        &[
            "trace",
            "webapp-config",
            "--kind=ConfigMap",
            "--api-version=v1",
        ],
    );
    assert!(traced.starts_with("\nObject:          ConfigMap/webapp-config\nNamespace:       flux-system\nStatus:          Managed by Flux\n---\nKustomization:   apps\n"), "{traced}");
    assert!(
        traced.contains("Path:            ./apps/production\n"),
        "{traced}"
    );
    assert!(traced.contains(&format!("GitRepository:   flux-system\nNamespace:       flux-system\nURL:             {url}\nBranch:          main\nRevision:        main@sha1:{changed}\n")), "{traced}");
    assert_eq!(
        fails(
            kubeconfig,
            &["trace", "nope", "--kind=ConfigMap", "--api-version=v1"]
        ),
        "configmaps \"nope\" not found"
    );
    assert_eq!(
        fails(
            kubeconfig,
            &[
                "trace",
                "kube-root-ca.crt",
                "--kind=ConfigMap",
                "--api-version=v1"
            ]
        ),
        "object not managed by Flux"
    );

    // Suspend, resume, export, events.
    ok(kubeconfig, &["suspend", "kustomization", "apps"]);
    let (row, _) = ok(kubeconfig, &["get", "ks", "apps", "--no-header"]);
    assert!(
        row.contains("\tTrue     \t") || row.split('\t').nth(2).map(str::trim) == Some("True"),
        "{row:?}"
    );
    let message = fails(kubeconfig, &["reconcile", "ks", "apps"]);
    assert_eq!(message, "resource is suspended");
    let (_, stderr) = ok(kubeconfig, &["resume", "kustomization", "apps"]);
    assert!(
        stderr.contains("✔ Kustomization reconciliation completed"),
        "{stderr}"
    );
    let (exported, _) = ok(kubeconfig, &["export", "kustomization", "apps"]);
    assert!(
        exported.starts_with(
            "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        ),
        "{exported}"
    );
    assert!(
        exported.contains("\n  name: apps\n  namespace: flux-system\nspec:\n"),
        "{exported}"
    );
    assert!(!exported.contains("status:"), "{exported}");
    assert!(!exported.contains("resourceVersion"), "{exported}");
    let parsed: serde_json::Value =
        serde_saphyr::from_str(exported.trim_start_matches("---\n")).unwrap();
    assert_eq!(
        parsed["spec"]["dependsOn"][0]["name"],
        "infrastructure-configs"
    );
    let (events, _) = ok(kubeconfig, &["events", "--for", "Kustomization/apps"]);
    assert!(events.starts_with("LAST SEEN"), "{events}");
    assert!(events.contains("Kustomization/apps"), "{events}");

    // check: prerequisites, controllers (a live leader lease), CRDs.
    let (_, stderr) = ok(kubeconfig, &["check"]);
    assert!(
        stderr.contains(&format!(
            "✔ source-controller: deployment ready\n► {registry}/fluxd:v{}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("✔ kustomizations.kustomize.toolkit.fluxcd.io/v1"),
        "{stderr}"
    );
    assert!(stderr.contains("✔ all checks passed"), "{stderr}");

    // logs: the Pods' real logs, in upstream's layout and filtered as
    // upstream filters them. Upstream's flux first: ours, read later, holds
    // every line it printed.
    let filtered = ["logs", "--kind=Kustomization", "--name=apps", "--tail=-1"];
    let upstream_logs = Command::new(&upstream)
        .env("KUBECONFIG", kubeconfig)
        .args(filtered)
        .output()
        .unwrap();
    assert!(upstream_logs.status.success());
    let upstream_logs = String::from_utf8_lossy(&upstream_logs.stdout).into_owned();
    let (ours_logs, _) = ok(kubeconfig, &filtered);
    assert!(!upstream_logs.is_empty());
    for line in upstream_logs.lines() {
        assert!(
            ours_logs.lines().any(|l| l == line),
            "{line:?} missing from:\n{ours_logs}"
        );
        assert!(
            line.contains(" Kustomization/apps.flux-system - "),
            "{line}"
        );
    }
    let (errors, _) = ok(kubeconfig, &["logs", "--level=error", "--tail=-1"]);
    assert!(errors.lines().all(|l| l.contains(" error ")), "{errors}");
    let (all, _) = ok(kubeconfig, &["logs", "--all-namespaces", "--tail=5"]);
    assert!(all.lines().count() >= 5, "{all}");
    assert!(
        all.contains("GitRepository/") || all.contains("Kustomization/"),
        "{all}"
    );
    assert_eq!(
        fails(kubeconfig, &["logs", "--flux-namespace=default"]),
        "no Flux pods found in namespace \"default\""
    );

    // Bootstrap again, over SSH, onto a second repository with the same
    // fleet: the host key is scanned, the key becomes the deploy key.
    let ssh = GitSshServer::start_reachable_from_pods().unwrap();
    let ssh_repo = ssh.create_repo("fleet").unwrap();
    for (path, text) in fixture_files(&fixture) {
        ssh_repo.write(&path, text).unwrap();
    }
    ssh_repo.commit("fleet").unwrap();
    let ssh_url = ssh.url("fleet");
    let key = ssh.client_key_path().to_str().unwrap().to_string();
    let (_, stderr) = ok(
        kubeconfig,
        &[
            "bootstrap",
            "git",
            &format!("--url={ssh_url}"),
            &format!("--private-key-file={key}"),
            "--path=clusters/production",
            &format!("--registry={registry}"),
            "--timeout=3m",
        ],
    );
    assert!(
        stderr.contains("✔ GitRepository reconciled successfully"),
        "{stderr}"
    );
    // The in-cluster Kustomization may still apply the previous revision
    // (the old URL) once after the CLI applied the new one; the new
    // revision wins when it is applied: once the GitRepository, on the old
    // URL, fetches the pushed commit at its next interval (1m), and the
    // Kustomization applies it. Waited for with that interval's margin.
    let wanted = format!("url: {ssh_url}");
    let converged = flux_testenv::eventually_within(
        "the GitRepository on the SSH URL",
        std::time::Duration::from_secs(150),
        || async {
            let (source, _) = ok(kubeconfig, &["export", "source", "git", "flux-system"]);
            source.contains(&wanted).then_some(())
        },
    )
    .await;
    if let Err(e) = converged {
        let (source, _) = ok(kubeconfig, &["export", "source", "git", "flux-system"]);
        panic!("{e}: {source}");
    }
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "flux-system");
    let secret = secrets.get("flux-system").await.unwrap().data.unwrap();
    let scanned = String::from_utf8(secret["known_hosts"].0.clone()).unwrap();
    let expected = ssh.known_hosts().split_whitespace().collect::<Vec<_>>();
    assert!(
        scanned.trim().ends_with(expected[expected.len() - 1]),
        "{scanned} vs {expected:?}"
    );
    assert!(ssh_repo.bare_path().join("refs").exists());
    assert!(
        git(
            ssh_repo.bare_path(),
            &[
                "show",
                "main:clusters/production/flux-system/gotk-sync.yaml"
            ]
        )
        .unwrap()
        .contains(&ssh_url)
    );

    // A generated deploy key, exported.
    let (secret_yaml, stderr) = ok(
        kubeconfig,
        &[
            "create",
            "secret",
            "git",
            "deploy",
            &format!("--url={ssh_url}"),
            "--export",
        ],
    );
    assert!(
        stderr.starts_with("✔ deploy key: ecdsa-sha2-nistp384 "),
        "{stderr}"
    );
    assert!(
        secret_yaml.contains("BEGIN OPENSSH PRIVATE KEY"),
        "{secret_yaml}"
    );
    assert!(
        secret_yaml.contains("identity.pub: |\n    ecdsa-sha2-nistp384 ")
            || secret_yaml.contains("identity.pub: ecdsa-sha2-nistp384 "),
        "{secret_yaml}"
    );
    assert!(
        secret_yaml.contains(expected[expected.len() - 1]),
        "known_hosts scanned: {secret_yaml}"
    );

    // suspend/resume --all, and a watch bounded by --timeout.
    let (_, stderr) = ok(kubeconfig, &["suspend", "kustomization", "--all"]);
    assert_eq!(
        stderr.matches("✔ kustomization suspended").count(),
        4,
        "{stderr}"
    );
    let (rows, _) = ok(kubeconfig, &["get", "ks", "--no-header"]);
    assert!(
        rows.lines()
            .all(|l| l.split('\t').nth(2).map(str::trim) == Some("True")),
        "{rows}"
    );
    // As upstream: --all resumes everything and does not wait unless asked.
    let (_, stderr) = ok(kubeconfig, &["resume", "kustomization", "--all"]);
    assert_eq!(
        stderr.matches("✔ kustomization resumed").count(),
        4,
        "{stderr}"
    );
    assert!(!stderr.contains("waiting"), "{stderr}");
    let (_, stderr) = ok(kubeconfig, &["resume", "kustomization", "--all", "--wait"]);
    assert_eq!(
        stderr
            .matches("✔ Kustomization reconciliation completed")
            .count(),
        4,
        "{stderr}"
    );
    let (watched, _) = ok(kubeconfig, &["get", "ks", "apps", "-w", "--timeout=3s"]);
    assert!(watched.starts_with("NAME"), "{watched}");
    assert!(
        watched
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("apps")),
        "{watched}"
    );

    // Missing objects and kinds: one line each.
    assert_eq!(
        fails(kubeconfig, &["get", "kustomizations", "nope"]),
        "Kustomization object 'nope' not found in \"flux-system\" namespace"
    );
    assert_eq!(
        fails(kubeconfig, &["reconcile", "ks", "nope"]),
        "kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found"
    );
    assert_eq!(
        fails(kubeconfig, &["delete", "ks", "nope", "--silent"]),
        "kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found"
    );

    // delete: prune takes the app's objects with it.
    ok(kubeconfig, &["delete", "kustomization", "apps", "--silent"]);
    flux_testenv::eventually("the app pruned", || async {
        configs
            .get_opt("webapp-config")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();

    // uninstall: Flux goes, what it applied stays.
    let (_, stderr) = ok(kubeconfig, &["uninstall", "--silent", "--keep-namespace"]);
    assert!(stderr.contains("✔ uninstall finished"), "{stderr}");
    type Crd = k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<Crd> = Api::all(client.clone());
    flux_testenv::eventually("the Flux CRDs gone", || async {
        crds.get_opt("kustomizations.kustomize.toolkit.fluxcd.io")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    // The infrastructure Kustomization's CRD was not pruned.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        crds.get_opt("clusterissuers.monorepo.fluxrs.test")
            .await
            .unwrap()
            .is_some_and(|c| c.metadata.deletion_timestamp.is_none()),
        "objects applied by Flux survive uninstall"
    );
}
