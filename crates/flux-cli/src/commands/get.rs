//! `flux get`: status tables.

use futures::StreamExt;
use kube::api::{DynamicObject, ListParams, WatchEvent, WatchParams};

use crate::cli::{GetArgs, GetCommand, ImageKindName, SourceKindName};
use crate::client::{Ctx, Error, api_error};
use crate::kinds::{self, Kind};
use crate::output;

/// Runs `flux get`.
pub async fn run(ctx: &Ctx, args: &GetArgs) -> Result<(), Error> {
    let (selected, name, all): (Vec<Kind>, Option<&str>, bool) = match &args.what {
        GetCommand::All => (kinds::ALL.to_vec(), None, true),
        GetCommand::Sources(SourceKindName::All) => (kinds::SOURCES.to_vec(), None, true),
        GetCommand::Sources(SourceKindName::Git(n)) => {
            (vec![kinds::GIT_REPOSITORY], n.name.as_deref(), false)
        }
        GetCommand::Sources(SourceKindName::Oci(n)) => {
            (vec![kinds::OCI_REPOSITORY], n.name.as_deref(), false)
        }
        GetCommand::Sources(SourceKindName::Bucket(n)) => {
            (vec![kinds::BUCKET], n.name.as_deref(), false)
        }
        GetCommand::Sources(SourceKindName::Helm(n)) => {
            (vec![kinds::HELM_REPOSITORY], n.name.as_deref(), false)
        }
        GetCommand::Sources(SourceKindName::Chart(n)) => {
            (vec![kinds::HELM_CHART], n.name.as_deref(), false)
        }
        GetCommand::Kustomizations(n) => (vec![kinds::KUSTOMIZATION], n.name.as_deref(), false),
        GetCommand::Helmreleases(n) => (vec![kinds::HELM_RELEASE], n.name.as_deref(), false),
        GetCommand::Alerts(n) => (vec![kinds::ALERT], n.name.as_deref(), false),
        GetCommand::AlertProviders(n) => (vec![kinds::ALERT_PROVIDER], n.name.as_deref(), false),
        GetCommand::Receivers(n) => (vec![kinds::RECEIVER], n.name.as_deref(), false),
        GetCommand::Images(ImageKindName::All) => (kinds::IMAGES.to_vec(), None, true),
        GetCommand::Images(ImageKindName::Repository(n)) => {
            (vec![kinds::IMAGE_REPOSITORY], n.name.as_deref(), false)
        }
        GetCommand::Images(ImageKindName::Policy(n)) => {
            (vec![kinds::IMAGE_POLICY], n.name.as_deref(), false)
        }
        GetCommand::Images(ImageKindName::Update(n)) => {
            (vec![kinds::IMAGE_UPDATE], n.name.as_deref(), false)
        }
    };
    let selector = parse_status_selector(args.status_selector.as_deref())?;
    if args.watch {
        let [kind] = selected.as_slice() else {
            return Err("--watch is only supported for a single kind".into());
        };
        return watch(ctx, args, kind, name).await;
    }
    for kind in selected {
        let objects = list(ctx, args, &kind, name).await;
        let objects = match objects {
            Ok(o) => o,
            // `get all` skips kinds whose CRD is not installed.
            Err(_) if all => continue,
            Err(e) => return Err(e),
        };
        if objects.is_empty() {
            if all {
                continue;
            }
            let scope = if args.all_namespaces {
                "any".to_string()
            } else {
                format!("{:?}", ctx.namespace)
            };
            return Err(match name {
                Some(n) => format!("{} object '{n}' not found in {scope} namespace", kind.kind),
                None => format!("no {} objects found in {scope} namespace", kind.kind),
            }
            .into());
        }
        let rows: Vec<Vec<String>> = objects
            .iter()
            .filter(|o| selector.as_ref().is_none_or(|s| s.matches(o)))
            .map(|o| row(&kind, o, args.all_namespaces, all))
            .collect();
        if all && rows.is_empty() {
            continue;
        }
        let header = headers(&kind, args.all_namespaces);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        output::print(&output::table(
            (!args.no_header).then_some(header.as_slice()),
            &rows,
        ));
        if all {
            output::print("\n");
        }
    }
    Ok(())
}

async fn list(
    ctx: &Ctx,
    args: &GetArgs,
    kind: &Kind,
    name: Option<&str>,
) -> Result<Vec<DynamicObject>, Error> {
    let api = if args.all_namespaces {
        ctx.api(kind, None)
    } else {
        ctx.namespaced(kind)
    };
    let mut params = ListParams::default();
    if let Some(n) = name {
        params = params.fields(&format!("metadata.name={n}"));
    }
    if let Some(l) = &args.label_selector {
        params = params.labels(l);
    }
    let mut items = api
        .list(&params)
        .await
        .map_err(|e| api_error(kind, name.unwrap_or_default(), e))?
        .items;
    items.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    Ok(items)
}

