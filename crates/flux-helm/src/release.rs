//! Helm's release records (`pkg/release`, `pkg/storage/driver`): the
//! release object as Helm v3 marshals it (struct fields in Go's order,
//! map keys sorted, Go's string escaping and number spelling), gzip
//! (best compression) + base64, stored in a Secret named
//! `sh.helm.release.v1.NAME.vN` of type `helm.sh/release.v1` with the
//! labels `name`, `owner=helm`, `status`, `version`. Records written by
//! `helm install` decode here; records written here are read by `helm
//! list`, `helm history`, `helm get` and `helm rollback` (tested with the
//! real binary against a real API server).
//!
//! Pure: building the Secret is left to the caller's client.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use flux_gotemplate::Value;
use serde_json::{Map, Value as Json};

use crate::chart::{Chart, File, Metadata};
use crate::manifest::Hook;

/// The Secret type of Helm v3 release records.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The prefix of release Secret names.
pub const STORAGE_PREFIX: &str = "sh.helm.release.v1";
/// Decompressed size a record may have.
pub const MAX_RECORD_SIZE: u64 = 64 << 20;

/// A release status (`helm list`'s STATUS column).
pub mod status {
    /// Installed or upgraded and current.
    pub const DEPLOYED: &str = "deployed";
    /// Replaced by a later revision.
    pub const SUPERSEDED: &str = "superseded";
    /// The install or upgrade failed.
    pub const FAILED: &str = "failed";
    /// Install in progress.
    pub const PENDING_INSTALL: &str = "pending-install";
    /// Upgrade in progress.
    pub const PENDING_UPGRADE: &str = "pending-upgrade";
    /// Rollback in progress.
    pub const PENDING_ROLLBACK: &str = "pending-rollback";
    /// Uninstall in progress.
    pub const UNINSTALLING: &str = "uninstalling";
    /// Uninstalled with history kept.
    pub const UNINSTALLED: &str = "uninstalled";
}

/// `release.Info`. Times are Go's RFC 3339 text (empty for a zero time).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    /// `first_deployed`
    pub first_deployed: String,
    /// `last_deployed`
    pub last_deployed: String,
    /// `deleted`
    pub deleted: String,
    /// `description` (`Install complete`, `Upgrade complete`…).
    pub description: String,
    /// `status` (see [`status`]).
    pub status: String,
    /// `notes`: the rendered NOTES.txt.
    pub notes: String,
    /// Fields this crate does not know (Helm v4's `resources`), kept as
    /// read and written back after the known ones: a record another Helm
    /// wrote loses nothing when rewritten here.
    pub extra: Map<String, Json>,
}

/// A stored hook (`release.Hook`), with its last run.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredHook {
    /// The hook as rendered.
    pub hook: Hook,
    /// `last_run`: `started_at`, `completed_at`, `phase`.
    pub last_run: (String, String, String),
}

/// A release record.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    /// `name`
    pub name: String,
    /// `namespace`
    pub namespace: String,
    /// `version`: the revision.
    pub version: i64,
    /// `info`
    pub info: Info,
    /// `chart`: the chart as Helm stores it (metadata, lock, templates,
    /// values, schema, files; subcharts are not stored).
    pub chart: Json,
    /// `config`: the values the user supplied.
    pub config: Map<String, Json>,
    /// `manifest`
    pub manifest: String,
    /// `hooks`
    pub hooks: Vec<StoredHook>,
    /// Labels of the Secret beyond Helm's own.
    pub labels: BTreeMap<String, String>,
    /// Fields this crate does not know (Helm v4's `apply_method`, which
    /// upstream's helm-controller writes), kept as read and written back
    /// after the known ones.
    pub extra: Map<String, Json>,
}

/// The fields of Helm v3's `release.Release` JSON.
const RELEASE_FIELDS: [&str; 8] = [
    "name",
    "info",
    "chart",
    "config",
    "manifest",
    "hooks",
    "version",
    "namespace",
];

/// The fields of Helm v3's `release.Info` JSON.
const INFO_FIELDS: [&str; 6] = [
    "first_deployed",
    "last_deployed",
    "deleted",
    "description",
    "status",
    "notes",
];

