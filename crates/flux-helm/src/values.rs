//! Values as Helm computes them (`pkg/chartutil`: coalesce.go,
//! dependencies.go, values.go), on template values whose maps are shared
//! and mutable like Go's — Helm's algorithms alias maps in places (globals
//! are shallow copies), and the results depend on it.
//!
//! - [`coalesce_values`]: user values over chart defaults (a user `null`
//!   deletes a default, maps merge, anything else replaces), subchart
//!   sections and `global` propagated to every subchart;
//! - [`process_dependencies`]: dependency `condition`s and `tags` (disabled
//!   subcharts removed), aliases (a subchart copied under its alias),
//!   `import-values` (child `exports` or `{child, parent}` pairs merged into
//!   the parent's values).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use flux_gotemplate::{Map, MapTy, Value};

use crate::chart::{Chart, Dependency, Metadata};

/// A shared Go `map[string]interface{}`.
pub type Table = Rc<RefCell<Map>>;

/// A new empty table.
pub fn new_table() -> Table {
    Rc::new(RefCell::new(Map {
        ty: MapTy::Iface,
        entries: BTreeMap::new(),
        nil: false,
    }))
}

/// The table inside `v`, when `v` is a `map[string]interface{}`.
pub fn as_table(v: &Value) -> Option<Table> {
    match v {
        Value::Map(m) if m.borrow().ty == MapTy::Iface => Some(m.clone()),
        _ => None,
    }
}

fn is_table(v: &Value) -> bool {
    as_table(v).is_some()
}

fn is_nil(v: &Value) -> bool {
    matches!(v, Value::Nil | Value::Missing)
}

fn deep_copy(t: &Table) -> Table {
    as_table(&Value::Map(t.clone()).deep_copy()).unwrap_or_else(new_table)
}

fn get(t: &Table, k: &str) -> Option<Value> {
    t.borrow().entries.get(k).cloned()
}

fn set(t: &Table, k: &str, v: Value) {
    t.borrow_mut().entries.insert(k.to_string(), v);
}

fn keys(t: &Table) -> Vec<String> {
    t.borrow().entries.keys().cloned().collect()
}

/// A chart while it is being rendered: its metadata and values change as
/// Helm's dependency processing goes (aliases, enabled dependencies,
/// imported values), the files do not.
#[derive(Clone)]
pub struct Node<'a> {
    /// The (possibly renamed) metadata.
    pub meta: Metadata,
    /// The chart's values (defaults, then imports).
    pub values: Table,
    /// Templates and files.
    pub chart: &'a Chart,
    /// Subcharts in Helm's order.
    pub deps: Vec<Node<'a>>,
}

