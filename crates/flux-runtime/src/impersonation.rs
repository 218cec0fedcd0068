//! Whose rights an object is applied with, and on which cluster: the
//! object's ServiceAccount (`spec.serviceAccountName`, else
//! `--default-service-account`) impersonated by the controller, on the
//! cluster of `spec.kubeConfig` (a kubeconfig in a Secret) or this one.
//! Without either, the controller's own applier is used.
//!
//! Appliers are cached per user and per kubeconfig digest; each remote
//! cluster has its own drift cache. A kubeconfig of a tenant may not run
//! commands, skip TLS verification or read the controller's files unless
//! the controller's flags allow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use flux_api::kustomize::v1::KubeConfigReference;
use flux_api::meta::SecretKeyReference;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use sha2::Digest as _;

use crate::drift::DriftCache;
use crate::ssa::{Applier, kube_message};

/// Why no applier could be made; nothing may be applied then (never with
/// the controller's own rights instead).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImpersonationError {
    /// `spec.kubeConfig.configMapRef` (workload identity) is not supported.
    #[error("spec.kubeConfig.configMapRef (workload identity) is not supported; use secretRef")]
    WorkloadIdentity,
    /// The controller has no client configuration to impersonate from.
    #[error("cannot impersonate {user}: no client configuration to impersonate from")]
    NoConfiguration {
        /// The user to impersonate.
        user: String,
    },
    /// A client could not be built for the impersonated user.
    #[error("cannot impersonate {user}: {message}")]
    Client {
        /// The user to impersonate.
        user: String,
        /// Why.
        message: String,
    },
    /// The kubeconfig Secret could not be read.
    #[error("unable to read KubeConfig secret '{secret}' error: {message}")]
    Secret {
        /// `namespace/name`.
        secret: String,
        /// The API server's message.
        message: String,
    },
    /// The Secret holds no kubeconfig under the key.
    #[error("KubeConfig secret '{secret}' does not contain a '{key}' key with a kubeconfig")]
    MissingKey {
        /// `namespace/name`.
        secret: String,
        /// The key looked for.
        key: String,
    },
    /// The kubeconfig is not text.
    #[error("KubeConfig secret '{secret}' is not UTF-8 text")]
    NotText {
        /// `namespace/name`.
        secret: String,
    },
    /// The kubeconfig does something a tenant may not.
    #[error("KubeConfig secret '{secret}': {message}")]
    Refused {
        /// `namespace/name`.
        secret: String,
        /// What it does.
        message: String,
    },
    /// The kubeconfig does not make a client.
    #[error("unable to construct {what}: {message}")]
    Config {
        /// `rest config` or `kube client`.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// An applier for a remote cluster and the digest of its kubeconfig.
type RemoteApplier = ([u8; 32], Arc<Applier>);

/// Makes and caches the appliers objects are applied with.
pub struct Impersonator {
    /// The controller's own client configuration, from which clients that
    /// impersonate ServiceAccounts are made.
    pub config: Option<kube::Config>,
    /// The ServiceAccount used when an object names none
    /// (`--default-service-account`).
    pub default_service_account: Option<String>,
    /// Allow kubeconfigs that run commands (`--insecure-kubeconfig-exec`).
    pub insecure_kubeconfig_exec: bool,
    /// Allow kubeconfigs that skip TLS verification
    /// (`--insecure-kubeconfig-tls`).
    pub insecure_kubeconfig_tls: bool,
    client: Client,
    field_manager: String,
    owner_label: String,
    drift: Arc<DriftCache>,
    impersonating: Mutex<HashMap<String, Arc<Applier>>>,
    remote: Mutex<HashMap<String, RemoteApplier>>,
}

impl Impersonator {
    /// Appliers writing as `field_manager`, sharing `drift` on this cluster;
    /// remote clusters get drift caches watching objects labelled
    /// `owner_label`.
    pub fn new(
        client: Client,
        field_manager: &str,
        owner_label: &str,
        drift: Arc<DriftCache>,
    ) -> Self {
        Self {
            config: None,
            default_service_account: None,
            insecure_kubeconfig_exec: false,
            insecure_kubeconfig_tls: false,
            client,
            field_manager: field_manager.to_string(),
            owner_label: owner_label.to_string(),
            drift,
            impersonating: Mutex::new(HashMap::new()),
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// The applier of an object of `namespace`: on the cluster of
    /// `kube_config` (else this one), as `service_account` (or the default
    /// one); `None` means the controller's own applier.
    pub async fn applier_for(
        &self,
        namespace: &str,
        service_account: Option<&str>,
        kube_config: Option<&KubeConfigReference>,
    ) -> Result<Option<Arc<Applier>>, ImpersonationError> {
        let account = service_account
            .or(self.default_service_account.as_deref())
            .filter(|a| !a.is_empty());
        if let Some(kube_config) = kube_config {
            let Some(reference) = &kube_config.secret_ref else {
                return Err(ImpersonationError::WorkloadIdentity);
            };
            return self
                .remote_applier(namespace, reference, account)
                .await
                .map(Some);
        }
        match account {
            Some(account) => self.applier_as(namespace, account).map(Some),
            None => Ok(None),
        }
    }

    /// The applier acting as ServiceAccount `namespace/name` (the API
    /// server checks its RBAC rights on every call), cached per account.
    pub fn applier_as(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Applier>, ImpersonationError> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        if let Some(found) = self
            .impersonating
            .lock()
            .ok()
            .and_then(|m| m.get(&user).cloned())
        {
            return Ok(found);
        }
        let mut config = self
            .config
            .clone()
            .ok_or_else(|| ImpersonationError::NoConfiguration { user: user.clone() })?;
        impersonate(&mut config, &user, namespace);
        let client = Client::try_from(config).map_err(|e| ImpersonationError::Client {
            user: user.clone(),
            message: e.to_string(),
        })?;
        let applier = Arc::new(
            Applier::new(client, &self.field_manager).with_drift_cache(self.drift.clone(), &user),
        );
        if let Ok(mut m) = self.impersonating.lock() {
            m.insert(user, applier.clone());
        }
        Ok(applier)
    }

    /// The applier for the cluster of the kubeconfig in Secret
    /// `namespace/reference.name` (key `reference.key`, else `value`, else
    /// `value.yaml`), impersonating `account` of `namespace` there when
    /// given. Reused while the kubeconfig is unchanged.
    pub async fn remote_applier(
        &self,
        namespace: &str,
        reference: &SecretKeyReference,
        account: Option<&str>,
    ) -> Result<Arc<Applier>, ImpersonationError> {
        let id = format!("{namespace}/{}", reference.name);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret =
            secrets
                .get(&reference.name)
                .await
                .map_err(|e| ImpersonationError::Secret {
                    secret: id.clone(),
                    message: kube_message(&e),
                })?;
        let data = secret.data.unwrap_or_default();
        let missing = |key: &str| ImpersonationError::MissingKey {
            secret: id.clone(),
            key: key.to_string(),
        };
        let bytes = match reference.key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => data.get(key).ok_or_else(|| missing(key))?,
            None => data
                .get("value")
                .or_else(|| data.get("value.yaml"))
                .ok_or_else(|| missing("value"))?,
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
            .map_err(|_| ImpersonationError::NotText { secret: id.clone() })?;
        let config_error = |what: &'static str| {
            move |e: kube::config::KubeconfigError| ImpersonationError::Config {
                what,
                message: e.to_string(),
            }
        };
        let kubeconfig =
            kube::config::Kubeconfig::from_yaml(text).map_err(config_error("rest config"))?;
        check_kubeconfig(
            &kubeconfig,
            self.insecure_kubeconfig_exec,
            self.insecure_kubeconfig_tls,
        )
        .map_err(|message| ImpersonationError::Refused {
            secret: id.clone(),
            message,
        })?;
        let mut config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(config_error("rest config"))?;
        if let Some(user) = &user {
            impersonate(&mut config, user, namespace);
        }
        let client = Client::try_from(config).map_err(|e| ImpersonationError::Config {
            what: "kube client",
            message: e.to_string(),
        })?;
        let drift = DriftCache::new(client.clone(), &self.owner_label);
        let applier = Arc::new(
            Applier::new(client, &self.field_manager)
                .with_drift_cache(drift, user.as_deref().unwrap_or_default()),
        );
        if let Ok(mut m) = self.remote.lock() {
            m.insert(key, (digest, applier.clone()));
        }
        Ok(applier)
    }
}

/// Impersonates ServiceAccount `user` of `namespace` with its groups.
fn impersonate(config: &mut kube::Config, user: &str, namespace: &str) {
    config.auth_info.impersonate = Some(user.to_string());
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".to_string(),
    ]);
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
