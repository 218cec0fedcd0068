//! Rendered files into manifests and hooks (`pkg/releaseutil`): documents
//! split on `---` lines, each document's head (`apiVersion`, `kind`,
//! `metadata.name`, `metadata.annotations`) read as Helm reads it, hooks
//! (`helm.sh/hook`) separated with their weights and policies, both lists
//! stably sorted in Helm's install order.

use std::collections::BTreeMap;

use flux_yaml::Value as Yaml;

use crate::yaml::{field_type_error as json_err, yaml_kind as kind_of};

/// A resource manifest of a release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The template path it came from.
    pub name: String,
    /// The document text (trimmed).
    pub content: String,
    /// `apiVersion`
    pub api_version: String,
    /// `kind`
    pub kind: String,
}

/// A hook resource with what the controller needs to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// `metadata.name`
    pub name: String,
    /// `kind`
    pub kind: String,
    /// The template path.
    pub path: String,
    /// The document text.
    pub manifest: String,
    /// Events (`pre-install`, `post-upgrade`, `test`…).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` values.
    pub output_log_policies: Vec<String>,
}

/// Kinds in the order Helm installs them; other kinds follow, by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

fn is_go_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// `releaseutil.SplitManifests`: the documents of `text` in order, each
/// trimmed, empty ones dropped (the regular expression
/// `(?:^|\s*\n)---\s*` as Go's `Split` applies it).
pub fn split_manifests(text: &str) -> Vec<String> {
    split_with(text, false)
}

/// Helm v4's `SplitManifests`: as [`split_manifests`], but each document
/// is trimmed on the left only — the last document of a file keeps its
/// trailing whitespace, which Helm v4 then stores in the release manifest.
pub fn split_manifests_v4(text: &str) -> Vec<String> {
    split_with(text, true)
}

fn split_with(text: &str, v4: bool) -> Vec<String> {
    let s = if v4 { text.trim_start() } else { text.trim() };
    let b = s.as_bytes();
    let mut pieces = Vec::new();
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        let mut end = None;
        if i == 0 && b.starts_with(b"---") {
            end = Some(3);
        } else if is_go_space(b[i]) {
            let mut j = i;
            while j < b.len() && is_go_space(b[j]) {
                j += 1;
            }
            if b[j - 1] == b'\n' && b[j..].starts_with(b"---") {
                end = Some(j + 3);
            } else {
                i = j;
                continue;
            }
        }
        match end {
            Some(mut e) => {
                while e < b.len() && is_go_space(b[e]) {
                    e += 1;
                }
                pieces.push(&s[last..i]);
                last = e;
                i = e;
            }
            None => i += 1,
        }
    }
    pieces.push(&s[last..]);
    pieces
        .into_iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| if v4 { d.trim_start() } else { d.trim() }.to_string())
        .collect()
}

#[derive(Default)]
pub(crate) struct Head {
    api_version: String,
    kind: String,
    name: String,
    annotations: Option<BTreeMap<String, String>>,
}

fn scalar_string(v: &Yaml, field: &str) -> Result<String, String> {
    Ok(match v {
        Yaml::Null => String::new(),
        Yaml::String(s) => s.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Uint(u) => u.to_string(),
        Yaml::Float(f) => flux_yaml::format_g32(*f as f32),
        other => return Err(json_err(other, field, "string")),
    })
}

fn field<'a>(entries: &'a [(String, Yaml)], name: &str) -> Option<&'a Yaml> {
    let mut sorted: Vec<&(String, Yaml)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut found = None;
    for (k, v) in sorted {
        if k.eq_ignore_ascii_case(name) {
            found = Some(v);
        }
    }
    found
}

fn parse_head(doc: &str) -> Result<Head, String> {
    // A rendered document holds the bytes of Go strings (see
    // flux_gotemplate::gostr): YAML reads those bytes.
    let v = crate::yaml::first_document(&flux_gotemplate::gostr::to_bytes(doc))?;
    crate::yaml::to_json(&v)?;
    let entries = match &v {
        Yaml::Null => return Ok(Head::default()),
        Yaml::Map(e) => e,
        other => {
            return Err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type releaseutil.SimpleHead",
                kind_of(other)
            ));
        }
    };
    let mut h = Head::default();
    if let Some(x) = field(entries, "apiVersion") {
        h.api_version = scalar_string(x, "SimpleHead.apiVersion")?;
    }
    if let Some(x) = field(entries, "kind") {
        h.kind = scalar_string(x, "SimpleHead.kind")?;
    }
    match field(entries, "metadata") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Map(meta)) => {
            if let Some(x) = field(meta, "name") {
                h.name = scalar_string(x, "SimpleHead.metadata.name")?;
            }
            match field(meta, "annotations") {
                None | Some(Yaml::Null) => {}
                Some(Yaml::Map(ann)) => {
                    let mut m = BTreeMap::new();
                    for (k, x) in ann {
                        m.insert(
                            k.clone(),
                            scalar_string(x, "SimpleHead.metadata.annotations")?,
                        );
                    }
                    h.annotations = Some(m);
                }
                Some(other) => {
                    return Err(json_err(
                        other,
                        "SimpleHead.metadata.annotations",
                        "map[string]string",
                    ));
                }
            }
        }
        Some(other) => {
            return Err(json_err(
                other,
                "SimpleHead.metadata",
                "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }",
            ));
        }
    }
    Ok(h)
}

