//! Helm's `strvals`: `a.b[0].c=v,d={x,y}` into nested maps and lists, with
//! Helm's typing (`true`/`false`/`null`/`0`/decimal integers), escapes,
//! list indexes (at most 65,536), key nesting (at most 30 levels) and
//! Helm's error messages — including the ones Go produces when a key
//! changes type (`interface conversion: …`).

use std::collections::BTreeMap;

use flux_gotemplate::{ListTy, Value};

/// Largest list index `--set` accepts.
pub const MAX_INDEX: i64 = 65_536;
/// Deepest `a.b.c…` nesting `--set` accepts.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// How values are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--set`: `true`/`false`/`null`/integers are typed, the rest strings.
    Typed,
    /// `--set-string`: everything is a string.
    String,
    /// `--set-json`: each value is a JSON document.
    Json,
    /// `--set-literal`: one key, and everything after `=` is its string
    /// value (no commas, escapes or lists).
    Literal,
}

/// A `--set` error, worded as Helm's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type Map = BTreeMap<String, Value>;

/// Why a read stopped.
enum Stop {
    /// At this stop rune.
    At(char),
    /// At the end of the input.
    Eof,
}

/// How parsing of a key failed: an error, or the input ended cleanly.
enum Fail {
    Eof,
    Err(String),
}

type R<T> = Result<T, Fail>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(Fail::Err(msg.into()))
}

/// Reads a value for `--set-file`: the file's content for its name.
pub type FileReader<'a> = dyn Fn(&str) -> Result<Value, String> + 'a;

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    mode: Mode,
    file: Option<&'a FileReader<'a>>,
}

/// Parses `s` (`--set`, `--set-string` or `--set-json`) into `dest`.
pub fn parse_into(s: &str, dest: &mut Map, mode: Mode) -> Result<(), Error> {
    if mode == Mode::Literal {
        let mut p = Literal {
            chars: s.chars().collect(),
            pos: 0,
        };
        return p.parse(dest).map_err(Error);
    }
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        mode,
        file: None,
    };
    p.parse(dest)
}

/// Parses `s` into a new map.
pub fn parse(s: &str, mode: Mode) -> Result<Map, Error> {
    let mut m = Map::new();
    parse_into(s, &mut m, mode)?;
    Ok(m)
}

/// `--set-file`: each value is a file name, replaced by what `reader`
/// returns for it.
pub fn parse_file_into(s: &str, dest: &mut Map, reader: &FileReader<'_>) -> Result<(), Error> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        mode: Mode::String,
        file: Some(reader),
    };
    p.parse(dest)
}

fn typed(v: &str, as_string: bool) -> Value {
    if as_string {
        return Value::str(v);
    }
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if v == "0" {
        return Value::Int64(0);
    }
    if !v.is_empty() && !v.starts_with('0') {
        // strconv.ParseInt(v, 10, 64): an optional sign, decimal digits.
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = v.parse::<i64>()
        {
            return Value::Int64(i);
        }
    }
    Value::str(v)
}

/// Go's type name of a value as `interface conversion` messages spell it.
fn go_type(v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => "nil".into(),
        other => other.type_name(),
    }
}

fn as_map(v: &Value) -> Option<Map> {
    match v {
        Value::Map(m) => Some(m.borrow().entries.clone()),
        _ => None,
    }
}

fn as_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.items.clone()),
        _ => None,
    }
}

fn list_value(items: Vec<Value>) -> Value {
    Value::list(ListTy::Iface, items)
}

fn set(data: &mut Map, key: &str, val: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), val);
    }
}

