//! `flux-dev bench images [REPOSITORIES] [TAGS] [FILES]`: REPOSITORIES
//! ImageRepositories of TAGS tags each on a real registry (the
//! distribution registry), one semver ImagePolicy per repository, and one
//! ImageUpdateAutomation over a real git repository (git http-backend) of
//! FILES files of which REPOSITORIES carry a marker — reconciled by
//! `fluxd --controllers=image-reflector,image-automation` and then by
//! upstream's image-reflector-controller and image-automation-controller,
//! each on a fresh control plane, registry and repository. Prints the
//! time until every policy picked its tag and every marker was committed,
//! the time from a new tag in every repository to the commit of all of
//! them, the controllers' peak memory and CPU time, and the registry
//! requests of an interval where nothing changed (from the registry's
//! access log).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::bench_kustomizations::{Fluxd, request_all};
use flux_api::image::v1::{ImagePolicy, ImageRepository};
use flux_testenv::{ControlPlane, GitHttpServer, OciRegistry};
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

/// `spec.interval` of the ImageRepositories: the quiet round lasts one.
const INTERVAL: Duration = Duration::from_secs(60);
/// How long each phase may take.
const DEADLINE: Duration = Duration::from_secs(900);
/// The version every repository gets during the run.
const NEW_TAG: &str = "2.0.0";

/// Which image controllers the scenario runs.
enum Implementation {
    Ours,
    Upstream {
        reflector: std::path::PathBuf,
        automation: std::path::PathBuf,
    },
}

/// What one scenario measured.
struct Measures {
    /// Every policy has the newest tag and every marker is committed.
    initial: Option<Duration>,
    /// Every repository scanned (part of `initial`).
    scanned: Option<Duration>,
    /// A new tag in every repository → all of them committed.
    new_tag: Option<Duration>,
    /// Commits pushed for the new tag.
    new_tag_commits: usize,
    /// Registry requests during one quiet interval, and the tag listings
    /// among them.
    quiet_requests: usize,
    quiet_listings: usize,
    /// Registry requests of the controllers up to the quiet interval.
    busy_requests: usize,
    peak_mib: f64,
    cpu_seconds: f64,
    /// Why a phase did not finish, if one did not.
    failure: Option<String>,
}

fn tool(variable: &str, name: &str) -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var(variable) {
        return Some(path.into());
    }
    flux_testenv::tool(name).ok()
}

/// Runs the benchmark.
pub fn images(repositories: usize, tags: usize, files: usize) -> Result<(), String> {
    if repositories == 0 || tags == 0 || files < repositories {
        return Err("need at least one repository and tag, and FILES ≥ REPOSITORIES".to_string());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(repositories, tags, files))
}

