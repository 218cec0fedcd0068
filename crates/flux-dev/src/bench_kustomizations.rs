//! `flux-dev bench kustomizations [N]`: one GitRepository feeding N
//! Kustomizations (3 ConfigMaps each) on a real control plane, reconciled
//! by the real `fluxd` binary (built beside this one). Prints the time
//! until all are Ready, fluxd's peak memory, and the API requests per
//! object of a round of explicit reconcile requests and of a round of
//! interval reconciliations where nothing changed (from the API server's
//! `apiserver_request_total`, minus the benchmark's own requests).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use flux_api::kustomize::v1::Kustomization;
use flux_testenv::{ControlPlane, GitHttpServer};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const OBJECTS_PER_KUSTOMIZATION: usize = 3;
/// `spec.interval` of the Kustomizations: the interval round waits this long.
const INTERVAL: Duration = Duration::from_secs(60);

/// A controller child process, stopped when dropped.
pub(crate) struct Fluxd {
    child: std::process::Child,
    metrics: String,
}

impl Drop for Fluxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Which kustomize controller the scenario runs.
enum Implementation {
    /// `fluxd --controllers=kustomize`, built beside this binary.
    Ours,
    /// Upstream's `kustomize-controller` binary at this path.
    Upstream(std::path::PathBuf),
}

impl Fluxd {
    /// `fluxd --controllers=<controllers>` (artifacts stored in `storage`).
    pub(crate) fn start(
        kubeconfig: &Path,
        storage: &Path,
        controllers: &str,
    ) -> Result<Self, String> {
        let binary = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("fluxd");
        if !binary.exists() {
            return Err(format!(
                "{} not found: build it first (cargo build --release -p fluxd)",
                binary.display()
            ));
        }
        let storage_port = free_port()?;
        let metrics = format!("127.0.0.1:{}", free_port()?);
        let child = std::process::Command::new(&binary)
            .env("KUBECONFIG", kubeconfig)
            .arg(format!("--controllers={controllers}"))
            .arg("--concurrent=10")
            .arg(format!("--storage-path={}", storage.display()))
            .arg(format!("--storage-addr=127.0.0.1:{storage_port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{storage_port}"))
            .arg(format!("--metrics-addr={metrics}"))
            .arg(format!("--health-addr=127.0.0.1:{}", free_port()?))
            .arg("--log-level=error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        Ok(Self { child, metrics })
    }

    /// Upstream's kustomize-controller, out of cluster, same settings.
    pub(crate) fn upstream(binary: &Path, kubeconfig: &Path) -> Result<Self, String> {
        Self::upstream_with(binary, kubeconfig, &[])
    }

    /// An upstream controller, out of cluster, same settings, plus `extra`
    /// arguments.
    pub(crate) fn upstream_with(
        binary: &Path,
        kubeconfig: &Path,
        extra: &[String],
    ) -> Result<Self, String> {
        let metrics = format!("127.0.0.1:{}", free_port()?);
        let child = std::process::Command::new(binary)
            .env("KUBECONFIG", kubeconfig)
            .env("RUNTIME_NAMESPACE", "default")
            .args(extra)
            .arg("--concurrent=10")
            .arg("--enable-leader-election=false")
            .arg("--watch-all-namespaces=true")
            .arg(format!("--metrics-addr={metrics}"))
            .arg(format!("--health-addr=127.0.0.1:{}", free_port()?))
            .arg("--log-level=error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        Ok(Self { child, metrics })
    }

    /// Its peak resident memory so far.
    pub(crate) fn peak_rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// The CPU time (user and system) it used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| {
                // Fields after the command name (which may hold spaces):
                // utime and stime are the 12th and 13th, in clock ticks.
                let rest = s.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ticks =
                    fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                Some(ticks / 100.0)
            })
            .unwrap_or(0.0)
    }

    /// The sum of its metric lines starting with `prefix`.
    pub(crate) fn metric(&self, prefix: &str) -> Result<f64, String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.metrics).map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: fluxd\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut text = String::new();
        stream
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Reconciliations of Kustomizations so far.
    fn reconciles(&self) -> Result<f64, String> {
        self.metric("controller_runtime_reconcile_total{controller=\"kustomization\"")
    }

    /// Seconds spent in Kustomization reconciliations so far.
    fn reconcile_seconds(&self) -> Result<f64, String> {
        self.metric("controller_runtime_reconcile_time_seconds_sum{controller=\"kustomization\"")
    }
}

