//! `patches` and `patchesJson6902` with JSON 6902 operations: target
//! selection as kustomize's `Select` does it (anchored regular expressions
//! for group, version, kind, name and namespace — original or current —,
//! label and annotation selectors), then the operations in order.
//! Strategic-merge patches are merged by [`crate::smp`].

use flux_yaml::Value;

use crate::resid::ResId;
use crate::resource::Resource;

/// A target whose regular expressions or selectors do not compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTarget(pub String);

impl From<String> for InvalidTarget {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<InvalidTarget> for String {
    fn from(error: InvalidTarget) -> String {
        error.0
    }
}

/// A patch target (`target:` of a patch).
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Group regular expression.
    pub group: String,
    /// Version regular expression.
    pub version: String,
    /// Kind regular expression.
    pub kind: String,
    /// Name regular expression.
    pub name: String,
    /// Namespace regular expression.
    pub namespace: String,
    /// Kubernetes label selector.
    pub label_selector: String,
    /// Kubernetes selector over annotations.
    pub annotation_selector: String,
}

impl Target {
    /// From a `target:` mapping.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Map(fields) = value else {
            return Err("'target' must be a mapping".to_string());
        };
        let mut t = Target::default();
        for (key, v) in fields {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                _ => return Err(format!("target: '{key}' must be a string")),
            };
            match key.as_str() {
                "group" => t.group = text,
                "version" => t.version = text,
                "kind" => t.kind = text,
                "name" => t.name = text,
                "namespace" => t.namespace = text,
                "labelSelector" => t.label_selector = text,
                "annotationSelector" => t.annotation_selector = text,
                other => {
                    return Err(format!(
                        "invalid Kustomization: json: unknown field \"{other}\""
                    ));
                }
            }
        }
        Ok(t)
    }

    /// The target with its regular expressions and selectors compiled.
    pub fn compile(&self) -> Result<Compiled, InvalidTarget> {
        let re = |p: &str| -> Result<Option<regex::Regex>, String> {
            if p.is_empty() {
                return Ok(None);
            }
            // Go's syntax (kustomize anchors the pattern the same way).
            let go = flux_go::regexp::translate(p).map_err(|e| {
                format!("invalid target regular expression '{p}': error parsing regexp: {e}")
            })?;
            regex::Regex::new(&format!("^(?:{go})$"))
                .map(Some)
                .map_err(|e| format!("invalid target regular expression '{p}': {e}"))
        };
        Ok(Compiled {
            group: re(&self.group)?,
            version: re(&self.version)?,
            kind: re(&self.kind)?,
            name: re(&self.name)?,
            namespace: re(&self.namespace)?,
            labels: Selector::parse(&self.label_selector)?,
            annotations: Selector::parse(&self.annotation_selector)?,
        })
    }

    /// The indexes of the resources the target selects (kustomize's
    /// `Select`: original or current name and effective namespace).
    pub fn select(&self, resources: &[Resource]) -> Result<Vec<usize>, String> {
        let compiled = self.compile()?;
        let matches = |r: &Option<regex::Regex>, s: &str| r.as_ref().is_none_or(|r| r.is_match(s));
        let mut out = Vec::new();
        for (i, resource) in resources.iter().enumerate() {
            let id = &resource.id;
            let org = resource.org_id();
            if !(matches(&compiled.namespace, &org.effective_namespace())
                || matches(&compiled.namespace, &id.effective_namespace()))
            {
                continue;
            }
            if !(matches(&compiled.name, &org.name) || matches(&compiled.name, &id.name)) {
                continue;
            }
            if !compiled.matches_gvk(id) || !compiled.matches_metadata(&resource.value) {
                continue;
            }
            out.push(i);
        }
        Ok(out)
    }
}

/// A compiled [`Target`].
#[derive(Debug)]
pub struct Compiled {
    group: Option<regex::Regex>,
    version: Option<regex::Regex>,
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
    labels: Selector,
    annotations: Selector,
}

impl Compiled {
    fn matches_gvk(&self, id: &ResId) -> bool {
        let matches = |r: &Option<regex::Regex>, s: &str| r.as_ref().is_none_or(|r| r.is_match(s));
        matches(&self.group, &id.group)
            && matches(&self.version, &id.version)
            && matches(&self.kind, &id.kind)
    }

