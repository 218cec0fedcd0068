//! `values.schema.json` validation as Helm v3.21 does it (with
//! `santhosh-tekuri/jsonschema` v6): the coalesced values of a chart are
//! validated against its schema, each subchart's section against the
//! subchart's schema, and failures are reported in that library's words
//! and tree layout (`- at '/image/tag': got number, want string`).
//!
//! Supported: drafts 4, 6, 7, 2019-09 and 2020-12 (the default) with
//! `type`, `enum`, `const`, `required`, `properties`,
//! `patternProperties`, `additionalProperties`, `propertyNames`,
//! `dependencies`/`dependentRequired`/`dependentSchemas`,
//! `min/maxProperties`, `items`/`prefixItems`/`additionalItems`,
//! `contains`/`minContains`/`maxContains`, `min/maxItems`, `uniqueItems`,
//! `min/maxLength`, `pattern`, `minimum`/`maximum`/`exclusive*`,
//! `multipleOf`, `allOf`/`anyOf`/`oneOf`/`not`, `if`/`then`/`else` and
//! local `$ref`s (`#`, `#/definitions/…`, `#/$defs/…`). Not supported
//! (reported as an error, never silently passed): remote `$ref`s,
//! `$dynamicRef`, `unevaluated*`. `format` is not asserted. Where the Go
//! library walks a map in random order (several failing properties of one
//! object), ours reports them in key order.

use flux_gotemplate::Value;
use serde_json::Value as Json;

use crate::values::{Node, Table};

#[derive(Debug)]
struct VErr {
    loc: Vec<String>,
    msg: String,
    /// A `$ref` wrapper: not printed when it has a single cause.
    reference: bool,
    causes: Vec<VErr>,
}

struct Ctx<'a> {
    root: &'a Json,
    draft: u32,
    depth: usize,
}

fn quote(s: &str) -> String {
    let q = flux_gotemplate::gofmt::quote(s);
    let inner = &q[1..q.len() - 1];
    format!("'{}'", inner.replace("\\\"", "\"").replace('\'', "\\'"))
}

