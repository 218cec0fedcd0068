//! `flux build kustomization` and `flux diff kustomization`: a local folder
//! built as the controller would build it for a Kustomization, printed, or
//! compared with the cluster through server-side dry runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use flux_api::kustomize::v1::PostBuild;
use flux_kustomize::objects::{BuildOptions, build_objects};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cli::{BuildKustomizationArgs, Global};
use crate::client::{Ctx, Error, api_error, connect, describe};
use crate::install::to_yaml;
use crate::kinds;
use crate::output;

/// How `flux diff` ended.
pub enum DiffOutcome {
    /// The cluster matches the build.
    Same,
    /// Something would be created, changed or deleted.
    Changed,
}

/// The Kustomization the build is for: from `--kustomization-file`, else
/// from the cluster.
async fn kustomization(
    ctx: Option<&Ctx>,
    namespace: &str,
    args: &BuildKustomizationArgs,
) -> Result<Value, Error> {
    if let Some(file) = &args.kustomization_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("unable to read the Kustomization file '{file}': {e}"))?;
        for doc in text.split("\n---") {
            let doc = doc.trim_start_matches("---");
            if doc.trim().is_empty() {
                continue;
            }
            let value: Value = serde_saphyr::from_str(doc)
                .map_err(|e| format!("invalid Kustomization file '{file}': {e}"))?;
            if value["kind"] == "Kustomization" && value["metadata"]["name"] == args.name.as_str() {
                return Ok(value);
            }
        }
        return Err(format!("Kustomization '{}' not found in '{file}'", args.name).into());
    }
    let ctx = ctx.ok_or("--dry-run needs --kustomization-file (no cluster is read)")?;
    let object = ctx
        .api(&kinds::KUSTOMIZATION, Some(namespace))
        .get(&args.name)
        .await
        .map_err(|e| api_error(&kinds::KUSTOMIZATION, &args.name, e))?;
    serde_json::to_value(&object).map_err(|e| Error::from(e.to_string()))
}

/// `spec.postBuild` variables as the controller loads them
/// (`substituteFrom`, then `substitute`); without a cluster (`--dry-run`)
/// only `substitute`.
async fn variables(ctx: Option<&Ctx>, k: &Value) -> Result<BTreeMap<String, String>, Error> {
    let post_build = &k["spec"]["postBuild"];
    let post_build: Option<PostBuild> = if post_build.is_null() {
        None
    } else {
        Some(
            serde_json::from_value(post_build.clone())
                .map_err(|e| format!("invalid spec.postBuild: {e}"))?,
        )
    };
    let namespace = k["metadata"]["namespace"].as_str().unwrap_or("default");
    flux_runtime::substitution::variables(ctx.map(|c| &c.client), namespace, post_build.as_ref())
        .await
        .map_err(|e| Error::from(e.to_string()))
}

/// The root the build may read: the Git checkout holding `dir` (its
/// parent folders), else `dir` itself.
fn root_of(dir: &Path) -> PathBuf {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d.join(".git").exists() {
            return d.to_path_buf();
        }
        current = d.parent();
    }
    dir.to_path_buf()
}

