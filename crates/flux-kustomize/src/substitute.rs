//! Flux's post-build variable substitution (`spec.postBuild`): the bash-like
//! `${…}` grammar of Flux's envsubst, applied to every scalar of each
//! resource (see [`substitute_object`] for how types are decided).
//!
//! - `${var}`; defaults `${var:=w}`, `${var:-w}`, `${var=w}`, `${var:?w}`,
//!   `${var:+w}` (all give `w` when the value is empty, as Flux's fork
//!   does); `${#var}`; `${var:pos}`, `${var:pos:len}`; `${var,}`,
//!   `${var,,}`, `${var^}`, `${var^^}`; `${var/p/r}`, `${var//p/r}`,
//!   `${var/#p/r}`, `${var/%p/r}`; `${var#glob}`, `${var##glob}`,
//!   `${var%glob}`, `${var%%glob}`; arguments may hold `${…}` themselves;
//! - `$$` is a literal `$` (`$${var}` stays `${var}`); `$var` without braces
//!   is plain text;
//! - strict mode (Flux's default): a variable that is not set and has no
//!   default operator is an error naming it.

use std::collections::BTreeMap;

use flux_yaml::Value;

/// The annotation or label that turns substitution off for one object.
pub const DISABLE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

#[derive(Debug)]
enum Node {
    Text(String),
    Func {
        name: String,
        param: String,
        args: Vec<Vec<Node>>,
    },
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    _text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().collect(),
            pos: 0,
            _text: text,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    /// Top-level text up to the end.
    fn parse_all(&mut self) -> Result<Vec<Node>, SubstituteError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c == '$' && self.peek_at(1) == Some('$') {
                text.push('$');
                self.pos += 2;
                continue;
            }
            if c == '$' && self.peek_at(1) == Some('{') {
                if !text.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text)));
                }
                self.pos += 2;
                nodes.push(self.parse_func()?);
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        Ok(nodes)
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn expect_close(&mut self) -> Result<(), SubstituteError> {
        if self.peek() == Some('}') {
            self.pos += 1;
            Ok(())
        } else {
            Err(SubstituteError::BadSubstitution)
        }
    }

    /// An argument: text and nested `${…}` until a stop character (not
    /// consumed). `escapes`: `\/`, `\\` and `$$` are escapes.
    fn parse_arg(&mut self, stop: &[char], escapes: bool) -> Result<Vec<Node>, SubstituteError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if stop.contains(&c) {
                break;
            }
            if escapes && c == '\\' && matches!(self.peek_at(1), Some('/') | Some('\\')) {
                text.push(self.peek_at(1).unwrap_or('\\'));
                self.pos += 2;
                continue;
            }
            if escapes && c == '$' && self.peek_at(1) == Some('$') {
                text.push('$');
                self.pos += 2;
                continue;
            }
            if c == '$' && self.peek_at(1) == Some('{') {
                if !text.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text)));
                }
                self.pos += 2;
                nodes.push(self.parse_func()?);
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        Ok(nodes)
    }

    /// After `${`.
    fn parse_func(&mut self) -> Result<Node, SubstituteError> {
        if self.peek() == Some('#') {
            self.pos += 1;
            let param = self.name();
            if param.is_empty() {
                return Err(SubstituteError::BadSubstitution);
            }
            self.expect_close()?;
            return Ok(Node::Func {
                name: "#".to_string(),
                param,
                args: Vec::new(),
            });
        }
        let param = self.name();
        if param.is_empty() {
            return Err(SubstituteError::VariableName);
        }
        let func = |name: &str, args: Vec<Vec<Node>>| Node::Func {
            name: name.to_string(),
            param: param.clone(),
            args,
        };
        match self.peek() {
            Some('}') => {
                self.pos += 1;
                Ok(func("", Vec::new()))
            }
            Some(':') if matches!(self.peek_at(1), Some('=' | '-' | '?' | '+')) => {
                let op: String = [':', self.peek_at(1).unwrap_or('-')].iter().collect();
                self.pos += 2;
                let arg = self.parse_arg(&['}'], false)?;
                self.expect_close()?;
                Ok(func(&op, vec![arg]))
            }
            Some('=') => {
                self.pos += 1;
                let arg = self.parse_arg(&['}'], false)?;
                self.expect_close()?;
                Ok(func("=", vec![arg]))
            }
            Some(':') => {
                self.pos += 1;
                let mut args = vec![self.parse_arg(&[':', '}'], false)?];
                if self.peek() == Some(':') {
                    self.pos += 1;
                    args.push(self.parse_arg(&['}'], false)?);
                }
                self.expect_close()?;
                Ok(func(":", args))
            }
            Some(c @ (',' | '^')) => {
                self.pos += 1;
                let mut op = c.to_string();
                if self.peek() == Some(c) {
                    self.pos += 1;
                    op.push(c);
                }
                self.expect_close()?;
                Ok(func(&op, Vec::new()))
            }
            Some('/') => {
                self.pos += 1;
                let mut op = "/".to_string();
                if let Some(c @ ('/' | '#' | '%')) = self.peek() {
                    op.push(c);
                    self.pos += 1;
                }
                let pattern = self.parse_arg(&['/', '}'], true)?;
                if self.peek() != Some('/') {
                    return Err(SubstituteError::BadSubstitution);
                }
                self.pos += 1;
                let mut args = vec![pattern];
                if self.peek() != Some('}') {
                    args.push(self.parse_arg(&['}'], true)?);
                }
                self.expect_close()?;
                Ok(func(&op, args))
            }
            Some(c @ ('#' | '%')) => {
                self.pos += 1;
                let mut op = c.to_string();
                if self.peek() == Some(c) {
                    self.pos += 1;
                    op.push(c);
                }
                let arg = self.parse_arg(&['}'], false)?;
                self.expect_close()?;
                Ok(func(&op, vec![arg]))
            }
            _ => Err(SubstituteError::MissingBrace),
        }
    }
}

