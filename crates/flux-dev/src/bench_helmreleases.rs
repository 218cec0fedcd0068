//! `flux-dev bench helmreleases [N]`: N HelmReleases of one chart (3
//! ConfigMaps each, the HelmChart of each generated from `spec.chart`) from
//! one HelmRepository, on a real control plane, reconciled by the real
//! `fluxd --controllers=helm` and then by upstream's helm-controller (the
//! source controller is `fluxd --controllers=source` in both). Prints the
//! time until all are Ready, the helm controller's peak memory, the API
//! requests per HelmRelease of a round of explicit reconcile requests and
//! of a round of interval reconciliations where nothing changed, and the
//! Helm release Secrets written by those rounds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::bench_kustomizations::{Fluxd, api_requests, request_all};
use flux_api::helm::v2::HelmRelease;
use flux_testenv::{ControlPlane, HelmRepoServer};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// `spec.interval` of the HelmReleases: the interval round waits this long.
const INTERVAL: Duration = Duration::from_secs(60);
/// How long all may take to become Ready.
const DEADLINE: Duration = Duration::from_secs(900);

/// Which helm controller the scenario runs.
enum Implementation {
    Ours,
    Upstream(std::path::PathBuf),
}

/// What one scenario measured.
struct Measures {
    /// `None` when not all were Ready within [`DEADLINE`].
    ready: Option<Duration>,
    ready_count: usize,
    peak_mib: f64,
    requested: Duration,
    requested_mean: f64,
    requested_requests: f64,
    interval_reconciles: f64,
    interval_requests: f64,
    /// Helm release Secrets created or rewritten by the two rounds.
    secrets_written: usize,
    /// When all generated HelmCharts had an artifact (the source side).
    charts_ready: Option<Duration>,
    /// The interval round's requests by verb and resource.
    interval_breakdown: String,
    /// The requests until all were Ready, by verb and resource.
    creation_breakdown: String,
}

fn ready(hr: &HelmRelease) -> bool {
    hr.status.as_ref().is_some_and(|s| {
        flux_runtime::conditions::get(&s.conditions, "Ready").is_some_and(|c| {
            c.status == flux_api::meta::ConditionStatus::True
                && c.observed_generation == hr.metadata.generation
        }) && s.observed_generation == hr.metadata.generation
    })
}

/// Upstream's helm-controller: `FLUX_UPSTREAM_HELM_CONTROLLER`, else the
/// one `scripts/install-deps.sh` links as `helm-controller-upstream`.
fn upstream_binary() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("FLUX_UPSTREAM_HELM_CONTROLLER") {
        return Some(path.into());
    }
    flux_testenv::tool("helm-controller-upstream").ok()
}

/// Runs the benchmark.
pub fn helmreleases(n: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(n))
}

