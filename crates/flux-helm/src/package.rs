//! Writing a chart archive as Helm's `chartutil.Save` writes it (what
//! `helm package` and the source controller's chart packaging produce):
//! a gzipped tarball (Go's default level, Helm's `Extra` header and the
//! `Helm` comment) of `<name>/Chart.yaml` — re-marshalled from the
//! metadata, keys sorted as `sigs.k8s.io/yaml` writes them, a v1 chart's
//! dependencies left out — `Chart.lock` (v2), `values.yaml` as written,
//! `values.schema.json` (valid JSON required), templates, files, then the
//! subcharts as folders under `charts/`, every entry mode 0644.
//!
//! Also the values handling of the source controller's packaging: merging
//! values files (`MergeMaps`) and replacing a chart's default values.

use serde_json::{Map, Value as Json, json};

use crate::chart::{Chart, Dependency, Error, Metadata};
use crate::yaml;

/// The `Extra` field Helm writes into every chart archive's gzip header.
pub const HELM_GZIP_EXTRA: &[u8] = b"+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=";

/// The archive of `chart`, its entries dated `mtime` (seconds since the
/// epoch; Helm uses the time of packaging).
pub fn package(chart: &Chart, mtime: u64) -> Result<Vec<u8>, Error> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    contents(chart, "", &mut files, 0)?;
    let borrowed: Vec<(String, &[u8])> = files
        .iter()
        .map(|(name, data)| (name.clone(), data.as_slice()))
        .collect();
    let mut out = Vec::new();
    flux_artifact::gotar::write_files(
        &borrowed,
        0o644,
        mtime,
        flux_artifact::gotar::GzipHeader {
            extra: Some(HELM_GZIP_EXTRA),
            comment: Some("Helm"),
        },
        &mut out,
    )
    .map_err(|e| Error(format!("failed to package chart: {e}")))?;
    Ok(out)
}

/// The archive's file name: `<name>-<version>.tgz`.
pub fn file_name(chart: &Chart) -> String {
    format!("{}-{}.tgz", chart.name(), chart.metadata.version)
}

fn contents(
    chart: &Chart,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<(), Error> {
    if depth > crate::chart::MAX_DEPTH {
        return Err(Error("subcharts nest too deep to package".to_string()));
    }
    let name = chart.name();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error(format!(
            "chart name {name:?} is invalid: it must be a base name"
        )));
    }
    let base = if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    };
    let v1 = chart.metadata.api_version == "v1";
    let chart_yaml = marshal(&metadata_json(&chart.metadata, !v1))?;
    out.push((format!("{base}/Chart.yaml"), chart_yaml.into_bytes()));
    if !v1 && let Some(lock) = &chart.lock {
        out.push((format!("{base}/Chart.lock"), lock.raw.clone()));
    }
    if let Some(values) = &chart.raw_values {
        out.push((format!("{base}/values.yaml"), values.clone()));
    }
    if let Some(schema) = &chart.schema {
        if serde_json::from_slice::<serde::de::IgnoredAny>(schema).is_err() {
            return Err(Error("Invalid JSON in values.schema.json".to_string()));
        }
        out.push((format!("{base}/values.schema.json"), schema.clone()));
    }
    for f in chart.templates.iter().chain(&chart.files) {
        out.push((format!("{base}/{}", f.name), f.data.clone()));
    }
    for dep in &chart.dependencies {
        contents(dep, &format!("{base}/charts"), out, depth + 1)?;
    }
    Ok(())
}

fn marshal(value: &Json) -> Result<String, Error> {
    yaml::marshal(&yaml::to_value(value))
        .ok_or_else(|| Error("failed to marshal chart metadata".to_string()))
}

/// Helm's `Metadata` as `encoding/json` writes it (every field
/// `omitempty`); `dependencies` only when `with_dependencies`.
fn metadata_json(md: &Metadata, with_dependencies: bool) -> Json {
    let mut m = Map::new();
    let text = |m: &mut Map<String, Json>, key: &str, value: &str| {
        if !value.is_empty() {
            m.insert(key.to_string(), json!(value));
        }
    };
    text(&mut m, "name", &md.name);
    text(&mut m, "home", &md.home);
    if !md.sources.is_empty() {
        m.insert("sources".into(), json!(md.sources));
    }
    text(&mut m, "version", &md.version);
    text(&mut m, "description", &md.description);
    if !md.keywords.is_empty() {
        m.insert("keywords".into(), json!(md.keywords));
    }
    if !md.maintainers.is_empty() {
        let list: Vec<Json> = md
            .maintainers
            .iter()
            .map(|maintainer| match maintainer {
                None => Json::Null,
                Some(x) => {
                    let mut o = Map::new();
                    text(&mut o, "name", &x.name);
                    text(&mut o, "email", &x.email);
                    text(&mut o, "url", &x.url);
                    Json::Object(o)
                }
            })
            .collect();
        m.insert("maintainers".into(), Json::Array(list));
    }
    text(&mut m, "icon", &md.icon);
    text(&mut m, "apiVersion", &md.api_version);
    text(&mut m, "condition", &md.condition);
    text(&mut m, "tags", &md.tags);
    text(&mut m, "appVersion", &md.app_version);
    if md.deprecated {
        m.insert("deprecated".into(), json!(true));
    }
    if let Some(annotations) = md.annotations.as_ref().filter(|a| !a.is_empty()) {
        m.insert("annotations".into(), json!(annotations));
    }
    text(&mut m, "kubeVersion", &md.kube_version);
    if with_dependencies && let Some(deps) = md.dependencies.as_ref().filter(|d| !d.is_empty()) {
        let list: Vec<Json> = deps
            .iter()
            .map(|d| d.as_ref().map_or(Json::Null, dependency_json))
            .collect();
        m.insert("dependencies".into(), Json::Array(list));
    }
    text(&mut m, "type", &md.chart_type);
    Json::Object(m)
}

