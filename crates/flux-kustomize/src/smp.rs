//! Strategic-merge patches as `kustomize build` applies them: kustomize
//! does not use Kubernetes' strategic-merge code but its own YAML walker
//! (kyaml `merge2`), whose behaviour this module reproduces, quirks
//! included, because the output must be byte-identical:
//!
//! - mappings merge key by key; `null` in the patch deletes; an explicit
//!   `null` in the resource that the patch does not touch stays;
//! - `$patch: delete | replace | merge` in a mapping, and as a lone
//!   `{$patch: …}` element of a list;
//! - a list merges by its merge keys only when the resource type's schema
//!   (kustomize's compiled-in OpenAPI, see [`crate::schema`]) gives it the
//!   `merge` strategy; every other list — all lists of custom resources —
//!   is replaced by the patch's;
//! - merged lists put the patch's elements first, in patch order, then
//!   the resource's other elements (kustomize's "prepend" direction);
//!   several merge keys (`containerPort`, `protocol`) match partially, as
//!   kyaml does; a `$patch: replace` on one element of a merged list is
//!   undone by the resource's element, as in kustomize;
//! - other `$`-keys (`$setElementOrder/…`, `$retainKeys`,
//!   `$deleteFromPrimitiveList/…`) are not directives to kustomize: they
//!   are kept as ordinary fields.

use flux_yaml::{EmptyField, Step, Value};

use crate::schema::{Node, Schemas};

/// Stands, during one merge, for a resource field whose null was written
/// as nothing (`a:`): kyaml clears those where it walks, and keeps `~` and
/// `null`.
pub(crate) const EMPTY_NULL: &str = "\u{0}kustomize-empty-null\u{0}";
/// The same, inside a flow collection.
const EMPTY_NULL_IN_FLOW: &str = "\u{0}kustomize-empty-null-in-flow\u{0}";

fn is_empty_null(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == EMPTY_NULL || s == EMPTY_NULL_IN_FLOW)
}

fn is_null(v: &Value) -> bool {
    matches!(v, Value::Null) || is_empty_null(v)
}

const DIRECTIVE: &str = "$patch";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
    Unknown,
}

/// Merges `patch` into `resource` (whose `apiVersion` and `kind` select the
/// schema), for a resource whose fields at `empty_fields` are nulls written
/// as nothing: those the merge walks are cleared. Returns the merged
/// resource and where its remaining empty nulls are; `None`: the patch
/// deleted the resource (`$patch: delete`).
pub fn merge_with_empty_fields(
    resource: &Value,
    patch: &Value,
    empty_fields: &[EmptyField],
) -> Result<Option<(Value, Vec<EmptyField>)>, String> {
    let schemas = Schemas::get();
    let text = |k: &str| resource.get(k).and_then(Value::as_str).unwrap_or_default();
    let schema = schemas.root(text("apiVersion"), text("kind"));
    let walker = Walker { schemas };
    let mut marked;
    let mut resource = resource;
    if !empty_fields.is_empty() {
        marked = resource.clone();
        for field in empty_fields {
            if let Some(v @ Value::Null) = at_path(&mut marked, &field.path) {
                let marker = if field.in_flow {
                    EMPTY_NULL_IN_FLOW
                } else {
                    EMPTY_NULL
                };
                *v = Value::String(marker.to_string());
            }
        }
        resource = &marked;
    }
    let (value, _) = walker.walk(Some(resource), Some(patch), schema)?;
    let Some(mut value) = value.filter(|v| !is_null(v)) else {
        return Ok(None);
    };
    let mut remaining = Vec::new();
    if !empty_fields.is_empty() {
        unmark(&mut value, &mut Vec::new(), &mut remaining);
    }
    Ok(Some((value, remaining)))
}

