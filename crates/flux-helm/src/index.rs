//! Helm repository indexes (`index.yaml`), read as Flux's source
//! controller reads them and written back as it stores them.
//!
//! Reading (`IndexFromBytes`): JSON when the bytes are valid JSON, else
//! strict YAML (unknown fields and repeated keys refused); `apiVersion`
//! required; each chart version defaults its `apiVersion` to `v1`, is
//! validated as chart metadata (and sanitised), and is dropped when invalid
//! (a repeated dependency name is tolerated: some repositories strip
//! aliases); versions sorted newest first.
//!
//! Writing ([`IndexFile::to_json`]): `json.MarshalIndent(index, "", "  ")`
//! of Helm's `repo.IndexFile`, field for field — the bytes of the
//! HelmRepository artifact, whose digest upstream reports.

use std::collections::BTreeMap;

use flux_yaml::Value as Yaml;
use serde_json::{Map, Value as Json};

use crate::chart::Metadata;

/// One version of a chart in an index.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartVersion {
    /// The chart's metadata (`name`, `version`, …).
    pub metadata: Metadata,
    /// `urls` (`None` when absent: written as `null`).
    pub urls: Option<Vec<String>>,
    /// `created`.
    pub created: GoTimeText,
    /// `removed`.
    pub removed: bool,
    /// `digest`.
    pub digest: String,
    checksum: String,
    engine: String,
    tiller_version: String,
    url: String,
}

/// A time as Go's `time.Time` round-trips it through JSON (RFC 3339,
/// nanoseconds without trailing zeros, the offset kept; zero time when
/// absent).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GoTimeText {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds.
    pub nanos: u32,
    /// Offset from UTC in seconds.
    pub offset: i32,
    zero: bool,
}

/// The versions of one chart (`None`: a null entry, kept as Helm keeps it).
pub type Versions = Option<Vec<Option<ChartVersion>>>;

/// An index.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexFile {
    server_info: Option<Map<String, Json>>,
    /// `apiVersion`.
    pub api_version: String,
    generated: GoTimeText,
    /// `entries`: chart name → versions, newest first (`None` for a null
    /// entry, kept as Helm keeps it).
    pub entries: BTreeMap<String, Versions>,
    public_keys: Option<Vec<String>>,
    annotations: Option<BTreeMap<String, String>>,
}

const METADATA_FIELDS: [&str; 17] = [
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
];
const VERSION_FIELDS: [&str; 8] = [
    "urls",
    "created",
    "removed",
    "digest",
    "checksum",
    "engine",
    "tillerVersion",
    "url",
];

impl IndexFile {
    /// Reads an index (`IndexFromBytes` of the source controller).
    pub fn parse(data: &[u8]) -> Result<IndexFile, String> {
        if data.is_empty() {
            return Err("empty index.yaml file".to_string());
        }
        let strict = !is_json(data);
        // YAML in the layout every generator writes: one version at a time
        // (the same values; anything unusual is read whole, below).
        // (YAML is read strictly, JSON is not: `strict` is YAML.)
        let split = if strict {
            std::str::from_utf8(data)
                .ok()
                .and_then(crate::index_chunks::split)
                .and_then(|layout| Self::from_layout(&layout))
        } else {
            None
        };
        let mut index = match split {
            Some(index) => index,
            None => Self::from_document(data, strict)?,
        };
        index.normalise()?;
        Ok(index)
    }

    /// `apiVersion` required; each version defaulted, validated (invalid
    /// ones dropped) and the versions sorted newest first.
    fn normalise(&mut self) -> Result<(), String> {
        if self.api_version.is_empty() {
            return Err("no API version specified".to_string());
        }
        for versions in self.entries.values_mut().flatten() {
            normalise_versions(versions);
        }
        Ok(())
    }

    fn empty() -> IndexFile {
        IndexFile {
            server_info: None,
            api_version: String::new(),
            generated: GoTimeText::zero(),
            entries: BTreeMap::new(),
            public_keys: None,
            annotations: None,
        }
    }

    /// The whole document as one tree (consumed as it is read: each chart
    /// version's part is freed once decoded).
    fn from_document(data: &[u8], strict: bool) -> Result<IndexFile, String> {
        let doc = crate::yaml::first_document(data).map_err(|e| e.to_string())?;
        let top = match doc {
            Yaml::Map(top) => top,
            Yaml::Null => return Err("no API version specified".to_string()),
            other => return Err(crate::yaml::field_type_error(&other, "", "repo.IndexFile")),
        };
        let mut index = Self::empty();
        for (key, value) in top {
            index.apply_field(&key, value, strict)?;
        }
        Ok(index)
    }

