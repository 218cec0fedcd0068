//! OpenAPI v3 schemas of our types, in the shape controller-gen gives
//! upstream's CRDs: structural, inlined, no `nullable`, no `$ref`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// Go duration with `ms`, `s`, `m` and `h` units (`interval`, `retryInterval`).
pub const DURATION: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// Go duration without hours (`timeout`).
pub const TIMEOUT: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";
/// `<algorithm>:<encoded>` digest of an artifact.
pub const ARTIFACT_DIGEST: &str = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$";
/// A condition type: an optional DNS-subdomain prefix and a name.
pub const CONDITION_TYPE: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";
/// A condition reason.
pub const CONDITION_REASON: &str = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";

/// Schema of a `metav1.Time`: an RFC 3339 string.
pub fn date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time"})
}

/// Schema of an arbitrary JSON value (`apiextensionsv1.JSON`).
pub fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// The structural schema of `T`, every subschema inlined.
pub fn structural<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    normalize(&mut value);
    value
}

/// Removes what controller-gen never writes: `$schema`, `title`,
/// `definitions`, `additionalProperties: false` (our strict parsing is
/// serde's, not the API server's), `default: null`, and `type` arrays with
/// `null`; turns `const` into a one-value `enum` and single-type `oneOf`
/// enum variants into one `enum`.
pub fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["$schema", "title", "definitions", "$defs"] {
                map.remove(key);
            }
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            strip_null_variant(map, "anyOf");
            strip_null_variant(map, "oneOf");
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    map.insert("type".to_string(), kept[0].clone());
                }
            }
            if let Some(value) = map.remove("const") {
                map.insert("enum".to_string(), Value::Array(vec![value]));
            }
            merge_enum_variants(map);
            for child in map.values_mut() {
                normalize(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// `anyOf: [S, {type: null}]` (an `Option<S>`) → `S`, keeping this level's keys.
fn strip_null_variant(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(variants)) = map.get(key) else {
        return;
    };
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if variants.len() != 2 || !variants.iter().any(is_null) {
        return;
    }
    let Some(Value::Object(inner)) = variants.iter().find(|v| !is_null(v)).cloned() else {
        return;
    };
    map.remove(key);
    for (k, v) in inner {
        map.entry(k).or_insert(v);
    }
}

/// `oneOf: [{type: string, enum: [a]}, {type: string, const: b}]` → `enum: [a, b]`.
fn merge_enum_variants(map: &mut Map<String, Value>) {
    let Some(Value::Array(variants)) = map.get("oneOf") else {
        return;
    };
    let mut values = Vec::new();
    for variant in variants {
        let Value::Object(v) = variant else { return };
        if v.get("type").and_then(Value::as_str) != Some("string") {
            return;
        }
        match (v.get("enum"), v.get("const")) {
            (Some(Value::Array(e)), None) => values.extend(e.iter().cloned()),
            (None, Some(c)) => values.push(c.clone()),
            _ => return,
        }
    }
    map.remove("oneOf");
    map.insert("type".to_string(), Value::String("string".to_string()));
    map.insert("enum".to_string(), Value::Array(values));
}

/// Schema of a Go `int` (controller-gen writes no `format`).
pub fn go_int(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer"})
}
