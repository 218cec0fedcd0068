//! Values as a template sees them: the Go types Helm's data and sprig's
//! results have (`int`, `int64`, `float64`, `string`, `[]interface {}`,
//! `map[string]interface {}`, …), so printing, comparison, truth and the
//! type errors come out as Go's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::exec::Ctx;

/// The element type of a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListTy {
    /// `[]interface {}`
    Iface,
    /// `[]string`
    Str,
    /// `[]int`
    Int,
    /// `[][]interface {}`
    IfaceList,
}

/// The value type of a map (keys are always strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapTy {
    /// `map[string]interface {}`
    Iface,
    /// `map[string]string`
    Str,
}

/// A Go slice.
#[derive(Clone, Debug)]
pub struct List {
    /// The slice's Go type.
    pub ty: ListTy,
    /// The elements.
    pub items: Vec<Value>,
    /// A nil slice (what sprig's `rest`/`initial` of an empty list and
    /// `regexSplit`/`regexFindAll` with `n == 0` return): it prints and
    /// ranges as an empty one, but JSON (and so `toYaml`) writes `null`.
    pub nil: bool,
}

/// A Go map with string keys; shared and mutable like Go's maps
/// (sprig's `set`/`unset`/`merge` change it in place).
#[derive(Clone, Debug)]
pub struct Map {
    /// The map's Go type.
    pub ty: MapTy,
    /// The entries, in Go's printing order (sorted keys).
    pub entries: BTreeMap<String, Value>,
    /// A nil map (the zero value of a map type): it reads as empty, but
    /// `set` panics on it and JSON writes `null`.
    pub nil: bool,
}

/// A host object with Go-style fields and methods (Helm's `.Files`,
/// `.Capabilities`, `.Release`, sprig's `semver` result, times).
pub trait Object: fmt::Debug {
    /// Go type name for errors and `typeOf`, e.g. `*semver.Version`.
    fn type_name(&self) -> String;
    /// An exported field or a method without arguments is looked up by
    /// `field` first; `None` when there is no such member.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    /// A method callable with arguments (`.Files.Get "x"`).
    fn method(&self, _name: &str) -> Option<Func> {
        None
    }
    /// How `%v` prints it.
    fn display(&self) -> String;
    /// Downcasting for functions that accept a particular object.
    fn as_any(&self) -> &dyn std::any::Any;
    /// Go's truth of the value (structs are true; pointers non-nil).
    fn truth(&self) -> bool {
        true
    }
    /// For a named Go map type with methods (Helm's `.Files`): the map that
    /// `range`, `index`, `len` and key lookups see.
    fn as_map(&self) -> Option<Rc<RefCell<Map>>> {
        None
    }
    /// For a Go map whose keys are not strings (struct keys): its entries
    /// in the order `range` visits them (Go's `fmtsort` order).
    fn map_entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }
    /// For a named Go slice type with methods (Helm's
    /// `.Capabilities.APIVersions`): the slice `range`, `index` and `len`
    /// see.
    fn as_list(&self) -> Option<Rc<List>> {
        None
    }
    /// A struct's fields as `encoding/json` marshals them, in declaration
    /// order (`omitempty` ones already left out).
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        None
    }
    /// What `encoding/json` marshals it as; by default the struct of
    /// [`Object::json_fields`]. `None` marshals as `{}`.
    fn json(&self) -> Option<Value> {
        self.json_fields()
            .map(|f| Value::dict(f.into_iter().collect()))
    }
}

/// A template value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// No value at all (Go's invalid `reflect.Value`): a missing map key
    /// or field of nothing. Prints `<no value>`.
    #[default]
    Missing,
    /// A nil interface (JSON `null`, a `nil` argument). Prints `<nil>`.
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `int64`.
    Int64(i64),
    /// Go `uint32` (only `derivePassword`'s counter).
    Uint32(u32),
    /// Go `uint8` (a byte of a string, from `index`).
    Uint8(u8),
    /// Go `float64`.
    Float(f64),
    /// Go `complex128` (only from complex constants).
    Complex(f64, f64),
    /// Go `string`.
    Str(Rc<str>),
    /// `[]byte`.
    Bytes(Rc<[u8]>),
    /// A slice.
    List(Rc<List>),
    /// A map, shared and mutable as Go's.
    Map(Rc<RefCell<Map>>),
    /// A host object with fields and methods.
    Object(Rc<dyn Object>),
    /// A function value (for `call`).
    Func(Func),
}

/// The result of a function: a value or an error message (Go prefixes it
/// with `error calling NAME: `).
pub type FuncResult = Result<Value, String>;

/// A Go parameter or result type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `interface {}`
    Iface,
    /// `string`
    Str,
    /// `int`
    Int,
    /// `int64`
    Int64,
    /// `uint32`
    Uint32,
    /// `float64`
    Float,
    /// `bool`
    Bool,
    /// `[]uint8`
    Bytes,
    /// A slice type.
    List(ListTy),
    /// A map type.
    Map(MapTy),
    /// A host object type by its Go name (`time.Time`, `sprig.certificate`).
    Object(String),
    /// Go's `reflect.Value` parameter of the builtins: receives any value,
    /// nothing included.
    Reflect,
}

