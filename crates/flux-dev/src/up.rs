//! `flux-dev up FLEET_DIR ENV_FILE`: the local environment of the demo — a
//! real single-node cluster (kube-apiserver + etcd + controller manager,
//! and the node: scheduler, kubelet on containerd, kube-proxy, CoreDNS), the
//! `fluxd` image (from the `fluxd` next to this program) in the node's
//! registry, and a git server Pods reach holding FLEET_DIR as repository
//! `fleet` — kept up until Ctrl-C or SIGTERM. ENV_FILE receives
//! `KUBECONFIG=…`, `FLEET_URL=…`, `REGISTRY=…` once everything is up.

use std::path::Path;

use flux_testenv::{ControlPlane, ControlPlaneOptions, GitHttpServer, HttpAuth, Image};

/// Runs the environment.
pub fn up(fleet: &Path, env_file: &Path) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(fleet, env_file))
}

async fn run(fleet: &Path, env_file: &Path) -> Result<(), String> {
    let files = fleet_files(fleet)?;
    if files.is_empty() {
        return Err(format!(
            "{}: no files to put in the fleet repository",
            fleet.display()
        ));
    }
    let fluxd = fluxd_binary()?;
    let cp = ControlPlane::start_with(ControlPlaneOptions {
        node: true,
        ..ControlPlaneOptions::default()
    })
    .map_err(|e| format!("starting the cluster: {e}"))?;
    let node = cp.node().ok_or("the cluster has no node")?;
    push_fluxd(&fluxd, &node.registry().host())?;
    let git = GitHttpServer::start_reachable_from_pods(HttpAuth::None)
        .map_err(|e| format!("starting the git server: {e}"))?;
    let repo = git.create_repo("fleet").map_err(|e| e.to_string())?;
    for (path, text) in files {
        repo.write(&path, text).map_err(|e| e.to_string())?;
    }
    let head = repo
        .commit("Fleet: clusters, infrastructure, apps")
        .map_err(|e| e.to_string())?;
    let env = format!(
        "KUBECONFIG={}\nFLEET_URL={}\nFLEET_HEAD={head}\nKUBERNETES_VERSION={}\nREGISTRY={}\nNODE_STARTED_IN={:.1}\n",
        cp.kubeconfig_path().display(),
        repo.url(),
        cp.version(),
        flux_testenv::REGISTRY_ALIAS,
        node.started_in().as_secs_f64(),
    );
    let partial = env_file.with_extension("tmp");
    std::fs::write(&partial, env).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, env_file).map_err(|e| e.to_string())?;
    eprintln!(
        "flux-dev up: Kubernetes {} at {} with node {} (up in {:.1?}), registry {}, fleet repository at {} (Ctrl-C stops)",
        cp.version(),
        cp.server_url(),
        node.name(),
        node.started_in(),
        flux_testenv::REGISTRY_ALIAS,
        repo.url()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("flux-dev up: stopping");
    drop(git);
    drop(cp);
    Ok(())
}

/// `flux-dev images REGISTRY`: the node's images and `fluxd`'s, pushed.
pub fn images(registry: &str) -> Result<(), String> {
    let fluxd = fluxd_binary()?;
    let pushed = flux_testenv::push_node_images(registry).map_err(|e| e.to_string())?;
    for image in pushed.values() {
        println!("{} {}", image.reference, image.digest);
    }
    let image = push_fluxd(&fluxd, registry)?;
    println!("{} {}", image.reference, image.digest);
    Ok(())
}

/// The `fluxd` built next to this program.
fn fluxd_binary() -> Result<std::path::PathBuf, String> {
    let fluxd = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("fluxd");
    if fluxd.is_file() {
        Ok(fluxd)
    } else {
        Err(format!(
            "{} is missing: build it first (cargo build -p fluxd)",
            fluxd.display()
        ))
    }
}

/// Pushes the `fluxd` image as `<registry>/fluxd:v<version>`, the tag
/// `flux install` writes for this version.
fn push_fluxd(fluxd: &Path, registry: &str) -> Result<flux_testenv::PushedImage, String> {
    let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
    Image::program(fluxd, "/usr/local/bin/fluxd")
        .and_then(|image| image.push(registry, "fluxd", &tag))
        .map_err(|e| format!("pushing the fluxd image: {e}"))
}

/// Every file under `root`, as (relative path, contents).
fn fleet_files(root: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            out.push((relative, text));
        }
    }
    out.sort();
    Ok(out)
}
