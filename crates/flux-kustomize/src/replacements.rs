//! `replacements`: copy a field of one resource (or a literal
//! `sourceValue`) into fields of others, as kustomize's replacement filter
//! does:
//!
//! - the source is selected by exact group/version/kind/name/namespace
//!   over current and previous ids and must be unique; its `fieldPath` is
//!   looked up with `[key=value]` (exact), indexes and `-`; a missing or
//!   empty field is an error; `options.delimiter`/`index` take a part;
//! - targets are selected by anchored regular expressions, label and
//!   annotation selectors, minus `reject`s; each `fieldPaths` entry is
//!   matched with `[key=value]` (an unanchored regular expression, as in
//!   kustomize), indexes and `*`; a target missing the field is an error
//!   unless `options.create`;
//! - a scalar target keeps its type and takes the value's text (so a
//!   mapping gives `""`), other targets are replaced by the value;
//!   `delimiter`/`index` replace, prepend or append one part;
//! - a path that continues into a string holding JSON is followed into the
//!   JSON, which is written back as Go's `encoding/json` does. YAML held in
//!   a string is refused (kustomize re-encodes it with its own YAML
//!   writer, which this engine does not reproduce).

use flux_yaml::Value;

use crate::patch::{Compiled, Target};
use crate::resid::ResId;
use crate::resource::Resource;

/// One replacement.
#[derive(Clone, Debug)]
pub struct Replacement {
    source: Option<Source>,
    source_value: Option<String>,
    targets: Vec<TargetSpec>,
}

#[derive(Clone, Debug, Default)]
struct Source {
    id: Selector,
    field_path: String,
    delimiter: String,
    index: i64,
}

#[derive(Clone, Debug, Default)]
struct Selector {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
    label_selector: String,
    annotation_selector: String,
}

#[derive(Clone, Debug, Default)]
struct TargetSpec {
    select: Selector,
    reject: Vec<Selector>,
    field_paths: Vec<String>,
    delimiter: String,
    index: i64,
    create: bool,
}

fn unknown(field: &str) -> String {
    format!("invalid Kustomization: json: unknown field \"{field}\"")
}

fn text(value: &Value, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("replacement: '{what}' must be a string")),
    }
}

fn fields<'a>(value: &'a Value, what: &str) -> Result<&'a [(String, Value)], String> {
    match value {
        Value::Map(entries) => Ok(entries),
        Value::Null => Ok(&[]),
        _ => Err(format!("replacement: '{what}' must be a mapping")),
    }
}

impl Selector {
    fn parse(
        value: &Value,
        strict: bool,
        extra: &mut dyn FnMut(&str, &Value) -> Result<bool, String>,
    ) -> Result<Self, String> {
        let mut s = Selector::default();
        for (key, v) in fields(value, "selector")? {
            match key.as_str() {
                "group" => s.group = text(v, key)?,
                "version" => s.version = text(v, key)?,
                "kind" => s.kind = text(v, key)?,
                "name" => s.name = text(v, key)?,
                "namespace" => s.namespace = text(v, key)?,
                "labelSelector" => s.label_selector = text(v, key)?,
                "annotationSelector" => s.annotation_selector = text(v, key)?,
                other => {
                    if !extra(other, v)? && strict {
                        return Err(unknown(other));
                    }
                }
            }
        }
        Ok(s)
    }

    fn is_empty_id(&self) -> bool {
        self.group.is_empty()
            && self.version.is_empty()
            && self.kind.is_empty()
            && self.name.is_empty()
            && self.namespace.is_empty()
    }

