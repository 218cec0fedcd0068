//! The kustomization file: finding it, and decoding its fields as
//! kustomize does (types checked, null as empty, kustomize's messages).

use std::path::{Path, PathBuf};

use flux_yaml::Value;

use crate::build::Options;
use crate::error::Error;
use crate::fs::{FileSystem, clean};
use crate::load::{read_text, resolve_local};
use crate::resource::SortOrder;
use crate::{fieldspec, generators, images, labels, patch, replacements, vars};

/// The names kustomize looks for, in its order.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields of a kustomization this engine does not implement yet.
pub(crate) const NOT_YET_SUPPORTED: &[&str] = &[
    "openapi",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "validators",
];

/// A kustomization file, its fields decoded (kustomize's
/// `types.Kustomization`).
#[derive(Debug, Default)]
pub(crate) struct Kustomization {
    /// The file.
    pub(crate) file: PathBuf,
    /// `kind`: `Kustomization` or `Component`.
    pub(crate) kind: String,
    /// `resources`, then the deprecated `bases`.
    pub(crate) resources: Vec<String>,
    bases: Vec<String>,
    /// `components`.
    pub(crate) components: Vec<String>,
    /// `namespace`.
    pub(crate) namespace: Option<String>,
    /// `commonAnnotations`.
    pub(crate) common_annotations: Vec<(String, String)>,
    /// `commonLabels`.
    pub(crate) common_labels: Vec<(String, String)>,
    /// `labels`.
    pub(crate) label_sets: Vec<LabelSet>,
    /// `sortOptions`.
    pub(crate) sort: Option<SortOrder>,
    /// `patches`.
    pub(crate) patches: Vec<PatchEntry>,
    /// `patchesJson6902`.
    pub(crate) json6902_patches: Vec<PatchEntry>,
    /// `patchesStrategicMerge`.
    pub(crate) strategic_merge_patches: Vec<PatchEntry>,
    /// `images`.
    pub(crate) images: Vec<images::Image>,
    /// `replicas`.
    pub(crate) replicas: Vec<(String, i64)>,
    /// `namePrefix`.
    pub(crate) name_prefix: String,
    /// `nameSuffix`.
    pub(crate) name_suffix: String,
    /// `configMapGenerator`.
    pub(crate) config_map_generators: Vec<generators::GeneratorArgs>,
    /// `secretGenerator`.
    pub(crate) secret_generators: Vec<generators::GeneratorArgs>,
    /// `generatorOptions`.
    pub(crate) generator_options: Option<generators::GeneratorOptions>,
    /// `replacements`.
    pub(crate) replacements: Vec<replacements::Replacement>,
    /// `vars`.
    pub(crate) vars: Vec<vars::Var>,
    /// `configurations`.
    pub(crate) configurations: Vec<String>,
    /// `crds`.
    pub(crate) crds: Vec<String>,
    /// `buildMetadata`.
    pub(crate) build_metadata: Vec<String>,
    /// `transformers`.
    pub(crate) transformers: Vec<String>,
    /// `generators`.
    pub(crate) generators: Vec<String>,
}

