//! `fluxd`: the toolkit controllers in one process. `--controllers` picks
//! which run: `source` (the sources), `kustomize` (Kustomization), `helm`
//! (HelmRelease), `notification` (Alerts, Providers, Receivers: the event
//! and webhook servers) and `source-watcher` (ArtifactGenerator). Flags follow upstream's
//! names and defaults. Kubernetes access: `KUBECONFIG` / `~/.kube/config`,
//! or the in-cluster service account.
//!
//! Servers: artifacts (`--storage-addr`), `/metrics` (`--metrics-addr`),
//! `/healthz` and `/readyz` (`--health-addr`). With
//! `--enable-leader-election`, controllers run only while this process
//! holds the Lease `<controller>-leader-election` (upstream's name, so that
//! fluxd and an upstream controller never reconcile the same objects at
//! once); losing it stops the process, as controller-runtime does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use flux_artifact::{Retention, Storage};
use flux_source_controller::{Context, server};

use flux_runtime::leader::{self, LeaseTimes};

/// Flux toolkit controllers.
#[derive(Parser, Debug)]
#[command(name = "fluxd", version, about)]
struct Flags {
    /// Controllers to run, comma-separated: source, kustomize, helm,
    /// notification, source-watcher, image-reflector, image-automation.
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
    /// Address of the Prometheus `/metrics` endpoint.
    #[arg(long, default_value = ":8080")]
    metrics_addr: String,
    /// URL events are forwarded to (the notification-controller), e.g.
    /// `http://notification-controller.flux-system.svc.cluster.local./`.
    #[arg(long, default_value = "")]
    events_addr: String,
    /// Address the notification event server listens on (Service
    /// `notification-controller`). With `--controllers=notification`, an
    /// `--events-addr` that is an address rather than a URL (`:9090`, as
    /// upstream's notification-controller reads that flag) is used instead.
    #[arg(long, default_value = ":9090")]
    events_listen_addr: String,
    /// Address the webhook receiver server listens on (Service
    /// `webhook-receiver`).
    #[arg(long, alias = "receiverAddr", default_value = ":9292")]
    receiver_addr: String,
    /// One event per object, message and revision is forwarded per this
    /// interval; duplicates are refused (`429`).
    #[arg(long, default_value = "5m")]
    rate_limit_interval: String,
    /// Ignore durations in messages ("finished in 2.08s") when deciding
    /// that an event is a duplicate (beyond upstream).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    rate_limit_ignore_durations: bool,
    /// ServiceAccount Kustomizations act as when they name none
    /// (impersonated; empty: the controller's own identity).
    #[arg(long, default_value = "")]
    default_service_account: String,
    /// Allow `spec.kubeConfig` kubeconfigs that run credential commands
    /// (`exec`, `auth-provider`) inside the controller.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    insecure_kubeconfig_exec: bool,
    /// Allow `spec.kubeConfig` kubeconfigs that skip TLS verification.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    insecure_kubeconfig_tls: bool,
    /// Refuse Kustomization sources in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_cross_namespace_refs: bool,
    /// Retry delay when a dependency (an included source) is not ready.
    #[arg(long, default_value = "30s")]
    requeue_dependency: String,
    /// The largest Helm repository index downloaded, in bytes.
    #[arg(long, default_value_t = 50 << 20)]
    helm_index_max_size: u64,
    /// The largest Helm chart downloaded, in bytes.
    #[arg(long, default_value_t = 10 << 20)]
    helm_chart_max_size: u64,
    /// Only reconcile objects with these labels (sharding), e.g.
    /// `sharding.fluxcd.io/key=shard1`.
    #[arg(long, default_value = "")]
    watch_label_selector: String,
    /// Log level: trace, debug, info or error.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log encoding: json or console.
    #[arg(long, default_value = "json")]
    log_encoding: String,
    /// Run controllers only while holding the leader Lease.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    enable_leader_election: bool,
    /// How long a leader's Lease is valid without renewal.
    #[arg(long, default_value = "35s")]
    leader_election_lease_duration: String,
    /// How long the leader keeps trying to renew before giving up.
    #[arg(long, default_value = "30s")]
    leader_election_renew_deadline: String,
    /// How often candidates retry and the leader renews.
    #[arg(long, default_value = "5s")]
    leader_election_retry_period: String,
    /// Release the Lease on shutdown, so that a successor takes over at once.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_election_release_on_cancel: bool,
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

/// mimalloc: rendering and YAML work allocate many small objects; it is
/// markedly faster than the system allocator for them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let level = flux_runtime::logging::parse_level(&flags.log_level)
        .map_err(|e| format!("--log-level: {e}"))?;
    let encoding = flags
        .log_encoding
        .parse()
        .map_err(|e| format!("--log-encoding: {e}"))?;
    flux_runtime::logging::init(level, encoding).map_err(|e| e.to_string())?;
    for controller in &flags.controllers {
        if ![
            "source",
            "kustomize",
            "helm",
            "notification",
            "source-watcher",
            "image-reflector",
            "image-automation",
        ]
        .contains(&controller.as_str())
        {
            return Err(format!(
                "unknown controller {controller:?} (available: source, kustomize, helm, notification, source-watcher, image-reflector, image-automation)"
            ));
        }
    }
    let duration = |flag: &str, value: &str| {
        flux_runtime::parse_duration(value).map_err(|e| format!("--{flag}: {e}"))
    };
    let requeue_dependency = duration("requeue-dependency", &flags.requeue_dependency)?;
    let lease = LeaseTimes {
        duration: duration(
            "leader-election-lease-duration",
            &flags.leader_election_lease_duration,
        )?,
        renew_deadline: duration(
            "leader-election-renew-deadline",
            &flags.leader_election_renew_deadline,
        )?,
        retry_period: duration(
            "leader-election-retry-period",
            &flags.leader_election_retry_period,
        )?,
    };
    lease.validate().map_err(|e| e.to_string())?;
    let kube_config = kube::Config::infer()
        .await
        .map_err(|e| format!("connecting to Kubernetes: {e}"))?;
    let client = kube::Client::try_from(kube_config.clone())
        .map_err(|e| format!("connecting to Kubernetes: {e}"))?;
    let ttl = flux_runtime::parse_duration(&flags.artifact_retention_ttl)
        .map_err(|e| format!("--artifact-retention-ttl: {e}"))?;
    let run_source = flags.controllers.iter().any(|c| c == "source");
    let run_kustomize = flags.controllers.iter().any(|c| c == "kustomize");
    let run_watcher = flags.controllers.iter().any(|c| c == "source-watcher");
    let run_helm = flags.controllers.iter().any(|c| c == "helm");
    let run_notification = flags.controllers.iter().any(|c| c == "notification");
    let run_image_reflector = flags.controllers.iter().any(|c| c == "image-reflector");
    let run_image_automation = flags.controllers.iter().any(|c| c == "image-automation");
    // The notification servers bind first: the other controllers of this
    // process forward their events to the event server when no
    // `--events-addr` URL says otherwise.
    let mut events_addr = flags.events_addr.clone();
    let notification_listeners = if run_notification {
        let listen = if !events_addr.is_empty() && !events_addr.contains("://") {
            std::mem::take(&mut events_addr)
        } else {
            flags.events_listen_addr.clone()
        };
        let events_socket = socket(&listen)?;
        if (run_source || run_watcher) && socket(&flags.storage_addr)? == events_socket {
            return Err(format!(
                "the event server and the artifact server cannot both listen on {listen}: set --events-listen-addr or --storage-addr"
            ));
        }
        let events = tokio::net::TcpListener::bind(events_socket)
            .await
            .map_err(|e| format!("listening on {events_socket}: {e}"))?;
        let bound = events.local_addr().map_err(|e| e.to_string())?;
        let receiver_socket = socket(&flags.receiver_addr)?;
        let receivers = tokio::net::TcpListener::bind(receiver_socket)
            .await
            .map_err(|e| format!("listening on {receiver_socket}: {e}"))?;
        tracing::info!(events = %bound, receivers = %receiver_socket, "notification servers listening");
        if events_addr.is_empty() {
            events_addr = format!("http://127.0.0.1:{}/", bound.port());
        }
        Some((events, receivers))
    } else {
        None
    };
    // Only the source controller stores and serves artifacts: a fluxd
    // without it (upstream's kustomize-controller Deployment has no
    // storage volume and a read-only root) touches neither.
    let artifacts = if run_source || run_watcher {
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
        tracing::info!(
            storage = %flags.storage_path.display(),
            address = %bound,
            advertised = %advertised,
            "artifact server listening"
        );
        Some((storage, listener))
    } else {
        None
    };

