//! The files of one generated artifact: upstream source-watcher's copy
//! operations, applied in order into a staging folder.
//!
//! `from: "@<alias>/<pattern>"`, `to: "@artifact/<path>"`, cp-like: a
//! pattern without glob characters names one file (copied to `to`, or
//! into it when `to` ends with `/` or is a folder) or one folder (copied
//! as a subfolder of `to`); a glob (Go's `fs.Glob`: `*`, `?` and `[…]`
//! within one path segment — `**` is `*`) copies every match, a
//! `<dir>/**` pattern with the `<dir>/` prefix removed, folders
//! recursively. `exclude` globs (doublestar: `**` across folders) are
//! matched against the path in the source and the path below the
//! pattern's literal prefix, and, without a `/`, against the file name.
//! Strategies: `Overwrite` (default), `Merge` (a YAML file over an
//! existing one, merged as Helm merges values), `Extract` (`.tar.gz` and
//! `.tgz` files unpacked into `to`, within the artifact limits). No path
//! leaves its source or the artifact.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use flux_api::source_extensions::v1beta1::{CopyOperation, CopyStrategy};
use flux_artifact::Limits;

/// The extracted sources, by alias.
pub type Sources = HashMap<String, PathBuf>;

/// Applies `operations` into `staging`.
pub fn apply(
    operations: &[CopyOperation],
    sources: &Sources,
    staging: &Path,
    limits: &Limits,
) -> Result<(), String> {
    for op in operations {
        apply_one(op, sources, staging, limits).map_err(|e| {
            format!(
                "failed to apply copy operation from '{}' to '{}': {e}",
                op.from, op.to
            )
        })?;
    }
    Ok(())
}

fn apply_one(
    op: &CopyOperation,
    sources: &Sources,
    staging: &Path,
    limits: &Limits,
) -> Result<(), String> {
    let (alias, pattern) = op
        .from
        .strip_prefix('@')
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| {
            format!(
                "invalid copy source '{}': source format must be '@alias/pattern'",
                op.from
            )
        })?;
    validate_glob(pattern).map_err(|e| format!("invalid copy source '{}': {e}", op.from))?;
    // As upstream's os.Root: nothing outside the source.
    if pattern.split('/').any(|segment| segment == "..") || pattern.starts_with('/') {
        return Err(format!(
            "invalid copy source '{}': path escapes from parent",
            op.from
        ));
    }
    let dest =
        destination(&op.to).map_err(|e| format!("invalid copy destination '{}': {e}", op.to))?;
    let root = sources
        .get(alias)
        .ok_or_else(|| format!("source alias '{alias}' not found"))?;
    let mut excludes = Vec::new();
    for pattern in &op.exclude {
        validate_glob(pattern).map_err(|e| format!("invalid exclude pattern '{pattern}': {e}"))?;
        excludes.push(Exclude::new(pattern)?);
    }
    let extract = op.strategy == Some(CopyStrategy::Extract);
    let dest_is_dir = op.to.ends_with('/');
    if !contains_glob(pattern) {
        let src = clean(pattern).ok_or("path escapes from parent")?;
        let full = root.join(&src);
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|_| format!("source '{}' does not exist", display(&src)))?;
        if meta.is_dir() {
            if extract {
                return Err(format!(
                    "extract strategy is not supported for directories, got '{}'",
                    display(&src)
                ));
            }
            let base = src.file_name().map(PathBuf::from).unwrap_or_default();
            return copy(
                op,
                root,
                &src,
                staging,
                &dest.join(base),
                &excludes,
                &src,
                limits,
            );
        }
        if excluded(&src, Path::new("."), &excludes) {
            return Ok(());
        }
        if extract {
            if !is_tarball(&src) {
                return Err(format!(
                    "extract strategy requires tarball file (.tar.gz or .tgz), got '{}'",
                    display(&src)
                ));
            }
            return extract_tarball(&full, staging, &dest, limits);
        }
        let base = src.file_name().map(PathBuf::from).unwrap_or_default();
        let target = if dest_is_dir || staging.join(&dest).is_dir() {
            dest.join(base)
        } else {
            dest
        };
        return copy(
            op,
            root,
            &src,
            staging,
            &target,
            &excludes,
            Path::new("."),
            limits,
        );
    }
    let matches = if extract {
        doublestar_glob(root, pattern)?
    } else {
        go_glob(root, pattern)?
    };
    if matches.is_empty() {
        return Err(format!(
            "no files match pattern '{pattern}' in source '{alias}'"
        ));
    }
    let base = selection_root(pattern);
    let kept: Vec<PathBuf> = matches
        .into_iter()
        .filter(|m| m.as_os_str() != "." && m.as_os_str() != "..")
        .filter(|m| !excluded(m, &base, &excludes))
        .collect();
    if kept.is_empty() {
        return Err(format!(
            "all files matching pattern '{pattern}' in source '{alias}' were excluded"
        ));
    }
    for m in kept {
        if extract {
            if is_tarball(&m) && root.join(&m).is_file() {
                extract_tarball(&root.join(&m), staging, &dest, limits).map_err(|e| {
                    format!(
                        "failed to extract tarball '{}' to '{}': {e}",
                        display(&m),
                        display(&dest)
                    )
                })?;
            }
            continue;
        }
        let target = glob_destination(pattern, &m, &dest);
        copy(op, root, &m, staging, &target, &excludes, &base, limits).map_err(|e| {
            format!(
                "failed to copy file '{}' to '{}': {e}",
                display(&m),
                display(&target)
            )
        })?;
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The artifact path of `@artifact/<path>` (`.` for the root).
fn destination(to: &str) -> Result<PathBuf, String> {
    let rest = to
        .strip_prefix("@artifact/")
        .ok_or("destination must start with '@artifact/'")?;
    if rest.is_empty() {
        return Ok(PathBuf::from("."));
    }
    if rest.split('/').any(|p| p == "..") {
        return Err("destination path must not contain '..'".to_string());
    }
    clean(rest).ok_or_else(|| "destination path must stay within the artifact root".to_string())
}

/// A relative path cleaned; `None` when it is absolute or climbs out.
fn clean(p: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in Path::new(p).components() {
        match part {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

fn contains_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', ']'])
}

/// Upstream's bound on `{…}` alternatives (their expansion is exponential).
fn validate_glob(pattern: &str) -> Result<(), String> {
    let (mut commas, mut depth) = (0, 0);
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b',' if depth > 0 => commas += 1,
            _ => {}
        }
        i += 1;
    }
    if commas > 20 {
        return Err(format!(
            "pattern has {commas} alternatives in '{{}}' groups, at most 20 are allowed"
        ));
    }
    Ok(())
}

