//! What the applier knows about objects it has applied, so that a
//! reconciliation where nothing changed costs no API request per object.
//!
//! Upstream Flux runs a server-side dry run (and a GET) for every object on
//! every reconciliation to find drift. This cache makes the same decision
//! from two facts instead:
//!
//! - the digest of the manifest last applied to each object, with the
//!   object's `resourceVersion` right after that apply (or after a dry run
//!   that found it in sync), recorded per client identity;
//! - the live `resourceVersion` of each object carrying the owner label,
//!   kept current by one metadata-only watch per kind (cluster-wide,
//!   started the first time a kind is applied).
//!
//! When the manifest digest is the one recorded and the watch shows the
//! `resourceVersion` recorded, the object has not been written since it
//! was last found in sync with that very manifest, so a dry run would find
//! no drift: it is reported `unchanged` without a request. Any write to
//! the object (a manual edit, another controller, a status update, a
//! deletion) changes or removes its `resourceVersion`, and the next
//! reconciliation takes the full path. A watch that is not (or no longer)
//! synced answers nothing, which also means the full path. The cache only
//! ever saves requests; it never decides that something changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The digest of a manifest as it is sent (with the apply's `force` and
/// the fields it leaves alone).
pub fn manifest_digest(manifest: &Value, force: bool, ignore: &[String]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([u8::from(force)]);
    for pointer in ignore {
        hasher.update(pointer.as_bytes());
        hasher.update([0]);
    }
    // serde_json keeps map order; the manifest is built deterministically.
    hasher.update(manifest.to_string().as_bytes());
    hasher.finalize().into()
}

#[derive(Default)]
struct Versions {
    synced: AtomicBool,
    live: RwLock<HashMap<(String, String), String>>,
}

/// Live resource versions of labelled objects, and what was applied.
pub struct DriftCache {
    client: Client,
    selector: String,
    watches: Mutex<HashMap<String, Arc<Versions>>>,
    applied: Mutex<HashMap<String, ([u8; 32], String)>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for DriftCache {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

fn resource_key(resource: &ApiResource) -> String {
    format!("{}/{}", resource.api_version, resource.plural)
}

impl DriftCache {
    /// A cache watching objects that match the label `selector` (e.g.
    /// `kustomize.toolkit.fluxcd.io/name`) with `client`'s identity.
    pub fn new(client: Client, selector: &str) -> Arc<Self> {
        Arc::new(Self {
            client,
            selector: selector.to_string(),
            watches: Mutex::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// The watched versions of `resource`, starting the watch the first
    /// time (must run inside a Tokio runtime).
    fn versions(&self, resource: &ApiResource) -> Option<Arc<Versions>> {
        let key = resource_key(resource);
        let mut watches = self.watches.lock().ok()?;
        if let Some(found) = watches.get(&key) {
            return Some(found.clone());
        }
        let versions = Arc::new(Versions::default());
        watches.insert(key.clone(), versions.clone());
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), resource);
        let config = watcher::Config::default().labels(&self.selector);
        let state = versions.clone();
        let task = tokio::spawn(async move {
            let mut buffer: HashMap<(String, String), String> = HashMap::new();
            let mut events = watcher::watcher(api, config).default_backoff().boxed();
            while let Some(event) = events.next().await {
                let id = |o: &PartialObjectMeta<DynamicObject>| {
                    (o.namespace().unwrap_or_default(), o.name_any())
                };
                match event {
                    Ok(watcher::Event::Init) => buffer.clear(),
                    Ok(watcher::Event::InitApply(o)) => {
                        buffer.insert(id(&o), o.resource_version().unwrap_or_default());
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Ok(mut live) = state.live.write() {
                            *live = std::mem::take(&mut buffer);
                            state.synced.store(true, Ordering::SeqCst);
                        }
                    }
                    Ok(watcher::Event::Apply(o)) => {
                        if let Ok(mut live) = state.live.write() {
                            live.insert(id(&o), o.resource_version().unwrap_or_default());
                        }
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        if let Ok(mut live) = state.live.write() {
                            live.remove(&id(&o));
                        }
                    }
                    Err(e) => {
                        // Until the next complete list, answer nothing.
                        state.synced.store(false, Ordering::SeqCst);
                        tracing::debug!(resource = %key, "drift watch failed: {e}");
                    }
                }
            }
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task.abort_handle());
        }
        Some(versions)
    }

    fn applied_key(identity: &str, resource: &ApiResource, namespace: &str, name: &str) -> String {
        format!(
            "{identity}\u{0}{}\u{0}{namespace}\u{0}{name}",
            resource_key(resource)
        )
    }

    /// Whether the object is known to be in sync with `digest`: the last
    /// apply (or dry run) by `identity` used this manifest, and the object
    /// has not been written since.
    pub fn in_sync(
        &self,
        identity: &str,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        digest: &[u8; 32],
    ) -> bool {
        let Some(versions) = self.versions(resource) else {
            return false;
        };
        if !versions.synced.load(Ordering::SeqCst) {
            return false;
        }
        let recorded = self.applied.lock().ok().and_then(|a| {
            a.get(&Self::applied_key(identity, resource, namespace, name))
                .cloned()
        });
        let Some((applied_digest, applied_version)) = recorded else {
            return false;
        };
        if &applied_digest != digest || applied_version.is_empty() {
            return false;
        }
        versions.live.read().ok().is_some_and(|live| {
            live.get(&(namespace.to_string(), name.to_string())) == Some(&applied_version)
        })
    }

    /// Records that the object was found in sync with `digest` at
    /// `resource_version`.
    pub fn record(
        &self,
        identity: &str,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        digest: [u8; 32],
        resource_version: Option<String>,
    ) {
        let key = Self::applied_key(identity, resource, namespace, name);
        if let Ok(mut applied) = self.applied.lock() {
            match resource_version {
                Some(version) if !version.is_empty() => {
                    applied.insert(key, (digest, version));
                }
                _ => {
                    applied.remove(&key);
                }
            }
        }
    }

    /// Forgets the object (after it was deleted or an apply failed).
    pub fn forget(&self, identity: &str, resource: &ApiResource, namespace: &str, name: &str) {
        if let Ok(mut applied) = self.applied.lock() {
            applied.remove(&Self::applied_key(identity, resource, namespace, name));
        }
    }
}
