//! `flux tree kustomization`: the inventory as a tree, following nested
//! Kustomizations.

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