/// The literal part of a pattern before its first glob segment.
fn selection_root(pattern: &str) -> PathBuf {
    let cleaned = clean(pattern).unwrap_or_else(|| PathBuf::from(pattern));
    let mut root = PathBuf::new();
    for part in cleaned.components() {
        let text = part.as_os_str().to_string_lossy();
        if contains_glob(&text) {
            break;
        }
        root.push(part);
    }
    if root.as_os_str().is_empty() {
        root.push(".");
    }
    root
}

/// Where a glob match goes: `<dir>/**` matches lose their `<dir>/`.
fn glob_destination(pattern: &str, m: &Path, dest: &Path) -> PathBuf {
    if let Some(prefix) = pattern.strip_suffix("/**")
        && let Ok(rest) = m.strip_prefix(prefix)
        && !rest.as_os_str().is_empty()
    {
        return join(dest, rest);
    }
    join(dest, m)
}

fn join(base: &Path, rest: &Path) -> PathBuf {
    if base == Path::new(".") {
        rest.to_path_buf()
    } else {
        base.join(rest)
    }
}

/// An exclude glob (doublestar semantics).
struct Exclude {
    matcher: globset::GlobMatcher,
    /// Without `/`: also matched against file names.
    name_only: bool,
}

impl Exclude {
    fn new(pattern: &str) -> Result<Self, String> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|_| format!("invalid exclude pattern '{pattern}'"))?;
        Ok(Self {
            matcher: glob.compile_matcher(),
            name_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, path: &Path) -> bool {
        self.matcher.is_match(path)
            || (self.name_only && path.file_name().is_some_and(|n| self.matcher.is_match(n)))
    }
}

/// Upstream's `shouldExcludePath`: the path in the source, then the path
/// below the pattern's literal prefix.
fn excluded(path: &Path, base: &Path, excludes: &[Exclude]) -> bool {
    if excludes.is_empty() {
        return false;
    }
    if excludes.iter().any(|e| e.matches(path)) {
        return true;
    }
    if base == Path::new(".") {
        return false;
    }
    match path.strip_prefix(base) {
        Ok(rel) if !rel.as_os_str().is_empty() && rel != path => {
            excludes.iter().any(|e| e.matches(rel))
        }
        _ => false,
    }
}