    /// The index from its split layout, one version parsed at a time;
    /// `None` when any piece does not read on its own (the whole document
    /// is read then, for its exact result or error).
    fn from_layout(layout: &crate::index_chunks::Layout<'_>) -> Option<IndexFile> {
        let mut index = Self::head_of(layout)?;
        for (name, items) in &layout.charts {
            index
                .entries
                .insert((*name).to_string(), Some(layout_versions(items)?));
        }
        Some(index)
    }

    /// The index without its entries from the layout's head; `None` when
    /// the head does not read on its own or names no `apiVersion`.
    fn head_of(layout: &crate::index_chunks::Layout<'_>) -> Option<IndexFile> {
        let mut index = Self::empty();
        match crate::yaml::first_document(layout.head.as_bytes()).ok()? {
            Yaml::Map(top) => {
                for (key, value) in top {
                    index.apply_field(&key, value, true).ok()?;
                }
            }
            Yaml::Null => {}
            _ => return None,
        }
        Some(index)
    }

    fn apply_field(&mut self, key: &str, value: Yaml, strict: bool) -> Result<(), String> {
        match field(key, &["serverInfo", "apiVersion", "generated", "entries", "publicKeys", "annotations"]) {
            Some("serverInfo") => {
                self.server_info = match crate::yaml::to_json(&value).map_err(|e| e.to_string())? {
                    Json::Null => None,
                    Json::Object(m) => Some(m),
                    _ => return Err("json: cannot unmarshal into Go struct field IndexFile.serverInfo of type map[string]interface {}".to_string()),
                }
            }
            Some("apiVersion") => self.api_version = string(&value, "IndexFile.apiVersion")?,
            Some("generated") => self.generated = time(&value)?,
            Some("entries") => self.entries = entries(value, strict)?,
            Some("publicKeys") => self.public_keys = strings(&value, "IndexFile.publicKeys")?,
            Some("annotations") => self.annotations = string_map(&value, "IndexFile.annotations")?,
            _ if strict => return Err(format!("error unmarshaling JSON: while decoding JSON: json: unknown field \"{key}\"")),
            _ => {}
        }
        Ok(())
    }

    /// [`IndexFile::parse`] reading the whole document as one tree (the
    /// reference the split reading is checked against).
    #[doc(hidden)]
    pub fn parse_whole(data: &[u8]) -> Result<IndexFile, String> {
        let strict = !is_json(data);
        let mut index = Self::from_document(data, strict)?;
        index.normalise()?;
        Ok(index)
    }

    /// Whether `data` is read one version at a time (the split layout,
    /// every piece reading on its own) rather than as one document.
    #[doc(hidden)]
    pub fn reads_in_pieces(data: &[u8]) -> bool {
        !is_json(data)
            && std::str::from_utf8(data)
                .ok()
                .and_then(crate::index_chunks::split)
                .and_then(|layout| Self::from_layout(&layout))
                .is_some()
    }

    /// The versions of `chart`, newest first.
    pub fn versions(&self, chart: &str) -> impl Iterator<Item = &ChartVersion> {
        self.entries
            .get(chart)
            .into_iter()
            .flatten()
            .flatten()
            .flatten()
    }

