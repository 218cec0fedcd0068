//! The chart model and Helm's loader (`pkg/chart`, `pkg/chart/loader`):
//! a chart from a directory (with `.helmignore`) or a `.tgz` archive read
//! in memory, `Chart.yaml` decoded as `sigs.k8s.io/yaml` does into Helm's
//! `Metadata` (numbers in string fields become strings, field names match
//! case-insensitively), `values.yaml`, `values.schema.json`, templates,
//! files, `requirements.yaml` (v1) and subcharts under `charts/` (folders
//! and archives), then Helm's metadata validation — with Helm's error
//! messages.
//!
//! Limits: 100 MiB of decompressed content per archive and 5 MiB per file
//! (Helm's `MaxDecompressedChartSize` / `MaxDecompressedFileSize`), counted
//! while decompressing; subcharts nest at most [`MAX_DEPTH`] deep. Paths
//! are checked as Helm does (absolute, `..`, drive letters, `Chart.yaml`
//! outside the base folder). Archives are read in memory: links, devices
//! and FIFOs in them are empty files, as Helm reads them, and nothing is
//! ever followed. Unlike Helm, a directory chart's symbolic links must stay
//! inside the chart.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use flux_yaml::Value as Yaml;

use crate::ignore::Rules;
use crate::yaml;
use crate::yaml::field_type_error as type_error;

/// Decompressed bytes an archive may hold (Helm's default).
pub const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Bytes one file may hold (Helm's default).
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// How deep subcharts may nest.
pub const MAX_DEPTH: usize = 64;

/// A chart could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// A file of a chart, by its slash-separated path inside the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path relative to the chart root (`templates/deployment.yaml`).
    pub name: String,
    /// Content (a leading UTF-8 BOM removed).
    pub data: Vec<u8>,
}

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Maintainer {
    /// `name`
    pub name: String,
    /// `email`
    pub email: String,
    /// `url`
    pub url: String,
}

/// A dependency declared in `Chart.yaml` (or `requirements.yaml`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dependency {
    /// `name`
    pub name: String,
    /// `version` (a semver constraint).
    pub version: String,
    /// `repository`
    pub repository: String,
    /// `condition`: comma-separated value paths.
    pub condition: String,
    /// `tags`
    pub tags: Vec<String>,
    /// `enabled` (computed from conditions and tags).
    pub enabled: bool,
    /// `import-values`: strings or `{child, parent}` maps.
    pub import_values: Vec<serde_json::Value>,
    /// `alias`
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// `name`
    pub name: String,
    /// `home`
    pub home: String,
    /// `sources`
    pub sources: Vec<String>,
    /// `version`
    pub version: String,
    /// `description`
    pub description: String,
    /// `keywords`
    pub keywords: Vec<String>,
    /// `maintainers` (`None` for a null entry, refused by validation).
    pub maintainers: Vec<Option<Maintainer>>,
    /// `icon`
    pub icon: String,
    /// `apiVersion` (`v1` when absent).
    pub api_version: String,
    /// `condition`
    pub condition: String,
    /// `tags`
    pub tags: String,
    /// `appVersion`
    pub app_version: String,
    /// `deprecated`
    pub deprecated: bool,
    /// `annotations`
    pub annotations: Option<BTreeMap<String, String>>,
    /// `kubeVersion`
    pub kube_version: String,
    /// `dependencies` (`None` for a null entry, refused by validation).
    pub dependencies: Option<Vec<Option<Dependency>>>,
    /// `type`: `application` (or empty) or `library`.
    pub chart_type: String,
}

/// A loaded chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// `templates/…`, in load order.
    pub templates: Vec<File>,
    /// `values.yaml`, as Helm decodes it (numbers are float64).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// `values.schema.json`, if any.
    pub schema: Option<Vec<u8>>,
    /// Every other file (`crds/…`, `files/…`, `README.md`…).
    pub files: Vec<File>,
    /// Subcharts found under `charts/`.
    pub dependencies: Vec<Chart>,
    /// `values.yaml` as written (Helm's `Raw`): what packaging writes.
    pub raw_values: Option<Vec<u8>>,
    /// `Chart.lock` (or a v1 chart's `requirements.lock`).
    pub lock: Option<Lock>,
}