    /// Group, version, kind, name and namespace (as written) match.
    pub fn matches_id(&self, id: &ResId) -> bool {
        let matches = |r: &Option<regex::Regex>, s: &str| r.as_ref().is_none_or(|r| r.is_match(s));
        self.matches_gvk(id)
            && matches(&self.name, &id.name)
            && matches(&self.namespace, &id.namespace)
    }

    /// The label and annotation selectors match the object.
    pub fn matches_metadata(&self, value: &Value) -> bool {
        let metadata = value.get("metadata");
        self.labels
            .matches(string_map(metadata.and_then(|m| m.get("labels"))))
            && self
                .annotations
                .matches(string_map(metadata.and_then(|m| m.get("annotations"))))
    }
}

fn string_map(value: Option<&Value>) -> Vec<(&str, &str)> {
    match value {
        Some(Value::Map(entries)) => entries
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A Kubernetes label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
/// `a notin (x,y)`, `a`, `!a`, comma-separated (all must hold).
#[derive(Debug, Default)]
struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            // A requirement ends at a comma outside parentheses.
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    c == ',' && depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let part = rest[..end].trim();
            rest = rest[end..].trim_start_matches(',').trim();
            requirements.push(Requirement::parse(part)?);
        }
        Ok(Self { requirements })
    }

    fn matches(&self, labels: Vec<(&str, &str)>) -> bool {
        let get = |k: &str| labels.iter().find(|(l, _)| *l == k).map(|(_, v)| *v);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

impl Requirement {
    fn parse(part: &str) -> Result<Self, String> {
        let invalid = || format!("unable to parse requirement: '{part}'");
        if let Some(key) = part.strip_prefix('!') {
            return Ok(Requirement::DoesNotExist(key.trim().to_string()));
        }
        if let Some((k, v)) = part.split_once("!=") {
            return Ok(Requirement::NotEquals(
                k.trim().to_string(),
                v.trim().to_string(),
            ));
        }
        if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            return Ok(Requirement::Equals(
                k.trim().to_string(),
                v.trim().to_string(),
            ));
        }
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(invalid)?;
            Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
        };
        let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
        match words.as_slice() {
            [key] => Ok(Requirement::Exists(key.to_string())),
            [key, rest] => {
                let rest = rest.trim();
                if let Some(values) = rest.strip_prefix("notin") {
                    Ok(Requirement::NotIn(key.to_string(), set(values)?))
                } else if let Some(values) = rest.strip_prefix("in") {
                    Ok(Requirement::In(key.to_string(), set(values)?))
                } else {
                    Err(invalid())
                }
            }
            _ => Err(invalid()),
        }
    }
}

/// One JSON 6902 operation.
#[derive(Clone, Debug)]
pub struct Operation {
    op: String,
    path: Vec<String>,
    from: Vec<String>,
    value: Option<Value>,
}

/// Parses a JSON 6902 patch (a YAML or JSON list of operations); `None`
/// when the text is not one (then it is a strategic-merge patch).
pub fn parse_json6902(text: &str) -> Option<Result<Vec<Operation>, String>> {
    let docs = flux_yaml::parse(text).ok()?;
    let first = docs.into_iter().find(|d| *d != Value::Null)?;
    let Value::Seq(items) = first else {
        return None;
    };
    let ops = items
        .into_iter()
        .map(|item| {
            let op = item
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let pointer = |key: &str| -> Result<Vec<String>, String> {
                match item.get(key).and_then(Value::as_str) {
                    Some(p) => parse_pointer(p),
                    None => Ok(Vec::new()),
                }
            };
            let path = pointer("path")?;
            let from = pointer("from")?;
            let value = item.get("value").cloned();
            if !matches!(
                op.as_str(),
                "add" | "remove" | "replace" | "move" | "copy" | "test"
            ) {
                return Err(format!("Unexpected kind: {op}"));
            }
            Ok(Operation {
                op,
                path,
                from,
                value,
            })
        })
        .collect();
    Some(ops)
}

fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer '{pointer}'"));
    };
    Ok(rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// Applies `ops` to `doc`, in order.
pub fn apply_json6902(doc: &mut Value, ops: &[Operation]) -> Result<(), String> {
    for op in ops {
        match op.op.as_str() {
            "add" => add(doc, &op.path, value_of(op)?)?,
            "remove" => {
                remove(doc, &op.path)?;
            }
            "replace" => {
                let value = value_of(op)?;
                match get_mut(doc, &op.path) {
                    Some(slot) => *slot = value,
                    // json-patch (as kustomize uses it) adds a missing key
                    // of an existing mapping.
                    None => {
                        let parent_is_map = op
                            .path
                            .split_last()
                            .and_then(|(_, parent)| get_mut(doc, parent))
                            .is_some_and(|p| matches!(p, Value::Map(_)));
                        if !parent_is_map {
                            return Err(format!(
                                "replace operation does not apply: doc is missing path: {}",
                                display(&op.path)
                            ));
                        }
                        add(doc, &op.path, value)?;
                    }
                }
            }
            "move" => {
                let value = remove(doc, &op.from)?;
                add(doc, &op.path, value)?;
            }
            "copy" => {
                // A missing source copies null (as json-patch does).
                let value = get_mut(doc, &op.from).map_or(Value::Null, |v| v.clone());
                add(doc, &op.path, value)?;
            }
            "test" => {
                // A missing path tests equal to null.
                let actual = get_mut(doc, &op.path).map_or(Value::Null, |v| v.clone());
                if actual != value_of(op)? {
                    return Err(format!("testing value {} failed", display(&op.path)));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

/// An operation's value; a missing one is JSON null (as evanphx/json-patch
/// reads it).
fn value_of(op: &Operation) -> Result<Value, String> {
    Ok(op.value.clone().unwrap_or(Value::Null))
}

fn display(path: &[String]) -> String {
    format!("/{}", path.join("/"))
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut node = doc;
    for part in path {
        node = match node {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k == part)
                .map(|(_, v)| v)?,
            Value::Seq(items) => items.get_mut(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let container = get_mut(doc, parent).ok_or_else(|| {
        format!(
            "add operation does not apply: doc is missing path: {}",
            display(path)
        )
    })?;
    match container {
        Value::Map(entries) => {
            match entries.iter_mut().find(|(k, _)| k == last) {
                Some((_, slot)) => *slot = value,
                None => entries.push((last.clone(), value)),
            }
            Ok(())
        }
        Value::Seq(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| {
                        format!(
                            "add operation does not apply: index out of range: {}",
                            display(path)
                        )
                    })?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: {}",
            display(path)
        )),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let missing = || {
        format!(
            "remove operation does not apply: doc is missing path: {}",
            display(path)
        )
    };
    let (last, parent) = path.split_last().ok_or_else(missing)?;
    let container = get_mut(doc, parent).ok_or_else(missing)?;
    match container {
        Value::Map(entries) => {
            let i = entries
                .iter()
                .position(|(k, _)| k == last)
                .ok_or_else(missing)?;
            Ok(entries.remove(i).1)
        }
        Value::Seq(items) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < items.len())
                .ok_or_else(missing)?;
            Ok(items.remove(i))
        }
        _ => Err(missing()),
    }
}

/// The documents of a strategic-merge patch (each a mapping).
pub fn merge_patches(text: &str) -> Result<Vec<Value>, String> {
    let docs = flux_yaml::parse_documents_first_key_wins(text, &crate::load::is_annotation)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for document in docs {
        let mut doc = document.value;
        if doc == Value::Null || doc == Value::Map(Vec::new()) {
            continue;
        }
        crate::load::annotations_as_written(&mut doc, document.texts);
        if !matches!(doc, Value::Map(_)) {
            return Err("a strategic-merge patch must be a mapping".to_string());
        }
        // kustomize reads each patch as a resource: it needs a kind, and a
        // name unless it is a list.
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.is_empty() {
            return Err("missing kind in the strategic-merge patch".to_string());
        }
        if name.is_empty() && !kind.ends_with("List") {
            return Err("missing metadata.name in the strategic-merge patch".to_string());
        }
        out.push(doc);
    }
    Ok(out)
}