    fn display(&self) -> String {
        ResId {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
        .to_string()
    }
}

fn parse_options(
    value: &Value,
    delimiter: &mut String,
    index: &mut i64,
    create: Option<&mut bool>,
    strict: bool,
) -> Result<(), String> {
    let mut create = create;
    for (key, v) in fields(value, "options")? {
        match key.as_str() {
            "delimiter" => *delimiter = text(v, key)?,
            "index" => {
                *index = match v {
                    Value::Int(i) => *i,
                    Value::Null => 0,
                    _ => return Err("replacement: 'index' must be an integer".to_string()),
                }
            }
            "create" => {
                let flag = matches!(v, Value::Bool(true));
                if let Some(c) = create.as_deref_mut() {
                    *c = flag;
                }
            }
            "encoding" => {}
            other if strict => return Err(unknown(other)),
            _ => {}
        }
    }
    Ok(())
}

impl Replacement {
    /// Parses one replacement (`strict`: unknown fields are errors, as in
    /// a kustomization; files referenced by `path` are read leniently).
    pub fn parse(value: &Value, strict: bool) -> Result<Self, String> {
        let mut r = Replacement {
            source: None,
            source_value: None,
            targets: Vec::new(),
        };
        for (key, v) in fields(value, "replacement")? {
            match key.as_str() {
                // A null source is no source (JSON's null into a pointer).
                "source" if *v == Value::Null => r.source = None,
                "source" => {
                    let mut field_path = String::new();
                    let (mut delimiter, mut index) = (String::new(), 0);
                    let id = Selector::parse(v, strict, &mut |k, v| match k {
                        "fieldPath" => {
                            field_path = text(v, k)?;
                            Ok(true)
                        }
                        "options" => {
                            parse_options(v, &mut delimiter, &mut index, None, strict)?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    })?;
                    r.source = Some(Source {
                        id,
                        field_path,
                        delimiter,
                        index,
                    });
                }
                "sourceValue" => r.source_value = Some(text(v, key)?),
                "targets" => {
                    let items = match v {
                        Value::Seq(items) => items.as_slice(),
                        Value::Null => &[],
                        _ => return Err("replacement: 'targets' must be a list".to_string()),
                    };
                    for item in items {
                        r.targets.push(TargetSpec::parse(item, strict)?);
                    }
                }
                other if strict => return Err(unknown(other)),
                _ => {}
            }
        }
        Ok(r)
    }
}

impl TargetSpec {
    fn parse(value: &Value, strict: bool) -> Result<Self, String> {
        let mut t = TargetSpec::default();
        let mut has_select = false;
        for (key, v) in fields(value, "target")? {
            match key.as_str() {
                "select" => {
                    has_select = !matches!(v, Value::Null);
                    t.select = Selector::parse(v, strict, &mut |_, _| Ok(false))?;
                }
                "reject" => {
                    if let Value::Seq(items) = v {
                        for item in items {
                            t.reject
                                .push(Selector::parse(item, strict, &mut |_, _| Ok(false))?);
                        }
                    }
                }
                "fieldPaths" => {
                    if let Value::Seq(items) = v {
                        for item in items {
                            t.field_paths.push(text(item, key)?);
                        }
                    }
                }
                "options" => parse_options(
                    v,
                    &mut t.delimiter,
                    &mut t.index,
                    Some(&mut t.create),
                    strict,
                )?,
                other if strict => return Err(unknown(other)),
                _ => {}
            }
        }
        if !has_select {
            return Err("target must specify resources to select".to_string());
        }
        Ok(t)
    }
}

/// Parses the content of a replacement file: one replacement or a list.
pub fn parse_file(text: &str) -> Result<Vec<Replacement>, String> {
    let docs = flux_yaml::parse(text).map_err(|e| e.to_string())?;
    let mut doc = docs.into_iter().next();
    if let Some(doc) = doc.as_mut() {
        crate::fields::canonicalize(doc, "Replacement");
    }
    match doc {
        Some(Value::Seq(items)) => items.iter().map(|i| Replacement::parse(i, false)).collect(),
        Some(v @ Value::Map(_)) => Ok(vec![Replacement::parse(&v, false)?]),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(_) => {
            Err("unsupported replacement type encountered within replacement path".to_string())
        }
    }
}

fn all_ids(resource: &Resource) -> Vec<ResId> {
    let mut ids = vec![resource.id.clone()];
    ids.extend(resource.previous_ids());
    ids
}

/// Applies the replacements, in order, to the resources.
pub fn apply(resources: &mut [Resource], replacements: &[Replacement]) -> Result<(), String> {
    for r in replacements {
        if (r.source.is_none() && r.source_value.is_none()) || r.targets.is_empty() {
            return Err("replacements must specify a source and at least one target".to_string());
        }
        let value = source_value(resources, r)?;
        for target in &r.targets {
            apply_target(resources, &value, target)?;
        }
        for resource in resources.iter_mut() {
            resource.id = ResId::of(&resource.value)?;
        }
    }
    Ok(())
}

fn source_value(resources: &[Resource], r: &Replacement) -> Result<Value, String> {
    if let Some(v) = &r.source_value {
        if r.source.is_some() {
            return Err("value and resource selectors are mutually exclusive".to_string());
        }
        return Ok(Value::String(v.clone()));
    }
    let Some(source) = &r.source else {
        return Err("replacements must specify a source and at least one target".to_string());
    };
    let selector = &source.id;
    let mut found: Option<&Resource> = None;
    for resource in resources {
        let selected = all_ids(resource).iter().any(|id| {
            (selector.name.is_empty() || selector.name == id.name)
                && (selector.namespace.is_empty() || {
                    let probe = ResId {
                        namespace: selector.namespace.clone(),
                        ..id.clone()
                    };
                    probe.effective_namespace() == id.effective_namespace()
                })
                && (selector.group.is_empty() || selector.group == id.group)
                && (selector.version.is_empty() || selector.version == id.version)
                && (selector.kind.is_empty() || selector.kind == id.kind)
        });
        if selected {
            if found.is_some() {
                return Err(format!(
                    "multiple matches for selector {}",
                    selector.display()
                ));
            }
            found = Some(resource);
        }
    }
    let Some(resource) = found else {
        return Err(format!("nothing selected by {}", selector.display()));
    };
    let path = if source.field_path.is_empty() {
        "metadata.name".to_string()
    } else {
        source.field_path.clone()
    };
    let parts = split_path(&path);
    let node = lookup(&resource.value, &parts)
        .map_err(|e| format!("error looking up replacement source: {e}"))?;
    let Some(node) = node.filter(|n| !is_nil_or_empty(n)) else {
        return Err(format!(
            "fieldPath `{path}` is missing for replacement source {}",
            selector.display()
        ));
    };
    if source.delimiter.is_empty() {
        return Ok(node.clone());
    }
    if matches!(node, Value::Map(_) | Value::Seq(_)) {
        return Err("delimiter option can only be used with scalar nodes".to_string());
    }
    let whole = scalar_text(node);
    let parts: Vec<&str> = whole.split(source.delimiter.as_str()).collect();
    let part = usize::try_from(source.index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| {
            format!(
                "options.index {} is out of bounds for value {whole}",
                source.index
            )
        })?;
    Ok(retyped(node, part))
}

/// kyaml's `IsNilOrEmpty`: null, an empty mapping or sequence. An empty
/// string is a value (a scalar node), not a missing field.
fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        _ => false,
    }
}

