//! `flux logs`: the controllers' JSON logs, one line per entry in
//! upstream's layout (`TS LEVEL Kind/name.namespace - message error`),
//! filtered by level, kind, name and namespace.

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;

use crate::cli::LogsArgs;
use crate::client::{Ctx, Error, describe};

/// What selects the lines printed.
pub struct Filter {
    /// `--level` (exact, as upstream).
    pub level: Option<String>,
    /// `--kind` (case-insensitive; the reconciler or controller kind).
    pub kind: Option<String>,
    /// `--name` (case-insensitive).
    pub name: Option<String>,
    /// `-n` unless `-A`: only entries about objects in this namespace.
    pub namespace: Option<String>,
}

/// One log line as `flux logs` prints it, or `None` when the line is not
/// a JSON entry or the filter leaves it out.
pub fn format_line(line: &str, filter: &Filter) -> Option<String> {
    if !line.starts_with('{') {
        return None;
    }
    let entry: Value = serde_json::from_str(line).ok()?;
    let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
    let (level, kind, controller_kind, name, namespace) = (
        text("level"),
        text("reconciler kind"),
        text("controllerKind"),
        text("name"),
        text("namespace"),
    );
    let matches = filter.level.as_deref().is_none_or(|l| l == level)
        && filter.kind.as_deref().is_none_or(|k| {
            k.eq_ignore_ascii_case(&kind) || k.eq_ignore_ascii_case(&controller_kind)
        })
        && filter
            .name
            .as_deref()
            .is_none_or(|n| n.eq_ignore_ascii_case(&name))
        && filter
            .namespace
            .as_deref()
            .is_none_or(|ns| ns.eq_ignore_ascii_case(&namespace));
    if !matches {
        return None;
    }
    let shown_kind = if kind.is_empty() {
        controller_kind
    } else {
        kind
    };
    let object = if name.is_empty() {
        shown_kind
    } else {
        format!("{shown_kind}/{name}.{namespace}")
    };
    Some(format!(
        "{} {level} {object} - {} {}\n",
        text("ts"),
        text("msg"),
        text("error")
    ))
}

/// Runs `flux logs`.
pub async fn run(ctx: &Ctx, args: &LogsArgs) -> Result<(), Error> {
    if args.since.is_some() && args.since_time.is_some() {
        return Err("at most one of `sinceTime` or `sinceDuration` may be specified".into());
    }
    let namespace = &args.flux_namespace;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let list = deployments
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .map_err(|e| describe(&e))?;
    let mut chosen = Vec::new();
    for deployment in list.items {
        let labels = deployment
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.labels)
            .unwrap_or_default();
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut found = pods
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
            .map_err(|e| describe(&e))?
            .items;
        // Running pods first, as kubectl's ByLogging order does.
        found
            .sort_by_key(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running"));
        if let Some(pod) = found.into_iter().next() {
            chosen.push(pod);
        }
    }
    if chosen.is_empty() {
        return Err(format!("no Flux pods found in namespace \"{namespace}\"").into());
    }
    let since_seconds = match &args.since {
        Some(text) => Some(
            flux_runtime::parse_duration(text)
                .map_err(|e| format!("invalid argument \"{text}\" for \"--since\" flag: {e}"))?
                .as_secs()
                .max(1) as i64,
        ),
        None => None,
    };
    let filter = Filter {
        level: args.level.clone(),
        kind: args.kind.clone(),
        name: args.name.clone(),
        namespace: (!args.all_namespaces).then(|| ctx.namespace.clone()),
    };
    let mut streams = Vec::new();
    for pod in &chosen {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let multi = pod.spec.as_ref().is_some_and(|s| s.containers.len() > 1);
        let params = LogParams {
            follow: args.follow,
            tail_lines: (args.tail >= 0).then_some(args.tail),
            since_seconds,
            since_time: args
                .since_time
                .as_deref()
                .map(|t| {
                    t.parse::<k8s_openapi::jiff::Timestamp>()
                        .map_err(|_| format!("{t} is not a valid (RFC3339) time"))
                })
                .transpose()?,
            container: multi.then(|| "manager".to_string()),
            ..LogParams::default()
        };
        match pods.log_stream(&name, &params).await {
            Ok(stream) => streams.push(stream),
            Err(e) => eprintln!("failed getting logs: {}", describe(&e)),
        }
    }
    let lines = futures::stream::select_all(
        streams
            .into_iter()
            .map(|s| s.lines().map_err(|e| e.to_string()).boxed()),
    );
    let mut lines = Box::pin(lines);
    while let Some(line) = lines.next().await {
        let line = line?;
        // The API server's refusal (a pod no node runs, a container not
        // started) arrives as a Status object in the body.
        if line.starts_with("{\"kind\":\"Status\"")
            && let Ok(status) = serde_json::from_str::<Value>(&line)
            && status["status"] == "Failure"
        {
            eprintln!(
                "failed getting logs: {}",
                status["message"].as_str().unwrap_or_default()
            );
            continue;
        }
        if let Some(text) = format_line(&line, &filter) {
            crate::output::print(&text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Filter, format_line};

    /// Lines as the real `fluxd` writes them (zap's JSON encoder fields).
    const RECONCILED: &str = r#"{"level":"info","ts":"2026-11-26T05:25:23.125Z","msg":"server-side apply completed","controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization","name":"apps","namespace":"flux-system","revision":"main@sha1:b76f3c36"}"#;
    const FAILED: &str = r#"{"level":"error","ts":"2026-11-26T05:25:24Z","msg":"Reconciler error","controllerKind":"GitRepository","name":"podinfo","namespace":"apps","error":"authentication failed"}"#;

    fn all() -> Filter {
        Filter {
            level: None,
            kind: None,
            name: None,
            namespace: None,
        }
    }

    #[test]
    fn lines_in_upstreams_layout() {
        assert_eq!(
            format_line(RECONCILED, &all()).as_deref(),
            Some(
                "2026-11-26T05:25:23.125Z info Kustomization/apps.flux-system - server-side apply completed \n"
            )
        );
        assert_eq!(
            format_line(FAILED, &all()).as_deref(),
            Some(
                "2026-11-26T05:25:24Z error GitRepository/podinfo.apps - Reconciler error authentication failed\n"
            )
        );
        assert_eq!(format_line("plain text", &all()), None);
    }

    #[test]
    fn filters_like_upstream() {
        let only = |level: Option<&str>,
                    kind: Option<&str>,
                    name: Option<&str>,
                    ns: Option<&str>| Filter {
            level: level.map(str::to_string),
            kind: kind.map(str::to_string),
            name: name.map(str::to_string),
            namespace: ns.map(str::to_string),
        };
        assert!(format_line(FAILED, &only(Some("error"), None, None, None)).is_some());
        assert!(format_line(RECONCILED, &only(Some("error"), None, None, None)).is_none());
        assert!(format_line(RECONCILED, &only(None, Some("kustomization"), None, None)).is_some());
        assert!(format_line(RECONCILED, &only(None, Some("GitRepository"), None, None)).is_none());
        assert!(format_line(FAILED, &only(None, None, Some("PODINFO"), None)).is_some());
        assert!(format_line(FAILED, &only(None, None, None, Some("flux-system"))).is_none());
        assert!(format_line(RECONCILED, &only(None, None, None, Some("flux-system"))).is_some());
    }
}
