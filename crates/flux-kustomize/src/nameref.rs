//! `namePrefix`/`nameSuffix`, and the name-reference fix-up kustomize runs
//! once at the end of a build: every field its built-in configuration
//! lists as naming another object (a ConfigMap in a pod volume, a
//! ServiceAccount in a RoleBinding subject, a Service in an Ingress
//! backend…) is rewritten to the referred object's final name when that
//! object was renamed (prefix, suffix, hash, patch) — choosing among
//! candidates exactly as kustomize does (previous names, kind, roleRef
//! kind, namespace, then matching prefixes and suffixes).
//!
//! The field configuration is kustomize's own `nameReference` table
//! ([`crate::fieldspec`]) plus what `configurations` add.

use flux_yaml::Value;

use crate::fieldspec::{Config, FieldSpec as Spec};
use crate::resid::ResId;
use crate::resource::Resource;

/// kustomize's GVK selection: empty selector fields match anything.
fn selected(id: &ResId, group: &str, version: &str, kind: &str) -> bool {
    (group.is_empty() || id.group == group)
        && (version.is_empty() || id.version == version)
        && (kind.is_empty() || id.kind == kind)
}

/// Kinds a prefix or suffix never applies to.
fn skips_renaming(id: &ResId) -> bool {
    id.kind == "CustomResourceDefinition"
        || id.kind == "Namespace"
        || (id.group == "apiregistration.k8s.io" && id.kind == "APIService")
}