fn json_ptr(loc: &[String]) -> String {
    loc.iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// `%v` of a JSON value as Go prints the decoded `any`.
fn display(v: &Json) -> String {
    match v {
        Json::String(s) => quote(s),
        Json::Array(_) | Json::Object(_) => "value".into(),
        Json::Null => "<nil>".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => go_number(n.as_f64().unwrap_or(0.0)),
    }
}

fn go_number(f: f64) -> String {
    flux_gotemplate::gofmt::sprint(&[Value::Float(f)])
}

/// A float as golang.org/x/text's English printer writes `%v`: Go's
/// text with the integer digits grouped (`1,024.5`).
fn printed_number(f: f64) -> String {
    let text = go_number(f);
    if text.contains('e') {
        return text;
    }
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text.as_str()),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = sign.to_string();
    out.push_str(&group_digits(int));
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn group_digits(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Integers as golang.org/x/text's English printer writes them (`1,234`).
fn grouped(n: usize) -> String {
    group_digits(&n.to_string())
}

fn type_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn is_integer(v: &Json) -> bool {
    v.as_f64()
        .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
}

/// JSON equality with numbers compared by value.
fn equals(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

fn draft_of(schema: &Json) -> u32 {
    let s = schema.get("$schema").and_then(Json::as_str).unwrap_or("");
    if s.contains("draft-04") {
        4
    } else if s.contains("draft-06") {
        6
    } else if s.contains("draft-07") {
        7
    } else if s.contains("2019-09") {
        2019
    } else {
        2020
    }
}

impl Ctx<'_> {
    fn resolve(&self, r: &str) -> Result<&Json, String> {
        let Some(ptr) = r.strip_prefix('#') else {
            return Err(format!(
                "unsupported $ref {r:?}: only local references are resolved"
            ));
        };
        if ptr.is_empty() {
            return Ok(self.root);
        }
        let mut cur = self.root;
        for tok in ptr.trim_start_matches('/').split('/') {
            let tok = tok.replace("~1", "/").replace("~0", "~");
            cur = match cur {
                Json::Object(m) => m.get(&tok),
                Json::Array(a) => tok.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            }
            .ok_or_else(|| format!("$ref {r:?} does not resolve"))?;
        }
        Ok(cur)
    }

    fn err(loc: &[String], msg: String) -> VErr {
        VErr {
            loc: loc.to_vec(),
            msg,
            reference: false,
            causes: Vec::new(),
        }
    }

    /// Validates `v` at `loc`; `Ok(None)` when valid.
    fn validate(&self, s: &Json, v: &Json, loc: &[String]) -> Result<Option<VErr>, String> {
        if self.depth > 256 {
            return Err("schema references nest too deep".into());
        }
        let obj = match s {
            Json::Bool(true) => return Ok(None),
            Json::Bool(false) => return Ok(Some(Self::err(loc, "false schema".into()))),
            Json::Object(o) => o,
            _ => return Ok(None),
        };
        for unsupported in [
            "$dynamicRef",
            "$recursiveRef",
            "unevaluatedProperties",
            "unevaluatedItems",
        ] {
            if obj.contains_key(unsupported) {
                return Err(format!("schema keyword {unsupported} is not supported"));
            }
        }
        if let Some(t) = obj.get("type") {
            let want: Vec<&str> = match t {
                Json::String(s) => vec![s.as_str()],
                Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
                _ => Vec::new(),
            };
            let got = type_of(v);
            let matched = want.contains(&got)
                || (want.contains(&"integer") && got == "number" && is_integer(v));
            if !want.is_empty() && !matched {
                return Ok(Some(Self::err(
                    loc,
                    format!("got {got}, want {}", want.join(" or ")),
                )));
            }
        }
        if let Some(c) = obj.get("const")
            && !equals(v, c)
        {
            let msg = match c {
                Json::Array(_) | Json::Object(_) => "'const' failed".to_string(),
                other => format!("value must be {}", display(other)),
            };
            return Ok(Some(Self::err(loc, msg)));
        }
        if let Some(Json::Array(items)) = obj.get("enum")
            && !items.iter().any(|i| equals(v, i))
        {
            let primitive = items
                .iter()
                .all(|i| !matches!(i, Json::Array(_) | Json::Object(_)));
            let msg = if !primitive {
                "'enum' failed".to_string()
            } else if items.len() == 1 {
                format!("value must be {}", display(&items[0]))
            } else {
                format!(
                    "value must be one of {}",
                    items.iter().map(display).collect::<Vec<_>>().join(", ")
                )
            };
            return Ok(Some(Self::err(loc, msg)));
        }
        let mut errors = Vec::new();
        if let Some(Json::String(r)) = obj.get("$ref") {
            let target = self.resolve(r)?;
            let sub = Ctx {
                root: self.root,
                draft: self.draft,
                depth: self.depth + 1,
            };
            let e = sub.validate(target, v, loc)?.map(|e| {
                let causes = if e.msg == "validation failed" && !e.reference && !e.causes.is_empty()
                {
                    e.causes
                } else {
                    vec![e]
                };
                VErr {
                    loc: loc.to_vec(),
                    msg: "validation failed".into(),
                    reference: true,
                    causes,
                }
            });
            if self.draft < 2019 {
                return Ok(e);
            }
            errors.extend(e);
        }
        match v {
            Json::Object(m) => self.object(obj, m, loc, &mut errors)?,
            Json::Array(a) => self.array(obj, a, loc, &mut errors)?,
            Json::String(st) => self.string(obj, st, loc, &mut errors)?,
            Json::Number(n) => self.number(obj, n.as_f64().unwrap_or(0.0), loc, &mut errors),
            _ => {}
        }
        self.conditions(obj, v, loc, &mut errors)?;
        Ok(match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(VErr {
                loc: loc.to_vec(),
                msg: "validation failed".into(),
                reference: false,
                causes: errors,
            }),
        })
    }

    fn sub(&self, s: &Json, v: &Json, loc: &[String]) -> Result<Option<VErr>, String> {
        Ctx {
            root: self.root,
            draft: self.draft,
            depth: self.depth + 1,
        }
        .validate(s, v, loc)
    }

    fn object(
        &self,
        s: &serde_json::Map<String, Json>,
        m: &serde_json::Map<String, Json>,
        loc: &[String],
        errors: &mut Vec<VErr>,
    ) -> Result<(), String> {
        let usize_of = |k: &str| s.get(k).and_then(Json::as_f64).map(|f| f as usize);
        if let Some(min) = usize_of("minProperties")
            && m.len() < min
        {
            errors.push(Self::err(
                loc,
                format!(
                    "minProperties: got {}, want {}",
                    grouped(m.len()),
                    grouped(min)
                ),
            ));
        }
        if let Some(max) = usize_of("maxProperties")
            && m.len() > max
        {
            errors.push(Self::err(
                loc,
                format!(
                    "maxProperties: got {}, want {}",
                    grouped(m.len()),
                    grouped(max)
                ),
            ));
        }
        if let Some(Json::Array(req)) = s.get("required") {
            let missing: Vec<&str> = req
                .iter()
                .filter_map(Json::as_str)
                .filter(|k| !m.contains_key(*k))
                .collect();
            match missing.len() {
                0 => {}
                1 => errors.push(Self::err(
                    loc,
                    format!("missing property {}", quote(missing[0])),
                )),
                _ => errors.push(Self::err(
                    loc,
                    format!(
                        "missing properties {}",
                        missing
                            .iter()
                            .map(|k| quote(k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        if let Some(Json::Object(deps)) = s.get("dependencies") {
            for (p, dep) in deps {
                if !m.contains_key(p) {
                    continue;
                }
                match dep {
                    Json::Array(names) => errors.extend(required_if(m, p, names, loc)),
                    schema => errors.extend(self.sub(schema, &Json::Object(m.clone()), loc)?),
                }
            }
        }
        let props = s.get("properties").and_then(Json::as_object);
        let patterns: Vec<(regex::Regex, &Json)> = match s.get("patternProperties") {
            Some(Json::Object(p)) => p
                .iter()
                .map(|(k, v)| {
                    go_regex(k)
                        .map(|r| (r, v))
                        .map_err(|e| format!("invalid patternProperties regex {k:?}: {e}"))
                })
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let mut additional = Vec::new();
        for (k, pv) in m {
            let mut ploc = loc.to_vec();
            ploc.push(k.clone());
            let mut evaluated = false;
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                evaluated = true;
                errors.extend(self.sub(ps, pv, &ploc)?);
            }
            for (re, ps) in &patterns {
                if re.is_match(k) {
                    evaluated = true;
                    errors.extend(self.sub(ps, pv, &ploc)?);
                }
            }
            if !evaluated {
                match s.get("additionalProperties") {
                    Some(Json::Bool(false)) => additional.push(quote(k)),
                    Some(a @ Json::Object(_)) => errors.extend(self.sub(a, pv, &ploc)?),
                    _ => {}
                }
            }
        }
        if !additional.is_empty() {
            errors.push(Self::err(
                loc,
                format!(
                    "additional properties {} not allowed",
                    additional.join(", ")
                ),
            ));
        }
        if self.draft == 4 {
            return Ok(());
        }
        if let Some(pn) = s.get("propertyNames") {
            for k in m.keys() {
                if let Some(e) = self.sub(pn, &Json::String(k.clone()), &[])? {
                    errors.push(VErr {
                        loc: loc.to_vec(),
                        msg: format!("invalid propertyName {}", quote(k)),
                        reference: false,
                        causes: if e.msg == "validation failed" {
                            e.causes
                        } else {
                            vec![e]
                        },
                    });
                }
            }
        }
        if self.draft == 6 {
            return Ok(());
        }
        if let Some(Json::Object(ds)) = s.get("dependentSchemas") {
            for (p, schema) in ds {
                if m.contains_key(p) {
                    errors.extend(self.sub(schema, &Json::Object(m.clone()), loc)?);
                }
            }
        }
        if let Some(Json::Object(dr)) = s.get("dependentRequired") {
            for (p, names) in dr {
                if !m.contains_key(p) {
                    continue;
                }
                if let Some(names) = names.as_array() {
                    errors.extend(required_if(m, p, names, loc));
                }
            }
        }
        Ok(())
    }

    fn array(
        &self,
        s: &serde_json::Map<String, Json>,
        a: &[Json],
        loc: &[String],
        errors: &mut Vec<VErr>,
    ) -> Result<(), String> {
        let usize_of = |k: &str| s.get(k).and_then(Json::as_f64).map(|f| f as usize);
        if let Some(min) = usize_of("minItems")
            && a.len() < min
        {
            errors.push(Self::err(
                loc,
                format!("minItems: got {}, want {}", grouped(a.len()), grouped(min)),
            ));
        }
        if let Some(max) = usize_of("maxItems")
            && a.len() > max
        {
            errors.push(Self::err(
                loc,
                format!("maxItems: got {}, want {}", grouped(a.len()), grouped(max)),
            ));
        }
        if s.get("uniqueItems") == Some(&Json::Bool(true)) && a.len() > 1 {
            'outer: for i in 0..a.len() {
                for j in i + 1..a.len() {
                    if equals(&a[i], &a[j]) {
                        errors.push(Self::err(loc, format!("items at {i} and {j} are equal")));
                        break 'outer;
                    }
                }
            }
        }
        let item_loc = |i: usize| {
            let mut l = loc.to_vec();
            l.push(i.to_string());
            l
        };
        if self.draft < 2020 {
            let mut evaluated = 0;
            match s.get("items") {
                Some(Json::Array(items)) => {
                    evaluated = items.len().min(a.len());
                    for (i, item) in a[..evaluated].iter().enumerate() {
                        errors.extend(self.sub(&items[i], item, &item_loc(i))?);
                    }
                }
                Some(items) => {
                    for (i, item) in a.iter().enumerate() {
                        errors.extend(self.sub(items, item, &item_loc(i))?);
                    }
                    evaluated = a.len();
                }
                None => {}
            }
            match s.get("additionalItems") {
                Some(Json::Bool(false)) if evaluated != a.len() => errors.push(Self::err(
                    loc,
                    format!(
                        "last {} additionalItem(s) not allowed",
                        grouped(a.len() - evaluated)
                    ),
                )),
                Some(add @ Json::Object(_)) => {
                    for (i, item) in a[evaluated..].iter().enumerate() {
                        errors.extend(self.sub(add, item, &item_loc(i))?);
                    }
                }
                _ => {}
            }
        } else {
            let prefix = s.get("prefixItems").and_then(Json::as_array);
            let evaluated = prefix.map_or(0, |p| p.len().min(a.len()));
            if let Some(p) = prefix {
                for (i, item) in a[..evaluated].iter().enumerate() {
                    errors.extend(self.sub(&p[i], item, &item_loc(i))?);
                }
            }
            if let Some(items) = s.get("items") {
                for (i, item) in a[evaluated..].iter().enumerate() {
                    errors.extend(self.sub(items, item, &item_loc(i))?);
                }
            }
        }
        if let Some(contains) = s.get("contains") {
            let mut errs = Vec::new();
            let mut matched = Vec::new();
            for (i, item) in a.iter().enumerate() {
                match self.sub(contains, item, &item_loc(i))? {
                    Some(e) => errs.push(e),
                    None => matched.push(i),
                }
            }
            let list = |m: &[usize]| m.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
            if let Some(min) = usize_of("minContains") {
                if matched.len() < min {
                    let msg = if matched.is_empty() {
                        format!(
                            "min {min} items required to match contains schema, but none matched"
                        )
                    } else {
                        format!(
                            "min {min} items required to match contains schema, but matched {} items at {}",
                            matched.len(),
                            list(&matched)
                        )
                    };
                    errors.push(VErr {
                        loc: loc.to_vec(),
                        msg,
                        reference: false,
                        causes: errs,
                    });
                }
            } else if matched.is_empty() {
                errors.push(VErr {
                    loc: loc.to_vec(),
                    msg: "no items match contains schema".into(),
                    reference: false,
                    causes: errs,
                });
            }
            if let Some(max) = usize_of("maxContains")
                && matched.len() > max
            {
                errors.push(Self::err(
                        loc,
                        format!(
                            "max {max} items required to match contains schema, but matched {} items at {}",
                            matched.len(),
                            list(&matched)
                        ),
                    ));
            }
        }
        Ok(())
    }

    fn string(
        &self,
        s: &serde_json::Map<String, Json>,
        st: &str,
        loc: &[String],
        errors: &mut Vec<VErr>,
    ) -> Result<(), String> {
        let len = st.chars().count();
        let usize_of = |k: &str| s.get(k).and_then(Json::as_f64).map(|f| f as usize);
        if let Some(min) = usize_of("minLength")
            && len < min
        {
            errors.push(Self::err(
                loc,
                format!("minLength: got {}, want {}", grouped(len), grouped(min)),
            ));
        }
        if let Some(max) = usize_of("maxLength")
            && len > max
        {
            errors.push(Self::err(
                loc,
                format!("maxLength: got {}, want {}", grouped(len), grouped(max)),
            ));
        }
        if let Some(Json::String(p)) = s.get("pattern") {
            let re = go_regex(p).map_err(|e| format!("invalid pattern {p:?}: {e}"))?;
            if !re.is_match(st) {
                errors.push(Self::err(
                    loc,
                    format!("{} does not match pattern {}", quote(st), quote(p)),
                ));
            }
        }
        Ok(())
    }

    fn number(
        &self,
        s: &serde_json::Map<String, Json>,
        n: f64,
        loc: &[String],
        errors: &mut Vec<VErr>,
    ) {
        let get = |k: &str| s.get(k).and_then(Json::as_f64);
        let mut check = |name: &str, bad: bool, want: f64| {
            if bad {
                errors.push(Self::err(
                    loc,
                    format!(
                        "{name}: got {}, want {}",
                        printed_number(n),
                        printed_number(want)
                    ),
                ));
            }
        };
        let draft4_exclusive = |k: &str| self.draft == 4 && s.get(k) == Some(&Json::Bool(true));
        if let Some(min) = get("minimum") {
            if draft4_exclusive("exclusiveMinimum") {
                check("exclusiveMinimum", n <= min, min);
            } else {
                check("minimum", n < min, min);
            }
        }
        if let Some(max) = get("maximum") {
            if draft4_exclusive("exclusiveMaximum") {
                check("exclusiveMaximum", n >= max, max);
            } else {
                check("maximum", n > max, max);
            }
        }
        if self.draft > 4 {
            if let Some(x) = get("exclusiveMinimum") {
                check("exclusiveMinimum", n <= x, x);
            }
            if let Some(x) = get("exclusiveMaximum") {
                check("exclusiveMaximum", n >= x, x);
            }
        }
        if let Some(m) = get("multipleOf") {
            let q = n / m;
            check(
                "multipleOf",
                (q - q.round()).abs() > 1e-9 * q.abs().max(1.0),
                m,
            );
        }
    }

    fn conditions(
        &self,
        s: &serde_json::Map<String, Json>,
        v: &Json,
        loc: &[String],
        errors: &mut Vec<VErr>,
    ) -> Result<(), String> {
        if let Some(not) = s.get("not")
            && self.sub(not, v, loc)?.is_none()
        {
            errors.push(Self::err(loc, "'not' failed".into()));
        }
        let group = |msg: String, causes: Vec<VErr>| VErr {
            loc: loc.to_vec(),
            msg,
            reference: false,
            causes,
        };
        if let Some(Json::Array(all)) = s.get("allOf") {
            let mut errs = Vec::new();
            for sch in all {
                errs.extend(self.sub(sch, v, loc)?);
            }
            if !errs.is_empty() {
                errors.push(group("'allOf' failed".into(), errs));
            }
        }
        if let Some(Json::Array(any)) = s.get("anyOf") {
            let mut errs = Vec::new();
            let mut matched = false;
            for sch in any {
                match self.sub(sch, v, loc)? {
                    Some(e) => errs.push(e),
                    None => {
                        matched = true;
                        break;
                    }
                }
            }
            if !matched {
                errors.push(group("'anyOf' failed".into(), errs));
            }
        }
        if let Some(Json::Array(one)) = s.get("oneOf") {
            let mut errs = Vec::new();
            let mut first = None;
            for (i, sch) in one.iter().enumerate() {
                match self.sub(sch, v, loc)? {
                    Some(e) => {
                        if first.is_none() {
                            errs.push(e);
                        }
                    }
                    None => match first {
                        None => first = Some(i),
                        Some(f) => {
                            errors.push(Self::err(
                                loc,
                                format!("'oneOf' failed, subschemas {f}, {i} matched"),
                            ));
                            break;
                        }
                    },
                }
            }
            if first.is_none() {
                errors.push(group("'oneOf' failed, none matched".into(), errs));
            }
        }
        if let Some(cond) = s.get("if")
            && self.draft >= 7
        {
            if self.sub(cond, v, loc)?.is_none() {
                if let Some(then) = s.get("then") {
                    errors.extend(self.sub(then, v, loc)?);
                }
            } else if let Some(els) = s.get("else") {
                errors.extend(self.sub(els, v, loc)?);
            }
        }
        Ok(())
    }
}

/// `dependencies` (array form) and `dependentRequired`: the properties
/// `names` that `p`'s presence requires and `m` lacks.
fn required_if(
    m: &serde_json::Map<String, Json>,
    p: &str,
    names: &[Json],
    loc: &[String],
) -> Option<VErr> {
    let missing: Vec<String> = names
        .iter()
        .filter_map(Json::as_str)
        .filter(|k| !m.contains_key(*k))
        .map(quote)
        .collect();
    (!missing.is_empty()).then(|| {
        Ctx::err(
            loc,
            format!(
                "properties {} required, if {} exists",
                missing.join(", "),
                quote(p)
            ),
        )
    })
}

fn render(e: &VErr, indent: usize, out: &mut String) {
    let mut indent = indent;
    let skip = e.reference && e.causes.len() == 1;
    if !skip {
        if indent > 0 {
            out.push('\n');
            for _ in 0..indent - 1 {
                out.push_str("  ");
            }
            out.push_str("- ");
        }
        indent += 1;
        out.push_str(&format!("at {}: {}", quote(&json_ptr(&e.loc)), e.msg));
    }
    for c in &e.causes {
        render(c, indent, out);
    }
}

/// One chart's schema against its values: the error text Helm prints
/// (without the chart name line), or `None` when valid.
pub fn validate_single(schema: &[u8], values: &Json) -> Result<(), String> {
    let schema: Json = serde_json::from_slice(schema).map_err(|e| {
        flux_gotemplate::gojson::unmarshal_error(&String::from_utf8_lossy(schema))
            .unwrap_or_else(|| e.to_string())
    })?;
    let ctx = Ctx {
        root: &schema,
        draft: draft_of(&schema),
        depth: 0,
    };
    let Some(e) = ctx.validate(&schema, values, &[])? else {
        return Ok(());
    };
    let causes = if e.msg == "validation failed" && !e.reference && e.causes.len() > 1 {
        e.causes
    } else {
        vec![e]
    };
    let mut out = String::new();
    for c in &causes {
        render(c, 1, &mut out);
    }
    Err(format!("{}\n", out.trim_start_matches('\n')))
}

/// `chartutil.ValidateAgainstSchema`: the chart's schema, then each
/// subchart's on its section of the values.
pub fn validate_chart(root: &Node<'_>, values: &Table) -> Result<(), String> {
    let json = crate::yaml::from_value(&Value::Map(values.clone()));
    let mut out = String::new();
    validate_node(root, &json, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn validate_node(n: &Node<'_>, values: &Json, out: &mut String) {
    if let Some(schema) = &n.chart.schema
        && let Err(e) = validate_single(schema, values)
    {
        out.push_str(&format!("{}:\n{e}", n.name()));
    }
    for d in &n.deps {
        match values.get(d.name()) {
            None | Some(Json::Null) => {}
            Some(v @ Json::Object(_)) => validate_node(d, v, out),
            Some(other) => out.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map), got {}\n",
                d.name(),
                match other {
                    Json::Bool(_) => "bool",
                    Json::Number(_) => "float64",
                    Json::String(_) => "string",
                    _ => "[]interface {}",
                }
            )),
        }
    }
}

/// A schema pattern as Helm's validator reads it: Go's regular expression
/// syntax.
fn go_regex(p: &str) -> Result<regex::Regex, String> {
    let go = flux_go::regexp::translate(p).map_err(|e| format!("error parsing regexp: {e}"))?;
    regex::Regex::new(&go).map_err(|e| e.to_string())
}