/// The entries of `m` whose keys are not in `known`.
fn unknown(m: &Map<String, Json>, known: &[&str]) -> Map<String, Json> {
    m.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Now, as Go's `time.Now()` marshals in UTC (RFC 3339, nanoseconds
/// without trailing zeros).
pub fn now() -> String {
    flux_gotemplate::sprig::GoTime::now().format("2006-01-02T15:04:05.999999999Z07:00")
}

/// `v` with every object's keys sorted (how Go marshals a map).
pub fn sorted(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Json::Array(a) => Json::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Go's `encoding/json` text of `v` (`json.Marshal`: HTML characters
/// escaped, Go's number spelling), object keys in the given order.
pub fn go_json_text(v: &Json) -> String {
    let mut out = String::new();
    go_json(v, &mut out);
    out
}

/// Go's `encoding/json` text of `v`, object keys in the given order.
fn go_json(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match (n.is_f64(), n.as_i64(), n.as_u64()) {
            (false, Some(i), _) => out.push_str(&i.to_string()),
            (false, None, Some(u)) => out.push_str(&u.to_string()),
            _ => out.push_str(
                &flux_gotemplate::sprig::to_json(
                    &Value::Float(n.as_f64().unwrap_or(0.0)),
                    true,
                    None,
                )
                .unwrap_or_else(|_| "0".into()),
            ),
        },
        Json::String(s) => out.push_str(&go_string(s)),
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&go_string(k));
                out.push(':');
                go_json(x, out);
            }
            out.push('}');
        }
    }
}

/// `json.MarshalIndent(v, "", "  ")` of `v` nested `depth` levels deep,
/// appended to `out`: Go's escaping and number spelling, object keys in
/// the given order.
pub(crate) fn go_json_indent_into(v: &Json, depth: usize, out: &mut String) {
    fn walk(v: &Json, depth: usize, out: &mut String) {
        let pad = |out: &mut String, depth: usize| {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        };
        match v {
            Json::Array(a) if !a.is_empty() => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    walk(x, depth + 1, out);
                }
                pad(out, depth);
                out.push(']');
            }
            Json::Object(m) if !m.is_empty() => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    pad(out, depth + 1);
                    out.push_str(&go_string(k));
                    out.push_str(": ");
                    walk(x, depth + 1, out);
                }
                pad(out, depth);
                out.push('}');
            }
            other => go_json(other, out),
        }
    }
    walk(v, depth, out);
}

pub(crate) fn go_string(s: &str) -> String {
    flux_gotemplate::sprig::to_json(&Value::str(s), true, None).unwrap_or_else(|_| "\"\"".into())
}

fn b64(data: &[u8]) -> Json {
    Json::String(base64::engine::general_purpose::STANDARD.encode(data))
}

fn files_json(files: &[File]) -> Json {
    Json::Array(
        files
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("name".into(), Json::String(f.name.clone()));
                m.insert("data".into(), b64(&f.data));
                Json::Object(m)
            })
            .collect(),
    )
}

/// `chart.Metadata` as Go marshals it (fields in order, `omitempty`).
pub fn metadata_json(md: &Metadata) -> Json {
    let mut m = Map::new();
    let mut put = |k: &str, v: Json, keep: bool| {
        if keep {
            m.insert(k.to_string(), v);
        }
    };
    let s = |x: &str| Json::String(x.to_string());
    let list = |x: &[String]| Json::Array(x.iter().map(|i| Json::String(i.clone())).collect());
    put("name", s(&md.name), !md.name.is_empty());
    put("home", s(&md.home), !md.home.is_empty());
    put("sources", list(&md.sources), !md.sources.is_empty());
    put("version", s(&md.version), !md.version.is_empty());
    put(
        "description",
        s(&md.description),
        !md.description.is_empty(),
    );
    put("keywords", list(&md.keywords), !md.keywords.is_empty());
    put(
        "maintainers",
        Json::Array(
            md.maintainers
                .iter()
                .map(|x| match x {
                    None => Json::Null,
                    Some(x) => {
                        let mut o = Map::new();
                        for (k, v) in [("name", &x.name), ("email", &x.email), ("url", &x.url)] {
                            if !v.is_empty() {
                                o.insert(k.into(), Json::String(v.clone()));
                            }
                        }
                        Json::Object(o)
                    }
                })
                .collect(),
        ),
        !md.maintainers.is_empty(),
    );
    put("icon", s(&md.icon), !md.icon.is_empty());
    put("apiVersion", s(&md.api_version), !md.api_version.is_empty());
    put("condition", s(&md.condition), !md.condition.is_empty());
    put("tags", s(&md.tags), !md.tags.is_empty());
    put("appVersion", s(&md.app_version), !md.app_version.is_empty());
    put("deprecated", Json::Bool(md.deprecated), md.deprecated);
    if let Some(a) = md.annotations.as_ref().filter(|a| !a.is_empty()) {
        put(
            "annotations",
            Json::Object(
                a.iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            ),
            true,
        );
    }
    put(
        "kubeVersion",
        s(&md.kube_version),
        !md.kube_version.is_empty(),
    );
    if let Some(deps) = md.dependencies.as_ref().filter(|d| !d.is_empty()) {
        let deps = deps
            .iter()
            .map(|d| match d {
                None => Json::Null,
                Some(d) => {
                    let mut o = Map::new();
                    o.insert("name".into(), s(&d.name));
                    if !d.version.is_empty() {
                        o.insert("version".into(), s(&d.version));
                    }
                    o.insert("repository".into(), s(&d.repository));
                    if !d.condition.is_empty() {
                        o.insert("condition".into(), s(&d.condition));
                    }
                    if !d.tags.is_empty() {
                        o.insert("tags".into(), list(&d.tags));
                    }
                    if d.enabled {
                        o.insert("enabled".into(), Json::Bool(true));
                    }
                    if !d.import_values.is_empty() {
                        o.insert("import-values".into(), Json::Array(d.import_values.clone()));
                    }
                    if !d.alias.is_empty() {
                        o.insert("alias".into(), s(&d.alias));
                    }
                    Json::Object(o)
                }
            })
            .collect();
        put("dependencies", Json::Array(deps), true);
    }
    put("type", s(&md.chart_type), !md.chart_type.is_empty());
    Json::Object(m)
}

