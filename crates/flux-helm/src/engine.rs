//! Helm's rendering engine (`pkg/engine`): every template of a chart and
//! its subcharts parsed into one set (deepest paths first, so a parent's
//! `define` wins over a subchart's), each non-partial executed with its
//! chart's built-in objects (`.Values`, `.Chart`, `.Release`, `.Files`,
//! `.Capabilities`, `.Template`, `.Subcharts`), `missingkey=zero`,
//! `<no value>` removed from the output; Helm's functions (`include` with
//! its recursion limit, `tpl`, `required`, `fail`, `toYaml`, `fromYaml`,
//! `toJson`, `fromJson`, `toToml`, `lookup`…) on top of sprig; Helm's
//! `parse error at (…)` / `execution error at (…)` rewording.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use flux_gotemplate::{Func, ListTy, MapTy, MissingKey, Object, Template, Value};

use crate::chart::{Dependency, File, Metadata};
use crate::values::{Node, Table, new_table};

/// Helm's limit on nested `include`s of one template name.
pub const RECURSION_MAX: usize = 1000;

/// What `.Capabilities` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `.Capabilities.KubeVersion.Version` (`v1.36.0`).
    pub kube_version: String,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// `.Capabilities.HelmVersion.Version`.
    pub helm_version: String,
    /// `.Capabilities.HelmVersion.GoVersion` (empty: this is not Go).
    pub go_version: String,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: crate::DEFAULT_KUBE_VERSION.to_string(),
            api_versions: crate::DEFAULT_API_VERSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            helm_version: crate::HELM_VERSION.to_string(),
            go_version: String::new(),
        }
    }
}

/// `lookup apiVersion kind namespace name`: a resource (a map), a list
/// (`items`), or an empty map when nothing is found.
pub type LookupFn = dyn Fn(&str, &str, &str, &str) -> Result<serde_json::Value, String>;

/// A post-renderer over the rendered files (name → content, NOTES and
/// partials excluded), before they are split into hooks and manifests
/// (Helm's `combined` post-render strategy); the error is reported as
/// `error while running post render on files: …`.
pub type PostRenderFn =
    dyn Fn(BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String>;

/// Engine options.
#[derive(Clone, Default)]
pub struct Engine {
    /// `missingkey=error` instead of `zero` (`helm lint --strict`).
    pub strict: bool,
    /// `lookup` against a cluster; `None` answers every lookup with an
    /// empty map, as `helm template` does.
    pub lookup: Option<Rc<LookupFn>>,
    /// The post-renderer of an install or upgrade (`None`: none).
    pub post_render: Option<Rc<PostRenderFn>>,
}

/// Go's `%v` of a struct: `{a b c}`.
fn struct_display(fields: &[Value]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|v| flux_gotemplate::gofmt::sprint(std::slice::from_ref(v)))
        .collect();
    format!("{{{}}}", parts.join(" "))
}

fn str_list(items: &[String]) -> Value {
    Value::list(ListTy::Str, items.iter().map(|s| Value::str(s)).collect())
}

fn str_map(m: Option<&BTreeMap<String, String>>) -> Value {
    Value::map(
        MapTy::Str,
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
            .unwrap_or_default(),
    )
}

/// A struct's JSON fields in order, dropping empty ones (`omitempty`).
fn json_object(pairs: Vec<(&str, Value, bool)>) -> Option<Vec<(String, Value)>> {
    Some(
        pairs
            .into_iter()
            .filter(|(_, _, keep)| *keep)
            .map(|(k, v, _)| (k.to_string(), v))
            .collect(),
    )
}

#[derive(Debug)]
struct MaintainerObj(Option<crate::chart::Maintainer>);

