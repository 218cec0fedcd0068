//! `flux events`: the Kubernetes events of Flux objects.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use crate::cli::EventsArgs;
use crate::client::{Ctx, Error, describe};
use crate::output;

/// Runs `flux events`.
pub async fn run(ctx: &Ctx, args: &EventsArgs) -> Result<(), Error> {
    let api: Api<Event> = if args.all_namespaces {
        Api::all(ctx.client.clone())
    } else {
        Api::namespaced(ctx.client.clone(), &ctx.namespace)
    };
    let mut params = ListParams::default();
    if let Some(target) = &args.for_object {
        let Some((kind, name)) = target.split_once('/') else {
            return Err(format!(
                "invalid argument {target:?} for \"--for\" flag: must be in the format <kind>/<name>"
            ).into());
        };
        let kind = canonical_kind(kind);
        params = params.fields(&format!(
            "involvedObject.kind={kind},involvedObject.name={name}"
        ));
    }
    let events = api.list(&params).await.map_err(|e| describe(&e))?;
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let mut rows: Vec<(i64, Vec<String>)> = Vec::new();
    for event in events.items {
        let object = &event.involved_object;
        let group = object
            .api_version
            .as_deref()
            .and_then(|v| v.split_once('/'))
            .map(|(g, _)| g)
            .unwrap_or_default();
        if args.for_object.is_none() && !group.ends_with(".fluxcd.io") {
            continue;
        }
        let kind_of_event = event.type_.clone().unwrap_or_default();
        if !args.types.is_empty()
            && !args
                .types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&kind_of_event))
        {
            continue;
        }
        let seen = event
            .last_timestamp
            .as_ref()
            .map(|t| t.0.as_second())
            .or_else(|| event.event_time.as_ref().map(|t| t.0.as_second()))
            .or_else(|| event.first_timestamp.as_ref().map(|t| t.0.as_second()));
        let mut row = Vec::new();
        if args.all_namespaces {
            row.push(event.metadata.namespace.clone().unwrap_or_default());
        }
        row.extend([
            output::human_age(seen.map(|s| now - s)),
            kind_of_event,
            event.reason.clone().unwrap_or_default(),
            format!(
                "{}/{}",
                object.kind.clone().unwrap_or_default(),
                object.name.clone().unwrap_or_default()
            ),
            event
                .message
                .clone()
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        ]);
        rows.push((seen.unwrap_or(0), row));
    }
    rows.sort_by_key(|(t, _)| *t);
    if rows.is_empty() {
        output::print("No events found.\n");
        return Ok(());
    }
    let mut header = vec!["Last seen", "Type", "Reason", "Object", "Message"];
    if args.all_namespaces {
        header.insert(0, "Namespace");
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    output::print(&output::table(Some(&header), &rows));
    Ok(())
}

/// `ks` → `Kustomization`, `gitrepository` → `GitRepository`, …
fn canonical_kind(kind: &str) -> String {
    let known = [
        ("ks", "Kustomization"),
        ("kustomization", "Kustomization"),
        ("hr", "HelmRelease"),
        ("helmrelease", "HelmRelease"),
        ("gitrepository", "GitRepository"),
        ("ocirepository", "OCIRepository"),
        ("helmrepository", "HelmRepository"),
        ("helmchart", "HelmChart"),
        ("bucket", "Bucket"),
    ];
    known
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(kind))
        .map(|(_, k)| k.to_string())
        .unwrap_or_else(|| kind.to_string())
}