impl Kustomization {
    /// Reads and decodes the kustomization `file` of `dir`.
    pub(crate) fn read(
        fs: &dyn FileSystem,
        dir: &Path,
        file: PathBuf,
        options: &Options,
    ) -> Result<Self, Error> {
        let text = read_text(fs, &file)?;
        // kustomize reads the file with sigs.k8s.io/yaml (go-yaml v2: YAML
        // 1.1 scalars, a repeated key replaces the earlier one) into JSON.
        let docs = flux_yaml::parse_sigs(&text).map_err(|e| Error::Invalid {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let kustomization = match docs.into_iter().find(|d| *d != Value::Null) {
            Some(mut doc @ Value::Map(_)) => {
                crate::fields::canonicalize(&mut doc, "Kustomization");
                match doc {
                    Value::Map(entries) => entries,
                    _ => Vec::new(),
                }
            }
            None => Vec::new(),
            Some(_) => {
                return Err(Error::Invalid {
                    path: file,
                    message: "a kustomization must be a mapping".to_string(),
                });
            }
        };

        // kustomize refuses a kustomization that sets nothing.
        let sets_nothing = kustomization.iter().all(|(field, value)| {
            matches!(field.as_str(), "apiVersion" | "kind")
                || *value == Value::Null
                || *value == Value::String(String::new())
        });
        if sets_nothing {
            return Err(Error::Invalid {
                path: file,
                message: "kustomization.yaml is empty".to_string(),
            });
        }
        let mut k = Kustomization::default();
        for (field, value) in &kustomization {
            match field.as_str() {
                "apiVersion" | "metadata" => {}
                "kind" => k.kind = value.as_str().unwrap_or_default().to_string(),
                "bases" => k.bases = string_list(value, &file, field)?,
                "components" => k.components = string_list(value, &file, field)?,
                "resources" => k.resources = string_list(value, &file, field)?,
                "commonAnnotations" => k.common_annotations = string_map(value, &file, field)?,
                "commonLabels" => k.common_labels = string_map(value, &file, field)?,
                "labels" => k.label_sets = label_list(value, &file)?,
                "images" => k.images = image_list(value, &file)?,
                "replicas" => k.replicas = replica_list(value, &file)?,
                // A null sortOptions is none (JSON's null into a pointer).
                "sortOptions" if *value == Value::Null => {}
                "sortOptions" => k.sort = Some(sort_options(value, &file)?),
                "patches" => k.patches = patch_entries(fs, value, dir, &file, options, false)?,
                "patchesStrategicMerge" => {
                    k.strategic_merge_patches =
                        strategic_merge_entries(fs, value, dir, &file, options)?;
                }
                "configurations" => k.configurations = string_list(value, &file, field)?,
                "crds" => k.crds = string_list(value, &file, field)?,
                "transformers" => k.transformers = string_list(value, &file, field)?,
                "generators" => k.generators = string_list(value, &file, field)?,
                "buildMetadata" => {
                    k.build_metadata = string_list(value, &file, field)?;
                    if k.build_metadata
                        .iter()
                        .any(|m| m == "transformerAnnotations")
                    {
                        return Err(Error::Unsupported {
                            path: file.clone(),
                            field: "buildMetadata: transformerAnnotations".to_string(),
                        });
                    }
                }
                "vars" => {
                    k.vars = list_items(value, &file, field)?
                        .iter()
                        .map(vars::Var::parse)
                        .collect::<Result<_, String>>()
                        .map_err(|message| Error::Invalid {
                            path: file.clone(),
                            message,
                        })?;
                }
                "replacements" => {
                    k.replacements = replacement_entries(fs, value, dir, &file, options)?;
                }
                "namePrefix" => k.name_prefix = optional_string(value, &file, field)?,
                "nameSuffix" => k.name_suffix = optional_string(value, &file, field)?,
                "configMapGenerator" | "secretGenerator" => {
                    let secret = field == "secretGenerator";
                    let parsed = list_items(value, &file, field)?
                        .iter()
                        .map(|v| generators::GeneratorArgs::parse(v, secret))
                        .collect::<Result<Vec<_>, String>>()
                        .map_err(|message| Error::Invalid {
                            path: file.clone(),
                            message,
                        })?;
                    if secret {
                        k.secret_generators = parsed;
                    } else {
                        k.config_map_generators = parsed;
                    }
                }
                "generatorOptions" => {
                    k.generator_options = Some(
                        generators::GeneratorOptions::parse(value).map_err(|message| {
                            Error::Invalid {
                                path: file.clone(),
                                message,
                            }
                        })?,
                    );
                }
                "patchesJson6902" => {
                    k.json6902_patches = patch_entries(fs, value, dir, &file, options, true)?;
                }
                "namespace" => match value {
                    Value::String(ns) if !ns.is_empty() => k.namespace = Some(ns.clone()),
                    Value::String(_) | Value::Null => {}
                    _ => {
                        return Err(Error::Invalid {
                            path: file.clone(),
                            message: "'namespace' must be a string".to_string(),
                        });
                    }
                },
                other if NOT_YET_SUPPORTED.contains(&other) => {
                    return Err(Error::Unsupported {
                        path: file.clone(),
                        field: other.to_string(),
                    });
                }
                other => {
                    return Err(Error::Invalid {
                        path: file.clone(),
                        message: format!("invalid Kustomization: json: unknown field \"{other}\""),
                    });
                }
            }
        }
        // `bases` is the deprecated spelling of more `resources`.
        let bases = std::mem::take(&mut k.bases);
        k.resources.extend(bases);
        k.file = file;
        Ok(k)
    }
}

/// The kustomization file of `dir`; kustomize refuses none or several.
pub(crate) fn kustomization_file(fs: &dyn FileSystem, dir: &Path) -> Result<PathBuf, Error> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| fs.is_file(p))
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        0 => Err(Error::Kustomization(format!(
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
            dir.display()
        ))),
        _ => Err(Error::Kustomization(format!(
            "Found multiple kustomization files under: {}",
            dir.display()
        ))),
    }
}

