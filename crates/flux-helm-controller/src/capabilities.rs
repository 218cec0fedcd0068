//! What a chart sees of the cluster when it is released, as with Helm
//! against a real cluster (upstream's helm-controller renders that way):
//! `.Capabilities.APIVersions` is the set the cluster serves (Helm's
//! `GetVersionSet`: every `group/version` and `group/version/Kind`,
//! subresources' kinds included), discovered after the chart's CRDs are
//! applied; `lookup` reads live objects through the release's client
//! (impersonated when the HelmRelease says so).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GetParams, ListParams};
use kube::core::PartialObjectMeta;
use kube::discovery::{Discovery, Scope};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde_json::Value as Json;

/// How long a discovery is reused at most, whatever the watches say.
const MAX_AGE: Duration = Duration::from_secs(600);

/// The discovery of the controller's own client, shared by its
/// reconciliations: read again after any change of a
/// CustomResourceDefinition or an APIService (metadata-only watches, which
/// must have listed once before anything is reused), when a reconciliation
/// applied CRDs itself, and every [`MAX_AGE`]. Upstream discovers on every
/// release; the answer is the same.
#[derive(Default)]
pub struct Cache {
    /// Bumped by every event of the watches.
    epoch: AtomicU64,
    crds_listed: AtomicBool,
    apiservices_listed: AtomicBool,
    entry: Mutex<Option<Entry>>,
}

struct Entry {
    epoch: u64,
    at: Instant,
    served: Arc<Served>,
}

impl Cache {
    /// What the cluster serves: reused when `shared` (the controller's own
    /// client) and nothing may have changed since, else discovered.
    pub async fn served(
        &self,
        client: &Client,
        shared: bool,
        fresh: bool,
    ) -> Result<Arc<Served>, kube::Error> {
        let usable = shared
            && self.crds_listed.load(Ordering::SeqCst)
            && self.apiservices_listed.load(Ordering::SeqCst);
        // Read before discovering: a change during it makes the entry stale.
        let epoch = self.epoch.load(Ordering::SeqCst);
        if usable
            && !fresh
            && let Ok(entry) = self.entry.lock()
            && let Some(e) = entry.as_ref()
            && e.epoch == epoch
            && e.at.elapsed() < MAX_AGE
        {
            return Ok(e.served.clone());
        }
        let served = Arc::new(discover(client).await?);
        if usable && let Ok(mut entry) = self.entry.lock() {
            *entry = Some(Entry {
                epoch,
                at: Instant::now(),
                served: served.clone(),
            });
        }
        Ok(served)
    }

    /// Watches CustomResourceDefinitions and APIServices (metadata only)
    /// until the process ends.
    pub async fn watch(&self, client: Client) {
        let crds: Api<
            PartialObjectMeta<
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
            >,
        > = Api::all(client.clone());
        let apiservices: Api<
            PartialObjectMeta<
                k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
            >,
        > = Api::all(client);
        let crd_events = watcher::watcher(crds, watcher::Config::default())
            .default_backoff()
            .map(|e| e.map(|e| matches!(e, watcher::Event::InitDone)))
            .map(|e| (true, e));
        let apiservice_events = watcher::watcher(apiservices, watcher::Config::default())
            .default_backoff()
            .map(|e| e.map(|e| matches!(e, watcher::Event::InitDone)))
            .map(|e| (false, e));
        let mut events = std::pin::pin!(futures::stream::select(crd_events, apiservice_events));
        while let Some((is_crd, event)) = events.next().await {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            match event {
                Ok(true) => {
                    let listed = if is_crd {
                        &self.crds_listed
                    } else {
                        &self.apiservices_listed
                    };
                    listed.store(true, Ordering::SeqCst);
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "watching served APIs"),
            }
        }
    }
}

/// What the cluster serves.
pub struct Served {
    /// Helm's version set, sorted.
    pub versions: Vec<String>,
    /// The `group/version`s served.
    group_versions: HashSet<String>,
    /// `apiVersion`, kind → resource and whether it is namespaced.
    kinds: HashMap<(String, String), (ApiResource, bool)>,
    /// The API server's version (`.Capabilities.KubeVersion`), when it
    /// answered.
    pub kube_version: Option<String>,
}

/// Discovers what the cluster behind `client` serves (aggregated
/// discovery, else one request per group).
pub async fn discover(client: &Client) -> Result<Served, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(_) => Discovery::new(client.clone()).run().await?,
    };
    let mut versions = BTreeSet::new();
    let mut group_versions = HashSet::new();
    let mut kinds = HashMap::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let group_version = if group.name().is_empty() {
                version.to_string()
            } else {
                format!("{}/{version}", group.name())
            };
            versions.insert(group_version.clone());
            group_versions.insert(group_version.clone());
            for (resource, caps) in group.versioned_resources(version) {
                versions.insert(format!("{group_version}/{}", resource.kind));
                for (sub, _) in &caps.subresources {
                    versions.insert(format!("{group_version}/{}", sub.kind));
                }
                kinds
                    .entry((group_version.clone(), resource.kind.clone()))
                    .or_insert((resource, caps.scope == Scope::Namespaced));
            }
        }
    }
    let kube_version = client
        .apiserver_version()
        .await
        .ok()
        .map(|v| format!("{}.{}", v.major, v.minor.trim_end_matches('+')))
        .and_then(|v| flux_helm::action::parse_kube_version(&v).ok());
    Ok(Served {
        versions: versions.into_iter().collect(),
        group_versions,
        kinds,
        kube_version,
    })
}

impl Served {
    /// Helm's `lookup apiVersion kind namespace name` through `client`,
    /// blocking on `handle` (the render runs on its own thread): the
    /// object, or the list when `name` is empty, or an empty map when not
    /// found; an error for a group/version the cluster does not serve.
    pub fn lookup(
        &self,
        handle: &tokio::runtime::Handle,
        client: &Client,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Json, String> {
        let empty = || Json::Object(Default::default());
        if !self.group_versions.contains(api_version) {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            return Err(format!(
                "unable to get apiresource from unstructured: {group}/{version}, Kind={kind}: the server could not find the requested resource"
            ));
        }
        let Some((resource, namespaced)) =
            self.kinds.get(&(api_version.to_string(), kind.to_string()))
        else {
            // Helm asks for a resource with no name: not found.
            return Ok(empty());
        };
        let scope = (*namespaced && !namespace.is_empty()).then_some(namespace);
        let request = kube::core::Request::new(DynamicObject::url_path(resource, scope));
        let request = if name.is_empty() {
            request.list(&ListParams::default())
        } else {
            request.get(name, &GetParams::default())
        }
        .map_err(|e| e.to_string())?;
        match handle.block_on(client.request::<Json>(request)) {
            Ok(object) => Ok(object),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(empty()),
            Err(e) => Err(flux_runtime::ssa::kube_message(&e)),
        }
    }
}
