//! `flux-dev bench kustomizations [N]`: one GitRepository feeding N
//! Kustomizations (3 ConfigMaps each) on a real control plane, with the
//! source and kustomize controllers running in this process. Prints the
//! time until all are Ready, this process's peak memory, and the API
//! requests per object of a reconcile round where nothing changed (from
//! the API server's `apiserver_request_total`, minus the benchmark's own
//! requests).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use flux_api::kustomize::v1::Kustomization;
use flux_artifact::{Retention, Storage};
use flux_testenv::{ControlPlane, GitHttpServer};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const OBJECTS_PER_KUSTOMIZATION: usize = 3;
/// `spec.interval` of the Kustomizations: the interval round waits this long.
const INTERVAL: Duration = Duration::from_secs(60);

/// The sum of the controller's metric lines starting with `prefix`.
fn metric(ctx: &flux_kustomize_controller::Context, prefix: &str) -> f64 {
    ctx.metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Reconciliations of Kustomizations so far.
fn reconciles(ctx: &flux_kustomize_controller::Context) -> f64 {
    metric(
        ctx,
        "controller_runtime_reconcile_total{controller=\"kustomization\"",
    )
}

/// Seconds spent in Kustomization reconciliations so far.
fn reconcile_seconds(ctx: &flux_kustomize_controller::Context) -> f64 {
    metric(
        ctx,
        "controller_runtime_reconcile_time_seconds_sum{controller=\"kustomization\"",
    )
}

async fn api_requests(client: &Client) -> Result<f64, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| format!("reading the API server's metrics: {e}"))?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn ready(k: &Kustomization) -> bool {
    k.status.as_ref().is_some_and(|s| {
        flux_api::conditions::is_true(&s.conditions, "Ready") && s.last_applied_revision.is_some()
    })
}

/// Runs the benchmark.
pub fn kustomizations(n: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(n))
}