/// `sortOptions`: `order` (`legacy` or `fifo`) and, for legacy,
/// `legacySortOptions.orderFirst`/`orderLast`.
pub(crate) fn sort_options(value: &Value, file: &Path) -> Result<SortOrder, Error> {
    let invalid = |message: &str| Error::Invalid {
        path: file.to_path_buf(),
        message: message.to_string(),
    };
    let order = value
        .get("order")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let legacy = value
        .get("legacySortOptions")
        .filter(|v| **v != Value::Null);
    match (order, legacy) {
        ("fifo", None) => Ok(SortOrder::Fifo),
        ("fifo", Some(_)) => Err(invalid(
            "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'",
        )),
        ("legacy", None) => Ok(SortOrder::default()),
        ("legacy", Some(options)) => {
            let list = |key: &str| match options.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(v) => string_list(v, file, key),
            };
            Ok(SortOrder::Legacy {
                first: list("orderFirst")?,
                last: list("orderLast")?,
            })
        }
        _ => Err(invalid(
            "the field 'sortOptions.order' must be one of [fifo, legacy]",
        )),
    }
}

/// A string field that may be null.
pub(crate) fn optional_string(value: &Value, file: &Path, field: &str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        _ => Err(Error::Invalid {
            path: file.to_path_buf(),
            message: format!("'{field}' must be a string"),
        }),
    }
}

pub(crate) fn string_list(value: &Value, file: &Path, field: &str) -> Result<Vec<String>, Error> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Seq(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(Error::Invalid {
                    path: file.to_path_buf(),
                    message: format!("'{field}' must be a list of strings"),
                }),
            })
            .collect(),
        _ => Err(Error::Invalid {
            path: file.to_path_buf(),
            message: format!("'{field}' must be a list of strings"),
        }),
    }
}

/// A mapping of strings (labels, annotations); scalars are taken as their
/// text, as kustomize's `map[string]string` decoding does.
pub(crate) fn string_map(
    value: &Value,
    file: &Path,
    field: &str,
) -> Result<Vec<(String, String)>, Error> {
    let invalid = || Error::Invalid {
        path: file.to_path_buf(),
        message: format!("'{field}' must be a mapping of strings"),
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                // kustomize writes the key as a plain scalar into the
                // resource, and decoding that again fails for keys YAML reads
                // as numbers, booleans, nulls or timestamps.
                if !matches!(flux_yaml::resolve_plain(k), Value::String(ref s) if s == k) {
                    return Err(Error::Invalid {
                        path: file.to_path_buf(),
                        message: format!(
                            "'{field}' key \"{k}\" would be written as a non-string key: json: unsupported type: map[interface {{}}]interface {{}}"
                        ),
                    });
                }
                match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(invalid()),
                }
            })
            .collect(),
        _ => Err(invalid()),
    }
}

/// The items of a kustomization list field (none when null).
pub(crate) fn list_items<'a>(
    value: &'a Value,
    file: &Path,
    field: &str,
) -> Result<&'a [Value], Error> {
    match value {
        Value::Seq(items) => Ok(items),
        Value::Null => Ok(&[]),
        _ => Err(Error::Invalid {
            path: file.to_path_buf(),
            message: format!("'{field}' must be a list"),
        }),
    }
}

/// The entries of each mapping of a kustomization list field.
pub(crate) fn map_items<'a>(
    value: &'a Value,
    file: &Path,
    field: &str,
) -> Result<Vec<&'a [(String, Value)]>, Error> {
    list_items(value, file, field)?
        .iter()
        .map(|item| match item {
            Value::Map(fields) => Ok(fields.as_slice()),
            _ => Err(Error::Invalid {
                path: file.to_path_buf(),
                message: format!("each '{field}' entry must be a mapping"),
            }),
        })
        .collect()
}

/// `options` of a `patches` entry.
pub(crate) fn parse_patch_options(value: &Value) -> Result<PatchOptions, String> {
    let mut options = PatchOptions::default();
    let Value::Map(fields) = value else {
        return match value {
            Value::Null => Ok(options),
            _ => Err("'options' must be a mapping".to_string()),
        };
    };
    for (key, v) in fields {
        let flag = match v {
            Value::Bool(b) => *b,
            Value::Null => false,
            _ => return Err(format!("options: '{key}' must be a boolean")),
        };
        match key.as_str() {
            "allowNameChange" => options.allow_name_change = flag,
            "allowKindChange" => options.allow_kind_change = flag,
            other => {
                return Err(format!(
                    "invalid Kustomization: json: unknown field \"{other}\""
                ));
            }
        }
    }
    Ok(options)
}

