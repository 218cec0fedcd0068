//! The build: a kustomization's resources accumulated (resources,
//! configurations, generators, components), then transformed in
//! kustomize's order, then finished once at the root (hash suffixes, name
//! references, vars, build metadata).

use std::path::{Path, PathBuf};

use flux_yaml::Value;

use crate::error::Error;
use crate::fs::{FileSystem, MemFs, clean};
use crate::kustomization::{
    KUSTOMIZATION_FILE_NAMES, Kustomization, PatchEntry, PatchOptions, kustomization_file,
    parse_patch_options,
};
use crate::load::{
    Overlay, generated_resources, go_join, is_remote, load_file, read_text, resolve_local,
    yaml_scalar,
};
use crate::resid::ResId;
use crate::resource::{
    ORIGIN_ANNOTATION, ResMap, Resource, drop_empty_annotations, is_local_config,
    remove_annotation, set_annotation,
};
use crate::{
    annotations, fieldspec, generators, images, labels, nameref, namespace, patch, plugins,
    replacements, replicas, smp, vars,
};

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
    map.reindex_checked()?;
    let managed_by = map.build_metadata.iter().any(|m| m == "managedByLabel");
    let keep_origin = map.build_metadata.iter().any(|m| m == "originAnnotations");
    for resource in &mut map.resources {
        if managed_by {
            let spec = fieldspec::FieldSpec::any("labels", "metadata/labels", true);
            let label = [(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string())];
            labels::apply(resource, &label, &[spec]);
        }
        if !keep_origin {
            remove_annotation(&mut resource.value, ORIGIN_ANNOTATION);
        }
        drop_empty_annotations(resource);
        resource.through_text();
    }
    Ok(map)
}

/// The label `buildMetadata: [managedByLabel]` writes, and its value: the
/// kustomize release this engine is byte-compatible with.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub(crate) const MANAGED_BY: &str = "kustomize-v5.8.1";