fn set_index(mut list: Vec<Value>, index: i64, val: Value) -> Result<Vec<Value>, String> {
    if index < 0 {
        return Err(format!("negative {index} index not allowed"));
    }
    if index > MAX_INDEX {
        return Err(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    let i = index as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = val;
    Ok(list)
}

impl Parser<'_> {
    fn parse(&mut self, data: &mut Map) -> Result<(), Error> {
        loop {
            match self.key(data, 0) {
                Ok(()) => continue,
                Err(Fail::Eof) => return Ok(()),
                Err(Fail::Err(e)) => return Err(Error(e)),
            }
        }
    }

    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Runes up to one of `stop` (backslash escapes the next rune).
    fn runes_until(&mut self, stop: &[char]) -> (String, Stop) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, Stop::Eof),
                Some(c) if stop.contains(&c) => return (v, Stop::At(c)),
                Some('\\') => match self.read() {
                    None => return (v, Stop::Eof),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn reader(&self, rs: &str) -> Result<Value, String> {
        match self.file {
            Some(f) => f(rs),
            None => Ok(typed(rs, self.mode == Mode::String)),
        }
    }

    fn key(&mut self, data: &mut Map, mut level: usize) -> R<()> {
        let (k, stop) = self.runes_until(&['=', '[', ',', '.']);
        match stop {
            Stop::Eof => {
                if k.is_empty() {
                    return Err(Fail::Eof);
                }
                err(format!("key {} has no value", quote(&k)))
            }
            Stop::At('[') => {
                let i = self
                    .key_index()
                    .map_err(|e| Fail::Err(format!("error parsing index: {e}")))?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(v) => as_list(v).ok_or_else(|| Fail::Err(format!("unable to parse key: interface conversion: interface {{}} is {}, not []interface {{}}", go_type(v))))?,
                };
                let (list, r) = self.list_item(list, i, level);
                set(data, &k, list_value(list));
                r
            }
            Stop::At('=') => {
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        set(data, &k, Value::Nil);
                        return Ok(());
                    }
                    let v = self.json_value()?;
                    set(data, &k, v);
                    self.empty_val();
                    return Ok(());
                }
                match self.val_list() {
                    Ok(vl) => {
                        set(data, &k, list_value(vl));
                        Ok(())
                    }
                    Err(ListFail::Eof) => {
                        set(data, &k, Value::str(""));
                        Err(Fail::Eof)
                    }
                    Err(ListFail::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        match self.reader(&rs) {
                            Ok(v) => {
                                set(data, &k, v);
                                Ok(())
                            }
                            Err(e) => {
                                set(data, &k, Value::Nil);
                                err(e)
                            }
                        }
                    }
                    Err(ListFail::Err(e)) => err(e),
                }
            }
            Stop::At(',') => {
                set(data, &k, Value::str(""));
                err(format!(
                    "key {} has no value (cannot end with ,)",
                    quote(&k)
                ))
            }
            Stop::At(_) => {
                // '.'
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let existing = data.get(&k).cloned();
                let mut inner = match &existing {
                    None => Map::new(),
                    Some(v) => as_map(v).ok_or_else(|| Fail::Err(format!("unable to parse key: interface conversion: interface {{}} is {}, not map[string]interface {{}}", go_type(v))))?,
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return err(format!("key map {} has no value", quote(&k)));
                }
                if !inner.is_empty() {
                    match &existing {
                        // Go writes into the map it found: whoever else
                        // holds that map sees the change (Flux's values
                        // composition relies on it).
                        Some(Value::Map(m)) => m.borrow_mut().entries = inner,
                        _ => set(data, &k, Value::dict(inner)),
                    }
                }
                e
            }
        }
    }

    fn key_index(&mut self) -> Result<i64, String> {
        let (v, stop) = self.runes_until(&[']']);
        if matches!(stop, Stop::Eof) {
            return Err("EOF".into());
        }
        atoi(&v)
    }

    fn list_item(&mut self, list: Vec<Value>, i: i64, level: usize) -> (Vec<Value>, R<()>) {
        if i < 0 {
            return (list, err(format!("negative {i} index not allowed")));
        }
        let (k, stop) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                err(format!(
                    "unexpected data at end of array index: {}",
                    rune_dump(&k)
                )),
            );
        }
        match stop {
            Stop::Eof => (list, Err(Fail::Eof)),
            Stop::At('=') => {
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        return wrap(set_index(list.clone(), i, Value::Nil), list);
                    }
                    return match self.json_value() {
                        Ok(v) => match set_index(list.clone(), i, v) {
                            Ok(l) => {
                                self.empty_val();
                                (l, Ok(()))
                            }
                            Err(e) => (list, err(e)),
                        },
                        Err(e) => (list, Err(e)),
                    };
                }
                match self.val_list() {
                    Ok(vl) => wrap(set_index(list.clone(), i, list_value(vl)), list),
                    Err(ListFail::Eof) => wrap(set_index(list.clone(), i, Value::str("")), list),
                    Err(ListFail::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        match self.reader(&rs) {
                            Ok(v) => wrap(set_index(list.clone(), i, v), list),
                            Err(e) => (list, err(e)),
                        }
                    }
                    Err(ListFail::Err(e)) => (list, err(e)),
                }
            }
            Stop::At('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, err(format!("error parsing index: {e}"))),
                };
                let current = match list.get(i as usize) {
                    Some(v) if !v.is_nil() => match as_list(v) {
                        Some(l) => l,
                        None => {
                            let msg = format!(
                                "unable to parse key: interface conversion: interface {{}} is {}, not []interface {{}}",
                                go_type(v)
                            );
                            return (list, err(msg));
                        }
                    },
                    _ => Vec::new(),
                };
                let (inner, r) = self.list_item(current, next, level);
                if let Err(e) = r {
                    return (list, Err(e));
                }
                wrap(set_index(list.clone(), i, list_value(inner)), list)
            }
            Stop::At(_) => {
                // '.'
                let mut inner = list.get(i as usize).and_then(as_map).unwrap_or_default();
                let mut list = list;
                if (i as usize) < list.len() && as_map(&list[i as usize]).is_none() {
                    list[i as usize] = Value::dict(Map::new());
                }
                if let Err(e) = self.key(&mut inner, level) {
                    return (list, Err(e));
                }
                wrap(set_index(list.clone(), i, Value::dict(inner)), list)
            }
        }
    }

    /// Skips spaces; true at the end or after a comma.
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    /// One JSON document from the rest of the input (Go's json.Decoder).
    fn json_value(&mut self) -> R<Value> {
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(v)) => {
                let used = rest[..stream.byte_offset()].chars().count();
                self.pos += used;
                Ok(Value::from_json(&v))
            }
            Some(Err(e)) => {
                err(flux_gotemplate::gojson::decode_error(&rest).unwrap_or_else(|| e.to_string()))
            }
            None => err("EOF"),
        }
    }

    fn val_list(&mut self) -> Result<Vec<Value>, ListFail> {
        match self.read() {
            None => return Err(ListFail::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(ListFail::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, stop) = self.runes_until(&[',', '}']);
            match stop {
                Stop::Eof => return Err(ListFail::Err("list must terminate with '}'".into())),
                Stop::At('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    let v = self.reader(&rs).map_err(ListFail::Err)?;
                    list.push(v);
                    return Ok(list);
                }
                Stop::At(_) => {
                    let v = self.reader(&rs).map_err(ListFail::Err)?;
                    list.push(v);
                }
            }
        }
    }
}