    let health_addr = socket(&flags.health_addr)?;
    let health = tokio::net::TcpListener::bind(health_addr)
        .await
        .map_err(|e| format!("listening on {health_addr}: {e}"))?;
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));

    let metrics_addr = socket(&flags.metrics_addr)?;
    let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .map_err(|e| format!("listening on {metrics_addr}: {e}"))?;

    let metrics = flux_runtime::Metrics::new();
    let notification_metrics = metrics.clone();
    let label_selector = Some(flags.watch_label_selector.clone()).filter(|s| !s.is_empty());
    let (source_ctx, artifact_listener) = match artifacts {
        Some((storage, listener)) => {
            let mut ctx = Context::new(client.clone(), storage);
            ctx.metrics = metrics.clone();
            ctx.concurrency = flags.concurrent;
            ctx.requeue_dependency = requeue_dependency;
            ctx.helm_index_max_size = flags.helm_index_max_size;
            ctx.helm_chart_max_size = flags.helm_chart_max_size;
            ctx.label_selector = label_selector.clone();
            if !events_addr.is_empty() {
                ctx.events = ctx
                    .events
                    .with_webhook(&events_addr)
                    .map_err(|e| format!("--events-addr: {e}"))?;
            }
            (Some(ctx), Some(listener))
        }
        None => (None, None),
    };
    let mut kustomize = flux_kustomize_controller::Context::new(client.clone());
    kustomize.metrics = metrics.clone();
    kustomize.concurrency = flags.concurrent.max(4);
    kustomize.requeue_dependency = requeue_dependency;
    kustomize.no_cross_namespace_refs = flags.no_cross_namespace_refs;
    kustomize.impersonator.config = Some(kube_config.clone());
    kustomize.impersonator.insecure_kubeconfig_exec = flags.insecure_kubeconfig_exec;
    kustomize.impersonator.insecure_kubeconfig_tls = flags.insecure_kubeconfig_tls;
    kustomize.impersonator.default_service_account =
        Some(flags.default_service_account.clone()).filter(|s| !s.is_empty());
    kustomize.label_selector = label_selector.clone();
    let mut helm = flux_helm_controller::Context::new(client.clone());
    helm.metrics = metrics.clone();
    helm.concurrency = flags.concurrent.max(4);
    helm.requeue_dependency = requeue_dependency;
    helm.no_cross_namespace_refs = flags.no_cross_namespace_refs;
    helm.impersonator.config = Some(kube_config.clone());
    helm.impersonator.insecure_kubeconfig_exec = flags.insecure_kubeconfig_exec;
    helm.impersonator.insecure_kubeconfig_tls = flags.insecure_kubeconfig_tls;
    helm.impersonator.default_service_account =
        kustomize.impersonator.default_service_account.clone();
    helm.label_selector = label_selector;
    if !events_addr.is_empty() {
        let webhook = |events: flux_runtime::EventRecorder| {
            events
                .with_webhook(&events_addr)
                .map_err(|e| format!("--events-addr: {e}"))
        };
        kustomize.events = webhook(kustomize.events)?;
        helm.events = webhook(helm.events)?;
    }
    // The image-reflector controller keeps its tag database under
    // `<storage-path>` (upstream's FluxStorage layout).
    let mut images = flux_image_controller::Context::new(client.clone(), &flags.storage_path);
    images.metrics = metrics.clone();
    images.concurrency = flags.concurrent.max(4);
    images.requeue_dependency = requeue_dependency;
    images.no_cross_namespace_refs = flags.no_cross_namespace_refs;
    if !events_addr.is_empty() {
        images.reflector_events = images
            .reflector_events
            .with_webhook(&events_addr)
            .map_err(|e| format!("--events-addr: {e}"))?;
        images.automation_events = images
            .automation_events
            .with_webhook(&events_addr)
            .map_err(|e| format!("--events-addr: {e}"))?;
    }
    let images = std::sync::Arc::new(images);
    let metrics_routes = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        flux_runtime::metrics::CONTENT_TYPE,
                    )],
                    metrics.encode(),
                )
            }
        }),
    );
    let runtime_namespace =
        std::env::var("RUNTIME_NAMESPACE").unwrap_or_else(|_| "flux-system".to_string());
    let namespace = (!flags.watch_all_namespaces).then(|| runtime_namespace.clone());
    let mut notification_ctx = flux_notification_controller::Context::new(client.clone());
    notification_ctx.limiter = flux_notification_controller::limiter::Limiter::new(duration(
        "rate-limit-interval",
        &flags.rate_limit_interval,
    )?);
    notification_ctx.ignore_durations = flags.rate_limit_ignore_durations;
    notification_ctx.no_cross_namespace_refs = flags.no_cross_namespace_refs;
    notification_ctx.metrics = notification_metrics;
    let notification_ctx = std::sync::Arc::new(notification_ctx);
    // The notification servers answer on every replica, leader or not.
    let (notification, notification_servers) = match notification_listeners {
        Some((events, receivers)) => {
            flux_notification_controller::start_watches(&notification_ctx, namespace.as_deref());
            (
                Some(notification_ctx.clone()),
                Some(flux_notification_controller::serve(
                    notification_ctx.clone(),
                    events,
                    receivers,
                )),
            )
        }
        None => (None, None),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let controllers = async {
        let watched = namespace.clone();
        let work = async move {
            let source_ctx = source_ctx.map(std::sync::Arc::new);
            let watcher_ctx = source_ctx.clone();
            let source = async {
                match source_ctx {
                    Some(ctx) if run_source => {
                        flux_source_controller::run_shared(ctx, watched.as_deref()).await
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            let watcher = async {
                match watcher_ctx {
                    Some(ctx) if run_watcher => {
                        flux_source_controller::run_source_watcher(ctx, watched.as_deref()).await
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            let kustomizations = async {
                if run_kustomize {
                    flux_kustomize_controller::run(kustomize, watched.as_deref()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let releases = async {
                if run_helm {
                    flux_helm_controller::run(helm, watched.as_deref()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let notifications = async {
                match &notification {
                    Some(ctx) => {
                        flux_notification_controller::reconcile_receivers(
                            ctx.clone(),
                            watched.as_deref(),
                        )
                        .await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let automation_ctx = images.clone();
            let image_reflector = async {
                if run_image_reflector {
                    flux_image_controller::run_reflector(images, watched.clone()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let image_automation = async {
                if run_image_automation {
                    flux_image_controller::run_automation(automation_ctx, watched.clone()).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = source => {}
                () = watcher => {}
                () = kustomizations => {}
                () = releases => {}
                () = notifications => {}
                () = image_reflector => {}
                () = image_automation => {}
            }
        };
        if flags.enable_leader_election {
            let lease_name = format!("{}-controller-leader-election", flags.controllers.join("-"));
            leader::run_as_leader(
                client,
                &runtime_namespace,
                &lease_name,
                lease,
                flags.leader_election_release_on_cancel,
                work,
                stopped(),
            )
            .await
            .map_err(|e| e.to_string())
        } else {
            tokio::select! {
                () = work => Err("the controller stopped".to_string()),
                () = stopped() => Ok(()),
            }
        }
    };
    let result = tokio::select! {
        r = controllers => r,
        r = async {
            match artifact_listener {
                Some(listener) => server::serve_storage(flags.storage_path.clone(), listener).await,
                None => std::future::pending().await,
            }
        } => Err(format!("artifact server: {r:?}")),
        r = async {
            match notification_servers {
                Some(servers) => servers.await,
                None => std::future::pending().await,
            }
        } => Err(format!("notification servers: {r:?}")),
        r = axum::serve(health, probes) => Err(format!("health server: {r:?}")),
        r = axum::serve(metrics_listener, metrics_routes) => Err(format!("metrics server: {r:?}")),
    };
    // Give in-flight status writes a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    result
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
}
