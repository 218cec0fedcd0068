//! `configMapGenerator`, `secretGenerator` and `generatorOptions`, and the
//! content-hash name suffix, as kustomize makes them:
//!
//! - data from `envs` (and the legacy `env`) files, then `literals`, then
//!   `files` (`key=path` or the file's base name); a repeated key is an
//!   error (keys are not validated, as `kustomize build` does not); files
//!   obey the load restrictions;
//! - a ConfigMap value that is not UTF-8 goes to `binaryData`; Secret values
//!   are base64 with kustomize's 70-column line breaks;
//! - `behavior: merge|replace` combine with a generated object of the same
//!   id from a base (`create`, the default, refuses one);
//! - the hash suffix is added once, at the end of the whole build, from the
//!   final data (not the name — kustomize's hasher never reads it).

use std::path::Path;

use base64::Engine as _;
use flux_yaml::{Step, Value};
use sha2::{Digest, Sha256};

use crate::build::Options;
use crate::error::Error;
use crate::fs::FileSystem;
use crate::load::{read_bytes, resolve_local};
use crate::resid::ResId;
use crate::resource::Resource;

/// How a generated object combines with an existing one of the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// `create` or not given: there must be none.
    Create,
    /// `merge`: data merged into the existing object's.
    Merge,
    /// `replace`: the existing object's data replaced.
    Replace,
}

/// What a generated resource carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// Its behavior.
    pub behavior: Behavior,
    /// Whether its name gets the content hash.
    pub needs_hash: bool,
}

/// `generatorOptions` or a generator's `options`.
#[derive(Clone, Debug, Default)]
pub struct GeneratorOptions {
    labels: Option<Vec<(String, String)>>,
    annotations: Option<Vec<(String, String)>>,
    disable_name_suffix_hash: bool,
    immutable: bool,
}

impl GeneratorOptions {
    /// Parses an options mapping.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let mut options = GeneratorOptions::default();
        let Value::Map(fields) = value else {
            return match value {
                Value::Null => Ok(options),
                _ => Err("generator options must be a mapping".to_string()),
            };
        };
        for (key, v) in fields {
            let flag = || match v {
                Value::Bool(b) => Ok(*b),
                Value::Null => Ok(false),
                _ => Err(format!("options: '{key}' must be a boolean")),
            };
            match key.as_str() {
                "labels" => options.labels = Some(string_pairs(v, key)?),
                "annotations" => options.annotations = Some(string_pairs(v, key)?),
                "disableNameSuffixHash" => options.disable_name_suffix_hash = flag()?,
                "immutable" => options.immutable = flag()?,
                other => return Err(unknown_field(other)),
            }
        }
        Ok(options)
    }

    /// Global options fill what local ones do not set.
    fn merged_with(mut self, global: Option<&GeneratorOptions>) -> GeneratorOptions {
        let Some(global) = global else { return self };
        for (local, global) in [
            (&mut self.labels, &global.labels),
            (&mut self.annotations, &global.annotations),
        ] {
            match (local.as_mut(), global) {
                (None, Some(g)) => *local = Some(g.clone()),
                (Some(l), Some(g)) => {
                    for (k, v) in g {
                        if !l.iter().any(|(lk, _)| lk == k) {
                            l.push((k.clone(), v.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        self.disable_name_suffix_hash |= global.disable_name_suffix_hash;
        self.immutable |= global.immutable;
        self
    }
}

fn unknown_field(name: &str) -> String {
    format!("invalid Kustomization: json: unknown field \"{name}\"")
}

fn string_pairs(value: &Value, field: &str) -> Result<Vec<(String, String)>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Null => Ok((k.clone(), String::new())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                Value::Int(i) => Ok((k.clone(), i.to_string())),
                _ => Err(format!("'{field}' must be a mapping of strings")),
            })
            .collect(),
        _ => Err(format!("'{field}' must be a mapping of strings")),
    }
}

fn string_list(value: &Value, field: &str) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Seq(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Int(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(format!("'{field}' must be a list of strings")),
            })
            .collect(),
        _ => Err(format!("'{field}' must be a list of strings")),
    }
}

/// One generator entry.
#[derive(Clone, Debug)]
pub struct GeneratorArgs {
    kind: &'static str,
    name: String,
    namespace: String,
    behavior: Behavior,
    literals: Vec<String>,
    files: Vec<String>,
    envs: Vec<String>,
    options: GeneratorOptions,
    secret_type: String,
}

impl GeneratorArgs {
    /// The builtin generator kind kustomize names in origin annotations.
    pub fn generator_kind(&self) -> &'static str {
        if self.kind == "Secret" {
            "SecretGenerator"
        } else {
            "ConfigMapGenerator"
        }
    }

    /// Parses a `configMapGenerator` (`secret` false) or `secretGenerator`
    /// entry.
    pub fn parse(value: &Value, secret: bool) -> Result<Self, String> {
        let Value::Map(fields) = value else {
            return Err("each generator entry must be a mapping".to_string());
        };
        let mut args = GeneratorArgs {
            kind: if secret { "Secret" } else { "ConfigMap" },
            name: String::new(),
            namespace: String::new(),
            behavior: Behavior::Create,
            literals: Vec::new(),
            files: Vec::new(),
            envs: Vec::new(),
            options: GeneratorOptions::default(),
            secret_type: String::new(),
        };
        let mut env = None;
        for (key, v) in fields {
            let text = || match v {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                _ => Err(format!("generator: '{key}' must be a string")),
            };
            match key.as_str() {
                "name" => args.name = text()?,
                "namespace" => args.namespace = text()?,
                "behavior" => {
                    args.behavior = match text()?.as_str() {
                        "merge" => Behavior::Merge,
                        "replace" => Behavior::Replace,
                        _ => Behavior::Create,
                    }
                }
                "literals" => args.literals = string_list(v, key)?,
                "files" => args.files = string_list(v, key)?,
                "envs" => args.envs = string_list(v, key)?,
                "env" => env = Some(text()?).filter(|e| !e.is_empty()),
                "options" => args.options = GeneratorOptions::parse(v)?,
                "type" if secret => args.secret_type = text()?,
                other => return Err(unknown_field(other)),
            }
        }
        // The legacy single `env` is one more `envs` entry.
        args.envs.extend(env);
        Ok(args)
    }
}