impl Ty {
    /// The Go spelling of the type.
    pub fn go_name(&self) -> String {
        match self {
            Ty::Iface => "interface {}".into(),
            Ty::Str => "string".into(),
            Ty::Int => "int".into(),
            Ty::Int64 => "int64".into(),
            Ty::Uint32 => "uint32".into(),
            Ty::Float => "float64".into(),
            Ty::Bool => "bool".into(),
            Ty::Bytes => "[]uint8".into(),
            Ty::List(l) => list_ty_name(*l).into(),
            Ty::Map(m) => map_ty_name(*m).into(),
            Ty::Object(n) => n.clone(),
            Ty::Reflect => "reflect.Value".into(),
        }
    }

    /// Parses the Go spelling used in signature strings.
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "interface {}" | "any" => Ty::Iface,
            "reflect.Value" => Ty::Reflect,
            "string" => Ty::Str,
            "int" => Ty::Int,
            "int64" => Ty::Int64,
            "uint32" => Ty::Uint32,
            "float64" => Ty::Float,
            "bool" => Ty::Bool,
            "[]uint8" | "[]byte" => Ty::Bytes,
            "[]interface {}" => Ty::List(ListTy::Iface),
            "[]string" => Ty::List(ListTy::Str),
            "[]int" => Ty::List(ListTy::Int),
            "[][]interface {}" => Ty::List(ListTy::IfaceList),
            "map[string]interface {}" => Ty::Map(MapTy::Iface),
            "map[string]string" => Ty::Map(MapTy::Str),
            other if !other.is_empty() => Ty::Object(other.to_string()),
            _ => return None,
        })
    }

    /// Whether a nil can be assigned (interfaces, maps, slices, pointers).
    pub fn can_be_nil(&self) -> bool {
        match self {
            Ty::Iface | Ty::Reflect | Ty::Bytes | Ty::List(_) | Ty::Map(_) => true,
            Ty::Object(n) => n.starts_with('*'),
            _ => false,
        }
    }

    /// The zero value of the type.
    pub fn zero(&self) -> Value {
        match self {
            Ty::Iface => Value::Nil,
            Ty::Reflect => Value::Missing,
            Ty::Str => Value::str(""),
            Ty::Int => Value::Int(0),
            Ty::Int64 => Value::Int64(0),
            Ty::Uint32 => Value::Uint32(0),
            Ty::Float => Value::Float(0.0),
            Ty::Bool => Value::Bool(false),
            // A nil map reads (and prints) as an empty one.
            Ty::Map(t) => Value::Map(Rc::new(RefCell::new(Map {
                ty: *t,
                entries: BTreeMap::new(),
                nil: true,
            }))),
            Ty::List(t) => Value::list(*t, Vec::new()),
            _ => Value::Nil,
        }
    }
}

pub(crate) fn list_ty_name(l: ListTy) -> &'static str {
    match l {
        ListTy::Iface => "[]interface {}",
        ListTy::Str => "[]string",
        ListTy::Int => "[]int",
        ListTy::IfaceList => "[][]interface {}",
    }
}

pub(crate) fn map_ty_name(m: MapTy) -> &'static str {
    match m {
        MapTy::Iface => "map[string]interface {}",
        MapTy::Str => "map[string]string",
    }
}

/// The Rust side of a template function.
pub type FuncImpl = dyn Fn(&mut Ctx<'_>, Vec<Value>) -> FuncResult;

/// A function callable from a template.
#[derive(Clone)]
pub struct Func {
    pub(crate) params: Rc<[Ty]>,
    pub(crate) variadic: Option<Ty>,
    pub(crate) result: Ty,
    pub(crate) returns_error: bool,
    pub(crate) builtin: bool,
    pub(crate) f: Rc<FuncImpl>,
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "func{}", self.signature())
    }
}

impl Func {
    /// A function with a Go signature such as `"int,string"` →
    /// `"string"`; a last parameter spelled `...T` is variadic; a result
    /// spelled `"T,error"` marks a function that can fail (its errors are
    /// still returned as `Err` either way: Go reports both, and panics,
    /// as `error calling NAME: …`).
    pub fn new(
        params: &str,
        result: &str,
        f: impl Fn(&mut Ctx<'_>, Vec<Value>) -> FuncResult + 'static,
    ) -> Func {
        let mut ps = Vec::new();
        let mut variadic = None;
        for p in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(v) = p.strip_prefix("...") {
                variadic = Ty::parse(v);
            } else if let Some(t) = Ty::parse(p) {
                ps.push(t);
            }
        }
        let (result, returns_error) = match result.split_once(',') {
            Some((r, _)) => (r.trim(), true),
            None => (result.trim(), false),
        };
        Func {
            params: ps.into(),
            variadic,
            result: Ty::parse(result).unwrap_or(Ty::Iface),
            returns_error,
            builtin: false,
            f: Rc::new(f),
        }
    }

