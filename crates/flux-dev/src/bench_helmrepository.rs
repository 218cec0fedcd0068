//! `flux-dev bench helmrepository [VERSIONS] [CHARTS]`: one HelmRepository
//! whose index holds VERSIONS chart versions (about 4 KB each, as in large
//! public repositories: 10,000 make a ~40 MB index) and CHARTS HelmCharts
//! pulling from it, reconciled by our `fluxd --controllers=source` and by
//! upstream's source-controller (built by
//! `scripts/install-upstream-source-controller.sh`, run with the Helm index
//! cache flags upstream's install sets), each on a fresh control plane.
//! Prints the time until all HelmCharts are Ready, the peak memory, and
//! the memory after a round of reconcile requests that changes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use flux_api::source::v1::{HelmChart, HelmRepository};
use flux_testenv::{ControlPlane, HelmRepoServer};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// A controller child process, stopped when dropped.
struct Controller(std::process::Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Controller {
    fn memory_mib(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(field))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

enum Implementation {
    Ours,
    Upstream(std::path::PathBuf),
}

fn start(
    implementation: &Implementation,
    kubeconfig: &Path,
    namespace: &str,
    storage: &Path,
) -> Result<Controller, String> {
    let storage_addr = format!("127.0.0.1:{}", free_port()?);
    // `FLUX_BENCH_LOG_DIR`: each controller's debug log goes there.
    let log = std::env::var("FLUX_BENCH_LOG_DIR").ok().map(|dir| {
        let which = match implementation {
            Implementation::Ours => "flux-rs",
            Implementation::Upstream(_) => "upstream",
        };
        format!("{dir}/{which}.log")
    });
    let log = log.as_deref();
    let mut command = match implementation {
        Implementation::Ours => {
            let binary = std::env::current_exe()
                .map_err(|e| e.to_string())?
                .with_file_name("fluxd");
            if !binary.exists() {
                return Err(format!(
                    "{} not found: build it first (cargo build --release -p fluxd)",
                    binary.display()
                ));
            }
            let mut c = std::process::Command::new(binary);
            c.arg("--controllers=source");
            c
        }
        Implementation::Upstream(binary) => {
            let mut c = std::process::Command::new(binary);
            // What upstream's install sets (`flux install`).
            c.args([
                "--enable-leader-election=false",
                "--helm-cache-max-size=10",
                "--helm-cache-ttl=60m",
                "--helm-cache-purge-interval=5m",
            ]);
            c
        }
    };
    let child = command
        .env("KUBECONFIG", kubeconfig)
        .env("RUNTIME_NAMESPACE", namespace)
        .arg("--watch-all-namespaces=false")
        .arg("--concurrent=10")
        .arg(format!("--storage-path={}", storage.display()))
        .arg(format!("--storage-addr={storage_addr}"))
        .arg(format!("--storage-adv-addr={storage_addr}"))
        .arg(format!("--metrics-addr=127.0.0.1:{}", free_port()?))
        .arg(format!("--health-addr=127.0.0.1:{}", free_port()?))
        .arg(format!(
            "--log-level={}",
            if log.is_some() { "debug" } else { "error" }
        ))
        .stdout(std::process::Stdio::null())
        .stderr(match log {
            Some(path) => std::fs::File::create(path)
                .map(std::process::Stdio::from)
                .map_err(|e| format!("{path}: {e}"))?,
            None => std::process::Stdio::null(),
        })
        .spawn()
        .map_err(|e| format!("starting the controller: {e}"))?;
    Ok(Controller(child))
}

/// An index of `versions` versions spread over `charts` charts, with the
/// metadata real indexes carry; and a packaged chart for the newest
/// version of each chart (what the HelmCharts pull).
fn repository(server: &HelmRepoServer, versions: usize, charts: usize) -> Result<(), String> {
    let per_chart = versions.div_ceil(charts).max(1);
    let mut index = String::from("apiVersion: v1\nentries:\n");
    let filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(30);
    for c in 0..charts {
        index.push_str(&format!("  chart{c}:\n"));
        for v in 0..per_chart {
            index.push_str(&format!(
                "  - apiVersion: v2\n    appVersion: \"{v}.0\"\n    created: \"2024-01-01T00:00:{:02}.{v:09}Z\"\n    description: \"{filler}\"\n    digest: {:064x}\n    home: https://example.com/chart{c}\n    icon: https://example.com/icon.png\n    keywords: [web, database, cache, queue]\n    maintainers:\n    - name: Someone\n      email: someone@example.com\n    annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: \"{filler}\"\n      category: Database\n    dependencies:\n    - name: common\n      version: 2.x.x\n      repository: https://charts.example.com/common\n    name: chart{c}\n    sources: [https://github.com/example/chart{c}]\n    type: application\n    urls:\n    - chart{c}-1.0.{v}.tgz\n    version: 1.0.{v}\n",
                v % 60,
                c * per_chart + v
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path().join(format!("chart{c}"));
        std::fs::create_dir_all(root.join("templates")).map_err(|e| e.to_string())?;
        std::fs::write(
            root.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: chart{c}\nversion: 1.0.{}\n",
                per_chart - 1
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            root.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )
        .map_err(|e| e.to_string())?;
        let ignore = flux_artifact::SourceIgnore::from_patterns(dir.path(), &[])
            .map_err(|e| e.to_string())?;
        let mut tgz = Vec::new();
        flux_artifact::gotar::write_tree(
            dir.path(),
            &ignore,
            flux_artifact::gotar::Modes::Keep,
            &flux_artifact::Limits::default(),
            &mut tgz,
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            server
                .root()
                .join(format!("chart{c}-1.0.{}.tgz", per_chart - 1)),
            tgz,
        )
        .map_err(|e| e.to_string())?;
    }
    std::fs::write(server.root().join("index.yaml"), index).map_err(|e| e.to_string())
}

struct Measures {
    index_mb: f64,
    ready: Option<Duration>,
    index_ready: Option<Duration>,
    peak_mib: f64,
    after_requests_mib: f64,
    requested: Option<Duration>,
}

async fn scenario(
    versions: usize,
    charts: usize,
    implementation: &Implementation,
) -> Result<Measures, String> {
    let cp = ControlPlane::start().map_err(|e| e.to_string())?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds");
    cp.install_crd_dir(&crds).await.map_err(|e| e.to_string())?;
    let ns = cp.namespace("bench").await.map_err(|e| e.to_string())?;
    let client = cp.client().map_err(|e| e.to_string())?;
    let server = HelmRepoServer::start().map_err(|e| e.to_string())?;
    repository(&server, versions, charts)?;
    let index_mb = std::fs::metadata(server.root().join("index.yaml"))
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or_default();
    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(storage.path().join("data")).map_err(|e| e.to_string())?;
    let controller = start(
        implementation,
        cp.kubeconfig_path(),
        ns.name(),
        &storage.path().join("data"),
    )?;

    warm_up(&client, ns.name()).await?;

    let start_time = Instant::now();
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), ns.name());
    let repo: HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "big"},
        "spec": {"url": server.url(), "interval": "60m", "timeout": "5m"},
    }))
    .map_err(|e| e.to_string())?;
    repos
        .create(&PostParams::default(), &repo)
        .await
        .map_err(|e| e.to_string())?;
    // When the index is stored (polled alongside the HelmCharts' creation).
    let repo_ready = tokio::spawn({
        let repos = repos.clone();
        async move {
            loop {
                let stored = repos.get("big").await.ok().is_some_and(|r| {
                    r.status
                        .as_ref()
                        .is_some_and(|s| flux_runtime::conditions::is_true(&s.conditions, "Ready"))
                });
                if stored {
                    return Some(start_time.elapsed());
                }
                if start_time.elapsed() > Duration::from_secs(900) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let api: Api<HelmChart> = Api::namespaced(client.clone(), ns.name());
    ten_at_a_time(charts, |c| {
        let api = api.clone();
        async move {
            let chart: HelmChart = serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": format!("chart{c}")},
                "spec": {"chart": format!("chart{c}"), "version": "*", "interval": "60m",
                         "sourceRef": {"kind": "HelmRepository", "name": "big"}},
            }))
            .map_err(|e| e.to_string())?;
            api.create(&PostParams::default(), &chart)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await?;
    let all_ready = |api: Api<HelmChart>, token: Option<String>| async move {
        let list = api.list(&ListParams::default()).await.ok()?;
        let done = list.items.iter().all(|c| {
            c.status.as_ref().is_some_and(|s| {
                flux_runtime::conditions::is_true(&s.conditions, "Ready")
                    && token
                        .as_ref()
                        .is_none_or(|t| s.last_handled_reconcile_at.as_deref() == Some(t))
            })
        });
        done.then_some(())
    };
    let limit = Duration::from_secs(900);
    let ready = flux_testenv::eventually_within("all HelmCharts Ready", limit, || {
        all_ready(api.clone(), None)
    })
    .await
    .ok()
    .map(|()| start_time.elapsed());
    let peak_mib = controller.memory_mib("VmHWM:");
    let index_ready = repo_ready.await.ok().flatten();

    // Nothing changes: every HelmChart is asked to reconcile.
    let token = "bench-1".to_string();
    let requested_at = Instant::now();
    ten_at_a_time(charts, |c| {
        let (api, token) = (api.clone(), token.clone());
        async move {
            let patch =
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
            api.patch(
                &format!("chart{c}"),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }
    })
    .await?;
    let requested = if ready.is_some() {
        flux_testenv::eventually_within("all requests handled", limit, || {
            all_ready(api.clone(), Some(token.clone()))
        })
        .await
        .ok()
        .map(|()| requested_at.elapsed())
    } else {
        None
    };
    let after_requests_mib = controller.memory_mib("VmRSS:");
    drop(controller);
    Ok(Measures {
        index_mb,
        ready,
        index_ready,
        peak_mib,
        after_requests_mib,
        requested,
    })
}

/// Runs `request` for each of `0..n`, ten at a time: the driver's own
/// round trips are not what is measured.
async fn ten_at_a_time<F, Fut>(n: usize, request: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let results: Vec<Result<(), String>> = futures::stream::iter(0..n)
        .map(request)
        .buffer_unordered(10)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Waits until the controller reconciles both kinds (its watches are up,
/// the apiserver serves the new kinds to it), then removes what it used:
/// the measures are of a running controller, not of its start.
async fn warm_up(client: &kube::Client, namespace: &str) -> Result<(), String> {
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), namespace);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), namespace);
    let repo: HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "warm-up"},
        "spec": {"url": "http://127.0.0.1:1/", "interval": "60m"},
    }))
    .map_err(|e| e.to_string())?;
    let chart: HelmChart = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "warm-up"},
        "spec": {"chart": "warm-up", "interval": "60m",
                 "sourceRef": {"kind": "HelmRepository", "name": "warm-up"}},
    }))
    .map_err(|e| e.to_string())?;
    repos
        .create(&PostParams::default(), &repo)
        .await
        .map_err(|e| e.to_string())?;
    charts
        .create(&PostParams::default(), &chart)
        .await
        .map_err(|e| e.to_string())?;
    let has_ready = |conditions: Option<&Vec<flux_api::meta::Condition>>| {
        conditions.is_some_and(|c| c.iter().any(|c| c.r#type == "Ready"))
    };
    flux_testenv::eventually_within(
        "the controller reconciles",
        Duration::from_secs(300),
        || {
            let (repos, charts) = (repos.clone(), charts.clone());
            async move {
                let repo = repos.get("warm-up").await.ok()?;
                let chart = charts.get("warm-up").await.ok()?;
                (has_ready(repo.status.as_ref().map(|s| &s.conditions))
                    && has_ready(chart.status.as_ref().map(|s| &s.conditions)))
                .then_some(())
            }
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = charts.delete("warm-up", &Default::default()).await;
    let _ = repos.delete("warm-up", &Default::default()).await;
    Ok(())
}

fn upstream_binary() -> Option<std::path::PathBuf> {
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cache")))
        .ok()?;
    let path = cache.join("flux-rs/tools/source-controller-v1.7.0/source-controller");
    path.exists().then_some(path)
}

/// Runs the benchmark.
pub fn helmrepository(versions: usize, charts: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let ours = scenario(versions, charts, &Implementation::Ours).await?;
        let Some(binary) = upstream_binary() else {
            return Err(
                "upstream source-controller not found: run scripts/install-upstream-source-controller.sh"
                    .to_string(),
            );
        };
        let theirs = scenario(versions, charts, &Implementation::Upstream(binary)).await?;
        println!(
            "helmrepository: one HelmRepository, an index of {versions} versions ({:.1} MB), {charts} HelmCharts (real kube-apiserver + etcd, a fresh one per implementation, `--concurrent=10`)",
            ours.index_mb
        );
        println!("| measure | flux-rs | upstream source-controller v1.7.0 | ratio |");
        println!("|---|---|---|---|");
        let secs = |d: Option<Duration>| {
            d.map_or("not within 900 s".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
        };
        let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.1}×", b.as_secs_f64() / a.as_secs_f64().max(1e-9)),
            _ => "—".to_string(),
        };
        println!(
            "| HelmRepository Ready (index stored) after creation | {} | {} | {} |",
            secs(ours.index_ready),
            secs(theirs.index_ready),
            ratio(ours.index_ready, theirs.index_ready)
        );
        println!(
            "| all HelmCharts Ready after creation | {} | {} | {} |",
            secs(ours.ready),
            secs(theirs.ready),
            ratio(ours.ready, theirs.ready)
        );
        println!(
            "| peak memory | {:.0} MiB | {:.0} MiB | {:.1}× |",
            ours.peak_mib,
            theirs.peak_mib,
            theirs.peak_mib / ours.peak_mib.max(1e-9)
        );
        println!(
            "| `requestedAt` on every HelmChart, nothing changed: all handled | {} | {} | {} |",
            secs(ours.requested),
            secs(theirs.requested),
            ratio(ours.requested, theirs.requested)
        );
        println!(
            "| memory after that round | {:.0} MiB | {:.0} MiB | {:.1}× |",
            ours.after_requests_mib,
            theirs.after_requests_mib,
            theirs.after_requests_mib / ours.after_requests_mib.max(1e-9)
        );
        Ok(())
    })
}