fn is_default_op(name: &str) -> bool {
    matches!(name, "=" | ":=" | ":-" | ":?" | ":+" | "-" | "+" | "?")
}

fn eval(
    nodes: &[Node],
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    out: &mut String,
) -> Result<(), SubstituteError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Func { name, param, args } => {
                let mut evaluated = Vec::with_capacity(args.len());
                for arg in args {
                    let mut s = String::new();
                    eval(arg, lookup, strict, &mut s)?;
                    evaluated.push(s);
                }
                let value = lookup(param);
                if value.is_none() && strict && !is_default_op(name) {
                    return Err(SubstituteError::NotSet(param.to_string()));
                }
                out.push_str(&apply_func(name, &value.unwrap_or_default(), &evaluated));
            }
        }
    }
    Ok(())
}

fn apply_func(name: &str, s: &str, args: &[String]) -> String {
    let first = || args.first().cloned().unwrap_or_default();
    match name {
        "," => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        ",," => s.to_lowercase(),
        "^" => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" => trim_prefix(s, &first(), false),
        "##" => trim_prefix(s, &first(), true),
        "%" => reverse(&trim_prefix(&reverse(s), &reverse(&first()), false)),
        "%%" => reverse(&trim_prefix(&reverse(s), &reverse(&first()), true)),
        ":" => substring(s, args),
        "/" | "//" => match args {
            [] => s.to_string(),
            [p] | [p, _] => {
                let with = args.get(1).cloned().unwrap_or_default();
                if name == "/" {
                    s.replacen(p.as_str(), &with, 1)
                } else {
                    s.replace(p.as_str(), &with)
                }
            }
            _ => s.to_string(),
        },
        "/#" => match args {
            [p, r] if s.starts_with(p.as_str()) => s.replacen(p.as_str(), r, 1),
            _ => s.to_string(),
        },
        "/%" => match args {
            [p, r] if s.ends_with(p.as_str()) => format!("{}{r}", &s[..s.len() - p.len()]),
            _ => s.to_string(),
        },
        _ => {
            if s.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                s.to_string()
            }
        }
    }
}

fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}