async fn run(n: usize) -> Result<(), String> {
    if let Ok(level) = std::env::var("FLUX_BENCH_LOG") {
        let level = flux_runtime::logging::parse_level(&level)?;
        flux_runtime::logging::init(level, flux_runtime::logging::LogEncoding::Console)?;
    }
    let cp = ControlPlane::start().map_err(|e| e.to_string())?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds");
    cp.install_crd_dir(&crds).await.map_err(|e| e.to_string())?;
    let ns = cp.namespace("bench").await.map_err(|e| e.to_string())?;
    let client = cp.client().map_err(|e| e.to_string())?;

    let git = GitHttpServer::start().map_err(|e| e.to_string())?;
    let remote = git.create_repo("fleet").map_err(|e| e.to_string())?;
    for i in 0..n {
        let mut text = String::new();
        for j in 0..OBJECTS_PER_KUSTOMIZATION {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app{i}-cm{j}\ndata:\n  key: value-{i}-{j}\n"
            ));
        }
        remote
            .write(&format!("apps/app{i}/config.yaml"), text)
            .map_err(|e| e.to_string())?;
    }
    remote.commit("apps").map_err(|e| e.to_string())?;

    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    tokio::spawn(flux_source_controller::server::serve_storage(
        root.path().to_path_buf(),
        listener,
    ));
    let storage =
        Storage::new(root.path(), &address, Retention::default()).map_err(|e| e.to_string())?;
    let source = flux_source_controller::Context::new(client.clone(), storage);
    let namespace = ns.name().to_string();
    tokio::spawn(async move { flux_source_controller::run(source, Some(&namespace)).await });
    let mut kustomize = flux_kustomize_controller::Context::new(client.clone());
    kustomize.concurrency = 10;
    let kustomize = std::sync::Arc::new(kustomize);
    let namespace = ns.name().to_string();
    let shared = kustomize.clone();
    tokio::spawn(async move {
        flux_kustomize_controller::run_shared(shared, Some(&namespace)).await;
    });

    let repos: Api<flux_api::source::v1::GitRepository> =
        Api::namespaced(client.clone(), ns.name());
    let repo = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "fleet"},
        "spec": {"url": remote.url(), "interval": "60m", "ref": {"branch": "main"}}
    }))
    .map_err(|e| e.to_string())?;
    repos
        .create(&PostParams::default(), &repo)
        .await
        .map_err(|e| e.to_string())?;

    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), ns.name());
    let start = Instant::now();
    for i in 0..n {
        let k = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": format!("app{i}")},
            "spec": {
                "interval": format!("{}s", INTERVAL.as_secs()),
                "path": format!("./apps/app{i}"),
                "prune": true,
                "targetNamespace": ns.name(),
                "sourceRef": {"kind": "GitRepository", "name": "fleet"}
            }
        }))
        .map_err(|e| e.to_string())?;
        kustomizations
            .create(&PostParams::default(), &k)
            .await
            .map_err(|e| e.to_string())?;
    }
    let deadline = Duration::from_secs(600);
    loop {
        let list = kustomizations
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        if list.items.iter().filter(|k| ready(k)).count() == n {
            break;
        }
        if start.elapsed() > deadline {
            return Err(format!(
                "not all {n} Kustomizations were Ready after {deadline:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all_ready = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A reconcile round where nothing changed, requested on every object.
    let before = api_requests(&client).await?;
    let mut own = 1.0; // the metrics read itself
    let token = "bench-no-change";
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    let (count_before, seconds_before) = (reconciles(&kustomize), reconcile_seconds(&kustomize));
    let round = Instant::now();
    let requests = futures::stream::iter(0..n)
        .map(|i| {
            let api = kustomizations.clone();
            let patch = patch.clone();
            async move {
                api.patch(
                    &format!("app{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(10)
        .collect::<Vec<_>>()
        .await;
    for result in requests {
        result?;
        own += 1.0;
    }
    let requested = round.elapsed();
    loop {
        let list = kustomizations
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        own += 1.0;
        let handled = list
            .items
            .iter()
            .filter(|k| {
                k.status
                    .as_ref()
                    .and_then(|s| s.last_handled_reconcile_at.as_deref())
                    == Some(token)
            })
            .count();
        if handled == n {
            break;
        }
        if round.elapsed() > deadline {
            return Err("the no-change round did not finish".to_string());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let round_time = round.elapsed();
    let round_mean = (reconcile_seconds(&kustomize) - seconds_before)
        / (reconciles(&kustomize) - count_before).max(1.0);
    let after = api_requests(&client).await?;
    let requested_requests = (after - before - own).max(0.0);

    // Reconciliations on the interval, where nothing changed either.
    let reconciles_before = reconciles(&kustomize);
    let before_interval = api_requests(&client).await?;
    tokio::time::sleep(INTERVAL + Duration::from_secs(5)).await;
    let interval_reconciles = reconciles(&kustomize) - reconciles_before;
    let interval_requests = (api_requests(&client).await? - before_interval - 1.0).max(0.0);
    let objects = (n * OBJECTS_PER_KUSTOMIZATION) as f64;
    println!(
        "kustomizations: {n} Kustomizations × {OBJECTS_PER_KUSTOMIZATION} ConfigMaps from one GitRepository (real kube-apiserver + etcd, controllers in this process)"
    );
    println!("| measure | flux-rs |");
    println!("|---|---|");
    println!(
        "| all Ready after creation | {:.1} s |",
        all_ready.as_secs_f64()
    );
    println!(
        "| peak memory (this process: both controllers + git server) | {:.0} MiB |",
        peak_rss_mib()
    );
    println!(
        "| `reconcile.fluxcd.io/requestedAt` on all, nothing changed | handled {:.1} s after the first request ({:.1} s to send them), {:.0} ms per reconcile; {requested_requests:.0} API requests = {:.2} per object |",
        round_time.as_secs_f64(),
        requested.as_secs_f64(),
        round_mean * 1000.0,
        requested_requests / objects
    );
    let per_reconcile = if interval_reconciles > 0.0 {
        interval_requests / (interval_reconciles * OBJECTS_PER_KUSTOMIZATION as f64)
    } else {
        0.0
    };
    println!(
        "| interval reconciles, nothing changed ({:.0} s window) | {interval_reconciles:.0} reconciles, {interval_requests:.0} API requests = {per_reconcile:.2} per object per reconcile |",
        (INTERVAL + Duration::from_secs(5)).as_secs_f64()
    );
    Ok(())
}
