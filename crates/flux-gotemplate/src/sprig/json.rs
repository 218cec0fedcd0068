//! JSON as Go's `encoding/json` writes and reads it for `interface {}`:
//! sorted map keys, HTML-safe escaping (except `toRawJson`), Go's float
//! spelling, every number read back as float64.

use super::{F, arg, s};
use crate::value::Value;

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("toJson", "interface {}", "string", |_, a| {
        Ok(Value::string(
            to_json(arg(&a, 0), true, None).unwrap_or_default(),
        ))
    });
    add("mustToJson", "interface {}", "string,error", |_, a| {
        Ok(to_json(arg(&a, 0), true, None).map(Value::string)?)
    });
    add("toPrettyJson", "interface {}", "string", |_, a| {
        Ok(Value::string(
            to_json(arg(&a, 0), true, Some("  ")).unwrap_or_default(),
        ))
    });
    add(
        "mustToPrettyJson",
        "interface {}",
        "string,error",
        |_, a| Ok(to_json(arg(&a, 0), true, Some("  ")).map(Value::string)?),
    );
    add("toRawJson", "interface {}", "string", |_, a| {
        Ok(to_json(arg(&a, 0), false, None).map(Value::string)?)
    });
    add("mustToRawJson", "interface {}", "string,error", |_, a| {
        Ok(to_json(arg(&a, 0), false, None).map(Value::string)?)
    });
    add("fromJson", "string", "interface {}", |_, a| {
        Ok(from_json(s(&a, 0)).unwrap_or(Value::Nil))
    });
    add("mustFromJson", "string", "interface {},error", |_, a| {
        Ok(from_json(s(&a, 0))?)
    });
}

/// JSON that does not decode, or a value that does not encode, in
/// `encoding/json`'s words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

impl From<String> for JsonError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

// Template functions report errors as text.
impl From<JsonError> for String {
    fn from(error: JsonError) -> String {
        error.0
    }
}

/// Decodes JSON into template values (numbers as float64).
pub fn from_json(text: &str) -> Result<Value, JsonError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => Ok(Value::from_json(&v)),
        Err(e) => Err(JsonError(
            crate::gojson::unmarshal_error(text).unwrap_or_else(|| e.to_string()),
        )),
    }
}

/// `json.Marshal` (`html` = escape `<`, `>`, `&`), indented when `indent`.
pub fn to_json(v: &Value, html: bool, indent: Option<&str>) -> Result<String, JsonError> {
    let mut out = String::new();
    write(&mut out, v, html, indent, 0)?;
    Ok(out)
}

/// `json.MarshalIndent(v, "", "  ")`.
pub fn to_json_pretty(v: &Value) -> Result<String, JsonError> {
    to_json(v, true, Some("  "))
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write(
    out: &mut String,
    v: &Value,
    html: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    // Go's encoder checks for a cycle when it enters a map or slice past
    // a thousand levels, naming the Go type it was entering.
    if depth > 1000 && matches!(v, Value::Map(_) | Value::List(_)) {
        return Err(format!(
            "json: unsupported value: encountered a cycle via {}",
            v.type_name()
        ));
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint32(i) => out.push_str(&i.to_string()),
        Value::Uint8(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float(*f)?),
        Value::Complex(..) => return Err("json: unsupported type: complex128".into()),
        Value::Str(s) => quote(out, s, html),
        Value::Bytes(b) => {
            use base64::Engine as _;
            quote(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b),
                html,
            );
        }
        Value::List(l) if l.nil => out.push_str("null"),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, x, html, indent, depth + 1)?;
            }
            if !l.items.is_empty() {
                newline(out, indent, depth);
            }
            out.push(']');
        }
        Value::Map(m) if m.borrow().nil => out.push_str("null"),
        Value::Map(m) => {
            let m = m.borrow();
            object(out, m.entries.iter(), html, indent, depth)?;
        }
        Value::Object(o) => match o.as_any().downcast_ref::<super::GoTime>() {
            Some(t) => quote(out, &t.format("2006-01-02T15:04:05.999999999Z07:00"), html),
            None => match (o.json_fields(), o.json()) {
                (Some(fields), _) => {
                    object(out, fields.iter().map(|(k, x)| (k, x)), html, indent, depth)?;
                }
                (None, Some(v)) => write(out, &v, html, indent, depth + 1)?,
                (None, None) => out.push_str("{}"),
            },
        },
        Value::Func(_) => return Err("json: unsupported type: func()".into()),
    }
    Ok(())
}

/// A JSON object of `entries` in their order (a map's sorted keys, a
/// struct's fields).
fn object<'e>(
    out: &mut String,
    entries: impl Iterator<Item = (&'e String, &'e Value)>,
    html: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    out.push('{');
    let mut any = false;
    for (k, x) in entries {
        if any {
            out.push(',');
        }
        any = true;
        newline(out, indent, depth + 1);
        quote(out, k, html);
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        write(out, x, html, indent, depth + 1)?;
    }
    if any {
        newline(out, indent, depth);
    }
    out.push('}');
    Ok(())
}

/// encoding/json's float64: shortest, `%e` below 1e-6 or from 1e21.
fn float(f: f64) -> Result<String, String> {
    if f.is_nan() || f.is_infinite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::gofmt::format_g(f, None, false)
        ));
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return Ok(format!("{m}e{}{}", if e < 0 { '-' } else { '+' }, e.abs()));
    }
    Ok(crate::gofmt::format_float_plain(f))
}

fn quote(out: &mut String, s: &str, html: bool) {
    use std::fmt::Write as _;
    out.push('"');
    // Runs of printable ASCII that need no escape are copied whole.
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        let plain = (0x20..0x80).contains(&b)
            && b != b'"'
            && b != b'\\'
            && !(html && matches!(b, b'<' | b'>' | b'&'));
        if plain {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            // A raw byte of a Go string (see gostr): not UTF-8.
            c if crate::gostr::raw_byte(c).is_some() => out.push_str("\\ufffd"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
        i += c.len_utf8();
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}
