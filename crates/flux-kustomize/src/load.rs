//! Reading what a kustomization names: files under the load
//! restrictions, resources from YAML files, and the kustomization Flux
//! generates for plain folders.

use std::path::{Path, PathBuf};

use flux_yaml::Value;

use crate::build::Options;
use crate::error::Error;
use crate::fs::{FileSystem, MemFs, clean};
use crate::kustomization::KUSTOMIZATION_FILE_NAMES;
use crate::resid::ResId;
use crate::resource::Resource;

/// The `resources` of the kustomization Flux generates for `dir` (paths
/// relative to it, in walk order); every YAML file must hold Kubernetes
/// objects.
pub fn generated_resources(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    scan(fs, dir, dir, &mut out)?;
    Ok(out)
}

pub(crate) fn scan(
    fs: &dyn FileSystem,
    root: &Path,
    dir: &Path,
    out: &mut Vec<String>,
) -> Result<(), Error> {
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

/// A file system with a few generated files in front of another.
pub(crate) struct Overlay<'a> {
    pub(crate) generated: &'a MemFs,
    pub(crate) disk: &'a dyn FileSystem,
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

/// A file of a kustomization (`relative` to its folder), under the load
/// restrictions.
pub(crate) fn resolve_local(
    dir: &Path,
    relative: &str,
    options: &Options,
) -> Result<PathBuf, Error> {
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

pub(crate) fn read_bytes(fs: &dyn FileSystem, path: &Path) -> Result<Vec<u8>, Error> {
    fs.read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn read_text(fs: &dyn FileSystem, path: &Path) -> Result<String, Error> {
    let bytes = fs.read(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid {
        path: path.to_path_buf(),
        message: "not UTF-8 text".to_string(),
    })
}

pub(crate) fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}

/// The resources of one file: every non-empty document; `*List` kinds with
/// `items` are expanded.
pub(crate) fn load_file(fs: &dyn FileSystem, path: &Path) -> Result<Vec<Resource>, Error> {
    let text = read_text(fs, path)?;
    let invalid = Error::invalid_in(path);
    let docs =
        flux_yaml::parse_documents(&text, &is_read_as_text).map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::new();
    for doc in docs {
        let value = doc.value;
        if value == Value::Null {
            continue;
        }
        let is_list = value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && matches!(value.get("items"), Some(Value::Seq(_)));
        if is_list {
            // kustomize expands a list through JSON: its items keep no
            // trace of how their scalars were written.
            let items = match value {
                Value::Map(entries) => entries
                    .into_iter()
                    .find(|(k, _)| k == "items")
                    .map(|(_, v)| match v {
                        Value::Seq(items) => items,
                        _ => Vec::new(),
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for object in items {
                let id = ResId::of(&object).map_err(|e| invalid(e.0))?;
                out.push(Resource::new(object, id));
            }
            continue;
        }
        check_metadata_maps(&value).map_err(&invalid)?;
        let id = ResId::of(&value).map_err(|e| invalid(e.0))?;
        let mut resource = Resource::new(value, id);
        resource.texts = doc
            .texts
            .into_iter()
            .filter_map(|(path, text)| {
                let read = value_at(&mut resource.value, &path)?.clone();
                Some((path, text, read))
            })
            .collect();
        resource.empty_fields = doc.empty_fields;
        out.push(resource);
    }
    Ok(out)
}

/// A patch's annotations as kustomize reads them: strings, the text as
/// written (`1.50`, `0x1F`, `True`); a null deletes, and stays one.
pub(crate) fn annotations_as_written(
    value: &mut Value,
    texts: Vec<(Vec<flux_yaml::Step>, String)>,
) {
    for (path, text) in texts {
        if let Some(slot) = value_at(value, &path)
            && *slot != Value::Null
        {
            *slot = Value::String(text);
        }
    }
}

/// `metadata.annotations` is a mapping (kustomize reads every resource's
/// annotations and crashes on anything else; we refuse it).
fn check_metadata_maps(value: &Value) -> Result<(), String> {
    let Some(metadata) = value.get("metadata") else {
        return Ok(());
    };
    for field in ["annotations"] {
        match metadata.get(field) {
            None | Some(Value::Null | Value::Map(_)) => {}
            Some(_) => return Err(format!("metadata.{field} must be a mapping")),
        }
    }
    Ok(())
}

/// Where kustomize reads scalars as strings, by their text: labels,
/// annotations and `data` entries.
fn is_read_as_text(path: &[flux_yaml::Step]) -> bool {
    use flux_yaml::Step::Key;
    is_annotation(path)
        || matches!(path, [Key(m), Key(l), Key(_)] if m == "metadata" && l == "labels")
        || matches!(path, [Key(d), Key(_)] if d == "data")
}

/// `metadata.annotations.<key>`.
pub(crate) fn is_annotation(path: &[flux_yaml::Step]) -> bool {
    use flux_yaml::Step::Key;
    matches!(path, [Key(m), Key(a), Key(_)] if m == "metadata" && a == "annotations")
}

fn value_at<'a>(value: &'a mut Value, path: &[flux_yaml::Step]) -> Option<&'a mut Value> {
    let Some((flux_yaml::Step::Key(key), rest)) = path.split_first() else {
        return path.is_empty().then_some(value);
    };
    let Value::Map(entries) = value else {
        return None;
    };
    let next = entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)?;
    value_at(next, rest)
}

/// Go's `filepath.Join` of two slash-separated paths.
pub(crate) fn go_join(base: &str, path: &str) -> String {
    if base.is_empty() {
        flux_go::path::clean(path)
    } else {
        flux_go::path::clean(&format!("{base}/{path}"))
    }
}

/// A string as a YAML scalar on one line (quoted when YAML needs it).
pub(crate) fn yaml_scalar(text: &str) -> String {
    flux_yaml::emit(&Value::String(text.to_string()))
        .trim_end_matches('\n')
        .to_string()
}
