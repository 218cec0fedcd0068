//! `flux create source git`, `create kustomization`, `create secret git`.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::cli::{
    CreateAlertArgs, CreateAlertProviderArgs, CreateCommand, CreateCommon, CreateHelmReleaseArgs,
    CreateImageCommand, CreateKustomizationArgs, CreateReceiverArgs, CreateSecretCommand,
    CreateSecretGitArgs, CreateSourceBucketArgs, CreateSourceChartArgs, CreateSourceCommand,
    CreateSourceGitArgs, CreateSourceHelmArgs, CreateSourceOciArgs, VerifyArgs,
};
use crate::client::{Ctx, Error, describe};
use crate::commands::reconcile;
use crate::install::{FIELD_MANAGER, to_yaml};
use crate::kinds::{self, Kind};
use crate::output;

/// Runs `flux create`; `ctx` is `None` with `--export` (no cluster needed).
pub async fn run(ctx: Option<&Ctx>, namespace: &str, command: &CreateCommand) -> Result<(), Error> {
    if let CreateCommand::Receiver(args) = command {
        receiver_type(&args.receiver_type)?;
    }
    let name = object_name(command);
    if !valid_object_name(name) {
        return Err(format!(
            "name '{name}' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'"
        )
        .into());
    }
    match command {
        CreateCommand::AlertProvider(args) => {
            let object = alert_provider(namespace, args)?;
            finish_notification(ctx, &kinds::ALERT_PROVIDER, &args.common, object).await
        }
        CreateCommand::Alert(args) => {
            let object = alert(namespace, args)?;
            finish_notification(ctx, &kinds::ALERT, &args.common, object).await
        }
        CreateCommand::Receiver(args) => {
            let object = receiver(namespace, args)?;
            finish_notification(ctx, &kinds::RECEIVER, &args.common, object).await
        }
        CreateCommand::Image(CreateImageCommand::Repository(args)) => {
            let object = super::image::repository(namespace, args)?;
            finish_notification(ctx, &kinds::IMAGE_REPOSITORY, &args.common, object).await
        }
        CreateCommand::Image(CreateImageCommand::Policy(args)) => {
            let object = super::image::policy(namespace, args)?;
            let common = CreateCommon {
                export: args.export,
                interval: String::new(),
                labels: args.labels.clone(),
            };
            finish_notification(ctx, &kinds::IMAGE_POLICY, &common, object).await
        }
        CreateCommand::Image(CreateImageCommand::Update(args)) => {
            let object = super::image::update(namespace, args)?;
            finish_notification(ctx, &kinds::IMAGE_UPDATE, &args.common, object).await
        }
        CreateCommand::Source(CreateSourceCommand::Git(args)) => {
            let object = git_repository(namespace, args)?;
            finish(
                ctx,
                &kinds::GIT_REPOSITORY,
                &args.common,
                object,
                "GitRepository source",
            )
            .await
        }
        CreateCommand::Source(CreateSourceCommand::Helm(args)) => {
            let mut object = helm_repository(namespace, args)?;
            // Upstream's export ignores the credential flags.
            let secret = if args.common.export {
                None
            } else {
                helm_secret(namespace, args)?
            };
            if secret.is_some() {
                object["spec"]["secretRef"] = json!({"name": format!("helm-{}", args.name)});
                if args.pass_credentials {
                    object["spec"]["passCredentials"] = json!(true);
                }
            }
            finish_with(
                ctx,
                &kinds::HELM_REPOSITORY,
                &args.common,
                object,
                "HelmRepository source",
                secret.map(|s| (s, "repository credentials")),
            )
            .await
        }
        CreateCommand::Source(CreateSourceCommand::Oci(args)) => {
            let object = oci_repository(namespace, args)?;
            finish(
                ctx,
                &kinds::OCI_REPOSITORY,
                &args.common,
                object,
                "OCIRepository source",
            )
            .await
        }
        CreateCommand::Source(CreateSourceCommand::Bucket(args)) => {
            let object = bucket(namespace, args)?;
            let secret = bucket_secret(namespace, args)?;
            finish_with(
                ctx,
                &kinds::BUCKET,
                &args.common,
                object,
                "Bucket source",
                secret.map(|s| (s, "the bucket credentials")),
            )
            .await
        }
        CreateCommand::Source(CreateSourceCommand::Chart(args)) => {
            let object = helm_chart(namespace, args)?;
            finish(
                ctx,
                &kinds::HELM_CHART,
                &args.common,
                object,
                "HelmChart source",
            )
            .await
        }
        CreateCommand::Kustomization(args) => {
            let object = kustomization(namespace, args)?;
            finish(
                ctx,
                &kinds::KUSTOMIZATION,
                &args.common,
                object,
                "Kustomization",
            )
            .await
        }
        CreateCommand::Helmrelease(args) => {
            let object = helm_release(namespace, args)?;
            finish(
                ctx,
                &kinds::HELM_RELEASE,
                &args.common,
                object,
                "HelmRelease",
            )
            .await
        }
        CreateCommand::Secret(CreateSecretCommand::Git(args)) => {
            let secret = git_secret(namespace, args)?;
            if args.export {
                // Upstream prints secrets with a blank line after them.
                output::print(&format!("{}\n", to_yaml(&[secret])?));
                return Ok(());
            }
            let ctx = ctx.ok_or("no cluster connection")?;
            apply_secret(ctx, &secret).await?;
            output::success(format!(
                "secret '{}' created in '{namespace}' namespace",
                args.name
            ));
            Ok(())
        }
    }
}