/// The value at `path`, if there is one.
pub(crate) fn at_path<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let Some((step, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match (value, step) {
        (Value::Map(entries), Step::Key(key)) => {
            entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
        }
        (Value::Seq(items), Step::Index(i)) => items.get_mut(*i),
        _ => None,
    }?;
    at_path(next, rest)
}

/// Turns the [`EMPTY_NULL`] markers in `value` (left by a merge, or
/// written by a replacement) back into nulls, noting where they are.
pub(crate) fn collect_empty_nulls(value: &mut Value, found: &mut Vec<EmptyField>) {
    unmark(value, &mut Vec::new(), found);
}

/// Turns the markers the merge left back into nulls, noting where.
fn unmark(value: &mut Value, path: &mut Vec<Step>, found: &mut Vec<EmptyField>) {
    match value {
        Value::Map(entries) => {
            for (k, v) in entries {
                path.push(Step::Key(k.clone()));
                if is_empty_null(v) {
                    let in_flow = matches!(v, Value::String(s) if s == EMPTY_NULL_IN_FLOW);
                    *v = Value::Null;
                    found.push(EmptyField {
                        path: path.clone(),
                        in_flow,
                    });
                } else {
                    unmark(v, path, found);
                }
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(Step::Index(i));
                unmark(v, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

fn is_missing_or_null(v: Option<&Value>) -> bool {
    v.is_none_or(is_null)
}

fn is_empty_map(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::Map(m)) => m.is_empty(),
        Some(v) => is_null(v),
    }
}

fn is_nil_or_empty(v: &Value) -> bool {
    if is_empty_null(v) {
        return true;
    }
    match v {
        Value::Null => true,
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The text of a scalar node (`""` for a mapping or a sequence).
fn scalar_text(v: &Value) -> String {
    if is_empty_null(v) {
        return String::new();
    }
    match v {
        Value::Null | Value::Map(_) | Value::Seq(_) => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => s.clone(),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Map(_) => "MappingNode",
        Value::Seq(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

fn wrong_kind(expected: &str, got: &Value) -> String {
    format!(
        "wrong node kind: expected {expected} but got {}",
        kind_name(got)
    )
}

fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key)
}

fn set_field(map: &mut Value, key: &str, value: Option<Value>) {
    let Value::Map(entries) = map else { return };
    let position = entries.iter().position(|(k, _)| k == key);
    match (value, position) {
        (Some(v), Some(i)) => entries[i].1 = v,
        (Some(v), None) => entries.push((key.to_string(), v)),
        (None, Some(i)) => {
            entries.remove(i);
        }
        (None, None) => {}
    }
}

/// The `$patch` directive of a mapping, removed from it.
fn map_directive(patch: &mut Value) -> Result<Directive, String> {
    let Value::Map(entries) = patch else {
        return Ok(Directive::Unknown);
    };
    let Some(i) = entries.iter().position(|(k, _)| k == DIRECTIVE) else {
        return Ok(Directive::Merge);
    };
    let directive = parse_directive(&scalar_text(&entries[i].1))?;
    entries.remove(i);
    Ok(directive)
}

fn parse_directive(text: &str) -> Result<Directive, String> {
    match text {
        "delete" => Ok(Directive::Delete),
        "replace" => Ok(Directive::Replace),
        "merge" => Ok(Directive::Merge),
        other => Err(format!("unknown patch strategy '{other}'")),
    }
}

/// The directive of a list: its first mapping element with a `$patch` key,
/// when that is the element's only key; the element is removed.
fn list_directive(patch: &mut Value) -> Result<Directive, String> {
    let Value::Seq(items) = patch else {
        return Ok(Directive::Merge);
    };
    let Some(element) = items
        .iter()
        .find(|e| matches!(e, Value::Map(_)) && e.get(DIRECTIVE).is_some())
    else {
        return Ok(Directive::Merge);
    };
    let Value::Map(fields) = element else {
        return Ok(Directive::Merge);
    };
    if fields.len() > 1 {
        return Ok(Directive::Merge);
    }
    let value = element.get(DIRECTIVE).map(scalar_text).unwrap_or_default();
    let directive = parse_directive(&value)?;
    element_setter(items, None, &[DIRECTIVE.to_string()], &[value])?;
    Ok(directive)
}

/// kyaml's field matcher: the element has field `name` (or, for `""`, is
/// a scalar) whose text is `value` (any text when `value` is empty).
fn field_matches(element: &Value, name: &str, value: &str) -> Result<bool, String> {
    if matches!(element, Value::Null) {
        return Ok(false);
    }
    if name.is_empty() {
        if matches!(element, Value::Map(_) | Value::Seq(_)) {
            return Err(wrong_kind("ScalarNode", element));
        }
        return Ok(scalar_text(element) == value);
    }
    let Value::Map(fields) = element else {
        return Err(wrong_kind("MappingNode", element));
    };
    Ok(fields
        .iter()
        .any(|(k, v)| k == name && (value.is_empty() || scalar_text(v) == value)))
}

/// kyaml's element setter: drops empty elements; replaces the elements
/// matching `keys`/`values` with `element` (or removes them when there is
/// none); appends `element` when nothing matched.
fn element_setter(
    list: &mut Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) -> Result<(), String> {
    let default_keys = [String::new()];
    let keys = if keys.is_empty() {
        &default_keys[..]
    } else {
        keys
    };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut matched_any = false;
    for item in list.drain(..) {
        if is_empty_map(Some(&item)) {
            continue;
        }
        if !matches!(item, Value::Map(_)) && mapping_setter {
            out.push(item);
            continue;
        }
        let mut found = true;
        let mut last = false;
        for (j, key) in keys.iter().enumerate() {
            if let Some(value) = values.get(j) {
                last = field_matches(&item, key, value)?;
            }
            if !last {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(item);
            }
            continue;
        }
        matched_any = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    let Some(element) = element else {
        return Ok(());
    };
    if matches!(element, Value::Null) {
        return Ok(());
    }
    if !matched_any {
        list.push(element);
    }
    Ok(())
}

/// kyaml's element matcher: the first element whose merge keys have these
/// values (for a list of scalars, whose text is `values[0]`).
fn find_element(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    let (keys, values) = validate_keys(&[values.to_vec()], values, keys);
    let first_value = values.first().cloned().unwrap_or_default();
    if keys.first().is_none_or(|k| k.is_empty()) {
        return list.iter().position(|e| scalar_text(e) == first_value);
    }
    list.iter().position(|e| {
        matches!(e, Value::Map(_))
            && keys
                .iter()
                .zip(&values)
                .all(|(k, v)| e.get(k).is_some_and(|field| scalar_text(field) == *v))
    })
}

/// The merge keys that have a value in any of `all`, and `values` for them
/// (all keys when none has one).
fn validate_keys(
    all: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let valid: std::collections::HashSet<&String> = all
        .iter()
        .flat_map(|vs| vs.iter().enumerate())
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(i, _)| keys.get(i))
        .collect();
    if valid.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys = keys.iter().filter(|k| valid.contains(k)).cloned().collect();
    let valid_values = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || keys.get(*i).is_some_and(|k| valid.contains(k)))
        .map(|(_, v)| v.clone())
        .collect();
    (valid_keys, valid_values)
}

/// Two key tuples that agree where both have a value, and share one.
fn partial_match(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if !x.is_empty() {
            out.push(x.clone());
        } else {
            out.push(y.clone());
        }
    }
    common.then_some(out)
}

fn merge_values(list: &mut [Vec<String>]) {
    for i in 0..list.len() {
        let first = list[i].clone();
        for j in 0..list.len() {
            let second = list[j].clone();
            if let Some(merged) = partial_match(&first, &second) {
                list[i] = merged.clone();
                list[j] = merged;
            }
        }
    }
}

/// The merge-key values of each element (`""` where missing or empty).
fn element_values(list: &[Value], keys: &[String]) -> Vec<Vec<String>> {
    list.iter()
        .map(|e| {
            keys.iter()
                .map(|k| match e {
                    Value::Map(_) => e
                        .get(k)
                        .filter(|v| !is_nil_or_empty(v))
                        .map(scalar_text)
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .collect()
        })
        .collect()
}

struct Walker<'a> {
    schemas: &'a Schemas,
}

/// A walk's result: the value (`None`: clear the field) and whether it is
/// the destination node changed in place (kyaml mutates the resource's
/// nodes; a merged list later re-reads them).
type Walked = (Option<Value>, bool);

impl Walker<'_> {
    fn walk(
        &self,
        dest: Option<&Value>,
        origin: Option<&Value>,
        schema: Option<Node<'_>>,
    ) -> Result<Walked, String> {
        let first = [dest, origin].into_iter().flatten().find(|v| !is_null(v));
        let check = |expected: &str, ok: fn(&Value) -> bool| -> Result<(), String> {
            for v in [dest, origin].into_iter().flatten() {
                if !is_null(v) && !ok(v) {
                    return Err(wrong_kind(expected, v));
                }
            }
            Ok(())
        };
        match first {
            Some(Value::Seq(_)) => {
                check("SequenceNode", |v| matches!(v, Value::Seq(_)))?;
                self.walk_list(dest, origin, schema)
            }
            Some(Value::Map(_)) | None => {
                check("MappingNode", |v| matches!(v, Value::Map(_)))?;
                self.walk_map(dest, origin, schema)
            }
            Some(_) => {
                check("ScalarNode", |v| {
                    !matches!(v, Value::Map(_) | Value::Seq(_))
                })?;
                Ok(match origin {
                    Some(Value::Null) => (None, false),
                    Some(o) => (Some(o.clone()), false),
                    None => (dest.cloned(), true),
                })
            }
        }
    }

    fn walk_map(
        &self,
        dest: Option<&Value>,
        origin: Option<&Value>,
        schema: Option<Node<'_>>,
    ) -> Result<Walked, String> {
        let mut patch = origin.cloned();
        let (mut target, in_place) = if is_missing_or_null(dest) {
            let directive = match patch.as_mut() {
                None => Directive::Merge,
                // kyaml ignores an unknown directive here.
                Some(p) => map_directive(p).unwrap_or(Directive::Unknown),
            };
            if directive == Directive::Delete {
                return Ok((None, false));
            }
            match (&patch, dest) {
                // An explicit null the patch does not touch stays (one
                // written as nothing is cleared).
                (None, Some(Value::Null)) => return Ok((Some(Value::Null), true)),
                (None | Some(Value::Null), _) => return Ok((None, false)),
                _ => {}
            }
            (patch.clone().unwrap_or(Value::Null), false)
        } else if matches!(patch, Some(Value::Null)) {
            return Ok((None, false));
        } else {
            let directive = match patch.as_mut() {
                None => Directive::Merge,
                Some(p) => map_directive(p)?,
            };
            match directive {
                Directive::Delete => return Ok((None, false)),
                Directive::Replace => (patch.clone().unwrap_or(Value::Null), false),
                _ => (dest.cloned().unwrap_or(Value::Null), true),
            }
        };
        let mut names: Vec<String> = Vec::new();
        for source in [Some(&target), patch.as_ref()].into_iter().flatten() {
            if let Value::Map(entries) = source {
                names.extend(entries.iter().map(|(k, _)| k.clone()));
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            let field_schema = schema.and_then(|s| self.schemas.field(s, &name));
            let current = map_get(&target, &name).cloned();
            let from_patch = patch.as_ref().and_then(|p| map_get(p, &name));
            let (value, _) = self.walk(current.as_ref(), from_patch, field_schema)?;
            set_field(&mut target, &name, value);
        }
        Ok((Some(target), in_place))
    }

    fn walk_list(
        &self,
        dest: Option<&Value>,
        origin: Option<&Value>,
        schema: Option<Node<'_>>,
    ) -> Result<Walked, String> {
        let merge_field = match schema {
            Some(Node::List(field)) if field.merge => Some(field),
            _ => None,
        };
        let Some(field) = merge_field else {
            // Not associative: the patch's list wins, untouched.
            return Ok(match origin {
                Some(Value::Null) => (None, false),
                Some(o) => (Some(o.clone()), false),
                None => (dest.cloned(), true),
            });
        };
        let mut patch = origin.cloned();
        let target = if is_missing_or_null(dest) {
            patch.clone()
        } else if matches!(patch, Some(Value::Null)) {
            return Ok((None, false));
        } else {
            let directive = match patch.as_mut() {
                None => Directive::Merge,
                Some(p) => list_directive(p)?,
            };
            match directive {
                Directive::Delete => return Ok((None, false)),
                Directive::Replace => patch.clone(),
                _ => dest.cloned(),
            }
        };
        let items = |v: &Option<Value>| match v {
            Some(Value::Seq(items)) => items.clone(),
            _ => Vec::new(),
        };
        let mut dest_items = items(&target);
        let patch_items = items(&patch);
        let element_schema = schema.and_then(|s| self.schemas.elements(s));
        let keys = field.keys.clone();
        // Patch elements first (kustomize merges in the "prepend" direction).
        let mut values: Vec<Vec<String>> = Vec::new();
        for source in [&patch_items, &dest_items] {
            for v in element_values(source, &keys) {
                if !v.is_empty() && !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        let merged = if !values.is_empty() || !keys.is_empty() {
            self.merge_elements(values, &keys, &mut dest_items, &patch_items, element_schema)?
        } else {
            let mut seen = Vec::new();
            for item in patch_items.iter().chain(&dest_items) {
                let text = scalar_text(item);
                if !seen.contains(&text) {
                    seen.push(text);
                }
            }
            let values = seen.into_iter().map(|t| vec![t]).collect();
            self.merge_elements(
                values,
                &[String::new()],
                &mut dest_items,
                &patch_items,
                element_schema,
            )?
        };
        Ok((Some(Value::Seq(merged)), false))
    }

    fn merge_elements(
        &self,
        mut values_list: Vec<Vec<String>>,
        keys: &[String],
        dest_items: &mut Vec<Value>,
        patch_items: &[Value],
        schema: Option<Node<'_>>,
    ) -> Result<Vec<Value>, String> {
        let mut added: Vec<Value> = Vec::new();
        if keys.len() > 1 {
            merge_values(&mut values_list);
        }
        let mut valid_keys: Vec<String> = Vec::new();
        for values in &values_list {
            if values.is_empty() {
                continue;
            }
            let (vk, vv) = validate_keys(&values_list, values, keys);
            valid_keys.clone_from(&vk);
            let dest_index = find_element(dest_items, &vk, &vv);
            let patch_index = find_element(patch_items, &vk, &vv);
            let (value, in_place) = self.walk(
                dest_index.map(|i| &dest_items[i]),
                patch_index.map(|i| &patch_items[i]),
                schema,
            )?;
            if is_empty_map(value.as_ref()) {
                element_setter(dest_items, None, &vk, &vv)?;
                continue;
            }
            let Some(mut value) = value else { continue };
            for (key, v) in vk.iter().zip(&vv) {
                if !v.is_empty() && matches!(value, Value::Map(_)) && value.get(key).is_none() {
                    set_field(&mut value, key, Some(Value::String(v.clone())));
                }
            }
            if in_place && let Some(i) = dest_index {
                dest_items[i] = value.clone();
            }
            element_setter(&mut added, Some(value), &vk, &vv)?;
        }
        if values_list.is_empty() {
            return Ok(std::mem::take(dest_items));
        }
        // Then the resource's elements: each replaces its merged copy, or
        // is appended.
        for item in dest_items.iter() {
            if valid_keys.first().is_none_or(|k| k.is_empty()) {
                element_setter(
                    &mut added,
                    Some(item.clone()),
                    &[String::new()],
                    &[scalar_text(item)],
                )?;
                continue;
            }
            if !matches!(item, Value::Map(_)) {
                return Err(wrong_kind("MappingNode", item));
            }
            let mut v = Vec::new();
            for key in &valid_keys {
                match item.get(key) {
                    None => added.push(item.clone()),
                    Some(field) => v.push(scalar_text(field)),
                }
            }
            if valid_keys.len() > 1 {
                element_setter(&mut added, None, &valid_keys, &v)?;
            }
            element_setter(&mut added, Some(item.clone()), &valid_keys, &v)?;
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(resource: &Value, patch: &Value) -> Result<Option<Value>, String> {
        Ok(merge_with_empty_fields(resource, patch, &[])?.map(|(value, _)| value))
    }

    fn yaml(text: &str) -> Value {
        flux_yaml::parse(text).unwrap().remove(0)
    }

    #[test]
    fn containers_merge_by_name_patch_first() {
        let resource = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: a}\n      - {name: b, image: b}\n",
        );
        let patch = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: b, image: b2}\n",
        );
        let out = merge(&resource, &patch).unwrap().unwrap();
        let containers = yaml("- {name: b, image: b2}\n- {name: a, image: a}\n");
        let got = out
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec"))
            .and_then(|s| s.get("containers"))
            .unwrap();
        assert_eq!(got, &containers);
    }

    #[test]
    fn lists_of_custom_resources_are_replaced() {
        let resource =
            yaml("apiVersion: x.io/v1\nkind: W\nmetadata: {name: w}\nl: [{name: a}, {name: b}]\n");
        let patch = yaml("apiVersion: x.io/v1\nkind: W\nmetadata: {name: w}\nl: [{name: c}]\n");
        let out = merge(&resource, &patch).unwrap().unwrap();
        assert_eq!(out.get("l"), Some(&yaml("[{name: c}]")));
    }

    #[test]
    fn delete_directive_removes_the_resource() {
        let resource = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\n");
        let patch = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\n$patch: delete\n");
        assert_eq!(merge(&resource, &patch).unwrap(), None);
        let bad = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\n$patch: nope\n");
        assert_eq!(
            merge(&resource, &bad).unwrap_err(),
            "unknown patch strategy 'nope'"
        );
    }
}
