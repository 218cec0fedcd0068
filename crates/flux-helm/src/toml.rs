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
            Value::Uint8(i) => self.write(&i.to_string()),
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

/// A TOML document read as BurntSushi/toml decodes into
/// `map[string]interface{}`: integers int64, floats float64, tables
/// `map[string]interface{}`, arrays `[]interface{}`; date-times stay text.
struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: usize,
}

type Table = std::rc::Rc<std::cell::RefCell<flux_gotemplate::Map>>;

fn new_table() -> Table {
    crate::values::new_table()
}

impl Parser<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, String> {
        Err(format!("toml: line {}: {}", self.line, msg.into()))
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }
    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn comment(&mut self) {
        if self.peek() == Some(b'#') {
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.i += 1;
            }
        }
    }
    /// Spaces, comments and newlines (inside arrays).
    fn blanks(&mut self) {
        loop {
            self.spaces();
            self.comment();
            match self.peek() {
                Some(b'\n') => {
                    self.bump();
                }
                Some(b'\r') if self.s.get(self.i + 1) == Some(&b'\n') => {
                    self.i += 1;
                }
                _ => return,
            }
        }
    }
    fn end_of_line(&mut self) -> Result<(), String> {
        self.spaces();
        self.comment();
        if self.peek() == Some(b'\r') {
            self.i += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.bump();
                Ok(())
            }
            Some(c) => self.err(format!("expected a top-level item to end with a newline, comment, or EOF, but got {:?} instead", c as char)),
        }
    }

    fn key(&mut self) -> Result<Vec<String>, String> {
        let mut parts = Vec::new();
        loop {
            self.spaces();
            let part = match self.peek() {
                Some(b'"') => self.basic_string()?,
                Some(b'\'') => self.literal_string()?,
                _ => {
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                    {
                        self.i += 1;
                    }
                    if start == self.i {
                        return self.err("expected a key");
                    }
                    self.text[start..self.i].to_string()
                }
            };
            parts.push(part);
            self.spaces();
            if self.peek() == Some(b'.') {
                self.i += 1;
                continue;
            }
            return Ok(parts);
        }
    }

    /// Skips an opening `\"\"\"` or `'''` and a line break right after it.
    fn open_multiline(&mut self) {
        self.i += 3;
        if self.peek() == Some(b'\r') {
            self.i += 1;
        }
        if self.peek() == Some(b'\n') {
            self.bump();
        }
    }

    /// At three `quote`s: consumes them and closes the string (up to two
    /// more quotes before the last three belong to the content).
    fn close_multiline(&mut self, quote: u8, out: &mut String) -> bool {
        let delim = [quote; 3];
        if !self.s[self.i..].starts_with(&delim) {
            return false;
        }
        self.i += 3;
        while self.peek() == Some(quote) && !self.s[self.i..].starts_with(&delim) {
            out.push(char::from(quote));
            self.i += 1;
        }
        true
    }

    fn basic_string(&mut self) -> Result<String, String> {
        if self.s[self.i..].starts_with(b"\"\"\"") {
            self.open_multiline();
            let mut out = String::new();
            loop {
                if self.close_multiline(b'"', &mut out) {
                    return Ok(out);
                }
                match self.peek() {
                    None => return self.err("unexpected EOF; expected '\"\"\"'"),
                    Some(b'\\') => {
                        // A line-ending backslash trims the following blanks.
                        let mut j = self.i + 1;
                        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
                            j += 1;
                        }
                        if matches!(self.s.get(j), Some(b'\n' | b'\r')) {
                            self.i = j;
                            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                                self.bump();
                            }
                        } else {
                            out.push(self.escape()?);
                        }
                    }
                    Some(_) => out.push(self.char()?),
                }
            }
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err("unexpected EOF; expected '\"'"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => out.push(self.char()?),
            }
        }
    }

    fn char(&mut self) -> Result<char, String> {
        let rest = &self.text[self.i..];
        let Some(c) = rest.chars().next() else {
            return self.err("unexpected EOF");
        };
        if c == '\n' {
            self.line += 1;
        }
        self.i += c.len_utf8();
        Ok(c)
    }

    fn escape(&mut self) -> Result<char, String> {
        self.i += 1;
        let c = self.bump();
        Ok(match c {
            Some(b'b') => '\u{8}',
            Some(b't') => '\t',
            Some(b'n') => '\n',
            Some(b'f') => '\u{c}',
            Some(b'r') => '\r',
            Some(b'e') => '\u{1b}',
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'u') | Some(b'U') | Some(b'x') => {
                let n = match c {
                    Some(b'u') => 4,
                    Some(b'x') => 2,
                    _ => 8,
                };
                let hex = self.text.get(self.i..self.i + n).unwrap_or("");
                self.i += n;
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("toml: line {}: invalid escape {hex:?}", self.line))?
            }
            Some(other) => {
                return self.err(format!("invalid escape character {:?}; only the following escape characters are allowed: \\b, \\t, \\n, \\f, \\r, \\\", \\\\, \\uXXXX, and \\UXXXXXXXX", other as char));
            }
            None => return self.err("unexpected EOF"),
        })
    }

    fn literal_string(&mut self) -> Result<String, String> {
        if self.s[self.i..].starts_with(b"'''") {
            self.open_multiline();
            let mut out = String::new();
            loop {
                if self.close_multiline(b'\'', &mut out) {
                    return Ok(out);
                }
                if self.peek().is_none() {
                    return self.err("unexpected EOF; expected \"'''\"");
                }
                out.push(self.char()?);
            }
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err("unexpected EOF; expected \"'\""),
                Some(b'\'') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(_) => out.push(self.char()?),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 256 {
            return self.err("value nests too deep");
        }
        self.spaces();
        match self.peek() {
            Some(b'"') => Ok(Value::string(self.basic_string()?)),
            Some(b'\'') => Ok(Value::string(self.literal_string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.blanks();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.blanks();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => return self.err("expected a comma (',') or array terminator (']')"),
                    }
                }
                Ok(Value::list(flux_gotemplate::ListTy::Iface, items))
            }
            Some(b'{') => {
                self.i += 1;
                let t = new_table();
                self.spaces();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Map(t));
                }
                loop {
                    let key = self.key()?;
                    self.spaces();
                    if self.bump() != Some(b'=') {
                        return self.err("expected key separator '='");
                    }
                    let v = self.value(depth + 1)?;
                    self.assign(&t, &key, v)?;
                    self.spaces();
                    match self.bump() {
                        Some(b',') => continue,
                        Some(b'}') => break,
                        _ => return self.err("expected a comma or an inline table terminator '}'"),
                    }
                }
                Ok(Value::Map(t))
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, b'+' | b'-' | b'_' | b'.' | b':' | b' ')
                }) {
                    // A space only inside a date-time (`1979-05-27 07:32:00`).
                    if self.peek() == Some(b' ') {
                        let date = self.i - start == 10 && self.s[start + 4] == b'-';
                        if !(date && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)) {
                            break;
                        }
                    }
                    self.i += 1;
                }
                let word = &self.text[start..self.i];
                scalar(word).ok_or_else(|| {
                    format!(
                        "toml: line {}: expected value but found {word:?} instead",
                        self.line
                    )
                })
            }
        }
    }

    fn assign(&self, t: &Table, key: &[String], v: Value) -> Result<(), String> {
        let mut cur = t.clone();
        for (n, part) in key.iter().enumerate() {
            if n + 1 == key.len() {
                let mut m = cur.borrow_mut();
                if m.entries.contains_key(part) {
                    return self.err(format!("key {:?} has already been defined", key.join(".")));
                }
                m.entries.insert(part.clone(), v);
                return Ok(());
            }
            let next = {
                let mut m = cur.borrow_mut();
                let e = m
                    .entries
                    .entry(part.clone())
                    .or_insert_with(|| Value::Map(new_table()));
                match e {
                    Value::Map(t) => t.clone(),
                    _ => return self.err(format!("key {:?} is not a table", part)),
                }
            };
            cur = next;
        }
        Ok(())
    }
}