    /// `json.MarshalIndent(index, "", "  ")`, written one chart version at
    /// a time (a large index never exists twice in memory as a tree).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1 << 16);
        let _ = self.render(&mut out, &mut |_| Ok(()));
        out
    }

    /// [`IndexFile::to_json`] written to `w` as it is produced (a large
    /// index's JSON is never whole in memory).
    pub fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut out = String::with_capacity(1 << 20);
        self.render(&mut out, &mut |buffer: &mut String| {
            w.write_all(buffer.as_bytes())?;
            buffer.clear();
            Ok(())
        })
    }

    /// Renders into `out`, handing it to `flush` after each chart version
    /// once it holds a MiB, and at the end.
    fn render(
        &self,
        out: &mut String,
        flush: &mut dyn FnMut(&mut String) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.render_head(out);
        for (i, (name, versions)) in self.entries.iter().enumerate() {
            render_chart(i, name, versions.as_deref(), out, flush)?;
        }
        self.render_tail(!self.entries.is_empty(), out);
        flush(out)
    }

    /// The document up to the first chart of `entries`.
    fn render_head(&self, out: &mut String) {
        use crate::release::{go_json_indent_into, go_string};
        out.push('{');
        if let Some(info) = self.server_info.as_ref().filter(|i| !i.is_empty()) {
            out.push_str("\n  \"serverInfo\": ");
            go_json_indent_into(&crate::release::sorted(&Json::Object(info.clone())), 1, out);
            out.push(',');
        }
        out.push_str("\n  \"apiVersion\": ");
        out.push_str(&go_string(&self.api_version));
        out.push_str(",\n  \"generated\": ");
        out.push_str(&go_string(&self.generated.to_string()));
        out.push_str(",\n  \"entries\": {");
    }

    /// The document after the last chart of `entries` (`entries`: whether
    /// any were written).
    fn render_tail(&self, entries: bool, out: &mut String) {
        use crate::release::go_json_indent_into;
        if !entries {
            out.push('}');
        } else {
            out.push_str("\n  }");
        }
        if let Some(keys) = self.public_keys.as_ref().filter(|k| !k.is_empty()) {
            out.push_str(",\n  \"publicKeys\": ");
            go_json_indent_into(
                &Json::Array(keys.iter().cloned().map(Json::String).collect()),
                1,
                out,
            );
        }
        if let Some(a) = self.annotations.as_ref().filter(|a| !a.is_empty()) {
            out.push_str(",\n  \"annotations\": ");
            go_json_indent_into(
                &Json::Object(
                    a.iter()
                        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                        .collect(),
                ),
                1,
                out,
            );
        }
        out.push_str("\n}");
    }
}

/// One chart of `entries` (the `i`th), flushing once `out` holds a MiB.
fn render_chart(
    i: usize,
    name: &str,
    versions: Option<&[Option<ChartVersion>]>,
    out: &mut String,
    flush: &mut dyn FnMut(&mut String) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use crate::release::{go_json_indent_into, go_string};
    if i > 0 {
        out.push(',');
    }
    out.push_str("\n    ");
    out.push_str(&go_string(name));
    out.push_str(": ");
    match versions {
        None => out.push_str("null"),
        Some([]) => out.push_str("[]"),
        Some(list) => {
            out.push('[');
            for (j, v) in list.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str("\n      ");
                match v {
                    None => out.push_str("null"),
                    Some(v) => go_json_indent_into(&v.to_json(), 3, out),
                }
                if out.len() >= 1 << 20 {
                    flush(out)?;
                }
            }
            out.push_str("\n    ]");
        }
    }
    Ok(())
}

/// Whether `data` is one JSON value (checked without building it).
fn is_json(data: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok()
}

/// One chart's versions: each defaulted and validated (invalid ones
/// dropped; a repeated dependency name is tolerated), then sorted newest
/// first.
fn normalise_versions(versions: &mut Vec<Option<ChartVersion>>) {
    versions.retain_mut(|v| v.as_mut().is_none_or(normalise_version));
    // sort.Reverse(ChartVersions): newest first; Helm's `Less` puts a
    // version that does not parse first.
    versions.sort_by_cached_key(|v| std::cmp::Reverse(sort_key(v.as_ref())));
}

/// One version defaulted and validated: whether it is kept.
fn normalise_version(v: &mut ChartVersion) -> bool {
    if v.metadata.api_version.is_empty() {
        v.metadata.api_version = "v1".to_string();
    }
    match crate::chart::validate_metadata(&mut v.metadata) {
        Ok(()) => true,
        Err(e) => e.starts_with("more than one dependency with name or alias"),
    }
}

fn sort_key(v: Option<&ChartVersion>) -> SortKey {
    SortKey(v.and_then(|v| v.metadata.version.parse::<flux_semver::Version>().ok()))
}

/// Helm's `ChartVersions.Less`: a version that does not parse sorts
/// before every one that does.
#[derive(PartialEq, Eq)]
struct SortKey(Option<flux_semver::Version>);

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.cmp(b),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    }
}

