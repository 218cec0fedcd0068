//! The chart of a HelmRelease: the HelmChart generated from `spec.chart`
//! (server-side applied as upstream's `HelmChartTemplate` reconciler
//! does), or the source `spec.chartRef` names (OCIRepository, HelmChart,
//! ExternalArtifact); its readiness in upstream's words; the artifact
//! downloaded, its digest verified, and loaded as a chart, with OCI digest
//! tracking (`6.6.1+0cc9a8446c95`).

use flux_api::helm::v2::{ChartRefKind, HelmRelease};
use flux_api::meta::{Artifact, condition_type};
use flux_runtime::StepError;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value as Json, json};

use crate::postrender::{NAME_LABEL, NAMESPACE_LABEL};

/// Ready reasons of this step.
pub mod reason {
    /// The source object could not be read, or its artifact not loaded.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The source has no artifact of its current generation.
    pub const SOURCE_NOT_READY: &str = "SourceNotReady";
    /// The chart version does not match the OCI tag.
    pub const CHART_MUTATE_ERROR: &str = "ChartMutateError";
    /// A cross-namespace reference was refused.
    pub const ACCESS_DENIED: &str = "AccessDenied";
}

/// The source of the chart: kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRef {
    /// `HelmChart`, `OCIRepository`, `ExternalArtifact`.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl SourceRef {
    /// `ns/name`
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The name of the HelmChart generated for `hr`: `<namespace>-<name>`.
pub fn helm_chart_name(hr: &HelmRelease) -> String {
    format!("{}-{}", hr.namespace().unwrap_or_default(), hr.name_any())
}

/// The chart source of `hr`.
pub fn source_ref(hr: &HelmRelease) -> Option<SourceRef> {
    let own = hr.namespace().unwrap_or_default();
    if let Some(r) = &hr.spec.chart_ref {
        let kind = match r.kind {
            ChartRefKind::OciRepository => "OCIRepository",
            ChartRefKind::HelmChart => "HelmChart",
            ChartRefKind::ExternalArtifact => "ExternalArtifact",
        };
        return Some(SourceRef {
            kind,
            namespace: r.namespace.clone().unwrap_or(own),
            name: r.name.clone(),
        });
    }
    hr.spec.chart.as_ref().map(|c| SourceRef {
        kind: "HelmChart",
        namespace: c.spec.source_ref.namespace.clone().unwrap_or(own),
        name: helm_chart_name(hr),
    })
}

fn api_for(client: &Client, source: &SourceRef) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        source.kind,
    ));
    Api::namespaced_with(client.clone(), &source.namespace, &resource)
}

