//! YAML and JSON as Helm reads and writes them.
//!
//! Helm decodes values, `Chart.yaml` and `fromYaml` with
//! `sigs.k8s.io/yaml.Unmarshal`: go-yaml v2 (YAML 1.1: `yes`/`on` are
//! booleans) then a JSON round trip, so every number becomes a `float64`.
//! `toYaml` is `json.Marshal` followed by go-yaml v2's `Marshal` (sorted
//! keys, integral floats written as integers, long strings folded at 80
//! columns) — the same path `kustomize build` takes, provided by
//! `flux-yaml`.
//!
//! In this crate a `serde_json::Value` number stored as an integer is a Go
//! `int64` (from `--set`), one stored as a float a Go `float64`.

use std::collections::BTreeMap;

use flux_gotemplate::{ListTy, MapTy, Value};
use flux_yaml::Value as Yaml;

/// The first document of `data` as `sigs.k8s.io/yaml` reads it (before the
/// JSON step), with Helm's error wording.
pub fn first_document(data: &[u8]) -> Result<Yaml, crate::YamlError> {
    if let Some(e) = utf8_error(data) {
        return Err(format!("error converting YAML to JSON: yaml: {e}").into());
    }
    let text = String::from_utf8_lossy(data);
    let docs =
        flux_yaml::parse_sigs(&text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Null))
}

/// go-yaml's reader refuses input that is not UTF-8, with the first
/// problem it meets.
fn utf8_error(data: &[u8]) -> Option<&'static str> {
    if std::str::from_utf8(data).is_ok() {
        return None;
    }
    let mut pos = 0;
    while pos < data.len() {
        let lead = data[pos];
        let width = match lead {
            0x00..=0x7F => 1,
            _ if lead & 0xE0 == 0xC0 => 2,
            _ if lead & 0xF0 == 0xE0 => 3,
            _ if lead & 0xF8 == 0xF0 => 4,
            _ => return Some("invalid leading UTF-8 octet"),
        };
        if pos + width > data.len() {
            return Some("incomplete UTF-8 octet sequence");
        }
        let mut value = u32::from(match width {
            1 => lead & 0x7F,
            2 => lead & 0x1F,
            3 => lead & 0x0F,
            _ => lead & 0x07,
        });
        for &octet in &data[pos + 1..pos + width] {
            if octet & 0xC0 != 0x80 {
                return Some("invalid trailing UTF-8 octet");
            }
            value = (value << 6) | u32::from(octet & 0x3F);
        }
        let shortest = match width {
            1 => true,
            2 => value >= 0x80,
            3 => value >= 0x800,
            _ => value >= 0x10000,
        };
        if !shortest {
            return Some("invalid length of a UTF-8 sequence");
        }
        if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
            return Some("invalid Unicode character");
        }
        pos += width;
    }
    None
}

/// The JSON step of `sigs.k8s.io/yaml.Unmarshal` into `interface{}`:
/// numbers become float64; infinities and NaN are refused.
pub fn to_json(v: &Yaml) -> Result<serde_json::Value, crate::YamlError> {
    Ok(match v {
        Yaml::Null => serde_json::Value::Null,
        Yaml::Bool(b) => serde_json::Value::Bool(*b),
        Yaml::Int(i) => float_json(*i as f64)?,
        Yaml::Uint(u) => float_json(*u as f64)?,
        Yaml::Float(f) => float_json(*f)?,
        Yaml::String(s) => serde_json::Value::String(s.clone()),
        Yaml::Seq(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), to_json(v)?);
            }
            serde_json::Value::Object(m)
        }
    })
}

fn float_json(f: f64) -> Result<serde_json::Value, String> {
    match serde_json::Number::from_f64(f) {
        Some(n) => Ok(serde_json::Value::Number(n)),
        None => Err(format!(
            "error converting YAML to JSON: json: unsupported value: {}",
            if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            }
        )),
    }
}

/// The JSON kind a decoded YAML value has for `encoding/json` errors.
pub(crate) fn yaml_kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::String(_) => "string",
        Yaml::Bool(_) => "bool",
        Yaml::Int(_) | Yaml::Uint(_) | Yaml::Float(_) => "number",
        Yaml::Seq(_) => "array",
        Yaml::Map(_) => "object",
        Yaml::Null => "null",
    }
}

