//! Flux's build of a Kustomization's `path`: the folder's kustomization
//! (or, when it has none, the one kustomize-controller generates: every
//! Kubernetes YAML file below it) with the Kustomization's own fields
//! injected — `targetNamespace` becomes `namespace`, `namePrefix` and
//! `nameSuffix` are set, `patches` and `components` are appended, `images`
//! replace entries of the same name or are appended — then built with
//! files allowed anywhere inside the artifact `root` (not outside it).

use std::path::{Path, PathBuf};

use flux_yaml::Value;

use crate::build::{Options, build};
use crate::error::Error;
use crate::fs::{FileSystem, MemFs, clean};
use crate::kustomization::KUSTOMIZATION_FILE_NAMES;
use crate::load::{Overlay, generated_resources, read_text};
use crate::resource::ResMap;

/// The Kustomization fields that shape the build.
#[derive(Clone, Debug, Default)]
pub struct FluxSpec {
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.patches`: mappings with `patch` and an optional `target`.
    pub patches: Vec<Value>,
    /// `spec.images`: mappings with `name`, `newName`, `newTag`, `digest`.
    pub images: Vec<Value>,
    /// `spec.components`, relative to the path.
    pub components: Vec<String>,
    /// `spec.ignoreMissingComponents`.
    pub ignore_missing_components: bool,
}

/// A file system limited to one folder: anything outside reads as absent.
struct Confined<'a> {
    inner: &'a dyn FileSystem,
    root: PathBuf,
}

impl Confined<'_> {
    fn inside(&self, path: &Path) -> bool {
        clean(path).starts_with(&self.root)
    }
}

impl FileSystem for Confined<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if !self.inside(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "path '{}' is not in or below '{}'",
                    path.display(),
                    self.root.display()
                ),
            ));
        }
        self.inner.read(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.inside(path) && self.inner.is_dir(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        self.inside(path) && self.inner.is_file(path)
    }
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        if !self.inside(path) {
            return Ok(Vec::new());
        }
        self.inner.read_dir(path)
    }
}

fn set(entries: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => entries.push((key.to_string(), value)),
    }
}

/// Removes list field `key` and returns its items (none when absent or
/// not a list); put it back with [`set`].
fn take_list(entries: &mut Vec<(String, Value)>, key: &str) -> Vec<Value> {
    match entries.iter().position(|(k, _)| k == key) {
        Some(i) => match entries.remove(i).1 {
            Value::Seq(items) => items,
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

/// Builds `dir` (inside the artifact `root`) as kustomize-controller does.
pub fn build_flux(
    fs: &dyn FileSystem,
    root: &Path,
    dir: &Path,
    spec: &FluxSpec,
) -> Result<ResMap, Error> {
    let root = clean(root);
    let dir = clean(dir);
    let confined = Confined {
        inner: fs,
        root: root.clone(),
    };
    if !confined.is_dir(&dir) {
        return Err(Error::Kustomization(format!(
            "kustomization path not found: stat {}: no such file or directory",
            dir.display()
        )));
    }
    let existing = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| confined.is_file(p));
    let (file, mut kustomization) = match existing {
        Some(path) => {
            let text = read_text(&confined, &path)?;
            let doc = flux_yaml::parse(&text)
                .map_err(|e| Error::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })?
                .into_iter()
                .find(|d| *d != Value::Null)
                .unwrap_or(Value::Map(Vec::new()));
            (path, doc)
        }
        None => {
            let resources = generated_resources(&confined, &dir)?;
            let doc = Value::Map(vec![
                (
                    "apiVersion".to_string(),
                    Value::String("kustomize.config.k8s.io/v1beta1".to_string()),
                ),
                (
                    "kind".to_string(),
                    Value::String("Kustomization".to_string()),
                ),
                (
                    "resources".to_string(),
                    Value::Seq(resources.into_iter().map(Value::String).collect()),
                ),
            ]);
            (dir.join(KUSTOMIZATION_FILE_NAMES[0]), doc)
        }
    };
    let Value::Map(entries) = &mut kustomization else {
        return Err(Error::Invalid {
            path: file,
            message: "a kustomization must be a mapping".to_string(),
        });
    };
    if let Some(ns) = spec.target_namespace.as_ref().filter(|n| !n.is_empty()) {
        set(entries, "namespace", Value::String(ns.clone()));
    }
    if let Some(prefix) = spec.name_prefix.as_ref().filter(|n| !n.is_empty()) {
        set(entries, "namePrefix", Value::String(prefix.clone()));
    }
    if let Some(suffix) = spec.name_suffix.as_ref().filter(|n| !n.is_empty()) {
        set(entries, "nameSuffix", Value::String(suffix.clone()));
    }
    if !spec.patches.is_empty() {
        let mut patches = take_list(entries, "patches");
        patches.extend(spec.patches.iter().cloned());
        set(entries, "patches", Value::Seq(patches));
    }
    if !spec.images.is_empty() {
        let mut images = take_list(entries, "images");
        for image in &spec.images {
            let name = image.get("name").and_then(Value::as_str);
            match images
                .iter_mut()
                .find(|i| i.get("name").and_then(Value::as_str) == name)
            {
                Some(slot) => *slot = image.clone(),
                None => images.push(image.clone()),
            }
        }
        set(entries, "images", Value::Seq(images));
    }
    let components: Vec<Value> = spec
        .components
        .iter()
        .filter(|c| !spec.ignore_missing_components || confined.is_dir(&dir.join(c)))
        .map(|c| Value::String(c.clone()))
        .collect();
    if !components.is_empty() {
        let mut all = take_list(entries, "components");
        all.extend(components);
        set(entries, "components", Value::Seq(all));
    }
    let mut generated = MemFs::default();
    generated.add(file, flux_yaml::emit(&kustomization));
    let overlay = Overlay {
        generated: &generated,
        disk: &confined,
    };
    let options = Options {
        root_only: false,
        generate_missing_kustomization: false,
    };
    build(&overlay, &dir, &options)
}