/// Go's `path.Match` for one segment: `*`, `?`, `[…]` (`^` negates),
/// `\` escapes. `None` for a malformed pattern.
fn match_segment(pattern: &[u8], name: &[u8]) -> Option<bool> {
    let (mut p, mut n) = (0, 0);
    let (mut star_p, mut star_n) = (None, 0);
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star_p = Some(p);
                    star_n = n;
                    p += 1;
                    continue;
                }
                b'?' if n < name.len() => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' if n < name.len() => {
                    let (matched, next) = match_class(pattern, p, name[n])?;
                    if matched {
                        p = next;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && n < name.len() && pattern[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c != b'?' && c != b'[' && c != b'\\' && n < name.len() && c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        } else if n == name.len() {
            return Some(true);
        }
        // Backtrack: the last star takes one more byte.
        match star_p {
            Some(sp) if star_n < name.len() => {
                star_n += 1;
                p = sp + 1;
                n = star_n;
            }
            _ => return Some(false),
        }
    }
}

/// A `[…]` class at `pattern[start]` against `c`: whether it matches and
/// where the pattern continues.
fn match_class(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &b = pattern.get(i)?;
        if b == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        let mut lo = b;
        if lo == b'\\' {
            i += 1;
            lo = *pattern.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if pattern.get(i) == Some(&b'-') && pattern.get(i + 1).is_some_and(|x| *x != b']') {
            i += 1;
            hi = *pattern.get(i)?;
            if hi == b'\\' {
                i += 1;
                hi = *pattern.get(i)?;
            }
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Some((matched != negate, i))
}

/// Go's `fs.Glob(root, pattern)`: matches, in lexical order.
fn go_glob(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut found = vec![PathBuf::new()];
    for segment in pattern.split('/').filter(|s| !s.is_empty() && *s != ".") {
        let mut next = Vec::new();
        for dir in &found {
            if !contains_glob(segment) {
                let candidate = dir.join(segment.replace('\\', ""));
                if std::fs::symlink_metadata(root.join(&candidate)).is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect();
            names.sort();
            for name in names {
                match match_segment(segment.as_bytes(), name.as_bytes()) {
                    Some(true) => next.push(dir.join(name)),
                    Some(false) => {}
                    None => {
                        return Err(format!(
                            "invalid glob pattern '{pattern}': syntax error in pattern"
                        ));
                    }
                }
            }
        }
        found = next;
    }
    Ok(found
        .into_iter()
        .filter(|p| !p.as_os_str().is_empty())
        .collect())
}

/// doublestar's `Glob`: every path of the tree the pattern matches.
fn doublestar_glob(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let matcher = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("invalid glob pattern '{pattern}': {e}"))?
        .compile_matcher();
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            if matcher.is_match(&rel) {
                out.push(rel.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_tarball(p: &Path) -> bool {
    let name = p.to_string_lossy().to_lowercase();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Unpacks a tarball into `dest` of the staging folder (the hostile-archive
/// checks of every extraction).
fn extract_tarball(
    archive: &Path,
    staging: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<(), String> {
    let target = if dest == Path::new(".") {
        staging.to_path_buf()
    } else {
        staging.join(dest)
    };
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    flux_artifact::extract(std::io::BufReader::new(file), &target, limits)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Copies `src` (a file or, recursively, a folder) of the source to
/// `target` of the staging folder; symbolic links are not followed.
#[allow(clippy::too_many_arguments)]
fn copy(
    op: &CopyOperation,
    root: &Path,
    src: &Path,
    staging: &Path,
    target: &Path,
    excludes: &[Exclude],
    base: &Path,
    limits: &Limits,
) -> Result<(), String> {
    let full = root.join(src);
    let meta = std::fs::symlink_metadata(&full).map_err(|e| e.to_string())?;
    let out = if target == Path::new(".") {
        staging.to_path_buf()
    } else {
        staging.join(target)
    };
    if meta.is_dir() {
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let mut names: Vec<_> = std::fs::read_dir(&full)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let child = src.join(&name);
            if excluded(&child, base, excludes) {
                continue;
            }
            copy(
                op,
                root,
                &child,
                staging,
                &join(target, Path::new(&name)),
                excludes,
                base,
                limits,
            )?;
        }
        return Ok(());
    }
    if !meta.is_file() {
        // Links and special files stay out, as in every artifact.
        return Ok(());
    }
    if meta.len() > limits.max_bytes {
        return Err(format!(
            "'{}' exceeds the limit of {} bytes",
            display(src),
            limits.max_bytes
        ));
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    if op.strategy == Some(CopyStrategy::Merge) && out.is_file() {
        return merge_yaml(&full, &out);
    }
    if out.is_dir() {
        return Err(format!("'{}' is a folder", display(target)));
    }
    std::fs::copy(&full, &out).map_err(|e| e.to_string())?;
    Ok(())
}

/// `src`'s YAML merged over `dest`'s (maps deeply, the rest replaced),
/// written as `sigs.k8s.io/yaml` writes it.
fn merge_yaml(src: &Path, dest: &Path) -> Result<(), String> {
    let read = |p: &Path| -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let data = std::fs::read(p).map_err(|e| e.to_string())?;
        flux_helm::yaml::read_values(&data).map_err(|e| e.to_string())
    };
    let mut merged = read(dest)?;
    flux_helm::package::merge_maps(&mut merged, read(src)?);
    let text = flux_helm::yaml::marshal(&flux_helm::yaml::map_value(&merged))
        .ok_or("failed to merged YAML: cannot marshal the result")?;
    std::fs::write(dest, text).map_err(|e| e.to_string())
}

/// `golang.org/x/mod/sumdb/dirhash.HashDir(dir, prefix, DirHash)` with
/// source-watcher's Adler-32 `DirHash`: the artifact file's name.
pub fn contents_hash(dir: &Path, prefix: &str) -> Result<String, String> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let path = rel.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else {
                files.push(format!("{prefix}/{}", path.to_string_lossy()));
            }
        }
    }
    files.sort();
    let mut all = Adler32::default();
    for name in &files {
        if name.contains('\n') {
            return Err("filenames with newlines are not supported".to_string());
        }
        let rel = name.strip_prefix(&format!("{prefix}/")).unwrap_or(name);
        let data = std::fs::read(dir.join(rel)).map_err(|e| e.to_string())?;
        let mut one = Adler32::default();
        one.update(&data);
        all.update(format!("{:x}  {name}\n", one.finish()).as_bytes());
    }
    Ok(all.finish().to_string())
}

/// Adler-32 (RFC 1950).
struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Self { a: 1, b: 0 }
    }
}

impl Adler32 {
    fn update(&mut self, data: &[u8]) {
        for &byte in data {
            self.a = (self.a + u32::from(byte)) % 65521;
            self.b = (self.b + self.a) % 65521;
        }
    }

    fn finish(&self) -> u32 {
        (self.b << 16) | self.a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_match_as_go_path_match() {
        let m = |p: &str, n: &str| match_segment(p.as_bytes(), n.as_bytes());
        assert_eq!(m("*.yaml", "a.yaml"), Some(true));
        assert_eq!(m("*.yaml", "a.yml"), Some(false));
        assert_eq!(m("**", "deploy"), Some(true));
        assert_eq!(m("a?c", "abc"), Some(true));
        assert_eq!(m("[a-c]x", "bx"), Some(true));
        assert_eq!(m("[^a-c]x", "bx"), Some(false));
        assert_eq!(m("\\*", "*"), Some(true));
        assert_eq!(m("[a", "a"), None);
    }

    #[test]
    fn adler32_is_rfc_1950s() {
        let mut a = Adler32::default();
        a.update(b"Wikipedia");
        assert_eq!(a.finish(), 0x11E6_0398);
    }

    #[test]
    fn sources_cannot_be_left() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("src/a")).unwrap();
        std::fs::write(root.path().join("secret"), "x").unwrap();
        let sources = Sources::from([("repo".to_string(), root.path().join("src"))]);
        let staging = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        for from in ["@repo/../secret", "@repo/a/../../*", "@repo//etc/*"] {
            let op = CopyOperation {
                from: from.to_string(),
                to: "@artifact/".to_string(),
                ..CopyOperation::default()
            };
            let e = apply(&[op], &sources, staging.path(), &limits).unwrap_err();
            assert!(e.ends_with("path escapes from parent"), "{from}: {e}");
        }
        assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
    }

    #[test]
    fn destinations_stay_in_the_artifact() {
        assert_eq!(destination("@artifact/").unwrap(), PathBuf::from("."));
        assert_eq!(destination("@artifact/a/b/").unwrap(), PathBuf::from("a/b"));
        assert!(destination("@artifact/../x").is_err());
        assert!(destination("artifact/x").is_err());
        assert_eq!(
            selection_root("deploy/apps/*.yaml"),
            PathBuf::from("deploy/apps")
        );
        assert_eq!(selection_root("**"), PathBuf::from("."));
        assert_eq!(
            glob_destination("deploy/**", Path::new("deploy/a/b.yaml"), Path::new("out")),
            PathBuf::from("out/a/b.yaml")
        );
        assert_eq!(
            glob_destination("*.yaml", Path::new("x.yaml"), Path::new(".")),
            PathBuf::from("x.yaml")
        );
    }
}
