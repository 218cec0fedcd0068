//! `flux trace NAME --kind KIND --api-version V`: which Kustomization
//! applied an object, from which source and revision.

use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use crate::cli::TraceArgs;
use crate::client::{Ctx, Error, describe};
use crate::kinds::{self, Kind};
use crate::output;

/// Runs `flux trace`.
pub async fn run(ctx: &Ctx, args: &TraceArgs) -> Result<(), Error> {
    let applier = flux_runtime::ssa::Applier::new(ctx.client.clone(), "flux");
    let (resource, namespaced): (ApiResource, bool) = applier
        .resolve(&args.api_version, &args.kind)
        .await
        .map_err(|e| e.to_string())?;
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource)
    } else {
        Api::all_with(ctx.client.clone(), &resource)
    };
    let object = api.get(&args.name).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 404 && resource.group.is_empty() => {
            format!("{} \"{}\" not found", resource.plural, args.name)
        }
        kube::Error::Api(s) if s.code == 404 => format!(
            "{}.{} \"{}\" not found",
            resource.plural, resource.group, args.name
        ),
        other => describe(other),
    })?;
    let labels = object.metadata.labels.clone().unwrap_or_default();
    let (Some(ks_name), Some(ks_namespace)) = (
        labels.get("kustomize.toolkit.fluxcd.io/name"),
        labels.get("kustomize.toolkit.fluxcd.io/namespace"),
    ) else {
        return Err("object not managed by Flux".into());
    };
    let mut out = format!("\nObject:          {}/{}\n", args.kind, args.name);
    if let Some(ns) = object
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        out.push_str(&format!("Namespace:       {ns}\n"));
    }
    out.push_str("Status:          Managed by Flux\n");
    let k = ctx
        .api(&kinds::KUSTOMIZATION, Some(ks_namespace))
        .get(ks_name)
        .await
        .map_err(|e| crate::client::api_error(&kinds::KUSTOMIZATION, ks_name, e))?;
    let spec = &k.data["spec"];
    out.push_str("---\n");
    out.push_str(&format!("Kustomization:   {ks_name}\n"));
    out.push_str(&format!("Namespace:       {ks_namespace}\n"));
    if let Some(target) = spec["targetNamespace"].as_str().filter(|t| !t.is_empty()) {
        out.push_str(&format!("Target:          {target}\n"));
    }
    out.push_str(&format!(
        "Path:            {}\n",
        spec["path"].as_str().unwrap_or_default()
    ));
    out.push_str(&format!(
        "Revision:        {}\n",
        kinds::KUSTOMIZATION.revision(&k)
    ));
    out.push_str(&status_lines(&k, false));
    let reference = &spec["sourceRef"];
    let source_kind = reference["kind"].as_str().unwrap_or("GitRepository");
    let source_name = reference["name"].as_str().unwrap_or_default();
    let source_ns = reference["namespace"].as_str().unwrap_or(ks_namespace);
    if let Some(kind) = Kind::by_kind(source_kind)
        && let Ok(Some(source)) = ctx.api(&kind, Some(source_ns)).get_opt(source_name).await
    {
        out.push_str(&source_lines(&kind, &source, source_ns));
    }
    output::print(&out);
    Ok(())
}

fn source_lines(kind: &Kind, source: &DynamicObject, namespace: &str) -> String {
    let spec = &source.data["spec"];
    let mut out = String::from("---\n");
    let label = format!("{}:", kind.kind);
    out.push_str(&format!(
        "{label:<17}{}\n",
        source.metadata.name.clone().unwrap_or_default()
    ));
    out.push_str(&format!("Namespace:       {namespace}\n"));
    if let Some(url) = spec["url"].as_str() {
        out.push_str(&format!("URL:             {url}\n"));
    }
    let reference = &spec["ref"];
    if let Some(tag) = reference["tag"].as_str() {
        out.push_str(&format!("Tag:             {tag}\n"));
    } else if let Some(semver) = reference["semver"].as_str() {
        out.push_str(&format!("Tag:             {semver}\n"));
    } else if let Some(branch) = reference["branch"].as_str() {
        out.push_str(&format!("Branch:          {branch}\n"));
    }
    let revision = kind.revision(source);
    if !revision.is_empty() {
        out.push_str(&format!("Revision:        {revision}\n"));
    }
    out.push_str(&status_lines(source, true));
    out
}

/// `Status:`/`Message:` from the Ready condition.
fn status_lines(object: &DynamicObject, failures: bool) -> String {
    match kinds::condition(object, "Ready") {
        Some(ready) => {
            let when = go_time(&ready["lastTransitionTime"]);
            let failed = failures && ready["status"] == "False";
            format!(
                "Status:          Last reconcil{} at {when}\nMessage:         {}\n",
                if failed { "iation failed" } else { "ed" },
                ready["message"].as_str().unwrap_or_default()
            )
        }
        None => "Status:          Unknown\n".to_string(),
    }
}

/// A Kubernetes timestamp as Go prints `metav1.Time`: `2026-11-26 05:44:25 +0000 UTC`.
fn go_time(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    match text.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((date, time)) => format!("{date} {time} +0000 UTC"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::go_time;
    use serde_json::json;

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            go_time(&json!("2026-11-26T05:44:25Z")),
            "2026-11-26 05:44:25 +0000 UTC"
        );
    }
}
