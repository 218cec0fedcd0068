//! A namespace per test, deleted when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, Config};

use crate::control_plane::{ControlPlane, block_on};
use crate::error::{Result, kube as kube_err};

/// A uniquely named namespace, deleted (in the background, without waiting)
/// when dropped, panicking tests included. Tests isolate themselves in one
/// so that a control plane serves a whole test binary.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    config: Config,
}

impl TestNamespace {
    /// The namespace's name: `<prefix>-<n>-<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl ControlPlane {
    /// Creates a fresh namespace named after `prefix` (a DNS label).
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ std::process::id())
            .unwrap_or(0);
        let prefix: String = prefix
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect();
        let name = format!("{prefix}-{n}-{salt:08x}");
        let namespaces: Api<Namespace> = Api::all(self.client()?);
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(name.clone());
        namespace.metadata.labels = Some(
            [("flux-testenv".to_string(), "true".to_string())]
                .into_iter()
                .collect(),
        );
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(kube_err(format!("creating namespace {name}")))?;
        Ok(TestNamespace {
            name,
            config: self.config().clone(),
        })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let config = self.config.clone();
        // Best effort: a namespace left behind only costs space in a
        // throw-away etcd. Without kube-controller-manager it stays
        // Terminating, which is harmless.
        let _ = block_on(async move {
            if let Ok(client) = Client::try_from(config) {
                let namespaces: Api<Namespace> = Api::all(client);
                let _ = namespaces.delete(&name, &DeleteParams::background()).await;
            }
        });
    }
}