async fn run(n: usize) -> Result<(), String> {
    let ours = scenario(n, &Implementation::Ours).await?;
    let upstream = match upstream_binary() {
        Some(binary) => Some(scenario(n, &Implementation::Upstream(binary)).await?),
        None => {
            eprintln!("upstream helm-controller not found: run scripts/install-deps.sh to compare");
            None
        }
    };
    println!(
        "helmreleases: {n} HelmReleases × 3 ConfigMaps, one chart from one HelmRepository, a HelmChart per release (real kube-apiserver + etcd, a fresh one per implementation; source: `fluxd --controllers=source`; helm controller as its own process, `--concurrent=10`)"
    );
    let per = |requests: f64, count: f64| {
        if count > 0.0 { requests / count } else { 0.0 }
    };
    let columns = |m: &Measures| -> [String; 5] {
        let Some(ready) = m.ready else {
            let not = "not measured (not all Ready)".to_string();
            return [
                format!(
                    "only {} of {n} Ready after {} s",
                    m.ready_count,
                    DEADLINE.as_secs()
                ),
                format!("{:.0} MiB", m.peak_mib),
                not.clone(),
                not.clone(),
                not,
            ];
        };
        [
            format!("{:.1} s", ready.as_secs_f64()),
            format!("{:.0} MiB", m.peak_mib),
            format!(
                "handled in {:.1} s, {:.0} ms per reconcile, {:.2} API requests per HelmRelease",
                m.requested.as_secs_f64(),
                m.requested_mean * 1000.0,
                per(m.requested_requests, n as f64)
            ),
            format!(
                "{:.0} reconciles, {:.2} API requests per HelmRelease per reconcile",
                m.interval_reconciles,
                per(m.interval_requests, m.interval_reconciles)
            ),
            format!("{}", m.secrets_written),
        ]
    };
    let labels = [
        "all Ready after creation",
        "peak memory of the helm controller",
        "`reconcile.fluxcd.io/requestedAt` on all, nothing changed",
        "interval reconciles, nothing changed (65 s window; control-plane bookkeeping left out)",
        "release Secrets written by both rounds",
    ];
    let theirs = upstream.as_ref().map(|up| {
        let both = ours.ready.is_some() && up.ready.is_some();
        let ratios = [
            match (up.ready, ours.ready) {
                (Some(u), Some(o)) => format!("{:.1}×", u.as_secs_f64() / o.as_secs_f64()),
                (None, Some(o)) => {
                    format!("> {:.1}×", DEADLINE.as_secs_f64() / o.as_secs_f64())
                }
                _ => "—".to_string(),
            },
            format!("{:.1}×", up.peak_mib / ours.peak_mib.max(1e-9)),
            if both {
                format!(
                    "{:.1}×",
                    up.requested.as_secs_f64() / ours.requested.as_secs_f64().max(1e-9)
                )
            } else {
                "—".to_string()
            },
            if both {
                format!(
                    "{:.0}× fewer requests",
                    up.interval_requests / ours.interval_requests.max(1.0)
                )
            } else {
                "—".to_string()
            },
            "—".to_string(),
        ];
        (columns(up), ratios)
    });
    crate::bench::print_comparison(
        "upstream helm-controller v1.6.0",
        &labels,
        &columns(&ours),
        theirs.as_ref().map(|(c, r)| (c.as_slice(), r.as_slice())),
    );
    for (side, m) in
        std::iter::once(("flux-rs", &ours)).chain(upstream.iter().map(|u| ("upstream", u)))
    {
        println!(
            "{side}: HelmCharts with an artifact after {}; interval round requests (whole API server, both controllers and the control plane): {}",
            m.charts_ready
                .map_or("—".to_string(), |d| format!("{:.1} s", d.as_secs_f64())),
            if m.interval_breakdown.is_empty() {
                "none"
            } else {
                &m.interval_breakdown
            }
        );
        println!("{side}: requests until all Ready: {}", m.creation_breakdown);
    }
    Ok(())
}

/// The API server's request counts by `VERB resource`.
async fn requests_by_resource(client: &Client) -> Result<BTreeMap<String, f64>, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| format!("reading the API server's metrics: {e}"))?;
    let label = |line: &str, name: &str| {
        line.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string()
    };
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some(count) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let mut resource = label(line, "resource");
        let sub = label(line, "subresource");
        if !sub.is_empty() {
            resource = format!("{resource}/{sub}");
        }
        *out.entry(format!("{} {resource}", label(line, "verb")))
            .or_insert(0.0) += count;
    }
    Ok(out)
}

/// What changed between two [`requests_by_resource`] readings, largest
/// first: `12 PUT leases, 3 GET helmreleases`.
fn breakdown(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    let mut changed: Vec<(f64, &String)> = after
        .iter()
        .map(|(k, v)| (v - before.get(k).copied().unwrap_or(0.0), k))
        .filter(|(d, _)| *d > 0.0)
        .collect();
    changed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    changed
        .iter()
        .map(|(d, k)| format!("{d:.0} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The chart: three ConfigMaps of the release's values.
fn write_chart(dir: &Path) -> Result<std::path::PathBuf, String> {
    let chart = dir.join("bench");
    std::fs::create_dir_all(chart.join("templates")).map_err(|e| e.to_string())?;
    let mut template = String::new();
    for j in 0..3 {
        template.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-cm{j}\n  labels:\n    app.kubernetes.io/name: {{{{ .Chart.Name }}}}\ndata:\n  index: {{{{ .Values.index | quote }}}}\n  key: value-{j}\n"
        ));
    }
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: bench\nversion: 0.1.0\nappVersion: \"1.0\"\n".to_string(),
        ),
        ("values.yaml", "index: 0\n".to_string()),
        ("templates/configmaps.yaml", template),
    ];
    for (file, text) in files {
        std::fs::write(chart.join(file), text).map_err(|e| e.to_string())?;
    }
    Ok(chart)
}