/// The versions of one chart of the split layout, each parsed on its own;
/// `None` when one does not read on its own.
fn layout_versions(items: &[crate::index_chunks::Item<'_>]) -> Option<Vec<Option<ChartVersion>>> {
    let mut versions = Vec::with_capacity(items.len());
    for item in items {
        let doc = crate::yaml::first_document(item.document().as_bytes()).ok()?;
        let Yaml::Seq(mut one) = doc else {
            return None;
        };
        if one.len() != 1 {
            return None;
        }
        match one.pop()? {
            Yaml::Null => versions.push(None),
            value => versions.push(Some(chart_version(value, true).ok()?)),
        }
    }
    Some(versions)
}

/// Where [`write_stored_json`] writes: restarted from empty when the index
/// has to be read another way after writing began.
pub trait Output: std::io::Write {
    /// Discards everything written so far.
    fn restart(&mut self) -> std::io::Result<()>;
}

impl Output for Vec<u8> {
    fn restart(&mut self) -> std::io::Result<()> {
        self.clear();
        Ok(())
    }
}

impl Output for std::io::BufWriter<std::fs::File> {
    fn restart(&mut self) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        self.flush()?;
        let file = self.get_mut();
        file.set_len(0)?;
        file.rewind()
    }
}

/// Why [`write_stored_json`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The index does not read (the message [`IndexFile::parse`] gives).
    #[error("{0}")]
    Index(String),
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads the index in `data` and writes what the source controller
/// stores — exactly [`IndexFile::parse`] then [`IndexFile::write_json`] —
/// holding one chart's versions at a time: an index in the block layout
/// is never parsed whole, and its charts are read and written in name
/// order from their places in the text. Anything else is read whole.
pub fn write_stored_json(data: &[u8], out: &mut dyn Output) -> Result<(), StoreError> {
    if !data.is_empty()
        && !is_json(data)
        && let Some(layout) = std::str::from_utf8(data)
            .ok()
            .and_then(crate::index_chunks::split)
    {
        if write_layout(&layout, out)? {
            return Ok(());
        }
        out.restart()?;
    }
    let index = IndexFile::parse(data).map_err(StoreError::Index)?;
    index.write_json(out)?;
    Ok(())
}

/// [`write_stored_json`] of a split layout; `false` when a piece does not
/// read on its own (the caller then reads the whole document, for its
/// exact result or error).
fn write_layout(
    layout: &crate::index_chunks::Layout<'_>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<bool> {
    use crate::release::go_string;
    let Some(head) = IndexFile::head_of(layout) else {
        return Ok(false);
    };
    if head.api_version.is_empty() {
        return Ok(false);
    }
    let mut charts: Vec<_> = layout.charts.iter().collect();
    charts.sort_unstable_by_key(|(name, _)| *name);
    // The work, in output order: each chart's versions in runs of at most
    // `RUN`, parsed, validated and rendered on all cores; a chart is
    // written once its runs are back, sorted.
    const RUN: usize = 32;
    let mut units = Vec::new();
    for (c, (_, items)) in charts.iter().enumerate() {
        let runs = items.len().div_ceil(RUN).max(1);
        for r in 0..runs {
            let end = ((r + 1) * RUN).min(items.len());
            units.push((c, &items[r * RUN..end], r + 1 == runs));
        }
    }
    let mut out = String::with_capacity(1 << 20);
    head.render_head(&mut out);
    let mut chart: Vec<(SortKey, String)> = Vec::new();
    let mut result = Ok(true);
    crate::parallel::ordered_map(
        units.len(),
        |i| render_run(units[i].1),
        |i, rendered| {
            let (c, _, last) = units[i];
            let Some(rendered) = rendered else {
                result = Ok(false);
                return false;
            };
            chart.extend(rendered);
            if !last {
                return true;
            }
            // Newest first, equal versions in document order.
            chart.sort_by(|a, b| b.0.cmp(&a.0));
            if c > 0 {
                out.push(',');
            }
            out.push_str("\n    ");
            out.push_str(&go_string(charts[c].0));
            out.push_str(": ");
            if chart.is_empty() {
                out.push_str("[]");
            } else {
                out.push('[');
                for (j, (_, json)) in chart.drain(..).enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str("\n      ");
                    out.push_str(&json);
                }
                out.push_str("\n    ]");
            }
            if out.len() >= 1 << 20 {
                if let Err(e) = w.write_all(out.as_bytes()) {
                    result = Err(e);
                    return false;
                }
                out.clear();
            }
            true
        },
    );
    if !result? {
        return Ok(false);
    }
    head.render_tail(!charts.is_empty(), &mut out);
    w.write_all(out.as_bytes())?;
    Ok(true)
}