impl<'a> Node<'a> {
    /// The tree of a loaded chart.
    pub fn new(chart: &'a Chart) -> Node<'a> {
        Node {
            meta: chart.metadata.clone(),
            values: as_table(&crate::yaml::map_value(&chart.values)).unwrap_or_else(new_table),
            chart,
            deps: chart.dependencies.iter().map(Node::new).collect(),
        }
    }

    /// The name (an alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.meta.name
    }
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// `chartutil.CoalesceValues`: a deep copy of `vals` with the chart's
/// defaults and its subcharts' coalesced in.
pub fn coalesce_values(chart: &Node<'_>, vals: &Table) -> Result<Table, crate::ValuesError> {
    let dest = deep_copy(vals);
    coalesce(chart, &dest, "", false)?;
    Ok(dest)
}

/// `chartutil.MergeValues`: as [`coalesce_values`], but a `null` keeps its
/// key.
pub fn merge_values(chart: &Node<'_>, vals: &Table) -> Result<Table, crate::ValuesError> {
    let dest = deep_copy(vals);
    coalesce(chart, &dest, "", true)?;
    Ok(dest)
}

fn coalesce(ch: &Node<'_>, dest: &Table, prefix: &str, merge: bool) -> Result<(), String> {
    coalesce_chart_values(ch, dest, prefix, merge);
    coalesce_deps(ch, dest, prefix, merge)
}

fn coalesce_deps(ch: &Node<'_>, dest: &Table, prefix: &str, merge: bool) -> Result<(), String> {
    for sub in &ch.deps {
        let name = sub.name();
        let dv = match get(dest, name) {
            None => {
                let t = new_table();
                set(dest, name, Value::Map(t.clone()));
                t
            }
            Some(v) => match as_table(&v) {
                Some(t) => t,
                None => {
                    return Err(format!(
                        "type mismatch on {name}: {}",
                        flux_gotemplate::gofmt::sprintf("%t", &[v])
                    ));
                }
            },
        };
        let sub_prefix = concat_prefix(prefix, ch.name());
        coalesce_globals(&dv, dest, &sub_prefix);
        coalesce(sub, &dv, &sub_prefix, merge)?;
    }
    Ok(())
}

/// Copies the parent's `global` into a subchart's values (the parent
/// wins; nested tables are shared with the parent, as in Helm).
fn coalesce_globals(dest: &Table, src: &Table, prefix: &str) {
    let dg = match get(dest, "global") {
        None => new_table(),
        Some(v) => match as_table(&v) {
            Some(t) => t,
            None => return,
        },
    };
    let sg = match get(src, "global") {
        None => new_table(),
        Some(v) => match as_table(&v) {
            Some(t) => t,
            None => return,
        },
    };
    for key in keys(&sg) {
        let Some(val) = get(&sg, &key) else { continue };
        if let Some(src_table) = as_table(&val) {
            // A shallow copy: nested tables stay shared.
            let vv = Rc::new(RefCell::new(src_table.borrow().clone()));
            match get(&dg, &key) {
                None => set(&dg, &key, Value::Map(vv)),
                Some(destv) => {
                    if let Some(destvmap) = as_table(&destv) {
                        coalesce_tables(&vv, &destvmap, true);
                        set(&dg, &key, Value::Map(vv));
                    }
                }
            }
        } else if get(&dg, &key).is_some_and(|dv| is_table(&dv)) {
            // "key is table. Skipping"
        } else {
            set(&dg, &key, val);
        }
    }
    let _ = prefix;
    set(dest, "global", Value::Map(dg));
}

fn child_chart_merge_true(ch: &Node<'_>, key: &str, merge: bool) -> bool {
    merge || ch.deps.iter().any(|d| d.name() == key)
}

fn coalesce_chart_values(ch: &Node<'_>, v: &Table, _prefix: &str, merge: bool) {
    let vc = deep_copy(&ch.values);
    for key in keys(&vc) {
        let Some(val) = get(&vc, &key) else { continue };
        match get(v, &key) {
            Some(value) => {
                if is_nil(&value) && !merge {
                    v.borrow_mut().entries.remove(&key);
                } else if let (Some(dest), Some(src)) = (as_table(&value), as_table(&val)) {
                    let merge = child_chart_merge_true(ch, &key, merge);
                    coalesce_tables(&dest, &src, merge);
                }
            }
            None => set(v, &key, val),
        }
    }
}

/// `chartutil.CoalesceTables` (`merge` = `MergeTables`): `src`'s values
/// fill in what `dst` lacks; `dst` wins. Mutates both, as Helm does.
pub fn coalesce_tables(dst: &Table, src: &Table, merge: bool) {
    if Rc::ptr_eq(dst, src) {
        return;
    }
    let src_non_nil: std::collections::HashSet<String> = src
        .borrow()
        .entries
        .iter()
        .filter(|(_, v)| !is_nil(v))
        .map(|(k, _)| k.clone())
        .collect();
    let nil_in_dst: Vec<String> = dst
        .borrow()
        .entries
        .iter()
        .filter(|(_, v)| is_nil(v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in nil_in_dst {
        set(src, &k, Value::Nil);
    }
    for key in keys(src) {
        let Some(val) = get(src, &key) else { continue };
        match get(dst, &key) {
            Some(dv) if !merge && is_nil(&dv) && src_non_nil.contains(&key) => {
                dst.borrow_mut().entries.remove(&key);
            }
            None => set(dst, &key, val),
            Some(dv) => {
                if let (Some(s), Some(d)) = (as_table(&val), as_table(&dv)) {
                    coalesce_tables(&d, &s, merge);
                }
            }
        }
    }
}

/// `Values.Table`: the table at a dotted path.
pub fn table_at(v: &Table, path: &str) -> Option<Table> {
    let mut t = v.clone();
    for part in path.split('.') {
        let next = as_table(&get(&t, part)?)?;
        t = next;
    }
    Some(t)
}

/// `Values.PathValue`: a non-table value at a dotted path.
fn path_value(v: &Table, path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let (key, parents) = parts.split_last()?;
    let t = if parents.is_empty() {
        v.clone()
    } else {
        table_at(v, &parents.join("."))?
    };
    get(&t, key).filter(|x| !is_table(x))
}

fn compatible(constraint: &str, version: &str) -> bool {
    let Ok(v) = version.parse::<flux_semver::Version>() else {
        return false;
    };
    let Ok(c) = constraint.parse::<flux_semver::Constraints>() else {
        return false;
    };
    c.check(&v)
}

/// `chartutil.ProcessDependenciesWithMerge`: conditions and tags, aliases,
/// then import-values.
pub fn process_dependencies(c: &mut Node<'_>, vals: &Table) -> Result<(), crate::ValuesError> {
    process_enabled(c, vals, "")?;
    Ok(process_import_values(c)?)
}

fn process_enabled(c: &mut Node<'_>, v: &Table, path: &str) -> Result<(), String> {
    let Some(reqs) = c.meta.dependencies.clone() else {
        return Ok(());
    };
    let mut reqs: Vec<Dependency> = reqs.into_iter().flatten().collect();
    let mut chart_deps: Vec<Node<'_>> = Vec::new();
    for existing in &c.deps {
        let declared = reqs
            .iter()
            .any(|r| existing.name() == r.name && compatible(&r.version, &existing.meta.version));
        if !declared {
            chart_deps.push(existing.clone());
        }
    }
    for req in &mut reqs {
        let found = c
            .deps
            .iter()
            .find(|d| d.name() == req.name && compatible(&req.version, &d.meta.version));
        if let Some(d) = found {
            let mut copy = d.clone();
            if !req.alias.is_empty() {
                copy.meta.name = req.alias.clone();
            }
            chart_deps.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.deps = chart_deps;
    for r in &mut reqs {
        r.enabled = true;
    }
    let cvals = coalesce_values(c, v)?;
    process_tags(&mut reqs, &cvals);
    process_conditions(&mut reqs, &cvals, path);
    let removed: Vec<String> = reqs
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    let mut kept: Vec<Node<'_>> = std::mem::take(&mut c.deps)
        .into_iter()
        .filter(|d| !removed.iter().any(|r| r == d.name()))
        .collect();
    for t in &mut kept {
        let sub_path = format!("{path}{}.", t.name());
        process_enabled(t, &cvals, &sub_path)?;
    }
    c.meta.dependencies = Some(
        reqs.into_iter()
            .filter(|r| !removed.contains(&r.name))
            .map(Some)
            .collect(),
    );
    c.deps = kept;
    Ok(())
}

fn process_tags(reqs: &mut [Dependency], cvals: &Table) {
    let Some(vt) = table_at(cvals, "tags") else {
        return;
    };
    for r in reqs {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            if let Some(Value::Bool(b)) = get(&vt, k) {
                if b {
                    has_true = true;
                } else {
                    has_false = true;
                }
            }
        }
        if !has_true && has_false {
            r.enabled = false;
        } else if has_true || !has_false {
            r.enabled = true;
        }
    }
}

fn process_conditions(reqs: &mut [Dependency], cvals: &Table, path: &str) {
    for r in reqs {
        for c in r.condition.trim().split(',') {
            if c.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{path}{c}")) {
                r.enabled = b;
                break;
            }
        }
    }
}

fn path_to_map(path: &str, data: Table) -> Table {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let t = new_table();
        set(&t, part, Value::Map(cur));
        cur = t;
    }
    cur
}

fn process_import_values(c: &mut Node<'_>) -> Result<(), String> {
    for d in &mut c.deps {
        process_import_values(d)?;
    }
    let Some(reqs) = c.meta.dependencies.clone() else {
        return Ok(());
    };
    let cvals = merge_values(c, &new_table())?;
    let mut b = new_table();
    let mut new_reqs = Vec::new();
    for r in reqs {
        let Some(mut r) = r else {
            new_reqs.push(None);
            continue;
        };
        let mut out = Vec::new();
        for iv in &r.import_values {
            let (child, parent, exports) = match iv {
                serde_json::Value::Object(m) => {
                    let show = |k: &str| {
                        flux_gotemplate::gofmt::sprint(&[m
                            .get(k)
                            .map(crate::yaml::to_value)
                            .unwrap_or(Value::Nil)])
                    };
                    (show("child"), show("parent"), false)
                }
                serde_json::Value::String(s) => (format!("exports.{s}"), ".".to_string(), true),
                _ => continue,
            };
            let mut pair = serde_json::Map::new();
            pair.insert("child".into(), serde_json::Value::String(child.clone()));
            pair.insert("parent".into(), serde_json::Value::String(parent.clone()));
            out.push(serde_json::Value::Object(pair));
            let Some(vv) = table_at(&cvals, &format!("{}.{child}", r.name)) else {
                continue;
            };
            let src = if exports {
                vv
            } else {
                path_to_map(&parent, vv)
            };
            coalesce_tables(&b, &src, true);
            if Rc::ptr_eq(&b, &src) {
                b = src;
            }
        }
        r.import_values = out;
        new_reqs.push(Some(r));
    }
    c.meta.dependencies = Some(new_reqs);
    let merged = deep_copy(&cvals);
    coalesce_tables(&merged, &b, true);
    c.values = merged;
    Ok(())
}