/// `chart.Chart` as stored in a release: `metadata` (as processed for the
/// render), `lock`, `templates`, `values`, `schema`, `files`.
pub fn chart_json(chart: &Chart, metadata: &Metadata, values: &Map<String, Json>) -> Json {
    let mut m = Map::new();
    m.insert("metadata".into(), metadata_json(metadata));
    m.insert("lock".into(), Json::Null);
    m.insert("templates".into(), files_json(&chart.templates));
    m.insert("values".into(), sorted(&Json::Object(values.clone())));
    m.insert(
        "schema".into(),
        chart.schema.as_deref().map_or(Json::Null, b64),
    );
    m.insert("files".into(), files_json(&chart.files));
    Json::Object(m)
}

fn str_field(m: &Map<String, Json>, k: &str) -> String {
    m.get(k)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn str_list(m: &Map<String, Json>, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Release {
    /// A new revision from a render: `config` is what the user supplied.
    pub fn new(
        rendered: &crate::action::Rendered,
        opts: &crate::action::TemplateOptions,
        version: i64,
        status: &str,
        description: &str,
    ) -> Release {
        let at = now();
        Release {
            name: opts.release_name.clone(),
            namespace: opts.namespace.clone(),
            version,
            info: Info {
                first_deployed: at.clone(),
                last_deployed: at,
                deleted: String::new(),
                description: description.to_string(),
                status: status.to_string(),
                notes: rendered.notes.clone(),
                extra: Map::new(),
            },
            chart: rendered.chart.clone(),
            config: opts.values.clone(),
            manifest: rendered.manifest.clone(),
            hooks: rendered
                .hooks
                .iter()
                .map(|h| StoredHook {
                    hook: h.clone(),
                    last_run: Default::default(),
                })
                .collect(),
            labels: BTreeMap::new(),
            extra: Map::new(),
        }
    }

    /// The Secret's name: `sh.helm.release.v1.NAME.vVERSION`.
    pub fn secret_name(&self) -> String {
        format!("{STORAGE_PREFIX}.{}.v{}", self.name, self.version)
    }

    /// The Secret's labels: custom ones, then Helm's (which win).
    pub fn secret_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert("name".into(), self.name.clone());
        l.insert("owner".into(), "helm".into());
        l.insert("status".into(), self.info.status.clone());
        l.insert("version".into(), self.version.to_string());
        l
    }

    /// `json.Marshal(release)`.
    pub fn to_json(&self) -> String {
        let mut info = Map::new();
        let s = |x: &str| Json::String(x.to_string());
        info.insert("first_deployed".into(), s(&self.info.first_deployed));
        info.insert("last_deployed".into(), s(&self.info.last_deployed));
        info.insert("deleted".into(), s(&self.info.deleted));
        if !self.info.description.is_empty() {
            info.insert("description".into(), s(&self.info.description));
        }
        if !self.info.status.is_empty() {
            info.insert("status".into(), s(&self.info.status));
        }
        if !self.info.notes.is_empty() {
            info.insert("notes".into(), s(&self.info.notes));
        }
        for (k, v) in &self.info.extra {
            info.insert(k.clone(), v.clone());
        }
        let mut m = Map::new();
        if !self.name.is_empty() {
            m.insert("name".into(), s(&self.name));
        }
        m.insert("info".into(), Json::Object(info));
        if !self.chart.is_null() {
            m.insert("chart".into(), self.chart.clone());
        }
        if !self.config.is_empty() {
            m.insert("config".into(), sorted(&Json::Object(self.config.clone())));
        }
        if !self.manifest.is_empty() {
            m.insert("manifest".into(), s(&self.manifest));
        }
        if !self.hooks.is_empty() {
            let hooks = self
                .hooks
                .iter()
                .map(|h| {
                    let mut o = Map::new();
                    let k = &h.hook;
                    let mut opt = |key: &str, v: Json, keep: bool| {
                        if keep {
                            o.insert(key.to_string(), v);
                        }
                    };
                    opt("name", s(&k.name), !k.name.is_empty());
                    opt("kind", s(&k.kind), !k.kind.is_empty());
                    opt("path", s(&k.path), !k.path.is_empty());
                    opt("manifest", s(&k.manifest), !k.manifest.is_empty());
                    let list = |x: &[String]| Json::Array(x.iter().map(|i| s(i)).collect());
                    opt("events", list(&k.events), !k.events.is_empty());
                    let mut run = Map::new();
                    run.insert("started_at".into(), s(&h.last_run.0));
                    run.insert("completed_at".into(), s(&h.last_run.1));
                    run.insert("phase".into(), s(&h.last_run.2));
                    opt("last_run", Json::Object(run), true);
                    opt("weight", Json::from(k.weight), k.weight != 0);
                    opt(
                        "delete_policies",
                        list(&k.delete_policies),
                        !k.delete_policies.is_empty(),
                    );
                    opt(
                        "output_log_policies",
                        list(&k.output_log_policies),
                        !k.output_log_policies.is_empty(),
                    );
                    Json::Object(o)
                })
                .collect();
            m.insert("hooks".into(), Json::Array(hooks));
        }
        if self.version != 0 {
            m.insert("version".into(), Json::from(self.version));
        }
        if !self.namespace.is_empty() {
            m.insert("namespace".into(), s(&self.namespace));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        let mut out = String::new();
        go_json(&Json::Object(m), &mut out);
        out
    }

    /// Reads `json.Marshal(release)` text.
    pub fn from_json(data: &[u8]) -> Result<Release, crate::ReleaseError> {
        let v: Json = serde_json::from_slice(data).map_err(|e| format!("decoding release: {e}"))?;
        let Json::Object(m) = v else {
            return Err("decoding release: not a JSON object".into());
        };
        let info = m
            .get("info")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let hooks = m
            .get("hooks")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_object)
                    .map(|h| {
                        let run = h
                            .get("last_run")
                            .and_then(Json::as_object)
                            .cloned()
                            .unwrap_or_default();
                        StoredHook {
                            hook: Hook {
                                name: str_field(h, "name"),
                                kind: str_field(h, "kind"),
                                path: str_field(h, "path"),
                                manifest: str_field(h, "manifest"),
                                events: str_list(h, "events"),
                                weight: h.get("weight").and_then(Json::as_i64).unwrap_or(0),
                                delete_policies: str_list(h, "delete_policies"),
                                output_log_policies: str_list(h, "output_log_policies"),
                            },
                            last_run: (
                                str_field(&run, "started_at"),
                                str_field(&run, "completed_at"),
                                str_field(&run, "phase"),
                            ),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Release {
            name: str_field(&m, "name"),
            namespace: str_field(&m, "namespace"),
            version: m.get("version").and_then(Json::as_i64).unwrap_or(0),
            info: Info {
                first_deployed: str_field(&info, "first_deployed"),
                last_deployed: str_field(&info, "last_deployed"),
                deleted: str_field(&info, "deleted"),
                description: str_field(&info, "description"),
                status: str_field(&info, "status"),
                notes: str_field(&info, "notes"),
                extra: unknown(&info, &INFO_FIELDS),
            },
            chart: m.get("chart").cloned().unwrap_or(Json::Null),
            config: m
                .get("config")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default(),
            manifest: str_field(&m, "manifest"),
            hooks,
            labels: BTreeMap::new(),
            extra: unknown(&m, &RELEASE_FIELDS),
        })
    }

    /// The Secret's `release` data: the JSON gzipped at best compression,
    /// base64-encoded.
    pub fn encode(&self) -> Result<String, crate::ReleaseError> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(self.to_json().as_bytes())
            .map_err(|e| format!("compressing release: {e}"))?;
        let bytes = gz
            .finish()
            .map_err(|e| format!("compressing release: {e}"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Reads a Secret's `release` data (gzipped or plain JSON, as Helm
    /// accepts), at most [`MAX_RECORD_SIZE`] once decompressed.
    pub fn decode(data: &[u8]) -> Result<Release, crate::ReleaseError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(data.trim_ascii())
            .map_err(|e| format!("decoding release: {e}"))?;
        let json = if raw.starts_with(&[0x1f, 0x8b, 0x08]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .take(MAX_RECORD_SIZE + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("decompressing release: {e}"))?;
            if out.len() as u64 > MAX_RECORD_SIZE {
                return Err(
                    format!("decompressing release: larger than {MAX_RECORD_SIZE} bytes").into(),
                );
            }
            out
        } else {
            raw
        };
        Release::from_json(&json)
    }

    /// The Secret as a Kubernetes object (data base64-encoded once more by
    /// the API, as for every Secret).
    pub fn to_secret(&self) -> Result<Json, crate::ReleaseError> {
        let encoded = self.encode()?;
        let labels: Map<String, Json> = self
            .secret_labels()
            .into_iter()
            .map(|(k, v)| (k, Json::String(v)))
            .collect();
        Ok(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.secret_name(),
                "namespace": self.namespace,
                "labels": labels,
            },
            "type": SECRET_TYPE,
            "data": {"release": base64::engine::general_purpose::STANDARD.encode(encoded)},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_newer_helm_survive_a_rewrite() {
        // A record as Helm v4 writes it for upstream's helm-controller:
        // zero times omitted, `apply_method`, and an Info field v3 lacks.
        let v4 = r#"{"name":"web","info":{"first_deployed":"2026-01-02T03:04:05Z","last_deployed":"2026-01-02T03:04:05Z","description":"Install complete","status":"deployed","resources":{"v1/ConfigMap":[]}},"config":{"a":1},"manifest":"---\nkind: ConfigMap\n","version":1,"namespace":"apps","apply_method":"ssa"}"#;
        let mut r = Release::from_json(v4.as_bytes()).unwrap();
        assert_eq!(
            r.extra.get("apply_method"),
            Some(&Json::String("ssa".into()))
        );
        assert!(r.info.extra.contains_key("resources"));
        // Superseded by an upgrade here, and written back.
        r.info.status = status::SUPERSEDED.into();
        let json = r.to_json();
        assert!(
            json.ends_with(r#""version":1,"namespace":"apps","apply_method":"ssa"}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""status":"superseded","resources":{"v1/ConfigMap":[]}}"#),
            "{json}"
        );
        let again = Release::decode(r.encode().unwrap().as_bytes()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn round_trips_and_refuses_bombs() {
        let r = Release {
            name: "demo".into(),
            namespace: "apps".into(),
            version: 3,
            info: Info {
                first_deployed: "2026-01-02T03:04:05.5Z".into(),
                last_deployed: "2026-01-02T03:04:05.5Z".into(),
                description: "Upgrade complete".into(),
                status: status::DEPLOYED.into(),
                ..Info::default()
            },
            chart: Json::Null,
            config: serde_json::from_str(r#"{"b": 1.5, "a": "<x>"}"#).unwrap(),
            manifest: "---\n# Source: demo/templates/cm.yaml\nkind: ConfigMap\n".into(),
            hooks: Vec::new(),
            labels: BTreeMap::new(),
            extra: Map::new(),
        };
        let json = r.to_json();
        assert!(
            json.contains(r#""config":{"a":"\u003cx\u003e","b":1.5}"#),
            "{json}"
        );
        assert!(
            json.starts_with(r#"{"name":"demo","info":{"first_deployed""#),
            "{json}"
        );
        let back = Release::decode(r.encode().unwrap().as_bytes()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.secret_name(), "sh.helm.release.v1.demo.v3");
        // A gzip bomb stops at the limit.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..70 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(
            Release::decode(bomb.as_bytes())
                .unwrap_err()
                .0
                .contains("larger than")
        );
    }
}