/// The text of a scalar (`""` for a mapping or sequence).
fn scalar_text(v: &Value) -> String {
    crate::resid::node_text(Some(v))
}

/// A scalar of `like`'s type with `text` (kustomize keeps the node's tag).
fn retyped(like: &Value, text: &str) -> Value {
    match like {
        Value::String(_) | Value::Map(_) | Value::Seq(_) => Value::String(text.to_string()),
        _ => flux_yaml::resolve_plain(text),
    }
}

/// A scalar node without a tag (created by a replacement, or emptied by
/// one), before a replacement sets its text: the marker, then its text.
const CREATED: &str = "\u{0}kustomize-created-scalar\u{0}";
/// A scalar node without a tag, once a replacement set its text: the
/// marker, then the text (typed when the replacement is done).
const UNTYPED: &str = "\u{0}kustomize-untyped-scalar\u{0}";

/// The text of an untyped node before it is set, if `v` is one.
fn created_text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => s.strip_prefix(CREATED),
        _ => None,
    }
}

/// Sets a scalar target's text, keeping its type.
fn set_scalar(target: &mut Value, text: &str) -> Result<(), String> {
    let new = match target {
        // kyaml copies only the text. A node without a tag stays without
        // one: its text decides its type (when the replacement is done),
        // and an empty one is null (`""` where read as text).
        Value::String(s) if s.starts_with(CREATED) => {
            if text.is_empty() {
                Value::String(crate::smp::EMPTY_NULL.to_string())
            } else {
                Value::String(format!("{UNTYPED}{text}"))
            }
        }
        Value::String(_) => Value::String(text.to_string()),
        // An existing null keeps its type: nothing stays null, anything
        // else cannot be read back.
        Value::Null if text.is_empty() => Value::String(crate::smp::EMPTY_NULL.to_string()),
        Value::Null => {
            let tag = match flux_yaml::resolve_plain(text) {
                Value::Bool(_) => "bool",
                Value::Int(_) | Value::Uint(_) => "int",
                Value::Float(_) => "float",
                Value::Null => "null",
                _ => "str",
            };
            return Err(format!(
                "map[string]interface {{}}(nil): yaml: cannot decode !!{tag} `{text}` as a !!null"
            ));
        }
        Value::Int(_) | Value::Uint(_) => match flux_yaml::resolve_plain(text) {
            v @ (Value::Int(_) | Value::Uint(_)) => v,
            _ => return Err(format!("yaml: cannot decode !!str `{text}` as a !!int")),
        },
        Value::Float(_) => match flux_yaml::resolve_plain(text) {
            v @ (Value::Int(_) | Value::Uint(_) | Value::Float(_)) => v,
            _ => return Err(format!("yaml: cannot decode !!str `{text}` as a !!float")),
        },
        Value::Bool(_) => match flux_yaml::resolve_plain(text) {
            v @ Value::Bool(_) => v,
            _ => return Err(format!("yaml: cannot decode !!str `{text}` as a !!bool")),
        },
        Value::Map(_) | Value::Seq(_) => return Ok(()),
    };
    *target = new;
    Ok(())
}