    /// `(int, string) string` — for the signature comparison with Go.
    pub fn signature(&self) -> String {
        let mut ps: Vec<String> = self.params.iter().map(Ty::go_name).collect();
        if let Some(v) = &self.variadic {
            ps.push(format!("...{}", v.go_name()));
        }
        let mut r = self.result.go_name();
        if self.returns_error {
            r.push_str(",error");
        }
        format!("{}\t{}", ps.join(","), r)
    }
}

impl Value {
    /// A Go string.
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    /// A Go string.
    pub fn string(s: String) -> Value {
        Value::Str(Rc::from(s))
    }

    /// A slice of the given type.
    pub fn list(ty: ListTy, items: Vec<Value>) -> Value {
        Value::List(Rc::new(List {
            ty,
            items,
            nil: false,
        }))
    }

    /// A nil slice of the given type.
    pub fn nil_list(ty: ListTy) -> Value {
        Value::List(Rc::new(List {
            ty,
            items: Vec::new(),
            nil: true,
        }))
    }

    /// A map of the given type.
    pub fn map(ty: MapTy, entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(Map {
            ty,
            entries,
            nil: false,
        })))
    }

    /// A `map[string]interface {}`.
    pub fn dict(entries: BTreeMap<String, Value>) -> Value {
        Value::map(MapTy::Iface, entries)
    }

    /// Go's type name of the dynamic value (`%T`, `typeOf`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Uint32(_) => "uint32".into(),
            Value::Uint8(_) => "uint8".into(),
            Value::Float(_) => "float64".into(),
            Value::Complex(..) => "complex128".into(),
            Value::Str(_) => "string".into(),
            Value::Bytes(_) => "[]uint8".into(),
            Value::List(l) => list_ty_name(l.ty).into(),
            Value::Map(m) => map_ty_name(m.borrow().ty).into(),
            Value::Object(o) => o.type_name(),
            Value::Func(f) => {
                let (p, r) = f
                    .signature()
                    .split_once('\t')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or_default();
                let r = if r.contains(',') {
                    format!(" ({r})")
                } else {
                    format!(" {r}")
                };
                format!("func({}){}", p.replace(',', ", "), r.replace(',', ", "))
            }
        }
    }

    /// Go's `reflect.Kind` name (`kindOf`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint32(_) => "uint32",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Complex(..) => "complex128",
            Value::Str(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => {
                if o.type_name().starts_with('*') {
                    "ptr"
                } else if o.as_list().is_some() {
                    "slice"
                } else if o.as_map().is_some() {
                    "map"
                } else {
                    "struct"
                }
            }
            Value::Func(_) => "func",
        }
    }

    /// Go's truth (`if`, `with`, `and`, `or`, `not`).
    pub fn truth(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint32(i) => *i != 0,
            Value::Uint8(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(re, im) => *re != 0.0 || *im != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.borrow().entries.is_empty(),
            Value::Object(o) => o.truth(),
            Value::Func(_) => true,
        }
    }

    /// The string of a Go `string` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is a nil interface or nothing.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// The Go type this value is assignable to without conversion.
    pub fn assignable_to(&self, ty: &Ty) -> bool {
        match (ty, self) {
            (Ty::Iface | Ty::Reflect, _) => true,
            (Ty::Str, Value::Str(_))
            | (Ty::Int, Value::Int(_))
            | (Ty::Int64, Value::Int64(_))
            | (Ty::Uint32, Value::Uint32(_))
            | (Ty::Float, Value::Float(_))
            | (Ty::Bool, Value::Bool(_))
            | (Ty::Bytes, Value::Bytes(_)) => true,
            (Ty::List(t), Value::List(l)) => l.ty == *t,
            (Ty::Map(t), Value::Map(m)) => m.borrow().ty == *t,
            (Ty::Object(n), Value::Object(o)) => o.type_name() == *n,
            _ => false,
        }
    }

    /// A deep copy (maps are copied, not shared).
    pub fn deep_copy(&self) -> Value {
        self.copy_at(0)
    }

    /// Copies down to a depth no data reaches; deeper (a map a template
    /// made hold itself) the values stay shared instead of recursing
    /// forever.
    fn copy_at(&self, depth: usize) -> Value {
        if depth > 1000 {
            return self.clone();
        }
        match self {
            Value::List(l) => {
                Value::list(l.ty, l.items.iter().map(|v| v.copy_at(depth + 1)).collect())
            }
            Value::Map(m) => {
                let m = m.borrow();
                Value::map(
                    m.ty,
                    m.entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.copy_at(depth + 1)))
                        .collect(),
                )
            }
            other => other.clone(),
        }
    }

    /// Converts JSON (Go's `encoding/json` into `interface {}`: every
    /// number a float64).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => {
                Value::list(ListTy::Iface, a.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::dict(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Value {
    /// `%v`, as `fmt.Sprint` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::gofmt::sprint(std::slice::from_ref(self)))
    }
}
