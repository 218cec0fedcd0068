//! Go's predefined template functions: `and`, `or`, `not`, `len`,
//! `index`, `slice`, `print`, `printf`, `println`, `html`, `js`,
//! `urlquery`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `call`.

use std::collections::HashMap;

use crate::gofmt;
use crate::value::{Func, ListTy, MapTy, Value};

fn b(
    params: &str,
    result: &str,
    f: impl Fn(&mut crate::exec::Ctx<'_>, Vec<Value>) -> crate::value::FuncResult + 'static,
) -> Func {
    let mut f = Func::new(params, result, f);
    f.builtin = true;
    f
}

/// The builtins, keyed by name.
pub fn builtins() -> HashMap<String, Func> {
    let mut m = HashMap::new();
    let rv = "reflect.Value";
    m.insert(
        "and".into(),
        b(&format!("{rv},...{rv}"), rv, |_, a| {
            Ok(a.into_iter().last().unwrap_or_default())
        }),
    );
    m.insert(
        "or".into(),
        b(&format!("{rv},...{rv}"), rv, |_, a| {
            Ok(a.into_iter().last().unwrap_or_default())
        }),
    );
    m.insert(
        "not".into(),
        b(rv, "bool", |_, a| {
            Ok(Value::Bool(!a.first().is_some_and(Value::truth)))
        }),
    );
    m.insert(
        "len".into(),
        b(rv, "int,error", |_, a| {
            length(a.first().unwrap_or(&Value::Missing)).map(Value::Int)
        }),
    );
    m.insert(
        "index".into(),
        b(&format!("{rv},...{rv}"), "reflect.Value,error", |_, a| {
            index(&a)
        }),
    );
    m.insert(
        "slice".into(),
        b(&format!("{rv},...{rv}"), "reflect.Value,error", |_, a| {
            slice(&a)
        }),
    );
    m.insert(
        "print".into(),
        b("...interface {}", "string", |_, a| {
            Ok(Value::string(gofmt::sprint(&a)))
        }),
    );
    m.insert(
        "println".into(),
        b("...interface {}", "string", |_, a| {
            Ok(Value::string(gofmt::sprintln(&a)))
        }),
    );
    m.insert(
        "printf".into(),
        b("string,...interface {}", "string", |_, a| {
            let f = a.first().and_then(Value::as_str).unwrap_or("").to_string();
            Ok(Value::string(gofmt::sprintf(&f, &a[1.min(a.len())..])))
        }),
    );
    m.insert(
        "html".into(),
        b("...interface {}", "string", |_, a| {
            Ok(Value::string(html_escape(&eval_args(&a))))
        }),
    );
    m.insert(
        "js".into(),
        b("...interface {}", "string", |_, a| {
            Ok(Value::string(js_escape(&eval_args(&a))))
        }),
    );
    m.insert(
        "urlquery".into(),
        b("...interface {}", "string", |_, a| {
            Ok(Value::string(query_escape(&eval_args(&a))))
        }),
    );
    m.insert(
        "eq".into(),
        b(&format!("{rv},...{rv}"), "bool,error", |_, a| {
            let (first, rest) = a
                .split_first()
                .map_or((Value::Missing, &[][..]), |(f, r)| (f.clone(), r));
            eq(&first, rest).map(Value::Bool)
        }),
    );
    m.insert(
        "ne".into(),
        b(&format!("{rv},{rv}"), "bool,error", |_, a| {
            eq(&a[0], &a[1..2]).map(|t| Value::Bool(!t))
        }),
    );
    m.insert(
        "lt".into(),
        b(&format!("{rv},{rv}"), "bool,error", |_, a| {
            lt(&a[0], &a[1]).map(Value::Bool)
        }),
    );
    m.insert(
        "le".into(),
        b(&format!("{rv},{rv}"), "bool,error", |_, a| {
            le(&a[0], &a[1]).map(Value::Bool)
        }),
    );
    m.insert(
        "gt".into(),
        b(&format!("{rv},{rv}"), "bool,error", |_, a| {
            le(&a[0], &a[1]).map(|t| Value::Bool(!t))
        }),
    );
    m.insert(
        "ge".into(),
        b(&format!("{rv},{rv}"), "bool,error", |_, a| {
            lt(&a[0], &a[1]).map(|t| Value::Bool(!t))
        }),
    );
    m.insert(
        "call".into(),
        b(&format!("{rv},...{rv}"), "reflect.Value,error", |ctx, a| {
            // The executor passes the callee's text first, as Go does.
            let Some((callee, a)) = a.split_first() else {
                return Err("call of nil".into());
            };
            let callee = callee.as_str().unwrap_or("").to_string();
            let Some((f, rest)) = a.split_first() else {
                return Err("call of nil".into());
            };
            match f {
                Value::Func(func) => {
                    let mut args = Vec::new();
                    for (i, v) in rest.iter().enumerate() {
                        let t = func
                            .params
                            .get(i)
                            .or(func.variadic.as_ref())
                            .cloned()
                            .unwrap_or(crate::value::Ty::Iface);
                        if v.is_nil() && !t.can_be_nil() {
                            return Err(format!(
                                "arg {i}: value is nil; should be of type {}",
                                t.go_name()
                            ));
                        }
                        if !v.is_nil() && !v.assignable_to(&t) {
                            return Err(format!(
                                "arg {i}: value has type {}; should be {}",
                                v.type_name(),
                                t.go_name()
                            ));
                        }
                        args.push(if v.is_nil() { t.zero() } else { v.clone() });
                    }
                    let n = func.params.len();
                    if func.variadic.is_none() && args.len() != n {
                        return Err(format!(
                            "wrong number of args for {callee}: got {} want {n}",
                            args.len()
                        ));
                    }
                    if func.variadic.is_some() && args.len() < n {
                        return Err(format!(
                            "wrong number of args for {callee}: got {} want at least {n}",
                            args.len()
                        ));
                    }
                    (func.f)(ctx, args)
                }
                v if v.is_nil() => Err("call of nil".into()),
                v => Err(format!("non-function {callee} of type {}", v.type_name())),
            }
        }),
    );
    m
}

/// The text of `html`/`js`/`urlquery` arguments: a lone string as is,
/// anything else printed as `fmt.Sprint` would (nil as `<no value>`).
fn eval_args(a: &[Value]) -> String {
    if let [Value::Str(s)] = a {
        return s.to_string();
    }
    let a: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nil() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    gofmt::sprint(&a)
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => o.push('\u{FFFD}'),
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            c => o.push(c),
        }
    }
    o
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u00{:02X}", c as u32)),
            // A byte of invalid UTF-8: Go writes it as it is.
            c if crate::gostr::raw_byte(c).is_some() => o.push(c),
            c if !c.is_ascii() && !gofmt::is_go_printable(c) => {
                o.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for &b in crate::gostr::to_bytes(s).iter() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn length(v: &Value) -> Result<i64, String> {
    if let Value::Object(o) = v {
        if let Some(m) = o.as_map() {
            return Ok(m.borrow().entries.len() as i64);
        }
        if let Some(l) = o.as_list() {
            return Ok(l.items.len() as i64);
        }
    }
    Ok(match v {
        Value::Str(s) => crate::gostr::go_len(s) as i64,
        Value::Bytes(b) => b.len() as i64,
        Value::List(l) => l.items.len() as i64,
        Value::Map(m) => m.borrow().entries.len() as i64,
        Value::Nil => return Err("len of nil pointer".into()),
        Value::Missing => {
            return Err("reflect: call of reflect.Value.Type on zero Value".into());
        }
        other => return Err(format!("len of type {}", other.type_name())),
    })
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(x) | Value::Int64(x) => *x,
        Value::Uint32(x) => i64::from(*x),
        Value::Uint8(x) => i64::from(*x),
        Value::Missing | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(a: &[Value]) -> crate::value::FuncResult {
    let Some((item, idx)) = a.split_first() else {
        return Err("index of untyped nil".into());
    };
    let mut item = item.clone();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for i in idx {
        if let Value::Object(o) = &item {
            if let Some(m) = o.as_map() {
                item = Value::Map(m);
            } else if let Some(l) = o.as_list() {
                item = Value::List(l);
            }
        }
        item = match &item {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l) => {
                let x = index_arg(i, l.items.len())?;
                l.items
                    .get(x)
                    .cloned()
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Bytes(bs) => {
                let x = index_arg(i, bs.len())?;
                Value::Uint8(*bs.get(x).ok_or("reflect: slice index out of range")?)
            }
            Value::Str(s) => {
                let bytes = crate::gostr::to_bytes(s);
                let x = index_arg(i, bytes.len())?;
                Value::Uint8(*bytes.get(x).ok_or("reflect: string index out of range")?)
            }
            Value::Map(m) => {
                let key = match i {
                    Value::Str(k) => k.to_string(),
                    Value::Missing | Value::Nil => {
                        return Err("value is nil; should be of type string".into());
                    }
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                let m = m.borrow();
                match m.entries.get(&key) {
                    Some(v) => v.clone(),
                    None => match m.ty {
                        MapTy::Iface => Value::Nil,
                        MapTy::Str => Value::str(""),
                    },
                }
            }
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(a: &[Value]) -> crate::value::FuncResult {
    let Some((item, idx)) = a.split_first() else {
        return Err("slice of untyped nil".into());
    };
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            crate::gostr::go_len(s)
        }
        Value::List(l) => l.items.len(),
        Value::Bytes(b) => b.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut ix = [0usize, len, len];
    for (k, i) in idx.iter().enumerate() {
        ix[k] = index_arg(i, len)?;
    }
    if ix[0] > ix[1] {
        return Err(format!("invalid slice index: {} > {}", ix[0], ix[1]));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(format!("invalid slice index: {} > {}", ix[1], ix[2]));
    }
    Ok(match item {
        // Go slices strings by bytes, and may cut a character.
        Value::Str(s) => Value::string(crate::gostr::byte_slice(s, ix[0], ix[1])),
        Value::List(l) => Value::list(l.ty, l.items[ix[0]..ix[1]].to_vec()),
        Value::Bytes(b) => Value::Bytes(b[ix[0]..ix[1]].into()),
        _ => Value::Missing,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Complex,
    Int,
    Float,
    Str,
    Uint,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Uint32(_) | Value::Uint8(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Complex(..) => Kind::Complex,
        Value::Str(_) => Kind::Str,
        _ => Kind::Invalid,
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint32(i) => i64::from(*i),
        Value::Uint8(i) => i64::from(*i),
        _ => 0,
    }
}

/// `%s` of a value, as Go's errors print a `reflect.Value` with `%s`.
fn s_of(v: &Value) -> String {
    gofmt::sprintf("%s", std::slice::from_ref(v))
}

/// Go's `isNil` of `eq`: no value, or a nil slice or map (what sprig's
/// `regexFindAll` without a match or `rest` of an empty list return).
fn go_nil(v: &Value) -> bool {
    match v {
        Value::List(l) => l.nil,
        Value::Map(m) => m.borrow().nil,
        other => other.is_nil(),
    }
}

/// Go's `eq`: true when `a` equals any of `rest`.
pub fn eq(a: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = kind(a);
    for b in rest {
        let k2 = kind(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => int(a) == int(b),
                _ => {
                    if !a.is_nil() && !b.is_nil() {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            a.type_name(),
                            b.type_name()
                        ));
                    }
                    false
                }
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Complex(a1, b1), Value::Complex(a2, b2)) => a1 == a2 && b1 == b2,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == Kind::Int || k1 == Kind::Uint => int(a) == int(b),
                _ => {
                    let ka = a.kind_name();
                    let kb = b.kind_name();
                    // `canCompare`: the same kind, or one of them untyped nil.
                    if ka != kb && !a.is_nil() && !b.is_nil() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            s_of(a),
                            a.type_name(),
                            b.type_name(),
                            gofmt::sprint(std::slice::from_ref(b))
                        ));
                    }
                    if go_nil(a) || go_nil(b) {
                        go_nil(a) == go_nil(b)
                    } else {
                        match (a, b) {
                            (
                                Value::List(_) | Value::Map(_) | Value::Bytes(_) | Value::Func(_),
                                _,
                            ) => {
                                return Err(format!(
                                    "non-comparable type {}: {}",
                                    s_of(b),
                                    b.type_name()
                                ));
                            }
                            (Value::Object(x), Value::Object(y)) => {
                                x.type_name() == y.type_name() && x.display() == y.display()
                            }
                            _ => false,
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
pub fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let k1 = kind(a);
    if k1 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    let k2 = kind(b);
    if k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => Ok(int(a) < int(b)),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )),
        };
    }
    Ok(match (a, b) {
        (Value::Bool(_) | Value::Complex(..), _) => {
            return Err("invalid type for comparison".into());
        }
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => crate::gostr::to_bytes(x) < crate::gostr::to_bytes(y),
        _ => int(a) < int(b),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

#[allow(dead_code)]
fn _types(_: ListTy) {}
