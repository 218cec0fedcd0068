//! Legacy `vars`: `$(NAME)` in the fields kustomize's `varReference`
//! configuration lists (container commands, args and env values, ingress
//! hosts…) is replaced, at the end of the build, by a field of the object
//! the var names — read after every rename, so a var naming a Service
//! yields its prefixed name. As in kustomize: a var is bound to its object
//! in the kustomization that declares it; the same name twice is an error;
//! `$$` escapes; a string that is exactly `$(NAME)` takes the value's type;
//! unknown names stay as written.

use flux_yaml::Value;

use crate::fieldspec::Config;
use crate::resid::ResId;
use crate::resource::Resource;

/// One var.
#[derive(Clone, Debug)]
pub struct Var {
    name: String,
    group: String,
    version: String,
    kind: String,
    object: String,
    namespace: String,
    field_path: String,
}

fn unknown(field: &str) -> String {
    format!("invalid Kustomization: json: unknown field \"{field}\"")
}

fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        _ => Err(format!("vars: '{what}' must be a string")),
    }
}

impl Var {
    /// Parses a `vars` entry.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Map(fields) = value else {
            return Err("each 'vars' entry must be a mapping".to_string());
        };
        let mut var = Var {
            name: String::new(),
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            object: String::new(),
            namespace: String::new(),
            field_path: String::new(),
        };
        let mut api_version = String::new();
        for (key, v) in fields {
            match key.as_str() {
                "name" => var.name = text(v, key)?,
                "objref" => {
                    let Value::Map(objref) = v else {
                        return Err("vars: 'objref' must be a mapping".to_string());
                    };
                    for (k, v) in objref {
                        match k.as_str() {
                            "apiVersion" => api_version = text(v, k)?,
                            "group" => var.group = text(v, k)?,
                            "version" => var.version = text(v, k)?,
                            "kind" => var.kind = text(v, k)?,
                            "name" => var.object = text(v, k)?,
                            "namespace" => var.namespace = text(v, k)?,
                            other => return Err(unknown(other)),
                        }
                    }
                }
                "fieldref" => {
                    for (k, v) in match v {
                        Value::Map(m) => m.as_slice(),
                        _ => &[],
                    } {
                        match k.as_str() {
                            "fieldPath" => var.field_path = text(v, k)?,
                            other => return Err(unknown(other)),
                        }
                    }
                }
                other => return Err(unknown(other)),
            }
        }
        // `apiVersion` wins over group and version.
        let parts: Vec<&str> = api_version.split('/').collect();
        match parts.as_slice() {
            [""] => {}
            [version] => var.version = version.to_string(),
            [group, version] => {
                var.group = group.to_string();
                var.version = version.to_string();
            }
            _ => {}
        }
        if var.field_path.is_empty() {
            var.field_path = "metadata.name".to_string();
        }
        Ok(var)
    }

    fn id(&self) -> ResId {
        ResId {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.object.clone(),
        }
    }

    fn display(&self) -> String {
        format!(
            "{{{} {} {{{} {}}}}}",
            self.name,
            self.id(),
            self.field_path,
            self.kind
        )
    }
}

/// Binds `incoming` vars to their objects and adds them to `set` (a name
/// already there is an error).
pub fn merge(
    resources: &mut [Resource],
    set: &mut Vec<Var>,
    incoming: &[Var],
) -> Result<(), String> {
    for var in incoming {
        let target = var.id();
        let exact = !target.namespace.is_empty() || target.is_cluster_scoped();
        let matches: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.previous_ids()
                    .iter()
                    .chain(std::iter::once(&r.id))
                    .any(|id| {
                        if exact {
                            id.equals(&target)
                        } else {
                            id.group == target.group
                                && id.version == target.version
                                && id.kind == target.kind
                                && id.name == target.name
                        }
                    })
            })
            .map(|(i, _)| i)
            .collect();
        if matches.len() > 1 {
            return Err(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matches.len(),
                var.display()
            ));
        }
        if let Some(&i) = matches.first() {
            resources[i].ref_vars.push(var.name.clone());
        }
    }
    for var in incoming {
        add(set, var.clone())?;
    }
    Ok(())
}

/// Adds one var to a set.
pub fn add(set: &mut Vec<Var>, var: Var) -> Result<(), String> {
    if set.iter().any(|v| v.name == var.name) {
        return Err(format!("var '{}' already encountered", var.name));
    }
    set.push(var);
    Ok(())
}

