//! What a chart sees of the cluster when it is released, as with Helm
//! against a real cluster (upstream's helm-controller renders that way):
//! `.Capabilities.APIVersions` is the set the cluster serves (Helm's
//! `GetVersionSet`: every `group/version` and `group/version/Kind`,
//! subresources' kinds included), discovered after the chart's CRDs are
//! applied; `lookup` reads live objects through the release's client
//! (impersonated when the HelmRelease says so).

use std::collections::{BTreeSet, HashMap, HashSet};

use kube::api::{ApiResource, DynamicObject, GetParams, ListParams};
use kube::discovery::{Discovery, Scope};
use kube::{Client, Resource};
use serde_json::Value as Json;

/// What the cluster serves.
pub struct Served {
    /// Helm's version set, sorted.
    pub versions: Vec<String>,
    /// The `group/version`s served.
    group_versions: HashSet<String>,
    /// `apiVersion`, kind → resource and whether it is namespaced.
    kinds: HashMap<(String, String), (ApiResource, bool)>,
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
    Ok(Served {
        versions: versions.into_iter().collect(),
        group_versions,
        kinds,
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