/// Builds the kustomization in `dir`. A component (`component` holds the
/// resources so far) adds to and transforms its parent's resources instead
/// of starting from none.
pub(crate) fn build_dir(
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
    let k = Kustomization::read(fs, dir, file, options)?;
    // A Component is built as a kustomization when it is the root (as
    // `kustomize build` does), never as another kustomization's resource.
    let is_root = stack.is_empty();
    match (component.is_some() || is_root, k.kind == "Component") {
        (true, false) if component.is_some() => {
            return Err(Error::Kustomization(format!(
                "expected kind 'Component' for path '{}' but got '{}'",
                dir.display(),
                k.kind
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
    // Only the root's buildMetadata counts; any of it turns on origin
    // tracking (removed again at the end unless asked for).
    let origin = if is_root {
        (!k.build_metadata.is_empty()).then(String::new)
    } else {
        origin
    };
    stack.push(dir.to_path_buf());
    let map = component.unwrap_or_default();
    let mut map = accumulate(fs, dir, options, stack, &k, origin.as_deref(), map)?;
    for entry in &k.components {
        if is_remote(entry) {
            return Err(Error::Remote(entry.clone()));
        }
        let path = clean(&dir.join(entry));
        let child_origin = origin.as_deref().map(|o| go_join(o, entry));
        map = build_dir(fs, &path, options, stack, Some(map), child_origin)?;
    }
    stack.pop();
    // Only the root kustomization's sortOptions and buildMetadata count.
    if is_root {
        if let Some(sort) = &k.sort {
            map.sort = sort.clone();
        }
        map.build_metadata = k.build_metadata.clone();
    }
    transform(fs, dir, options, stack, &k, map)
}

/// Accumulates what a kustomization adds to `map`: its resources (files
/// and kustomizations), its field-spec configurations, and what its
/// generators make.
fn accumulate(
    fs: &dyn FileSystem,
    dir: &Path,
    options: &Options,
    stack: &mut Vec<PathBuf>,
    k: &Kustomization,
    origin: Option<&str>,
    mut map: ResMap,
) -> Result<ResMap, Error> {
    for entry in &k.resources {
        if is_remote(entry) {
            return Err(Error::Remote(entry.clone()));
        }
        let path = clean(&dir.join(entry));
        if fs.is_dir(&path) {
            let child_origin = origin.map(|o| go_join(o, entry));
            let child = build_dir(fs, &path, options, stack, None, child_origin)?;
            for resource in child.resources {
                map.append(resource)?;
            }
            map.config
                .merge(&child.config)
                .map_err(|message| Error::Invalid {
                    path: k.file.clone(),
                    message,
                })?;
            for var in child.vars {
                vars::add(&mut map.vars, var).map_err(|message| Error::Invalid {
                    path: k.file.clone(),
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
                if let Some(o) = origin {
                    let text = format!("path: {}\n", yaml_scalar(&go_join(o, entry)));
                    set_annotation(&mut resource.value, ORIGIN_ANNOTATION, &text);
                }
                map.append(resource)?;
            }
        }
    }
    // This level's field-spec additions join those of its resources.
    for (paths, crds) in [(&k.configurations, false), (&k.crds, true)] {
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
    for args in k.config_map_generators.iter().chain(&k.secret_generators) {
        let mut resource =
            generators::generate(fs, dir, options, args, k.generator_options.as_ref())?;
        if let Some(o) = origin {
            let file_name = k
                .file
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
    for config in plugin_configs(fs, dir, &k.file, options, stack, &k.generators)? {
        let plugin = plugins::parse(&config).map_err(|message| Error::Invalid {
            path: k.file.clone(),
            message,
        })?;
        let plugins::Plugin::Generator(args) = plugin else {
            return Err(Error::Invalid {
                path: k.file.clone(),
                message:
                    "a 'generators' entry must configure a ConfigMapGenerator or SecretGenerator"
                        .to_string(),
            });
        };
        let resource = generators::generate(fs, dir, options, &args, None)?;
        generators::absorb(&mut map.resources, resource)?;
    }
    map.reindex();
    Ok(map)
}

/// Runs a kustomization's transformers over `map`, in kustomize's order.
fn transform(
    fs: &dyn FileSystem,
    dir: &Path,
    options: &Options,
    stack: &mut Vec<PathBuf>,
    k: &Kustomization,
    mut map: ResMap,
) -> Result<ResMap, Error> {
    // kustomize's transformer order: patches, namespace, labels,
    // annotations, JSON 6902 patches, replicas, images.
    for patch in k.strategic_merge_patches.iter().chain(&k.patches) {
        apply_patch(&mut map.resources, patch, &k.file)?;
    }
    map.reindex();
    if let Some(ns) = &k.namespace {
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
            namespace::apply(&mut resource.value, ns, settings).map_err(|message| {
                Error::Invalid {
                    path: k.file.clone(),
                    message,
                }
            })?;
            resource.id = ResId::of(&resource.value).map_err(|e| Error::Invalid {
                path: k.file.clone(),
                message: e.0,
            })?;
            transformed.append(resource)?;
        }
        map = transformed;
    }
    if !k.name_prefix.is_empty() || !k.name_suffix.is_empty() {
        if !k.name_prefix.is_empty() {
            let specs = map.config.table("namePrefix");
            nameref::add_affix(
                &mut map.resources,
                nameref::Affix::Prefix(&k.name_prefix),
                &specs,
            );
        }
        if !k.name_suffix.is_empty() {
            let specs = map.config.table("nameSuffix");
            nameref::add_affix(
                &mut map.resources,
                nameref::Affix::Suffix(&k.name_suffix),
                &specs,
            );
        }
        map.reindex();
    }
    for set in &k.label_sets {
        if set.pairs.is_empty() {
            continue;
        }
        let specs = set.specs(&map.config).map_err(|message| Error::Invalid {
            path: k.file.clone(),
            message,
        })?;
        for resource in &mut map.resources {
            labels::apply(resource, &set.pairs, &specs);
        }
    }
    if !k.common_labels.is_empty() {
        let specs = map.config.table("commonLabels");
        for resource in &mut map.resources {
            labels::apply(resource, &k.common_labels, &specs);
        }
    }
    if !k.common_annotations.is_empty() {
        let specs = map.config.table("commonAnnotations");
        for resource in &mut map.resources {
            annotations::apply(resource, &k.common_annotations, &specs);
        }
    }
    for patch in &k.json6902_patches {
        apply_patch(&mut map.resources, patch, &k.file)?;
    }
    map.reindex();
    let replica_specs = map.config.table("replicas");
    for (name, count) in &k.replicas {
        replicas::apply(&mut map.resources, name, *count, &replica_specs).map_err(|message| {
            Error::Invalid {
                path: k.file.clone(),
                message,
            }
        })?;
    }
    if !k.images.is_empty() {
        let specs = map.config.table("images");
        let compiled = images::compile(&k.images);
        for resource in &mut map.resources {
            images::apply(&mut resource.value, &compiled, &specs);
        }
    }
    if !k.replacements.is_empty() {
        replacements::apply(&mut map.resources, &k.replacements).map_err(|message| {
            Error::Invalid {
                path: k.file.clone(),
                message,
            }
        })?;
        map.reindex();
    }
    for config in plugin_configs(fs, dir, &k.file, options, stack, &k.transformers)? {
        let plugin = plugins::parse(&config).map_err(|message| Error::Invalid {
            path: k.file.clone(),
            message,
        })?;
        run_transformer(fs, dir, &k.file, options, &mut map, plugin)?;
    }
    vars::merge(&mut map.resources, &mut map.vars, &k.vars).map_err(|message| Error::Invalid {
        path: k.file.clone(),
        message,
    })?;
    Ok(map)
}

/// The plugin configurations of a `transformers` or `generators` list:
/// inline YAML, files, or folders (kustomizations whose output is plugin
/// configurations).
pub(crate) fn plugin_configs(
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
pub(crate) fn run_transformer(
    fs: &dyn FileSystem,
    dir: &Path,
    file: &Path,
    options: &Options,
    map: &mut ResMap,
    plugin: plugins::Plugin,
) -> Result<(), Error> {
    let invalid = Error::invalid_in(file);
    use plugins::Plugin;
    match plugin {
        Plugin::Labels(pairs, specs) => {
            for resource in &mut map.resources {
                labels::apply(resource, &pairs, &specs);
            }
        }
        Plugin::Annotations(pairs, specs) => {
            for resource in &mut map.resources {
                annotations::apply(resource, &pairs, &specs);
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
                    resource.id = ResId::of(&resource.value).map_err(|e| invalid(e.0))?;
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

/// Applies one patch to the resources its target selects.
pub(crate) fn apply_patch(
    resources: &mut Vec<Resource>,
    patch: &PatchEntry,
    file: &Path,
) -> Result<(), Error> {
    let invalid = Error::invalid_in(file);
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
        // kustomize applies JSON patches to the resource's JSON, which holds
        // its bookkeeping annotations: `metadata.annotations` is there.
        resource.through_text();
        ensure_annotations(&mut resource.value);
        patch::apply_json6902(&mut resource.value, &ops).map_err(invalid)?;
        resource.id = ResId::of(&resource.value).map_err(|e| invalid(e.0))?;
    }
    Ok(())
}

/// A strategic-merge patch: to the resources its target selects, or
/// without target to the resource its own kind and name identify. A
/// resource the patch deletes (`$patch: delete`) leaves the build.
pub(crate) fn apply_merge_patch(
    resources: &mut Vec<Resource>,
    entry: &PatchEntry,
    file: &Path,
) -> Result<(), Error> {
    let invalid = Error::invalid_in(file);
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
            let id = ResId::of(patch).map_err(|e| invalid(e.0))?;
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
        let targeted = entry.target.is_some();
        match merge_keeping_identity(resource, patch, entry.options, targeted).map_err(invalid)? {
            Some((value, empty_fields)) => {
                resource.value = value;
                resource.empty_fields = empty_fields;
                resource.untyped_through_merge();
                if !entry.options.allow_name_change {
                    // kustomize sets the name again after the merge with
                    // `SetName`: a node without a tag, typed by its text.
                    resource.mark_untyped(&["metadata", "name"], false);
                }
                resource.sync_aliases();
                resource.id = ResId::of(&resource.value).map_err(|e| invalid(e.0))?;
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
pub(crate) fn merge_keeping_identity(
    resource: &Resource,
    patch: &Value,
    options: PatchOptions,
    targeted: bool,
) -> Result<Option<(Value, Vec<flux_yaml::EmptyField>)>, String> {
    let doc = &resource.value;
    let text = crate::resid::node_text;
    let kind = text(doc.get("kind"));
    let metadata = doc.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")));
    let namespace = text(metadata.and_then(|m| m.get("namespace")));
    let Some((mut merged, empty_fields)) =
        smp::merge_with_empty_fields(doc, patch, &resource.empty_fields)?
    else {
        return Ok(None);
    };
    if matches!(&merged, Value::Map(m) if m.is_empty()) {
        return Ok(None);
    }
    if !options.allow_kind_change {
        set_or_remove(&mut merged, "kind", Some(Value::String(kind)));
    }
    // A patch applied through a target is given the resource's group and
    // version first: a resource without `apiVersion` gets an empty one,
    // which kustomize writes as null.
    if targeted {
        let api_version = doc.get("apiVersion").cloned().unwrap_or(Value::Null);
        set_or_remove(&mut merged, "apiVersion", Some(api_version));
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
    Ok(Some((merged, empty_fields)))
}

/// Gives the resource a `metadata.annotations` mapping if it has none.
fn ensure_annotations(value: &mut Value) {
    let Value::Map(entries) = value else { return };
    let Some((_, Value::Map(metadata))) = entries.iter_mut().find(|(k, _)| k == "metadata") else {
        return;
    };
    match metadata.iter_mut().find(|(k, _)| k == "annotations") {
        Some((_, v)) if *v == Value::Null => *v = Value::Map(Vec::new()),
        Some(_) => {}
        None => metadata.push(("annotations".to_string(), Value::Map(Vec::new()))),
    }
}

pub(crate) fn set_or_remove(node: &mut Value, key: &str, value: Option<Value>) {
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