async fn release_secrets(client: &Client, namespace: &str) -> Result<Vec<String>, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = secrets
        .list_metadata(&ListParams::default().labels("owner=helm"))
        .await
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .map(|s| {
            format!(
                "{}@{}",
                s.metadata.name.unwrap_or_default(),
                s.metadata.resource_version.unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    Ok(names)
}

async fn scenario(n: usize, implementation: &Implementation) -> Result<Measures, String> {
    let cp = ControlPlane::start().map_err(|e| e.to_string())?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds");
    cp.install_crd_dir(&crds).await.map_err(|e| e.to_string())?;
    let ns = cp.namespace("bench").await.map_err(|e| e.to_string())?;
    let client = cp.client().map_err(|e| e.to_string())?;

    let repo = HelmRepoServer::start().map_err(|e| e.to_string())?;
    let sources = tempfile::tempdir().map_err(|e| e.to_string())?;
    repo.add_chart(&write_chart(sources.path())?)
        .map_err(|e| e.to_string())?;

    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let _source = Fluxd::start(cp.kubeconfig_path(), storage.path(), "source")?;
    let spare = tempfile::tempdir().map_err(|e| e.to_string())?;
    let helm = match implementation {
        Implementation::Ours => Fluxd::start(cp.kubeconfig_path(), spare.path(), "helm")?,
        Implementation::Upstream(binary) => Fluxd::upstream(binary, cp.kubeconfig_path())?,
    };
    let reconciles =
        || helm.metric("controller_runtime_reconcile_total{controller=\"helmrelease\"");
    let seconds =
        || helm.metric("controller_runtime_reconcile_time_seconds_sum{controller=\"helmrelease\"");

    let repos: Api<flux_api::source::v1::HelmRepository> =
        Api::namespaced(client.clone(), ns.name());
    let repository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "charts"},
        "spec": {"url": repo.url(), "interval": "60m"}
    }))
    .map_err(|e| e.to_string())?;
    repos
        .create(&PostParams::default(), &repository)
        .await
        .map_err(|e| e.to_string())?;

    let releases: Api<HelmRelease> = Api::namespaced(client.clone(), ns.name());
    let release = |name: String, index: usize| -> Result<HelmRelease, String> {
        serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": {
                "interval": format!("{}s", INTERVAL.as_secs()),
                "chart": {"spec": {
                    "chart": "bench",
                    "version": "0.1.0",
                    // The source controller stays quiet during the rounds.
                    "interval": "60m",
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"}
                }},
                "values": {"index": index}
            }
        }))
        .map_err(|e| e.to_string())
    };
    // Warm-up: one release installed and uninstalled, so that the
    // measures are of running controllers, not of their start or of the
    // API server's first requests for new kinds.
    releases
        .create(&PostParams::default(), &release("warm-up".into(), 0)?)
        .await
        .map_err(|e| e.to_string())?;
    flux_testenv::eventually_within("the warm-up release", DEADLINE, || async {
        releases.get("warm-up").await.ok().filter(ready).map(|_| ())
    })
    .await
    .map_err(|e| e.to_string())?;
    releases
        .delete("warm-up", &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    flux_testenv::eventually_within("the warm-up release gone", DEADLINE, || async {
        matches!(releases.get_opt("warm-up").await, Ok(None)).then_some(())
    })
    .await
    .map_err(|e| e.to_string())?;

    let before_creation = requests_by_resource(&client).await?;
    let start = Instant::now();
    let created = futures::stream::iter(0..n)
        .map(|i| {
            let api = releases.clone();
            let hr = release(format!("app{i}"), i);
            async move {
                api.create(&PostParams::default(), &hr?)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(10)
        .collect::<Vec<_>>()
        .await;
    for result in created {
        result?;
    }
    let charts: Api<flux_api::source::v1::HelmChart> = Api::namespaced(client.clone(), ns.name());
    let mut charts_ready = None;
    loop {
        let list = releases
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let count = list.items.iter().filter(|hr| ready(hr)).count();
        if charts_ready.is_none() {
            let with_artifact = charts
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
                .iter()
                .filter(|c| c.status.as_ref().is_some_and(|s| s.artifact.is_some()))
                .count();
            if with_artifact == n {
                charts_ready = Some(start.elapsed());
            }
        }
        if count == n {
            break;
        }
        if start.elapsed() > DEADLINE {
            return Ok(Measures {
                ready: None,
                ready_count: count,
                peak_mib: helm.peak_rss_mib(),
                requested: Duration::ZERO,
                requested_mean: 0.0,
                requested_requests: 0.0,
                interval_reconciles: 0.0,
                interval_requests: 0.0,
                secrets_written: 0,
                charts_ready,
                interval_breakdown: String::new(),
                creation_breakdown: String::new(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all_ready = start.elapsed();
    let creation_breakdown = breakdown(&before_creation, &requests_by_resource(&client).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let secrets_before = release_secrets(&client, ns.name()).await?;

    // A reconcile round where nothing changed, requested on every object.
    let before = api_requests(&client).await?;
    let mut own = 1.0; // the metrics read itself
    let token = "bench-no-change";
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    let (count_before, seconds_before) = (reconciles()?, seconds()?);
    let round = Instant::now();
    own += request_all(&releases, n, &patch).await?;
    loop {
        let list = releases
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        own += 1.0;
        let handled = list
            .items
            .iter()
            .filter(|hr| {
                hr.status
                    .as_ref()
                    .and_then(|s| s.last_handled_reconcile_at.as_deref())
                    == Some(token)
                    && ready(hr)
            })
            .count();
        if handled == n {
            break;
        }
        if round.elapsed() > DEADLINE {
            return Err("the no-change round did not finish".to_string());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let requested = round.elapsed();
    // Late writes of the round (upstream patches its status once more).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requested_mean = (seconds()? - seconds_before) / (reconciles()? - count_before).max(1.0);
    let requested_requests = (api_requests(&client).await? - before - own).max(0.0);

    // Reconciliations on the interval, where nothing changed either.
    // The control plane's own bookkeeping (leader-election leases, OpenAPI
    // downloads), the same in both runs and made by neither controller, is
    // left out of the count and shown in the breakdown.
    let reconciles_before = reconciles()?;
    let by_resource = requests_by_resource(&client).await?;
    tokio::time::sleep(INTERVAL + Duration::from_secs(5)).await;
    let interval_reconciles = reconciles()? - reconciles_before;
    let after = requests_by_resource(&client).await?;
    let interval_requests: f64 = after
        .iter()
        .filter(|(k, _)| !k.ends_with(" leases") && !k.contains(" /openapi"))
        .map(|(k, v)| v - by_resource.get(k).copied().unwrap_or(0.0))
        .sum();
    let interval_breakdown = breakdown(&by_resource, &after);
    let secrets_after = release_secrets(&client, ns.name()).await?;
    let secrets_written = secrets_after
        .iter()
        .filter(|s| !secrets_before.contains(s))
        .count();
    Ok(Measures {
        ready: Some(all_ready),
        ready_count: n,
        peak_mib: helm.peak_rss_mib(),
        requested,
        requested_mean,
        requested_requests,
        interval_reconciles,
        interval_requests,
        secrets_written,
        charts_ready,
        interval_breakdown,
        creation_breakdown,
    })
}