/// Makes the object of one generator entry.
pub fn generate(
    fs: &dyn FileSystem,
    dir: &Path,
    build_options: &Options,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
) -> Result<Resource, Error> {
    let invalid = |message: String| Error::Generator(message);
    if args.name.is_empty() {
        return Err(invalid(format!(
            "a {} must have a name",
            args.kind.to_lowercase()
        )));
    }
    let options = args.options.clone().merged_with(global);
    let pairs = load_pairs(fs, dir, build_options, args)?;
    let mut metadata = vec![("name".to_string(), Value::String(args.name.clone()))];
    if !args.namespace.is_empty() {
        metadata.push((
            "namespace".to_string(),
            Value::String(args.namespace.clone()),
        ));
    }
    let mut object = vec![
        ("apiVersion".to_string(), Value::String("v1".to_string())),
        ("kind".to_string(), Value::String(args.kind.to_string())),
    ];
    if args.kind == "Secret" {
        let secret_type = if args.secret_type.is_empty() {
            "Opaque"
        } else {
            &args.secret_type
        };
        object.push(("type".to_string(), Value::String(secret_type.to_string())));
    }
    let mut sorted = pairs;
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut data, mut binary) = (Vec::new(), Vec::new());
    for (key, bytes) in sorted {
        if args.kind == "Secret" {
            data.push((key, Value::String(encode_base64(&bytes))));
            continue;
        }
        match String::from_utf8(bytes) {
            Ok(text) => data.push((key, Value::String(text))),
            Err(e) => binary.push((key, Value::String(encode_base64(e.as_bytes())))),
        }
    }
    if !data.is_empty() || args.kind == "Secret" {
        object.push(("data".to_string(), Value::Map(data)));
    }
    if !binary.is_empty() {
        object.push(("binaryData".to_string(), Value::Map(binary)));
    }
    if let Some(labels) = options.labels.as_ref().filter(|l| !l.is_empty()) {
        metadata.push(("labels".to_string(), string_map(labels)));
    }
    if let Some(annotations) = options.annotations.as_ref().filter(|a| !a.is_empty()) {
        metadata.push(("annotations".to_string(), string_map(annotations)));
    }
    object.push(("metadata".to_string(), Value::Map(metadata)));
    if options.immutable {
        object.push(("immutable".to_string(), Value::Bool(true)));
    }
    let value = Value::Map(object);
    let id = ResId::of(&value).map_err(|e| invalid(e.0))?;
    let mut resource = Resource::new(value, id);
    resource.generated = Some(Generated {
        behavior: args.behavior,
        needs_hash: !options.disable_name_suffix_hash,
    });
    Ok(resource)
}