async fn run(repositories: usize, tags: usize, files: usize) -> Result<(), String> {
    let ours = scenario(repositories, tags, files, &Implementation::Ours).await?;
    let upstream = match (
        tool(
            "FLUX_UPSTREAM_IMAGE_REFLECTOR_CONTROLLER",
            "image-reflector-controller-upstream",
        ),
        tool(
            "FLUX_UPSTREAM_IMAGE_AUTOMATION_CONTROLLER",
            "image-automation-controller-upstream",
        ),
    ) {
        (Some(reflector), Some(automation)) => Some(
            scenario(
                repositories,
                tags,
                files,
                &Implementation::Upstream {
                    reflector,
                    automation,
                },
            )
            .await?,
        ),
        _ => {
            eprintln!(
                "upstream image controllers not found: run scripts/install-deps.sh to compare"
            );
            None
        }
    };
    println!(
        "images: {repositories} ImageRepositories × {tags} tags (distribution registry), {repositories} semver ImagePolicies, one ImageUpdateAutomation over {files} files with {repositories} markers (git http-backend); a fresh control plane, registry and repository per implementation; `--concurrent=10`"
    );
    let secs = |d: Option<Duration>| {
        d.map_or("did not finish".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    let per_repo = |n: usize| n as f64 / repositories as f64;
    let columns = |m: &Measures| -> [String; 6] {
        [
            format!(
                "{} (all scanned after {})",
                secs(m.initial),
                secs(m.scanned)
            ),
            format!("{} ({} commits)", secs(m.new_tag), m.new_tag_commits),
            format!(
                "{:.2} per repository ({} requests, {} tag listings)",
                per_repo(m.quiet_requests),
                m.quiet_requests,
                m.quiet_listings
            ),
            format!("{}", m.busy_requests),
            format!("{:.0} MiB", m.peak_mib),
            format!("{:.1} s", m.cpu_seconds),
        ]
    };
    let labels = [
        "every policy resolved and every marker committed, from creation",
        "a new tag in every repository → all committed (scans requested)",
        "registry requests in one quiet interval (nothing changed)",
        "registry requests until then",
        "peak memory (upstream: both controllers' peaks added)",
        "CPU time of the controllers, whole run",
    ];
    let ratio = |u: Option<Duration>, o: Option<Duration>| match (u, o) {
        (Some(u), Some(o)) => format!("{:.1}×", u.as_secs_f64() / o.as_secs_f64().max(1e-9)),
        _ => "—".to_string(),
    };
    let theirs = upstream.as_ref().map(|up| {
        let ratios = [
            ratio(up.initial, ours.initial),
            ratio(up.new_tag, ours.new_tag),
            format!(
                "{:.1}× fewer",
                up.quiet_requests as f64 / (ours.quiet_requests as f64).max(1.0)
            ),
            format!(
                "{:.1}× fewer",
                up.busy_requests as f64 / (ours.busy_requests as f64).max(1.0)
            ),
            format!("{:.1}×", up.peak_mib / ours.peak_mib.max(1e-9)),
            format!("{:.1}×", up.cpu_seconds / ours.cpu_seconds.max(1e-9)),
        ];
        (columns(up), ratios)
    });
    crate::bench::print_comparison(
        "upstream image controllers v1.2.4",
        &labels,
        &columns(&ours),
        theirs.as_ref().map(|(c, r)| (c.as_slice(), r.as_slice())),
    );
    for (side, m) in
        std::iter::once(("flux-rs", &ours)).chain(upstream.iter().map(|u| ("upstream", u)))
    {
        if let Some(failure) = &m.failure {
            println!("{side}: {failure}");
        }
    }
    Ok(())
}

/// The controllers of one scenario, stopped when dropped.
struct Controllers(Vec<Fluxd>);

impl Controllers {
    fn peak_mib(&self) -> f64 {
        self.0.iter().map(Fluxd::peak_rss_mib).sum()
    }

    fn cpu_seconds(&self) -> f64 {
        self.0.iter().map(Fluxd::cpu_seconds).sum()
    }
}

/// The marked file of repository `i`.
fn marked_file(namespace: &str, host: &str, i: usize, tag: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          # The image is kept current by image automation.\n          image: {host}/bench/app{i}:{tag} # {{\"$imagepolicy\": \"{namespace}:app{i}\"}}\n          ports:\n            - containerPort: 8080\n"
    )
}

/// How many marked files on `main` of the bare repository hold `tag`, and
/// how many commits `main` has.
fn committed(bare: &Path, tag: &str) -> Result<(usize, usize), String> {
    let grep = std::process::Command::new("git")
        .current_dir(bare)
        .args([
            "grep",
            "-l",
            "-F",
            &format!(":{tag} # "),
            "main",
            "--",
            "apps",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let files = String::from_utf8_lossy(&grep.stdout).lines().count();
    let count = std::process::Command::new("git")
        .current_dir(bare)
        .args(["rev-list", "--count", "main"])
        .output()
        .map_err(|e| e.to_string())?;
    let commits = String::from_utf8_lossy(&count.stdout)
        .trim()
        .parse::<usize>()
        .unwrap_or(0);
    Ok((files, commits))
}

async fn create_all(
    client: &kube::Client,
    namespace: &str,
    objects: Vec<Value>,
) -> Result<(), String> {
    let results = futures::stream::iter(objects)
        .map(|object| async move {
            flux_testenv::create_object(client, namespace, &object)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .buffer_unordered(10)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect()
}

/// Polls `check` every 250 ms until it holds or [`DEADLINE`] passes from
/// `start`; the time it took.
async fn until<F, Fut>(start: Instant, mut check: F) -> Result<Option<Duration>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    loop {
        if check().await? {
            return Ok(Some(start.elapsed()));
        }
        if start.elapsed() > DEADLINE {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn scenario(
    repositories: usize,
    tags: usize,
    files: usize,
    implementation: &Implementation,
) -> Result<Measures, String> {
    let err = |e: flux_testenv::Error| e.to_string();
    let cp = ControlPlane::start().map_err(err)?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds");
    cp.install_crd_dir(&crds).await.map_err(err)?;
    let ns = cp.namespace("bench").await.map_err(err)?;
    let namespace = ns.name().to_string();
    let client = cp.client().map_err(err)?;

    // The registry: one small image per repository, tagged 1.0.0, then
    // the other tags written into its storage.
    let registry = OciRegistry::start().map_err(err)?;
    let host = registry.host();
    let image = flux_testenv::Image::new();
    for i in 0..repositories {
        let repository = format!("bench/app{i}");
        image.push(&host, &repository, "1.0.0").map_err(err)?;
        registry
            .add_tags_in_storage(&repository, "1.0.0", (1..tags).map(|j| format!("1.0.{j}")))
            .map_err(err)?;
    }
    let newest = format!("1.0.{}", tags - 1);
    let setup_requests = registry.requests().map_err(err)?.len();

    // The fleet repository.
    let git = GitHttpServer::start().map_err(err)?;
    let repo = git.create_repo("fleet").map_err(err)?;
    for i in 0..files {
        if i < repositories {
            repo.write(
                &format!("apps/app{i}.yaml"),
                marked_file(&namespace, &host, i, "1.0.0"),
            )
            .map_err(err)?;
        } else {
            repo.write(
                &format!("other/{}/config{i}.yaml", i % 50),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config{i}\ndata:\n  image: {host}/bench/app0:1.0.0 # not a marker\n"),
            )
            .map_err(err)?;
        }
    }
    repo.commit("fleet").map_err(err)?;
    let bare = repo.bare_path().to_path_buf();

    let storage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let controllers = match implementation {
        Implementation::Ours => Controllers(vec![Fluxd::start(
            cp.kubeconfig_path(),
            storage.path(),
            "image-reflector,image-automation",
        )?]),
        Implementation::Upstream {
            reflector,
            automation,
        } => Controllers(vec![
            Fluxd::upstream_with(
                reflector,
                cp.kubeconfig_path(),
                &[format!("--storage-path={}", storage.path().display())],
            )?,
            Fluxd::upstream_with(automation, cp.kubeconfig_path(), &[])?,
        ]),
    };

    let mut objects = vec![json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet"},
        "spec": {"url": repo.url(), "interval": "60m", "ref": {"branch": "main"}}
    })];
    for i in 0..repositories {
        objects.push(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": format!("app{i}")},
            "spec": {"image": format!("{host}/bench/app{i}"), "insecure": true,
                     "interval": format!("{}s", INTERVAL.as_secs())}
        }));
        objects.push(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": format!("app{i}")},
            "spec": {"imageRepositoryRef": {"name": format!("app{i}")},
                     "policy": {"semver": {"range": ">=1.0.0"}}}
        }));
    }
    objects.push(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "fleet"},
        "spec": {"interval": "60m",
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                 "git": {"commit": {"author": {"name": "Flux", "email": "flux@example.com"}}},
                 "update": {"path": "./", "strategy": "Setters"}}
    }));

    let image_repositories: Api<ImageRepository> = Api::namespaced(client.clone(), &namespace);
    let policies: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    let mut failure = None;
    let start = Instant::now();
    create_all(&client, &namespace, objects).await?;
    let scanned = until(start, || async {
        let list = image_repositories
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(list.items.len() == repositories
            && list.items.iter().all(|r| {
                r.status
                    .as_ref()
                    .and_then(|s| s.last_scan_result.as_ref())
                    .is_some_and(|s| s.tag_count == tags as i64)
            }))
    })
    .await?;
    let initial = until(start, || async {
        let list = policies
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let resolved = list.items.iter().all(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.latest_ref.as_ref())
                .is_some_and(|r| r.tag == newest)
        });
        Ok(resolved && committed(&bare, &newest)?.0 == repositories)
    })
    .await?;
    if initial.is_none() {
        failure = Some(format!(
            "not all committed after {} s: {} of {repositories} markers",
            DEADLINE.as_secs(),
            committed(&bare, &newest)?.0
        ));
    }

    // A new tag everywhere; the scans asked for at once, as a Receiver or
    // `flux reconcile image repository` does.
    let mut new_tag = None;
    let mut new_tag_commits = 0;
    if failure.is_none() {
        for i in 0..repositories {
            registry
                .add_tags_in_storage(&format!("bench/app{i}"), "1.0.0", [NEW_TAG.to_string()])
                .map_err(err)?;
        }
        let (_, commits_before) = committed(&bare, &newest)?;
        let pushed = Instant::now();
        let patch =
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "new-tag"}}});
        request_all(&image_repositories, repositories, &patch).await?;
        new_tag = until(pushed, || async {
            Ok(committed(&bare, NEW_TAG)?.0 == repositories)
        })
        .await?;
        new_tag_commits = committed(&bare, NEW_TAG)?.1.saturating_sub(commits_before);
        if new_tag.is_none() {
            failure = Some(format!(
                "the new tag not committed after {} s: {} of {repositories}",
                DEADLINE.as_secs(),
                committed(&bare, NEW_TAG)?.0
            ));
        }
    }

    // One interval where nothing changes: what the registry is asked.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = registry.requests().map_err(err)?.len();
    tokio::time::sleep(INTERVAL).await;
    let requests = registry.requests().map_err(err)?;
    let quiet = &requests[before.min(requests.len())..];
    let quiet_listings = quiet.iter().filter(|r| r.contains("/tags/list")).count();
    Ok(Measures {
        initial,
        scanned,
        new_tag,
        new_tag_commits,
        quiet_requests: quiet.len(),
        quiet_listings,
        busy_requests: before.saturating_sub(setup_requests),
        peak_mib: controllers.peak_mib(),
        cpu_seconds: controllers.cpu_seconds(),
        failure,
    })
}