/// Removes the shortest (or longest) prefix matching the glob.
fn trim_prefix(s: &str, pattern: &str, longest: bool) -> String {
    let boundaries: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .filter(|&i| i > 0)
        .collect();
    let mut chosen = None;
    for &end in &boundaries {
        if glob_match(pattern, &s[..end]) {
            chosen = Some(end);
            if !longest {
                break;
            }
        }
    }
    match chosen {
        Some(end) => s[end..].to_string(),
        None => s.to_string(),
    }
}

/// Go's `path.Match` (`*` and `?` do not match `/`).
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => n.first().is_some_and(|c| *c != '/') && go(rest, &n[1..]),
            Some(('[', rest)) => {
                let Some(close) = rest.iter().position(|c| *c == ']') else {
                    return false;
                };
                let Some(c) = n.first() else { return false };
                let class = &rest[..close];
                let (negate, class) = match class.first() {
                    Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= *c && *c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && go(&rest[close + 1..], &n[1..])
            }
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == rest.first() && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(&p, &n)
}

fn substring(s: &str, args: &[String]) -> String {
    let Some(Ok(mut pos)) = args.first().map(|a| a.trim().parse::<i64>()) else {
        return s.to_string();
    };
    let len = s.len() as i64;
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let slice = |a: i64, b: i64| -> String {
        let (a, b) = (a.clamp(0, len) as usize, b.clamp(0, len) as usize);
        s.get(a..b).unwrap_or_default().to_string()
    };
    match args.get(1).map(|a| a.trim().parse::<i64>()) {
        None => {
            if pos < len {
                slice(pos, len)
            } else {
                String::new()
            }
        }
        Some(Err(_)) => s.to_string(),
        Some(Ok(length)) if length < 0 => {
            let end = len + length;
            if end < pos {
                String::new()
            } else {
                slice(pos, end)
            }
        }
        Some(Ok(length)) => {
            if pos + length >= len {
                if pos < len {
                    slice(pos, len)
                } else {
                    String::new()
                }
            } else {
                slice(pos, pos + length)
            }
        }
    }
}

/// Why a substitution failed, in Flux's (`drone/envsubst`'s) words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteError {
    /// A `${…}` expression that does not parse.
    #[error("bad substitution")]
    BadSubstitution,
    /// A `${…}` whose variable name does not parse.
    #[error("unable to parse variable name")]
    VariableName,
    /// A `${` without its `}`.
    #[error("missing closing brace")]
    MissingBrace,
    /// A variable without value nor default, in strict mode.
    #[error("variable not set (strict mode): \"{0}\"")]
    NotSet(String),
    /// A variable name Flux refuses.
    #[error("'{0}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")]
    InvalidName(String),
    /// The substitution of an object failed.
    #[error("variable substitution failed: {0}")]
    Failed(Box<SubstituteError>),
}

