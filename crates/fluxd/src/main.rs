//! `fluxd`: the toolkit controllers in one process. `--controllers` picks
//! which run (today: `source`, with GitRepository). Flags follow upstream's
//! names and defaults. Kubernetes access: `KUBECONFIG` / `~/.kube/config`,
//! or the in-cluster service account.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use flux_artifact::{Retention, Storage};
use flux_source_controller::{Context, server};

/// Flux toolkit controllers.
#[derive(Parser, Debug)]
#[command(name = "fluxd", version, about)]
struct Flags {
    /// Controllers to run, comma-separated: source.
    #[arg(long, default_value = "source", value_delimiter = ',')]
    controllers: Vec<String>,
    /// Where artifacts are stored.
    #[arg(long, env = "STORAGE_PATH", default_value = "/data")]
    storage_path: PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, env = "STORAGE_ADDRESS", default_value = ":9090")]
    storage_addr: String,
    /// Address artifacts are advertised at (host[:port] or URL); by default the hostname.
    #[arg(long, env = "STORAGE_ADV_ADDRESS")]
    storage_adv_addr: Option<String>,
    /// Concurrent reconciliations per kind.
    #[arg(long, default_value_t = 2)]
    concurrent: u16,
    /// Watch all namespaces (else only the runtime namespace, `RUNTIME_NAMESPACE`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// Artifacts kept per object.
    #[arg(long, default_value_t = 2)]
    artifact_retention_records: usize,
    /// Age after which older artifacts are deleted (Go duration).
    #[arg(long, default_value = "1m0s")]
    artifact_retention_ttl: String,
    /// Address of `/healthz` and `/readyz`.
    #[arg(long, default_value = ":9440")]
    health_addr: String,
}

fn socket(addr: &str) -> Result<SocketAddr, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.parse()
        .map_err(|e| format!("invalid address {addr:?}: {e}"))
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fluxd: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fluxd: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> Result<(), String> {
    for controller in &flags.controllers {
        if controller != "source" {
            return Err(format!(
                "unknown controller {controller:?} (available: source)"
            ));
        }
    }
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("connecting to Kubernetes: {e}"))?;
    let ttl = flux_runtime::parse_duration(&flags.artifact_retention_ttl)
        .map_err(|e| format!("--artifact-retention-ttl: {e}"))?;
    let storage_addr = socket(&flags.storage_addr)?;
    let listener = tokio::net::TcpListener::bind(storage_addr)
        .await
        .map_err(|e| format!("listening on {storage_addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let advertised = flags.storage_adv_addr.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
        format!("{host}:{}", bound.port())
    });
    let storage = Storage::new(
        &flags.storage_path,
        &advertised,
        Retention {
            records: flags.artifact_retention_records,
            ttl,
        },
    )
    .map_err(|e| format!("--storage-path: {e}"))?;

    let health_addr = socket(&flags.health_addr)?;
    let health = tokio::net::TcpListener::bind(health_addr)
        .await
        .map_err(|e| format!("listening on {health_addr}: {e}"))?;
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));

    let mut ctx = Context::new(client, storage);
    ctx.concurrency = flags.concurrent;
    let namespace = if flags.watch_all_namespaces {
        None
    } else {
        Some(std::env::var("RUNTIME_NAMESPACE").unwrap_or_else(|_| "flux-system".to_string()))
    };
    eprintln!(
        "fluxd: source controller running; artifacts in {} served on {bound} as {advertised}",
        flags.storage_path.display()
    );
    tokio::select! {
        _ = flux_source_controller::run(ctx, namespace.as_deref()) => Err("the controller stopped".to_string()),
        r = server::serve_storage(flags.storage_path.clone(), listener) => Err(format!("artifact server: {r:?}")),
        r = axum::serve(health, probes) => Err(format!("health server: {r:?}")),
        _ = shutdown() => {
            eprintln!("fluxd: shutting down");
            Ok(())
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    // Give in-flight status writes a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
}
