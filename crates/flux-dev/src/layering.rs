//! The crate layering of `shared/DESIGN.md`, checked on `cargo metadata`'s
//! resolved graph (`flux-dev layering`, and a unit test run by CI):
//!
//! - an engine (`flux-go`, `flux-api`, `flux-yaml`, `flux-kustomize`,
//!   `flux-gotemplate`, `flux-helm`, `flux-sops`, `flux-semver`,
//!   `flux-artifact`) reaches neither a Kubernetes client (`kube`,
//!   `kube-client`, `kube-runtime`), nor `tokio`, nor any crate of ours
//!   that does I/O for controllers (`flux-runtime`, controllers, binaries);
//! - a controller crate depends on no other controller and no binary;
//! - `flux-runtime` and `flux-cli` depend on no controller.
//!
//! Only normal and build dependencies count (tests may use anything).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Engines: pure functions over files and bytes.
const ENGINES: &[&str] = &[
    "flux-go",
    "flux-api",
    "flux-yaml",
    "flux-kustomize",
    "flux-gotemplate",
    "flux-helm",
    "flux-sops",
    "flux-semver",
    "flux-artifact",
];

/// What no engine may reach, even through another crate.
const NOT_IN_ENGINES: &[&str] = &[
    "kube",
    "kube-client",
    "kube-runtime",
    "tokio",
    "flux-runtime",
    "flux-testenv",
    "flux-dev",
    "flux-cli",
    "fluxd",
];

fn is_controller(name: &str) -> bool {
    name.starts_with("flux-") && name.ends_with("-controller")
}

/// The normal and build dependencies of every package, by name, from
/// `cargo metadata --format-version 1` output.
fn graph(metadata: &Value) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let names: BTreeMap<&str, &str> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata: no resolved graph (run without --no-deps)")?;
    let mut graph = BTreeMap::new();
    for node in nodes {
        let Some(name) = node["id"].as_str().and_then(|id| names.get(id)) else {
            continue;
        };
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| matches!(k["kind"].as_str(), None | Some("build")))
            })
            .filter_map(|dep| names.get(dep["pkg"].as_str()?).map(|n| n.to_string()))
            .collect();
        graph.insert(name.to_string(), deps);
    }
    Ok(graph)
}

/// Everything `start` reaches, with the path to each.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut stack = vec![(start.to_string(), start.to_string())];
    while let Some((name, path)) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if !seen.contains_key(dep) {
                let to = format!("{path} → {dep}");
                seen.insert(dep.clone(), to.clone());
                stack.push((dep.clone(), to));
            }
        }
    }
    seen
}

/// Every dependency that breaks the layering, one line each.
pub fn violations(metadata: &Value) -> Result<Vec<String>, String> {
    let graph = graph(metadata)?;
    let workspace: BTreeSet<&str> = graph
        .keys()
        .map(String::as_str)
        .filter(|n| n.starts_with("flux"))
        .collect();
    let mut found = Vec::new();
    for engine in ENGINES.iter().filter(|e| workspace.contains(*e)) {
        for (dep, path) in reachable(&graph, engine) {
            if NOT_IN_ENGINES.contains(&dep.as_str()) || is_controller(&dep) {
                found.push(format!("engine {engine} reaches {dep}: {path}"));
            }
        }
    }
    for name in &workspace {
        let direct = graph.get(*name).into_iter().flatten();
        for dep in direct {
            let controller_dep = is_controller(dep)
                && (is_controller(name) || matches!(*name, "flux-runtime" | "flux-cli"));
            let binary_dep = is_controller(name) && matches!(dep.as_str(), "fluxd" | "flux-cli");
            if controller_dep || binary_dep {
                found.push(format!("{name} depends on {dep}"));
            }
        }
    }
    Ok(found)
}

/// `flux-dev layering`: checks the workspace and lists what breaks it.
pub fn check() -> Result<(), String> {
    let metadata = metadata()?;
    let found = violations(&metadata)?;
    if found.is_empty() {
        println!("layering: ok");
        Ok(())
    } else {
        Err(format!("layering broken:\n{}", found.join("\n")))
    }
}

fn metadata() -> Result<Value, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A metadata document with `edges` (from, to, kind).
    fn metadata(edges: &[(&str, &str, Option<&str>)]) -> Value {
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for (from, to, _) in edges {
            names.insert(from);
            names.insert(to);
        }
        let packages: Vec<Value> = names.iter().map(|n| json!({"id": n, "name": n})).collect();
        let nodes: Vec<Value> = names
            .iter()
            .map(|n| {
                let deps: Vec<Value> = edges
                    .iter()
                    .filter(|(from, _, _)| from == n)
                    .map(|(_, to, kind)| json!({"pkg": to, "dep_kinds": [{"kind": kind}]}))
                    .collect();
                json!({"id": n, "deps": deps})
            })
            .collect();
        json!({"packages": packages, "resolve": {"nodes": nodes}})
    }

    #[test]
    fn engines_may_not_reach_a_client_even_indirectly() {
        let found = violations(&metadata(&[
            ("flux-helm", "flux-yaml", None),
            ("flux-yaml", "helper", None),
            ("helper", "tokio", None),
            ("flux-helm", "kube", Some("dev")),
        ]))
        .unwrap();
        assert_eq!(
            found,
            vec![
                "engine flux-yaml reaches tokio: flux-yaml → helper → tokio",
                "engine flux-helm reaches tokio: flux-helm → flux-yaml → helper → tokio",
            ]
        );
    }

    #[test]
    fn controllers_stand_alone() {
        let found = violations(&metadata(&[
            ("flux-helm-controller", "flux-kustomize-controller", None),
            ("flux-cli", "flux-source-controller", None),
            ("fluxd", "flux-source-controller", None),
            (
                "flux-kustomize-controller",
                "flux-source-controller",
                Some("dev"),
            ),
        ]))
        .unwrap();
        assert_eq!(
            found,
            vec![
                "flux-cli depends on flux-source-controller",
                "flux-helm-controller depends on flux-kustomize-controller",
            ]
        );
    }

    #[test]
    fn the_workspace_keeps_its_layering() {
        let found = violations(&super::metadata().unwrap()).unwrap();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