async fn build_objects_for(
    ctx: Option<&Ctx>,
    namespace: &str,
    args: &BuildKustomizationArgs,
) -> Result<(Value, Vec<Value>), Error> {
    let dir = std::fs::canonicalize(&args.path)
        .map_err(|_| format!("invalid resource path \"{}\"", args.path))?;
    if !dir.is_dir() {
        return Err(format!("invalid resource path \"{}\"", args.path).into());
    }
    let k = kustomization(ctx, namespace, args).await?;
    let vars = variables(ctx, &k).await?;
    let root = root_of(&dir);
    let mut options = BuildOptions::for_kustomization(&k, vars);
    options.path = Some(
        dir.strip_prefix(&root)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default(),
    );
    let objects = tokio::task::spawn_blocking(move || build_objects(&root, &options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok((k, objects))
}

/// `flux build kustomization NAME --path DIR`.
pub async fn build(global: &Global, args: &BuildKustomizationArgs) -> Result<(), Error> {
    let ctx = if args.dry_run {
        None
    } else {
        Some(connect(global).await?)
    };
    let (_, mut objects) = build_objects_for(ctx.as_ref(), &global.namespace, args).await?;
    for object in &mut objects {
        flux_api::crd::sort_keys(object);
    }
    output::print(&to_yaml(&objects)?);
    Ok(())
}

/// `flux diff kustomization NAME --path DIR`: what applying the build would
/// change, as the controller's server-side apply would do it.
pub async fn diff(global: &Global, args: &BuildKustomizationArgs) -> Result<DiffOutcome, Error> {
    let ctx = connect(global).await?;
    let (k, objects) = build_objects_for(Some(&ctx), &global.namespace, args).await?;
    let applier = flux_runtime::ssa::Applier::new(ctx.client.clone(), "kustomize-controller");
    let mut changed = false;
    let mut out = String::new();
    let mut built_ids = BTreeSet::new();
    for object in &objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let (resource, namespaced) = applier
            .resolve(api_version, kind)
            .await
            .map_err(|e| e.to_string())?;
        let namespace = if namespaced {
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
        built_ids.insert(format!("{namespace}_{name}_{group}_{kind}"));
        let subject = if namespace.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{kind}/{namespace}/{name}")
        };
        let annotations = &object["metadata"]["annotations"];
        let labels = &object["metadata"]["labels"];
        let marked = |key: &str, value: &str| {
            [annotations, labels].iter().any(|m| {
                m[key]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
        };
        if marked("kustomize.toolkit.fluxcd.io/reconcile", "disabled")
            || marked("kustomize.toolkit.fluxcd.io/ssa", "ignore")
        {
            out.push_str(&format!("► {subject} skipped\n"));
            continue;
        }
        let api = dynamic(&ctx, &resource, namespaced, &namespace);
        let live = api
            .get_opt(name)
            .await
            .map_err(|e| format!("{subject}: {}", describe(&e)))?;
        let mut manifest = object.clone();
        if namespaced {
            manifest["metadata"]["namespace"] = json!(namespace);
        }
        let params = PatchParams::apply("kustomize-controller").force().dry_run();
        let merged = api
            .patch(name, &params, &Patch::Apply(&manifest))
            .await
            .map_err(|e| format!("{subject} dry-run failed: {}", describe(&e)))?;
        let Some(live) = live else {
            out.push_str(&format!("► {subject} created\n"));
            changed = true;
            continue;
        };
        if marked("kustomize.toolkit.fluxcd.io/ssa", "ifnotpresent") {
            continue;
        }
        let (before, after) = (comparable(&live), comparable(&merged));
        if before != after {
            out.push_str(&format!("► {subject} drifted\n\n"));
            let mut lines = Vec::new();
            diff_values("", &before, &after, kind == "Secret", &mut lines);
            for line in lines {
                out.push_str(&line);
                out.push('\n');
            }
            out.push('\n');
            changed = true;
        }
    }
    if k["spec"]["prune"].as_bool().unwrap_or(false) {
        for entry in k["status"]["inventory"]["entries"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(id) = entry["id"].as_str() else {
                continue;
            };
            if built_ids.contains(id) {
                continue;
            }
            if let Some(e) = crate::commands::tree::Entry::parse(id) {
                let subject = if e.namespace.is_empty() {
                    format!("{}/{}", e.kind, e.name)
                } else {
                    format!("{}/{}/{}", e.kind, e.namespace, e.name)
                };
                out.push_str(&format!("► {subject} deleted\n"));
                changed = true;
            }
        }
    }
    output::print(&out);
    Ok(if changed {
        DiffOutcome::Changed
    } else {
        DiffOutcome::Same
    })
}

fn dynamic(
    ctx: &Ctx,
    resource: &ApiResource,
    namespaced: bool,
    namespace: &str,
) -> Api<DynamicObject> {
    if namespaced {
        Api::namespaced_with(ctx.client.clone(), namespace, resource)
    } else {
        Api::all_with(ctx.client.clone(), resource)
    }
}

/// The object without what the server manages: status and bookkeeping metadata.
fn comparable(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(field);
        }
    }
    value
}

/// dyff-style lines for every difference between `before` and `after`.
fn diff_values(path: &str, before: &Value, after: &Value, secret: bool, out: &mut Vec<String>) {
    if before == after {
        return;
    }
    let show = |v: &Value| -> String {
        if secret && (path.starts_with("data") || path.starts_with("stringData")) {
            return "***".to_string();
        }
        match v {
            Value::String(s) => s.clone(),
            other => serde_saphyr::to_string(other)
                .map(|s| s.trim_end().to_string())
                .unwrap_or_else(|_| other.to_string()),
        }
    };
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_values(&child, x, y, secret, out),
                    (None, Some(y)) => {
                        out.push(child.clone());
                        out.push("  + one entry added:".to_string());
                        let shown = if secret { "***".to_string() } else { show(y) };
                        for line in shown.lines() {
                            out.push(format!("    + {line}"));
                        }
                    }
                    (Some(x), None) => {
                        out.push(child.clone());
                        out.push("  - one entry removed:".to_string());
                        let shown = if secret { "***".to_string() } else { show(x) };
                        for line in shown.lines() {
                            out.push(format!("    - {line}"));
                        }
                    }
                    (None, None) => {}
                }
            }
        }
        _ => {
            out.push(if path.is_empty() {
                "(root)".to_string()
            } else {
                path.to_string()
            });
            out.push("  ± value change".to_string());
            for line in show(before).lines() {
                out.push(format!("    - {line}"));
            }
            for line in show(after).lines() {
                out.push(format!("    + {line}"));
            }
        }
    }
}

