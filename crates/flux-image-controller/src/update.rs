//! Applying the setters to a checked-out repository: which files are read
//! (upstream's rules), which are refused (links, files too large), and the
//! result per file and object.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::setters::{self, Change, ObjectId};

/// Files larger than this are not read (upstream reads any size).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// What one run changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Result {
    /// The changes per file and object; files slash-separated and relative
    /// to the update path, as upstream's `.Changed.FileChanges` has them.
    pub file_changes: BTreeMap<String, BTreeMap<ObjectId, Vec<Change>>>,
    /// The new contents of each changed file, by path from the repository
    /// root.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Files skipped, with why (not YAML, links, too large).
    pub skipped: Vec<(String, String)>,
}

/// Why the update could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `update.path` leaves the repository or does not exist.
    #[error("{0}")]
    Path(String),
    /// Reading the tree failed.
    #[error("{0}")]
    Io(String),
}

/// The directory `path` (`spec.update.path`) names inside `root`, joined
/// as upstream's secure join does: `..` cannot climb above the root.
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut out = root.to_path_buf();
    for p in parts {
        out.push(p);
    }
    out
}

/// Applies `policies` to the files under `root`/`path`. Nothing is
/// written: the changed files' contents are returned.
pub fn update(
    root: &Path,
    path: &str,
    policies: &[setters::PolicyRef],
) -> std::result::Result<Result, Error> {
    let setters = setters::setters(policies);
    let start = secure_join(root, path);
    let meta = std::fs::symlink_metadata(&start)
        .map_err(|e| Error::Path(format!("update path '{path}' cannot be read: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Path(format!(
            "update path '{path}' is a symbolic link"
        )));
    }
    let mut result = Result::default();
    let mut files = Vec::new();
    walk(&start, &mut files).map_err(|e| Error::Io(e.to_string()))?;
    files.sort();
    let slashed = |path: &Path| {
        path.components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect::<Vec<_>>()
            .join("/")
    };
    for file in files {
        let (Ok(relative), Ok(key)) = (file.strip_prefix(root), file.strip_prefix(&start)) else {
            continue;
        };
        let key = if key.as_os_str().is_empty() {
            // `update.path` names the file itself.
            file.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string()
        } else {
            slashed(key)
        };
        visit(&file, slashed(relative), key, &setters, &mut result)?;
    }
    Ok(result)
}

fn visit(
    file: &Path,
    relative: String,
    key: String,
    setters: &HashMap<String, String>,
    result: &mut Result,
) -> std::result::Result<(), Error> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let extension = file.extension().and_then(|e| e.to_str());
    if !matches!(extension, Some("yaml" | "yml")) && name != "Kustomization" {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(file).map_err(|e| Error::Io(e.to_string()))?;
    if meta.file_type().is_symlink() {
        result
            .skipped
            .push((relative, "symbolic link not followed".to_string()));
        return Ok(());
    }
    if meta.len() > MAX_FILE_BYTES {
        result.skipped.push((
            relative,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
        return Ok(());
    }
    let bytes = std::fs::read(file).map_err(|e| Error::Io(e.to_string()))?;
    if !setters::has_token(&bytes) {
        return Ok(());
    }
    let Ok(text) = String::from_utf8(bytes) else {
        result.skipped.push((relative, "not UTF-8".to_string()));
        return Ok(());
    };
    match setters::update_text(&text, setters) {
        Err(e) => result.skipped.push((relative, format!("not YAML: {e}"))),
        Ok(None) => {}
        Ok(Some(update)) => {
            let objects = result.file_changes.entry(key).or_default();
            for (object, change) in update.changes {
                objects.entry(object).or_default().push(change);
            }
            result.files.insert(relative, update.text.into_bytes());
        }
    }
    Ok(())
}

/// Every file below `dir`, links not followed, `.git` left out.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            walk(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}