/// Merge-patches `patch` into objects `app0`…`app{n-1}` of `api`, ten at
/// a time; returns the number of requests made.
pub(crate) async fn request_all<K>(
    api: &Api<K>,
    n: usize,
    patch: &serde_json::Value,
) -> Result<f64, String>
where
    K: kube::Resource + Clone + for<'de> k8s_openapi::serde::Deserialize<'de> + std::fmt::Debug,
{
    let results = futures::stream::iter(0..n)
        .map(|i| async move {
            api.patch(
                &format!("app{i}"),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        })
        .buffer_unordered(10)
        .collect::<Vec<_>>()
        .await;
    let mut made = 0.0;
    for result in results {
        result?;
        made += 1.0;
    }
    Ok(made)
}

pub(crate) async fn api_requests(client: &Client) -> Result<f64, String> {
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

fn ready(k: &Kustomization) -> bool {
    k.status.as_ref().is_some_and(|s| {
        flux_runtime::conditions::is_true(&s.conditions, "Ready")
            && s.last_applied_revision.is_some()
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

/// What one scenario measured.
struct Measures {
    /// `None` when not all were Ready within the 10-minute limit.
    ready: Option<Duration>,
    /// How many were Ready (all, or at the limit).
    ready_count: usize,
    peak_mib: f64,
    requested: Duration,
    requested_send: Duration,
    requested_mean: f64,
    requested_requests: f64,
    interval_reconciles: f64,
    interval_requests: f64,
}

/// Upstream's kustomize-controller: `FLUX_UPSTREAM_KUSTOMIZE_CONTROLLER`,
/// else the one `scripts/install-upstream-kustomize-controller.sh` builds.
fn upstream_binary() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("FLUX_UPSTREAM_KUSTOMIZE_CONTROLLER") {
        return Some(path.into());
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cache")))
        .ok()?;
    let path = cache.join("flux-rs/tools/kustomize-controller-v1.9.6/kustomize-controller");
    path.exists().then_some(path)
}

async fn run(n: usize) -> Result<(), String> {
    if let Ok(level) = std::env::var("FLUX_BENCH_LOG") {
        let level = flux_runtime::logging::parse_level(&level).map_err(|e| e.to_string())?;
        flux_runtime::logging::init(level, flux_runtime::logging::LogEncoding::Console)
            .map_err(|e| e.to_string())?;
    }
    let ours = scenario(n, &Implementation::Ours).await?;
    let upstream = match upstream_binary() {
        Some(binary) => Some(scenario(n, &Implementation::Upstream(binary)).await?),
        None => {
            eprintln!(
                "upstream kustomize-controller not found: run scripts/install-upstream-kustomize-controller.sh to compare"
            );
            None
        }
    };
    let objects = (n * OBJECTS_PER_KUSTOMIZATION) as f64;
    println!(
        "kustomizations: {n} Kustomizations × {OBJECTS_PER_KUSTOMIZATION} ConfigMaps from one GitRepository (real kube-apiserver + etcd, a fresh one per implementation; source: `fluxd --controllers=source`; kustomize controller as its own process, `--concurrent=10`)"
    );
    let columns = |m: &Measures| -> [String; 4] {
        let per_reconcile = if m.interval_reconciles > 0.0 {
            m.interval_requests / (m.interval_reconciles * OBJECTS_PER_KUSTOMIZATION as f64)
        } else {
            0.0
        };
        let Some(ready) = m.ready else {
            return [
                format!("only {} of {n} Ready after 600 s", m.ready_count),
                format!("{:.0} MiB", m.peak_mib),
                "not measured (not all Ready)".to_string(),
                "not measured (not all Ready)".to_string(),
            ];
        };
        [
            format!("{:.1} s", ready.as_secs_f64()),
            format!("{:.0} MiB", m.peak_mib),
            format!(
                "handled {:.1} s after the first request ({:.1} s to send them), {:.0} ms per reconcile, {:.2} API requests per object",
                m.requested.as_secs_f64(),
                m.requested_send.as_secs_f64(),
                m.requested_mean * 1000.0,
                m.requested_requests / objects
            ),
            format!(
                "{:.0} reconciles, {:.2} API requests per object per reconcile",
                m.interval_reconciles, per_reconcile
            ),
        ]
    };
    let labels = [
        "all Ready after creation",
        "peak memory of the kustomize controller",
        "`reconcile.fluxcd.io/requestedAt` on all, nothing changed",
        "interval reconciles, nothing changed (65 s window)",
    ];
    let ours_columns = columns(&ours);
    match &upstream {
        Some(up) => {
            let up_columns = columns(up);
            println!("| measure | flux-rs | upstream kustomize-controller v1.9.6 | ratio |");
            println!("|---|---|---|---|");
            let ratios = [
                match (up.ready, ours.ready) {
                    (Some(u), Some(o)) => u.as_secs_f64() / o.as_secs_f64().max(1e-9),
                    (None, Some(o)) => 600.0 / o.as_secs_f64().max(1e-9),
                    _ => 0.0,
                },
                up.peak_mib / ours.peak_mib.max(1e-9),
                up.requested.as_secs_f64() / ours.requested.as_secs_f64().max(1e-9),
                up.interval_requests / ours.interval_requests.max(1.0),
            ];
            for i in 0..4 {
                let ratio = match (i, up.ready) {
                    (0, None) => format!("> {:.1}×", ratios[i]),
                    (1, _) | (_, Some(_)) => format!("{:.1}×", ratios[i]),
                    _ => "—".to_string(),
                };
                println!(
                    "| {} | {} | {} | {ratio} |",
                    labels[i], ours_columns[i], up_columns[i]
                );
            }
        }
        None => {
            println!("| measure | flux-rs |");
            println!("|---|---|");
            for i in 0..4 {
                println!("| {} | {} |", labels[i], ours_columns[i]);
            }
        }
    }
    Ok(())
}

async fn scenario(n: usize, implementation: &Implementation) -> Result<Measures, String> {
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

    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let _source = Fluxd::start(cp.kubeconfig_path(), storage.path(), "source")?;
    let spare = tempfile::tempdir().map_err(|e| e.to_string())?;
    let kustomize = match implementation {
        Implementation::Ours => Fluxd::start(cp.kubeconfig_path(), spare.path(), "kustomize")?,
        Implementation::Upstream(binary) => Fluxd::upstream(binary, cp.kubeconfig_path())?,
    };

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
        let count = list.items.iter().filter(|k| ready(k)).count();
        if count == n {
            break;
        }
        if start.elapsed() > deadline {
            // Reported as such; the rounds below need everything Ready.
            return Ok(Measures {
                ready: None,
                ready_count: count,
                peak_mib: kustomize.peak_rss_mib(),
                requested: Duration::ZERO,
                requested_send: Duration::ZERO,
                requested_mean: 0.0,
                requested_requests: 0.0,
                interval_reconciles: 0.0,
                interval_requests: 0.0,
            });
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
    let (count_before, seconds_before) = (kustomize.reconciles()?, kustomize.reconcile_seconds()?);
    let round = Instant::now();
    own += request_all(&kustomizations, n, &patch).await?;
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
    let round_mean = (kustomize.reconcile_seconds()? - seconds_before)
        / (kustomize.reconciles()? - count_before).max(1.0);
    let after = api_requests(&client).await?;
    let requested_requests = (after - before - own).max(0.0);

    // Reconciliations on the interval, where nothing changed either.
    let reconciles_before = kustomize.reconciles()?;
    let before_interval = api_requests(&client).await?;
    tokio::time::sleep(INTERVAL + Duration::from_secs(5)).await;
    let interval_reconciles = kustomize.reconciles()? - reconciles_before;
    let interval_requests = (api_requests(&client).await? - before_interval - 1.0).max(0.0);
    Ok(Measures {
        ready: Some(all_ready),
        ready_count: n,
        peak_mib: kustomize.peak_rss_mib(),
        requested: round_time,
        requested_send: requested,
        requested_mean: round_mean,
        requested_requests,
        interval_reconciles,
        interval_requests,
    })
}