fn hook_event(s: &str) -> Option<&'static str> {
    Some(match s {
        "pre-install" => "pre-install",
        "post-install" => "post-install",
        "pre-delete" => "pre-delete",
        "post-delete" => "post-delete",
        "pre-upgrade" => "pre-upgrade",
        "post-upgrade" => "post-upgrade",
        "pre-rollback" => "pre-rollback",
        "post-rollback" => "post-rollback",
        "test" | "test-success" => "test",
        _ => return None,
    })
}

/// Go's `strconv.Atoi`.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn split_policy(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split(',').map(|p| p.trim().to_lowercase()).collect())
        .unwrap_or_default()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

fn less_by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => a.cmp(b),
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// One rendered file split into documents, each with its head.
pub(crate) type ParsedFile = Result<Vec<(String, Head)>, String>;

/// Whether `SortManifests` reads this file (partials and blank files are
/// skipped).
pub(crate) fn is_manifest_file(path: &str, content: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    !base.starts_with('_') && !content.trim().is_empty()
}

/// One file's documents and their heads.
pub(crate) fn parse_file(path: &str, content: &str) -> ParsedFile {
    parse_file_with(path, content, false)
}

/// [`parse_file`] with Helm v4's splitting when `v4`.
pub(crate) fn parse_file_with(path: &str, content: &str, v4: bool) -> ParsedFile {
    split_with(content, v4)
        .into_iter()
        .map(|m| {
            let head = parse_head(&m).map_err(|e| format!("YAML parse error on {path}: {e}"))?;
            Ok((m, head))
        })
        .collect()
}

/// `releaseutil.SortManifests` with the install order: files in path
/// order (partials and blank files skipped), each file's documents in
/// order, hooks apart (unknown hook types dropped, as Helm does). The
/// documents are read on all cores; the result is the same.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Hook>, Vec<Manifest>), crate::ManifestError> {
    let work: Vec<(&String, &String)> = files
        .iter()
        .filter(|(path, content)| is_manifest_file(path, content))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(work.len().div_ceil(16).max(1));
    let parsed: Vec<ParsedFile> = if threads <= 1 {
        work.iter().map(|(p, c)| parse_file(p, c)).collect()
    } else {
        let chunk = work.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(p, c)| parse_file(p, c))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err("a manifest reader failed".to_string())])
                })
                .collect()
        })
    };
    let mut parsed = parsed.into_iter();
    sort_parsed(files, &mut |_, _| {
        parsed
            .next()
            .unwrap_or_else(|| Err("manifest reader lost a file".into()))
    })
    .map_err(crate::ManifestError)
}

/// The sorting half of [`sort_manifests`], with each file's documents
/// from `parsed` (asked for in path order).
pub(crate) fn sort_parsed(
    files: &BTreeMap<String, String>,
    parsed: &mut dyn FnMut(&str, &str) -> ParsedFile,
) -> Result<(Vec<Hook>, Vec<Manifest>), String> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        if !is_manifest_file(path, content) {
            continue;
        }
        let docs = parsed(path, content);
        for (m, head) in docs? {
            let hook_types = head
                .annotations
                .as_ref()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.get("helm.sh/hook"));
            let Some(hook_types) = hook_types else {
                generic.push(Manifest {
                    name: path.to_string(),
                    content: m,
                    api_version: head.api_version,
                    kind: head.kind,
                });
                continue;
            };
            let annotations = head.annotations.clone().unwrap_or_default();
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                match hook_event(&t.trim().to_lowercase()) {
                    Some(e) => events.push(e.to_string()),
                    None => {
                        unknown = true;
                        break;
                    }
                }
            }
            if unknown {
                continue;
            }
            hooks.push(Hook {
                name: head.name,
                kind: head.kind,
                path: path.to_string(),
                manifest: m,
                events,
                weight: annotations
                    .get("helm.sh/hook-weight")
                    .and_then(|w| atoi(w))
                    .unwrap_or(0),
                delete_policies: split_policy(annotations.get("helm.sh/hook-delete-policy")),
                output_log_policies: split_policy(
                    annotations.get("helm.sh/hook-output-log-policy"),
                ),
            });
        }
    }
    hooks.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    generic.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    Ok((hooks, generic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helm() {
        assert_eq!(split_manifests("a: 1\n---\nb: 2\n"), vec!["a: 1", "b: 2"]);
        // The separator's trailing `\s*` eats the line break a following
        // `---` would need: Go's regexp leaves that one in the document.
        assert_eq!(
            split_manifests("---\na: 1\n  \n---   \n\n---\nb: 2"),
            vec!["a: 1", "---\nb: 2"]
        );
        assert_eq!(split_manifests("a: 1\n---x: 2"), vec!["a: 1", "x: 2"]);
        assert_eq!(split_manifests("a: '---'\nb: 1"), vec!["a: '---'\nb: 1"]);
        // Helm v4 keeps the trailing whitespace of a file's last document.
        assert_eq!(
            split_manifests_v4("\n---\na: 1\n\n---\nb: 2\n\n"),
            vec!["a: 1", "b: 2\n\n"]
        );
    }
}