fn string_map(pairs: &[(String, String)]) -> Value {
    let mut sorted = pairs.to_vec();
    sorted.sort();
    Value::Map(
        sorted
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// The key/value pairs of a generator: envs, literals, files, in that
/// order, each key once and valid.
fn load_pairs(
    fs: &dyn FileSystem,
    dir: &Path,
    build_options: &Options,
    args: &GeneratorArgs,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let invalid = |message: String| Error::Generator(message);
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    for env in &args.envs {
        let path = resolve_local(dir, env, build_options)?;
        let bytes = read_bytes(fs, &path)?;
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Ok(mut line) = std::str::from_utf8(line) else {
                return Err(invalid(format!(
                    "env source files: [{env}]: line {} has invalid utf8 bytes",
                    i + 1
                )));
            };
            if i == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // `kustomize build` validates neither env names nor keys.
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            pairs.push((key.to_string(), value.as_bytes().to_vec()));
        }
    }
    for literal in &args.literals {
        let Some((key, value)) = literal.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(invalid(format!(
                "literal sources {:?}: invalid literal source {literal}, expected key=value",
                args.literals
            )));
        };
        pairs.push((key.to_string(), remove_quotes(value).as_bytes().to_vec()));
    }
    for source in &args.files {
        let (key, file) = parse_file_source(source).map_err(invalid)?;
        let path = resolve_local(dir, &file, build_options)?;
        pairs.push((key, read_bytes(fs, &path)?));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &pairs {
        if !seen.insert(key.clone()) {
            return Err(invalid(format!(
                "configmap {} illegally repeats the key `{key}`",
                args.name
            )));
        }
    }
    Ok(pairs)
}

fn remove_quotes(value: &str) -> &str {
    let bytes = value.as_bytes();
    if bytes.len() < 2 || bytes[0] != bytes[bytes.len() - 1] {
        return value;
    }
    if bytes[0] == b'"' || bytes[0] == b'\'' {
        return &value[1..value.len() - 1];
    }
    value
}

fn parse_file_source(source: &str) -> Result<(String, String), String> {
    let separators = source.matches('=').count();
    match separators {
        0 => {
            let base = source
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(source);
            Ok((base.to_string(), source.to_string()))
        }
        1 if source.starts_with('=') => Err(format!(
            "missing key name for file path \"{}\" in source \"{source}\"",
            &source[1..]
        )),
        1 if source.ends_with('=') => Err(format!(
            "missing file path for key name \"{}\" in source \"{source}\"",
            &source[..source.len() - 1]
        )),
        1 => {
            let (k, v) = source.split_once('=').unwrap_or((source, ""));
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "source \"{source}\" key name or file path contains '='"
        )),
    }
}

/// Base64 as kustomize writes generated data: a line break after every 70
/// characters (and at the end) once the text is 70 characters or more.
pub fn encode_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < 70 {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 70 + 1);
    for chunk in encoded.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Adds a generated object to the resources: appended, or combined with
