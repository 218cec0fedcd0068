//! Lists, dicts (with Go's shared, mutable maps), defaults and reflection.

use std::collections::BTreeMap;

use super::{F, arg, deep_equal, dict_of, empty, iface_list, items, map_entries, n, s, strval};
use crate::value::{ListTy, MapTy, Value};

/// The dynamic type in Go's interface-conversion panics (`nil` for nil).
fn iface_type(v: &Value) -> String {
    if v.is_nil() {
        "nil".to_string()
    } else {
        v.type_name()
    }
}

fn list_of(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    if v.is_nil() {
        // reflect.TypeOf(nil).Kind() in sprig.
        return Err("runtime error: invalid memory address or nil pointer dereference".into());
    }
    items(v).ok_or_else(|| format!("Cannot {what} type {}", v.kind_name()))
}

/// Registers a function and its `must…` twin (same code; Go reports the
/// plain one's panics and the twin's errors the same way).
macro_rules! both {
    ($add:expr, $name:literal, $must:literal, $params:literal, $result:literal, $f:expr) => {
        $add($name, $params, $result, $f);
        $add($must, $params, concat!($result, ",error"), $f);
    };
}

/// sprig's `push` (also registered as `append`).
fn push(_: &mut crate::exec::Ctx<'_>, a: Vec<Value>) -> crate::value::FuncResult {
    let mut l = list_of(arg(&a, 0), "push on")?;
    l.push(arg(&a, 1).clone());
    Ok(iface_list(l))
}

