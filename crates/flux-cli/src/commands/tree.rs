//! `flux tree kustomization`: the inventory as a tree, following nested
//! Kustomizations and HelmReleases (the objects of a HelmRelease's
//! deployed release, as upstream reads them from Helm's storage).

use std::future::Future;
use std::pin::Pin;

use crate::cli::TreeArgs;
use crate::client::{Ctx, Error, api_error};
use crate::kinds;
use crate::output;

/// One inventory entry, parsed from `<namespace>_<name>_<group>_<kind>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl Entry {
    /// Parses an inventory id (Kubernetes names and groups hold no `_`,
    /// so the split is unambiguous).
    pub fn parse(id: &str) -> Option<Entry> {
        let mut parts = id.splitn(4, '_');
        let namespace = parts.next()?.to_string();
        let name = parts.next()?.to_string();
        let group = parts.next()?.to_string();
        let kind = parts.next()?.to_string();
        Some(Entry {
            namespace,
            name,
            group,
            kind,
        })
    }

    fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Runs `flux tree kustomization NAME`.
pub async fn run(ctx: &Ctx, args: &TreeArgs) -> Result<(), Error> {
    let mut out = format!("Kustomization/{}/{}\n", ctx.namespace, args.name);
    let mut visited = vec![format!("{}/{}", ctx.namespace, args.name)];
    children(
        ctx,
        &ctx.namespace,
        &args.name,
        "",
        args.compact,
        &mut out,
        &mut visited,
        true,
    )
    .await?;
    // Upstream prints the tree with Println: a blank line ends it.
    out.push('\n');
    output::print(&out);
    Ok(())
}

type Walk<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

#[allow(clippy::too_many_arguments)] // a recursive walk carrying its state
fn children<'a>(
    ctx: &'a Ctx,
    namespace: &'a str,
    name: &'a str,
    prefix: &'a str,
    compact: bool,
    out: &'a mut String,
    visited: &'a mut Vec<String>,
    root: bool,
) -> Walk<'a> {
    Box::pin(async move {
        let kind = kinds::KUSTOMIZATION;
        let object = match ctx.api(&kind, Some(namespace)).get(name).await {
            Ok(o) => o,
            Err(e) if root => return Err(api_error(&kind, name, e)),
            Err(e) => {
                return Err(format!("failed to find object: {}", api_error(&kind, name, e)).into());
            }
        };
        let mut entries: Vec<Entry> = object.data["status"]["inventory"]["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().and_then(Entry::parse))
            .collect();
        // A Kustomization that applies itself (flux-system) is not its own child.
        entries
            .retain(|e| !(e.kind == "Kustomization" && e.namespace == namespace && e.name == name));
        if compact {
            // Upstream's rule: any toolkit group (sources included).
            entries.retain(|e| e.group.contains("toolkit.fluxcd.io"));
        }
        let count = entries.len();
        for (i, entry) in entries.into_iter().enumerate() {
            let last = i + 1 == count;
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&entry.label());
            out.push('\n');
            if entry.group == "helm.toolkit.fluxcd.io" && entry.kind == "HelmRelease" {
                let mut released = helmrelease_objects(ctx, &entry.namespace, &entry.name).await?;
                if compact {
                    released.retain(|e| e.group.contains("toolkit.fluxcd.io"));
                }
                let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
                let count = released.len();
                for (j, object) in released.iter().enumerate() {
                    out.push_str(&child_prefix);
                    out.push_str(if j + 1 == count {
                        "└── "
                    } else {
                        "├── "
                    });
                    out.push_str(&object.label());
                    out.push('\n');
                }
            }
            if entry.group == "kustomize.toolkit.fluxcd.io" && entry.kind == "Kustomization" {
                let key = format!("{}/{}", entry.namespace, entry.name);
                if visited.contains(&key) {
                    continue;
                }
                visited.push(key);
                let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
                children(
                    ctx,
                    &entry.namespace,
                    &entry.name,
                    &child_prefix,
                    compact,
                    out,
                    visited,
                    false,
                )
                .await?;
            }
        }
        Ok(())
    })
}