/// A var's value: a scalar, or `None` for a mapping or sequence (which
/// kustomize does not substitute).
fn value_of(resources: &[Resource], var: &Var) -> Result<Option<Value>, String> {
    let Some(resource) = resources.iter().find(|r| r.ref_vars.contains(&var.name)) else {
        return Err(format!(
            "var '{}' cannot be mapped to a field in the set of known resources",
            var.display()
        ));
    };
    let not_found = || {
        format!(
            "field specified in var '{}' not found in corresponding resource",
            var.display()
        )
    };
    let mut node = &resource.value;
    for part in field_path(&var.field_path) {
        let next = match node {
            Value::Map(entries) => entries.iter().find(|(k, _)| *k == part).map(|(_, v)| v),
            Value::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        node = next.ok_or_else(not_found)?;
    }
    Ok(match node {
        Value::Map(_) | Value::Seq(_) => None,
        Value::Null => Some(Value::String(String::new())),
        other => Some(other.clone()),
    })
}

/// `a.b[0].c` → `a`, `b`, `0`, `c`.
fn field_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in crate::replacements::split_path(path) {
        if let Some(open) = part.rfind('[')
            && part.ends_with(']')
            && part[open + 1..part.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit())
            && open + 1 < part.len() - 1
        {
            if open > 0 {
                out.push(part[..open].to_string());
            }
            out.push(part[open + 1..part.len() - 1].to_string());
        } else {
            out.push(part);
        }
    }
    out
}

fn go_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

/// Replaces `$(NAME)` references in `input`.
fn expand(input: &str, values: &[(String, Option<Value>)]) -> Value {
    let lookup = |name: &str| -> Option<&Value> {
        values
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_ref())
    };
    if let Some(name) = input.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
        && !name.contains(')')
        && let Some(value) = lookup(name)
    {
        return value.clone();
    }
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(v) => out.push_str(&go_text(v)),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // `$` and the next character, kept.
                    let next = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..next]);
                    next
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

/// Resolves every var and replaces its references (the end of a build).
pub fn resolve(resources: &mut [Resource], set: &[Var], config: &Config) -> Result<(), String> {
    if set.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for var in set {
        values.push((var.name.clone(), value_of(resources, var)?));
    }
    let references = config.table("varReference");
    for resource in resources.iter_mut() {
        let id = resource.id.clone();
        for spec in &references {
            if (!spec.kind.is_empty() && spec.kind != id.kind)
                || (!spec.group.is_empty() && spec.group != id.group)
                || (!spec.version.is_empty() && spec.version != id.version)
            {
                continue;
            }
            let parts: Vec<&str> = spec.path.split('/').collect();
            replace_at(&mut resource.value, &parts, &values)
                .map_err(|e| format!("considering field '{}' of object {id}: {e}", spec.path))?;
        }
    }
    Ok(())
}

fn replace_at(
    node: &mut Value,
    parts: &[&str],
    values: &[(String, Option<Value>)],
) -> Result<(), String> {
    let mut failure = Ok(());
    crate::fieldspec::visit_strict(node, parts, &mut |target| {
        if failure.is_ok() {
            failure = replace_node(target, values);
        }
    })?;
    failure
}

fn replace_node(node: &mut Value, values: &[(String, Option<Value>)]) -> Result<(), String> {
    match node {
        Value::Null => Ok(()),
        Value::String(s) => {
            *node = expand(s, values);
            Ok(())
        }
        Value::Map(entries) => {
            for (_, v) in entries.iter_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
            Ok(())
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                let Value::String(s) = item else {
                    return Err("invalid value type expect a string".to_string());
                };
                *item = expand(s, values);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kustomize() {
        let values = vec![
            ("A".to_string(), Some(Value::String("x".to_string()))),
            ("N".to_string(), Some(Value::Int(3))),
            ("M".to_string(), None),
        ];
        let s = |t: &str| Value::String(t.to_string());
        assert_eq!(expand("$(A)-$(N)", &values), s("x-3"));
        assert_eq!(expand("$(N)", &values), Value::Int(3));
        assert_eq!(expand("$$(A) $(B) $(M)", &values), s("$(A) $(B) $(M)"));
        assert_eq!(expand("a$b$(", &values), s("a$b$("));
        assert_eq!(
            field_path("spec.ports[0].port"),
            ["spec", "ports", "0", "port"]
        );
    }
}