fn scalar(w: &str) -> Option<Value> {
    match w {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "inf" | "+inf" => return Some(Value::Float(f64::INFINITY)),
        "-inf" => return Some(Value::Float(f64::NEG_INFINITY)),
        "nan" | "+nan" | "-nan" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let b = w.as_bytes();
    // Date-times (offset, local) stay as written.
    if b.len() >= 8 && (b.get(4) == Some(&b'-') || b.get(2) == Some(&b':')) {
        return Some(Value::str(w));
    }
    let underscores_ok = |d: &str| !d.starts_with('_') && !d.ends_with('_') && !d.contains("__");
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(d) = w.strip_prefix(prefix) {
            if !underscores_ok(d) {
                return None;
            }
            let clean: String = d.chars().filter(|c| *c != '_').collect();
            return i64::from_str_radix(&clean, radix).ok().map(Value::Int64);
        }
    }
    let digits = w.trim_start_matches(['+', '-']);
    if digits.is_empty() || !underscores_ok(digits) {
        return None;
    }
    let clean: String = w.chars().filter(|c| *c != '_').collect();
    let unsigned = clean.trim_start_matches(['+', '-']);
    if unsigned.bytes().all(|c| c.is_ascii_digit()) {
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return None;
        }
        return clean.parse::<i64>().ok().map(Value::Int64);
    }
    let int_part = unsigned.split(['.', 'e', 'E']).next().unwrap_or("");
    if int_part.is_empty() || (int_part.len() > 1 && int_part.starts_with('0')) {
        return None;
    }
    if unsigned.ends_with('.') || unsigned.contains(".e") || unsigned.contains(".E") {
        return None;
    }
    clean.parse::<f64>().ok().map(Value::Float)
}