pub(super) fn register(add: &mut impl FnMut(&str, &str, &str, F)) {
    add("list", "...interface {}", "[]interface {}", |_, a| {
        Ok(iface_list(a))
    });
    add("tuple", "...interface {}", "[]interface {}", |_, a| {
        Ok(iface_list(a))
    });
    both!(
        add,
        "append",
        "mustAppend",
        "interface {},interface {}",
        "[]interface {}",
        push
    );
    both!(
        add,
        "push",
        "mustPush",
        "interface {},interface {}",
        "[]interface {}",
        push
    );
    both!(
        add,
        "prepend",
        "mustPrepend",
        "interface {},interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let mut l = list_of(arg(&a, 0), "prepend on")?;
            l.insert(0, arg(&a, 1).clone());
            Ok(iface_list(l))
        }
    );
    both!(
        add,
        "first",
        "mustFirst",
        "interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find first on")?;
            Ok(l.first().cloned().unwrap_or(Value::Nil))
        }
    );
    both!(
        add,
        "last",
        "mustLast",
        "interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find last on")?;
            Ok(l.last().cloned().unwrap_or(Value::Nil))
        }
    );
    both!(
        add,
        "rest",
        "mustRest",
        "interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find rest on")?;
            if l.is_empty() {
                return Ok(Value::nil_list(ListTy::Iface));
            }
            Ok(iface_list(
                l.get(1..).map(<[Value]>::to_vec).unwrap_or_default(),
            ))
        }
    );
    both!(
        add,
        "initial",
        "mustInitial",
        "interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find initial on")?;
            if l.is_empty() {
                return Ok(Value::nil_list(ListTy::Iface));
            }
            Ok(iface_list(
                l.get(..l.len().saturating_sub(1))
                    .map(<[Value]>::to_vec)
                    .unwrap_or_default(),
            ))
        }
    );
    both!(
        add,
        "reverse",
        "mustReverse",
        "interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let mut l = list_of(arg(&a, 0), "find reverse on")?;
            l.reverse();
            Ok(iface_list(l))
        }
    );
    both!(
        add,
        "compact",
        "mustCompact",
        "interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "compact on")?;
            Ok(iface_list(l.into_iter().filter(|v| !empty(v)).collect()))
        }
    );
    both!(
        add,
        "uniq",
        "mustUniq",
        "interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find uniq on")?;
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !out.iter().any(|o| deep_equal(o, &v)) {
                    out.push(v);
                }
            }
            Ok(iface_list(out))
        }
    );
    both!(
        add,
        "without",
        "mustWithout",
        "interface {},...interface {}",
        "[]interface {}",
        |_, a: Vec<Value>| {
            let l = list_of(arg(&a, 0), "find without on")?;
            let omit = &a[1..];
            Ok(iface_list(
                l.into_iter()
                    .filter(|v| !omit.iter().any(|o| deep_equal(o, v)))
                    .collect(),
            ))
        }
    );
    both!(
        add,
        "has",
        "mustHas",
        "interface {},interface {}",
        "bool",
        |_, a: Vec<Value>| {
            let hay = arg(&a, 1);
            if hay.is_nil() {
                return Ok(Value::Bool(false));
            }
            let l = list_of(hay, "find has on")?;
            Ok(Value::Bool(l.iter().any(|v| deep_equal(v, arg(&a, 0)))))
        }
    );
    both!(
        add,
        "slice",
        "mustSlice",
        "interface {},...interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            if arg(&a, 0).is_nil() {
                // reflect.TypeOf(nil).Kind() in sprig.
                return Err(
                    "runtime error: invalid memory address or nil pointer dereference".into(),
                );
            }
            let l = items(arg(&a, 0)).ok_or_else(|| {
                format!(
                    "list should be type of slice or array but {}",
                    arg(&a, 0).kind_name()
                )
            })?;
            // sprig returns nil for an empty list, whatever the indexes.
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let len = l.len() as i64;
            let (start, end) = match a.len() {
                1 => (0, len),
                2 => (super::to_int64(&a[1]), len),
                _ => (super::to_int64(&a[1]), super::to_int64(&a[2])),
            };
            if start < 0 || end < start || end > len {
                return Err("reflect.Value.Slice: slice index out of bounds".into());
            }
            let ty = match arg(&a, 0) {
                Value::List(x) => x.ty,
                _ => ListTy::Int,
            };
            Ok(Value::list(ty, l[start as usize..end as usize].to_vec()))
        }
    );
    add("concat", "...interface {}", "interface {}", |_, a| {
        let mut out = Vec::new();
        for v in &a {
            if v.is_nil() {
                return Err(
                    "runtime error: invalid memory address or nil pointer dereference".into(),
                );
            }
            match items(v) {
                Some(l) => out.extend(l),
                None => return Err(format!("Cannot concat type {} as list", v.kind_name())),
            }
        }
        // `append` onto a nil slice: nothing appended stays nil.
        if out.is_empty() {
            return Ok(Value::nil_list(ListTy::Iface));
        }
        Ok(iface_list(out))
    });
    both!(
        add,
        "chunk",
        "mustChunk",
        "int,interface {}",
        "[][]interface {}",
        |_, a: Vec<Value>| {
            let size = n(&a, 0);
            let l = list_of(arg(&a, 1), "chunk")?;
            if size <= 0 {
                return Err("runtime error: makeslice: len out of range".into());
            }
            let chunks: Vec<Value> = l
                .chunks(size as usize)
                .map(|c| iface_list(c.to_vec()))
                .collect();
            Ok(Value::list(ListTy::IfaceList, chunks))
        }
    );
    add("until", "int", "[]int", |_, a| {
        let c = n(&a, 0);
        Ok(ints(until_step(0, c, if c < 0 { -1 } else { 1 })))
    });
    add("untilStep", "int,int,int", "[]int", |_, a| {
        Ok(ints(until_step(n(&a, 0), n(&a, 1), n(&a, 2))))
    });
    add("seq", "...int", "string", |_, a| {
        let p: Vec<i64> = (0..a.len()).map(|i| n(&a, i)).collect();
        let v = match p.as_slice() {
            [end] => {
                let inc = if *end < 1 { -1 } else { 1 };
                until_step(1, end + inc, inc)
            }
            [start, end] => {
                let step = if end < start { -1 } else { 1 };
                until_step(*start, end + step, step)
            }
            [start, step, end] => {
                let mut inc = 1;
                if end < start {
                    inc = -1;
                    if *step > 0 {
                        return Ok(Value::str(""));
                    }
                }
                until_step(*start, end + inc, *step)
            }
            _ => Vec::new(),
        };
        Ok(Value::string(
            v.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        ))
    });
    // Dicts.
    add(
        "dict",
        "...interface {}",
        "map[string]interface {}",
        |_, a| {
            let mut m = BTreeMap::new();
            let mut i = 0;
            while i < a.len() {
                let k = strval(&a[i]);
                m.insert(k, a.get(i + 1).cloned().unwrap_or_else(|| Value::str("")));
                i += 2;
            }
            Ok(dict_of(m))
        },
    );
    add(
        "get",
        "map[string]interface {},string",
        "interface {}",
        |_, a| {
            Ok(map_entries(arg(&a, 0))
                .get(s(&a, 1))
                .cloned()
                .unwrap_or_else(|| Value::str("")))
        },
    );
    add(
        "set",
        "map[string]interface {},string,interface {}",
        "map[string]interface {}",
        |_, a| {
            let Value::Map(m) = arg(&a, 0) else {
                return Err("assignment to entry in nil map".into());
            };
            if m.borrow().nil {
                return Err("assignment to entry in nil map".into());
            }
            m.borrow_mut()
                .entries
                .insert(s(&a, 1).to_string(), arg(&a, 2).clone());
            Ok(arg(&a, 0).clone())
        },
    );
    add(
        "unset",
        "map[string]interface {},string",
        "map[string]interface {}",
        |_, a| {
            if let Value::Map(m) = arg(&a, 0) {
                m.borrow_mut().entries.remove(s(&a, 1));
            }
            Ok(arg(&a, 0).clone())
        },
    );
    add(
        "hasKey",
        "map[string]interface {},string",
        "bool",
        |_, a| Ok(Value::Bool(map_entries(arg(&a, 0)).contains_key(s(&a, 1)))),
    );
    add(
        "pluck",
        "string,...map[string]interface {}",
        "[]interface {}",
        |_, a| {
            let k = s(&a, 0);
            Ok(iface_list(
                a[1..]
                    .iter()
                    .filter_map(|d| map_entries(d).get(k).cloned())
                    .collect(),
            ))
        },
    );
    add("keys", "...map[string]interface {}", "[]string", |_, a| {
        // Go's map order is random; sorted is one of its orders.
        let mut k = Vec::new();
        for d in &a {
            k.extend(map_entries(d).into_keys());
        }
        Ok(super::str_list(k))
    });
    add(
        "values",
        "map[string]interface {}",
        "[]interface {}",
        |_, a| Ok(iface_list(map_entries(arg(&a, 0)).into_values().collect())),
    );
    add(
        "pick",
        "map[string]interface {},...string",
        "map[string]interface {}",
        |_, a| {
            let m = map_entries(arg(&a, 0));
            Ok(dict_of(
                a[1..]
                    .iter()
                    .filter_map(|k| k.as_str())
                    .filter_map(|k| m.get(k).map(|v| (k.to_string(), v.clone())))
                    .collect(),
            ))
        },
    );
    add(
        "omit",
        "map[string]interface {},...string",
        "map[string]interface {}",
        |_, a| {
            let omit: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
            Ok(dict_of(
                map_entries(arg(&a, 0))
                    .into_iter()
                    .filter(|(k, _)| !omit.contains(&k.as_str()))
                    .collect(),
            ))
        },
    );
    both!(
        add,
        "merge",
        "mustMerge",
        "map[string]interface {},...map[string]interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            // mergo makes a nil destination map a real one.
            if let Value::Map(m) = arg(&a, 0) {
                m.borrow_mut().nil = false;
            }
            for src in &a[1..] {
                merge_into(arg(&a, 0), src, false)?;
            }
            Ok(arg(&a, 0).clone())
        }
    );
    both!(
        add,
        "mergeOverwrite",
        "mustMergeOverwrite",
        "map[string]interface {},...map[string]interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            // mergo makes a nil destination map a real one.
            if let Value::Map(m) = arg(&a, 0) {
                m.borrow_mut().nil = false;
            }
            for src in &a[1..] {
                merge_into(arg(&a, 0), src, true)?;
            }
            Ok(arg(&a, 0).clone())
        }
    );
    both!(
        add,
        "deepCopy",
        "mustDeepCopy",
        "interface {}",
        "interface {}",
        |_, a: Vec<Value>| {
            if arg(&a, 0).is_nil() {
                return Err("reflect: call of reflect.Value.Type on zero Value".into());
            }
            Ok(arg(&a, 0).deep_copy())
        }
    );
    add("dig", "...interface {}", "interface {},error", |_, a| {
        if a.len() < 3 {
            return Err("dig needs at least three arguments".into());
        }
        let last = &a[a.len() - 1];
        let def = a[a.len() - 2].clone();
        // The dict is asserted first: map[string]interface {} only.
        let mut cur = match last {
            Value::Map(m) if m.borrow().ty == MapTy::Iface => last.clone(),
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    iface_type(other)
                ));
            }
        };
        // sprig converts every key before the first lookup.
        let mut keys = Vec::with_capacity(a.len() - 2);
        for k in &a[..a.len() - 2] {
            let Some(k) = k.as_str() else {
                let ty = iface_type(k);
                return Err(format!(
                    "interface conversion: interface {{}} is {ty}, not string"
                ));
            };
            keys.push(k);
        }
        for (i, k) in keys.iter().copied().enumerate() {
            let Some(step) = map_entries(&cur).get(k).cloned() else {
                return Ok(def);
            };
            if i == keys.len() - 1 {
                return Ok(step);
            }
            match step {
                Value::Map(ref m) if m.borrow().ty == MapTy::Iface => cur = step,
                other => {
                    return Err(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        iface_type(&other)
                    ));
                }
            }
        }
        Ok(def)
    });
    // Defaults.
    add(
        "default",
        "interface {},...interface {}",
        "interface {}",
        |_, a| {
            let given = &a[1..];
            if given.is_empty() || empty(&given[0]) {
                return Ok(arg(&a, 0).clone());
            }
            Ok(given[0].clone())
        },
    );
    add("empty", "interface {}", "bool", |_, a| {
        Ok(Value::Bool(empty(arg(&a, 0))))
    });
    add("coalesce", "...interface {}", "interface {}", |_, a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
    });
    add("all", "...interface {}", "bool", |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    add("any", "...interface {}", "bool", |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    add(
        "ternary",
        "interface {},interface {},bool",
        "interface {}",
        |_, a| {
            Ok(if matches!(arg(&a, 2), Value::Bool(true)) {
                arg(&a, 0).clone()
            } else {
                arg(&a, 1).clone()
            })
        },
    );
    // Reflection.
    add("typeOf", "interface {}", "string", |_, a| {
        Ok(Value::string(arg(&a, 0).type_name()))
    });
    add("typeIs", "string,interface {}", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 0) == arg(&a, 1).type_name()))
    });
    add("typeIsLike", "string,interface {}", "bool", |_, a| {
        let t = arg(&a, 1).type_name();
        Ok(Value::Bool(s(&a, 0) == t || format!("*{}", s(&a, 0)) == t))
    });
    add("kindOf", "interface {}", "string", |_, a| {
        Ok(Value::str(arg(&a, 0).kind_name()))
    });
    add("kindIs", "string,interface {}", "bool", |_, a| {
        Ok(Value::Bool(s(&a, 0) == arg(&a, 1).kind_name()))
    });
    add("deepEqual", "interface {},interface {}", "bool", |_, a| {
        Ok(Value::Bool(deep_equal(arg(&a, 0), arg(&a, 1))))
    });
}