/// A chart's lock file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lock {
    /// The file as written.
    pub raw: Vec<u8>,
    /// Its `dependencies` (name, version, repository).
    pub dependencies: Vec<Dependency>,
}

impl Chart {
    /// `Chart.yaml`'s name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether `type: library`.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type.eq_ignore_ascii_case("library")
    }

    /// Loads a chart from a folder or a `.tgz` file.
    pub fn load(path: &Path) -> Result<Chart, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error(go_io_error(path, &e)))?;
        if meta.is_dir() {
            Chart::load_dir(path)
        } else {
            let data = std::fs::read(path).map_err(|e| Error(go_io_error(path, &e)))?;
            let name = path.display().to_string();
            if !data.starts_with(b"\x1f\x8b\x08") {
                if name.ends_with(".yml") || name.ends_with(".yaml") {
                    return err(format!(
                        "file '{name}' seems to be a YAML file, but expected a gzipped archive"
                    ));
                }
                return err(format!(
                    "file '{name}' does not appear to be a gzipped archive; got '{}'",
                    content_type(&data)
                ));
            }
            Chart::load_archive(&data)
        }
    }

    /// Loads a chart folder, skipping what `.helmignore` ignores.
    pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
        let root = dir
            .canonicalize()
            .map_err(|e| Error(go_io_error(dir, &e)))?;
        let mut rules = match std::fs::read(root.join(".helmignore")) {
            Ok(text) => {
                Rules::parse(&String::from_utf8_lossy(&text)).map_err(|e| Error(e.into()))?
            }
            Err(_) => Rules::default(),
        };
        rules.add_defaults();
        let mut files = Vec::new();
        walk(&root, &root, "", &rules, &mut files, 0)?;
        load_files(files, 0)
    }

    /// Loads a chart from the bytes of a `.tgz` archive.
    pub fn load_archive(data: &[u8]) -> Result<Chart, Error> {
        load_files(archive_files(data)?, 0)
    }

    /// `crds/*.yaml|yml|json` of this chart then of its subcharts, with
    /// their output names (`parent/charts/sub/crds/x.yaml`).
    pub fn crd_objects(&self) -> Vec<(String, &File)> {
        let mut out = Vec::new();
        self.collect_crds(self.name(), &mut out);
        out
    }

    fn collect_crds<'a>(&'a self, full_path: &str, out: &mut Vec<(String, &'a File)>) {
        for f in &self.files {
            if f.name.starts_with("crds/") && has_manifest_extension(&f.name) {
                out.push((format!("{full_path}/{}", f.name), f));
            }
        }
        for dep in &self.dependencies {
            dep.collect_crds(&format!("{full_path}/charts/{}", dep.name()), out);
        }
    }
}

fn has_manifest_extension(name: &str) -> bool {
    let ext = match name.rfind('.') {
        Some(i) if !name[i..].contains('/') => &name[i..],
        _ => "",
    };
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
}

/// `http.DetectContentType` for the few kinds a mistaken chart file is.
fn content_type(data: &[u8]) -> &'static str {
    let head = &data[..data.len().min(512)];
    if head.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.iter().any(|&b| {
        b <= 0x08 || b == 0x0B || (0x0E..=0x1A).contains(&b) || (0x1C..=0x1F).contains(&b)
    }) {
        "application/octet-stream"
    } else if std::str::from_utf8(head).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