/// A run of one chart's versions, each parsed on its own, validated (the
/// invalid dropped) and rendered as stored, with its sort key; `None` when
/// one does not read on its own.
fn render_run(items: &[crate::index_chunks::Item<'_>]) -> Option<Vec<(SortKey, String)>> {
    let mut rendered = Vec::with_capacity(items.len());
    for version in layout_versions(items)? {
        match version {
            None => rendered.push((sort_key(None), "null".to_string())),
            Some(mut v) => {
                if normalise_version(&mut v) {
                    let mut json = String::with_capacity(4096);
                    crate::release::go_json_indent_into(&v.to_json(), 3, &mut json);
                    rendered.push((sort_key(Some(&v)), json));
                }
            }
        }
    }
    Some(rendered)
}

impl ChartVersion {
    fn to_json(&self) -> Json {
        let Json::Object(mut m) = crate::release::metadata_json(&self.metadata) else {
            return Json::Null;
        };
        m.insert(
            "urls".into(),
            self.urls.as_ref().map_or(Json::Null, |u| {
                Json::Array(u.iter().cloned().map(Json::String).collect())
            }),
        );
        m.insert("created".into(), Json::String(self.created.to_string()));
        if self.removed {
            m.insert("removed".into(), Json::Bool(true));
        }
        for (key, value) in [
            ("digest", &self.digest),
            ("checksum", &self.checksum),
            ("engine", &self.engine),
            ("tillerVersion", &self.tiller_version),
            ("url", &self.url),
        ] {
            if !value.is_empty() {
                m.insert(key.into(), Json::String(value.clone()));
            }
        }
        Json::Object(m)
    }
}

/// What a HelmChart needs of a stored index (the JSON the source
/// controller writes): each chart's versions with their `created` time and
/// `urls`, newest first. Everything else is skipped while reading, so a
/// 40 MB index costs a few megabytes.
#[derive(Debug, Default)]
pub struct ChartIndex {
    entries: std::collections::HashMap<String, Vec<LeanVersion>>,
}

/// One version in a [`ChartIndex`].
#[derive(Clone, Debug, PartialEq)]
pub struct LeanVersion {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `created`.
    pub created: GoTimeText,
    /// `urls`.
    pub urls: Vec<String>,
}

impl ChartIndex {
    /// Reads a stored index.
    pub fn from_stored_json(data: &[u8]) -> Result<ChartIndex, String> {
        #[derive(serde::Deserialize)]
        struct Stored {
            #[serde(default)]
            entries: std::collections::HashMap<String, Option<Vec<Option<StoredVersion>>>>,
        }
        #[derive(serde::Deserialize)]
        struct StoredVersion {
            #[serde(default)]
            name: String,
            #[serde(default)]
            version: String,
            #[serde(default)]
            created: String,
            #[serde(default)]
            urls: Option<Vec<String>>,
        }
        let stored: Stored = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let entries = stored
            .entries
            .into_iter()
            .map(|(name, versions)| {
                let list = versions
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .map(|v| LeanVersion {
                        name: v.name,
                        version: v.version,
                        created: GoTimeText::parse(&v.created).unwrap_or_else(GoTimeText::zero),
                        urls: v.urls.unwrap_or_default(),
                    })
                    .collect();
                (name, list)
            })
            .collect();
        Ok(ChartIndex { entries })
    }

    /// The versions of `chart` (`None` when the index has no such chart).
    pub fn versions(&self, chart: &str) -> Option<&[LeanVersion]> {
        self.entries.get(chart).map(Vec::as_slice)
    }
}

/// The struct field `key` names (Go's JSON matching: exact, else
/// case-insensitive).
fn field(key: &str, wanted: &[&'static str]) -> Option<&'static str> {
    wanted
        .iter()
        .find(|w| **w == key)
        .or_else(|| wanted.iter().find(|w| w.eq_ignore_ascii_case(key)))
        .copied()
}

fn string(v: &Yaml, path: &str) -> Result<String, String> {
    crate::chart::to_string_field(v, path)
}

fn strings(v: &Yaml, path: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        Yaml::Null => Ok(None),
        Yaml::Seq(items) => items
            .iter()
            .map(|i| string(i, path))
            .collect::<Result<_, _>>()
            .map(Some),
        other => Err(crate::yaml::field_type_error(other, path, "[]string")),
    }
}

fn string_map(v: &Yaml, path: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    match v {
        Yaml::Null => Ok(None),
        Yaml::Map(entries) => entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), string(v, path)?)))
            .collect::<Result<_, String>>()
            .map(Some),
        other => Err(crate::yaml::field_type_error(
            other,
            path,
            "map[string]string",
        )),
    }
}