/// the one it names by `behavior`.
pub fn absorb(resources: &mut Vec<Resource>, mut new: Resource) -> Result<(), Error> {
    let behavior = new
        .generated
        .as_ref()
        .map_or(Behavior::Create, |g| g.behavior);
    let matches: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.previous_ids()
                .iter()
                .chain(std::iter::once(&r.id))
                .any(|id| id.equals(&new.id))
        })
        .map(|(i, _)| i)
        .collect();
    match (matches.as_slice(), behavior) {
        ([], Behavior::Create) => {
            resources.push(new);
            Ok(())
        }
        ([], _) => Err(Error::Generator(format!(
            "id {} does not exist; cannot merge or replace",
            new.id
        ))),
        ([_], Behavior::Create) => Err(Error::Generator(format!(
            "id {} exists; can not use behavior: 'create', behavior must be merge or replace",
            new.id
        ))),
        ([index], _) => {
            let old = &resources[*index];
            merge_metadata(&mut new, old);
            keep_origin(&mut new.value, &old.value);
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    merge_data(&mut new.value, old, field);
                }
            }
            // The name gets the content hash only when both sides would
            // have had it: a plain resource merged by a generator keeps its
            // name, and `disableNameSuffixHash` on either side wins (what
            // kustomize builds for every behavior × origin).
            new.generated = match (&old.generated, &new.generated) {
                (Some(before), Some(now)) => Some(Generated {
                    behavior: before.behavior,
                    needs_hash: before.needs_hash && now.needs_hash,
                }),
                _ => None,
            };
            new.previous.clone_from(&old.previous);
            new.prefixes.clone_from(&old.prefixes);
            new.suffixes.clone_from(&old.suffixes);
            new.ref_vars.clone_from(&old.ref_vars);
            new.id = ResId::of(&new.value).map_err(|e| Error::Generator(e.0))?;
            resources[*index] = new;
            Ok(())
        }
        _ => Err(Error::Generator(format!(
            "found multiple objects that could accept merge of {}",
            new.id
        ))),
    }
}