fn dependency_json(d: &Dependency) -> Json {
    let mut m = Map::new();
    m.insert("name".into(), json!(d.name));
    if !d.version.is_empty() {
        m.insert("version".into(), json!(d.version));
    }
    m.insert("repository".into(), json!(d.repository));
    if !d.condition.is_empty() {
        m.insert("condition".into(), json!(d.condition));
    }
    if !d.tags.is_empty() {
        m.insert("tags".into(), json!(d.tags));
    }
    if d.enabled {
        m.insert("enabled".into(), json!(true));
    }
    if !d.import_values.is_empty() {
        m.insert("import-values".into(), json!(d.import_values));
    }
    if !d.alias.is_empty() {
        m.insert("alias".into(), json!(d.alias));
    }
    Json::Object(m)
}

/// `MergeMaps` of Flux's chart packaging: `b` over `a`, maps merged
/// recursively, anything else replaced.
pub fn merge_maps(a: &mut Map<String, Json>, b: Map<String, Json>) {
    for (key, value) in b {
        match (a.get_mut(&key), value) {
            (Some(Json::Object(left)), Json::Object(right)) => merge_maps(left, right),
            (_, value) => {
                a.insert(key, value);
            }
        }
    }
}

/// Replaces the chart's default values with `values` (written as
/// `sigs.k8s.io/yaml` writes them, nothing for an empty map): false when
/// the file already holds exactly that; an error for a chart without
/// `values.yaml` (Flux's `OverwriteChartDefaultValues`).
pub fn overwrite_default_values(
    chart: &mut Chart,
    values: Map<String, Json>,
) -> Result<bool, Error> {
    let encoded = if values.is_empty() {
        Vec::new()
    } else {
        marshal(&Json::Object(values.clone()))?.into_bytes()
    };
    let Some(raw) = &chart.raw_values else {
        return Err(Error(
            "failed to locate values file: values.yaml".to_string(),
        ));
    };
    if *raw == encoded {
        return Ok(false);
    }
    chart.raw_values = Some(encoded);
    chart.values = values;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_written_as_helm_marshals_it() {
        let chart = Chart::load_archive(&package_of(
            "apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: \"1.16\"\ndescription: d\ndependencies:\n- name: db\n  version: 1.x\n  repository: file://../db\n  alias: store\n",
        ))
        .unwrap();
        let text = marshal(&metadata_json(&chart.metadata, true)).unwrap();
        assert_eq!(
            text,
            "apiVersion: v2\nappVersion: \"1.16\"\ndependencies:\n- alias: store\n  name: db\n  repository: file://../db\n  version: 1.x\ndescription: d\nname: web\nversion: 1.0.0\n"
        );
    }

    fn package_of(chart_yaml: &str) -> Vec<u8> {
        let mut c = Chart::default();
        c.metadata.name = "web".into();
        c.metadata.version = "1.0.0".into();
        c.metadata.api_version = "v2".into();
        let mut files = vec![("web/Chart.yaml".to_string(), chart_yaml.as_bytes())];
        files.push(("web/values.yaml".to_string(), b"a: 1\n"));
        let mut out = Vec::new();
        flux_artifact::gotar::write_files(
            &files,
            0o644,
            0,
            flux_artifact::gotar::GzipHeader::default(),
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn maps_merge_deeply_and_values_are_replaced() {
        let mut a =
            serde_json::from_str::<Map<String, Json>>(r#"{"x":{"y":1,"z":[1]},"k":"v"}"#).unwrap();
        let b =
            serde_json::from_str::<Map<String, Json>>(r#"{"x":{"z":[2],"w":true},"k":{"n":1}}"#)
                .unwrap();
        merge_maps(&mut a, b);
        assert_eq!(
            Json::Object(a.clone()).to_string(),
            r#"{"x":{"y":1,"z":[2],"w":true},"k":{"n":1}}"#
        );
        let mut chart =
            Chart::load_archive(&package_of("apiVersion: v2\nname: web\nversion: 1.0.0\n"))
                .unwrap();
        assert!(overwrite_default_values(&mut chart, a).unwrap());
        assert_eq!(
            String::from_utf8(chart.raw_values.clone().unwrap()).unwrap(),
            "k:\n  \"n\": 1\nx:\n  w: true\n  \"y\": 1\n  z:\n  - 2\n"
        );
        let same = chart.values.clone();
        assert!(!overwrite_default_values(&mut chart, same).unwrap());
    }
}