/// A name prefix or suffix.
#[derive(Clone, Copy, Debug)]
pub enum Affix<'a> {
    /// `namePrefix`.
    Prefix(&'a str),
    /// `nameSuffix`.
    Suffix(&'a str),
}

/// Adds a prefix or suffix at every field of `specs` (kustomize's
/// `metadata/name` by default): the name change is recorded (for name
/// references) when the field is `metadata/name`.
pub fn add_affix(resources: &mut [Resource], affix: Affix<'_>, specs: &[Spec]) {
    let (text, is_prefix) = match affix {
        Affix::Prefix(p) => (p, true),
        Affix::Suffix(s) => (s, false),
    };
    for resource in resources {
        let org = resource.org_id();
        if skips_renaming(&org) {
            continue;
        }
        for spec in specs {
            if !selected(&org, &spec.group, &spec.version, &spec.kind) {
                continue;
            }
            if spec.path == "metadata/name" && !text.is_empty() {
                if is_prefix {
                    resource.prefixes.push(text.to_string());
                } else {
                    resource.suffixes.push(text.to_string());
                }
                resource.store_previous_id();
            }
            crate::fieldspec::visit(&mut resource.value, spec, &mut |node| {
                let current = match &*node {
                    Value::Map(_) | Value::Seq(_) => return,
                    other => crate::resid::node_text(Some(other)),
                };
                *node = Value::String(if is_prefix {
                    format!("{text}{current}")
                } else {
                    format!("{current}{text}")
                });
            });
            if spec.path == "metadata/name" && !text.is_empty() {
                // Set by kyaml's `FieldSetter` with a new node: no tag.
                resource.mark_untyped(&["metadata", "name"], true);
            }
            if let Ok(id) = ResId::of(&resource.value) {
                resource.id = id;
            }
        }
    }
}

/// The referrer's view used while choosing a referral.
struct Referrer {
    id: ResId,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    role_ref: Option<(String, String)>,
}

/// A candidate: its previous ids, current id, prefixes, suffixes.
struct Candidate {
    previous: Vec<ResId>,
    id: ResId,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    name: String,
    namespace: String,
    cluster_scoped: bool,
    effective_namespace: String,
}

/// Rewrites every name reference to a renamed object.
pub fn fix_references(resources: &mut [Resource], config: &Config) -> Result<(), String> {
    let candidates: Vec<Candidate> = resources
        .iter()
        .map(|r| Candidate {
            previous: r.previous_ids(),
            id: r.id.clone(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            name: r.id.name.clone(),
            namespace: r.id.namespace.clone(),
            cluster_scoped: r.id.is_cluster_scoped(),
            effective_namespace: r.id.effective_namespace(),
        })
        .collect();
    let table = config.table("nameReference");
    let name_specs: Vec<&Spec> = table.iter().collect();
    for resource in resources.iter_mut() {
        let org = resource.org_id();
        let applicable: Vec<&&Spec> = name_specs
            .iter()
            .filter(|s| selected(&org, &s.group, &s.version, &s.kind))
            .collect();
        if applicable.is_empty() {
            continue;
        }
        let referrer = Referrer {
            id: resource.id.clone(),
            prefixes: resource.prefixes.clone(),
            suffixes: resource.suffixes.clone(),
            role_ref: role_ref(&resource.value),
        };
        let subset = referable_by(&referrer.id, &resource.value, &candidates)?;
        for spec in applicable {
            let Some(target) = &spec.target else { continue };
            let parts: Vec<&str> = spec.path.split('/').collect();
            let mut outcome = Ok(());
            let walked = crate::fieldspec::visit_strict(&mut resource.value, &parts, &mut |node| {
                if outcome.is_err() {
                    return;
                }
                outcome = set_reference(node, &referrer, spec, target, &subset, &candidates);
            });
            walked.and(outcome).map_err(|e| {
                format!(
                    "updating name reference in '{}' field of '{}': {e}",
                    spec.path, referrer.id
                )
            })?;
        }
        resource.id = ResId::of(&resource.value)?;
    }
    Ok(())
}

fn role_ref(object: &Value) -> Option<(String, String)> {
    let role_ref = object.get("roleRef")?;
    let group = role_ref.get("apiGroup")?.as_str()?.to_string();
    let kind = role_ref.get("kind")?.as_str()?.to_string();
    Some((group, kind))
}

/// kustomize's `SubsetThatCouldBeReferencedByResource`.
fn referable_by(
    referrer: &ResId,
    object: &Value,
    candidates: &[Candidate],
) -> Result<Vec<usize>, String> {
    if referrer.is_cluster_scoped() {
        return Ok((0..candidates.len()).collect());
    }
    let mut binding_namespaces = Vec::new();
    if referrer.kind == "RoleBinding"
        && let Some(Value::Seq(subjects)) = object.get("subjects")
    {
        for subject in subjects {
            if let (Some(ns), Some(kind)) = (subject.get("namespace"), subject.get("kind"))
                && kind.as_str() == Some("ServiceAccount")
            {
                match ns {
                    Value::String(ns) => binding_namespaces.push(ns.clone()),
                    _ => {
                        return Err(format!(
                            "Invalid Input: namespace is blank for resource \"{referrer}\""
                        ));
                    }
                }
            }
        }
    }
    let referrer_namespace = referrer.effective_namespace();
    Ok(candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.cluster_scoped
                || c.effective_namespace == referrer_namespace
                || binding_namespaces.contains(&c.namespace)
        })
        .map(|(i, _)| i)
        .collect())
}