/// `options` of a patch.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PatchOptions {
    pub(crate) allow_name_change: bool,
    pub(crate) allow_kind_change: bool,
}

/// One patch: its text, target and options.
#[derive(Clone, Debug)]
pub(crate) struct PatchEntry {
    pub(crate) text: String,
    pub(crate) target: Option<patch::Target>,
    pub(crate) options: PatchOptions,
}

/// The `patches` (or legacy `patchesJson6902`) list: `patch` or `path`,
/// `target`.
pub(crate) fn patch_entries(
    fs: &dyn FileSystem,
    value: &Value,
    dir: &Path,
    file: &Path,
    options: &Options,
    legacy: bool,
) -> Result<Vec<PatchEntry>, Error> {
    let invalid = Error::invalid_in(file);
    let mut out = Vec::new();
    for fields in map_items(value, file, "patches")? {
        let (mut text, mut path, mut target) = (None, None, None);
        let mut patch_options = PatchOptions::default();
        for (key, v) in fields {
            match key.as_str() {
                "patch" => text = v.as_str().map(|s| s.trim().to_string()),
                "path" => path = v.as_str().map(str::to_string),
                // A null target is no target (JSON's null into a pointer).
                "target" if *v == Value::Null => target = None,
                "target" => target = Some(patch::Target::parse(v).map_err(invalid)?),
                "options" if !legacy => patch_options = parse_patch_options(v).map_err(invalid)?,
                other => {
                    return Err(invalid(format!(
                        "invalid Kustomization: json: unknown field \"{other}\""
                    )));
                }
            }
        }
        let text = match (text.filter(|t| !t.is_empty()), path) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "patch and path can't be set at the same time".to_string(),
                ));
            }
            (Some(t), None) => t,
            (None, Some(p)) => {
                let full = clean(&dir.join(&p));
                if options.root_only && !full.starts_with(dir) {
                    return Err(Error::OutsideRoot {
                        file: full,
                        root: dir.to_path_buf(),
                    });
                }
                read_text(fs, &full)?
            }
            (None, None) => return Err(invalid("must specify one of patch and path".to_string())),
        };
        out.push(PatchEntry {
            text,
            target,
            options: patch_options,
        });
    }
    Ok(out)
}

/// The `replacements` list: inline replacements, or `path`s of files
/// holding one or a list.
pub(crate) fn replacement_entries(
    fs: &dyn FileSystem,
    value: &Value,
    dir: &Path,
    file: &Path,
    options: &Options,
) -> Result<Vec<replacements::Replacement>, Error> {
    let invalid = Error::invalid_in(file);
    let mut out = Vec::new();
    for item in list_items(value, file, "replacements")? {
        let path = item.get("path").and_then(Value::as_str).unwrap_or_default();
        if path.is_empty() {
            out.push(replacements::Replacement::parse(item, true).map_err(invalid)?);
            continue;
        }
        if item.get("source").is_some() || item.get("targets").is_some() {
            return Err(invalid(
                "cannot specify both path and inline replacement".to_string(),
            ));
        }
        let full = resolve_local(dir, path, options)?;
        let text = read_text(fs, &full)?;
        out.extend(
            replacements::parse_file(&text).map_err(|message| Error::Invalid {
                path: full.clone(),
                message,
            })?,
        );
    }
    Ok(out)
}

/// The legacy `patchesStrategicMerge` list: file paths or inline patches.
pub(crate) fn strategic_merge_entries(
    fs: &dyn FileSystem,
    value: &Value,
    dir: &Path,
    file: &Path,
    options: &Options,
) -> Result<Vec<PatchEntry>, Error> {
    let entries = match value {
        Value::Null => Vec::new(),
        v => string_list(v, file, "patchesStrategicMerge")?,
    };
    entries
        .into_iter()
        .map(|entry| {
            // An entry with a line break, or that parses as a mapping, is
            // an inline patch; otherwise a file.
            let inline = entry.contains('\n')
                || matches!(
                    flux_yaml::parse(&entry)
                        .ok()
                        .and_then(|d| d.into_iter().next()),
                    Some(Value::Map(_))
                );
            if inline {
                return Ok(PatchEntry {
                    text: entry,
                    target: None,
                    options: PatchOptions::default(),
                });
            }
            let full = clean(&dir.join(&entry));
            if options.root_only && !full.starts_with(dir) {
                return Err(Error::OutsideRoot {
                    file: full,
                    root: dir.to_path_buf(),
                });
            }
            Ok(PatchEntry {
                text: read_text(fs, &full)?,
                target: None,
                options: PatchOptions::default(),
            })
        })
        .collect()
}

