//! `flux build helmrelease` and `flux diff helmrelease`.
//!
//! `build` renders a local chart as the helm controller would for a
//! HelmRelease: its release name and namespace, the values composed from
//! `valuesFrom` and `values`, the post-renderers, `commonMetadata` and the
//! origin labels, CRDs unless the install skips them, hooks unless disabled
//! and tests only when enabled; offline with `--dry-run`.
//!
//! `diff` shows how the cluster drifted from the deployed release (the
//! newest record in Helm's storage): a server-side apply dry run of each
//! of its objects as the helm controller, the HelmRelease's drift `ignore`
//! rules applied, each changed field listed (Secret data masked).

use std::collections::BTreeMap;
use std::path::Path;

use flux_api::helm::v2::{CrdsPolicy, HelmRelease};
use flux_helm::helmrelease::{name, objects, postrender, values};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

use crate::cli::{BuildHelmReleaseArgs, DiffHelmReleaseArgs, Global};
use crate::client::{Ctx, Error, api_error, connect};
use crate::commands::build::DiffOutcome;
use crate::kinds;
use crate::output;

/// The YAML documents of `file`.
fn documents(file: &str) -> Result<Vec<Value>, Error> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("unable to read '{file}': {e}"))?;
    let mut out = Vec::new();
    for doc in flux_yaml::parse(&text).map_err(|e| format!("invalid YAML in '{file}': {e}"))? {
        let json = flux_kustomize::objects::value_to_json(&doc);
        if json.is_object() {
            out.push(json);
        }
    }
    Ok(out)
}

/// The HelmRelease `name`: from the documents when one is there, else
/// from the cluster.
async fn helmrelease(
    ctx: Option<&Ctx>,
    namespace: &str,
    name: &str,
    docs: &[Value],
    file: Option<&str>,
) -> Result<HelmRelease, Error> {
    let found = docs
        .iter()
        .find(|d| d["kind"] == "HelmRelease" && d["metadata"]["name"] == name)
        .cloned();
    let mut value = match (found, file) {
        (Some(v), _) => v,
        (None, Some(file)) => {
            return Err(format!("HelmRelease '{name}' not found in '{file}'").into());
        }
        (None, None) => {
            let ctx = ctx.ok_or("--dry-run needs --helmrelease-file (no cluster is read)")?;
            let object = ctx
                .api(&kinds::HELM_RELEASE, Some(namespace))
                .get(name)
                .await
                .map_err(|e| api_error(&kinds::HELM_RELEASE, name, e))?;
            serde_json::to_value(&object).map_err(|e| Error::from(e.to_string()))?
        }
    };
    if value["metadata"]["namespace"].as_str().is_none() {
        value["metadata"]["namespace"] = Value::from(namespace);
    }
    serde_json::from_value(value).map_err(|e| format!("invalid HelmRelease '{name}': {e}").into())
}

/// The values of `hr`: `valuesFrom` read from the documents, else from the
/// cluster (unless offline), then `values`; upstream's error messages.
async fn compose(
    ctx: Option<&Ctx>,
    hr: &HelmRelease,
    docs: &[Value],
) -> Result<serde_json::Map<String, Value>, Error> {
    let namespace = hr.metadata.namespace.clone().unwrap_or_default();
    let mut read = BTreeMap::new();
    for (kind, name) in values::references(&hr.spec.values_from) {
        let local = docs.iter().find(|d| {
            d["kind"] == kind.as_str()
                && d["metadata"]["name"] == name.as_str()
                && d["metadata"]["namespace"]
                    .as_str()
                    .is_none_or(|n| n == namespace)
        });
        let object = match (local, ctx) {
            (Some(object), _) => Ok(Some(object.clone())),
            (None, None) => Ok(None),
            (None, Some(ctx)) => {
                flux_runtime::config_data::read(&ctx.client, &namespace, &kind, &name).await
            }
        };
        let fetched = values::fetched(&kind, &name, object);
        read.insert((kind, name), fetched);
    }
    let inline = hr.spec.values.as_ref().and_then(Value::as_object);
    values::compose_read(&namespace, inline, &hr.spec.values_from, &read).map_err(Error::from)
}