enum ListFail {
    Eof,
    NotList,
    Err(String),
}

fn wrap(r: Result<Vec<Value>, String>, old: Vec<Value>) -> (Vec<Value>, R<()>) {
    match r {
        Ok(l) => (l, Ok(())),
        Err(e) => (old, err(e)),
    }
}

/// Go's `strconv.Atoi` with its error wording.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", quote(s)))
}

/// Go's `%q` of a `[]rune`: `['x' 'y']`.
fn rune_dump(k: &str) -> String {
    let runes: Vec<String> = k
        .chars()
        .map(|c| flux_gotemplate::gofmt::sprintf("%q", &[Value::Int(i64::from(u32::from(c)))]))
        .collect();
    format!("[{}]", runes.join(" "))
}

fn quote(s: &str) -> String {
    flux_gotemplate::gofmt::quote(s)
}

/// Helm's literal parser (`--set-literal`).
struct Literal {
    chars: Vec<char>,
    pos: usize,
}

/// Why a literal read stopped: at a stop rune, or at the end.
type LitStop = Option<char>;

fn conversion(v: &Value, want: &str) -> String {
    format!(
        "unable to parse key: interface conversion: interface {{}} is {}, not {want}",
        go_type(v)
    )
}

impl Literal {
    fn parse(&mut self, data: &mut Map) -> Result<(), String> {
        loop {
            match self.key(data, 0) {
                Ok(()) => continue,
                Err(None) => return Ok(()),
                Err(Some(e)) => return Err(e),
            }
        }
    }

