//! The kustomize controller: Kustomization objects reconciled from their
//! source's artifact into the cluster.
//!
//! A reconciliation waits for its `dependsOn`, downloads the source's
//! artifact (digest verified, extracted safely), builds `spec.path` as
//! kustomize-controller does (`flux-kustomize`: generated kustomization,
//! injected `targetNamespace`/prefix/suffix/patches/images/components),
//! substitutes `postBuild` variables, applies the objects with server-side
//! apply in Flux's stages (`flux_runtime::ssa`), records them in
//! `status.inventory`, prunes what left the inventory (`spec.prune`), and
//! reports upstream's conditions and events (`Applied revision: …`). A
//! failed build or apply changes nothing and prunes nothing.

pub mod kustomization;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flux_artifact::Limits;
use flux_runtime::{EventRecorder, Metrics, Schedule};
use kube::{Api, Client};

/// An applier for a remote cluster and the digest of its kubeconfig.
type RemoteApplier = ([u8; 32], Arc<flux_runtime::ssa::Applier>);

/// What the reconcilers share.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// Event recorder (`kustomize-controller`).
    pub events: EventRecorder,
    /// Reconcile metrics.
    pub metrics: Metrics,
    /// When each object is next due (status writes do not re-trigger).
    pub schedule: Schedule,
    /// Server-side apply with the `kustomize-controller` field manager.
    pub applier: flux_runtime::ssa::Applier,
    /// Concurrent reconciliations (`--concurrent`).
    pub concurrency: u16,
    /// Retry delay when a dependency or source is not ready
    /// (`--requeue-dependency`).
    pub requeue_dependency: Duration,
    /// Refuse sources in other namespaces (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Only objects with these labels (`--watch-label-selector`).
    pub label_selector: Option<String>,
    /// The largest artifact accepted (bytes, files).
    pub artifact_limits: Limits,
    /// The controller's own client configuration, from which clients that
    /// impersonate ServiceAccounts are made (`spec.serviceAccountName`).
    pub config: Option<kube::Config>,
    /// The ServiceAccount used when a Kustomization names none
    /// (`--default-service-account`).
    pub default_service_account: Option<String>,
    /// What was applied and the live resource versions of labelled
    /// objects: a reconciliation where nothing changed sends no request per
    /// object (`flux_runtime::drift`).
    pub drift: Arc<flux_runtime::drift::DriftCache>,
    /// The newest artifact of each source (`Kind/namespace/name`) seen by
    /// the source watch, read instead of a GET on every reconciliation.
    pub sources: Mutex<HashMap<String, flux_api::meta::Artifact>>,
    /// Extracted artifacts shared by the reconciliations building them.
    pub artifacts: kustomization::fetch::ArtifactCache,
    /// Allow kubeconfigs that run commands (`exec`, `auth-provider`)
    /// (`--insecure-kubeconfig-exec`).
    pub insecure_kubeconfig_exec: bool,
    /// Allow kubeconfigs that skip TLS verification
    /// (`--insecure-kubeconfig-tls`).
    pub insecure_kubeconfig_tls: bool,
    impersonating: Mutex<HashMap<String, Arc<flux_runtime::ssa::Applier>>>,
    remote: Mutex<HashMap<String, RemoteApplier>>,
}

/// The controller's name: field manager, event source, metrics.
pub const CONTROLLER_NAME: &str = "kustomize-controller";