/// `flux build helm NAME CHART`: an offline render with `helm template`'s
/// output and error messages.
pub fn helm(global: &Global, args: &crate::cli::BuildHelmArgs) -> Result<(), Error> {
    let values = flux_helm::ValueOptions {
        dir: PathBuf::new(),
        files: args.values.iter().map(PathBuf::from).collect(),
        json: args.set_json.clone(),
        set: args.set.clone(),
        set_string: args.set_string.clone(),
        set_file: args.set_file.clone(),
        set_literal: args.set_literal.clone(),
    }
    .merge()
    .map_err(|e| e.to_string())?;
    let chart = flux_helm::Chart::load(Path::new(&args.chart)).map_err(|e| e.to_string())?;
    let opts = flux_helm::TemplateOptions {
        release_name: args.name.clone(),
        namespace: global.namespace.clone(),
        values,
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        no_hooks: args.no_hooks,
        is_upgrade: args.is_upgrade,
        kube_version: args
            .kube_version
            .as_deref()
            .map(flux_helm::action::parse_kube_version)
            .transpose()
            .map_err(|e| e.to_string())?,
        api_versions: args.api_versions.clone(),
        show_only: args.show_only.clone(),
        skip_schema_validation: args.skip_schema_validation,
        ..flux_helm::TemplateOptions::default()
    };
    match flux_helm::template(&chart, &opts) {
        Ok(text) => {
            crate::output::print(&text);
            Ok(())
        }
        Err(e) => Err(e.cli_message().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::diff_values;
    use serde_json::json;

    #[test]
    fn structural_diff_lines() {
        let mut out = Vec::new();
        diff_values(
            "",
            &json!({"spec": {"replicas": 1, "keep": "x"}, "data": {"a": "1"}}),
            &json!({"spec": {"replicas": 2, "keep": "x"}, "data": {"a": "1", "b": "2"}}),
            false,
            &mut out,
        );
        assert_eq!(
            out,
            [
                "data.b",
                "  + one entry added:",
                "    + 2",
                "spec.replicas",
                "  ± value change",
                "    - 1",
                "    + 2"
            ]
        );
        let mut secret = Vec::new();
        diff_values(
            "",
            &json!({"data": {"p": "czE="}}),
            &json!({"data": {"p": "czI="}}),
            true,
            &mut secret,
        );
        assert_eq!(
            secret,
            ["data.p", "  ± value change", "    - ***", "    + ***"]
        );
    }
}