/// kustomize's `CopyMergeMetaDataFieldsFrom`: labels and annotations merged
/// (the new object's win), the old name and namespace kept.
fn merge_metadata(new: &mut Resource, old: &Resource) {
    // kustomize reads labels and annotations as strings (the nodes' text).
    let meta = |r: &Resource, key: &str| -> Vec<(String, Value)> {
        match r.value.get("metadata").and_then(|m| m.get(key)) {
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| {
                    let path = [
                        Step::Key("metadata".to_string()),
                        Step::Key(key.to_string()),
                        Step::Key(k.clone()),
                    ];
                    (k.clone(), Value::String(r.text_at(&path, v)))
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let text = |v: &Value, key: &str| {
        v.get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, namespace) = (text(&old.value, "name"), text(&old.value, "namespace"));
    let mut merged = Vec::new();
    for key in ["labels", "annotations"] {
        let mut map = meta(old, key);
        for (k, v) in meta(new, key) {
            match map.iter_mut().find(|(mk, _)| *mk == k) {
                Some(slot) => slot.1 = v,
                None => map.push((k, v)),
            }
        }
        map.sort_by(|a, b| a.0.cmp(&b.0));
        merged.push((key, map));
    }
    let Value::Map(object) = &mut new.value else {
        return;
    };
    let Some((_, Value::Map(metadata))) = object.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    for (key, map) in merged {
        metadata.retain(|(k, _)| k != key);
        if !map.is_empty() {
            metadata.push((key.to_string(), Value::Map(map)));
        }
    }
    metadata.retain(|(k, _)| k != "name" && k != "namespace");
    metadata.push(("name".to_string(), Value::String(name)));
    if !namespace.is_empty() {
        metadata.push(("namespace".to_string(), Value::String(namespace)));
    }
}

/// A merged or replaced generated object keeps the origin annotation of
/// the one it replaces.
fn keep_origin(new: &mut Value, old: &Value) {
    const KEY: &str = "config.kubernetes.io/origin";
    let old_origin = old
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(KEY))
        .cloned();
    let Some(origin) = old_origin else { return };
    if let Value::Map(object) = new
        && let Some((_, Value::Map(metadata))) = object.iter_mut().find(|(k, _)| k == "metadata")
        && let Some((_, Value::Map(annotations))) =
            metadata.iter_mut().find(|(k, _)| k == "annotations")
    {
        match annotations.iter_mut().find(|(k, _)| k == KEY) {
            Some(slot) => slot.1 = origin,
            None => annotations.push((KEY.to_string(), origin)),
        }
    }
}

/// The old object's `field` entries under the new one's.
fn merge_data(new: &mut Value, old_resource: &Resource, field: &str) {
    let Some(Value::Map(old)) = old_resource.value.get(field) else {
        return;
    };
    let Value::Map(object) = new else { return };
    // kustomize reads the existing data as strings (the nodes' text).
    let mut map: Vec<(String, Value)> = old
        .iter()
        .map(|(k, v)| {
            let path = [Step::Key(field.to_string()), Step::Key(k.clone())];
            (k.clone(), Value::String(old_resource.text_at(&path, v)))
        })
        .collect();
    if let Some((_, Value::Map(current))) = object.iter().find(|(k, _)| k == field) {
        for (k, v) in current {
            match map.iter_mut().find(|(mk, _)| mk == k) {
                Some(slot) => slot.1 = v.clone(),
                None => map.push((k.clone(), v.clone())),
            }
        }
    }
    object.retain(|(k, _)| k != field);
    if !map.is_empty() {
        map.sort_by(|a, b| a.0.cmp(&b.0));
        object.push((field.to_string(), Value::Map(map)));
    }
}

/// kustomize's content hash of a ConfigMap or Secret (10 characters).
pub fn content_hash(value: &Value) -> String {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let field = |name: &str| -> String {
        match value.get(name) {
            None => "\"\"".to_string(),
            Some(Value::Map(m)) => go_json(&Value::Map(m.clone())),
            Some(Value::Null) => "null".to_string(),
            Some(other) => go_json(&Value::String(scalar_text(other))),
        }
    };
    let json = match kind {
        "Secret" => {
            let mut parts = vec![
                format!("\"data\":{}", field("data")),
                "\"kind\":\"Secret\"".to_string(),
                "\"name\":\"\"".to_string(),
            ];
            if let Some(Value::Map(_)) = value.get("stringData") {
                parts.push(format!("\"stringData\":{}", field("stringData")));
            }
            parts.push(format!("\"type\":{}", field("type")));
            format!("{{{}}}", parts.join(","))
        }
        _ => {
            let mut parts = Vec::new();
            if let Some(Value::Map(_)) = value.get("binaryData") {
                parts.push(format!("\"binaryData\":{}", field("binaryData")));
            }
            parts.push(format!("\"data\":{}", field("data")));
            parts.push("\"kind\":\"ConfigMap\"".to_string());
            parts.push("\"name\":\"\"".to_string());
            format!("{{{}}}", parts.join(","))
        }
    };
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
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

/// `encoding/json`'s output of `value`: compact, or indented by two spaces
/// (`MarshalIndent`).
pub fn go_json_text(value: &Value, pretty: bool) -> String {
    if !pretty {
        return go_json(value);
    }
    let mut out = String::new();
    indent_json(value, 0, &mut out);
    out
}

fn indent_json(value: &Value, depth: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Value::Seq(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                indent_json(item, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Map(entries) if !entries.is_empty() => {
            let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push_str("{\n");
            for (i, (k, v)) in sorted.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&go_json_string(k));
                out.push_str(": ");
                indent_json(v, depth + 1, out);
                if i + 1 < sorted.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        other => out.push_str(&go_json(other)),
    }
}

/// `encoding/json`'s compact output: keys sorted, HTML characters escaped.
fn go_json(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => go_json_string(s),
        Value::Seq(items) => format!(
            "[{}]",
            items.iter().map(go_json).collect::<Vec<_>>().join(",")
        ),
        Value::Map(entries) => {
            let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            format!(
                "{{{}}}",
                sorted
                    .iter()
                    .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

/// Go's `encoding/json` string literal (shared with the other crates).
fn go_json_string(s: &str) -> String {
    flux_go::json::quote(s)
}

/// Adds the content hash to the name of every generated object that wants
/// it (at the end of the whole build).
pub fn add_hashes(resources: &mut [Resource]) -> Result<(), Error> {
    for resource in resources {
        if !resource.generated.as_ref().is_some_and(|g| g.needs_hash) {
            continue;
        }
        let hash = content_hash(&resource.value);
        resource.store_previous_id();
        let name = format!("{}-{hash}", resource.id.name);
        if let Value::Map(object) = &mut resource.value
            && let Some((_, Value::Map(metadata))) =
                object.iter_mut().find(|(k, _)| k == "metadata")
        {
            metadata.retain(|(k, _)| k != "name");
            metadata.push(("name".to_string(), Value::String(name)));
        }
        resource.id = ResId::of(&resource.value).map_err(|e| Error::Generator(e.0))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_base64_breaks_every_70_characters() {
        assert_eq!(encode_base64(b"hello"), "aGVsbG8=");
        let long = encode_base64(&[b'x'; 60]);
        let lines: Vec<&str> = long.split('\n').collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), 70);
        assert_eq!(lines[2], "");
    }

    #[test]
    fn go_json_escapes_like_encoding_json() {
        assert_eq!(
            go_json_string("a<b>&\"\\\n\u{1}"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\""
        );
    }
}