/// What the HelmChart template step did (for the trace event).
pub enum TemplateResult {
    /// Nothing to do (`chartRef`).
    None,
    /// Applied: `created`/`configured`/`unchanged`, with the event message
    /// and the HelmChart as the write returned it.
    Applied(&'static str, String, Option<Json>),
}

/// Applies the HelmChart of `spec.chart` (or deletes the one a switch to
/// `chartRef`, or to another name, left behind); sets
/// `status.helmChart`.
pub async fn reconcile_template(
    client: &Client,
    hr: &HelmRelease,
    status_helm_chart: &mut Option<String>,
    known: Option<&crate::steady::KnownSource>,
) -> Result<TemplateResult, StepError> {
    let target = hr.spec.chart.as_ref().map(|_| {
        let s = source_ref(hr).unwrap_or(SourceRef {
            kind: "HelmChart",
            namespace: String::new(),
            name: String::new(),
        });
        s.id()
    });
    if let Some(current) = status_helm_chart.clone()
        && target.as_ref() != Some(&current)
    {
        delete_chart(client, &current).await?;
        *status_helm_chart = None;
    }
    let Some((source, object)) = template(hr) else {
        return Ok(TemplateResult::None);
    };
    // The HelmChart as its watch last saw it already matches: nothing to
    // apply (upstream compares with its cached copy too).
    if status_helm_chart.as_deref() == Some(source.id().as_str())
        && crate::steady::template_matches(hr, known)
    {
        return Ok(TemplateResult::Applied("unchanged", String::new(), None));
    }
    let (namespace, name) = (source.namespace.clone(), source.name.clone());
    let source_name = hr
        .spec
        .chart
        .as_ref()
        .map(|t| t.spec.source_ref.name.clone())
        .unwrap_or_default();
    let source_kind = object
        .pointer("/spec/sourceRef/kind")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let api = api_for(client, &source);
    // What was there before: the watch's copy when it has one (it differs
    // from the template, or this write would not happen), none when the
    // status names no HelmChart and the watch knows none; read otherwise.
    enum Before {
        Known {
            matches: bool,
        },
        New,
        /// Read: absent (`None`), or its `resourceVersion`.
        Read(Option<Option<String>>),
    }
    let before = match (known, status_helm_chart.as_deref()) {
        (Some(_), _) => Before::Known {
            matches: crate::steady::template_matches(hr, known),
        },
        (None, None) => Before::New,
        (None, Some(_)) => Before::Read(
            api.get_opt(&name)
                .await
                .map_err(|e| sync_error(&e))?
                .map(|b| b.metadata.resource_version),
        ),
    };
    let params = PatchParams::apply(crate::CONTROLLER_NAME).force();
    let after = api
        .patch(&name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| sync_error(&e))?;
    *status_helm_chart = Some(source.id());
    let subject = format!("HelmChart/{namespace}/{name}");
    let action = match before {
        Before::Known { matches: true } => "unchanged",
        Before::Known { matches: false } => "configured",
        Before::New if after.metadata.generation == Some(1) => "created",
        Before::New => "configured",
        Before::Read(None) => "created",
        Before::Read(Some(version)) if version != after.metadata.resource_version => "configured",
        Before::Read(Some(_)) => "unchanged",
    };
    let message =
        format!("{action} {subject} with SourceRef '{source_kind}/{namespace}/{source_name}'");
    Ok(TemplateResult::Applied(
        action,
        message,
        serde_json::to_value(&after).ok(),
    ))
}

/// The HelmChart `spec.chart` asks for, as server-side applied: its source
/// reference and the applied object (`None` for `chartRef`).
pub fn template(hr: &HelmRelease) -> Option<(SourceRef, Json)> {
    let template = hr.spec.chart.as_ref()?;
    let own = hr.namespace().unwrap_or_default();
    let namespace = template
        .spec
        .source_ref
        .namespace
        .clone()
        .unwrap_or_else(|| own.clone());
    let name = helm_chart_name(hr);
    let mut spec = serde_json::Map::new();
    spec.insert("chart".into(), json!(template.spec.chart));
    if let Some(v) = &template.spec.version {
        spec.insert("version".into(), json!(v));
    }
    let kind = serde_json::to_value(template.spec.source_ref.kind).unwrap_or(Json::Null);
    spec.insert(
        "sourceRef".into(),
        json!({"kind": kind, "name": template.spec.source_ref.name}),
    );
    spec.insert(
        "interval".into(),
        json!(
            template
                .spec
                .interval
                .clone()
                .unwrap_or_else(|| hr.spec.interval.clone())
        ),
    );
    if let Some(s) = &template.spec.reconcile_strategy {
        spec.insert(
            "reconcileStrategy".into(),
            serde_json::to_value(s).unwrap_or(Json::Null),
        );
    }
    if !template.spec.values_files.is_empty() {
        spec.insert("valuesFiles".into(), json!(template.spec.values_files));
    }
    if let Some(i) = template.spec.ignore_missing_values_files {
        spec.insert("ignoreMissingValuesFiles".into(), json!(i));
    }
    if let Some(v) = &template.spec.verify {
        spec.insert(
            "verify".into(),
            serde_json::to_value(v).unwrap_or(Json::Null),
        );
    }
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(NAME_LABEL.to_string(), hr.name_any());
    labels.insert(NAMESPACE_LABEL.to_string(), own.clone());
    let mut metadata = json!({"name": name, "namespace": namespace, "labels": labels});
    if let Some(a) = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
    {
        metadata["annotations"] = json!(a);
    }
    let object = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": metadata,
        "spec": spec,
    });
    let source = SourceRef {
        kind: "HelmChart",
        namespace,
        name,
    };
    Some((source, object))
}

fn sync_error(e: &kube::Error) -> StepError {
    StepError::retry(
        "HelmChartSyncErr",
        format!(
            "failed to run server-side apply: {}",
            flux_runtime::ssa::kube_message(e)
        ),
    )
}

/// Deletes the generated HelmChart `ns/name` (gone already is fine).
pub async fn delete_chart(client: &Client, id: &str) -> Result<(), StepError> {
    let Some((namespace, name)) = id.split_once('/') else {
        return Ok(());
    };
    let source = SourceRef {
        kind: "HelmChart",
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    match api_for(client, &source)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(StepError::retry(
            "HelmChartSyncErr",
            format!(
                "failed to delete HelmChart '{id}': {}",
                flux_runtime::ssa::kube_message(&e)
            ),
        )),
    }
}