    fn until(&mut self, stop: &[char]) -> (String, LitStop) {
        let mut v = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if stop.contains(&c) {
                return (v, Some(c));
            }
            v.push(c);
        }
        (v, None)
    }

    /// `Err(None)` is Go's `io.EOF`.
    fn key(&mut self, data: &mut Map, mut level: usize) -> Result<(), Option<String>> {
        let (k, stop) = self.until(&['=', '[', '.']);
        match stop {
            None if k.is_empty() => Err(None),
            None => Err(Some(format!("key {} has no value", quote(&k)))),
            Some('=') => {
                let (v, _) = self.until(&[]);
                set(data, &k, Value::string(v));
                Ok(())
            }
            Some('.') => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(Some(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let existing = data.get(&k).cloned();
                let mut inner = match &existing {
                    None => Map::new(),
                    Some(v) => {
                        as_map(v).ok_or_else(|| Some(conversion(v, "map[string]interface {}")))?
                    }
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return Err(Some(format!("key map {} has no value", quote(&k))));
                }
                if !inner.is_empty() {
                    match &existing {
                        // In place, as Go (see `Parser::key`).
                        Some(Value::Map(m)) => m.borrow_mut().entries = inner,
                        _ => set(data, &k, Value::dict(inner)),
                    }
                }
                e
            }
            Some(_) => {
                // '['
                let i = self
                    .index()
                    .map_err(|e| Some(format!("error parsing index: {e}")))?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(v) => as_list(v).ok_or_else(|| Some(conversion(v, "[]interface {}")))?,
                };
                let (list, r) = self.list_item(list, i, level);
                set(data, &k, list_value(list));
                r
            }
        }
    }

    fn index(&mut self) -> Result<i64, String> {
        let (v, stop) = self.until(&[']']);
        if stop.is_none() {
            return Err("EOF".into());
        }
        atoi(&v)
    }

    fn list_item(
        &mut self,
        list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> (Vec<Value>, Result<(), Option<String>>) {
        if i < 0 {
            return (list, Err(Some(format!("negative {i} index not allowed"))));
        }
        let (k, stop) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                Err(Some(format!(
                    "unexpected data at end of array index: {}",
                    rune_dump(&k)
                ))),
            );
        }
        let lit = |r: Result<Vec<Value>, String>, old: Vec<Value>| match r {
            Ok(l) => (l, Ok(())),
            Err(e) => (old, Err(Some(e))),
        };
        match stop {
            None => (list, Err(None)),
            Some('=') => {
                let (v, _) = self.until(&[]);
                lit(set_index(list.clone(), i, Value::string(v)), list)
            }
            Some('.') => {
                let mut list = list;
                let mut inner = Map::new();
                if (i as usize) < list.len() {
                    match as_map(&list[i as usize]) {
                        Some(m) => inner = m,
                        None => list[i as usize] = Value::dict(Map::new()),
                    }
                }
                if let Err(e) = self.key(&mut inner, level) {
                    return (list, Err(e));
                }
                lit(set_index(list.clone(), i, Value::dict(inner)), list)
            }
            Some(_) => {
                // '['
                let next = match self.index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(Some(format!("error parsing index: {e}")))),
                };
                let current = match list.get(i as usize) {
                    Some(v) if !v.is_nil() => match as_list(v) {
                        Some(l) => l,
                        None => {
                            let msg = conversion(v, "[]interface {}");
                            return (list, Err(Some(msg)));
                        }
                    },
                    _ => Vec::new(),
                };
                let (inner, r) = self.list_item(current, next, level);
                if let Err(e) = r {
                    return (list, Err(e));
                }
                lit(set_index(list.clone(), i, list_value(inner)), list)
            }
        }
    }
}