fn go_io_error(path: &Path, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("stat {}: {what}", path.display())
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    rules: &Rules,
    files: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 256 {
        return err(format!("{}: folders nest too deep", dir.display()));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error(format!("error reading {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Some(base) = path.file_name().and_then(|n| n.to_str()) else {
            return err(format!("{}: file name is not UTF-8", path.display()));
        };
        let rel = if prefix.is_empty() {
            base.to_string()
        } else {
            format!("{prefix}/{base}")
        };
        let link = std::fs::symlink_metadata(&path)
            .map_err(|e| Error(go_io_error(&path, &e)))?
            .file_type()
            .is_symlink();
        let target = if link {
            let resolved = path
                .canonicalize()
                .map_err(|e| Error(go_io_error(&path, &e)))?;
            if !resolved.starts_with(root) {
                return err(format!(
                    "{rel}: symbolic link points outside the chart ({})",
                    resolved.display()
                ));
            }
            resolved
        } else {
            path.clone()
        };
        let meta = std::fs::metadata(&target).map_err(|e| Error(go_io_error(&path, &e)))?;
        if meta.is_dir() {
            if rules.ignore(&rel, true) {
                continue;
            }
            walk(root, &target, &rel, rules, files, depth + 1)?;
            continue;
        }
        if rules.ignore(&rel, false) {
            continue;
        }
        if !meta.is_file() {
            return err(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            ));
        }
        if meta.len() > MAX_FILE_SIZE {
            return err(format!(
                "chart file {base:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            ));
        }
        let data =
            std::fs::read(&target).map_err(|e| Error(format!("error reading {rel}: {e}")))?;
        files.push((rel, strip_bom(data)));
    }
    Ok(())
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    data
}

/// The files of a chart archive, the top folder removed (Helm's
/// `LoadArchiveFiles`).
pub fn archive_files(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let gz = flate2::read::GzDecoder::new(data);
    if gz.header().is_none() {
        return err("gzip: invalid header");
    }
    let mut archive = tar::Archive::new(gz);
    let mut files = Vec::new();
    let mut remaining = MAX_CHART_SIZE;
    let entries = archive.entries().map_err(|e| Error(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error(e.to_string()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Links, devices and FIFOs are read as Helm reads them: empty files
        // (nothing is written to disk, no link is ever followed).
        let special = !(kind.is_file() || kind == tar::EntryType::Continuous);
        let delimiter = if raw.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = raw.split(delimiter).collect();
        let joined = parts[1..].join("/");
        if joined.starts_with('/') {
            return err("chart illegally contains absolute paths");
        }
        let name = flux_go::path::clean(&joined);
        if name == "." {
            return err(format!(
                "chart illegally contains content outside the base directory: {raw:?}"
            ));
        }
        if name.starts_with("..") {
            return err("chart illegally references parent directory");
        }
        let b = name.as_bytes();
        if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
            return err("chart contains illegally named files");
        }
        if parts[0] == "Chart.yaml" {
            return err("chart yaml not in base directory");
        }
        let size = entry.header().size().map_err(|e| Error(e.to_string()))?;
        if size > remaining {
            return err(format!(
                "decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"
            ));
        }
        if size > MAX_FILE_SIZE {
            return err(format!(
                "decompressed chart file {raw:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            ));
        }
        let size = if special { 0 } else { size };
        let mut buf = Vec::with_capacity(size as usize);
        if !special {
            (&mut entry)
                .take(remaining)
                .read_to_end(&mut buf)
                .map_err(|e| Error(e.to_string()))?;
        }
        remaining -= buf.len() as u64;
        if (buf.len() as u64) < size || remaining == 0 {
            return err(format!(
                "decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"
            ));
        }
        files.push((name, strip_bom(buf)));
    }
    if files.is_empty() {
        return err("no files in chart archive");
    }
    Ok(files)
}

/// Helm's `LoadFiles`: sorts files into the chart's parts.
fn load_files(files: Vec<(String, Vec<u8>)>, depth: usize) -> Result<Chart, Error> {
    if depth > MAX_DEPTH {
        return err(format!("subcharts nest deeper than {MAX_DEPTH} levels"));
    }
    let mut c = Chart::default();
    let mut have_meta = false;
    for (name, data) in &files {
        if name == "Chart.yaml" {
            c.metadata = decode_metadata(data, &c.metadata)
                .map_err(|e| Error(format!("cannot load Chart.yaml: {e}")))?;
            have_meta = true;
            if c.metadata.api_version.is_empty() {
                c.metadata.api_version = "v1".to_string();
            }
        }
    }
    let mut subcharts: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (name, data) in files {
        match name.as_str() {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => {
                let dependencies = decode_requirements(&data)
                    .map_err(|e| Error(format!("cannot load {name}: {e}")))?
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect();
                let lock = Lock {
                    raw: data.clone(),
                    dependencies,
                };
                if name == "Chart.lock" {
                    c.lock = Some(lock);
                } else if c.metadata.api_version == "v1" {
                    c.lock = Some(lock);
                    c.files.push(File { name, data });
                }
            }
            "values.yaml" => {
                c.values = yaml::read_values(&data)
                    .map_err(|e| Error(format!("cannot load values.yaml: {e}")))?;
                c.raw_values = Some(data);
            }
            "values.schema.json" => c.schema = Some(data),
            "requirements.yaml" => {
                have_meta = true;
                let deps = decode_requirements(&data)
                    .map_err(|e| Error(format!("cannot load requirements.yaml: {e}")))?;
                if let Some(deps) = deps {
                    c.metadata.dependencies = Some(deps);
                }
                if c.metadata.api_version == "v1" {
                    c.files.push(File { name, data });
                }
            }
            n if n.starts_with("templates/") => c.templates.push(File { name, data }),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    c.files.push(File { name, data });
                    continue;
                }
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or_default().to_string();
                subcharts
                    .entry(cname)
                    .or_default()
                    .push((rest.to_string(), data));
            }
            _ => c.files.push(File { name, data }),
        }
    }
    if !have_meta {
        return err("Chart.yaml file is missing");
    }
    validate(&mut c.metadata).map_err(|e| Error(format!("validation: {e}")))?;
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let loaded = if n.ends_with(".tgz") {
            let Some((fname, data)) = files.into_iter().next() else {
                continue;
            };
            if fname != n {
                return err(format!(
                    "error unpacking subchart tar in {}: expected {n}, got {fname}",
                    c.name()
                ));
            }
            archive_files(&data).and_then(|f| load_files(f, depth + 1))
        } else {
            let inner: Vec<(String, Vec<u8>)> = files
                .into_iter()
                .filter_map(|(f, d)| f.split_once('/').map(|(_, rest)| (rest.to_string(), d)))
                .collect();
            load_files(inner, depth + 1)
        };
        match loaded {
            Ok(sc) => c.dependencies.push(sc),
            Err(e) => {
                return err(format!(
                    "error unpacking subchart {n} in {}: {}",
                    c.name(),
                    e.0
                ));
            }
        }
    }
    Ok(c)
}

/// Go's `unicode.IsSpace` → ' ', unprintable runes dropped.
fn sanitize(s: &mut String) {
    if s.chars()
        .all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace()))
    {
        return;
    }
    *s = s
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}') {
                None
            } else {
                Some(c)
            }
        })
        .collect();
}

