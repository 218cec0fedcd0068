//! Field specs: where a built-in transformer writes, by kind, as in
//! kustomize's `builtinpluginconsts` tables. A path walks mappings; at a
//! sequence it continues into every element.

use flux_yaml::Value;

/// One place a transformer writes.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// API group it applies to (any when `None`).
    pub group: Option<&'static str>,
    /// API version (any when `None`).
    pub version: Option<&'static str>,
    /// Kind (any when `None`).
    pub kind: Option<&'static str>,
    /// Slash-separated path.
    pub path: &'static str,
    /// Create missing mappings along the path.
    pub create: bool,
}

impl FieldSpec {
    /// Whether the spec applies to an object of this group, version, kind.
    pub fn matches(&self, group: &str, version: &str, kind: &str) -> bool {
        self.group.is_none_or(|g| g == group)
            && self.version.is_none_or(|v| v == version)
            && self.kind.is_none_or(|k| k == kind)
    }
}

/// Group, version and kind of `object`.
pub fn gvk(object: &Value) -> (String, String, String) {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    };
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    (group, version, kind)
}

/// Calls `apply` on every node at `spec.path` of `object` (creating
/// missing mappings when the spec says so).
///
/// As kustomize does, nothing is created on the way to a sequence (`a[]`):
/// creation starts below the last sequence of the path.
pub fn visit(object: &mut Value, spec: &FieldSpec, apply: &mut dyn FnMut(&mut Value)) {
    let parts: Vec<&str> = spec.path.split('/').collect();
    let first_creatable = parts
        .iter()
        .rposition(|p| p.ends_with("[]"))
        .map_or(0, |i| i + 1);
    walk(object, &parts, spec.create, first_creatable, apply);
}

/// `skip_create`: how many more path segments may not be created.
fn walk(
    node: &mut Value,
    parts: &[&str],
    create: bool,
    skip_create: usize,
    apply: &mut dyn FnMut(&mut Value),
) {
    let Some((first, rest)) = parts.split_first() else {
        apply(node);
        return;
    };
    // `name[]`: a sequence, never created itself (its elements' fields are).
    let (first, sequence) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*first, false),
    };
    match node {
        Value::Seq(items) => {
            for item in items {
                walk(item, parts, create, skip_create, apply);
            }
        }
        Value::Map(entries) => {
            let may_create = create && !sequence && skip_create == 0;
            let position = entries.iter().position(|(k, _)| k.as_str() == first);
            let index = match position {
                Some(i) => i,
                None if may_create => {
                    entries.push((first.to_string(), Value::Null));
                    entries.len() - 1
                }
                None => return,
            };
            let child = &mut entries[index].1;
            if matches!(child, Value::Null) && !rest.is_empty() {
                if !may_create {
                    return;
                }
                *child = Value::Map(Vec::new());
            }
            walk(child, rest, create, skip_create.saturating_sub(1), apply);
        }
        _ => {}
    }
}

/// Adds `pairs` to the mapping at a field (a null field becomes a mapping).
pub fn merge_string_map(node: &mut Value, pairs: &[(String, String)]) {
    if matches!(node, Value::Null) {
        *node = Value::Map(Vec::new());
    }
    let Value::Map(entries) = node else { return };
    for (key, value) in pairs {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = Value::String(value.clone()),
            None => entries.push((key.clone(), Value::String(value.clone()))),
        }
    }
}
