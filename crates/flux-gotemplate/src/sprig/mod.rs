//! The sprig v3 function library (`sprig.TxtFuncMap()` as Helm uses it,
//! without `env` and `expandenv`, which Helm removes), with sprig's Go
//! signatures so argument errors read as Go's.

use std::collections::{BTreeMap, HashMap};

use crate::exec::Ctx;
use crate::gofmt;
use crate::value::{Func, FuncResult, ListTy, MapTy, Value};

mod crypto;
mod json;
mod lists;
mod math;
mod strings;
mod time;

pub use crypto::{BcryptError, Certificate, bcrypt_hash, bcrypt_verify};
pub use json::{JsonError, from_json, to_json, to_json_pretty};
pub use time::GoTime;

type F = fn(&mut Ctx<'_>, Vec<Value>) -> FuncResult;

/// Every sprig function, keyed by name.
pub fn functions() -> HashMap<String, Func> {
    let mut m = HashMap::new();
    let mut add = |name: &str, params: &str, result: &str, f: F| {
        m.insert(name.to_string(), Func::new(params, result, f));
    };
    strings::register(&mut add);
    lists::register(&mut add);
    math::register(&mut add);
    time::register(&mut add);
    json::register(&mut add);
    crypto::register(&mut add);
    m
}

/// The functions sprig calls non-hermetic: their results depend on the
/// clock, randomness or the network.
pub const NON_HERMETIC: &[&str] = &[
    "date",
    "date_in_zone",
    "date_modify",
    "now",
    "htmlDate",
    "htmlDateInZone",
    "dateInZone",
    "dateModify",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "randBytes",
    "uuidv4",
    "getHostByName",
];

/// sprig's `HermeticTxtFuncMap`: only repeatable functions (same input,
/// same output) — for commit messages and summaries that must not vary.
pub fn hermetic_functions() -> HashMap<String, Func> {
    let mut m = functions();
    for name in NON_HERMETIC {
        m.remove(*name);
    }
    m
}

/// Argument `i` (the executor has checked count and types).
pub(crate) fn arg(a: &[Value], i: usize) -> &Value {
    a.get(i).unwrap_or(&Value::Missing)
}

/// A `string` argument.
pub(crate) fn s(a: &[Value], i: usize) -> &str {
    arg(a, i).as_str().unwrap_or("")
}

/// An `int` argument.
pub(crate) fn n(a: &[Value], i: usize) -> i64 {
    match arg(a, i) {
        Value::Int(x) | Value::Int64(x) => *x,
        Value::Uint32(x) => i64::from(*x),
        Value::Uint8(x) => i64::from(*x),
        _ => 0,
    }
}

/// sprig's `strval`: strings as is, byte slices as text, the rest `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        // Go's string(bytes).
        Value::Bytes(b) => crate::gostr::from_bytes(b),
        Value::Missing | Value::Nil => "<nil>".into(),
        other => gofmt::sprint(std::slice::from_ref(other)),
    }
}

/// sprig's `empty`: Go's zero value test.
pub(crate) fn empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => !o.truth(),
        other => !other.truth(),
    }
}

/// The items of a slice argument, or `None` when it is not a slice.
pub(crate) fn items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) => Some(l.items.clone()),
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        // A named slice type of the host (Helm's `.Capabilities.APIVersions`):
        // reflection sees the slice.
        Value::Object(o) => o.as_list().map(|l| l.items.clone()),
        _ => None,
    }
}

pub(crate) fn iface_list(items: Vec<Value>) -> Value {
    Value::list(ListTy::Iface, items)
}

pub(crate) fn str_list(items: Vec<String>) -> Value {
    Value::list(ListTy::Str, items.into_iter().map(Value::string).collect())
}

pub(crate) fn dict_of(entries: BTreeMap<String, Value>) -> Value {
    Value::map(MapTy::Iface, entries)
}

/// The entries of a map argument (a nil map reads as empty).
pub(crate) fn map_entries(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Map(m) => m.borrow().entries.clone(),
        _ => BTreeMap::new(),
    }
}

/// `reflect.DeepEqual`.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    equal_at(a, b, 0)
}

/// `reflect.DeepEqual` treats a pair it is already comparing as equal (a
/// cycle): past a depth no data reaches, so do we.
fn equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > 1000 {
        return true;
    }
    match (a, b) {
        (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Uint32(x), Value::Uint32(y)) => x == y,
        (Value::Uint8(x), Value::Uint8(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Complex(a, b), Value::Complex(c, d)) => a == c && b == d,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.ty == y.ty
                && x.items.len() == y.items.len()
                && x.items
                    .iter()
                    .zip(&y.items)
                    .all(|(p, q)| equal_at(p, q, depth + 1))
        }
        (Value::Map(x), Value::Map(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.ty == y.ty
                && x.entries.len() == y.entries.len()
                && x.entries
                    .iter()
                    .all(|(k, v)| y.entries.get(k).is_some_and(|w| equal_at(v, w, depth + 1)))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.type_name() == y.type_name() && x.display() == y.display()
        }
        _ => false,
    }
}

/// cast.ToInt64: numbers truncated, strings parsed (base prefixes, a
/// ".0" tail), booleans 0/1, anything else 0.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(x) | Value::Int64(x) => *x,
        Value::Uint32(x) => i64::from(*x),
        Value::Uint8(x) => i64::from(*x),
        // Go's out-of-range conversion on amd64 yields the minimum.
        Value::Float(f) => {
            if f.is_nan() || *f >= 9.223_372_036_854_776e18 || *f < -9.223_372_036_854_776e18 {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_go_int(&trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> String {
    if let Some((int, frac)) = s.split_once('.')
        && !frac.is_empty()
        && frac.bytes().all(|b| b == b'0')
    {
        return int.to_string();
    }
    s.to_string()
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, t) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (2, r)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let clean: String = if t.contains('_') {
        if !crate::parse::underscore_ok(s) {
            return None;
        }
        digits.replace('_', "")
    } else {
        digits.to_string()
    };
    let v = i128::from_str_radix(&clean, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// `strconv.ParseFloat(s, 64)` (what cast's conversions call).
fn parse_go_float(s: &str) -> Option<f64> {
    if s.trim().is_empty() || s.trim() != s {
        return None;
    }
    crate::parse::parse_float_text(s)
}

/// cast.ToFloat64.
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(x) | Value::Int64(x) => *x as f64,
        Value::Uint32(x) => f64::from(*x),
        Value::Uint8(x) => f64::from(*x),
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| e.to_string())?;
    Ok(buf)
}
