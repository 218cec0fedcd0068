//! JSON text as Go's `encoding/json` writes it: objects in the order
//! given (struct fields in declaration order; callers sort map keys),
//! `<`, `>`, `&`, U+2028 and U+2029 escaped, control characters as Go
//! spells them. Providers' payloads must be byte-identical to upstream's.

use serde_json::Value;

/// `json.Marshal` of `value`.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(key, out);
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

/// A Go JSON string literal.
pub fn string(s: &str, out: &mut String) {
    flux_go::json::write_quoted(s, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_as_go() {
        assert_eq!(
            to_string(&json!({"b": "<x> & \u{1} \u{2028}\n", "a": [1, true, null]})),
            r#"{"b":"\u003cx\u003e \u0026 \u0001 \u2028\n","a":[1,true,null]}"#
        );
    }
}
