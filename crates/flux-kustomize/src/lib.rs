//! The kustomize build engine, written to produce exactly what
//! `kustomize build` (v5.8.1) produces: resource accumulation (files,
//! folders, nested kustomizations, components) with kustomize's id-conflict,
//! cycle and load-restriction checks; generators and their content hashes;
//! every built-in transformer in kustomize's order (strategic-merge and
//! JSON 6902 patches, namespace, prefix/suffix, labels, annotations,
//! replicas, images, replacements); and, at the end, hash suffixes,
//! name-reference updates, vars, and kustomize's output (legacy or fifo
//! order, its YAML via `flux-yaml`). The field specs and the merge schema
//! come from kustomize itself (generated tables). Plugins, Helm inflation
//! and custom merge schemas are refused with an error naming the field,
//! never built half-way. See `docs/kustomize.md`.
//!
//! ```no_run
//! use flux_kustomize::{DiskFs, Options, build};
//!
//! let resources = build(&DiskFs, std::path::Path::new("clusters/prod"), &Options::default()).unwrap();
//! print!("{}", resources.to_yaml().unwrap());
//! ```

mod annotations;
mod fieldspec;
pub mod flux;
mod fs;
mod generators;
mod images;
mod labels;
mod nameref;
mod namespace;
pub mod objects;
mod patch;
mod plugins;
mod replacements;
mod replicas;
mod resid;
mod schema;
mod smp;
pub mod substitute;
mod vars;

use std::path::{Path, PathBuf};

use flux_yaml::Value;
pub use fs::{DiskFs, FileSystem, MemFs, clean};
pub use patch::{Compiled as CompiledTarget, Target};
pub use resid::ResId;

/// The names kustomize looks for, in its order.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields of a kustomization this engine does not implement yet.
const NOT_YET_SUPPORTED: &[&str] = &[
    "openapi",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "validators",
];

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading '{}': {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS's message.
        message: String,
    },
    /// A file is not valid YAML, or a resource not a valid object.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A directory has no (or more than one) kustomization file.
    #[error("{0}")]
    Kustomization(String),
    /// Two resources with the same id.
    #[error("may not add resource with an already registered id: {0}")]
    IdConflict(String),
    /// A kustomization includes itself, directly or not.
    #[error("cycle detected: '{}' is already being built", .0.display())]
    Cycle(PathBuf),
    /// A file outside the kustomization's folder (load restrictions).
    #[error("security; file '{}' is not in or below '{}'", file.display(), root.display())]
    OutsideRoot {
        /// The file.
        file: PathBuf,
        /// The kustomization's folder.
        root: PathBuf,
    },
    /// A remote resource (URL), not allowed.
    #[error("remote resource '{0}' is not allowed (remote bases are disabled)")]
    Remote(String),
    /// A generator could not make its object.
    #[error("{0}")]
    Generator(String),
    /// A kustomization field this engine does not implement yet.
    #[error("{}: field '{field}' is not supported yet", path.display())]
    Unsupported {
        /// The kustomization file.
        path: PathBuf,
        /// The field.
        field: String,
    },
}

/// Build options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Files must be inside the kustomization's folder (kustomize's
    /// default `LoadRestrictionsRootOnly`).
    pub root_only: bool,
    /// When the folder has no kustomization file, build the one Flux's
    /// kustomize-controller generates: every `.yaml`/`.yml` file below it,
    /// and every sub-folder that has its own kustomization (not descended).
    pub generate_missing_kustomization: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            root_only: true,
            generate_missing_kustomization: false,
        }
    }
}

/// The `resources` of the kustomization Flux generates for `dir` (paths
/// relative to it, in walk order); every YAML file must hold Kubernetes
/// objects.
pub fn generated_resources(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    scan(fs, dir, dir, &mut out)?;
    Ok(out)
}

fn scan(fs: &dyn FileSystem, root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = fs.read_dir(dir).map_err(|e| Error::Read {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for path in entries {
        let relative = || format!("./{}", path.strip_prefix(root).unwrap_or(&path).display());
        if fs.is_dir(&path) {
            let has_kustomization = KUSTOMIZATION_FILE_NAMES
                .iter()
                .any(|n| fs.is_file(&path.join(n)));
            if has_kustomization {
                out.push(relative());
            } else {
                scan(fs, root, &path, out)?;
            }
            continue;
        }
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !yaml {
            continue;
        }
        load_file(fs, &path).map_err(|e| Error::Invalid {
            path: path.clone(),
            message: format!(
                "failed to decode Kubernetes YAML from {}: {e}",
                path.display()
            ),
        })?;
        out.push(relative());
    }
    Ok(())
}

/// One resource, its id and what kustomize remembers about its past (the
/// build annotations it keeps while building and removes from the output).
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The object.
    pub value: Value,
    /// Group, version, kind, namespace and name (current).
    pub id: ResId,
    /// Kind, name and effective namespace before each rename (oldest
    /// first): patch targets and name references match them.
    pub previous: Vec<PreviousId>,
    /// `namePrefix`es applied, innermost kustomization first.
    pub prefixes: Vec<String>,
    /// `nameSuffix`es applied, innermost kustomization first.
    pub suffixes: Vec<String>,
    /// Made by a generator: how it combines with others, and whether its
    /// name gets the content hash.
    pub generated: Option<generators::Generated>,
    /// Names of the `vars` whose value this object holds.
    pub ref_vars: Vec<String>,
}

/// An id a resource had before a rename.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousId {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Effective namespace (`default` for none, `_non_namespaceable_` for
    /// cluster-scoped kinds).
    pub namespace: String,
}