/// Whether the command only exports (needs no cluster).
pub fn export_only(command: &CreateCommand) -> bool {
    match command {
        CreateCommand::Source(CreateSourceCommand::Git(a)) => a.common.export,
        CreateCommand::Source(CreateSourceCommand::Helm(a)) => a.common.export,
        CreateCommand::Source(CreateSourceCommand::Oci(a)) => a.common.export,
        CreateCommand::Source(CreateSourceCommand::Bucket(a)) => a.common.export,
        CreateCommand::Source(CreateSourceCommand::Chart(a)) => a.common.export,
        CreateCommand::Kustomization(a) => a.common.export,
        CreateCommand::Helmrelease(a) => a.common.export,
        CreateCommand::Secret(CreateSecretCommand::Git(a)) => a.export,
        CreateCommand::AlertProvider(a) => a.common.export,
        CreateCommand::Alert(a) => a.common.export,
        CreateCommand::Receiver(a) => a.common.export,
        CreateCommand::Image(CreateImageCommand::Repository(a)) => a.common.export,
        CreateCommand::Image(CreateImageCommand::Policy(a)) => a.export,
        CreateCommand::Image(CreateImageCommand::Update(a)) => a.common.export,
    }
}

/// The name the command creates.
fn object_name(command: &CreateCommand) -> &str {
    match command {
        CreateCommand::Source(CreateSourceCommand::Git(a)) => &a.name,
        CreateCommand::Source(CreateSourceCommand::Helm(a)) => &a.name,
        CreateCommand::Source(CreateSourceCommand::Oci(a)) => &a.name,
        CreateCommand::Source(CreateSourceCommand::Bucket(a)) => &a.name,
        CreateCommand::Source(CreateSourceCommand::Chart(a)) => &a.name,
        CreateCommand::Kustomization(a) => &a.name,
        CreateCommand::Helmrelease(a) => &a.name,
        CreateCommand::Secret(CreateSecretCommand::Git(a)) => &a.name,
        CreateCommand::AlertProvider(a) => &a.name,
        CreateCommand::Alert(a) => &a.name,
        CreateCommand::Receiver(a) => &a.name,
        CreateCommand::Image(CreateImageCommand::Repository(a)) => &a.name,
        CreateCommand::Image(CreateImageCommand::Policy(a)) => &a.name,
        CreateCommand::Image(CreateImageCommand::Update(a)) => &a.name,
    }
}

/// Upstream's `validateObjectName`: `^[a-z0-9]([a-z0-9\-]){0,61}[a-z0-9]$`.
pub fn valid_object_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (2..=63).contains(&bytes.len())
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

const RECEIVER_TYPES: [&str; 12] = [
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
];

fn receiver_type(text: &str) -> Result<(), Error> {
    if text.is_empty() || RECEIVER_TYPES.contains(&text) {
        return Ok(());
    }
    Err(format!(
        "invalid argument \"{text}\" for \"--type\" flag: receiver type '{text}' is not supported, must be one of: {}",
        RECEIVER_TYPES.join(", ")
    )
    .into())
}