/// One `labels` entry.
#[derive(Clone, Debug)]
pub(crate) struct LabelSet {
    pub(crate) pairs: Vec<(String, String)>,
    pub(crate) fields: Vec<fieldspec::FieldSpec>,
    pub(crate) selectors: bool,
    pub(crate) templates: bool,
}

impl LabelSet {
    /// Where its labels go, as kustomize's label transformer configurator
    /// decides.
    pub(crate) fn specs(
        &self,
        config: &fieldspec::Config,
    ) -> Result<Vec<fieldspec::FieldSpec>, String> {
        let mut specs = self.fields.clone();
        labels::merge_specs(&mut specs, config.table("labels"))?;
        if self.selectors {
            labels::merge_specs(&mut specs, config.table("commonLabels"))?;
        } else {
            if self.templates {
                labels::merge_specs(&mut specs, config.table("templateLabels"))?;
            }
            labels::merge_specs(
                &mut specs,
                vec![fieldspec::FieldSpec::any("labels", "metadata/labels", true)],
            )?;
        }
        Ok(specs)
    }
}

/// The `labels` list: `pairs`, `includeSelectors`, `includeTemplates`,
/// `fields`.
pub(crate) fn label_list(value: &Value, file: &Path) -> Result<Vec<LabelSet>, Error> {
    let invalid = Error::invalid_in(file);
    let mut out = Vec::new();
    for entry in map_items(value, file, "labels")? {
        let mut set = LabelSet {
            pairs: Vec::new(),
            fields: Vec::new(),
            selectors: false,
            templates: false,
        };
        for (key, v) in entry {
            let flag = || match v {
                Value::Bool(b) => Ok(*b),
                Value::Null => Ok(false),
                _ => Err(invalid(format!("labels: '{key}' must be a boolean"))),
            };
            match key.as_str() {
                "pairs" => set.pairs = string_map(v, file, "labels.pairs")?,
                "includeSelectors" => set.selectors = flag()?,
                "includeTemplates" => set.templates = flag()?,
                "fields" => {
                    for item in list_items(v, file, "labels.fields")? {
                        set.fields.push(
                            fieldspec::parse_spec("labels", item)
                                .map_err(|e| invalid(format!("invalid Kustomization: {e}")))?,
                        );
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "invalid Kustomization: json: unknown field \"{other}\""
                    )));
                }
            }
        }
        out.push(set);
    }
    Ok(out)
}

/// The `replicas` list: `name` and integer `count`.
pub(crate) fn replica_list(value: &Value, file: &Path) -> Result<Vec<(String, i64)>, Error> {
    let invalid = |message: &str| Error::Invalid {
        path: file.to_path_buf(),
        message: message.to_string(),
    };
    let items = list_items(value, file, "replicas")?;
    items
        .iter()
        .map(|item| {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let count = match item.get("count") {
                Some(Value::Int(c)) => *c,
                None | Some(Value::Null) => 0,
                _ => return Err(invalid("replicas: 'count' must be an integer")),
            };
            Ok((name, count))
        })
        .collect()
}

/// The `images` list.
pub(crate) fn image_list(value: &Value, file: &Path) -> Result<Vec<images::Image>, Error> {
    let invalid = Error::invalid_in(file);
    let mut out = Vec::new();
    for fields in map_items(value, file, "images")? {
        let mut image = images::Image::default();
        for (key, v) in fields {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                _ => return Err(invalid(format!("images: '{key}' must be a string"))),
            };
            match key.as_str() {
                "name" => image.name = text,
                "newName" => image.new_name = text,
                "newTag" => image.new_tag = text,
                "digest" => image.digest = text,
                "tagSuffix" => image.tag_suffix = text,
                other => {
                    return Err(invalid(format!(
                        "invalid Kustomization: json: unknown field \"{other}\""
                    )));
                }
            }
        }
        out.push(image);
    }
    Ok(out)
}