impl Context {
    /// A context with upstream's defaults.
    pub fn new(client: Client) -> Self {
        let drift =
            flux_runtime::drift::DriftCache::new(client.clone(), kustomization::build::NAME_LABEL);
        Self {
            events: EventRecorder::new(client.clone(), CONTROLLER_NAME),
            metrics: Metrics::new(),
            schedule: Schedule::default(),
            applier: flux_runtime::ssa::Applier::new(client.clone(), CONTROLLER_NAME)
                .with_drift_cache(drift.clone(), ""),
            drift,
            sources: Mutex::new(HashMap::new()),
            artifacts: kustomization::fetch::ArtifactCache::new(16),
            client,
            concurrency: 4,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            label_selector: None,
            artifact_limits: Limits {
                max_bytes: 1 << 30,
                max_entries: 1_000_000,
            },
            config: None,
            default_service_account: None,
            insecure_kubeconfig_exec: false,
            insecure_kubeconfig_tls: false,
            impersonating: Mutex::new(HashMap::new()),
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// The applier acting as ServiceAccount `namespace/name` (the API
    /// server checks its RBAC rights on every call), cached per account.
    pub fn applier_as(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<flux_runtime::ssa::Applier>, String> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        if let Some(found) = self
            .impersonating
            .lock()
            .ok()
            .and_then(|m| m.get(&user).cloned())
        {
            return Ok(found);
        }
        let mut config = self.config.clone().ok_or_else(|| {
            format!("cannot impersonate {user}: no client configuration to impersonate from")
        })?;
        config.auth_info.impersonate = Some(user.clone());
        config.auth_info.impersonate_groups = Some(vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_string(),
        ]);
        let client =
            Client::try_from(config).map_err(|e| format!("cannot impersonate {user}: {e}"))?;
        let applier = Arc::new(
            flux_runtime::ssa::Applier::new(client, CONTROLLER_NAME)
                .with_drift_cache(self.drift.clone(), &user),
        );
        if let Ok(mut m) = self.impersonating.lock() {
            m.insert(user, applier.clone());
        }
        Ok(applier)
    }
}

impl Context {
    /// The applier for the cluster of the kubeconfig in Secret
    /// `namespace/reference.name` (key `reference.key`, else `value`, else
    /// `value.yaml`), impersonating `account` of `namespace` there when
    /// given. Reused while the kubeconfig is unchanged; each remote cluster
    /// has its own drift cache.
    pub async fn remote_applier(
        &self,
        namespace: &str,
        reference: &flux_api::meta::SecretKeyReference,
        account: Option<&str>,
    ) -> Result<Arc<flux_runtime::ssa::Applier>, String> {
        use k8s_openapi::api::core::v1::Secret;
        use sha2::Digest as _;
        let id = format!("{namespace}/{}", reference.name);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets.get(&reference.name).await.map_err(|e| {
            format!(
                "unable to read KubeConfig secret '{id}' error: {}",
                flux_runtime::ssa::kube_message(&e)
            )
        })?;
        let data = secret.data.unwrap_or_default();
        let bytes = match reference.key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => data.get(key).ok_or_else(|| {
                format!("KubeConfig secret '{id}' does not contain a '{key}' key with a kubeconfig")
            })?,
            None => data
                .get("value")
                .or_else(|| data.get("value.yaml"))
                .ok_or_else(|| {
                    format!(
                        "KubeConfig secret '{id}' does not contain a 'value' key with a kubeconfig"
                    )
                })?,
        };
        let user = account.map(|a| format!("system:serviceaccount:{namespace}:{a}"));
        let key = format!(
            "{id}\u{0}{}\u{0}{}",
            reference.key.as_deref().unwrap_or_default(),
            user.as_deref().unwrap_or_default()
        );
        let digest: [u8; 32] = sha2::Sha256::digest(&bytes.0).into();
        if let Some((known, applier)) = self.remote.lock().ok().and_then(|m| m.get(&key).cloned())
            && known == digest
        {
            return Ok(applier);
        }
        let text = std::str::from_utf8(&bytes.0)
            .map_err(|_| format!("KubeConfig secret '{id}' is not UTF-8 text"))?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(text)
            .map_err(|e| format!("unable to construct rest config: {e}"))?;
        check_kubeconfig(
            &kubeconfig,
            self.insecure_kubeconfig_exec,
            self.insecure_kubeconfig_tls,
        )
        .map_err(|e| format!("KubeConfig secret '{id}': {e}"))?;
        let mut config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("unable to construct rest config: {e}"))?;
        if let Some(user) = &user {
            config.auth_info.impersonate = Some(user.clone());
            config.auth_info.impersonate_groups = Some(vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_string(),
            ]);
        }
        let client = Client::try_from(config)
            .map_err(|e| format!("unable to construct kube client: {e}"))?;
        let drift =
            flux_runtime::drift::DriftCache::new(client.clone(), kustomization::build::NAME_LABEL);
        let applier = Arc::new(
            flux_runtime::ssa::Applier::new(client, CONTROLLER_NAME)
                .with_drift_cache(drift, user.as_deref().unwrap_or_default()),
        );
        if let Ok(mut m) = self.remote.lock() {
            m.insert(key, (digest, applier.clone()));
        }
        Ok(applier)
    }
}

/// Refuses what a tenant's kubeconfig must not do inside the controller:
/// run commands (`exec`, `auth-provider`) unless allowed, skip TLS
/// verification unless allowed, or read the controller's own files
/// (`tokenFile`, `client-certificate`, `client-key`,
/// `certificate-authority` paths — the controller's own credentials live
/// there).
fn check_kubeconfig(
    kubeconfig: &kube::config::Kubeconfig,
    allow_exec: bool,
    allow_insecure_tls: bool,
) -> Result<(), String> {
    for named in &kubeconfig.auth_infos {
        let Some(auth) = &named.auth_info else {
            continue;
        };
        if !allow_exec && (auth.exec.is_some() || auth.auth_provider.is_some()) {
            return Err(format!(
                "user '{}' runs a credential command (exec or auth-provider), which is not allowed (--insecure-kubeconfig-exec)",
                named.name
            ));
        }
        let files = [
            ("tokenFile", &auth.token_file),
            ("client-certificate", &auth.client_certificate),
            ("client-key", &auth.client_key),
        ];
        if let Some((field, _)) = files.iter().find(|(_, v)| v.is_some()) {
            return Err(format!(
                "user '{}' reads a file of the controller ({field}); embed the data instead",
                named.name
            ));
        }
    }
    for named in &kubeconfig.clusters {
        let Some(cluster) = &named.cluster else {
            continue;
        };
        if cluster.certificate_authority.is_some() {
            return Err(format!(
                "cluster '{}' reads a file of the controller (certificate-authority); embed certificate-authority-data instead",
                named.name
            ));
        }
        if !allow_insecure_tls && cluster.insecure_skip_tls_verify == Some(true) {
            return Err(format!(
                "cluster '{}' skips TLS verification, which is not allowed (--insecure-kubeconfig-tls)",
                named.name
            ));
        }
    }
    Ok(())
}

/// Runs the Kustomization reconciler, watching `namespace` (all when
/// `None`).
pub async fn run(ctx: Context, namespace: Option<&str>) {
    let ctx = Arc::new(ctx);
    let (kustomizations, sources) = match namespace {
        Some(ns) => (
            Api::namespaced(ctx.client.clone(), ns),
            Api::namespaced(ctx.client.clone(), ns),
        ),
        None => (Api::all(ctx.client.clone()), Api::all(ctx.client.clone())),
    };
    kustomization::run(kustomizations, sources, ctx).await;
}