/// Parses a TOML document.
fn parse_toml(text: &str) -> Result<Table, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        line: 1,
    };
    let root = new_table();
    let mut current = root.clone();
    let mut defined: std::collections::HashSet<Vec<String>> = std::collections::HashSet::new();
    loop {
        p.blanks();
        match p.peek() {
            None => return Ok(root),
            Some(b'[') => {
                let array = p.s[p.i..].starts_with(b"[[");
                p.i += if array { 2 } else { 1 };
                let key = p.key()?;
                p.spaces();
                let close: &[u8] = if array { b"]]" } else { b"]" };
                if !p.s[p.i..].starts_with(close) {
                    return p.err("expected ']' to close the table name");
                }
                p.i += close.len();
                p.end_of_line()?;
                // Walk to the parent, creating tables (the last element of
                // an array of tables is the one extended).
                let mut t = root.clone();
                for part in &key[..key.len() - 1] {
                    let next = {
                        let mut m = t.borrow_mut();
                        let e = m
                            .entries
                            .entry(part.clone())
                            .or_insert_with(|| Value::Map(new_table()));
                        match e {
                            Value::Map(x) => x.clone(),
                            Value::List(l) => match l.items.last() {
                                Some(Value::Map(x)) => x.clone(),
                                _ => return p.err(format!("key {part:?} is not a table")),
                            },
                            _ => return p.err(format!("key {part:?} is not a table")),
                        }
                    };
                    t = next;
                }
                let last = key[key.len() - 1].clone();
                let fresh = new_table();
                if array {
                    let mut m = t.borrow_mut();
                    let e = m
                        .entries
                        .entry(last)
                        .or_insert_with(|| Value::list(flux_gotemplate::ListTy::Iface, Vec::new()));
                    let Value::List(l) = e else {
                        return p.err(format!("key {:?} has already been defined", key.join(".")));
                    };
                    std::rc::Rc::make_mut(l)
                        .items
                        .push(Value::Map(fresh.clone()));
                    current = fresh;
                } else {
                    if !defined.insert(key.clone()) {
                        return p.err(format!(
                            "table {:?} has already been defined",
                            key.join(".")
                        ));
                    }
                    let existing = t.borrow().entries.get(&last).cloned();
                    current = match existing {
                        Some(Value::Map(x)) => x,
                        Some(_) => {
                            return p
                                .err(format!("key {:?} has already been defined", key.join(".")));
                        }
                        None => {
                            t.borrow_mut()
                                .entries
                                .insert(last, Value::Map(fresh.clone()));
                            fresh
                        }
                    };
                }
            }
            Some(_) => {
                let key = p.key()?;
                p.spaces();
                if p.bump() != Some(b'=') {
                    return p.err(format!(
                        "expected key separator '=', but got {:?} instead",
                        p.s.get(p.i.saturating_sub(1))
                            .map(|c| *c as char)
                            .unwrap_or(' ')
                    ));
                }
                let v = p.value(0)?;
                p.assign(&current, &key, v)?;
                p.end_of_line()?;
            }
        }
    }
}

/// Helm's `fromToml`: a map, or `{"Error": message}`.
pub fn from_toml(text: &str) -> Value {
    match parse_toml(text) {
        Ok(t) => Value::Map(t),
        Err(e) => {
            let mut m = std::collections::BTreeMap::new();
            m.insert("Error".to_string(), Value::string(e));
            Value::dict(m)
        }
    }
}