/// `flux build helmrelease NAME --chart PATH`.
pub async fn build(global: &Global, args: &BuildHelmReleaseArgs) -> Result<(), Error> {
    let ctx = if args.dry_run {
        None
    } else {
        Some(connect(global).await?)
    };
    let mut docs = Vec::new();
    for file in args.helmrelease_file.iter().chain(&args.values_from_file) {
        docs.extend(documents(file)?);
    }
    let hr = helmrelease(
        ctx.as_ref(),
        &global.namespace,
        &args.name,
        &docs,
        args.helmrelease_file.as_deref(),
    )
    .await?;
    let values = compose(ctx.as_ref(), &hr, &docs).await?;
    let chart = flux_helm::Chart::load(Path::new(&args.chart)).map_err(|e| e.to_string())?;
    let install = hr.spec.install.as_ref();
    let opts = flux_helm::TemplateOptions {
        release_name: name::of(&hr),
        namespace: name::namespace_of(&hr),
        values,
        include_crds: install
            .and_then(|i| i.crds)
            .is_none_or(|p| p != CrdsPolicy::Skip),
        skip_tests: hr.spec.test.as_ref().is_none_or(|t| t.enable != Some(true)),
        no_hooks: install.is_some_and(|i| i.disable_hooks == Some(true)),
        kube_version: args
            .kube_version
            .as_deref()
            .map(flux_helm::action::parse_kube_version)
            .transpose()
            .map_err(|e| e.to_string())?,
        api_versions: args.api_versions.clone(),
        skip_schema_validation: install.is_some_and(|i| i.disable_schema_validation == Some(true)),
        post_render_strategy: postrender::strategy(&hr),
        ..flux_helm::TemplateOptions::default()
    };
    let post = postrender::PostRender::of(&hr);
    let rendered = flux_helm::template_with(&chart, &opts, move || flux_helm::engine::Engine {
        post_render: Some(std::rc::Rc::new(move |files| post.run(files))),
        ..flux_helm::engine::Engine::default()
    });
    match rendered {
        Ok(text) => {
            output::print(&text);
            Ok(())
        }
        Err(e) => Err(e.cli_message().into()),
    }
}

/// `flux diff helmrelease NAME`: the drift of the deployed release.
pub async fn diff(global: &Global, args: &DiffHelmReleaseArgs) -> Result<DiffOutcome, Error> {
    let ctx = connect(global).await?;
    let hr = helmrelease(Some(&ctx), &global.namespace, &args.name, &[], None).await?;
    let storage_namespace = hr
        .status
        .as_ref()
        .and_then(|s| s.storage_namespace.clone())
        .or_else(|| hr.spec.storage_namespace.clone())
        .or_else(|| hr.metadata.namespace.clone())
        .unwrap_or_default();
    let release = name::of(&hr);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &storage_namespace);
    let list = secrets
        .list(&ListParams::default().labels(&format!("owner=helm,name={release}")))
        .await
        .map_err(|e| {
            format!(
                "listing Helm's release records: {}",
                crate::client::describe(&e)
            )
        })?;
    let newest = list
        .items
        .iter()
        .filter_map(|s| {
            let version = s
                .metadata
                .labels
                .as_ref()?
                .get("version")?
                .parse::<u64>()
                .ok()?;
            Some((version, s))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, s)| s)
        .ok_or_else(|| {
            format!(
                "HelmRelease '{}/{}' has no release '{release}' in namespace '{storage_namespace}'",
                hr.metadata.namespace.as_deref().unwrap_or_default(),
                args.name
            )
        })?;
    let data = newest
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or("the release record has no release data")?;
    let record = flux_helm::release::Release::decode(&data.0)
        .map_err(|e| format!("decoding the release record: {e}"))?;
    let applier = flux_runtime::ssa::Applier::new(ctx.client.clone(), "helm-controller");
    let mut objects = Vec::new();
    for mut object in objects::objects_of(&record.manifest)? {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let namespaced = applier
            .resolve(&api_version, &kind)
            .await
            .map(|(_, namespaced)| namespaced)
            .unwrap_or(true);
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            if !namespaced {
                metadata.remove("namespace");
            } else if metadata.get("namespace").and_then(Value::as_str).is_none() {
                metadata.insert("namespace".into(), Value::from(record.namespace.clone()));
            }
        }
        objects::managed_meta(&mut object, &record.name, &record.namespace);
        objects.push(object);
    }
    let ignore = hr
        .spec
        .drift_detection
        .as_ref()
        .map(|d| d.ignore.clone())
        .unwrap_or_default();
    let rules = flux_runtime::ignore::IgnoreRules::new(&ignore).map_err(|e| e.to_string())?;
    let drifts = flux_runtime::release_drift::detect(&applier, objects, &rules).await?;
    if drifts.is_empty() {
        return Ok(DiffOutcome::Same);
    }
    let mut out = String::new();
    for line in flux_runtime::release_drift::summary(&drifts).lines() {
        if line.starts_with(' ') {
            out.push_str(&format!("{line}\n"));
        } else {
            out.push_str(&format!("► {line}\n"));
        }
    }
    output::print(&out);
    Ok(DiffOutcome::Changed)
}
