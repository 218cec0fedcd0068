//! `flux suspend`, `resume`, `delete` and `export`.

use std::io::BufRead;

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::cli::{
    DeleteArgs, ExportArgs, ImageKindOptionalName, KindTarget, SourceKindOptionalName, SuspendArgs,
};
use crate::client::{Ctx, Error, api_error};
use crate::commands::reconcile;
use crate::install::to_yaml;
use crate::kinds::{self, Kind};
use crate::output;

fn target(what: &KindTarget) -> (Kind, Option<&str>) {
    match what {
        KindTarget::Source(source) => match source {
            SourceKindOptionalName::Git(n) => (kinds::GIT_REPOSITORY, n.name.as_deref()),
            SourceKindOptionalName::Oci(n) => (kinds::OCI_REPOSITORY, n.name.as_deref()),
            SourceKindOptionalName::Bucket(n) => (kinds::BUCKET, n.name.as_deref()),
            SourceKindOptionalName::Helm(n) => (kinds::HELM_REPOSITORY, n.name.as_deref()),
            SourceKindOptionalName::Chart(n) => (kinds::HELM_CHART, n.name.as_deref()),
        },
        KindTarget::Kustomization(n) => (kinds::KUSTOMIZATION, n.name.as_deref()),
        KindTarget::Helmrelease(n) => (kinds::HELM_RELEASE, n.name.as_deref()),
        KindTarget::Alert(n) => (kinds::ALERT, n.name.as_deref()),
        KindTarget::AlertProvider(n) => (kinds::ALERT_PROVIDER, n.name.as_deref()),
        KindTarget::Receiver(n) => (kinds::RECEIVER, n.name.as_deref()),
        KindTarget::Image(image) => match image {
            ImageKindOptionalName::Repository(n) => (kinds::IMAGE_REPOSITORY, n.name.as_deref()),
            ImageKindOptionalName::Policy(n) => (kinds::IMAGE_POLICY, n.name.as_deref()),
            ImageKindOptionalName::Update(n) => (kinds::IMAGE_UPDATE, n.name.as_deref()),
        },
    }
}

/// The names a command applies to: the one given, or all with `--all`.
async fn names(
    ctx: &Ctx,
    kind: &Kind,
    name: Option<&str>,
    all: bool,
) -> Result<Vec<String>, Error> {
    match (name, all) {
        (Some(n), false) => Ok(vec![n.to_string()]),
        (Some(_), true) => Err("specify either a name or --all, not both".into()),
        (None, false) => Err(format!("{} name is required", kind.noun).into()),
        (None, true) => {
            let list = ctx
                .namespaced(kind)
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error(kind, "", e))?;
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|o| o.metadata.name)
                .collect();
            names.sort();
            if names.is_empty() {
                output::failure(format!(
                    "no {} objects found in {} namespace",
                    kind.noun, ctx.namespace
                ));
            }
            Ok(names)
        }
    }
}

/// `flux suspend` (`resume` when `resume`). Resume patches every object
/// first, then (with `--wait`, or one named object) waits for each.
pub async fn suspend(ctx: &Ctx, args: &SuspendArgs, resume: bool) -> Result<(), Error> {
    let (kind, name) = target(&args.what);
    let api = ctx.namespaced(&kind);
    let should_wait = args.wait.unwrap_or(name.is_some() && !args.all);
    let mut resumed = Vec::new();
    for name in names(ctx, &kind, name, args.all).await? {
        let verb = if resume { "resuming" } else { "suspending" };
        output::action(format!(
            "{verb} {} {name} in {} namespace",
            kind.noun, ctx.namespace
        ));
        let token = reconcile::now_rfc3339();
        let patch = if resume {
            json!({"spec": {"suspend": null}, "metadata": {"annotations": {reconcile::REQUESTED_AT: token}}})
        } else {
            json!({"spec": {"suspend": true}})
        };
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(&kind, &name, e))?;
        if resume {
            output::success(format!("{} resumed", kind.noun));
            resumed.push((name, token));
        } else {
            output::success(format!("{} suspended", kind.noun));
        }
    }
    if !should_wait {
        return Ok(());
    }
    let mut failed = 0;
    for (name, token) in resumed {
        output::waiting(format!("waiting for {} reconciliation", kind.kind));
        if kinds::is_static(&kind) {
            // No status: ready once it exists (upstream's static check).
            api.get(&name)
                .await
                .map_err(|e| api_error(&kind, &name, e))?;
            output::success(format!("{} reconciliation completed", kind.kind));
            continue;
        }
        let object = reconcile::wait_handled(ctx, &kind, &ctx.namespace, &name, &token).await?;
        let (status, message) = kinds::ready(&object);
        if status == "True" {
            output::success(format!("{} reconciliation completed", kind.kind));
            output::success(kind.success_message(&object));
        } else {
            output::failure(format!(
                "{} {name} reconciliation failed: {message}",
                kind.kind
            ));
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("reconciliation failed for {failed} {}(s)", kind.kind).into());
    }
    Ok(())
}