impl Resource {
    /// A resource as loaded, with no past.
    pub fn new(value: Value, id: ResId) -> Self {
        Self {
            value,
            id,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            generated: None,
            ref_vars: Vec::new(),
        }
    }

    /// Records the current id as a previous one (before a rename).
    pub fn store_previous_id(&mut self) {
        self.previous.push(PreviousId {
            kind: self.id.kind.clone(),
            name: self.id.name.clone(),
            namespace: self.id.effective_namespace(),
        });
    }

    /// The previous ids, with the current group and version.
    pub fn previous_ids(&self) -> Vec<ResId> {
        self.previous
            .iter()
            .map(|p| ResId {
                group: self.id.group.clone(),
                version: self.id.version.clone(),
                kind: p.kind.clone(),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
            })
            .collect()
    }

    /// The original id: the first previous one, or the current one.
    pub fn org_id(&self) -> ResId {
        self.previous_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.id.clone())
    }
}

/// How the output is ordered (`sortOptions` of the root kustomization).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// kustomize's default: kinds by priority lists, then ids.
    Legacy {
        /// Kinds first, in this order.
        first: Vec<String>,
        /// Kinds last, in this order.
        last: Vec<String>,
    },
    /// Accumulation order.
    Fifo,
}

impl Default for SortOrder {
    fn default() -> Self {
        let (first, last) = resid::default_orders();
        SortOrder::Legacy { first, last }
    }
}

/// The resources of a build, in accumulation order.
#[derive(Clone, Debug, Default)]
pub struct ResMap {
    /// The resources.
    pub resources: Vec<Resource>,
    /// The output order.
    pub sort: SortOrder,
    ids: std::collections::HashSet<ResId>,
    vars: Vec<vars::Var>,
    config: fieldspec::Config,
    build_metadata: Vec<String>,
}

impl ResMap {
    /// Rebuilds the id index after transformations that rename or remove.
    fn reindex(&mut self) {
        self.ids = self.resources.iter().map(|r| r.id.clone()).collect();
    }

    fn append(&mut self, resource: Resource) -> Result<(), Error> {
        if !self.ids.insert(resource.id.clone()) {
            return Err(Error::IdConflict(resource.id.to_string()));
        }
        self.resources.push(resource);
        Ok(())
    }

    /// What `kustomize build` prints: resources in kustomize's legacy order,
    /// `---` between them.
    pub fn to_yaml(&self) -> Result<String, flux_yaml::Error> {
        let mut sorted: Vec<&Resource> = self.resources.iter().collect();
        if let SortOrder::Legacy { first, last } = &self.sort {
            sorted.sort_by(|a, b| resid::legacy_order(&a.id, &b.id, first, last));
        }
        let docs = sorted
            .into_iter()
            .map(|r| Ok(flux_yaml::emit(&r.value.json_round_trip()?)))
            .collect::<Result<Vec<_>, flux_yaml::Error>>()?;
        Ok(docs.join("---\n"))
    }
}

/// Builds the kustomization in `dir`.
pub fn build(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<ResMap, Error> {
    let mut stack = Vec::new();
    let root = clean(dir);
    let mut map = build_dir(fs, &root, options, &mut stack, None, None)?;
    // Done once, at the end: hash suffixes, then every name reference to
    // a renamed object, then local-only objects leave.
    generators::add_hashes(&mut map.resources)?;
    nameref::fix_references(&mut map.resources, &map.config).map_err(|message| Error::Invalid {
        path: root.clone(),
        message,
    })?;
    vars::resolve(&mut map.resources, &map.vars, &map.config).map_err(|message| {
        Error::Invalid {
            path: root.clone(),
            message,
        }
    })?;
    map.resources.retain(|r| !is_local_config(&r.value));
    map.reindex();
    let managed_by = map.build_metadata.iter().any(|m| m == "managedByLabel");
    let keep_origin = map.build_metadata.iter().any(|m| m == "originAnnotations");
    for resource in &mut map.resources {
        if managed_by {
            let spec = fieldspec::FieldSpec::any("labels", "metadata/labels", true);
            let label = [(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string())];
            labels::apply(&mut resource.value, &label, &[spec]);
        }
        if !keep_origin {
            remove_annotation(&mut resource.value, ORIGIN_ANNOTATION);
        }
        drop_empty_annotations(&mut resource.value);
    }
    Ok(map)
}

/// The annotation `buildMetadata: [originAnnotations]` writes.
const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
/// The label `buildMetadata: [managedByLabel]` writes, and its value: the
/// kustomize release this engine is byte-compatible with.
const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
const MANAGED_BY: &str = "kustomize-v5.8.1";

/// Go's `filepath.Join` of two slash-separated paths.
fn go_join(base: &str, path: &str) -> String {
    if base.is_empty() {
        flux_go::path::clean(path)
    } else {
        flux_go::path::clean(&format!("{base}/{path}"))
    }
}

/// A string as a YAML scalar on one line (quoted when YAML needs it).
fn yaml_scalar(text: &str) -> String {
    flux_yaml::emit(&Value::String(text.to_string()))
        .trim_end_matches('\n')
        .to_string()
}

fn set_annotation(value: &mut Value, key: &str, text: &str) {
    let Value::Map(object) = value else { return };
    if !object.iter().any(|(k, _)| k == "metadata") {
        object.push(("metadata".to_string(), Value::Map(Vec::new())));
    }
    let Some((_, metadata)) = object.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    if matches!(metadata, Value::Null) {
        *metadata = Value::Map(Vec::new());
    }
    let Value::Map(metadata) = metadata else {
        return;
    };
    if !metadata.iter().any(|(k, _)| k == "annotations") {
        metadata.push(("annotations".to_string(), Value::Map(Vec::new())));
    }
    let Some((_, annotations)) = metadata.iter_mut().find(|(k, _)| k == "annotations") else {
        return;
    };
    if matches!(annotations, Value::Null) {
        *annotations = Value::Map(Vec::new());
    }
    if let Value::Map(entries) = annotations {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = Value::String(text.to_string()),
            None => entries.push((key.to_string(), Value::String(text.to_string()))),
        }
    }
}