/// A struct field's type error as Go's `encoding/json` words it, wrapped
/// as `sigs.k8s.io/yaml` does.
pub(crate) fn field_type_error(found: &Yaml, field: &str, go_type: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
        yaml_kind(found)
    )
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// `chartutil.ReadValues` / `yaml.Unmarshal(data, &map)`: a mapping (an
/// empty document is an empty map).
pub fn read_values(
    data: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, crate::YamlError> {
    match to_json(&first_document(data)?)? {
        serde_json::Value::Object(m) => Ok(m),
        serde_json::Value::Null => Ok(serde_json::Map::new()),
        other => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        )
        .into()),
    }
}

/// A JSON value (this crate's convention: integer numbers are int64) as a
/// template value.
pub fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.is_f64(), n.as_i64()) {
            (false, Some(i)) => Value::Int64(i),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::list(ListTy::Iface, items.iter().map(to_value).collect())
        }
        serde_json::Value::Object(m) => map_value(m),
    }
}

/// A JSON object as a `map[string]interface{}` template value.
pub fn map_value(m: &serde_json::Map<String, serde_json::Value>) -> Value {
    Value::dict(m.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
}

/// A template value as JSON (this crate's convention), for values that
/// leave the template world (release records, `--set` results). A value
/// nested deeper than Go's JSON encoder follows (a map a template made hold
/// itself) is null here; [`try_from_value`] reports it.
pub fn from_value(v: &Value) -> serde_json::Value {
    try_from_value(v).unwrap_or(serde_json::Value::Null)
}

/// [`from_value`], failing on a value nested deeper than Go's JSON encoder
/// follows (a cycle), with Go's message.
pub fn try_from_value(v: &Value) -> Result<serde_json::Value, String> {
    json_of(v, 0)
}

fn json_of(v: &Value, depth: usize) -> Result<serde_json::Value, String> {
    if depth > 1000 && matches!(v, Value::Map(_) | Value::List(_)) {
        return Err(format!(
            "json: unsupported value: encountered a cycle via {}",
            v.type_name()
        ));
    }
    Ok(match v {
        Value::Missing | Value::Nil | Value::Func(_) | Value::Complex(..) => {
            serde_json::Value::Null
        }
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) | Value::Int64(i) => serde_json::Value::Number((*i).into()),
        Value::Uint32(i) => serde_json::Value::Number((*i).into()),
        Value::Uint8(i) => serde_json::Value::Number((*i).into()),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Str(s) => serde_json::Value::String(flux_gotemplate::gostr::to_text(s).into_owned()),
        Value::Bytes(b) => {
            use base64::Engine as _;
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::List(l) if l.nil => serde_json::Value::Null,
        Value::List(l) => serde_json::Value::Array(
            l.items
                .iter()
                .map(|x| json_of(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => serde_json::Value::Object(
            m.borrow()
                .entries
                .iter()
                .map(|(k, x)| Ok((k.clone(), json_of(x, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Object(o) => match o.json() {
            None => serde_json::Value::Object(serde_json::Map::new()),
            Some(v) => json_of(&v, depth + 1)?,
        },
    })
}

/// A template value as `json.Marshal` sees it, in flux-yaml's model;
/// `None` for what JSON cannot hold (functions, complex numbers).
fn to_yaml_model(v: &Value, depth: usize) -> Option<Yaml> {
    // Go's JSON encoder gives up on a cycle after 1,000 levels.
    if depth > 1000 {
        return None;
    }
    Some(match v {
        Value::Missing | Value::Nil => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Int(i) | Value::Int64(i) => Yaml::Int(*i),
        Value::Uint32(i) => Yaml::Int(i64::from(*i)),
        Value::Uint8(i) => Yaml::Int(i64::from(*i)),
        Value::Float(f) => Yaml::Float(*f),
        // Through encoding/json: a raw byte is U+FFFD.
        Value::Str(s) => Yaml::String(flux_gotemplate::gostr::to_text(s).into_owned()),
        Value::Bytes(b) => {
            use base64::Engine as _;
            Yaml::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::List(l) if l.nil => Yaml::Null,
        Value::List(l) => Yaml::Seq(
            l.items
                .iter()
                .map(|x| to_yaml_model(x, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Value::Map(m) => Yaml::Map(
            m.borrow()
                .entries
                .iter()
                .map(|(k, x)| Some((k.clone(), to_yaml_model(x, depth + 1)?)))
                .collect::<Option<_>>()?,
        ),
        Value::Object(o) => match o.json() {
            Some(v) => to_yaml_model(&v, depth + 1)?,
            None => Yaml::Map(Vec::new()),
        },
        Value::Func(_) | Value::Complex(..) => return None,
    })
}

/// `sigs.k8s.io/yaml.Marshal`: JSON, then go-yaml v2; `None` when JSON
/// cannot hold the value.
pub fn marshal(v: &Value) -> Option<String> {
    let model = to_yaml_model(v, 0)?.json_round_trip().ok()?;
    Some(flux_yaml::emit(&model))
}

/// Helm's `toYaml`: [`marshal`] without the final newline; `""` on error.
pub fn to_yaml(v: &Value) -> String {
    marshal(v)
        .map(|s| s.strip_suffix('\n').map(str::to_string).unwrap_or(s))
        .unwrap_or_default()
}

/// Helm's `toYamlPretty`: go-yaml v3 with two-space indentation on the
/// value itself (no JSON step: `1e+06` stays a float), without the final
/// newline; `""` on error.
pub fn to_yaml_pretty(v: &Value) -> String {
    let Some(model) = to_yaml_model(v, 0) else {
        return String::new();
    };
    let out = flux_yaml::emit_v3_indent2(&model);
    out.strip_suffix('\n').map(str::to_string).unwrap_or(out)
}

/// A decoded document as a template value (the JSON step applied).
fn doc_value(data: &str) -> Result<serde_json::Value, String> {
    Ok(to_json(&first_document(data.as_bytes())?)?)
}

/// Helm's `fromYaml`: a map, or `{"Error": message}`.
pub fn from_yaml(s: &str) -> Value {
    let result = match doc_value(s) {
        Ok(serde_json::Value::Object(m)) => return map_value(&m),
        Ok(serde_json::Value::Null) => return Value::dict(BTreeMap::new()),
        Ok(other) => format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        ),
        Err(e) => e,
    };
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::string(result));
    Value::dict(m)
}

/// Helm's `fromYamlArray`: a list, or `[message]`.
pub fn from_yaml_array(s: &str) -> Value {
    let msg = match doc_value(s) {
        Ok(serde_json::Value::Array(items)) => {
            return Value::list(ListTy::Iface, items.iter().map(to_value).collect());
        }
        Ok(serde_json::Value::Null) => return Value::list(ListTy::Iface, Vec::new()),
        Ok(other) => format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        ),
        Err(e) => e,
    };
    Value::list(ListTy::Iface, vec![Value::string(msg)])
}

/// Helm's `fromJson`: a map, or `{"Error": message}`.
pub fn from_json(s: &str) -> Value {
    let msg = match flux_gotemplate::sprig::from_json(s) {
        Ok(Value::Map(m)) => return Value::Map(m),
        Ok(Value::Nil) => return Value::map(MapTy::Iface, BTreeMap::new()),
        Ok(other) => format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            value_json_kind(&other)
        ),
        Err(e) => e.0,
    };
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::string(msg));
    Value::dict(m)
}

/// Helm's `fromJsonArray`: a list, or `[message]`.
pub fn from_json_array(s: &str) -> Value {
    let msg = match flux_gotemplate::sprig::from_json(s) {
        Ok(v @ Value::List(_)) => return v,
        Ok(Value::Nil) => return Value::list(ListTy::Iface, Vec::new()),
        Ok(other) => format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            value_json_kind(&other)
        ),
        Err(e) => e.0,
    };
    Value::list(ListTy::Iface, vec![Value::string(msg)])
}

fn value_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Float(_) | Value::Int(_) | Value::Int64(_) => "number",
        Value::Str(_) => "string",
        Value::List(_) => "array",
        Value::Map(_) => "object",
        _ => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_float64_and_yaml_1_1() {
        let m = read_values(b"a: 1\nb: yes\nc: 2001-12-14\nd: 1e3\n").unwrap();
        assert!(m["a"].as_number().is_some_and(|n| n.is_f64()));
        assert_eq!(m["b"], serde_json::Value::Bool(true));
        assert_eq!(m["c"], serde_json::Value::String("2001-12-14".into()));
        let e = read_values(b"- 1\n").unwrap_err();
        assert!(
            e.0.contains("cannot unmarshal array into Go value of type map[string]interface {}")
        );
        assert!(
            read_values(b"a: .inf\n")
                .unwrap_err()
                .0
                .contains("unsupported value: +Inf")
        );
    }

    #[test]
    fn to_yaml_round_trips_numbers_and_quotes() {
        let v = map_value(&read_values(b"num: 1000000\nf: 1.5\ns: 'yes'\nl: [b, a]\n").unwrap());
        assert_eq!(
            to_yaml(&v),
            "f: 1.5\nl:\n- b\n- a\nnum: 1000000\ns: \"yes\""
        );
    }
}
