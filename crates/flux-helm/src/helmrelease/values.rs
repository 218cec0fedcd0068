//! The values of a release: `spec.valuesFrom` then `spec.values`, composed
//! as upstream composes them (`fluxcd/pkg/chartutil`
//! `ChartValuesFromReferences`), and their digest (`DigestValues`).
//!
//! Upstream's order, reproduced exactly:
//! - each reference in turn: a ConfigMap's or Secret's `data[valuesKey]`
//!   (`values.yaml` by default), each object read once;
//! - without `targetPath`, the data is read as a YAML values document and
//!   merged over what came before (maps recurse, anything else replaces);
//! - with `targetPath`, the inline `values` are first merged over the
//!   result, then the data is set at the path with Helm's `--set` parser
//!   (`--set-string` when the data is wrapped in quotes, which are
//!   removed; with `literal`, escaped so that it is set verbatim);
//! - finally the inline `values` are merged on top.
//!
//! Nested maps are shared as Go shares them: the merge copies only the
//! maps it merges, so a `targetPath` write can land in a map the inline
//! values hold too — and then survives the final merge even over a later
//! reference that set the same key. (`tests/values_oracle.rs` compares
//! with upstream's own package on generated cases.)

use std::collections::{BTreeMap, HashMap};

use crate::strvals;
use flux_api::helm::v2::ValuesReference;
use flux_gotemplate::Value;
use serde_json::{Map, Value as Json};

/// A ConfigMap or Secret as the composition finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The object's `data` (a Secret's values decoded from base64).
    Found(BTreeMap<String, Vec<u8>>),
    /// The API answered 404, with this message (`configmaps "x" not
    /// found`).
    NotFound(String),
    /// Any other failure, with its message (reported as it is, as
    /// upstream does).
    Failed(String),
}

/// The data of a ConfigMap (`data`, `binaryData`) or Secret (`data`,
/// `stringData`) given as its JSON object, values decoded, as `valuesFrom`
/// reads it.
pub fn data_of(kind: &str, object: &Json) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    let decode = |v: &Json| {
        v.as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    };
    let plain = |v: &Json| v.as_str().map(|s| s.as_bytes().to_vec());
    // `data` first: a Secret's `stringData` wins over it, as on a write.
    type Read<'a> = &'a dyn Fn(&Json) -> Option<Vec<u8>>;
    let fields: [(&str, Read<'_>); 2] = if kind == "Secret" {
        [("data", &decode), ("stringData", &plain)]
    } else {
        [("data", &plain), ("binaryData", &decode)]
    };
    let mut out = BTreeMap::new();
    for (field, read) in fields {
        for (k, v) in object
            .get(field)
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(bytes) = read(v) {
                out.insert(k.clone(), bytes);
            }
        }
    }
    out
}

/// What reading a `valuesFrom` object gave (`Ok(None)`: not found; `Err`:
/// the API's message), as the composition takes it.
pub fn fetched(kind: &str, name: &str, read: Result<Option<Json>, String>) -> Fetched {
    match read {
        Ok(Some(object)) => Fetched::Found(data_of(kind, &object)),
        Ok(None) => Fetched::NotFound(format!("{}s \"{name}\" not found", kind.to_lowercase())),
        Err(message) => Fetched::Failed(message),
    }
}

