//! Helm's `toToml` (BurntSushi/toml v1.6's encoder on template values):
//! a map's plain values first, then its tables and arrays of tables, keys
//! sorted, nested tables indented two spaces per level, floats always with
//! a decimal point or exponent (`1.0`), TOML's string escapes; errors come
//! back as the output text, as in Helm.

use flux_gotemplate::Value;

use crate::values::as_table;

struct Enc {
    out: String,
    written: bool,
}

fn bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if k.is_empty() {
        "\"\"".into()
    } else if bare(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn key_string(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn is_nil(v: &Value) -> bool {
    matches!(v, Value::Nil | Value::Missing)
}

fn list_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.items.clone()),
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        _ => None,
    }
}

/// An array whose elements are all tables (an empty one is not).
fn is_table_array(items: &[Value]) -> Result<bool, String> {
    if items.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for i in items {
        if is_nil(i) {
            return Err("toml: cannot encode array with nil element".into());
        }
        if as_table(i).is_none() && !matches!(i, Value::Map(_)) {
            all = false;
        }
    }
    Ok(all)
}

fn is_table_like(v: &Value) -> Result<bool, String> {
    Ok(match v {
        Value::Map(_) => true,
        _ => match list_items(v) {
            Some(items) => is_table_array(&items)?,
            None => false,
        },
    })
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    let s = flux_gotemplate::gofmt::format_g(f, None, false);
    if s.contains('e') || s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

impl Enc {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.write("\n");
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn element(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        if depth > 1000 {
            return Err("toml: value nests too deep".into());
        }
        match v {
            Value::Str(s) => self.write(&quoted(s)),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) | Value::Int64(i) => self.write(&i.to_string()),
            Value::Uint32(i) => self.write(&i.to_string()),
            Value::Float(f) => self.write(&float_text(*f)),
            Value::Map(m) => {
                let m = m.borrow();
                let (direct, sub) = self.split(&m.entries)?;
                self.write("{");
                let n_sub = sub.len();
                for (group, trail) in [(direct, n_sub > 0), (sub, false)] {
                    let last = group.len();
                    for (i, (k, val)) in group.into_iter().enumerate() {
                        if is_nil(&val) {
                            continue;
                        }
                        self.write(&format!("{} = ", key_part(&k)));
                        self.element(&val, depth + 1)?;
                        if trail || i + 1 != last {
                            self.write(", ");
                        }
                    }
                }
                self.write("}");
            }
            other => match list_items(other) {
                Some(items) => {
                    is_table_array(&items)?;
                    self.write("[");
                    for (i, x) in items.iter().enumerate() {
                        self.element(x, depth + 1)?;
                        if i + 1 != items.len() {
                            self.write(", ");
                        }
                    }
                    self.write("]");
                }
                None => {
                    return Err(format!("toml: unexpected type: {}", other.type_name()));
                }
            },
        }
        Ok(())
    }

    /// A map's keys split into plain values and tables, each sorted.
    #[allow(clippy::type_complexity)]
    fn split(
        &self,
        entries: &std::collections::BTreeMap<String, Value>,
    ) -> Result<(Vec<(String, Value)>, Vec<(String, Value)>), String> {
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in entries {
            if is_table_like(v)? {
                sub.push((k.clone(), v.clone()));
            } else {
                direct.push((k.clone(), v.clone()));
            }
        }
        Ok((direct, sub))
    }

    fn key_value(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.is_empty() {
            return self.element(v, 0);
        }
        let last = key.last().map(String::as_str).unwrap_or_default();
        self.write(&format!("{}{} = ", Self::indent(key), key_part(last)));
        self.element(v, 0)?;
        self.newline();
        Ok(())
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() > 1000 {
            return Err("toml: value nests too deep".into());
        }
        match v {
            Value::Nil | Value::Missing => Ok(()),
            Value::Map(m) => {
                if key.len() == 1 {
                    self.newline();
                }
                if !key.is_empty() {
                    self.write(&format!("{}[{}]", Self::indent(key), key_string(key)));
                    self.newline();
                }
                let entries = m.borrow().entries.clone();
                self.map_body(key, &entries)
            }
            other => match list_items(other) {
                Some(items) if is_table_array(&items)? => {
                    if key.is_empty() {
                        return Err("toml: top-level values must be Go maps or structs".into());
                    }
                    for item in &items {
                        if is_nil(item) {
                            continue;
                        }
                        self.newline();
                        self.write(&format!("{}[[{}]]", Self::indent(key), key_string(key)));
                        self.newline();
                        if let Value::Map(m) = item {
                            let entries = m.borrow().entries.clone();
                            self.map_body(key, &entries)?;
                        }
                    }
                    Ok(())
                }
                _ => self.key_value(key, other),
            },
        }
    }

    fn map_body(
        &mut self,
        key: &[String],
        entries: &std::collections::BTreeMap<String, Value>,
    ) -> Result<(), String> {
        let (direct, sub) = self.split(entries)?;
        for (k, v) in direct.into_iter().chain(sub) {
            if is_nil(&v) {
                continue;
            }
            let mut next = key.to_vec();
            next.push(k);
            self.encode(&next, &v)?;
        }
        Ok(())
    }
}

/// Helm's `toToml`: the TOML text, or the encoder's error text.
pub fn to_toml(v: &Value) -> String {
    let mut e = Enc {
        out: String::new(),
        written: false,
    };
    match e.encode(&[], v) {
        Ok(()) => e.out,
        Err(err) => err,
    }
}