/// The objects of HelmRelease `namespace/name`'s latest release, read
/// from Helm's storage (namespaces defaulted), then the CRDs labelled with
/// it when its install or upgrade manages CRDs; none for a release of a
/// remote cluster or without history, as upstream.
async fn helmrelease_objects(ctx: &Ctx, namespace: &str, name: &str) -> Result<Vec<Entry>, Error> {
    let kind = kinds::HELM_RELEASE;
    let hr = ctx
        .api(&kind, Some(namespace))
        .get(name)
        .await
        .map_err(|e| api_error(&kind, name, e))?;
    let spec = &hr.data["spec"];
    let status = &hr.data["status"];
    let latest = &status["history"][0];
    let (Some(storage), Some(release), Some(version)) = (
        status["storageNamespace"]
            .as_str()
            .filter(|s| !s.is_empty()),
        latest["name"].as_str(),
        latest["version"].as_i64(),
    ) else {
        return Ok(Vec::new());
    };
    if !spec["kubeConfig"].is_null() {
        return Ok(Vec::new());
    }
    let release_namespace = latest["namespace"].as_str().unwrap_or_default();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(ctx.client.clone(), storage);
    let record = format!("sh.helm.release.v1.{release}.v{version}");
    let id = format!("{namespace}/{name}");
    let secret = match secrets.get_opt(&record).await {
        Ok(Some(secret)) => secret,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "failed to find the Helm storage object for HelmRelease '{id}': {}",
                crate::client::describe(&e)
            )
            .into());
        }
    };
    let decoded = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .and_then(|data| flux_helm::release::Release::decode(&data.0).ok())
        .ok_or_else(|| {
            format!("failed to decode the Helm storage object for HelmRelease '{id}'")
        })?;
    let objects = flux_helm::helmrelease::objects::objects_of(&decoded.manifest).map_err(|e| {
        format!("failed to read the Helm storage object for HelmRelease '{id}': {e}")
    })?;
    let applier = flux_runtime::ssa::Applier::new(ctx.client.clone(), "flux");
    let mut out = Vec::new();
    for object in objects {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        let (api_version, object_kind) = (text("/apiVersion"), text("/kind"));
        let mut object_namespace = text("/metadata/namespace").to_string();
        if object_namespace.is_empty()
            && applier
                .resolve(api_version, object_kind)
                .await
                .is_ok_and(|(_, namespaced)| namespaced)
        {
            object_namespace = release_namespace.to_string();
        }
        out.push(Entry {
            namespace: object_namespace,
            name: text("/metadata/name").to_string(),
            group: api_version
                .split_once('/')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default(),
            kind: object_kind.to_string(),
        });
    }
    let manages_crds = |action: &str| {
        spec[action]["crds"]
            .as_str()
            .is_some_and(|p| !p.is_empty() && p != "Skip")
    };
    if manages_crds("install") || manages_crds("upgrade") {
        let crds: kube::Api<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        > = kube::Api::all(ctx.client.clone());
        let selector = format!(
            "helm.toolkit.fluxcd.io/name={name},helm.toolkit.fluxcd.io/namespace={namespace}"
        );
        if let Ok(list) = crds
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
        {
            for crd in list.items {
                let crd_name = crd.metadata.name.unwrap_or_default();
                if !out
                    .iter()
                    .any(|e| e.kind == "CustomResourceDefinition" && e.name == crd_name)
                {
                    out.push(Entry {
                        namespace: String::new(),
                        name: crd_name,
                        group: "apiextensions.k8s.io".to_string(),
                        kind: "CustomResourceDefinition".to_string(),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use super::Entry;

    #[test]
    fn parses_inventory_ids() {
        let e = Entry::parse("apps_podinfo_apps_Deployment").unwrap();
        assert_eq!(e.label(), "Deployment/apps/podinfo");
        let e = Entry::parse("_flux-system__Namespace").unwrap();
        assert_eq!(e.label(), "Namespace/flux-system");
        assert_eq!(Entry::parse("broken"), None);
    }
}
