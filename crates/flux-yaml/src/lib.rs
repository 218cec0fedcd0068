//! YAML the way kustomize reads and writes it.
//!
//! `kustomize build` decodes every document with go-yaml v3 into Go maps,
//! marshals each resource to JSON, and turns that JSON back into YAML with
//! go-yaml v2 (`sigs.k8s.io/yaml.JSONToYAML`). The output is therefore
//! canonical: comments and styles are gone, keys are sorted (go-yaml v2's
//! "natural" order), numbers are re-typed by the JSON round trip (`1e3` →
//! `1000`, `0755` → `493`), and strings are quoted only when YAML 1.1 would
//! read them as something else (`"yes"`, `"1"`) or when the emitter's rules
//! require it. This crate reproduces each step:
//!
//! - [`parse`]: multi-document YAML → [`Value`]s with go-yaml v3's
//!   resolution (null, bools, Go integer syntax, floats, timestamps as
//!   RFC 3339 strings, anchors, aliases, `<<` merges, tags);
//! - [`Value::json_round_trip`]: what `json.Marshal` + v2 `Unmarshal`
//!   does to numbers;
//! - [`emit`]: go-yaml v2's `Marshal` of the result (block style, 2-space
//!   indent, sequences not indented under keys, quoting and line folding at
//!   80 columns as libyaml's emitter does).
//!
//! ```
//! let docs = flux_yaml::parse("b: 1e3\na: yes\n").unwrap();
//! let out = flux_yaml::emit(&docs[0].json_round_trip().unwrap());
//! assert_eq!(out, "a: \"yes\"\nb: 1000\n");
//! ```

mod emit;
mod gofmt;
mod parse;
mod resolve;

pub use emit::{ScalarStyle, emit, emit_in_order, emit_v3_indent2, scalar_text};
pub use gofmt::format_g32;
pub use parse::{
    Document, EmptyField, Step, parse, parse_documents, parse_documents_first_key_wins, parse_sigs,
};

/// What go-yaml v3 makes of `text` as an untagged plain scalar
/// (`"1"` → `Int(1)`, `"on"` → `String("on")`).
pub fn resolve_plain(text: &str) -> Value {
    resolve::resolve_v3(text)
}

/// Whether YAML 1.1 (go-yaml v2, kyaml's `IsYaml1_1NonString`) reads the
/// plain scalar `text` as anything but a string.
pub fn resolves_non_string_v2(text: &str) -> bool {
    resolve::resolves_non_string_v2(text)
}

/// A YAML/JSON value as Go sees it after decoding into `interface{}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~`, empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A Go `int` (int64).
    Int(i64),
    /// An integer above `i64::MAX` (Go `uint64`).
    Uint(u64),
    /// A Go `float64`.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping with string keys, in document order.
    Map(Vec<(String, Value)>),
}

/// A YAML document that could not be read, or a value JSON cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not valid YAML.
    #[error("yaml: line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Valid YAML that Go's decoder refuses (duplicate keys, bad tags…).
    #[error("yaml: {0}")]
    Decode(String),
    /// A value `encoding/json` cannot marshal (`.inf`, `.nan`).
    #[error("json: unsupported value: {0}")]
    Json(String),
}

/// A string after `json.Marshal` and go-yaml v2's reader: JSON leaves
/// DEL and C1 controls unescaped, which the YAML reader refuses; a raw
/// NEL (U+0085) is a YAML 1.1 line break, folded to a space inside the
/// double-quoted JSON string.
fn json_string(s: &str) -> Result<String, Error> {
    if s.chars()
        .any(|c| matches!(c as u32, 0x7F..=0x84 | 0x86..=0x9F))
    {
        return Err(Error::Decode(
            "control characters are not allowed".to_string(),
        ));
    }
    Ok(s.replace('\u{85}', " "))
}

impl Value {
    /// The value after `json.Marshal` and go-yaml v2's `Unmarshal` of that
    /// JSON (what `kustomize build` writes out): floats with an integral
    /// JSON form become integers; infinities and NaN are errors.
    pub fn json_round_trip(&self) -> Result<Value, Error> {
        Ok(match self {
            Value::Float(f) => gofmt::json_float_round_trip(*f)?,
            Value::Seq(items) => Value::Seq(
                items
                    .iter()
                    .map(Value::json_round_trip)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((json_string(k)?, v.json_round_trip()?)))
                    .collect::<Result<_, Error>>()?,
            ),
            Value::String(s) => Value::String(json_string(s)?),
            other => other.clone(),
        })
    }

    /// The value at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}
