//! `flux-dev bench webhook [PUSHES]`: the guide's §13 loop, measured. A
//! real git server and control plane; each push changes a ConfigMap in the
//! repository and is followed by GitHub's signed `push` webhook to a
//! Receiver; the GitRepository (interval 1h) is reconciled at once, the
//! Kustomization applies the commit, and its event reaches a `github`
//! Provider that posts the commit status (to a loopback server standing
//! in for GitHub's API). Latencies from the webhook to the ConfigMap
//! applied and to the commit status posted: p50, p99, max — ours
//! (`fluxd --controllers=source,kustomize,notification`, one process) and
//! upstream's three controllers (source-controller, kustomize-controller,
//! notification-controller built from the Go module proxy) in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flux_testenv::{ControlPlane, GitHttpServer};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::bench_kustomizations::free_port;

/// Child processes, stopped when dropped.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where a side listens.
struct Side {
    name: &'static str,
    hooks_port: u16,
    _processes: Processes,
    _storage: tempfile::TempDir,
}

fn spawn(binary: &Path, kubeconfig: &Path, args: &[String]) -> Result<Child, String> {
    Command::new(binary)
        .env("KUBECONFIG", kubeconfig)
        .env("RUNTIME_NAMESPACE", "default")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))
}

fn ours(kubeconfig: &Path) -> Result<Side, String> {
    let binary = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("fluxd");
    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (storage_port, hooks_port) = (free_port()?, free_port()?);
    let child = spawn(
        &binary,
        kubeconfig,
        &[
            "--controllers=source,kustomize,notification".into(),
            format!("--storage-path={}", storage.path().display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            format!("--events-listen-addr=127.0.0.1:{}", free_port()?),
            format!("--receiver-addr=127.0.0.1:{hooks_port}"),
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--health-addr=127.0.0.1:{}", free_port()?),
            "--log-level=error".into(),
        ],
    )?;
    Ok(Side {
        name: "fluxd",
        hooks_port,
        _processes: Processes(vec![child]),
        _storage: storage,
    })
}

fn tool_dir(name: &str) -> Option<PathBuf> {
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cache")))
        .ok()?;
    let path = cache.join("flux-rs/tools").join(name);
    path.exists().then_some(path)
}

fn upstream(kubeconfig: &Path) -> Result<Option<Side>, String> {
    let (Ok(source), Some(kustomize), Ok(notification)) = (
        flux_testenv::tool("source-controller-upstream"),
        std::env::var("FLUX_UPSTREAM_KUSTOMIZE_CONTROLLER")
            .ok()
            .map(PathBuf::from)
            .or_else(|| tool_dir("kustomize-controller-v1.9.6/kustomize-controller")),
        flux_testenv::tool("notification-controller-upstream"),
    ) else {
        return Ok(None);
    };
    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (storage_port, events_port, hooks_port) = (free_port()?, free_port()?, free_port()?);
    let events = format!("--events-addr=http://127.0.0.1:{events_port}/");
    let common = |extra: Vec<String>| -> Result<Vec<String>, String> {
        let mut args = vec![
            "--watch-all-namespaces=true".to_string(),
            "--enable-leader-election=false".to_string(),
            format!("--metrics-addr=127.0.0.1:{}", free_port()?),
            format!("--health-addr=127.0.0.1:{}", free_port()?),
            "--log-level=error".to_string(),
        ];
        args.extend(extra);
        Ok(args)
    };
    let processes = vec![
        spawn(
            &notification,
            kubeconfig,
            &common(vec![
                format!("--events-addr=127.0.0.1:{events_port}"),
                format!("--receiverAddr=127.0.0.1:{hooks_port}"),
            ])?,
        )?,
        spawn(
            &source,
            kubeconfig,
            &common(vec![
                events.clone(),
                format!("--storage-path={}", storage.path().display()),
                format!("--storage-addr=127.0.0.1:{storage_port}"),
                format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            ])?,
        )?,
        spawn(&kustomize, kubeconfig, &common(vec![events])?)?,
    ];
    Ok(Some(Side {
        name: "upstream",
        hooks_port,
        _processes: Processes(processes),
        _storage: storage,
    }))
}

async fn create(client: &Client, namespace: &str, object: Value) -> Result<(), String> {
    flux_testenv::create_object(client, namespace, &object)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Statuses the stand-in GitHub API received: (commit, when).
type Statuses = Arc<Mutex<Vec<(String, Instant)>>>;

async fn github_stand_in() -> Result<(String, Statuses), String> {
    let statuses: Statuses = Arc::new(Mutex::new(Vec::new()));
    let sink = statuses.clone();
    let app = axum::Router::new().fallback(move |request: http::Request<axum::body::Body>| {
        let sink = sink.clone();
        async move {
            let path = request.uri().path().to_string();
            if request.method() == http::Method::POST
                && let Some(sha) = path.rsplit_once("/statuses/").map(|(_, s)| s.to_string())
                && let Ok(mut seen) = sink.lock()
            {
                seen.push((sha, Instant::now()));
            }
            if request.method() == http::Method::GET {
                (http::StatusCode::OK, "[]")
            } else {
                (http::StatusCode::CREATED, "{}")
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((address, statuses))
}

fn sign(token: &[u8], body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token);
    let tag = aws_lc_rs::hmac::sign(&key, body);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

async fn post_webhook(url: &str, body: &str, signature: &str) -> Result<u16, String> {
    use bytes::Bytes;
    use http_body_util::Full;
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-hub-signature-256", format!("sha256={signature}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    client
        .request(request)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Latencies {
    applied: Vec<Duration>,
    status: Vec<Duration>,
}

async fn scenario(
    cp: &ControlPlane,
    git: &GitHttpServer,
    pushes: usize,
    make: impl FnOnce(&Path) -> Result<Option<Side>, String>,
    label: &str,
) -> Result<Option<Latencies>, String> {
    let client = cp.client().map_err(|e| e.to_string())?;
    let namespace = cp
        .namespace(&format!("webhook-{label}"))
        .await
        .map_err(|e| e.to_string())?;
    let ns = namespace.name().to_string();
    let remote = git
        .create_repo(&format!("fleet-{label}"))
        .map_err(|e| e.to_string())?;
    let config_map = |value: usize| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pushed\n  namespace: {ns}\ndata:\n  value: \"{value}\"\n"
        )
    };
    remote
        .write("deploy/pushed.yaml", config_map(0))
        .map_err(|e| e.to_string())?;
    remote.commit("0").map_err(|e| e.to_string())?;
    let (github, statuses) = github_stand_in().await?;
    let token = "bench-webhook-token";
    for object in [
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-token"}, "stringData": {"token": token}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "github-token"}, "stringData": {"token": "gh"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "fleet"},
               "spec": {"url": remote.url(), "interval": "1h", "ref": {"branch": "main"}}}),
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "fleet"},
               "spec": {"interval": "1h", "path": "./deploy", "prune": true,
                        "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider", "metadata": {"name": "github"},
               "spec": {"type": "github", "address": format!("{github}/org/fleet"), "secretRef": {"name": "github-token"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "metadata": {"name": "github"},
               "spec": {"providerRef": {"name": "github"}, "eventSources": [{"kind": "Kustomization", "name": "fleet"}]}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver", "metadata": {"name": "github"},
               "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                        "resources": [{"kind": "GitRepository", "name": "fleet"}]}}),
    ] {
        create(&client, &ns, object).await?;
    }
    let Some(side) = make(cp.kubeconfig_path())? else {
        return Ok(None);
    };
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let value = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("value").cloned())
            .unwrap_or_default()
    };
    let receivers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource {
            group: "notification.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "notification.toolkit.fluxcd.io/v1".into(),
            kind: "Receiver".into(),
            plural: "receivers".into(),
        },
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let path = loop {
        let ready = configmaps.get_opt("pushed").await.ok().flatten();
        let receiver = receivers.get("github").await.ok();
        let path = receiver
            .as_ref()
            .and_then(|r| r.data["status"]["webhookPath"].as_str().map(str::to_string));
        if value(ready) == "0"
            && let Some(path) = path
        {
            break path;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: the first commit was not applied in 2 minutes",
                side.name
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let url = format!("http://127.0.0.1:{}{path}", side.hooks_port);
    let mut latencies = Latencies {
        applied: Vec::new(),
        status: Vec::new(),
    };
    for i in 1..=pushes {
        remote
            .write("deploy/pushed.yaml", config_map(i))
            .map_err(|e| e.to_string())?;
        let head = remote.commit(&i.to_string()).map_err(|e| e.to_string())?;
        let body = json!({"ref": "refs/heads/main", "after": head}).to_string();
        let signature = sign(token.as_bytes(), body.as_bytes());
        let start = Instant::now();
        let code = post_webhook(&url, &body, &signature).await?;
        if code != 200 {
            return Err(format!("{}: the webhook answered {code}", side.name));
        }
        let limit = start + Duration::from_secs(60);
        let mut applied = None;
        let mut status = None;
        while applied.is_none() || status.is_none() {
            if applied.is_none()
                && value(configmaps.get_opt("pushed").await.ok().flatten()) == i.to_string()
            {
                applied = Some(start.elapsed());
            }
            if status.is_none()
                && let Ok(seen) = statuses.lock()
                && let Some((_, at)) = seen.iter().find(|(sha, _)| *sha == head)
            {
                status = Some(at.saturating_duration_since(start));
            }
            if Instant::now() > limit {
                return Err(format!(
                    "{}: push {i} not {} within 60s",
                    side.name,
                    if applied.is_none() {
                        "applied"
                    } else {
                        "reported"
                    }
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.applied.extend(applied);
        latencies.status.extend(status);
    }
    latencies.applied.sort();
    latencies.status.sort();
    Ok(Some(latencies))
}

fn report(name: &str, l: &Latencies) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{name:<9} webhook → applied: p50 {}, p99 {}, max {}; → commit status: p50 {}, p99 {}, max {}",
        ms(percentile(&l.applied, 50.0)),
        ms(percentile(&l.applied, 99.0)),
        ms(l.applied.last().copied().unwrap_or_default()),
        ms(percentile(&l.status, 50.0)),
        ms(percentile(&l.status, 99.0)),
        ms(l.status.last().copied().unwrap_or_default()),
    );
}

/// Runs the benchmark.
pub fn webhook(pushes: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let cp = ControlPlane::start().map_err(|e| e.to_string())?;
        cp.install_crd_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds"))
            .await
            .map_err(|e| e.to_string())?;
        let git = GitHttpServer::start().map_err(|e| e.to_string())?;
        println!("{pushes} pushes, each followed by a GitHub push webhook");
        let ours = scenario(&cp, &git, pushes, |k| ours(k).map(Some), "ours").await?;
        if let Some(l) = &ours {
            report("fluxd", l);
        }
        match scenario(&cp, &git, pushes, upstream, "upstream").await? {
            Some(theirs) => {
                report("upstream", &theirs);
                if let Some(l) = &ours {
                    let ratio = |a: &[Duration], b: &[Duration]| {
                        percentile(b, 99.0).as_secs_f64()
                            / percentile(a, 99.0).as_secs_f64().max(1e-9)
                    };
                    println!(
                        "p99 ratio (upstream / ours): applied {:.1}×, commit status {:.1}×",
                        ratio(&l.applied, &theirs.applied),
                        ratio(&l.status, &theirs.status)
                    );
                }
            }
            None => eprintln!(
                "upstream controllers not found (scripts/install-deps.sh, scripts/install-upstream-kustomize-controller.sh): ours only"
            ),
        }
        Ok(())
    })
}