impl Object for MaintainerObj {
    fn type_name(&self) -> String {
        "*chart.Maintainer".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let m = self.0.clone().unwrap_or_default();
        Some(Value::string(match name {
            "Name" => m.name,
            "Email" => m.email,
            "URL" => m.url,
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        match &self.0 {
            Some(m) => format!("&{{{} {} {}}}", m.name, m.email, m.url),
            None => "<nil>".into(),
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn truth(&self) -> bool {
        self.0.is_some()
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        let m = self.0.clone()?;
        json_object(vec![
            ("name", Value::str(&m.name), !m.name.is_empty()),
            ("email", Value::str(&m.email), !m.email.is_empty()),
            ("url", Value::str(&m.url), !m.url.is_empty()),
        ])
    }
}

#[derive(Debug)]
struct DependencyObj(Dependency);

impl DependencyObj {
    fn import_values(&self) -> Value {
        Value::list(
            ListTy::Iface,
            self.0
                .import_values
                .iter()
                .map(crate::yaml::to_value)
                .collect(),
        )
    }
}

impl Object for DependencyObj {
    fn type_name(&self) -> String {
        "*chart.Dependency".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let d = &self.0;
        Some(match name {
            "Name" => Value::str(&d.name),
            "Version" => Value::str(&d.version),
            "Repository" => Value::str(&d.repository),
            "Condition" => Value::str(&d.condition),
            "Tags" => str_list(&d.tags),
            "Enabled" => Value::Bool(d.enabled),
            "ImportValues" => self.import_values(),
            "Alias" => Value::str(&d.alias),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        let d = &self.0;
        format!(
            "&{}",
            struct_display(&[
                Value::str(&d.name),
                Value::str(&d.version),
                Value::str(&d.repository),
                Value::str(&d.condition),
                str_list(&d.tags),
                Value::Bool(d.enabled),
                self.import_values(),
                Value::str(&d.alias),
            ])
        )
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        let d = &self.0;
        json_object(vec![
            ("name", Value::str(&d.name), true),
            ("version", Value::str(&d.version), !d.version.is_empty()),
            ("repository", Value::str(&d.repository), true),
            (
                "condition",
                Value::str(&d.condition),
                !d.condition.is_empty(),
            ),
            ("tags", str_list(&d.tags), !d.tags.is_empty()),
            ("enabled", Value::Bool(d.enabled), d.enabled),
            (
                "import-values",
                self.import_values(),
                !d.import_values.is_empty(),
            ),
            ("alias", Value::str(&d.alias), !d.alias.is_empty()),
        ])
    }
}

/// `.Chart`: Helm's `chart.Metadata` with `IsRoot`.
#[derive(Debug)]
pub struct ChartObj {
    meta: Metadata,
    is_root: bool,
}

impl ChartObj {
    fn maintainers(&self) -> Value {
        Value::list(
            ListTy::Iface,
            self.meta
                .maintainers
                .iter()
                .map(|m| Value::Object(Rc::new(MaintainerObj(m.clone()))))
                .collect(),
        )
    }
    fn dependencies(&self) -> Value {
        Value::list(
            ListTy::Iface,
            self.meta
                .dependencies
                .iter()
                .flatten()
                .flatten()
                .map(|d| Value::Object(Rc::new(DependencyObj(d.clone()))))
                .collect(),
        )
    }
}

impl Object for ChartObj {
    fn type_name(&self) -> String {
        "struct { chart.Metadata; IsRoot bool }".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let m = &self.meta;
        Some(match name {
            "Name" => Value::str(&m.name),
            "Home" => Value::str(&m.home),
            "Sources" => str_list(&m.sources),
            "Version" => Value::str(&m.version),
            "Description" => Value::str(&m.description),
            "Keywords" => str_list(&m.keywords),
            "Maintainers" => self.maintainers(),
            "Icon" => Value::str(&m.icon),
            "APIVersion" => Value::str(&m.api_version),
            "Condition" => Value::str(&m.condition),
            "Tags" => Value::str(&m.tags),
            "AppVersion" => Value::str(&m.app_version),
            "Deprecated" => Value::Bool(m.deprecated),
            "Annotations" => str_map(m.annotations.as_ref()),
            "KubeVersion" => Value::str(&m.kube_version),
            "Dependencies" => self.dependencies(),
            "Type" => Value::str(&m.chart_type),
            "IsRoot" => Value::Bool(self.is_root),
            "Metadata" => Value::Object(Rc::new(ChartObj {
                meta: m.clone(),
                is_root: self.is_root,
            })),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        let m = &self.meta;
        let inner = struct_display(&[
            Value::str(&m.name),
            Value::str(&m.home),
            str_list(&m.sources),
            Value::str(&m.version),
            Value::str(&m.description),
            str_list(&m.keywords),
            self.maintainers(),
            Value::str(&m.icon),
            Value::str(&m.api_version),
            Value::str(&m.condition),
            Value::str(&m.tags),
            Value::str(&m.app_version),
            Value::Bool(m.deprecated),
            str_map(m.annotations.as_ref()),
            Value::str(&m.kube_version),
            self.dependencies(),
            Value::str(&m.chart_type),
        ]);
        format!("{{{inner} {}}}", self.is_root)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        let m = &self.meta;
        let deps = m.dependencies.as_ref().is_some_and(|d| !d.is_empty());
        json_object(vec![
            ("name", Value::str(&m.name), !m.name.is_empty()),
            ("home", Value::str(&m.home), !m.home.is_empty()),
            ("sources", str_list(&m.sources), !m.sources.is_empty()),
            ("version", Value::str(&m.version), !m.version.is_empty()),
            (
                "description",
                Value::str(&m.description),
                !m.description.is_empty(),
            ),
            ("keywords", str_list(&m.keywords), !m.keywords.is_empty()),
            ("maintainers", self.maintainers(), !m.maintainers.is_empty()),
            ("icon", Value::str(&m.icon), !m.icon.is_empty()),
            (
                "apiVersion",
                Value::str(&m.api_version),
                !m.api_version.is_empty(),
            ),
            (
                "condition",
                Value::str(&m.condition),
                !m.condition.is_empty(),
            ),
            ("tags", Value::str(&m.tags), !m.tags.is_empty()),
            (
                "appVersion",
                Value::str(&m.app_version),
                !m.app_version.is_empty(),
            ),
            ("deprecated", Value::Bool(m.deprecated), m.deprecated),
            (
                "annotations",
                str_map(m.annotations.as_ref()),
                m.annotations.as_ref().is_some_and(|a| !a.is_empty()),
            ),
            (
                "kubeVersion",
                Value::str(&m.kube_version),
                !m.kube_version.is_empty(),
            ),
            ("dependencies", self.dependencies(), deps),
            ("type", Value::str(&m.chart_type), !m.chart_type.is_empty()),
            ("IsRoot", Value::Bool(self.is_root), true),
        ])
    }
}

/// `.Files`: Helm's `files` map type with its methods.
#[derive(Debug)]
pub struct FilesObj(Table);

impl FilesObj {
    fn new(files: &[File]) -> FilesObj {
        let t = new_table();
        for f in files {
            t.borrow_mut()
                .entries
                .insert(f.name.clone(), Value::Bytes(f.data.as_slice().into()));
        }
        FilesObj(t)
    }

    fn bytes(&self, name: &str) -> Rc<[u8]> {
        match self.0.borrow().entries.get(name) {
            Some(Value::Bytes(b)) => b.clone(),
            _ => Rc::from(&[][..]),
        }
    }

    fn base_map(&self, encode: bool) -> String {
        let mut m = BTreeMap::new();
        for (k, v) in &self.0.borrow().entries {
            let Value::Bytes(b) = v else { continue };
            let base = k.rsplit('/').next().unwrap_or(k).to_string();
            let text = if encode {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(b)
            } else {
                String::from_utf8_lossy(b).into_owned()
            };
            m.insert(base, Value::string(text));
        }
        crate::yaml::to_yaml(&Value::map(MapTy::Str, m))
    }
}

impl Object for FilesObj {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AsConfig" => Some(Value::string(self.base_map(false))),
            "AsSecrets" => Some(Value::string(self.base_map(true))),
            _ => None,
        }
    }
    fn method(&self, name: &str) -> Option<Func> {
        let files = self.0.clone();
        let me = FilesObj(files);
        let me = Rc::new(me);
        Some(match name {
            "Get" => Func::new("string", "string", move |_, a| {
                let n = a.first().and_then(Value::as_str).unwrap_or_default();
                // Go's string(bytes): a binary file keeps its bytes.
                Ok(Value::string(flux_gotemplate::gostr::from_bytes(
                    &me.bytes(n),
                )))
            }),
            "GetBytes" => Func::new("string", "[]uint8", move |_, a| {
                let n = a.first().and_then(Value::as_str).unwrap_or_default();
                Ok(Value::Bytes(me.bytes(n)))
            }),
            "Lines" => Func::new("string", "[]string", move |_, a| {
                let n = a.first().and_then(Value::as_str).unwrap_or_default();
                let b = me.bytes(n);
                if b.is_empty() {
                    return Ok(Value::list(ListTy::Str, Vec::new()));
                }
                let s = String::from_utf8_lossy(&b);
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Ok(Value::list(
                    ListTy::Str,
                    s.split('\n').map(Value::str).collect(),
                ))
            }),
            "Glob" => Func::new("string", "engine.files", move |_, a| {
                let pattern = a.first().and_then(Value::as_str).unwrap_or_default();
                let g = crate::glob::Glob::compile(pattern)
                    .unwrap_or_else(|| crate::glob::Glob::compile("**").unwrap_or_default());
                let out = new_table();
                for (k, v) in &me.0.borrow().entries {
                    if g.matches(k) {
                        out.borrow_mut().entries.insert(k.clone(), v.clone());
                    }
                }
                Ok(Value::Object(Rc::new(FilesObj(out))))
            }),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        flux_gotemplate::gofmt::sprint(&[Value::Map(self.0.clone())])
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_map(&self) -> Option<Table> {
        Some(self.0.clone())
    }
    fn json(&self) -> Option<Value> {
        Some(Value::Map(self.0.clone()))
    }
}

#[derive(Debug)]
struct KubeVersionObj {
    version: String,
    major: String,
    minor: String,
}

impl Object for KubeVersionObj {
    fn type_name(&self) -> String {
        "chartutil.KubeVersion".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(match name {
            "Version" | "String" | "GitVersion" => &self.version,
            "Major" => &self.major,
            "Minor" => &self.minor,
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        self.version.clone()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        json_object(vec![
            ("Version", Value::str(&self.version), true),
            ("Major", Value::str(&self.major), true),
            ("Minor", Value::str(&self.minor), true),
        ])
    }
}

#[derive(Debug)]
struct VersionSetObj(Rc<Vec<String>>);

impl Object for VersionSetObj {
    fn type_name(&self) -> String {
        "chartutil.VersionSet".into()
    }
    fn method(&self, name: &str) -> Option<Func> {
        let set = self.0.clone();
        (name == "Has").then(|| {
            Func::new("string", "bool", move |_, a| {
                let v = a.first().and_then(Value::as_str).unwrap_or_default();
                Ok(Value::Bool(set.iter().any(|x| x == v)))
            })
        })
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn as_list(&self) -> Option<Rc<flux_gotemplate::List>> {
        Some(Rc::new(flux_gotemplate::List {
            ty: ListTy::Str,
            items: self.0.iter().map(|s| Value::str(s)).collect(),
            nil: false,
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json(&self) -> Option<Value> {
        Some(str_list(&self.0))
    }
}

#[derive(Debug)]
struct BuildInfoObj {
    version: String,
    go_version: String,
}

impl Object for BuildInfoObj {
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(match name {
            "Version" => &self.version,
            "GitCommit" => "",
            "GitTreeState" => "clean",
            "GoVersion" => &self.go_version,
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        format!("{{{}  clean {}}}", self.version, self.go_version)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        json_object(vec![
            (
                "version",
                Value::str(&self.version),
                !self.version.is_empty(),
            ),
            ("git_tree_state", Value::str("clean"), true),
            (
                "go_version",
                Value::str(&self.go_version),
                !self.go_version.is_empty(),
            ),
        ])
    }
}

#[derive(Debug)]
struct CapabilitiesObj {
    kube: Rc<KubeVersionObj>,
    apis: Rc<VersionSetObj>,
    helm: Rc<BuildInfoObj>,
}

impl Object for CapabilitiesObj {
    fn type_name(&self) -> String {
        "*chartutil.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => Value::Object(self.kube.clone()),
            "APIVersions" => Value::Object(self.apis.clone()),
            "HelmVersion" => Value::Object(self.helm.clone()),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        format!(
            "&{{{} {} {}}}",
            self.kube.display_struct(),
            self.apis.display(),
            self.helm.display()
        )
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        json_object(vec![
            ("KubeVersion", self.kube.json()?, true),
            ("APIVersions", self.apis.json()?, true),
            ("HelmVersion", self.helm.json()?, true),
        ])
    }
}

impl KubeVersionObj {
    fn display_struct(&self) -> String {
        format!("{{{} {} {}}}", self.version, self.major, self.minor)
    }
}

/// The `.Capabilities` value.
pub fn capabilities_value(c: &Capabilities) -> Value {
    let (major, minor) = parse_kube_version(&c.kube_version);
    Value::Object(Rc::new(CapabilitiesObj {
        kube: Rc::new(KubeVersionObj {
            version: c.kube_version.clone(),
            major,
            minor,
        }),
        apis: Rc::new(VersionSetObj(Rc::new(c.api_versions.clone()))),
        helm: Rc::new(BuildInfoObj {
            version: c.helm_version.clone(),
            go_version: c.go_version.clone(),
        }),
    }))
}

fn parse_kube_version(v: &str) -> (String, String) {
    let v = v.trim_start_matches('v');
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().unwrap_or("0").trim_start_matches('0');
    let minor = parts.next().unwrap_or("0").trim_start_matches('0');
    let z = |s: &str| {
        if s.is_empty() {
            "0".to_string()
        } else {
            s.to_string()
        }
    };
    (z(major), z(minor))
}

/// `.Release`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// `.Release.Name`
    pub name: String,
    /// `.Release.Namespace`
    pub namespace: String,
    /// `.Release.Revision`
    pub revision: i64,
    /// `.Release.IsUpgrade`
    pub is_upgrade: bool,
    /// `.Release.IsInstall`
    pub is_install: bool,
}

impl ReleaseInfo {
    fn value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), Value::str(&self.name));
        m.insert("Namespace".into(), Value::str(&self.namespace));
        m.insert("IsUpgrade".into(), Value::Bool(self.is_upgrade));
        m.insert("IsInstall".into(), Value::Bool(self.is_install));
        m.insert("Revision".into(), Value::Int(self.revision));
        m.insert("Service".into(), Value::str("Helm"));
        Value::dict(m)
    }
}

struct Renderable {
    text: Rc<str>,
    vals: Table,
    base_path: String,
}

fn set(t: &Table, k: &str, v: Value) {
    t.borrow_mut().entries.insert(k.to_string(), v);
}

fn path_join(a: &str, b: &str) -> String {
    flux_go::path::clean(&format!("{a}/{b}"))
}

/// Builds each chart's top-level object and collects its templates.
fn all_templates(
    c: &Node<'_>,
    full_path: &str,
    parent: &Table,
    is_root: bool,
    out: &mut BTreeMap<String, Renderable>,
) -> Table {
    let subcharts = new_table();
    let next = new_table();
    set(
        &next,
        "Chart",
        Value::Object(Rc::new(ChartObj {
            meta: c.meta.clone(),
            is_root,
        })),
    );
    set(
        &next,
        "Files",
        Value::Object(Rc::new(FilesObj::new(&c.chart.files))),
    );
    let parent_get = |k: &str| {
        parent
            .borrow()
            .entries
            .get(k)
            .cloned()
            .unwrap_or(Value::Nil)
    };
    set(&next, "Release", parent_get("Release"));
    set(&next, "Capabilities", parent_get("Capabilities"));
    let values = if is_root {
        parent_get("Values")
    } else {
        let own = crate::values::as_table(&parent_get("Values"))
            .and_then(|v| crate::values::table_at(&v, c.name()));
        Value::Map(own.unwrap_or_else(new_table))
    };
    set(&next, "Values", values);
    set(&next, "Subcharts", Value::Map(subcharts.clone()));
    for child in &c.deps {
        let child_path = format!("{full_path}/charts/{}", child.name());
        let sub = all_templates(child, &child_path, &next, false, out);
        set(&subcharts, child.name(), Value::Map(sub));
    }
    let library = c.meta.chart_type.eq_ignore_ascii_case("library");
    for t in &c.chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if library && !base.starts_with('_') {
            continue;
        }
        out.insert(
            path_join(full_path, &t.name),
            Renderable {
                text: String::from_utf8_lossy(&t.data).into(),
                vals: next.clone(),
                base_path: path_join(full_path, "templates"),
            },
        );
    }
    next
}

/// Helm's order: more path segments first, then reverse lexical order.
fn sort_templates(names: &mut [String]) {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

fn warn_wrap(s: &str) -> String {
    format!("{WARN_START}{s}{WARN_END}")
}

fn cleanup_parse_error(filename: &str, e: &str) -> String {
    let tokens: Vec<&str> = e.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {e}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

fn cleanup_exec_error(filename: &str, e: &str) -> String {
    if e.starts_with("template: no template ") || e.contains("is an incomplete or empty template") {
        return e.to_string();
    }
    let tokens: Vec<&str> = e.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {e}");
    }
    if let Some(start) = tokens[2].find(WARN_START) {
        let rest = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = rest.rfind(WARN_END) {
            return format!("execution error at ({}): {}", tokens[1], &rest[..end]);
        }
    }
    e.to_string()
}

/// The function map: sprig (without `env`/`expandenv`) and Helm's own.
fn funcs(engine: &Engine) -> HashMap<String, Func> {
    let mut f = flux_gotemplate::sprig::functions();
    let included: Rc<RefCell<HashMap<String, usize>>> = Rc::default();
    let inc = included.clone();
    f.insert(
        "include".into(),
        Func::new("string,interface {}", "string,error", move |ctx, a| {
            let name = a.first().and_then(Value::as_str).unwrap_or_default().to_string();
            let data = a.get(1).cloned().unwrap_or(Value::Nil);
            {
                let mut m = inc.borrow_mut();
                let n = m.entry(name.clone()).or_insert(0);
                if *n > RECURSION_MAX {
                    return Err(format!(
                        "rendering template has a nested reference name: {name}: unable to execute template"
                    ));
                }
                *n += 1;
            }
            let r = ctx.execute(&name, &data);
            if let Some(n) = inc.borrow_mut().get_mut(&name) {
                *n = n.saturating_sub(1);
            }
            r.map(Value::string).map_err(|e| e.0)
        }),
    );
    let missing = if engine.strict {
        MissingKey::Error
    } else {
        MissingKey::Zero
    };
    f.insert(
        "tpl".into(),
        Func::new("string,interface {}", "string,error", move |ctx, a| {
            let text = a
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let data = a.get(1).cloned().unwrap_or(Value::Nil);
            let mut t = ctx.template().clone();
            t.missing_key(missing);
            let name = t.name().to_string();
            let body = t.parse_new(&name, &text).map_err(|e| {
                format!(
                    "cannot parse template {}: {}",
                    flux_gotemplate::gofmt::quote(&text),
                    e.0
                )
            })?;
            let out = ctx.execute_in(&t, &body, &data).map_err(|e| {
                format!(
                    "error during tpl function execution for {}: {}",
                    flux_gotemplate::gofmt::quote(&text),
                    e.0
                )
            })?;
            Ok(Value::string(out.replace("<no value>", "")))
        }),
    );
    f.insert(
        "required".into(),
        Func::new("string,interface {}", "interface {},error", |_, a| {
            let warn = a.first().and_then(Value::as_str).unwrap_or_default();
            let val = a.get(1).cloned().unwrap_or(Value::Nil);
            match &val {
                Value::Nil | Value::Missing => Err(warn_wrap(warn)),
                Value::Str(s) if s.is_empty() => Err(warn_wrap(warn)),
                _ => Ok(val),
            }
        }),
    );
    f.insert(
        "fail".into(),
        Func::new("string", "string,error", |_, a| {
            Err(warn_wrap(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "toYaml".into(),
        Func::new("interface {}", "string", |_, a| {
            Ok(Value::string(crate::yaml::to_yaml(
                a.first().unwrap_or(&Value::Nil),
            )))
        }),
    );
    f.insert(
        "toYamlPretty".into(),
        Func::new("interface {}", "string", |_, a| {
            Ok(Value::string(crate::yaml::to_yaml_pretty(
                a.first().unwrap_or(&Value::Nil),
            )))
        }),
    );
    f.insert(
        "toToml".into(),
        Func::new("interface {}", "string", |_, a| {
            Ok(Value::string(crate::toml::to_toml(
                a.first().unwrap_or(&Value::Nil),
            )))
        }),
    );
    f.insert(
        "fromToml".into(),
        Func::new("string", "map[string]interface {}", |_, a| {
            Ok(crate::toml::from_toml(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "fromYaml".into(),
        Func::new("string", "map[string]interface {}", |_, a| {
            Ok(crate::yaml::from_yaml(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "fromYamlArray".into(),
        Func::new("string", "[]interface {}", |_, a| {
            Ok(crate::yaml::from_yaml_array(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "toJson".into(),
        Func::new("interface {}", "string", |_, a| {
            Ok(Value::string(
                flux_gotemplate::sprig::to_json(a.first().unwrap_or(&Value::Nil), true, None)
                    .unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "fromJson".into(),
        Func::new("string", "map[string]interface {}", |_, a| {
            Ok(crate::yaml::from_json(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    f.insert(
        "fromJsonArray".into(),
        Func::new("string", "[]interface {}", |_, a| {
            Ok(crate::yaml::from_json_array(
                a.first().and_then(Value::as_str).unwrap_or_default(),
            ))
        }),
    );
    let lookup = engine.lookup.clone();
    f.insert(
        "lookup".into(),
        Func::new(
            "string,string,string,string",
            "map[string]interface {},error",
            move |_, a| {
                let s = |i: usize| a.get(i).and_then(Value::as_str).unwrap_or_default();
                match &lookup {
                    None => Ok(Value::dict(BTreeMap::new())),
                    Some(l) => match l(s(0), s(1), s(2), s(3))? {
                        serde_json::Value::Object(m) => Ok(crate::yaml::map_value(&m)),
                        _ => Ok(Value::dict(BTreeMap::new())),
                    },
                }
            },
        ),
    );
    f.insert(
        "getHostByName".into(),
        Func::new("string", "string", |_, _| Ok(Value::str(""))),
    );
    f
}

/// The top-level values of a render (`chartutil.ToRenderValues`).
pub struct RenderValues {
    /// Coalesced `.Values`.
    pub values: Table,
    /// `.Release`.
    pub release: ReleaseInfo,
    /// `.Capabilities`.
    pub capabilities: Capabilities,
}

/// Renders every template of `root` (dependencies already processed):
/// output per template path (`chart/templates/x.yaml`), partials left out.
pub fn render(
    engine: &Engine,
    root: &Node<'_>,
    vals: &RenderValues,
) -> Result<BTreeMap<String, String>, crate::TemplateError> {
    render_with(engine, root, vals, &mut |_, _| {})
}

/// [`render`], handing each template's output to `sink` as soon as it is
/// rendered (the caller reads manifests while the rest renders).
pub fn render_with(
    engine: &Engine,
    root: &Node<'_>,
    vals: &RenderValues,
    sink: &mut dyn FnMut(&str, &str),
) -> Result<BTreeMap<String, String>, crate::TemplateError> {
    let top = new_table();
    set(&top, "Values", Value::Map(vals.values.clone()));
    set(&top, "Release", vals.release.value());
    set(&top, "Capabilities", capabilities_value(&vals.capabilities));
    let mut tpls = BTreeMap::new();
    all_templates(root, root.name(), &top, true, &mut tpls);
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    sort_templates(&mut keys);
    let mut t = Template::new("gotpl", funcs(engine));
    t.missing_key(if engine.strict {
        MissingKey::Error
    } else {
        MissingKey::Zero
    });
    t.max_depth = 100_000;
    t.max_stack = crate::RENDER_STACK - (8 << 20);
    for name in &keys {
        if let Some(r) = tpls.get(name) {
            t.parse(name, &r.text)
                .map_err(|e| cleanup_parse_error(name, &e.0))?;
        }
    }
    let mut rendered = BTreeMap::new();
    for name in &keys {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let Some(r) = tpls.get(name) else { continue };
        let mut tm = BTreeMap::new();
        tm.insert("Name".to_string(), Value::str(name));
        tm.insert("BasePath".to_string(), Value::str(&r.base_path));
        set(&r.vals, "Template", Value::dict(tm));
        let out = t
            .execute_go(name, &Value::Map(r.vals.clone()))
            .map_err(|e| cleanup_exec_error(name, &e.0))?;
        let out = out.replace("<no value>", "");
        sink(name, &out);
        rendered.insert(name.clone(), out);
    }
    Ok(rendered)
}