fn remove_annotation(value: &mut Value, key: &str) {
    if let Value::Map(object) = value
        && let Some((_, Value::Map(metadata))) = object.iter_mut().find(|(k, _)| k == "metadata")
        && let Some((_, Value::Map(annotations))) =
            metadata.iter_mut().find(|(k, _)| k == "annotations")
    {
        annotations.retain(|(k, _)| k != key);
    }
}

/// Objects annotated `config.kubernetes.io/local-config: "true"` are for
/// the build only.
fn is_local_config(value: &Value) -> bool {
    value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("config.kubernetes.io/local-config"))
        .and_then(Value::as_str)
        == Some("true")
}

/// kustomize rewrites every resource's annotations at the end of a build
/// (removing its own bookkeeping ones), which drops an empty or null
/// `metadata.annotations`.
fn drop_empty_annotations(value: &mut Value) {
    let Value::Map(entries) = value else { return };
    let Some((_, Value::Map(metadata))) = entries.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    metadata.retain(|(k, v)| {
        k != "annotations" || !matches!(v, Value::Null) && *v != Value::Map(Vec::new())
    });
    // ...and writes every annotation value back as a string.
    if let Some((_, Value::Map(annotations))) =
        metadata.iter_mut().find(|(k, _)| k == "annotations")
    {
        for (_, v) in annotations.iter_mut() {
            let text = match v {
                Value::Bool(b) => b.to_string(),
                Value::Int(i) => i.to_string(),
                Value::Uint(u) => u.to_string(),
                Value::Float(f) => f.to_string(),
                _ => continue,
            };
            *v = Value::String(text);
        }
    }
}

