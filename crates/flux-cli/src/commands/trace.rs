//! `flux trace NAME --kind KIND --api-version V`: which Kustomization or
//! HelmRelease applied an object, from which chart, source and revision.

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
        if let (Some(hr_name), Some(hr_namespace)) = (
            labels.get("helm.toolkit.fluxcd.io/name"),
            labels.get("helm.toolkit.fluxcd.io/namespace"),
        ) {
            let report = trace_helm(ctx, &object, &args.kind, hr_namespace, hr_name).await?;
            output::print(&report);
            return Ok(());
        }
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
    status_lines_width(object, failures, 17)
}

/// [`status_lines`] with labels padded to `width`.
fn status_lines_width(object: &DynamicObject, failures: bool, width: usize) -> String {
    match kinds::condition(object, "Ready") {
        Some(ready) => {
            let when = go_time(&ready["lastTransitionTime"]);
            let failed = failures && ready["status"] == "False";
            format!(
                "{:<width$}Last reconcil{} at {when}\n{:<width$}{}\n",
                "Status:",
                if failed { "iation failed" } else { "ed" },
                "Message:",
                ready["message"].as_str().unwrap_or_default()
            )
        }
        None => format!("{:<width$}Unknown\n", "Status:"),
    }
}

/// A `label: value` line with the label padded to `width`.
fn line(out: &mut String, label: &str, width: usize, value: &str) {
    out.push_str(&format!("{label:<width$}{value}\n"));
}

/// The report of an object a HelmRelease released (upstream's layout):
/// the HelmRelease, its HelmChart, and the chart's source.
async fn trace_helm(
    ctx: &Ctx,
    object: &DynamicObject,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<String, Error> {
    let hr = ctx
        .api(&kinds::HELM_RELEASE, Some(namespace))
        .get(name)
        .await
        .map_err(|e| format!("failed to find HelmRelease: {}", describe(&e)))?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = String::from("\n");
    line(
        &mut out,
        "Object:",
        16,
        &format!(
            "{kind}/{}",
            object.metadata.name.clone().unwrap_or_default()
        ),
    );
    if let Some(ns) = object
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        line(&mut out, "Namespace:", 16, ns);
    }
    line(&mut out, "Status:", 16, "Managed by Flux");
    out.push_str("---\n");
    line(&mut out, "HelmRelease:", 16, name);
    line(&mut out, "Namespace:", 16, namespace);
    let spec = &hr.data["spec"];
    if let Some(target) = spec["targetNamespace"].as_str().filter(|t| !t.is_empty()) {
        line(&mut out, "Target:", 16, target);
    }
    line(
        &mut out,
        "Revision:",
        16,
        &text(&hr.data["status"]["lastAttemptedRevision"]),
    );
    out.push_str(&status_lines_width(&hr, false, 16));
    if let Some(chart_id) = hr.data["status"]["helmChart"]
        .as_str()
        .filter(|c| !c.is_empty())
    {
        let (chart_ns, chart_name) = chart_id.split_once('/').unwrap_or((namespace, chart_id));
        let chart = ctx
            .api(&kinds::HELM_CHART, Some(chart_ns))
            .get(chart_name)
            .await
            .map_err(|e| format!("failed to find HelmChart: {}", describe(&e)))?;
        out.push_str("---\n");
        line(&mut out, "HelmChart:", 16, chart_name);
        line(&mut out, "Namespace:", 16, chart_ns);
        line(&mut out, "Chart:", 16, &text(&chart.data["spec"]["chart"]));
        line(
            &mut out,
            "Version:",
            16,
            &text(&chart.data["spec"]["version"]),
        );
        if let Some(revision) = chart.data["status"]["artifact"]["revision"].as_str() {
            line(&mut out, "Revision:", 16, revision);
        }
        out.push_str(&status_lines_width(&chart, false, 16));
    }
    let (source_kind, source_ref) = if spec["chart"].is_object() {
        (
            text(&spec["chart"]["spec"]["sourceRef"]["kind"]),
            &spec["chart"]["spec"]["sourceRef"],
        )
    } else {
        (text(&spec["chartRef"]["kind"]), &spec["chartRef"])
    };
    let source_ns = source_ref["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or(namespace);
    let source_name = text(&source_ref["name"]);
    let via_chart_ref = !spec["chart"].is_object();
    let wanted = match source_kind.as_str() {
        "HelmRepository" if !via_chart_ref => Some((kinds::HELM_REPOSITORY, 16, false)),
        "GitRepository" if !via_chart_ref => Some((kinds::GIT_REPOSITORY, 15, true)),
        "OCIRepository" if via_chart_ref => Some((kinds::OCI_REPOSITORY, 17, true)),
        "ExternalArtifact" if via_chart_ref => Some((kinds::EXTERNAL_ARTIFACT, 17, true)),
        _ => None,
    };
    if let Some((source_kind, width, failures)) = wanted {
        let source = ctx
            .api(&source_kind, Some(source_ns))
            .get(&source_name)
            .await
            .map_err(|e| format!("failed to find {}: {}", source_kind.kind, describe(&e)))?;
        let sspec = &source.data["spec"];
        out.push_str("---\n");
        line(
            &mut out,
            &format!("{}:", source_kind.kind),
            width,
            &source_name,
        );
        line(&mut out, "Namespace:", width, source_ns);
        if source_kind.kind == "ExternalArtifact" {
            let r = &sspec["sourceRef"];
            line(
                &mut out,
                "Source:",
                width,
                &format!(
                    "{}/{}/{}",
                    text(&r["kind"]),
                    text(&r["namespace"]),
                    text(&r["name"])
                ),
            );
        } else {
            line(&mut out, "URL:", width, &text(&sspec["url"]));
            let reference = &sspec["ref"];
            if let Some(tag) = reference["tag"].as_str() {
                line(&mut out, "Tag:", width, tag);
            } else if let Some(semver) = reference["semver"].as_str() {
                line(&mut out, "Tag:", width, semver);
            } else if source_kind.kind == "OCIRepository"
                && let Some(digest) = reference["digest"].as_str()
            {
                line(&mut out, "Digest:", width, digest);
            } else if source_kind.kind == "GitRepository"
                && let Some(branch) = reference["branch"].as_str()
            {
                line(&mut out, "Branch:", width, branch);
            }
        }
        if let Some(revision) = source.data["status"]["artifact"]["revision"].as_str() {
            line(&mut out, "Revision:", width, revision);
        }
        out.push_str(&status_lines_width(&source, failures, width));
    }
    Ok(out)
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