fn ints(v: Vec<i64>) -> Value {
    Value::list(ListTy::Int, v.into_iter().map(Value::Int).collect())
}

/// `until`/`untilStep`/`seq` stop at a million items (Go has no limit).
const MAX_LIST: usize = 1 << 20;

fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut v = Vec::new();
    if stop < start {
        if step >= 0 {
            return v;
        }
        let mut i = start;
        while i > stop && v.len() < MAX_LIST {
            v.push(i);
            i += step;
        }
        return v;
    }
    if step <= 0 {
        return v;
    }
    let mut i = start;
    while i < stop && v.len() < MAX_LIST {
        v.push(i);
        i += step;
    }
    v
}

/// mergo's Merge/MergeWithOverwrite on `map[string]interface {}`: nested
/// maps merge in place; without overwrite a destination value is only
/// replaced when it is empty (Go's zero value); nil sources are skipped
/// unless overwriting.
fn merge_into(dst: &Value, src: &Value, overwrite: bool) -> Result<(), String> {
    merge_at(dst, src, overwrite, 0)
}

/// mergo's deep merge; maps nested past any real data's depth (a map that
/// holds itself) are an error, where Go would never return.
fn merge_at(dst: &Value, src: &Value, overwrite: bool, depth: usize) -> Result<(), String> {
    if depth > 1000 {
        return Err("runtime: goroutine stack exceeds 1000000000-byte limit".to_string());
    }
    let Value::Map(d) = dst else {
        return Ok(());
    };
    let src_entries = map_entries(src);
    for (k, sv) in src_entries {
        let dv = d.borrow().entries.get(&k).cloned();
        if sv.is_nil() {
            if overwrite {
                d.borrow_mut().entries.insert(k, Value::Nil);
            }
            continue;
        }
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&sv, &dv)
            && sm.borrow().ty == MapTy::Iface
            && dm.borrow().ty == MapTy::Iface
        {
            merge_at(
                dv.as_ref().unwrap_or(&Value::Nil),
                &sv,
                overwrite,
                depth + 1,
            )?;
            if !dm.borrow().entries.is_empty() {
                continue;
            }
        }
        let dst_empty = dv.as_ref().is_none_or(empty);
        if overwrite || dst_empty {
            d.borrow_mut().entries.insert(k, sv);
        }
    }
    Ok(())
}