/// Substitutes `${…}` in `text`.
pub fn envsubst(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, SubstituteError> {
    let nodes = Parser::new(text).parse_all()?;
    let mut out = String::with_capacity(text.len());
    eval(&nodes, lookup, strict, &mut out)?;
    Ok(out)
}

/// Whether a variable name is one Flux accepts.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether an object opted out (`kustomize.toolkit.fluxcd.io/substitute:
/// disabled` as a label or an annotation).
pub fn disabled(object: &Value) -> bool {
    let metadata = object.get("metadata");
    ["labels", "annotations"].iter().any(|field| {
        metadata
            .and_then(|m| m.get(field))
            .and_then(|m| m.get(DISABLE_KEY))
            .and_then(Value::as_str)
            == Some("disabled")
    })
}

/// Substitutes `vars` in one object, scalar by scalar (keys included).
/// Values have their line breaks removed, as Flux does.
///
/// Flux substitutes the object's YAML text and reads it back, so a value's
/// type after substitution depends on how the file quoted it. This engine
/// keeps no quoting, so it decides per scalar: a string stays a string,
/// except a value that is exactly one `${…}` outside the string maps of
/// ConfigMaps, Secrets, labels and annotations, which is read as YAML
/// (`replicas: ${N}` becomes a number, as in Flux).
pub fn substitute_object(
    object: &Value,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<Value, SubstituteError> {
    if let Some(bad) = vars.keys().find(|k| !valid_name(k)) {
        return Err(SubstituteError::InvalidName(bad.clone()));
    }
    let lookup = |name: &str| vars.get(name).map(|v| v.replace('\n', ""));
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut path = Vec::new();
    walk(object, &lookup, strict, kind, &mut path).map_err(|e| SubstituteError::Failed(Box::new(e)))
}

fn string_map_field(kind: &str, path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        (kind, p.as_slice()),
        (
            "ConfigMap" | "Secret",
            ["data" | "stringData" | "binaryData", _]
        )
    ) || matches!(p.as_slice(), [.., "labels" | "annotations", _])
}

fn walk(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Value, SubstituteError> {
    Ok(match value {
        Value::String(s) if s.contains('$') => {
            let out = envsubst(s, lookup, strict)?;
            let single = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
            if single && !string_map_field(kind, path) {
                flux_yaml::resolve_plain(&out)
            } else {
                Value::String(out)
            }
        }
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(walk(item, lookup, strict, kind, path)?);
                path.pop();
            }
            Value::Seq(out)
        }
        Value::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, item) in entries {
                let key = if key.contains('$') {
                    envsubst(key, lookup, strict)?
                } else {
                    key.clone()
                };
                path.push(key.clone());
                out.push((key, walk(item, lookup, strict, kind, path)?));
                path.pop();
            }
            Value::Map(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, strict: bool) -> Result<String, SubstituteError> {
        let vars: BTreeMap<String, String> = [("A", "apple"), ("N", "3"), ("E", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        envsubst(text, &|k| vars.get(k).cloned(), strict)
    }

    #[test]
    fn the_grammar_of_flux_envsubst() {
        assert_eq!(run("x: ${A}-${N}", true).unwrap(), "x: apple-3");
        assert_eq!(
            run("${MISSING:=dflt} ${E:-empty}", true).unwrap(),
            "dflt empty"
        );
        assert_eq!(run("$${A} $$ $A", true).unwrap(), "${A} $ $A");
        assert_eq!(
            run("${#A} ${A:1:3} ${A:-2} ${A^} ${A^^}", true).unwrap(),
            "5 ppl apple Apple APPLE"
        );
        assert_eq!(
            run("${A/p/P} ${A//p/P} ${A/#a/A} ${A/%e/E}", true).unwrap(),
            "aPple aPPle Apple applE"
        );
        assert_eq!(
            run("${A#*p} ${A##*p} ${A%p*} ${A%%p*}", true).unwrap(),
            "ple le ap a"
        );
        assert_eq!(run("${X:=${A}}", true).unwrap(), "apple");
        assert_eq!(
            run("${MISSING}", true).unwrap_err().to_string(),
            "variable not set (strict mode): \"MISSING\""
        );
        assert_eq!(run("${MISSING}", false).unwrap(), "");
        assert!(run("${A", true).is_err());
        assert!(run("${}", true).is_err());
    }

    #[test]
    fn objects_are_substituted_through_their_text() {
        let object = flux_yaml::parse(
            "kind: Deployment\nspec:\n  replicas: ${N}\n  name: ${A}\n  image: app:${N}\n",
        )
        .unwrap()
        .remove(0);
        let vars = BTreeMap::from([
            ("N".to_string(), "3".to_string()),
            ("A".to_string(), "a\nb".to_string()),
        ]);
        let out = substitute_object(&object, &vars, true).unwrap();
        let spec = out.get("spec").unwrap();
        assert_eq!(spec.get("replicas"), Some(&Value::Int(3)));
        assert_eq!(spec.get("name"), Some(&Value::String("ab".to_string())));
        assert_eq!(spec.get("image"), Some(&Value::String("app:3".to_string())));
        let cm = flux_yaml::parse("kind: ConfigMap\ndata:\n  n: ${N}\n")
            .unwrap()
            .remove(0);
        let out = substitute_object(&cm, &vars, true).unwrap();
        assert_eq!(
            out.get("data").and_then(|d| d.get("n")),
            Some(&Value::String("3".to_string()))
        );
        let bad = BTreeMap::from([("1X".to_string(), String::new())]);
        assert!(substitute_object(&object, &bad, true).is_err());
    }
}
