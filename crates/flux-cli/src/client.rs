//! The connection to the cluster, from the root flags.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cli::Global;
use crate::kinds::Kind;

/// A failed command: what the user reads, in upstream's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The command failed; the message says why.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Failed(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Failed(message.to_string())
    }
}

/// What a command needs to talk to the cluster.
pub struct Ctx {
    /// The client.
    pub client: Client,
    /// `-n`.
    pub namespace: String,
    /// `--timeout`.
    pub timeout: Duration,
}

/// The `--timeout` flag as a duration.
pub fn timeout(global: &Global) -> Result<Duration, Error> {
    flux_runtime::parse_duration(&global.timeout).map_err(|e| {
        Error::from(format!(
            "invalid argument \"{}\" for \"--timeout\" flag: {e}",
            global.timeout
        ))
    })
}

/// The client configuration the flags select.
pub async fn config(global: &Global) -> Result<Config, Error> {
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..KubeConfigOptions::default()
    };
    match &global.kubeconfig {
        Some(path) if !path.is_empty() => {
            let first = path.split(':').next().unwrap_or(path);
            if !std::path::Path::new(first).exists() {
                return Err(
                    format!("kubeconfig '{first}' not found (--kubeconfig or KUBECONFIG)").into(),
                );
            }
            let kubeconfig = Kubeconfig::read_from(first)
                .map_err(|e| format!("unable to read kubeconfig '{first}': {}", root_cause(&e)))?;
            Ok(Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("unable to load kubeconfig '{first}': {}", root_cause(&e)))?)
        }
        _ => {
            if global.context.is_some() {
                Ok(Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| format!("unable to load kubeconfig: {}", root_cause(&e)))?)
            } else {
                Config::infer().await.map_err(|e| {
                    Error::from(format!(
                        "unable to find a kubeconfig (set KUBECONFIG or --kubeconfig): {}",
                        root_cause(&e)
                    ))
                })
            }
        }
    }
}

/// Connects with the root flags.
pub async fn connect(global: &Global) -> Result<Ctx, Error> {
    let timeout = timeout(global)?;
    let config = config(global).await?;
    let client = Client::try_from(config).map_err(|e| format!("unable to create a client: {e}"))?;
    Ok(Ctx {
        client,
        namespace: global.namespace.clone(),
        timeout,
    })
}

impl Ctx {
    /// The kind's objects in `namespace` (all namespaces when `None`).
    pub fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = kind.resource();
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// The kind's objects in the `-n` namespace.
    pub fn namespaced(&self, kind: &Kind) -> Api<DynamicObject> {
        self.api(kind, Some(&self.namespace))
    }
}

/// An API error as `kubectl` and upstream's CLI word it.
pub fn api_error(kind: &Kind, name: &str, error: kube::Error) -> Error {
    match &error {
        kube::Error::Api(status) if status.code == 404 => {
            let about_object = !name.is_empty() && status.message.contains(&format!("\"{name}\""));
            if about_object {
                format!("{}.{} \"{name}\" not found", kind.plural, kind.group).into()
            } else {
                format!(
                    "no matches for kind \"{}\" in version \"{}\": is Flux installed (flux install)?",
                    kind.kind,
                    kind.api_version()
                )
                .into()
            }
        }
        other => describe(other).into(),
    }
}

/// Any client error, in one line.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => root_cause(other),
    }
}

/// The innermost cause of an error chain: the part a user can act on.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        source = cause.source();
    }
    text
}