fn headers(kind: &Kind, all_namespaces: bool) -> Vec<String> {
    let columns: &[&str] = match kind.kind {
        // Upstream's columns for the notification kinds: no revision;
        // Providers cannot be suspended from the CLI's point of view.
        "Alert" | "Receiver" => &["Name", "Suspended", "Ready", "Message"],
        "Provider" => &["Name", "Ready", "Message"],
        "ImageRepository" => &["Name", "Last scan", "Suspended", "Ready", "Message"],
        "ImagePolicy" => &["Name", "Image", "Tag", "Ready", "Message"],
        "ImageUpdateAutomation" => &["Name", "Last run", "Suspended", "Ready", "Message"],
        _ => &["Name", "Revision", "Suspended", "Ready", "Message"],
    };
    let mut h: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    if all_namespaces {
        h.insert(0, "Namespace".to_string());
    }
    h
}

fn row(kind: &Kind, object: &DynamicObject, namespace: bool, with_kind: bool) -> Vec<String> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let name = if with_kind {
        format!("{}/{name}", kind.kind.to_lowercase())
    } else {
        name
    };
    let (ready, message) = match kind.kind {
        // Static objects: upstream reports them Ready.
        "Alert" => ("True".to_string(), "Alert is Ready".to_string()),
        "Provider" => ("True".to_string(), "Provider is Ready".to_string()),
        _ => kinds::ready(object),
    };
    let mut row = Vec::new();
    if namespace {
        row.push(object.metadata.namespace.clone().unwrap_or_default());
    }
    match kind.kind {
        "Alert" | "Receiver" => {
            row.extend([
                name,
                kinds::title_bool(kinds::suspended(object)).to_string(),
                ready,
                message,
            ]);
            return row;
        }
        "Provider" => {
            row.extend([name, ready, message]);
            return row;
        }
        "ImageRepository" | "ImageUpdateAutomation" => {
            let status = &object.data["status"];
            let time = if kind.kind == "ImageRepository" {
                status["lastScanResult"]["scanTime"].as_str()
            } else {
                status["lastAutomationRunTime"].as_str()
            };
            // The API's RFC 3339 text: upstream prints it in the local
            // zone, the same text where that zone is UTC.
            row.extend([
                name,
                time.unwrap_or_default().to_string(),
                kinds::title_bool(kinds::suspended(object)).to_string(),
                ready,
                message,
            ]);
            return row;
        }
        "ImagePolicy" => {
            let latest = &object.data["status"]["latestRef"];
            row.extend([
                name,
                latest["name"].as_str().unwrap_or_default().to_string(),
                latest["tag"].as_str().unwrap_or_default().to_string(),
                ready,
                message,
            ]);
            return row;
        }
        _ => {}
    }
    row.extend([
        name,
        kinds::truncate_hex(&kind.revision(object)),
        kinds::title_bool(kinds::suspended(object)).to_string(),
        ready,
        kinds::truncate_hex(&message),
    ]);
    row
}

/// `--status-selector type=status` or `type!=status`.
struct StatusSelector {
    condition: String,
    status: String,
    negate: bool,
}

impl StatusSelector {
    fn matches(&self, object: &DynamicObject) -> bool {
        let found = kinds::condition(object, &self.condition)
            .and_then(|c| c["status"].as_str())
            .is_some_and(|s| s.eq_ignore_ascii_case(&self.status));
        found != self.negate
    }
}

fn parse_status_selector(text: Option<&str>) -> Result<Option<StatusSelector>, Error> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let (parts, negate) = match text.split_once("!=") {
        Some(p) => (Some(p), true),
        None => (text.split_once('='), false),
    };
    let Some((condition, status)) = parts else {
        return Err(format!(
            "expected status selector in type=status or type!=status format, but found: {text}"
        )
        .into());
    };
    Ok(Some(StatusSelector {
        condition: condition.to_string(),
        status: status.to_string(),
        negate,
    }))
}

async fn watch(ctx: &Ctx, args: &GetArgs, kind: &Kind, name: Option<&str>) -> Result<(), Error> {
    let api = if args.all_namespaces {
        ctx.api(kind, None)
    } else {
        ctx.namespaced(kind)
    };
    let mut params = WatchParams::default().timeout(290);
    if let Some(n) = name {
        params = params.fields(&format!("metadata.name={n}"));
    }
    if let Some(l) = &args.label_selector {
        params = params.labels(l);
    }
    let header = headers(kind, args.all_namespaces);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut first = true;
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    let mut version = "0".to_string();
    while tokio::time::Instant::now() < deadline {
        let stream = api
            .watch(&params, &version)
            .await
            .map_err(|e| api_error(kind, name.unwrap_or_default(), e))?;
        let mut stream = Box::pin(stream);
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let Ok(Some(event)) = next else { break };
            let event = event.map_err(|e| crate::client::describe(&e))?;
            let object = match event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => o,
                WatchEvent::Bookmark(b) => {
                    version = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Deleted(_) => continue,
                WatchEvent::Error(e) => return Err(e.message.into()),
            };
            if let Some(v) = &object.metadata.resource_version {
                version = v.clone();
            }
            let rows = vec![row(kind, &object, args.all_namespaces, false)];
            let show_header = first && !args.no_header;
            first = false;
            output::print(&output::table(
                show_header.then_some(header.as_slice()),
                &rows,
            ));
        }
    }
    Ok(())
}