/// The Provider `flux create alert-provider` writes.
pub fn alert_provider(namespace: &str, args: &CreateAlertProviderArgs) -> Result<Value, Error> {
    if args.provider_type.is_empty() {
        return Err("Provider type is required".into());
    }
    let mut spec = json!({"type": args.provider_type});
    for (key, value) in [
        ("channel", &args.channel),
        ("username", &args.username),
        ("address", &args.address),
    ] {
        if !value.is_empty() {
            spec[key] = json!(value);
        }
    }
    if !args.secret_ref.is_empty() {
        spec["secretRef"] = json!({"name": args.secret_ref});
    }
    Ok(json!({
        "apiVersion": kinds::ALERT_PROVIDER.api_version(),
        "kind": "Provider",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// The Alert `flux create alert` writes.
pub fn alert(namespace: &str, args: &CreateAlertArgs) -> Result<Value, Error> {
    if args.provider_ref.is_empty() {
        return Err("provider ref is required".into());
    }
    let mut sources = Vec::new();
    for source in args.event_sources.iter().filter(|s| !s.is_empty()) {
        let (kind, name, ns) = kind_name_namespace(source);
        if kind.is_empty() {
            return Err(format!(
                "invalid event source '{source}', must be in format <kind>/<name>"
            )
            .into());
        }
        let mut reference = json!({"kind": kind, "name": name});
        if !ns.is_empty() {
            reference["namespace"] = json!(ns);
        }
        sources.push(reference);
    }
    if sources.is_empty() {
        return Err("at least one event source is required".into());
    }
    let mut spec = json!({"eventSources": sources, "providerRef": {"name": args.provider_ref}});
    if !args.event_severity.is_empty() {
        spec["eventSeverity"] = json!(args.event_severity);
    }
    Ok(json!({
        "apiVersion": kinds::ALERT.api_version(),
        "kind": "Alert",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// The Receiver `flux create receiver` writes.
pub fn receiver(namespace: &str, args: &CreateReceiverArgs) -> Result<Value, Error> {
    if args.receiver_type.is_empty() {
        return Err("Receiver type is required".into());
    }
    if args.secret_ref.is_empty() {
        return Err("secret ref is required".into());
    }
    let mut resources = Vec::new();
    for resource in args.resources.iter().filter(|r| !r.is_empty()) {
        let Some((kind, name)) = resource.split_once('/') else {
            return Err(format!(
                "invalid event source '{resource}', must be in format <kind>/<name>"
            )
            .into());
        };
        resources.push(json!({"kind": kind, "name": name}));
    }
    if resources.is_empty() {
        return Err("atleast one resource is required".into());
    }
    let mut spec = json!({
        "resources": resources,
        "secretRef": {"name": args.secret_ref},
        "type": args.receiver_type,
    });
    let events: Vec<&String> = args.events.iter().filter(|e| !e.is_empty()).collect();
    if !events.is_empty() {
        spec["events"] = json!(events);
    }
    Ok(json!({
        "apiVersion": kinds::RECEIVER.api_version(),
        "kind": "Receiver",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// Applies a Provider, Alert, Receiver or image object as upstream's
/// commands do: the static kinds are ready once they exist; a Receiver
/// once Ready, and its webhook path is printed; an image object once
/// Ready ("… reconciliation completed").
async fn finish_notification(
    ctx: Option<&Ctx>,
    kind: &Kind,
    common: &CreateCommon,
    mut object: Value,
) -> Result<(), Error> {
    flux_api::crd::sort_keys(&mut object["spec"]);
    if common.export {
        output::print(&to_yaml(&[object])?);
        return Ok(());
    }
    let ctx = ctx.ok_or("no cluster connection")?;
    let noun = kind.kind;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&ctx.namespace)
        .to_string();
    output::generate(format!("generating {noun}"));
    output::action(format!("applying {noun}"));
    let api = ctx.api(kind, Some(&namespace));
    let existed = api
        .get_opt(&name)
        .await
        .map_err(|e| describe(&e))?
        .is_some();
    apply(&api, &name, &object).await?;
    output::success(format!(
        "{noun} {}",
        if existed { "updated" } else { "created" }
    ));
    output::waiting(format!("waiting for {noun} reconciliation"));
    if kinds::is_static(kind) {
        api.get(&name).await.map_err(|e| describe(&e))?;
        output::success(format!("{noun} {name} is ready"));
        return Ok(());
    }
    let ready = reconcile::wait_ready(ctx, kind, &namespace, &name).await?;
    if kind.group == "image.toolkit.fluxcd.io" {
        output::success(format!("{noun} reconciliation completed"));
        return Ok(());
    }
    output::success(format!("{noun} {name} is ready"));
    output::success(format!(
        "generated webhook URL {}",
        ready.data["status"]["webhookPath"]
            .as_str()
            .unwrap_or_default()
    ));
    Ok(())
}

pub(crate) fn interval(text: &str) -> Result<String, Error> {
    flux_runtime::parse_duration(text)
        .map(flux_runtime::format_duration)
        .map_err(|e| Error::from(format!("invalid duration '{text}': {e}")))
}

fn labels(common: &CreateCommon) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for label in common.labels.iter().filter(|l| !l.is_empty()) {
        let Some((k, v)) = label.split_once('=') else {
            return Err(format!("invalid label format '{label}', must be key=value").into());
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub(crate) fn metadata(name: &str, namespace: &str, common: &CreateCommon) -> Result<Value, Error> {
    let mut m = json!({"name": name, "namespace": namespace});
    let labels = labels(common)?;
    if !labels.is_empty() {
        m["labels"] = json!(labels);
    }
    Ok(m)
}

/// The GitRepository `flux create source git` writes.
pub fn git_repository(namespace: &str, args: &CreateSourceGitArgs) -> Result<Value, Error> {
    if !(args.url.starts_with("http://")
        || args.url.starts_with("https://")
        || args.url.starts_with("ssh://"))
    {
        return Err("git URL scheme must be one of http, https or ssh".into());
    }
    let mut reference = Map::new();
    for (key, value) in [
        ("branch", &args.branch),
        ("tag", &args.tag),
        ("semver", &args.tag_semver),
        ("name", &args.ref_name),
        ("commit", &args.commit),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            reference.insert(key.to_string(), json!(v));
        }
    }
    if reference.is_empty() {
        return Err(
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver"
                .into(),
        );
    }
    let mut spec = json!({
        "interval": interval(&args.common.interval)?,
        "ref": reference,
        "url": args.url,
    });
    if let Some(secret) = args.secret_ref.as_ref().filter(|s| !s.is_empty()) {
        spec["secretRef"] = json!({"name": secret});
    }
    if args.recurse_submodules {
        spec["recurseSubmodules"] = json!(true);
    }
    let ignore: Vec<&str> = args
        .ignore_paths
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if !ignore.is_empty() {
        spec["ignore"] = json!(ignore.join("\n"));
    }
    Ok(json!({
        "apiVersion": kinds::GIT_REPOSITORY.api_version(),
        "kind": "GitRepository",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// `--fetch-timeout` as `spec.timeout` (left out when zero).
fn fetch_timeout(text: &str) -> Result<Option<String>, Error> {
    let d = flux_runtime::parse_duration(text).map_err(|e| {
        Error::from(format!(
            "invalid argument {text:?} for \"--fetch-timeout\" flag: {e}"
        ))
    })?;
    Ok((!d.is_zero()).then(|| flux_runtime::format_duration(d)))
}

/// The HelmRepository `flux create source helm` writes.
pub fn helm_repository(namespace: &str, args: &CreateSourceHelmArgs) -> Result<Value, Error> {
    if args.url.is_empty() {
        return Err("url is required".into());
    }
    let (scheme, rest) = args.url.split_once("://").unwrap_or(("", ""));
    if !matches!(scheme, "http" | "https" | "oci") {
        return Err(
            format!("url scheme '{scheme}' not supported, can be: http, https and oci").into(),
        );
    }
    if rest.split('/').next().unwrap_or_default().is_empty() {
        return Err("url host is required".into());
    }
    let mut spec = json!({
        "interval": interval(&args.common.interval)?,
        "url": args.url,
    });
    if scheme == "oci" {
        spec["type"] = json!("oci");
        if !args.oci_provider.is_empty() {
            spec["provider"] = json!(args.oci_provider);
        }
    }
    if let Some(timeout) = fetch_timeout(&args.fetch_timeout)? {
        spec["timeout"] = json!(timeout);
    }
    if !args.secret_ref.is_empty() {
        spec["secretRef"] = json!({"name": args.secret_ref});
        if args.pass_credentials {
            spec["passCredentials"] = json!(true);
        }
    }
    Ok(json!({
        "apiVersion": kinds::HELM_REPOSITORY.api_version(),
        "kind": "HelmRepository",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// The HelmChart `flux create source chart` writes.
pub fn helm_chart(namespace: &str, args: &CreateSourceChartArgs) -> Result<Value, Error> {
    const KINDS: [&str; 3] = ["HelmRepository", "GitRepository", "Bucket"];
    const PROVIDERS: [&str; 2] = ["cosign", "notation"];
    let flag_error = |flag: &str, value: &str, message: String| {
        Error::from(format!(
            "invalid argument {value:?} for \"--{flag}\" flag: {message}"
        ))
    };
    let mut source = None;
    if !args.source.is_empty() {
        if args.source.trim().is_empty() {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "no helm chart source given, please specify source that contains the chart in the format '<kind>/<name>', where kind must be one of: ({})",
                    KINDS.join(", ")
                ),
            ));
        }
        let (kind, name) = args.source.split_once('/').unwrap_or(("", ""));
        if kind.is_empty() || name.is_empty() {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "invalid helm chart source '{}', must be in format <kind>/<name>",
                    args.source
                ),
            ));
        }
        let Some(kind) = KINDS.iter().find(|k| k.eq_ignore_ascii_case(kind)) else {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "source kind '{kind}' is not supported, must be one of: {}",
                    KINDS.join(", ")
                ),
            ));
        };
        source = Some((*kind, name));
    }
    if !args.verify.verify_provider.is_empty()
        && !PROVIDERS.contains(&args.verify.verify_provider.as_str())
    {
        return Err(flag_error(
            "verify-provider",
            &args.verify.verify_provider,
            format!(
                "source OCI verify provider '{}' is not supported, must be one of: {}",
                args.verify.verify_provider,
                PROVIDERS.join(", ")
            ),
        ));
    }
    let Some((kind, name)) = source else {
        return Err("chart source is required".into());
    };
    if args.chart.is_empty() {
        return Err("chart name or path is required".into());
    }
    let mut spec = json!({
        "chart": args.chart,
        "interval": interval(&args.common.interval)?,
        "sourceRef": {"kind": kind, "name": name},
    });
    if !args.reconcile_strategy.is_empty() {
        spec["reconcileStrategy"] = json!(args.reconcile_strategy);
    }
    if !args.chart_version.is_empty() {
        spec["version"] = json!(args.chart_version);
    }
    if let Some(verify) = verify_spec(&args.verify)? {
        spec["verify"] = verify;
    }
    Ok(json!({
        "apiVersion": kinds::HELM_CHART.api_version(),
        "kind": "HelmChart",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// The Bucket `flux create source bucket` writes.
pub fn bucket(namespace: &str, args: &CreateSourceBucketArgs) -> Result<Value, Error> {
    const PROVIDERS: [&str; 4] = ["generic", "aws", "azure", "gcp"];
    if args.provider.trim().is_empty() {
        return Err(format!(
            "invalid argument {:?} for \"--provider\" flag: no source bucket provider given, please specify the S3 compatible storage provider name",
            args.provider
        )
        .into());
    }
    if !PROVIDERS.contains(&args.provider.as_str()) {
        return Err(format!(
            "invalid argument {:?} for \"--provider\" flag: source bucket provider '{}' is not supported, must be one of: {}",
            args.provider,
            args.provider,
            PROVIDERS.join(", ")
        )
        .into());
    }
    if args.bucket_name.is_empty() {
        return Err("bucket-name is required".into());
    }
    if args.endpoint.is_empty() {
        return Err("endpoint is required".into());
    }
    let mut spec = json!({
        "bucketName": args.bucket_name,
        "endpoint": args.endpoint,
        "interval": interval(&args.common.interval)?,
        "provider": args.provider,
    });
    if args.insecure {
        spec["insecure"] = json!(true);
    }
    if !args.region.is_empty() {
        spec["region"] = json!(args.region);
    }
    let ignore: Vec<&str> = args
        .ignore_paths
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if !ignore.is_empty() {
        spec["ignore"] = json!(ignore.join("\n"));
    }
    if let Some(timeout) = fetch_timeout(&args.fetch_timeout)? {
        spec["timeout"] = json!(timeout);
    }
    for (key, value) in [
        ("secretRef", &args.secret_ref),
        ("proxySecretRef", &args.proxy_secret_ref),
    ] {
        if !value.is_empty() {
            spec[key] = json!({"name": value});
        }
    }
    if args.secret_ref.is_empty() && !args.access_key.is_empty() && !args.secret_key.is_empty() {
        spec["secretRef"] = json!({"name": format!("bucket-{}", args.name)});
    }
    Ok(json!({
        "apiVersion": kinds::BUCKET.api_version(),
        "kind": "Bucket",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// The Secret `bucket-<name>` with the keys given on the command line
/// (none with `--secret-ref`, or without both keys).
fn bucket_secret(namespace: &str, args: &CreateSourceBucketArgs) -> Result<Option<Value>, Error> {
    if !args.secret_ref.is_empty() || args.access_key.is_empty() || args.secret_key.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(&format!("bucket-{}", args.name), namespace, &args.common)?,
        "stringData": {"accesskey": args.access_key, "secretkey": args.secret_key},
    })))
}

/// The Secret `helm-<name>` from the credential flags, as upstream builds
/// it: a client certificate pair (`kubernetes.io/tls`, with the CA) wins
/// over basic credentials (`kubernetes.io/basic-auth`, with the CA), else
/// the CA alone (`Opaque`); none with `--secret-ref` or no flag.
fn helm_secret(namespace: &str, args: &CreateSourceHelmArgs) -> Result<Option<Value>, Error> {
    if !args.secret_ref.is_empty() {
        return Ok(None);
    }
    let ca = if args.ca_file.is_empty() {
        String::new()
    } else {
        std::fs::read_to_string(&args.ca_file)
            .map_err(|e| format!("unable to read TLS CA file: {e}"))?
    };
    let (mut cert, mut key) = (String::new(), String::new());
    if !args.cert_file.is_empty() && !args.key_file.is_empty() {
        cert = std::fs::read_to_string(&args.cert_file)
            .map_err(|e| format!("failed to read cert file: {e}"))?;
        key = std::fs::read_to_string(&args.key_file)
            .map_err(|e| format!("failed to read key file: {e}"))?;
    }
    let mut data = Map::new();
    let kind = if !cert.is_empty() || !key.is_empty() {
        data.insert("tls.crt".into(), json!(cert));
        data.insert("tls.key".into(), json!(key));
        "kubernetes.io/tls"
    } else if !args.username.is_empty() || !args.password.is_empty() {
        for (field, value) in [("username", &args.username), ("password", &args.password)] {
            if value.is_empty() {
                return Err(format!("{field} is required").into());
            }
            data.insert(field.into(), json!(value));
        }
        "kubernetes.io/basic-auth"
    } else if !ca.is_empty() {
        "Opaque"
    } else {
        return Ok(None);
    };
    if !ca.is_empty() {
        data.insert("ca.crt".into(), json!(ca));
    }
    Ok(Some(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(&format!("helm-{}", args.name), namespace, &args.common)?,
        "type": kind,
        "stringData": data,
    })))
}

/// `spec.verify` of the verification flags (`--verify-provider`,
/// `--verify-secret-ref`, `--verify-issuer`, `--verify-subject`), with
/// upstream's checks.
fn verify_spec(args: &VerifyArgs) -> Result<Option<Value>, Error> {
    let provider = args.verify_provider.as_str();
    let secret = args.verify_secret_ref.as_str();
    let issuer = args.verify_issuer.as_str();
    let subject = args.verify_subject.as_str();
    const PROVIDERS: [&str; 2] = ["cosign", "notation"];
    if provider.is_empty() {
        if !secret.is_empty() {
            return Err(
                "a verification provider must be specified when a secret is specified".into(),
            );
        }
        if !issuer.is_empty() || !subject.is_empty() {
            return Err(
                "a verification provider must be specified when OIDC issuer/subject is specified"
                    .into(),
            );
        }
        return Ok(None);
    }
    if !PROVIDERS.contains(&provider) {
        return Err(format!(
            "invalid argument {provider:?} for \"--verify-provider\" flag: source OCI verify provider '{provider}' is not supported, must be one of: {}",
            PROVIDERS.join(", ")
        )
        .into());
    }
    let mut verify = json!({"provider": provider});
    if !secret.is_empty() {
        verify["secretRef"] = json!({"name": secret});
    }
    if !issuer.is_empty() || !subject.is_empty() {
        verify["matchOIDCIdentity"] = json!([{"issuer": issuer, "subject": subject}]);
    }
    Ok(Some(verify))
}

/// The OCIRepository `flux create source oci` writes.
pub fn oci_repository(namespace: &str, args: &CreateSourceOciArgs) -> Result<Value, Error> {
    if args.url.is_empty() {
        return Err("url is required".into());
    }
    if args.tag_semver.is_empty() && args.tag.is_empty() && args.digest.is_empty() {
        return Err("--tag, --tag-semver or --digest is required".into());
    }
    if !matches!(args.provider.as_str(), "generic" | "aws" | "azure" | "gcp") {
        return Err(format!(
            "invalid argument {:?} for \"--provider\" flag: source OCI provider '{}' is not supported, must be one of: generic|aws|azure|gcp",
            args.provider, args.provider
        )
        .into());
    }
    let mut reference = Map::new();
    for (key, value) in [
        ("digest", &args.digest),
        ("semver", &args.tag_semver),
        ("tag", &args.tag),
    ] {
        if !value.is_empty() {
            reference.insert(key.to_string(), json!(value));
        }
    }
    let mut spec = json!({
        "interval": interval(&args.common.interval)?,
        "provider": args.provider,
        "ref": reference,
        "url": args.url,
    });
    if args.insecure {
        spec["insecure"] = json!(true);
    }
    let ignore: Vec<&str> = args
        .ignore_paths
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if !ignore.is_empty() {
        spec["ignore"] = json!(ignore.join("\n"));
    }
    if !args.layer_selector.is_empty() {
        let (media_type, operation) = args
            .layer_selector
            .split_once(':')
            .filter(|(m, o)| !m.is_empty() && !o.is_empty())
            .ok_or_else(|| {
                Error::from(format!(
                    "invalid --layer-selector {:?}: must be in the format '<media-type>:<operation>'",
                    args.layer_selector
                ))
            })?;
        spec["layerSelector"] = json!({"mediaType": media_type, "operation": operation});
    }
    if let Some(timeout) = fetch_timeout(&args.fetch_timeout)? {
        spec["timeout"] = json!(timeout);
    }
    for (key, value) in [
        ("secretRef", &args.secret_ref),
        ("proxySecretRef", &args.proxy_secret_ref),
        ("certSecretRef", &args.cert_ref),
    ] {
        if !value.is_empty() {
            spec[key] = json!({"name": value});
        }
    }
    if !args.service_account.is_empty() {
        spec["serviceAccountName"] = json!(args.service_account);
    }
    if let Some(verify) = verify_spec(&args.verify)? {
        spec["verify"] = verify;
    }
    Ok(json!({
        "apiVersion": kinds::OCI_REPOSITORY.api_version(),
        "kind": "OCIRepository",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// `[<kind>/]<name>[.<namespace>]` of `--source`.
fn source_ref(text: &str, namespace: &str) -> Result<Value, Error> {
    let (kind, rest) = match text.split_once('/') {
        Some((k, r)) => (k, r),
        None => ("GitRepository", text),
    };
    let kind = ["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(kind))
        .ok_or_else(|| {
            format!(
                "invalid argument {text:?} for \"--source\" flag: source kind '{kind}' is not supported, must be one of: GitRepository, OCIRepository, Bucket"
            )
        })?;
    let (name, ns) = match rest.split_once('.') {
        Some((n, ns)) => (n, Some(ns)),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(format!("invalid argument {text:?} for \"--source\" flag: no name").into());
    }
    let mut reference = json!({"kind": kind, "name": name});
    if let Some(ns) = ns.filter(|ns| *ns != namespace) {
        reference["namespace"] = json!(ns);
    }
    Ok(reference)
}

/// The Kustomization `flux create kustomization` writes.
pub fn kustomization(namespace: &str, args: &CreateKustomizationArgs) -> Result<Value, Error> {
    if !args.path.starts_with("./") {
        return Err("path must begin with ./".into());
    }
    let mut spec = json!({
        "interval": interval(&args.common.interval)?,
        "path": args.path,
        "prune": args.prune,
        "sourceRef": source_ref(&args.source, namespace)?,
    });
    let depends: Vec<Value> = args
        .depends_on
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('/') {
            Some((ns, name)) => json!({"name": name, "namespace": ns}),
            None => json!({"name": d}),
        })
        .collect();
    if !depends.is_empty() {
        spec["dependsOn"] = json!(depends);
    }
    if args.wait {
        spec["wait"] = json!(true);
    }
    // As upstream: health checks only without --wait (which checks
    // everything); either sets the timeout (--health-check-timeout, 2m).
    let mut checks = Vec::new();
    if !args.wait {
        for check in args.health_check.iter().filter(|c| !c.is_empty()) {
            let Some((kind, rest)) = check.split_once('/') else {
                return Err(format!(
                    "invalid health check '{check}' must be in the format 'kind/name.namespace'"
                )
                .into());
            };
            if !["Deployment", "DaemonSet", "StatefulSet", "HelmRelease"].contains(&kind) {
                return Err(format!(
                    "invalid health check kind '{kind}' can be HelmRelease, Deployment, DaemonSet or StatefulSet"
                ).into());
            }
            let Some((name, ns)) = rest.split_once('.').filter(|(_, ns)| !ns.contains('.')) else {
                return Err(format!(
                    "invalid health check '{check}' must be in the format 'kind/name.namespace'"
                )
                .into());
            };
            let mut reference = json!({"kind": kind, "name": name, "namespace": ns});
            if kind == "HelmRelease" {
                reference["apiVersion"] = json!("helm.toolkit.fluxcd.io/v2");
            }
            checks.push(reference);
        }
    }
    if !checks.is_empty() {
        spec["healthChecks"] = json!(checks);
    }
    if !checks.is_empty() || args.wait {
        let timeout = args.health_check_timeout.as_deref().unwrap_or("2m");
        spec["timeout"] = json!(interval(timeout)?);
    }
    if let Some(t) = &args.retry_interval {
        spec["retryInterval"] = json!(interval(t)?);
    }
    if let Some(ns) = args.target_namespace.as_ref().filter(|s| !s.is_empty()) {
        spec["targetNamespace"] = json!(ns);
    }
    if let Some(sa) = args.service_account.as_ref().filter(|s| !s.is_empty()) {
        spec["serviceAccountName"] = json!(sa);
    }
    if let Some(provider) = args.decryption_provider.as_ref().filter(|s| !s.is_empty()) {
        if provider != "sops" {
            return Err(format!(
                "invalid argument \"{provider}\" for \"--decryption-provider\" flag: decryption provider '{provider}' is not supported, must be one of: sops"
            ).into());
        }
        let mut decryption = json!({"provider": provider});
        if let Some(secret) = args.decryption_secret.as_ref().filter(|s| !s.is_empty()) {
            decryption["secretRef"] = json!({"name": secret});
        }
        spec["decryption"] = decryption;
    }
    if let Some(secret) = args
        .kubeconfig_secret_ref
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        spec["kubeConfig"] = json!({"secretRef": {"name": secret}});
    }
    flux_api::crd::sort_keys(&mut spec);
    Ok(json!({
        "apiVersion": kinds::KUSTOMIZATION.api_version(),
        "kind": "Kustomization",
        "metadata": metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// `kind/name.namespace` as flux's `ParseObjectKindNameNamespace` reads
/// it (the namespace is what follows the last dot of the name).
fn kind_name_namespace(input: &str) -> (String, String, String) {
    let (kind, name) = match input.split_once('/') {
        Some((k, n)) => (k.to_string(), n.to_string()),
        None => (String::new(), String::new()),
    };
    match name.rsplit_once('.') {
        Some((n, ns)) => (kind, n.to_string(), ns.to_string()),
        None => (kind, name, String::new()),
    }
}

/// The HelmRelease `flux create helmrelease` writes.
pub fn helm_release(namespace: &str, args: &CreateHelmReleaseArgs) -> Result<Value, Error> {
    const SOURCE_KINDS: [&str; 3] = ["HelmRepository", "GitRepository", "Bucket"];
    const CRD_POLICIES: [&str; 3] = ["Skip", "Create", "CreateReplace"];
    let flag_error = |flag: &str, value: &str, message: String| {
        Error::from(format!(
            "invalid argument {value:?} for \"--{flag}\" flag: {message}"
        ))
    };
    let mut source = None;
    if !args.source.is_empty() {
        if args.source.trim().is_empty() {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "no helm chart source given, please specify source that contains the chart in the format '<kind>/<name>.<namespace>', where kind must be one of: ({})",
                    SOURCE_KINDS.join(", ")
                ),
            ));
        }
        let (kind, name, ns) = kind_name_namespace(&args.source);
        if kind.is_empty() || name.is_empty() {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "invalid helm chart source '{}', must be in format <kind>/<name>",
                    args.source
                ),
            ));
        }
        let Some(kind) = SOURCE_KINDS.iter().find(|k| k.eq_ignore_ascii_case(&kind)) else {
            return Err(flag_error(
                "source",
                &args.source,
                format!(
                    "source kind '{kind}' is not supported, must be one of: {}",
                    SOURCE_KINDS.join(", ")
                ),
            ));
        };
        source = Some((*kind, name, ns));
    }
    if let Some(crds) = &args.crds {
        if crds.trim().is_empty() {
            return Err(flag_error(
                "crds",
                crds,
                format!(
                    "no upgrade CRDs policy given, must be one of: {}",
                    CRD_POLICIES.join(", ")
                ),
            ));
        }
        if !CRD_POLICIES.contains(&crds.as_str()) {
            return Err(flag_error(
                "crds",
                crds,
                format!(
                    "unsupported upgrade CRDs policy '{crds}', must be one of: {}",
                    CRD_POLICIES.join(", ")
                ),
            ));
        }
    }
    let storage_namespace = if args.storage_namespace.is_empty() {
        args.target_namespace.clone()
    } else {
        args.storage_namespace.clone()
    };
    if args.chart.is_empty() && args.chart_ref.is_empty() {
        return Err("chart or chart-ref is required".into());
    }
    if !args.chart.is_empty() && !args.chart_ref.is_empty() {
        return Err("cannot use --chart in combination with --chart-ref".into());
    }
    let metadata = metadata(&args.name, namespace, &args.common)?;
    if !["Revision", "ChartVersion"].contains(&args.reconcile_strategy.as_str()) {
        return Err(format!(
            "'{}' is an invalid reconcile strategy(valid: Revision, ChartVersion)",
            args.reconcile_strategy
        )
        .into());
    }
    let mut spec = json!({"interval": interval(&args.common.interval)?});
    for (key, value) in [
        ("releaseName", &args.release_name),
        ("targetNamespace", &args.target_namespace),
        ("storageNamespace", &storage_namespace),
    ] {
        if !value.is_empty() {
            spec[key] = json!(value);
        }
    }
    let depends: Vec<Value> = args
        .depends_on
        .iter()
        .map(|d| {
            let d = d.split_once('@').map_or(d.as_str(), |(d, _)| d);
            match d.split_once('/') {
                Some((ns, name)) => json!({"name": name, "namespace": ns}),
                None => json!({"name": d}),
            }
        })
        .collect();
    if !depends.is_empty() {
        spec["dependsOn"] = json!(depends);
    }
    if !args.chart.is_empty() {
        let (kind, name, ns) = source.unwrap_or(("", String::new(), String::new()));
        // `kind` and `namespace` are left out when empty, `name` is not (as
        // upstream's API type marshals them).
        let mut source_ref = json!({"name": name});
        if !kind.is_empty() {
            source_ref["kind"] = json!(kind);
        }
        if !ns.is_empty() {
            source_ref["namespace"] = json!(ns);
        }
        let mut chart = json!({
            "chart": args.chart,
            "sourceRef": source_ref,
            "reconcileStrategy": args.reconcile_strategy,
        });
        if !args.chart_version.is_empty() {
            chart["version"] = json!(args.chart_version);
        }
        if let Some(i) = args.chart_interval.as_deref().filter(|i| !i.is_empty()) {
            let parsed = interval(i)?;
            if parsed != "0s" {
                chart["interval"] = json!(parsed);
            }
        }
        spec["chart"] = json!({"spec": chart});
    } else {
        let (kind, name, ns) = kind_name_namespace(&args.chart_ref);
        if kind != "HelmChart" && kind != "OCIRepository" {
            return Err(format!(
                "chart reference kind '{kind}' is not supported, must be one of: OCIRepository, HelmChart"
            )
            .into());
        }
        let mut reference = json!({"kind": kind, "name": name});
        if !ns.is_empty() {
            reference["namespace"] = json!(ns);
        }
        spec["chartRef"] = reference;
    }
    if !args.kubeconfig_secret_ref.is_empty() {
        spec["kubeConfig"] = json!({"secretRef": {"name": args.kubeconfig_secret_ref}});
    }
    if args.create_target_namespace {
        spec["install"] = json!({"createNamespace": true});
    }
    if !args.service_account.is_empty() {
        spec["serviceAccountName"] = json!(args.service_account);
    }
    if let Some(crds) = &args.crds {
        if !spec["install"].is_object() {
            spec["install"] = json!({});
        }
        spec["install"]["crds"] = json!("Create");
        spec["upgrade"] = json!({"crds": crds});
    }
    if !args.values.is_empty() {
        let mut merged = Map::new();
        for file in &args.values {
            let data = std::fs::read(file).map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_string()
                } else {
                    e.to_string()
                };
                format!("reading values from {file} failed: open {file}: {why}")
            })?;
            let read = flux_helm::yaml::read_values(&data)
                .map_err(|e| format!("converting values to JSON from {file} failed: {e}"))?;
            flux_helm::package::merge_maps(&mut merged, read);
        }
        spec["values"] = Value::Object(merged);
    }
    if !args.values_from.is_empty() {
        let mut refs = Vec::new();
        for value in &args.values_from {
            let Some((kind, name)) = value.split_once('/').filter(|(k, _)| !k.is_empty()) else {
                return Err(format!(
                    "invalid Kubernetes object reference '{value}', must be in format <kind>/<name>"
                )
                .into());
            };
            let Some(kind) = ["Secret", "ConfigMap"]
                .iter()
                .find(|k| k.eq_ignore_ascii_case(kind))
            else {
                return Err(format!(
                    "reference kind '{kind}' is not supported, must be one of: Secret, ConfigMap"
                )
                .into());
            };
            refs.push(json!({"kind": kind, "name": name}));
        }
        spec["valuesFrom"] = json!(refs);
    }
    Ok(json!({
        "apiVersion": kinds::HELM_RELEASE.api_version(),
        "kind": "HelmRelease",
        "metadata": metadata,
        "spec": spec,
    }))
}

async fn finish(
    ctx: Option<&Ctx>,
    kind: &Kind,
    common: &CreateCommon,
    object: Value,
    noun: &str,
) -> Result<(), Error> {
    finish_with(ctx, kind, common, object, noun, None).await
}

/// [`finish`], applying `secret` (the credentials the flags gave) before
/// the object; `--export` prints the object only, as upstream's.
async fn finish_with(
    ctx: Option<&Ctx>,
    kind: &Kind,
    common: &CreateCommon,
    mut object: Value,
    noun: &str,
    secret: Option<(Value, &str)>,
) -> Result<(), Error> {
    flux_api::crd::sort_keys(&mut object["spec"]);
    if common.export {
        if secret.is_some()
            && let Some(spec) = object["spec"].as_object_mut()
        {
            // The Secret is not exported, nor referenced.
            spec.remove("secretRef");
        }
        output::print(&to_yaml(&[object])?);
        return Ok(());
    }
    let ctx = ctx.ok_or("no cluster connection")?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&ctx.namespace)
        .to_string();
    output::generate(format!("generating {noun}"));
    if let Some((secret, what)) = secret {
        output::action(format!("applying secret with {what}"));
        apply_secret(ctx, &secret).await?;
        output::success("authentication configured");
    }
    output::action(format!("applying {noun}"));
    let api = ctx.api(kind, Some(&namespace));
    let existed = api
        .get_opt(&name)
        .await
        .map_err(|e| describe(&e))?
        .is_some();
    let applied = apply(&api, &name, &object).await?;
    output::success(format!(
        "{noun} {}",
        if existed { "updated" } else { "created" }
    ));
    output::waiting(format!("waiting for {noun} reconciliation"));
    let _ = applied;
    let ready = reconcile::wait_ready(ctx, kind, &namespace, &name).await?;
    output::success(format!("{noun} reconciliation completed"));
    let revision = kind.revision(&ready);
    if kind.kind == "Kustomization" {
        output::success(format!("applied revision {revision}"));
    } else {
        output::success(format!("fetched revision: {revision}"));
    }
    Ok(())
}

async fn apply(
    api: &Api<DynamicObject>,
    name: &str,
    object: &Value,
) -> Result<DynamicObject, Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| Error::from(describe(&e)))
}

/// The Secret `flux create secret git` writes (values in `stringData`).
pub fn git_secret(namespace: &str, args: &CreateSecretGitArgs) -> Result<Value, Error> {
    let mut data = BTreeMap::new();
    if flux_git::is_ssh(&args.url) {
        let (private, public) = match &args.private_key_file {
            Some(path) => read_private_key(path)?,
            None => {
                let pair =
                    flux_git::generate_ssh_key(&args.ssh_key_algorithm, &args.ssh_ecdsa_curve)
                        .map_err(|e| e.to_string())?;
                output::success(format!("deploy key: {}", pair.public_key));
                (pair.private_key, format!("{}\n", pair.public_key))
            }
        };
        data.insert("identity".to_string(), private);
        data.insert("identity.pub".to_string(), public);
        let known_hosts = match &args.known_hosts_file {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| format!("unable to read known_hosts file '{file}': {e}"))?,
            None => format!(
                "{}\n",
                flux_git::scan_known_hosts(&args.url).map_err(|e| e.to_string())?
            ),
        };
        data.insert("known_hosts".to_string(), known_hosts);
    } else if args.url.starts_with("http://") || args.url.starts_with("https://") {
        match (&args.username, &args.password, &args.bearer_token) {
            (_, _, Some(token)) => {
                data.insert("bearerToken".to_string(), token.clone());
            }
            (Some(user), Some(password), None) => {
                data.insert("username".to_string(), user.clone());
                data.insert("password".to_string(), password.clone());
            }
            _ => {
                return Err(
                    "for HTTP(S) URLs, --username and --password (or --bearer-token) are required"
                        .into(),
                );
            }
        }
        if let Some(file) = &args.ca_crt_file {
            let ca = std::fs::read_to_string(file)
                .map_err(|e| format!("unable to read TLS CA file '{file}': {e}"))?;
            data.insert("ca.crt".to_string(), ca);
        }
    } else {
        return Err("git URL scheme must be one of http, https or ssh".into());
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": args.name, "namespace": namespace},
        "stringData": data,
    }))
}

/// A private key file and its public key in OpenSSH format.
pub fn read_private_key(path: &str) -> Result<(String, String), Error> {
    let private = std::fs::read_to_string(path)
        .map_err(|e| format!("unable to read private key file '{path}': {e}"))?;
    let public = flux_git::public_key_of(&private).map_err(|e| format!("{path}: {e}"))?;
    Ok((private, format!("{public}\n")))
}

/// Creates or updates a Secret (server-side apply).
pub async fn apply_secret(ctx: &Ctx, secret: &Value) -> Result<(), Error> {
    let name = secret["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = secret["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&ctx.namespace);
    let api: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(ctx.client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(secret))
        .await
        .map_err(|e| format!("applying secret {namespace}/{name}: {}", describe(&e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::CreateCommon;

    fn helm_args(name: &str) -> CreateSourceHelmArgs {
        CreateSourceHelmArgs {
            name: name.to_string(),
            common: CreateCommon {
                export: false,
                interval: "1m0s".to_string(),
                labels: Vec::new(),
            },
            url: "https://charts.example.com".to_string(),
            username: String::new(),
            password: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            ca_file: String::new(),
            secret_ref: String::new(),
            pass_credentials: false,
            oci_provider: String::new(),
            fetch_timeout: "0s".to_string(),
        }
    }

    /// The `helm-<name>` Secret follows upstream's priority: a client pair
    /// (with the CA) over basic credentials (with the CA) over the CA.
    #[test]
    fn helm_secrets_take_upstreams_shape() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{name} pem")).unwrap();
            path.display().to_string()
        };
        let mut args = helm_args("web");
        assert_eq!(helm_secret("flux-system", &args).unwrap(), None);
        args.username = "u".into();
        args.password = "p".into();
        args.ca_file = file("ca.crt");
        let secret = helm_secret("flux-system", &args).unwrap().unwrap();
        assert_eq!(secret["metadata"]["name"], "helm-web");
        assert_eq!(secret["type"], "kubernetes.io/basic-auth");
        assert_eq!(
            secret["stringData"],
            json!({"username": "u", "password": "p", "ca.crt": "ca.crt pem"})
        );
        args.cert_file = file("tls.crt");
        args.key_file = file("tls.key");
        let secret = helm_secret("flux-system", &args).unwrap().unwrap();
        assert_eq!(secret["type"], "kubernetes.io/tls");
        assert_eq!(
            secret["stringData"],
            json!({"tls.crt": "tls.crt pem", "tls.key": "tls.key pem", "ca.crt": "ca.crt pem"})
        );
        let mut ca_only = helm_args("web");
        ca_only.ca_file = file("ca.crt");
        let secret = helm_secret("flux-system", &ca_only).unwrap().unwrap();
        assert_eq!(secret["type"], "Opaque");
        let mut half = helm_args("web");
        half.username = "u".into();
        assert_eq!(
            helm_secret("flux-system", &half).unwrap_err().to_string(),
            "password is required"
        );
        let mut missing = helm_args("web");
        missing.ca_file = dir.path().join("none").display().to_string();
        assert!(
            helm_secret("flux-system", &missing)
                .unwrap_err()
                .to_string()
                .starts_with("unable to read TLS CA file: ")
        );
        let mut referenced = args;
        referenced.secret_ref = "existing".into();
        assert_eq!(helm_secret("flux-system", &referenced).unwrap(), None);
    }
}