/// `sortOptions`: `order` (`legacy` or `fifo`) and, for legacy,
/// `legacySortOptions.orderFirst`/`orderLast`.
fn sort_options(value: &Value, file: &Path) -> Result<SortOrder, Error> {
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

/// Builds the kustomization in `dir`. A component (`component` holds the
/// resources so far) adds to and transforms its parent's resources instead
/// of starting from none.
fn build_dir(
    fs: &dyn FileSystem,
    dir: &Path,
    options: &Options,
    stack: &mut Vec<PathBuf>,
    component: Option<ResMap>,
    origin: Option<String>,
) -> Result<ResMap, Error> {
    if stack.iter().any(|d| d == dir) {
        return Err(Error::Cycle(dir.to_path_buf()));
    }
    let file = match kustomization_file(fs, dir) {
        Err(Error::Kustomization(_))
            if stack.is_empty()
                && component.is_none()
                && options.generate_missing_kustomization
                && !KUSTOMIZATION_FILE_NAMES
                    .iter()
                    .any(|n| fs.is_file(&dir.join(n))) =>
        {
            let resources = generated_resources(fs, dir)?;
            let mut generated = MemFs::default();
            let text = format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{}",
                resources
                    .iter()
                    .map(|r| format!("- {r}\n"))
                    .collect::<String>()
            );
            generated.add(dir.join(KUSTOMIZATION_FILE_NAMES[0]), text);
            let overlay = Overlay {
                generated: &generated,
                disk: fs,
            };
            let relaxed = Options {
                generate_missing_kustomization: false,
                ..options.clone()
            };
            return build_dir(&overlay, dir, &relaxed, stack, None, origin);
        }
        other => other?,
    };
    let text = read_text(fs, &file)?;
    let docs = flux_yaml::parse(&text).map_err(|e| Error::Invalid {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let kustomization = match docs.into_iter().find(|d| *d != Value::Null) {
        Some(Value::Map(entries)) => entries,
        None => Vec::new(),
        Some(_) => {
            return Err(Error::Invalid {
                path: file,
                message: "a kustomization must be a mapping".to_string(),
            });
        }
    };
    let mut resources = Vec::new();
    let (mut kind, mut bases, mut components) = (String::new(), Vec::new(), Vec::new());
    let mut target_namespace = None;
    let mut common_annotations: Vec<(String, String)> = Vec::new();
    let mut common_labels: Vec<(String, String)> = Vec::new();
    let mut label_sets: Vec<LabelSet> = Vec::new();
    let mut sort = None;
    let mut patch_list: Vec<PatchEntry> = Vec::new();
    let mut json6902_list: Vec<PatchEntry> = Vec::new();
    let mut image_edits: Vec<images::Image> = Vec::new();
    let mut replica_counts: Vec<(String, i64)> = Vec::new();
    let mut legacy_patch_list: Vec<PatchEntry> = Vec::new();
    let (mut name_prefix, mut name_suffix) = (String::new(), String::new());
    let mut generator_args: Vec<generators::GeneratorArgs> = Vec::new();
    let mut secret_args: Vec<generators::GeneratorArgs> = Vec::new();
    let mut generator_options: Option<generators::GeneratorOptions> = None;
    let mut replacement_list: Vec<replacements::Replacement> = Vec::new();
    let mut var_list: Vec<vars::Var> = Vec::new();
    let mut configuration_files: Vec<String> = Vec::new();
    let mut crd_files: Vec<String> = Vec::new();
    let mut build_metadata: Vec<String> = Vec::new();
    let mut transformer_entries: Vec<String> = Vec::new();
    let mut generator_entries: Vec<String> = Vec::new();
    for (field, value) in &kustomization {
        match field.as_str() {
            "apiVersion" | "metadata" => {}
            "kind" => kind = value.as_str().unwrap_or_default().to_string(),
            "bases" => bases = string_list(value, &file, field)?,
            "components" => components = string_list(value, &file, field)?,
            "resources" => resources = string_list(value, &file, field)?,
            "commonAnnotations" => common_annotations = string_map(value, &file, field)?,
            "commonLabels" => common_labels = string_map(value, &file, field)?,
            "labels" => label_sets = label_list(value, &file)?,
            "images" => image_edits = image_list(value, &file)?,
            "replicas" => replica_counts = replica_list(value, &file)?,
            "sortOptions" => sort = Some(sort_options(value, &file)?),
            "patches" => patch_list = patch_entries(fs, value, dir, &file, options, false)?,
            "patchesStrategicMerge" => {
                legacy_patch_list = strategic_merge_entries(fs, value, dir, &file, options)?;
            }
            "configurations" => configuration_files = string_list(value, &file, field)?,
            "crds" => crd_files = string_list(value, &file, field)?,
            "transformers" => transformer_entries = string_list(value, &file, field)?,
            "generators" => generator_entries = string_list(value, &file, field)?,
            "buildMetadata" => {
                build_metadata = string_list(value, &file, field)?;
                if build_metadata.iter().any(|m| m == "transformerAnnotations") {
                    return Err(Error::Unsupported {
                        path: file.clone(),
                        field: "buildMetadata: transformerAnnotations".to_string(),
                    });
                }
            }
            "vars" => {
                var_list = list_items(value, &file, field)?
                    .iter()
                    .map(vars::Var::parse)
                    .collect::<Result<_, String>>()
                    .map_err(|message| Error::Invalid {
                        path: file.clone(),
                        message,
                    })?;
            }
            "replacements" => {
                replacement_list = replacement_entries(fs, value, dir, &file, options)?;
            }
            "namePrefix" => name_prefix = optional_string(value, &file, field)?,
            "nameSuffix" => name_suffix = optional_string(value, &file, field)?,
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
                    secret_args = parsed;
                } else {
                    generator_args = parsed;
                }
            }
            "generatorOptions" => {
                generator_options = Some(generators::GeneratorOptions::parse(value).map_err(
                    |message| Error::Invalid {
                        path: file.clone(),
                        message,
                    },
                )?);
            }
            "patchesJson6902" => {
                json6902_list = patch_entries(fs, value, dir, &file, options, true)?;
            }
            "namespace" => match value {
                Value::String(ns) if !ns.is_empty() => target_namespace = Some(ns.clone()),
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
    let is_component = kind == "Component";
    match (component.is_some(), is_component) {
        (true, false) => {
            return Err(Error::Kustomization(format!(
                "expected kind 'Component' for path '{}' but got '{kind}'",
                dir.display()
            )));
        }
        (false, true) => {
            return Err(Error::Kustomization(format!(
                "expected kind != 'Component' for path '{}'",
                dir.display()
            )));
        }
        _ => {}
    }
    // `bases` is the deprecated spelling of more `resources`.
    resources.extend(bases);
    let is_root = stack.is_empty();
    // Only the root's buildMetadata counts; any of it turns on origin
    // tracking (removed again at the end unless asked for).
    let origin = if is_root {
        (!build_metadata.is_empty()).then(String::new)
    } else {
        origin
    };
    stack.push(dir.to_path_buf());
    let mut map = component.unwrap_or_default();
    for entry in resources {
        if is_remote(&entry) {
            return Err(Error::Remote(entry));
        }
        let path = clean(&dir.join(&entry));
        if fs.is_dir(&path) {
            let child_origin = origin.as_deref().map(|o| go_join(o, &entry));
            let child = build_dir(fs, &path, options, stack, None, child_origin)?;
            for resource in child.resources {
                map.append(resource)?;
            }
            map.config
                .merge(&child.config)
                .map_err(|message| Error::Invalid {
                    path: file.clone(),
                    message,
                })?;
            for var in child.vars {
                vars::add(&mut map.vars, var).map_err(|message| Error::Invalid {
                    path: file.clone(),
                    message,
                })?;
            }
        } else {
            if options.root_only && !path.starts_with(dir) {
                return Err(Error::OutsideRoot {
                    file: path,
                    root: dir.to_path_buf(),
                });
            }
            for mut resource in load_file(fs, &path)? {
                if let Some(o) = &origin {
                    let text = format!("path: {}\n", yaml_scalar(&go_join(o, &entry)));
                    set_annotation(&mut resource.value, ORIGIN_ANNOTATION, &text);
                }
                map.append(resource)?;
            }
        }
    }
    // This level's field-spec additions join those of its resources.
    for (paths, crds) in [(&configuration_files, false), (&crd_files, true)] {
        for entry in paths {
            let path = resolve_local(dir, entry, options)?;
            let text = read_text(fs, &path)?;
            let parsed = if crds {
                fieldspec::parse_crd_definitions(&text)
            } else {
                fieldspec::parse_configuration(&text)
            };
            let specs = parsed.map_err(|message| Error::Invalid {
                path: path.clone(),
                message,
            })?;
            map.config.add(specs).map_err(|message| Error::Invalid {
                path: path.clone(),
                message,
            })?;
        }
    }
    // Generators add to (or merge into) what the resources gave.
    for args in generator_args.iter().chain(&secret_args) {
        let mut resource =
            generators::generate(fs, dir, options, args, generator_options.as_ref())?;
        if let Some(o) = &origin {
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = format!(
                "configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {}\n",
                yaml_scalar(&go_join(o, &file_name)),
                args.generator_kind()
            );
            set_annotation(&mut resource.value, ORIGIN_ANNOTATION, &text);
        }
        generators::absorb(&mut map.resources, resource)?;
    }
    for config in plugin_configs(fs, dir, &file, options, stack, &generator_entries)? {
        let plugin = plugins::parse(&config).map_err(|message| Error::Invalid {
            path: file.clone(),
            message,
        })?;
        let plugins::Plugin::Generator(args) = plugin else {
            return Err(Error::Invalid {
                path: file.clone(),
                message:
                    "a 'generators' entry must configure a ConfigMapGenerator or SecretGenerator"
                        .to_string(),
            });
        };
        let resource = generators::generate(fs, dir, options, &args, None)?;
        generators::absorb(&mut map.resources, resource)?;
    }
    map.reindex();
    for entry in components {
        if is_remote(&entry) {
            return Err(Error::Remote(entry));
        }
        let path = clean(&dir.join(&entry));
        let child_origin = origin.as_deref().map(|o| go_join(o, &entry));
        map = build_dir(fs, &path, options, stack, Some(map), child_origin)?;
    }
    stack.pop();
    // Only the root kustomization's sortOptions and buildMetadata count.
    if is_root && let Some(sort) = sort {
        map.sort = sort;
    }
    if is_root {
        map.build_metadata = build_metadata;
    }
    // kustomize's transformer order: patches, namespace, labels,
    // annotations, JSON 6902 patches, replicas, images.
    for patch in legacy_patch_list.iter().chain(&patch_list) {
        apply_patch(&mut map.resources, patch, &file)?;
    }
    map.reindex();
    if let Some(ns) = target_namespace {
        let namespace_specs = map.config.table("namespace");
        let mut transformed = ResMap {
            sort: map.sort.clone(),
            vars: std::mem::take(&mut map.vars),
            config: std::mem::take(&mut map.config),
            ..ResMap::default()
        };
        for mut resource in map.resources {
            resource.store_previous_id();
            let settings = namespace::Settings {
                specs: &namespace_specs,
                unset_only: false,
                subjects: namespace::Subjects::DefaultOnly,
            };
            namespace::apply(&mut resource.value, &ns, settings).map_err(|message| {
                Error::Invalid {
                    path: file.clone(),
                    message,
                }
            })?;
            resource.id = ResId::of(&resource.value).map_err(|message| Error::Invalid {
                path: file.clone(),
                message,
            })?;
            transformed.append(resource)?;
        }
        map = transformed;
    }
    if !name_prefix.is_empty() || !name_suffix.is_empty() {
        if !name_prefix.is_empty() {
            let specs = map.config.table("namePrefix");
            nameref::add_affix(
                &mut map.resources,
                nameref::Affix::Prefix(&name_prefix),
                &specs,
            );
        }
        if !name_suffix.is_empty() {
            let specs = map.config.table("nameSuffix");
            nameref::add_affix(
                &mut map.resources,
                nameref::Affix::Suffix(&name_suffix),
                &specs,
            );
        }
        map.reindex();
    }
    for set in &label_sets {
        let specs = set.specs(&map.config).map_err(|message| Error::Invalid {
            path: file.clone(),
            message,
        })?;
        for resource in &mut map.resources {
            labels::apply(&mut resource.value, &set.pairs, &specs);
        }
    }
    if !common_labels.is_empty() {
        let specs = map.config.table("commonLabels");
        for resource in &mut map.resources {
            labels::apply(&mut resource.value, &common_labels, &specs);
        }
    }
    if !common_annotations.is_empty() {
        let specs = map.config.table("commonAnnotations");
        for resource in &mut map.resources {
            annotations::apply(&mut resource.value, &common_annotations, &specs);
        }
    }
    for patch in &json6902_list {
        apply_patch(&mut map.resources, patch, &file)?;
    }
    map.reindex();
    let replica_specs = map.config.table("replicas");
    for (name, count) in &replica_counts {
        replicas::apply(&mut map.resources, name, *count, &replica_specs).map_err(|message| {
            Error::Invalid {
                path: file.clone(),
                message,
            }
        })?;
    }
    if !image_edits.is_empty() {
        let specs = map.config.table("images");
        let compiled = images::compile(&image_edits);
        for resource in &mut map.resources {
            images::apply(&mut resource.value, &compiled, &specs);
        }
    }
    if !replacement_list.is_empty() {
        replacements::apply(&mut map.resources, &replacement_list).map_err(|message| {
            Error::Invalid {
                path: file.clone(),
                message,
            }
        })?;
        map.reindex();
    }
    for config in plugin_configs(fs, dir, &file, options, stack, &transformer_entries)? {
        let plugin = plugins::parse(&config).map_err(|message| Error::Invalid {
            path: file.clone(),
            message,
        })?;
        run_transformer(fs, dir, &file, options, &mut map, plugin)?;
    }
    vars::merge(&mut map.resources, &mut map.vars, &var_list).map_err(|message| {
        Error::Invalid {
            path: file.clone(),
            message,
        }
    })?;
    Ok(map)
}

/// A file system with a few generated files in front of another.
struct Overlay<'a> {
    generated: &'a MemFs,
    disk: &'a dyn FileSystem,
}

impl FileSystem for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if self.generated.is_file(path) {
            return self.generated.read(path);
        }
        self.disk.read(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.disk.is_dir(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        self.generated.is_file(path) || self.disk.is_file(path)
    }
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        self.disk.read_dir(path)
    }
}

/// The kustomization file of `dir`; kustomize refuses none or several.
fn kustomization_file(fs: &dyn FileSystem, dir: &Path) -> Result<PathBuf, Error> {
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

/// A file of a kustomization (`relative` to its folder), under the load
/// restrictions.
fn resolve_local(dir: &Path, relative: &str, options: &Options) -> Result<PathBuf, Error> {
    if is_remote(relative) {
        return Err(Error::Remote(relative.to_string()));
    }
    let full = clean(&dir.join(relative));
    if options.root_only && !full.starts_with(dir) {
        return Err(Error::OutsideRoot {
            file: full,
            root: dir.to_path_buf(),
        });
    }
    Ok(full)
}

fn read_bytes(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>, Error> {
    fs.read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A string field that may be null.
fn optional_string(value: &Value, file: &Path, field: &str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        _ => Err(Error::Invalid {
            path: file.to_path_buf(),
            message: format!("'{field}' must be a string"),
        }),
    }
}

fn read_text(fs: &dyn FileSystem, path: &Path) -> Result<String, Error> {
    let bytes = fs.read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid {
        path: path.to_path_buf(),
        message: "not UTF-8 text".to_string(),
    })
}

fn string_list(value: &Value, file: &Path, field: &str) -> Result<Vec<String>, Error> {
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
fn string_map(value: &Value, file: &Path, field: &str) -> Result<Vec<(String, String)>, Error> {
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
fn list_items<'a>(value: &'a Value, file: &Path, field: &str) -> Result<&'a [Value], Error> {
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
fn map_items<'a>(
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
fn parse_patch_options(value: &Value) -> Result<PatchOptions, String> {
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
struct PatchOptions {
    allow_name_change: bool,
    allow_kind_change: bool,
}

/// One patch: its text, target and options.
#[derive(Clone, Debug)]
struct PatchEntry {
    text: String,
    target: Option<patch::Target>,
    options: PatchOptions,
}

/// The `patches` (or legacy `patchesJson6902`) list: `patch` or `path`,
/// `target`.
fn patch_entries(
    fs: &dyn FileSystem,
    value: &Value,
    dir: &Path,
    file: &Path,
    options: &Options,
    legacy: bool,
) -> Result<Vec<PatchEntry>, Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
    let mut out = Vec::new();
    for fields in map_items(value, file, "patches")? {
        let (mut text, mut path, mut target) = (None, None, None);
        let mut patch_options = PatchOptions::default();
        for (key, v) in fields {
            match key.as_str() {
                "patch" => text = v.as_str().map(|s| s.trim().to_string()),
                "path" => path = v.as_str().map(str::to_string),
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

/// The plugin configurations of a `transformers` or `generators` list:
/// inline YAML, files, or folders (kustomizations whose output is plugin
/// configurations).
fn plugin_configs(
    fs: &dyn FileSystem,
    dir: &Path,
    file: &Path,
    options: &Options,
    stack: &mut Vec<PathBuf>,
    entries: &[String],
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for entry in entries {
        let inline = flux_yaml::parse(entry)
            .ok()
            .is_some_and(|docs| docs.iter().any(|d| matches!(d, Value::Map(_))));
        if inline {
            let docs = flux_yaml::parse(entry).map_err(|e| Error::Invalid {
                path: file.to_path_buf(),
                message: e.to_string(),
            })?;
            out.extend(docs.into_iter().filter(|d| matches!(d, Value::Map(_))));
            continue;
        }
        let path = resolve_local(dir, entry, options)?;
        if fs.is_dir(&path) {
            stack.push(dir.to_path_buf());
            let built = build_dir(fs, &path, options, stack, None, None);
            stack.pop();
            out.extend(built?.resources.into_iter().map(|r| r.value));
        } else {
            out.extend(load_file(fs, &path)?.into_iter().map(|r| r.value));
        }
    }
    Ok(out)
}

/// Runs one builtin transformer plugin over the resources.
fn run_transformer(
    fs: &dyn FileSystem,
    dir: &Path,
    file: &Path,
    options: &Options,
    map: &mut ResMap,
    plugin: plugins::Plugin,
) -> Result<(), Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
    use plugins::Plugin;
    match plugin {
        Plugin::Labels(pairs, specs) => {
            for resource in &mut map.resources {
                labels::apply(&mut resource.value, &pairs, &specs);
            }
        }
        Plugin::Annotations(pairs, specs) => {
            for resource in &mut map.resources {
                annotations::apply(&mut resource.value, &pairs, &specs);
            }
        }
        Plugin::Namespace {
            namespace: ns,
            specs,
            unset_only,
            subjects,
        } => {
            if !ns.is_empty() {
                for resource in &mut map.resources {
                    resource.store_previous_id();
                    let settings = namespace::Settings {
                        specs: &specs,
                        unset_only,
                        subjects,
                    };
                    namespace::apply(&mut resource.value, &ns, settings).map_err(invalid)?;
                    resource.id = ResId::of(&resource.value).map_err(invalid)?;
                }
            }
        }
        Plugin::Prefix(prefix, specs) => {
            nameref::add_affix(&mut map.resources, nameref::Affix::Prefix(&prefix), &specs);
        }
        Plugin::Suffix(suffix, specs) => {
            nameref::add_affix(&mut map.resources, nameref::Affix::Suffix(&suffix), &specs);
        }
        Plugin::Image(image, specs) => {
            let compiled = images::compile(&[image]);
            for resource in &mut map.resources {
                images::apply(&mut resource.value, &compiled, &specs);
            }
        }
        Plugin::Replicas(name, count, specs) => {
            replicas::apply(&mut map.resources, &name, count, &specs).map_err(invalid)?;
        }
        Plugin::Patches {
            texts,
            files,
            target,
            options: patch_options,
        } => {
            let target = target
                .map(|t| patch::Target::parse(&t))
                .transpose()
                .map_err(invalid)?;
            let patch_options = patch_options
                .map(|o| parse_patch_options(&o))
                .transpose()
                .map_err(invalid)?
                .unwrap_or_default();
            let mut all = texts;
            for entry in files {
                let path = resolve_local(dir, &entry, options)?;
                all.push(read_text(fs, &path)?);
            }
            for text in all {
                let entry = PatchEntry {
                    text,
                    target: target.clone(),
                    options: patch_options,
                };
                apply_patch(&mut map.resources, &entry, file)?;
            }
        }
        Plugin::Replacements(mut inline, files) => {
            for entry in files {
                let path = resolve_local(dir, &entry, options)?;
                let text = read_text(fs, &path)?;
                inline.extend(replacements::parse_file(&text).map_err(|message| {
                    Error::Invalid {
                        path: path.clone(),
                        message,
                    }
                })?);
            }
            replacements::apply(&mut map.resources, &inline).map_err(invalid)?;
        }
        Plugin::Generator(_) => {
            return Err(invalid(
                "a generator configured in 'transformers'".to_string(),
            ));
        }
    }
    map.reindex();
    Ok(())
}

/// The `replacements` list: inline replacements, or `path`s of files
/// holding one or a list.
fn replacement_entries(
    fs: &dyn FileSystem,
    value: &Value,
    dir: &Path,
    file: &Path,
    options: &Options,
) -> Result<Vec<replacements::Replacement>, Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
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
fn strategic_merge_entries(
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

/// Applies one patch to the resources its target selects.
fn apply_patch(
    resources: &mut Vec<Resource>,
    patch: &PatchEntry,
    file: &Path,
) -> Result<(), Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
    let Some(ops) = patch::parse_json6902(&patch.text) else {
        return apply_merge_patch(resources, patch, file);
    };
    let ops = ops.map_err(invalid)?;
    let target = patch
        .target
        .as_ref()
        .ok_or_else(|| invalid("must specify a target for JSON patch".to_string()))?;
    for index in target.select(resources).map_err(invalid)? {
        let resource = &mut resources[index];
        resource.store_previous_id();
        patch::apply_json6902(&mut resource.value, &ops).map_err(invalid)?;
        resource.id = ResId::of(&resource.value).map_err(invalid)?;
    }
    Ok(())
}

/// A strategic-merge patch: to the resources its target selects, or
/// without target to the resource its own kind and name identify. A
/// resource the patch deletes (`$patch: delete`) leaves the build.
fn apply_merge_patch(
    resources: &mut Vec<Resource>,
    entry: &PatchEntry,
    file: &Path,
) -> Result<(), Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
    let patches = patch::merge_patches(&entry.text).map_err(invalid)?;
    let mut selected = Vec::new();
    if let Some(target) = &entry.target {
        if patches.len() > 1 {
            return Err(invalid(
                "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field".to_string(),
            ));
        }
        let Some(patch) = patches.first() else {
            return Ok(());
        };
        for index in target.select(resources).map_err(invalid)? {
            selected.push((index, patch));
        }
    } else {
        for patch in &patches {
            let id = ResId::of(patch).map_err(invalid)?;
            let index = resources
                .iter()
                .position(|r| {
                    r.previous_ids()
                        .iter()
                        .chain(std::iter::once(&r.id))
                        .any(|other| other.equals(&id))
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "no resource matches strategic merge patch \"{id}\""
                    ))
                })?;
            selected.push((index, patch));
        }
    }
    let mut deleted = Vec::new();
    for (index, patch) in selected {
        let resource = &mut resources[index];
        if entry.options.allow_name_change || entry.options.allow_kind_change {
            resource.store_previous_id();
        }
        match merge_keeping_identity(&resource.value, patch, entry.options).map_err(invalid)? {
            Some(value) => {
                resource.value = value;
                resource.id = ResId::of(&resource.value).map_err(invalid)?;
            }
            None => deleted.push(index),
        }
    }
    deleted.sort_unstable();
    deleted.dedup();
    for index in deleted.into_iter().rev() {
        resources.remove(index);
    }
    Ok(())
}

/// Merges `patch` into `doc`, keeping the target's kind, name and namespace
/// unless the patch's options allow a change (a patch names its own
/// target; that does not rename it).
fn merge_keeping_identity(
    doc: &Value,
    patch: &Value,
    options: PatchOptions,
) -> Result<Option<Value>, String> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = text(doc.get("kind"));
    let metadata = doc.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")));
    let namespace = text(metadata.and_then(|m| m.get("namespace")));
    let Some(mut merged) = smp::merge(doc, patch)? else {
        return Ok(None);
    };
    if matches!(&merged, Value::Map(m) if m.is_empty()) {
        return Ok(None);
    }
    if !options.allow_kind_change {
        set_or_remove(&mut merged, "kind", Some(Value::String(kind)));
    }
    if let Value::Map(entries) = &mut merged {
        if !entries.iter().any(|(k, _)| k == "metadata") {
            entries.push(("metadata".to_string(), Value::Map(Vec::new())));
        }
        if let Some((_, metadata)) = entries.iter_mut().find(|(k, _)| k == "metadata") {
            if !matches!(metadata, Value::Map(_)) {
                *metadata = Value::Map(Vec::new());
            }
            if !options.allow_name_change {
                set_or_remove(metadata, "name", Some(Value::String(name)));
            }
            let namespace = (!namespace.is_empty()).then_some(Value::String(namespace));
            set_or_remove(metadata, "namespace", namespace);
        }
    }
    Ok(Some(merged))
}

fn set_or_remove(node: &mut Value, key: &str, value: Option<Value>) {
    let Value::Map(entries) = node else { return };
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

/// One `labels` entry.
#[derive(Clone, Debug)]
struct LabelSet {
    pairs: Vec<(String, String)>,
    fields: Vec<fieldspec::FieldSpec>,
    selectors: bool,
    templates: bool,
}

impl LabelSet {
    /// Where its labels go, as kustomize's label transformer configurator
    /// decides.
    fn specs(&self, config: &fieldspec::Config) -> Result<Vec<fieldspec::FieldSpec>, String> {
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
fn label_list(value: &Value, file: &Path) -> Result<Vec<LabelSet>, Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
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
fn replica_list(value: &Value, file: &Path) -> Result<Vec<(String, i64)>, Error> {
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
fn image_list(value: &Value, file: &Path) -> Result<Vec<images::Image>, Error> {
    let invalid = |message: String| Error::Invalid {
        path: file.to_path_buf(),
        message,
    };
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

fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}

/// The resources of one file: every non-empty document; `*List` kinds with
/// `items` are expanded.
fn load_file(fs: &dyn FileSystem, path: &Path) -> Result<Vec<Resource>, Error> {
    let text = read_text(fs, path)?;
    let invalid = |message: String| Error::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let docs = flux_yaml::parse(&text).map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::new();
    for doc in docs {
        if doc == Value::Null {
            continue;
        }
        let is_list = doc
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && matches!(doc.get("items"), Some(Value::Seq(_)));
        let objects = match (is_list, doc) {
            (true, Value::Map(entries)) => entries
                .into_iter()
                .find(|(k, _)| k == "items")
                .map(|(_, v)| match v {
                    Value::Seq(items) => items,
                    _ => Vec::new(),
                })
                .unwrap_or_default(),
            (_, doc) => vec![doc],
        };
        for object in objects {
            let id = ResId::of(&object).map_err(invalid)?;
            out.push(Resource::new(object, id));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str) -> String {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
    }

    #[test]
    fn in_memory_trees_build_and_fail_like_kustomize() {
        let mut fs = MemFs::default();
        fs.add(
            "/repo/app/kustomization.yaml",
            "resources:\n- ../base\n- b.yaml\n",
        );
        fs.add("/repo/app/b.yaml", cm("b"));
        fs.add("/repo/base/kustomization.yaml", "resources:\n- a.yaml\n");
        fs.add("/repo/base/a.yaml", cm("a"));
        let map = build(&fs, Path::new("/repo/app"), &Options::default()).unwrap();
        let names: Vec<&str> = map.resources.iter().map(|r| r.id.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            map.to_yaml().unwrap(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
        );

        fs.add("/repo/app/b.yaml", cm("a"));
        let err = build(&fs, Path::new("/repo/app"), &Options::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "may not add resource with an already registered id: ConfigMap.v1.[noGrp]/a.[noNs]"
        );

        fs.add(
            "/repo/app/kustomization.yaml",
            "resources:\n- ../base/a.yaml\n",
        );
        let err = build(&fs, Path::new("/repo/app"), &Options::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "security; file '/repo/base/a.yaml' is not in or below '/repo/app'"
        );
        let relaxed = Options {
            root_only: false,
            ..Options::default()
        };
        assert_eq!(
            build(&fs, Path::new("/repo/app"), &relaxed)
                .unwrap()
                .resources
                .len(),
            1
        );

        fs.add("/repo/app/kustomization.yaml", "openapi: {}\n");
        let err = build(&fs, Path::new("/repo/app"), &Options::default()).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("field 'openapi' is not supported yet")
        );
    }

    #[test]
    fn flux_generates_a_kustomization_for_plain_folders() {
        let mut fs = MemFs::default();
        fs.add("/repo/apps/z.yaml", cm("z"));
        fs.add("/repo/apps/sub/b.yml", cm("b"));
        fs.add("/repo/apps/sub/notes.txt", "not yaml");
        fs.add("/repo/apps/kz/kustomization.yaml", "resources:\n- c.yaml\n");
        fs.add("/repo/apps/kz/c.yaml", cm("c"));
        fs.add("/repo/apps/kz/ignored.yaml", "not: a resource\n");
        assert_eq!(
            generated_resources(&fs, Path::new("/repo/apps")).unwrap(),
            ["./kz", "./sub/b.yml", "./z.yaml"]
        );
        let flux = Options {
            generate_missing_kustomization: true,
            ..Options::default()
        };
        let map = build(&fs, Path::new("/repo/apps"), &flux).unwrap();
        let names: Vec<&str> = map.resources.iter().map(|r| r.id.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "z"]);
        // Plain kustomize refuses the folder.
        let err = build(&fs, Path::new("/repo/apps"), &Options::default()).unwrap_err();
        assert!(matches!(err, Error::Kustomization(_)), "{err}");
        // A YAML file that is not a Kubernetes object fails the build.
        fs.add("/repo/apps/values.yaml", "replicas: 3\n");
        let err = build(&fs, Path::new("/repo/apps"), &flux).unwrap_err();
        assert!(
            err.to_string()
                .contains("failed to decode Kubernetes YAML from /repo/apps/values.yaml"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_fields_are_named() {
        let mut fs = MemFs::default();
        fs.add("/repo/app/kustomization.yaml", "openapi: {}\n");
        let err = build(&fs, Path::new("/repo/app"), &Options::default()).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("field 'openapi' is not supported yet")
        );
    }
}