/// `flux delete`.
pub async fn delete(ctx: &Ctx, args: &DeleteArgs) -> Result<(), Error> {
    let (kind, name) = target(&args.what);
    let Some(name) = name else {
        return Err(format!("{} name is required", kind.noun).into());
    };
    let api = ctx.namespaced(&kind);
    api.get(name).await.map_err(|e| api_error(&kind, name, e))?;
    if !args.silent
        && !confirm(&format!(
            "Are you sure you want to delete this {}",
            kind.noun
        ))?
    {
        return Ok(());
    }
    output::action(format!(
        "deleting {} {name} in {} namespace",
        kind.noun, ctx.namespace
    ));
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| api_error(&kind, name, e))?;
    output::success(format!("{} deleted", kind.noun));
    Ok(())
}

/// Asks `question [y/N]` on stderr, reads the answer from stdin.
pub fn confirm(question: &str) -> Result<bool, Error> {
    eprint!("{question}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "Yes");
    if !yes {
        return Err("aborting".into());
    }
    Ok(true)
}

/// `flux export`.
pub async fn export(ctx: &Ctx, args: &ExportArgs) -> Result<(), Error> {
    let (kind, name) = target(&args.what);
    let api = ctx.namespaced(&kind);
    let mut objects = Vec::new();
    match (name, args.all) {
        (Some(n), _) => objects.push(api.get(n).await.map_err(|e| api_error(&kind, n, e))?),
        (None, true) => {
            let mut list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error(&kind, "", e))?
                .items;
            list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            if list.is_empty() {
                return Err(format!(
                    "no {} objects found in {} namespace",
                    kind.noun, ctx.namespace
                )
                .into());
            }
            objects = list;
        }
        (None, false) => return Err(format!("{} name is required", kind.noun).into()),
    }
    let values: Vec<Value> = objects.iter().map(|o| clean(&kind, o)).collect();
    output::print(&to_yaml(&values)?);
    Ok(())
}

/// The object as upstream exports it: type, name, namespace, labels,
/// annotations (all of them, as upstream) and spec — no status, no server
/// fields.
pub fn clean(kind: &Kind, object: &DynamicObject) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "name".to_string(),
        json!(object.metadata.name.clone().unwrap_or_default()),
    );
    metadata.insert(
        "namespace".to_string(),
        json!(object.metadata.namespace.clone().unwrap_or_default()),
    );
    if let Some(labels) = object.metadata.labels.as_ref().filter(|l| !l.is_empty()) {
        metadata.insert("labels".to_string(), json!(labels));
    }
    if let Some(annotations) = object
        .metadata
        .annotations
        .as_ref()
        .filter(|a| !a.is_empty())
    {
        metadata.insert("annotations".to_string(), json!(annotations));
    }
    let mut out = Map::new();
    out.insert("apiVersion".to_string(), json!(kind.api_version()));
    out.insert("kind".to_string(), json!(kind.kind));
    out.insert("metadata".to_string(), Value::Object(metadata));
    let mut spec = object.data["spec"].clone();
    normalize(&mut spec);
    flux_api::crd::sort_keys(&mut spec);
    out.insert("spec".to_string(), spec);
    Value::Object(out)
}

/// The spec as upstream's Go types write it back: durations in Go's
/// spelling (`10m` → `10m0s`) and `false` booleans left out (`omitempty`),
/// except `prune`, which is always written.
fn normalize(value: &mut Value) {
    const DURATIONS: [&str; 4] = ["interval", "retryInterval", "timeout", "fetchTimeout"];
    if let Some(map) = value.as_object_mut() {
        map.retain(|key, v| key == "prune" || v != &Value::Bool(false));
        for (key, v) in map.iter_mut() {
            if DURATIONS.contains(&key.as_str())
                && let Some(text) = v.as_str()
                && let Ok(d) = flux_runtime::parse_duration(text)
            {
                *v = json!(flux_runtime::format_duration(d));
            } else {
                normalize(v);
            }
        }
    } else if let Some(items) = value.as_array_mut() {
        for item in items {
            normalize(item);
        }
    }
}
