//! Builtin plugin configurations in `transformers` and `generators`:
//! objects with `apiVersion: builtin` whose kind names one of kustomize's
//! builtin transformers or generators, configured by their own fields
//! (explicit `fieldSpecs` instead of the default tables). Anything else is
//! an exec/Go/function plugin, which neither `kustomize build` (without
//! alpha plugins) nor Flux runs: refused.

use flux_yaml::Value;

use crate::fieldspec::{FieldSpec, parse_spec};
use crate::generators::GeneratorArgs;
use crate::images::Image;
use crate::namespace::Subjects;
use crate::replacements::Replacement;

/// One configured builtin plugin.
#[derive(Clone, Debug)]
pub enum Plugin {
    /// `LabelTransformer`.
    Labels(Vec<(String, String)>, Vec<FieldSpec>),
    /// `AnnotationsTransformer`.
    Annotations(Vec<(String, String)>, Vec<FieldSpec>),
    /// `NamespaceTransformer`.
    Namespace {
        /// The namespace (`metadata.namespace` of the config).
        namespace: String,
        /// Its field specs.
        specs: Vec<FieldSpec>,
        /// `unsetOnly`.
        unset_only: bool,
        /// `setRoleBindingSubjects`.
        subjects: Subjects,
    },
    /// `PrefixTransformer`.
    Prefix(String, Vec<FieldSpec>),
    /// `SuffixTransformer`.
    Suffix(String, Vec<FieldSpec>),
    /// `ImageTagTransformer`.
    Image(Image, Vec<FieldSpec>),
    /// `ReplicaCountTransformer`.
    Replicas(String, i64, Vec<FieldSpec>),
    /// `PatchTransformer`, `PatchJson6902Transformer` and
    /// `PatchStrategicMergeTransformer`: patch texts (file contents
    /// resolved by the caller: `path`s are returned in `files`).
    Patches {
        /// Inline patch texts.
        texts: Vec<String>,
        /// Files holding more.
        files: Vec<String>,
        /// A `target`.
        target: Option<Value>,
        /// `options`.
        options: Option<Value>,
    },
    /// `ReplacementTransformer`: inline replacements and files.
    Replacements(Vec<Replacement>, Vec<String>),
    /// `ConfigMapGenerator` / `SecretGenerator`.
    Generator(GeneratorArgs),
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn pairs(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Map(entries)) => entries
            .iter()
            .map(|(k, v)| (k.clone(), text(Some(v))))
            .collect(),
        _ => Vec::new(),
    }
}

fn specs(table: &str, value: Option<&Value>) -> Result<Vec<FieldSpec>, String> {
    match value {
        Some(Value::Seq(items)) => items.iter().map(|i| parse_spec(table, i)).collect(),
        _ => Ok(Vec::new()),
    }
}