/// The source's artifact when it is ready (upstream's `isSourceReady`).
pub async fn ready_artifact(
    client: &Client,
    hr: &HelmRelease,
    no_cross_namespace_refs: bool,
    requeue: std::time::Duration,
    known: Option<&crate::steady::KnownSource>,
    written: bool,
) -> Result<(SourceRef, Artifact), StepError> {
    let source = source_ref(hr)
        .ok_or_else(|| StepError::stall("InvalidChartReference", "invalid Chart reference"))?;
    if no_cross_namespace_refs && source.namespace != hr.namespace().unwrap_or_default() {
        return Err(StepError::stall(
            reason::ACCESS_DENIED,
            format!(
                "cannot access {}/{}, cross-namespace references have been disabled",
                source.kind,
                source.id()
            ),
        ));
    }
    let not_ready = |why: &str| {
        StepError::wait(
            reason::SOURCE_NOT_READY,
            format!("{} '{}' is not ready: {why}", source.kind, source.id()),
            requeue,
        )
        .without_event()
    };
    // Ready as its watch last saw it (seen before the event that started
    // this reconciliation), or as the write of its template just returned
    // it (`written`: not ready then means not ready now); read otherwise.
    match known.map(|k| &k.usable) {
        Some(Ok(artifact)) => return Ok((source.clone(), artifact.clone())),
        Some(Err(why)) if written => return Err(not_ready(why)),
        _ => {}
    }
    let object = api_for(client, &source)
        .get(&source.name)
        .await
        .map_err(|e| {
            StepError::retry(
                reason::ARTIFACT_FAILED,
                format!(
                    "could not get Source object: {}",
                    flux_runtime::ssa::kube_message(&e)
                ),
            )
        })?;
    let status = object.data.get("status").cloned().unwrap_or(Json::Null);
    usable(source.kind, object.metadata.generation, &status)
        .map(|artifact| (source.clone(), artifact))
        .map_err(|why| not_ready(&why))
}

/// The artifact of a source of `kind` at `generation` with `status` when
/// it is ready (upstream's `isSourceReady`), else why not.
pub fn usable(kind: &str, generation: Option<i64>, status: &Json) -> Result<Artifact, String> {
    let artifact = status
        .get("artifact")
        .cloned()
        .and_then(|a| serde_json::from_value::<Artifact>(a).ok());
    let none = || "does not have an artifact".to_string();
    if kind == "ExternalArtifact" {
        return artifact.ok_or_else(none);
    }
    let conditions = status
        .get("conditions")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let condition = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.get("type").and_then(Json::as_str) == Some(kind))
            .cloned()
    };
    let field = |c: &Option<Json>, f: &str| {
        c.as_ref()
            .and_then(|c| c.get(f))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let observed = status.get("observedGeneration").and_then(Json::as_i64);
    let ready = condition(condition_type::READY);
    let stalled = condition(condition_type::STALLED);
    if generation != observed {
        return Err(if field(&ready, "status") == "False" {
            field(&ready, "message")
        } else {
            "latest generation of object has not been reconciled".to_string()
        });
    }
    if field(&stalled, "status") == "True" {
        return Err(field(&stalled, "message"));
    }
    artifact.ok_or_else(none)
}

/// The largest chart archive accepted.
pub const MAX_CHART_BYTES: u64 = 100 << 20;

/// Downloads and loads the chart of `artifact`.
pub async fn load(
    artifact: &Artifact,
    requeue: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<flux_helm::Chart, StepError> {
    let fail = |m: String| {
        StepError::retry(
            reason::ARTIFACT_FAILED,
            format!("Could not load chart: {m}"),
        )
        .with_event_message(m)
    };
    let url = rewrite_localhost(&artifact.url);
    let body = match flux_runtime::artifact::fetch(&url, MAX_CHART_BYTES, timeout).await {
        Ok(b) => b,
        Err(flux_runtime::artifact::FetchError::NotFound) => {
            return Err(StepError::wait(
                reason::ARTIFACT_FAILED,
                format!(
                    "Source not ready: artifact not found. Retrying in {}",
                    flux_runtime::format_duration(requeue)
                ),
                requeue,
            )
            .without_event());
        }
        Err(e) => return Err(fail(e.to_string())),
    };
    let expected: flux_artifact::Digest = artifact
        .digest
        .parse()
        .map_err(|e: flux_artifact::Error| fail(e.to_string()))?;
    let actual = flux_artifact::Digest::of(&body);
    if actual != expected {
        return Err(fail(format!(
            "failed to verify artifact: computed digest doesn't match '{}'",
            artifact.digest
        )));
    }
    tokio::task::spawn_blocking(move || flux_helm::Chart::load_archive(&body))
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))
}