/// Helm's `Metadata.Validate` (which also sanitises the strings), without
/// the `validation: ` prefix.
pub(crate) fn validate_metadata(md: &mut Metadata) -> Result<(), String> {
    validate(md)
}

fn validate(md: &mut Metadata) -> Result<(), String> {
    for s in [
        &mut md.name,
        &mut md.description,
        &mut md.home,
        &mut md.icon,
        &mut md.condition,
        &mut md.tags,
        &mut md.app_version,
        &mut md.kube_version,
    ] {
        sanitize(s);
    }
    md.sources.iter_mut().for_each(sanitize);
    md.keywords.iter_mut().for_each(sanitize);
    if md.api_version.is_empty() {
        return Err("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return Err("chart.metadata.name is required".into());
    }
    if md.name == "." || md.name == ".." {
        return Err(format!("chart.metadata.name {:?} is not allowed", md.name));
    }
    if md.name.contains('/') || md.name.ends_with('/') {
        return Err(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return Err("chart.metadata.version is required".into());
    }
    if md.version.parse::<flux_semver::Version>().is_err() {
        return Err(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return Err("chart.metadata.type must be application or library".into());
    }
    for m in &mut md.maintainers {
        let Some(m) = m else {
            return Err("maintainers must not contain empty or null nodes".into());
        };
        sanitize(&mut m.name);
        sanitize(&mut m.email);
        sanitize(&mut m.url);
    }
    let mut seen = std::collections::HashSet::new();
    for d in md.dependencies.iter_mut().flatten() {
        let Some(d) = d else {
            return Err("dependencies must not contain empty or null nodes".into());
        };
        sanitize(&mut d.name);
        sanitize(&mut d.version);
        sanitize(&mut d.repository);
        sanitize(&mut d.condition);
        d.tags.iter_mut().for_each(sanitize);
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !seen.insert(key.clone()) {
            return Err(format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

/// A scalar bound for a Go string field (sigs.k8s.io/yaml turns numbers
/// and booleans into their text).
pub(crate) fn to_string_field(v: &Yaml, field: &str) -> Result<String, String> {
    Ok(match v {
        Yaml::Null => String::new(),
        Yaml::String(s) => s.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Uint(u) => u.to_string(),
        Yaml::Float(f) if f.is_nan() => "NaN".to_string(),
        // sigs.k8s.io/yaml spells a float for a string field as a float32:
        // beyond its range it is infinite.
        Yaml::Float(f) if (*f as f32).is_infinite() => {
            if *f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
        }
        Yaml::Float(f) => flux_yaml::format_g32(*f as f32),
        other => return Err(type_error(other, field, "string")),
    })
}

fn to_string_list(v: &Yaml, field: &str) -> Result<Vec<String>, String> {
    match v {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Seq(items) => items.iter().map(|i| to_string_field(i, field)).collect(),
        other => Err(type_error(other, field, "[]string")),
    }
}

fn to_bool(v: &Yaml, field: &str) -> Result<bool, String> {
    match v {
        Yaml::Null => Ok(false),
        Yaml::Bool(b) => Ok(*b),
        other => Err(type_error(other, field, "bool")),
    }
}

/// Entries of a mapping in the order `encoding/json` applies them (sorted
/// keys: the JSON text is marshalled from a Go map), each matched to a
/// field name case-insensitively.
fn fields<'a>(v: &'a Yaml, wanted: &[&'static str]) -> Vec<(&'static str, &'a Yaml)> {
    let Yaml::Map(entries) = v else {
        return Vec::new();
    };
    let mut sorted: Vec<&(String, Yaml)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (k, val) in sorted {
        let exact = wanted.iter().find(|w| **w == k.as_str());
        let found = exact.or_else(|| wanted.iter().find(|w| w.eq_ignore_ascii_case(k)));
        if let Some(w) = found {
            out.push((*w, val));
        }
    }
    out
}

fn decode_metadata(data: &[u8], base: &Metadata) -> Result<Metadata, String> {
    let v = yaml::first_document(data)?;
    decode_metadata_value(&v, base)
}

/// `chart.Metadata` decoded from a YAML value as sigs.k8s.io/yaml decodes
/// it (Chart.yaml, and the metadata part of an index entry).
pub(crate) fn decode_metadata_value(v: &Yaml, base: &Metadata) -> Result<Metadata, String> {
    let v = v.clone();
    let mut md = base.clone();
    match &v {
        Yaml::Map(_) | Yaml::Null => {}
        other => return Err(type_error_top(other, "chart.Metadata")),
    }
    let f = |k: &str| format!("Metadata.{k}");
    for (k, val) in fields(
        &v,
        &[
            "name",
            "home",
            "sources",
            "version",
            "description",
            "keywords",
            "maintainers",
            "icon",
            "apiVersion",
            "condition",
            "tags",
            "appVersion",
            "deprecated",
            "annotations",
            "kubeVersion",
            "dependencies",
            "type",
        ],
    ) {
        match k {
            "name" => md.name = to_string_field(val, &f(k))?,
            "home" => md.home = to_string_field(val, &f(k))?,
            "sources" => md.sources = to_string_list(val, &f(k))?,
            "version" => md.version = to_string_field(val, &f(k))?,
            "description" => md.description = to_string_field(val, &f(k))?,
            "keywords" => md.keywords = to_string_list(val, &f(k))?,
            "maintainers" => md.maintainers = decode_maintainers(val)?,
            "icon" => md.icon = to_string_field(val, &f(k))?,
            "apiVersion" => md.api_version = to_string_field(val, &f(k))?,
            "condition" => md.condition = to_string_field(val, &f(k))?,
            "tags" => md.tags = to_string_field(val, &f(k))?,
            "appVersion" => md.app_version = to_string_field(val, &f(k))?,
            "deprecated" => md.deprecated = to_bool(val, &f(k))?,
            "annotations" => md.annotations = decode_string_map(val, &f(k))?,
            "kubeVersion" => md.kube_version = to_string_field(val, &f(k))?,
            "dependencies" => md.dependencies = decode_dependencies(val, "Metadata.dependencies")?,
            "type" => md.chart_type = to_string_field(val, &f(k))?,
            _ => {}
        }
    }
    Ok(md)
}

fn type_error_top(found: &Yaml, go_type: &str) -> String {
    type_error(found, "", go_type).replace(" Go struct field  of type", " Go value of type")
}

fn decode_string_map(v: &Yaml, field: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    match v {
        Yaml::Null => Ok(None),
        Yaml::Map(entries) => {
            let mut out = BTreeMap::new();
            for (k, val) in entries {
                out.insert(k.clone(), to_string_field(val, field)?);
            }
            Ok(Some(out))
        }
        other => Err(type_error(other, field, "map[string]string")),
    }
}

fn decode_maintainers(v: &Yaml) -> Result<Vec<Option<Maintainer>>, String> {
    let items = match v {
        Yaml::Null => return Ok(Vec::new()),
        Yaml::Seq(items) => items,
        other => {
            return Err(type_error(
                other,
                "Metadata.maintainers",
                "[]*chart.Maintainer",
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Yaml::Null => out.push(None),
            Yaml::Map(_) => {
                let mut m = Maintainer::default();
                for (k, val) in fields(item, &["name", "email", "url"]) {
                    let field = format!("Maintainer.maintainers.{k}");
                    let s = to_string_field(val, &field)?;
                    match k {
                        "name" => m.name = s,
                        "email" => m.email = s,
                        _ => m.url = s,
                    }
                }
                out.push(Some(m));
            }
            other => {
                return Err(type_error(
                    other,
                    "Metadata.maintainers",
                    "chart.Maintainer",
                ));
            }
        }
    }
    Ok(out)
}

fn decode_dependencies(v: &Yaml, field: &str) -> Result<Option<Vec<Option<Dependency>>>, String> {
    let items = match v {
        Yaml::Null => return Ok(None),
        Yaml::Seq(items) => items,
        other => return Err(type_error(other, field, "[]*chart.Dependency")),
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Yaml::Null => out.push(None),
            Yaml::Map(_) => {
                let mut d = Dependency::default();
                for (k, val) in fields(
                    item,
                    &[
                        "name",
                        "version",
                        "repository",
                        "condition",
                        "tags",
                        "enabled",
                        "import-values",
                        "alias",
                    ],
                ) {
                    let field = format!("Dependency.dependencies.{k}");
                    match k {
                        "name" => d.name = to_string_field(val, &field)?,
                        "version" => d.version = to_string_field(val, &field)?,
                        "repository" => d.repository = to_string_field(val, &field)?,
                        "condition" => d.condition = to_string_field(val, &field)?,
                        "tags" => d.tags = to_string_list(val, &field)?,
                        "enabled" => d.enabled = to_bool(val, &field)?,
                        "import-values" => {
                            d.import_values = match val {
                                Yaml::Null => Vec::new(),
                                Yaml::Seq(items) => {
                                    items.iter().map(yaml::to_json).collect::<Result<_, _>>()?
                                }
                                other => {
                                    return Err(type_error(other, &field, "[]interface {}"));
                                }
                            }
                        }
                        _ => d.alias = to_string_field(val, &field)?,
                    }
                }
                out.push(Some(d));
            }
            other => return Err(type_error(other, field, "chart.Dependency")),
        }
    }
    Ok(Some(out))
}

fn decode_requirements(data: &[u8]) -> Result<Option<Vec<Option<Dependency>>>, String> {
    let v = yaml::first_document(data)?;
    let mut deps = None;
    for (_, val) in fields(&v, &["dependencies"]) {
        deps = decode_dependencies(val, "Metadata.dependencies")?;
    }
    Ok(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_as_sigs_yaml_reads_it() {
        let md = decode_metadata(
            b"Name: x\nversion: 1.10\nappVersion: 1.0\ndeprecated: yes\nannotations: {a: 1}\n",
            &Metadata::default(),
        )
        .unwrap();
        assert_eq!(md.name, "x");
        assert_eq!(md.version, "1.1");
        assert_eq!(md.app_version, "1");
        assert!(md.deprecated);
        assert_eq!(md.annotations.unwrap()["a"], "1");
        let e = decode_metadata(b"name: [a]\n", &Metadata::default()).unwrap_err();
        assert!(
            e.contains("cannot unmarshal array into Go struct field Metadata.name of type string"),
            "{e}"
        );
    }
}