fn time(v: &Yaml) -> Result<GoTimeText, String> {
    match v {
        Yaml::Null => Ok(GoTimeText::zero()),
        Yaml::String(s) => GoTimeText::parse(s).ok_or_else(|| {
            format!("parsing time \"{s}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse")
        }),
        other => Err(crate::yaml::field_type_error(other, "", "time.Time")),
    }
}

fn entries(v: Yaml, strict: bool) -> Result<BTreeMap<String, Versions>, String> {
    let map = match v {
        Yaml::Map(map) => map,
        Yaml::Null => return Ok(BTreeMap::new()),
        other => {
            return Err(crate::yaml::field_type_error(
                &other,
                "IndexFile.entries",
                "map[string]repo.ChartVersions",
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (name, versions) in map {
        let list = match versions {
            Yaml::Null => None,
            Yaml::Seq(items) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        Yaml::Null => Ok(None),
                        item => chart_version(item, strict).map(Some),
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
            other => {
                return Err(crate::yaml::field_type_error(
                    &other,
                    "IndexFile.entries",
                    "repo.ChartVersions",
                ));
            }
        };
        out.insert(name, list);
    }
    Ok(out)
}

fn chart_version(v: Yaml, strict: bool) -> Result<ChartVersion, String> {
    let map = match v {
        Yaml::Map(map) => map,
        other => {
            return Err(crate::yaml::field_type_error(
                &other,
                "IndexFile.entries",
                "repo.ChartVersion",
            ));
        }
    };
    // The metadata part through Chart.yaml's decoder; the rest here.
    let mut meta_entries = Vec::new();
    let mut cv = ChartVersion {
        metadata: Metadata::default(),
        urls: None,
        created: GoTimeText::zero(),
        removed: false,
        digest: String::new(),
        checksum: String::new(),
        engine: String::new(),
        tiller_version: String::new(),
        url: String::new(),
    };
    for (key, value) in map {
        if field(&key, &METADATA_FIELDS).is_some() {
            meta_entries.push((key, value));
            continue;
        }
        let path = |k: &str| format!("ChartVersion.entries.{k}");
        let value = &value;
        match field(&key, &VERSION_FIELDS) {
            Some("urls") => cv.urls = strings(value, &path("urls"))?,
            Some("created") => cv.created = time(value)?,
            Some("removed") => {
                cv.removed = match value {
                    Yaml::Null => false,
                    Yaml::Bool(b) => *b,
                    other => {
                        return Err(crate::yaml::field_type_error(
                            other,
                            &path("removed"),
                            "bool",
                        ));
                    }
                }
            }
            Some("digest") => cv.digest = string(value, &path("digest"))?,
            Some("checksum") => cv.checksum = string(value, &path("checksum"))?,
            Some("engine") => cv.engine = string(value, &path("engine"))?,
            Some("tillerVersion") => cv.tiller_version = string(value, &path("tillerVersion"))?,
            Some("url") => cv.url = string(value, &path("url"))?,
            _ if strict => {
                return Err(format!(
                    "error unmarshaling JSON: while decoding JSON: json: unknown field \"{key}\""
                ));
            }
            _ => {}
        }
    }
    cv.metadata =
        crate::chart::decode_metadata_value(&Yaml::Map(meta_entries), &Metadata::default())?;
    Ok(cv)
}

impl GoTimeText {
    fn zero() -> Self {
        GoTimeText {
            zero: true,
            ..Default::default()
        }
    }

    /// Parses RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`).
    pub fn parse(s: &str) -> Option<GoTimeText> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return None;
            }
            let digits = &s[start..end];
            nanos = format!("{digits:0<9}").parse().ok()?;
            i = end;
        }
        let offset = match b.get(i)? {
            b'Z' if i + 1 == b.len() => 0,
            c @ (b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
                let h = num(i + 1..i + 3)?;
                let m = num(i + 4..i + 6)?;
                if h > 23 || m > 59 {
                    return None;
                }
                let o = (h * 3600 + m * 60) as i32;
                if *c == b'-' { -o } else { o }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let local = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(GoTimeText {
            secs: local - i64::from(offset),
            nanos,
            offset,
            zero: false,
        })
    }
}

impl std::fmt::Display for GoTimeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.zero {
            return f.write_str("0001-01-01T00:00:00Z");
        }
        let t =
            flux_gotemplate::sprig::GoTime::utc(self.secs, self.nanos).with_zone(self.offset, "");
        f.write_str(&t.format_rfc3339_nano())
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_as_go_marshals_them() {
        for (input, output) in [
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.120000Z", "2024-01-02T03:04:05.12Z"),
            (
                "2024-02-29T23:59:59.999999999+02:00",
                "2024-02-29T23:59:59.999999999+02:00",
            ),
            ("2021-06-30T10:00:00-07:30", "2021-06-30T10:00:00-07:30"),
            ("2021-06-30T10:00:00+00:00", "2021-06-30T10:00:00Z"),
        ] {
            assert_eq!(
                GoTimeText::parse(input).unwrap().to_string(),
                output,
                "{input}"
            );
        }
        for bad in [
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00",
        ] {
            assert!(GoTimeText::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(GoTimeText::zero().to_string(), "0001-01-01T00:00:00Z");
    }

    /// Helm's layout is read one version at a time (the split reading is
    /// used, not handed back), with the whole reading's result; layouts it
    /// does not handle are handed back.
    #[test]
    fn helm_layout_is_read_one_version_at_a_time() {
        let text = "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    description: |\n      x\n        y\n  - name: a\n    version: 2.0.0\n  b:\n    - name: b\n      version: 0.1.0\n      keywords: [x, y]\ngenerated: \"2024-01-01T00:00:00Z\"\n";
        let layout = crate::index_chunks::split(text).unwrap();
        assert_eq!(layout.charts.len(), 2);
        assert_eq!(layout.charts[0].1.len(), 2);
        let mut split = IndexFile::from_layout(&layout).unwrap();
        split.normalise().unwrap();
        assert_eq!(split, IndexFile::parse_whole(text.as_bytes()).unwrap());
        for text in [
            "apiVersion: v1\nentries: {}\n",
            "---\napiVersion: v1\nentries:\n",
            "apiVersion: v1\nentries:\n  a:\n  - x: &y 1\n  - z: *y\n",
        ] {
            let handed_back = crate::index_chunks::split(text)
                .and_then(|l| IndexFile::from_layout(&l))
                .is_none();
            assert!(handed_back, "{text}");
        }
    }

    #[test]
    fn indexes_are_validated_sorted_and_written_as_go_writes_them() {
        let index = IndexFile::parse(
            b"apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n    urls: [app-1.0.0.tgz]\n    created: 2024-01-02T03:04:05.5Z\n  - name: app\n    version: 1.10.0\n    description: a <b> & c\n  - name: app\n    version: not-semver\n  - name: bad/name\n    version: 2.0.0\ngenerated: 2024-01-02T03:04:05Z\n",
        )
        .unwrap();
        let versions: Vec<&str> = index
            .versions("app")
            .map(|v| v.metadata.version.as_str())
            .collect();
        assert_eq!(versions, ["1.10.0", "1.0.0"]);
        let json = index.to_json();
        assert!(json.starts_with("{\n  \"apiVersion\": \"v1\",\n  \"generated\": \"2024-01-02T03:04:05Z\",\n  \"entries\": {\n    \"app\": [\n      {\n        \"name\": \"app\",\n        \"version\": \"1.10.0\",\n        \"description\": \"a \\u003cb\\u003e \\u0026 c\",\n        \"apiVersion\": \"v1\",\n        \"urls\": null,\n        \"created\": \"0001-01-01T00:00:00Z\"\n      },"), "{json}");
        assert!(
            IndexFile::parse(b"entries: {}\n")
                .unwrap_err()
                .contains("no API version")
        );
        assert!(
            IndexFile::parse(b"apiVersion: v1\nsurprise: 1\n")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(IndexFile::parse(br#"{"apiVersion": "v1", "surprise": 1}"#).is_ok());
    }
}