/// `SOURCE_CONTROLLER_LOCALHOST`: the host artifacts are fetched from
/// instead of the one in their URL (upstream's override for running the
/// controller outside the cluster).
fn rewrite_localhost(url: &str) -> String {
    let Ok(host) = std::env::var("SOURCE_CONTROLLER_LOCALHOST") else {
        return url.to_string();
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("{scheme}://{host}{path}")
}

/// OCI digest tracking (upstream's `mutateChartWithSourceRevision`): for an
/// OCIRepository (or an ExternalArtifact whose revision has a digest) the
/// chart version gains the first 12 hex digits of the digest as build
/// metadata, and the digest is returned; a semver tag must equal the chart
/// version.
pub fn track_digest(
    chart: &mut flux_helm::Chart,
    source: &SourceRef,
    revision: &str,
    track: bool,
) -> Result<Option<String>, StepError> {
    let with_digest = source.kind == "OCIRepository"
        || (source.kind == "ExternalArtifact" && revision.contains(':'));
    if !with_digest {
        return Ok(None);
    }
    let mutate = |m: String| StepError::retry(reason::CHART_MUTATE_ERROR, m).without_event();
    let version: flux_semver::Version = chart
        .metadata
        .version
        .parse()
        .map_err(|_| mutate(format!("invalid chart version {}", chart.metadata.version)))?;
    let short = |digest: &str| -> Result<String, StepError> {
        let parts: Vec<&str> = digest.split(':').collect();
        match parts.as_slice() {
            [_, sha] if sha.len() >= 12 => Ok(sha[..12].to_string()),
            _ => Err(mutate(format!("invalid artifact revision {revision}"))),
        }
    };
    let tag = revision.split_once('@').map(|(t, _)| t.replace('_', "+"));
    let tag_version = tag
        .as_deref()
        .and_then(|t| t.parse::<flux_semver::Version>().ok());
    let digest = match tag_version {
        Some(tag_version) => {
            let pair: Vec<&str> = revision.split('@').collect();
            if pair.len() != 2 || tag_version != version {
                return Err(mutate(format!(
                    "artifact revision {} does not match chart version {}",
                    pair[0], chart.metadata.version
                )));
            }
            pair[1].to_string()
        }
        None => revision.to_string(),
    };
    let sha = short(&digest)?;
    let tracked = version
        .with_metadata(&sha)
        .map_err(|e| mutate(e.to_string()))?;
    if track {
        chart.metadata.version = tracked.to_string();
    }
    Ok(Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(version: &str) -> flux_helm::Chart {
        let mut c = flux_helm::Chart::default();
        c.metadata.name = "podinfo".into();
        c.metadata.version = version.into();
        c
    }

    #[test]
    fn oci_digest_tracking() {
        let oci = SourceRef {
            kind: "OCIRepository",
            namespace: "a".into(),
            name: "b".into(),
        };
        let digest = "sha256:0cc9a8446c95009ef382f5eade883a67c257f77d50f84e78ecef2aac9428d1e5";
        let mut c = chart("6.6.1");
        let d = track_digest(&mut c, &oci, &format!("6.6.1@{digest}"), true).unwrap();
        assert_eq!(d.as_deref(), Some(digest));
        assert_eq!(c.metadata.version, "6.6.1+0cc9a8446c95");
        // `_` stands for `+` in an OCI tag.
        let mut c = chart("1.0.0+build");
        track_digest(&mut c, &oci, &format!("1.0.0_build@{digest}"), true).unwrap();
        assert_eq!(c.metadata.version, "1.0.0+0cc9a8446c95");
        let mut c = chart("6.6.2");
        let e = track_digest(&mut c, &oci, &format!("6.6.1@{digest}"), true).unwrap_err();
        assert_eq!(
            e.message,
            "artifact revision 6.6.1 does not match chart version 6.6.2"
        );
        // A non-semver tag, or a bare digest: the digest is tracked.
        let mut c = chart("6.6.1");
        track_digest(&mut c, &oci, &format!("latest@{digest}"), true).unwrap();
        assert_eq!(c.metadata.version, "6.6.1+0cc9a8446c95");
        let helm = SourceRef {
            kind: "HelmChart",
            ..oci
        };
        let mut c = chart("6.6.1");
        assert_eq!(track_digest(&mut c, &helm, "6.6.1", true).unwrap(), None);
        assert_eq!(c.metadata.version, "6.6.1");
    }
}