fn set_reference(
    node: &mut Value,
    referrer: &Referrer,
    spec: &Spec,
    target: &(String, String, String),
    subset: &[usize],
    candidates: &[Candidate],
) -> Result<(), String> {
    match node {
        Value::Null => Ok(()),
        Value::Map(_) => set_mapping(node, referrer, spec, target, subset, candidates),
        Value::Seq(items) => {
            for item in items {
                match item {
                    Value::Null => {}
                    Value::Map(_) => {
                        set_mapping(item, referrer, spec, target, subset, candidates)?;
                    }
                    Value::Seq(_) => {
                        return Err(
                            "a name reference must be either a string or a map of string"
                                .to_string(),
                        );
                    }
                    _ => set_scalar(item, referrer, spec, target, subset, candidates)?,
                }
            }
            Ok(())
        }
        _ => set_scalar(node, referrer, spec, target, subset, candidates),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

fn set_scalar(
    node: &mut Value,
    referrer: &Referrer,
    spec: &Spec,
    target: &(String, String, String),
    subset: &[usize],
    candidates: &[Candidate],
) -> Result<(), String> {
    let old = scalar_text(node);
    let pool: Vec<&Candidate> = subset.iter().map(|&i| &candidates[i]).collect();
    let Some(referral) = select(&old, pool, referrer, spec, target, false)? else {
        return Ok(());
    };
    if referral.name != old {
        *node = Value::String(referral.name.clone());
    }
    Ok(())
}

fn set_mapping(
    node: &mut Value,
    referrer: &Referrer,
    spec: &Spec,
    target: &(String, String, String),
    subset: &[usize],
    candidates: &[Candidate],
) -> Result<(), String> {
    let Some(old) = node.get("name").map(scalar_text) else {
        return Err("path config error; no 'name' field in node".to_string());
    };
    // Candidates in the namespace the reference names (original, then
    // current namespaces).
    let pool: Vec<&Candidate> = match node.get("namespace") {
        None => subset.iter().map(|&i| &candidates[i]).collect(),
        Some(ns) => {
            let ns = scalar_text(ns);
            let in_namespace = |original: bool| -> Vec<&Candidate> {
                subset
                    .iter()
                    .map(|&i| &candidates[i])
                    .filter(|c| !c.cluster_scoped)
                    .filter(|c| {
                        let id = if original {
                            c.previous.first().unwrap_or(&c.id)
                        } else {
                            &c.id
                        };
                        id.effective_namespace() == ns
                    })
                    .collect()
            };
            let by_original = in_namespace(true);
            if by_original.is_empty() {
                in_namespace(false)
            } else {
                by_original
            }
        }
    };
    let Some(referral) = select(&old, pool, referrer, spec, target, true)? else {
        return Ok(());
    };
    if referral.name == old && referral.namespace.is_empty() {
        return Ok(());
    }
    set_field(node, "name", &referral.name);
    if !referral.namespace.is_empty() {
        set_field(node, "namespace", &referral.namespace);
    }
    Ok(())
}

fn set_field(node: &mut Value, key: &str, value: &str) {
    if let Value::Map(entries) = node {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = Value::String(value.to_string()),
            None => entries.push((key.to_string(), Value::String(value.to_string()))),
        }
    }
}

/// kustomize's `selectReferral`.
fn select<'a>(
    old: &str,
    pool: Vec<&'a Candidate>,
    referrer: &Referrer,
    spec: &Spec,
    target: &(String, String, String),
    with_namespace: bool,
) -> Result<Option<&'a Candidate>, String> {
    let (tg, tv, tk) = target;
    let mut pool: Vec<&Candidate> = pool
        .into_iter()
        .filter(|c| c.previous.iter().any(|p| p.name == old))
        .filter(|c| c.previous.iter().any(|p| selected(p, tg, tv, tk)))
        .collect();
    if spec.path.ends_with("roleRef/name")
        && let Some((group, kind)) = &referrer.role_ref
    {
        pool.retain(|c| c.previous.iter().any(|p| selected(p, group, "", kind)));
    }
    if !referrer.id.is_cluster_scoped() {
        let referrer_namespace = referrer.id.effective_namespace();
        pool.retain(|c| {
            c.cluster_scoped
                || c.id.kind == "ServiceAccount"
                || c.effective_namespace == referrer_namespace
        });
    }
    if pool.len() == 1 {
        return Ok(pool.first().copied());
    }
    pool.retain(|c| affixes_match(c, referrer, true));
    if pool.len() > 1 {
        pool.retain(|c| affixes_match(c, referrer, false));
    }
    match pool.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        [first, rest @ ..] => {
            let identical = rest.iter().all(|c| {
                c.name == first.name && (!with_namespace || c.namespace == first.namespace)
            });
            if identical {
                return Ok(Some(*first));
            }
            Err(format!(
                "found multiple possible referrals: {}",
                pool.iter()
                    .map(|c| c.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long[long.len() - short.len()..] == *short
}

fn affixes_match(c: &Candidate, referrer: &Referrer, allow_empty: bool) -> bool {
    if allow_empty {
        let prefixes = c.prefixes.is_empty()
            || referrer.prefixes.is_empty()
            || same_ending(&c.prefixes, &referrer.prefixes);
        let suffixes = c.suffixes.is_empty()
            || referrer.suffixes.is_empty()
            || same_ending(&c.suffixes, &referrer.suffixes);
        prefixes && suffixes
    } else {
        same_ending(&c.prefixes, &referrer.prefixes) && same_ending(&c.suffixes, &referrer.suffixes)
    }
}