/// The objects `refs` read, (kind, name), each once, in order.
pub fn references(refs: &[ValuesReference]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in refs {
        let key = (kind_name(r), r.name.clone());
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// [`compose`] over the objects read beforehand, by (kind, name).
pub fn compose_read(
    namespace: &str,
    values: Option<&Map<String, Json>>,
    refs: &[ValuesReference],
    read: &BTreeMap<(String, String), Fetched>,
) -> Result<Map<String, Json>, String> {
    compose(namespace, values, refs, &mut |kind, name| {
        read.get(&(kind.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| Fetched::Failed("not read".into()))
    })
}

/// The key read when a reference names none.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";

fn kind_name(reference: &ValuesReference) -> String {
    serde_json::to_value(reference.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn values_key(reference: &ValuesReference) -> &str {
    reference
        .values_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or(DEFAULT_VALUES_KEY)
}

/// Upstream's `ErrValuesReference` text.
fn reference_error(namespace: &str, reference: &ValuesReference, reason: &str) -> String {
    let mut message = String::from("could not resolve");
    if reference.optional.unwrap_or(false) {
        message.push_str(" optional");
    }
    let kind = kind_name(reference);
    if !kind.is_empty() {
        message.push(' ');
        message.push_str(&kind);
    }
    message.push_str(&format!(
        " chart values reference '{namespace}/{}' with key '{}': {reason}",
        reference.name,
        values_key(reference)
    ));
    message
}

type GoMap = BTreeMap<String, Value>;

/// A ConfigMap's or Secret's data.
type Data = BTreeMap<String, Vec<u8>>;

/// `chartutil.MergeMaps`: a new top-level map; a key whose values are maps
/// on both sides is merged into a new map, anything else is taken from
/// `b` as it is (the same nested map, not a copy).
fn merge_maps(a: &GoMap, b: &GoMap) -> GoMap {
    let mut out = a.clone();
    for (key, value) in b {
        if let (Value::Map(from_b), Some(Value::Map(from_a))) = (value, out.get(key)) {
            let merged = merge_maps(&from_a.borrow().entries, &from_b.borrow().entries);
            out.insert(key.clone(), Value::dict(merged));
            continue;
        }
        out.insert(key.clone(), value.clone());
    }
    out
}

/// Values decoded from JSON or YAML as Go decodes them into
/// `map[string]interface{}`: every number a float64 (the `--set` parser's
/// integers stay int64; the difference shows in its messages, in the
/// digest's typing and in how templates print the values).
fn go_map(values: &Map<String, Json>) -> GoMap {
    values
        .iter()
        .map(|(k, v)| (k.clone(), crate::yaml::to_value(&float64(v))))
        .collect()
}

fn float64(v: &Json) -> Json {
    match v {
        Json::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        Json::Array(items) => Json::Array(items.iter().map(float64).collect()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), float64(v))).collect()),
        other => other.clone(),
    }
}

/// Upstream's `ReplacePathValue` / `ReplacePathLiteralValue`.
fn set_path(result: &mut GoMap, path: &str, data: &str, literal: bool) -> Result<(), String> {
    let assignment;
    let mode;
    if literal {
        let mut escaped = String::with_capacity(data.len());
        for c in data.chars() {
            if matches!(c, '\\' | ',' | '[' | ']' | '{' | '}') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        assignment = format!("{path}={escaped}");
        mode = strvals::Mode::String;
    } else {
        let single = data.starts_with('\'') && data.ends_with('\'');
        let double = data.starts_with('"') && data.ends_with('"');
        if single || double {
            let trimmed = data.trim_matches(|c| c == '\'' || c == '"');
            assignment = format!("{path}={trimmed}");
            mode = strvals::Mode::String;
        } else {
            assignment = format!("{path}={data}");
            mode = strvals::Mode::Typed;
        }
    }
    strvals::parse_into(&assignment, result, mode).map_err(|e| e.to_string())
}

/// The values of a HelmRelease in `namespace`: `refs` (`spec.valuesFrom`)
/// read through `fetch` (kind, name), then `values` (`spec.values`).
/// Errors are upstream's messages.
pub fn compose(
    namespace: &str,
    values: Option<&Map<String, Json>>,
    refs: &[ValuesReference],
    fetch: &mut dyn FnMut(&str, &str) -> Fetched,
) -> Result<Map<String, Json>, String> {
    let inline = values.map(go_map).unwrap_or_default();
    let mut result = GoMap::new();
    // Each object is read once; one that was not found is remembered as
    // missing (a later reference to it fails without the API's message).
    let mut seen: HashMap<(String, String), Option<Data>> = HashMap::new();
    for reference in refs {
        let kind = kind_name(reference);
        let optional = reference.optional.unwrap_or(false);
        let id = (kind.clone(), reference.name.clone());
        let object = match seen.get(&id) {
            Some(object) => object.clone(),
            None => match fetch(&kind, &reference.name) {
                Fetched::Found(data) => {
                    seen.insert(id, Some(data.clone()));
                    Some(data)
                }
                Fetched::NotFound(message) => {
                    seen.insert(id, None);
                    if optional {
                        continue;
                    }
                    return Err(reference_error(namespace, reference, &message));
                }
                Fetched::Failed(message) => return Err(message),
            },
        };
        let Some(object) = object else {
            if optional {
                continue;
            }
            return Err(reference_error(namespace, reference, "resource not found"));
        };
        let Some(data) = object.get(values_key(reference)) else {
            if optional {
                continue;
            }
            return Err(reference_error(namespace, reference, "key not found"));
        };
        if let Some(path) = reference.target_path.as_deref().filter(|p| !p.is_empty()) {
            result = merge_maps(&result, &inline);
            let text = String::from_utf8_lossy(data);
            set_path(&mut result, path, &text, reference.literal.unwrap_or(false))
                .map_err(|e| reference_error(namespace, reference, &e))?;
            continue;
        }
        let read = crate::yaml::read_values(data).map_err(|e| {
            // Helm v4 reads into its `common.Values` type (v3: a map).
            let message = e.to_string().replace(
                "Go value of type map[string]interface {}",
                "Go value of type common.Values",
            );
            reference_error(namespace, reference, &message)
        })?;
        result = merge_maps(&result, &go_map(&read));
    }
    let merged = merge_maps(&result, &inline);
    Ok(merged
        .iter()
        .map(|(k, v)| (k.clone(), crate::yaml::from_value(v)))
        .collect())
}

/// `chartutil.DigestValues` with SHA-256: the digest of go-yaml v2's
/// encoding of the values with every map's keys sorted, numbers typed as
/// `sigs.k8s.io/yaml` types them (an integral float is an integer); no
/// values at all hash as no input.
pub fn digest(values: &Map<String, Json>) -> String {
    if values.is_empty() {
        return flux_artifact::Digest::of(b"").to_string();
    }
    let document = flux_yaml::emit_in_order(&sorted_yaml(&Json::Object(values.clone())));
    flux_artifact::Digest::of(document.as_bytes()).to_string()
}

/// `JSONObjectToYAMLObject` and `SortMapSlice`.
fn sorted_yaml(value: &Json) -> flux_yaml::Value {
    use flux_yaml::Value as Y;
    match value {
        Json::Null => Y::Null,
        Json::Bool(b) => Y::Bool(*b),
        Json::String(s) => Y::String(s.clone()),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Y::Int(i),
            (None, Some(u), _) => Y::Uint(u),
            (None, None, Some(f)) => {
                // float64 → int when integral and in range, as Go converts.
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    Y::Int(f as i64)
                } else if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                    Y::Uint(f as u64)
                } else {
                    Y::Float(f)
                }
            }
            _ => Y::Null,
        },
        Json::Array(items) => Y::Seq(items.iter().map(sorted_yaml).collect()),
        Json::Object(map) => {
            let mut entries: Vec<(String, flux_yaml::Value)> = map
                .iter()
                .map(|(k, v)| (k.clone(), sorted_yaml(v)))
                .collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Y::Map(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(kind: &str, name: &str, extra: Json) -> ValuesReference {
        let mut v = serde_json::json!({"kind": kind, "name": name});
        if let (Some(m), Json::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn found(pairs: &[(&str, &str)]) -> Fetched {
        Fetched::Found(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        )
    }

    #[test]
    fn a_target_path_write_lands_in_the_inline_values_as_in_go() {
        // Checked against fluxcd/pkg/chartutil v1.27.2: `b` ends up `x`,
        // not the later reference's `y`; `c` is Go's float64.
        let values = serde_json::json!({"a": {"c": 1}});
        let refs = [
            reference("ConfigMap", "cm", serde_json::json!({"targetPath": "a.b"})),
            reference("ConfigMap", "cm2", serde_json::json!({})),
        ];
        let mut fetch = |_: &str, name: &str| match name {
            "cm" => found(&[("values.yaml", "x")]),
            _ => found(&[("values.yaml", "a:\n  b: y\n")]),
        };
        let composed = compose("ns", values.as_object(), &refs, &mut fetch).unwrap_or_default();
        assert_eq!(
            Json::Object(composed.clone()),
            serde_json::json!({"a": {"b": "x", "c": 1.0}})
        );
        assert_eq!(
            digest(&composed),
            "sha256:d6ff3fe329ddc6509dff3877bda5327e40cb49b93906b43a7c890ddcc6ae781e"
        );
    }

    #[test]
    fn errors_read_as_upstream_writes_them() {
        let refs = [reference(
            "Secret",
            "s",
            serde_json::json!({"valuesKey": "v"}),
        )];
        let mut missing = |_: &str, _: &str| Fetched::NotFound("secrets \"s\" not found".into());
        assert_eq!(
            compose("ns", None, &refs, &mut missing).unwrap_err(),
            "could not resolve Secret chart values reference 'ns/s' with key 'v': secrets \"s\" not found"
        );
        let mut no_key = |_: &str, _: &str| found(&[("other", "a: 1")]);
        assert_eq!(
            compose("ns", None, &refs, &mut no_key).unwrap_err(),
            "could not resolve Secret chart values reference 'ns/s' with key 'v': key not found"
        );
        assert_eq!(
            digest(&Map::new()),
            flux_artifact::Digest::of(b"").to_string()
        );
    }

    #[test]
    fn data_of_decodes_secrets_and_binary_data() {
        let secret = serde_json::json!({"data": {"a": "b2xk", "b": "c2FtZQ=="},
            "stringData": {"b": "new"}});
        let data = data_of("Secret", &secret);
        assert_eq!(data["a"], b"old");
        assert_eq!(data["b"], b"new", "stringData wins, as on a write");
        let config = serde_json::json!({"data": {"values.yaml": "a: 1"},
            "binaryData": {"bin": "AAE="}});
        let data = data_of("ConfigMap", &config);
        assert_eq!(data["values.yaml"], b"a: 1");
        assert_eq!(data["bin"], [0u8, 1]);
    }
}