/// kustomize's path splitter: dots, `\.` escapes, and dots inside
/// `[key=value]` kept.
pub fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut pieces: Vec<&str> = path.split('.').collect();
    if pieces.len() > 1 && pieces[0].is_empty() {
        pieces.remove(0);
    }
    for piece in pieces {
        match raw.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => raw.push(piece.to_string()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let elem = &raw[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut joined = vec![elem.clone()];
            while i < raw.len() - 1 {
                i += 1;
                joined.push(raw[i].clone());
                if raw[i].ends_with(']') {
                    break;
                }
            }
            let text = joined.join(".");
            if text.contains('=') {
                out.push(text);
            } else {
                out.push(text.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

fn list_element(part: &str) -> Option<(&str, &str)> {
    let inner = part.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split_once('=').unwrap_or((inner, "")))
}

fn wrong_kind(expected: &str, got: &Value) -> String {
    let kind = match got {
        Value::Map(_) => "MappingNode",
        Value::Seq(_) => "SequenceNode",
        _ => "ScalarNode",
    };
    format!("wrong node kind: expected {expected} but got {kind}")
}

/// kyaml's path getter (the source lookup).
fn lookup<'a>(node: &'a Value, parts: &[String]) -> Result<Option<&'a Value>, String> {
    let mut current = node;
    for part in parts {
        if matches!(current, Value::Null) {
            return Ok(None);
        }
        let next = if let Ok(index) = part.parse::<i64>() {
            if index < 0 {
                return Err(format!("array index {index} cannot be negative"));
            }
            let Value::Seq(items) = current else {
                return Err(wrong_kind("SequenceNode", current));
            };
            usize::try_from(index).ok().and_then(|i| items.get(i))
        } else if part == "-" {
            let Value::Seq(items) = current else {
                return Err(wrong_kind("SequenceNode", current));
            };
            items.last()
        } else if part == "*" {
            return Err("wildcard is not supported in PathGetter".to_string());
        } else if part.starts_with('[') && part.ends_with(']') {
            let Some((key, value)) = list_element(part).filter(|_| part.contains('=')) else {
                return Err(
                    "list path element must contain fieldName=fieldValue for element to match"
                        .to_string(),
                );
            };
            let Value::Seq(items) = current else {
                return Err(wrong_kind("SequenceNode", current));
            };
            items.iter().find(|e| {
                if key.is_empty() {
                    scalar_text(e) == value && !matches!(e, Value::Map(_) | Value::Seq(_))
                } else {
                    e.get(key).is_some_and(|v| scalar_text(v) == value)
                }
            })
        } else {
            let Value::Map(entries) = current else {
                return Err(wrong_kind("MappingNode", current));
            };
            entries.iter().find(|(k, _)| k == part).map(|(_, v)| v)
        };
        match next {
            Some(n) => current = n,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

impl Selector {
    /// The id part as a patch-style target (anchored regular expressions).
    fn compile(&self) -> Result<Compiled, String> {
        Target {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            label_selector: self.label_selector.clone(),
            annotation_selector: self.annotation_selector.clone(),
        }
        .compile()
        .map_err(String::from)
    }
}

fn apply_target(
    resources: &mut [Resource],
    value: &Value,
    spec: &TargetSpec,
) -> Result<(), String> {
    let field_paths = if spec.field_paths.is_empty() {
        vec!["metadata.name".to_string()]
    } else {
        spec.field_paths.clone()
    };
    let select = spec.select.compile()?;
    let rejects = spec
        .reject
        .iter()
        .map(|r| Ok((r, r.compile()?)))
        .collect::<Result<Vec<_>, String>>()?;
    for resource in resources.iter_mut() {
        if !select.matches_metadata(&resource.value) {
            continue;
        }
        let rejected_by_metadata = rejects.iter().any(|(r, c)| {
            !(r.annotation_selector.is_empty() && r.label_selector.is_empty())
                && c.matches_metadata(&resource.value)
        });
        if rejected_by_metadata {
            continue;
        }
        let ids = all_ids(resource);
        let rejected_by_id = rejects
            .iter()
            .filter(|(r, _)| !r.is_empty_id())
            .any(|(_, c)| ids.iter().any(|id| c.matches_id(id)));
        if rejected_by_id || !ids.iter().any(|id| select.matches_id(id)) {
            continue;
        }
        // Nodes without a tag (an earlier replacement created or emptied
        // them): a replacement sets their text like a created one's.
        let mut untyped: Vec<(Vec<flux_yaml::Step>, String)> = resource
            .texts
            .iter()
            .filter(|(_, text, read)| text.is_empty() && *read == Value::Null)
            .map(|(path, _, _)| (path.clone(), String::new()))
            .collect();
        untyped.extend(resource.untyped.iter().cloned());
        for (path, text) in &untyped {
            if let Some(v) = crate::smp::at_path(&mut resource.value, path)
                && !matches!(v, Value::Map(_) | Value::Seq(_))
            {
                *v = Value::String(format!("{CREATED}{text}"));
            }
        }
        let copied = field_paths
            .iter()
            .try_for_each(|path| copy_to_target(&mut resource.value, value, path, spec));
        // Untouched ones as they were; set ones typed by their new text and
        // remembered as untyped.
        let mut set = Vec::new();
        settle_untyped(&mut resource.value, &mut Vec::new(), &mut set);
        for (path, text) in set {
            resource.untyped.retain(|(p, _)| *p != path);
            resource.untyped.push((path, text));
        }
        copied?;
        if scalar_text(value).is_empty() {
            // An untyped node with no text: null, read as "" where kustomize
            // reads text, and not a null a merge clears (it has no tag).
            let mut emptied = Vec::new();
            crate::smp::collect_empty_nulls(&mut resource.value, &mut emptied);
            resource.texts.extend(
                emptied
                    .into_iter()
                    .map(|f| (f.path, String::new(), Value::Null)),
            );
        }
    }
    Ok(())
}

/// Replaces the markers of untyped nodes in `value`: one not set goes back
/// to its text's value (null when empty); one set gets its new text's value
/// and is reported in `set` with its path and text.
fn settle_untyped(
    value: &mut Value,
    path: &mut Vec<flux_yaml::Step>,
    set: &mut Vec<(Vec<flux_yaml::Step>, String)>,
) {
    match value {
        Value::Map(entries) => {
            for (k, v) in entries {
                path.push(flux_yaml::Step::Key(k.clone()));
                settle_untyped(v, path, set);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(flux_yaml::Step::Index(i));
                settle_untyped(v, path, set);
                path.pop();
            }
        }
        Value::String(s) => {
            if let Some(text) = s.strip_prefix(UNTYPED) {
                let text = text.to_string();
                *value = flux_yaml::resolve_plain(&text);
                set.push((path.clone(), text));
            } else if let Some(text) = s.strip_prefix(CREATED) {
                *value = if text.is_empty() {
                    Value::Null
                } else {
                    flux_yaml::resolve_plain(text)
                };
            }
        }
        _ => {}
    }
}

fn retrieval_error(path: &str, create: bool) -> String {
    if create {
        format!("unable to find or create field \"{path}\" in replacement target")
    } else {
        format!("unable to find field \"{path}\" in replacement target")
    }
}

fn copy_to_target(
    object: &mut Value,
    value: &Value,
    path: &str,
    spec: &TargetSpec,
) -> Result<(), String> {
    let parts = split_path(path);
    let mut count = 0usize;
    let mut failure = None;
    let mut set = |target: &mut Value| {
        if failure.is_some() {
            return;
        }
        count += 1;
        if let Err(e) = set_field_value(spec, target, value) {
            failure = Some(e);
        }
    };
    let create = spec.create.then_some(value);
    match_path(object, &parts, create, &mut set)
        .map_err(|e| format!("{}: {e}", retrieval_error(path, spec.create)))?;
    if let Some(e) = failure {
        return Err(e);
    }
    if count == 0 {
        return Err(retrieval_error(path, spec.create));
    }
    Ok(())
}

fn set_field_value(spec: &TargetSpec, target: &mut Value, value: &Value) -> Result<(), String> {
    let mut text = scalar_text(value);
    if !spec.delimiter.is_empty() {
        if matches!(target, Value::Map(_) | Value::Seq(_)) {
            return Err("delimiter option can only be used with scalar nodes".to_string());
        }
        let current = match created_text(target) {
            Some(text) => text.to_string(),
            None => scalar_text(target),
        };
        let mut parts: Vec<String> = current
            .split(spec.delimiter.as_str())
            .map(str::to_string)
            .collect();
        match usize::try_from(spec.index) {
            Err(_) => parts.insert(0, text.clone()),
            Ok(i) if i >= parts.len() => parts.push(text.clone()),
            Ok(i) => parts[i].clone_from(&text),
        }
        text = parts.join(&spec.delimiter);
        return set_scalar(target, &text);
    }
    match target {
        Value::Map(_) | Value::Seq(_) => {
            *target = value.clone();
            Ok(())
        }
        _ => set_scalar(target, &text),
    }
}

/// The kind a created node gets: a sequence before an index or
/// `[key=value]`, the value's own kind at the end, else a mapping.
fn created_node(next: Option<&String>, value: &Value) -> Value {
    match next {
        Some(p) if (p.starts_with('[') && p.ends_with(']')) || p.parse::<usize>().is_ok() => {
            Value::Seq(Vec::new())
        }
        Some(_) => Value::Map(Vec::new()),
        None => match value {
            Value::Map(_) => Value::Map(Vec::new()),
            Value::Seq(_) => Value::Seq(Vec::new()),
            // A created scalar has no tag: its text decides its type.
            _ => Value::String(CREATED.to_string()),
        },
    }
}

/// kyaml's path matcher (the targets): calls `apply` on every match.
fn match_path(
    node: &mut Value,
    parts: &[String],
    create: Option<&Value>,
    apply: &mut dyn FnMut(&mut Value),
) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        apply(node);
        return Ok(());
    };
    if let Ok(index) = first.parse::<usize>() {
        let Value::Seq(items) = node else {
            return Err(wrong_kind("SequenceNode", node));
        };
        if items.len() == index
            && let Some(value) = create
        {
            items.push(created_node(rest.first(), value));
        }
        let len = items.len();
        let Some(element) = items.get_mut(index) else {
            return Err(format!(
                "index {index} specified but only {len} elements found"
            ));
        };
        return match_path(element, rest, create, apply);
    }
    if first.starts_with('[') && first.ends_with(']') {
        let Some((key, pattern)) = list_element(first).filter(|_| first.contains('=')) else {
            return Err(
                "list path element must contain fieldName=fieldValue for element to match"
                    .to_string(),
            );
        };
        let regex = flux_go::regexp::translate(pattern)
            .map_err(|e| format!("error parsing regexp: {e}"))
            .and_then(|go| regex::Regex::new(&go).map_err(|e| e.to_string()))?;
        let Value::Seq(items) = node else {
            return Err(wrong_kind("SequenceNode", node));
        };
        let mut matched = 0;
        for item in items.iter_mut() {
            let hit = if key.is_empty() {
                regex.is_match(scalar_text(item).trim())
            } else {
                item.get(key)
                    .filter(|v| !matches!(v, Value::Null))
                    .is_some_and(|v| regex.is_match(scalar_text(v).trim()))
            };
            if hit {
                matched += 1;
                if key.is_empty() {
                    apply(item);
                } else {
                    match_path(item, rest, create, apply)?;
                }
            }
        }
        if matched == 0 && create.is_some() {
            let element = if key.is_empty() {
                Value::String(pattern.to_string())
            } else {
                Value::Map(vec![(key.to_string(), Value::String(pattern.to_string()))])
            };
            items.push(element);
            return match_path(node, parts, create, apply);
        }
        return Ok(());
    }
    if first == "*" {
        let Value::Seq(items) = node else {
            return Err(wrong_kind("SequenceNode", node));
        };
        for item in items {
            match_path(item, rest, create, apply)?;
        }
        return Ok(());
    }
    let Value::Map(entries) = node else {
        if matches!(node, Value::Null) {
            return Ok(());
        }
        return Err(wrong_kind("MappingNode", node));
    };
    let position = entries.iter().position(|(k, _)| k == first);
    let index = match (position, create) {
        (Some(i), _) => i,
        (None, Some(value)) => {
            entries.push((first.clone(), created_node(rest.first(), value)));
            entries.len() - 1
        }
        (None, None) => return Ok(()),
    };
    let child = &mut entries[index].1;
    if !rest.is_empty() {
        match child {
            Value::String(embedded) => return replace_in_embedded(embedded, rest, create, apply),
            // A scalar holding no structure: nothing there.
            Value::Map(_) | Value::Seq(_) => {}
            _ => return Ok(()),
        }
    }
    match_path(child, rest, create, apply)
}

/// A path continuing into a string: followed into JSON held in it.
fn replace_in_embedded(
    embedded: &mut String,
    parts: &[String],
    create: Option<&Value>,
    apply: &mut dyn FnMut(&mut Value),
) -> Result<(), String> {
    let trimmed = embedded.trim();
    let Some(first) = trimmed.chars().next() else {
        return Ok(());
    };
    if first != '{' && first != '[' {
        // A plain string, or YAML: kustomize re-encodes YAML with its own
        // writer; refused rather than written differently.
        let parsed = flux_yaml::parse(embedded)
            .ok()
            .and_then(|d| d.into_iter().next());
        if matches!(parsed, Some(Value::Map(_) | Value::Seq(_))) {
            return Err("replacing inside YAML held in a string is not supported".to_string());
        }
        return Ok(());
    }
    let Some(mut data) = flux_yaml::parse(embedded)
        .ok()
        .and_then(|d| d.into_iter().next())
    else {
        return Ok(());
    };
    let mut count = 0;
    match_path(&mut data, parts, create, &mut |node| {
        count += 1;
        apply(node);
    })?;
    if count == 0 {
        return Ok(());
    }
    let pretty = embedded.contains('\n') && embedded.contains("  ");
    *embedded = crate::generators::go_json_text(&data, pretty);
    Ok(())
}