/// A plugin config as a plugin: `apiVersion: builtin` and a builtin kind.
pub fn parse(config: &Value) -> Result<Plugin, String> {
    let api_version = text(config.get("apiVersion"));
    let kind = text(config.get("kind"));
    if api_version != "builtin" {
        return Err(format!(
            "external plugins disabled; unable to load external plugin '{kind}'"
        ));
    }
    let field = |k: &str| config.get(k);
    Ok(match kind.as_str() {
        "LabelTransformer" => Plugin::Labels(
            pairs(field("labels")),
            specs("labels", field("fieldSpecs"))?,
        ),
        "AnnotationsTransformer" => Plugin::Annotations(
            pairs(field("annotations")),
            specs("commonAnnotations", field("fieldSpecs"))?,
        ),
        "NamespaceTransformer" => {
            let subjects = match text(field("setRoleBindingSubjects")).as_str() {
                "" | "defaultOnly" => Subjects::DefaultOnly,
                "allServiceAccounts" => Subjects::AllServiceAccounts,
                "none" => Subjects::None,
                other => {
                    return Err(format!(
                        "invalid value \"{other}\" for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
                    ));
                }
            };
            Plugin::Namespace {
                namespace: text(field("metadata").and_then(|m| m.get("namespace"))),
                specs: specs("namespace", field("fieldSpecs"))?,
                unset_only: matches!(field("unsetOnly"), Some(Value::Bool(true))),
                subjects,
            }
        }
        "PrefixTransformer" | "SuffixTransformer" => {
            if field("fieldSpecs").is_none() {
                return Err("fieldSpecs is not expected to be nil".to_string());
            }
            let table = if kind == "PrefixTransformer" {
                "namePrefix"
            } else {
                "nameSuffix"
            };
            let fs = specs(table, field("fieldSpecs"))?;
            if kind == "PrefixTransformer" {
                Plugin::Prefix(text(field("prefix")), fs)
            } else {
                Plugin::Suffix(text(field("suffix")), fs)
            }
        }
        "ImageTagTransformer" => {
            let tag = field("imageTag");
            let get = |k: &str| text(tag.and_then(|t| t.get(k)));
            Plugin::Image(
                Image {
                    name: get("name"),
                    new_name: get("newName"),
                    new_tag: get("newTag"),
                    digest: get("digest"),
                    tag_suffix: get("tagSuffix"),
                },
                specs("images", field("fieldSpecs"))?,
            )
        }
        "ReplicaCountTransformer" => {
            let replica = field("replica");
            let count = match replica.and_then(|r| r.get("count")) {
                Some(Value::Int(c)) => *c,
                _ => 0,
            };
            Plugin::Replicas(
                text(replica.and_then(|r| r.get("name"))),
                count,
                specs("replicas", field("fieldSpecs"))?,
            )
        }
        "PatchTransformer" => {
            let inline = text(field("patch")).trim().to_string();
            let path = text(field("path"));
            match (inline.is_empty(), path.is_empty()) {
                (true, true) => return Err("must specify one of patch and path".to_string()),
                (false, false) => {
                    return Err("patch and path can't be set at the same time".to_string());
                }
                _ => {}
            }
            Plugin::Patches {
                texts: [inline].into_iter().filter(|t| !t.is_empty()).collect(),
                files: [path].into_iter().filter(|p| !p.is_empty()).collect(),
                target: field("target").cloned(),
                options: field("options").cloned(),
            }
        }
        "PatchJson6902Transformer" => {
            if field("target").is_none() {
                return Err("must specify the target field in patchesJson6902".to_string());
            }
            let inline = text(field("jsonOp"));
            let path = text(field("path"));
            Plugin::Patches {
                texts: [inline].into_iter().filter(|t| !t.is_empty()).collect(),
                files: [path].into_iter().filter(|p| !p.is_empty()).collect(),
                target: field("target").cloned(),
                options: None,
            }
        }
        "PatchStrategicMergeTransformer" => {
            let files: Vec<String> = match field("paths") {
                Some(Value::Seq(items)) => items.iter().map(|i| text(Some(i))).collect(),
                _ => Vec::new(),
            };
            let inline = text(field("patches"));
            if files.is_empty() && inline.is_empty() {
                return Err("empty file path and empty patch content".to_string());
            }
            Plugin::Patches {
                texts: [inline].into_iter().filter(|t| !t.is_empty()).collect(),
                files,
                target: None,
                options: None,
            }
        }
        "ReplacementTransformer" => {
            let mut inline = Vec::new();
            let mut files = Vec::new();
            if let Some(Value::Seq(items)) = field("replacements") {
                for item in items {
                    match item.get("path").and_then(Value::as_str) {
                        Some(path) if !path.is_empty() => files.push(path.to_string()),
                        _ => inline.push(Replacement::parse(item, false)?),
                    }
                }
            }
            Plugin::Replacements(inline, files)
        }
        "ConfigMapGenerator" | "SecretGenerator" => {
            let mut args = config.clone();
            // The generator's name and namespace may come from its metadata.
            if let Value::Map(entries) = &mut args {
                let metadata = entries
                    .iter()
                    .find(|(k, _)| k == "metadata")
                    .map(|(_, v)| v.clone());
                entries.retain(|(k, _)| k != "apiVersion" && k != "kind" && k != "metadata");
                for key in ["name", "namespace"] {
                    let own = entries
                        .iter()
                        .any(|(k, v)| k == key && !text(Some(v)).is_empty());
                    if !own && let Some(v) = metadata.as_ref().and_then(|m| m.get(key)) {
                        entries.retain(|(k, _)| k != key);
                        entries.push((key.to_string(), v.clone()));
                    }
                }
            }
            Plugin::Generator(GeneratorArgs::parse(&args, kind == "SecretGenerator")?)
        }
        other => {
            return Err(format!(
                "builtin plugin '{other}' is not supported (only kustomize's builtin transformers and ConfigMap/Secret generators are)"
            ));
        }
    })
}
