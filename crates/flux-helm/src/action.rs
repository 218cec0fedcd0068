//! `helm template` / a client-only `helm install`: user values merged as
//! Helm's CLI merges them, dependencies processed, values coalesced,
//! templates rendered, notes separated, manifests and hooks sorted, and
//! the output assembled exactly as `helm template` prints it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use flux_gotemplate::Value;

use crate::chart::Chart;
use crate::engine::{Capabilities, Engine, ReleaseInfo, RenderValues};
use crate::manifest::Hook;
use crate::strvals;
use crate::values::{Node, as_table, coalesce_values, new_table, process_dependencies};

/// Where user values come from, applied in Helm's order: files (later
/// win, maps merged), then `--set-json`, `--set`, `--set-string`,
/// `--set-file`, `--set-literal`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueOptions {
    /// The folder relative paths are read from (empty: the current one).
    pub dir: PathBuf,
    /// `-f/--values` files.
    pub files: Vec<PathBuf>,
    /// `--set-json`
    pub json: Vec<String>,
    /// `--set`
    pub set: Vec<String>,
    /// `--set-string`
    pub set_string: Vec<String>,
    /// `--set-file`
    pub set_file: Vec<String>,
    /// `--set-literal`
    pub set_literal: Vec<String>,
}

fn merge_maps(
    mut a: serde_json::Map<String, serde_json::Value>,
    b: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    for (k, v) in b {
        if let serde_json::Value::Object(vm) = v {
            if let Some(serde_json::Value::Object(am)) = a.remove(&k) {
                a.insert(k, serde_json::Value::Object(merge_maps(am, vm)));
            } else {
                a.insert(k, serde_json::Value::Object(vm));
            }
            continue;
        }
        a.insert(k, v);
    }
    a
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        format!("open {}: {what}", path.display())
    })
}

impl ValueOptions {
    /// The merged user values (Helm's `values.Options.MergeValues`).
    pub fn merge(&self) -> Result<serde_json::Map<String, serde_json::Value>, crate::ValuesError> {
        let mut base = serde_json::Map::new();
        for f in &self.files {
            let name = f.display().to_string();
            let data = read_file(&self.dir.join(f))?;
            let current = crate::yaml::read_values(&data)
                .map_err(|e| format!("failed to parse {name}: {e}"))?;
            base = merge_maps(base, current);
        }
        let mut m: BTreeMap<String, Value> = base
            .iter()
            .map(|(k, v)| (k.clone(), crate::yaml::to_value(v)))
            .collect();
        for s in &self.json {
            strvals::parse_into(s, &mut m, strvals::Mode::Json)
                .map_err(|_| format!("failed parsing --set-json data {s}"))?;
        }
        for s in &self.set {
            strvals::parse_into(s, &mut m, strvals::Mode::Typed)
                .map_err(|e| format!("failed parsing --set data: {e}"))?;
        }
        for s in &self.set_string {
            strvals::parse_into(s, &mut m, strvals::Mode::String)
                .map_err(|e| format!("failed parsing --set-string data: {e}"))?;
        }
        for s in &self.set_file {
            let reader = |name: &str| -> Result<Value, String> {
                read_file(&self.dir.join(name))
                    .map(|b| Value::string(String::from_utf8_lossy(&b).into_owned()))
            };
            strvals::parse_file_into(s, &mut m, &reader)
                .map_err(|e| format!("failed parsing --set-file data: {e}"))?;
        }
        for s in &self.set_literal {
            strvals::parse_into(s, &mut m, strvals::Mode::Literal)
                .map_err(|e| format!("failed parsing --set-literal data: {e}"))?;
        }
        Ok(m.iter()
            .map(|(k, v)| (k.clone(), crate::yaml::from_value(v)))
            .collect())
    }
}

/// What to render, as `helm template`'s flags say it.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateOptions {
    /// `NAME` (`release-name` when not given).
    pub release_name: String,
    /// `-n/--namespace`.
    pub namespace: String,
    /// User values (see [`ValueOptions::merge`]).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// `--include-crds`
    pub include_crds: bool,
    /// `--skip-tests`
    pub skip_tests: bool,
    /// `--no-hooks`
    pub no_hooks: bool,
    /// `--is-upgrade`
    pub is_upgrade: bool,
    /// `--kube-version`
    pub kube_version: Option<String>,
    /// `--api-versions` (added to the defaults).
    pub api_versions: Vec<String>,
    /// The API versions a cluster serves (its discovery, as Helm's
    /// `GetVersionSet`), replacing the defaults when rendering against it.
    pub cluster_api_versions: Option<Vec<String>>,
    /// `--show-only` patterns.
    pub show_only: Vec<String>,
    /// `--skip-schema-validation`
    pub skip_schema_validation: bool,
    /// `.Release.Revision` (1 for an install; an upgrade renders the
    /// revision it will store).
    pub revision: i64,
    /// How a post-renderer sees the hooks (Helm v4's strategies).
    pub post_render_strategy: PostRenderStrategy,
    /// Split documents as Helm v4 does (the last document of a file keeps
    /// its trailing whitespace in the manifest), as upstream's
    /// helm-controller stores them; `helm template` v3 trims.
    pub helm4_manifests: bool,
}

/// How hooks meet a post-renderer (Helm v4's `PostRenderStrategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PostRenderStrategy {
    /// Hooks and templates in one stream (Helm v4's default).
    #[default]
    Combined,
    /// Hooks and templates post-rendered as two streams.
    Separate,
    /// Only the templates are post-rendered (Helm v3's behaviour).
    NoHooks,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            values: serde_json::Map::new(),
            include_crds: false,
            skip_tests: false,
            no_hooks: false,
            is_upgrade: false,
            kube_version: None,
            api_versions: Vec::new(),
            cluster_api_versions: None,
            post_render_strategy: PostRenderStrategy::Combined,
            show_only: Vec::new(),
            skip_schema_validation: false,
            revision: 1,
            helm4_manifests: false,
        }
    }
}

/// A rendered release.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The manifest text (`---\n# Source: …` documents, CRDs first when
    /// asked for), as stored in a release.
    pub manifest: String,
    /// Hooks, in install order.
    pub hooks: Vec<Hook>,
    /// `NOTES.txt` of the chart.
    pub notes: String,
    /// The chart as a release stores it (processed metadata and values).
    /// Helm stores neither the values the templates saw nor anything a
    /// template did to them: a template that makes them hold themselves
    /// (`set`) leaves the stored chart and config as they were.
    pub chart: serde_json::Value,
}

/// A render that failed, with the text `helm template` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError {
    /// The message (without `Error: `).
    pub message: String,
    /// Whether Helm had started a release (its CLI then adds a hint about
    /// `--debug`).
    pub after_render_started: bool,
}

impl RenderError {
    /// What `helm template` prints after `Error: ` (with its `--debug`
    /// hint when the render had started).
    pub fn cli_message(&self) -> String {
        if self.after_render_started {
            format!(
                "{}\n\nUse --debug flag to render out invalid YAML",
                self.message
            )
        } else {
            self.message.clone()
        }
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RenderError {}

fn early(message: String) -> RenderError {
    RenderError {
        message,
        after_render_started: false,
    }
}

/// `chartutil.ParseKubeVersion` (`1.20` → `v1.20`, `v1.28.3-gke.1` →
/// `v1.28.3`), with Helm's `--kube-version` error.
pub fn parse_kube_version(s: &str) -> Result<String, crate::KubeVersionError> {
    let fail = |why: String| crate::KubeVersionError(format!("invalid kube version '{s}': {why}"));
    let t = s.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let end = t
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || (c == '.'
                    && t[..i].ends_with(|d: char| d.is_ascii_digit())
                    && t[i + 1..].starts_with(|d: char| d.is_ascii_digit())))
        })
        .map_or(t.len(), |(i, _)| i);
    let numbers = &t[..end];
    if numbers.is_empty() {
        return Err(fail(format!("could not parse {s:?} as version")));
    }
    let comps: Vec<&str> = numbers.split('.').collect();
    if comps.len() < 2 {
        return Err(fail(format!("illegal version string {s:?}")));
    }
    let mut out = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i == 0 && c.starts_with('0') && *c != "0" {
            return Err(fail(format!(
                "illegal zero-prefixed version component {c:?} in {s:?}"
            )));
        }
        let n: u64 = c.parse().map_err(|e| {
            fail(format!(
                "illegal non-numeric version component {c:?} in {s:?}: strconv.ParseUint: parsing {c:?}: {e}"
            ))
        })?;
        out.push(n.to_string());
    }
    Ok(format!("v{}", out.join(".")))
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`,
/// at most 53 characters.
fn valid_release_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 53 {
        return false;
    }
    name.split('.').all(|label| {
        let b = label.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter().all(|c| alnum(c) || *c == b'-')
    })
}

fn compatible(constraint: &str, version: &str) -> bool {
    let Ok(v) = version.parse::<flux_semver::Version>() else {
        return false;
    };
    constraint
        .parse::<flux_semver::Constraints>()
        .is_ok_and(|c| c.check(&v))
}

/// Renders `chart` as `helm install --dry-run` without a cluster would
/// (Helm's `Install.Run` in client-only mode, `engine` deciding `lookup`).
pub fn render_release(
    chart: &Chart,
    opts: &TemplateOptions,
    engine: &Engine,
) -> Result<Rendered, RenderError> {
    if !matches!(chart.metadata.chart_type.as_str(), "" | "application") {
        return Err(early(format!(
            "{} charts are not installable",
            chart.metadata.chart_type
        )));
    }
    if let Some(reqs) = &chart.metadata.dependencies {
        let missing: Vec<&str> = reqs
            .iter()
            .flatten()
            .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
            .map(|r| r.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(early(format!(
                "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
                missing.join(", ")
            )));
        }
    }
    if !valid_release_name(&opts.release_name) {
        return Err(early(format!(
            "release name {:?}: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53",
            opts.release_name
        )));
    }
    let user = as_table(&crate::yaml::map_value(&opts.values)).unwrap_or_else(new_table);
    let mut root = Node::new(chart);
    process_dependencies(&mut root, &user).map_err(|e| early(e.into()))?;
    let mut caps = Capabilities::default();
    if let Some(kv) = &opts.kube_version {
        caps.kube_version = kv.clone();
    }
    if let Some(served) = &opts.cluster_api_versions {
        caps.api_versions = served.clone();
    }
    caps.api_versions.extend(opts.api_versions.iter().cloned());
    let values = coalesce_values(&root, &user).map_err(|e| early(e.into()))?;
    if !opts.skip_schema_validation {
        crate::schema::validate_chart(&root, &values).map_err(|e| {
            early(format!(
                "values don't meet the specifications of the schema(s) in the following chart(s):\n{e}"
            ))
        })?;
    }
    let started = |message: String| RenderError {
        message,
        after_render_started: true,
    };
    if !root.meta.kube_version.is_empty()
        && !compatible(&root.meta.kube_version, &caps.kube_version)
    {
        return Err(started(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            root.meta.kube_version, caps.kube_version
        )));
    }
    let render_values = RenderValues {
        values: values.clone(),
        release: ReleaseInfo {
            name: opts.release_name.clone(),
            namespace: opts.namespace.clone(),
            revision: opts.revision,
            is_upgrade: opts.is_upgrade,
            is_install: !opts.is_upgrade,
        },
        capabilities: caps,
    };
    // Manifests are read on a second thread while the templates render.
    let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
    let (rendered, mut parsed) = std::thread::scope(|s| {
        let reader = std::thread::Builder::new()
            .name("helm-manifests".into())
            .stack_size(64 << 20)
            .spawn_scoped(s, move || {
                let mut out = std::collections::HashMap::new();
                for (name, content) in rx {
                    if crate::manifest::is_manifest_file(&name, &content) {
                        let docs = crate::manifest::parse_file(&name, &content);
                        out.insert(name, docs);
                    }
                }
                out
            });
        let rendered =
            crate::engine::render_with(engine, &root, &render_values, &mut |name, out| {
                let _ = tx.send((name.to_string(), out.to_string()));
            });
        drop(tx);
        let parsed = match reader {
            Ok(handle) => handle.join().unwrap_or_default(),
            Err(_) => std::collections::HashMap::new(),
        };
        (rendered, parsed)
    });
    let mut files = rendered.map_err(|e| started(e.into()))?;
    let notes_name = format!("{}/templates/NOTES.txt", root.name());
    let mut notes = String::new();
    files.retain(|k, v| {
        if k.ends_with("NOTES.txt") {
            if *k == notes_name {
                // Text: a byte of a Go string that is not UTF-8 is U+FFFD.
                notes.push_str(&flux_gotemplate::gostr::to_text(v));
            }
            return false;
        }
        true
    });
    if opts.helm4_manifests {
        parsed.clear();
    }
    if let Some(post_render) = &engine.post_render {
        files = match opts.post_render_strategy {
            PostRenderStrategy::Combined => post_render(files)
                .map_err(|e| started(format!("error while running post render on files: {e}")))?,
            strategy => {
                // Hooks apart from the templates: post-rendered as their own
                // stream (`Separate`) or left as rendered (`NoHooks`).
                let (hooks, manifests) =
                    crate::manifest::sort_parsed(&files, &mut |path, content| {
                        parsed.remove(path).unwrap_or_else(|| {
                            crate::manifest::parse_file_with(path, content, opts.helm4_manifests)
                        })
                    })
                    .map_err(started)?;
                let join = |map: &mut BTreeMap<String, String>, key: &str, text: &str| {
                    map.entry(key.to_string())
                        .and_modify(|existing| {
                            existing.push_str("\n---\n");
                            existing.push_str(text);
                        })
                        .or_insert_with(|| text.to_string());
                };
                let mut hook_files = BTreeMap::new();
                for h in &hooks {
                    join(&mut hook_files, &h.path, &h.manifest);
                }
                let mut manifest_files = BTreeMap::new();
                for m in &manifests {
                    join(&mut manifest_files, &m.name, &m.content);
                }
                let mut out = BTreeMap::new();
                let groups = [
                    (
                        "hooks",
                        hook_files,
                        strategy == PostRenderStrategy::Separate,
                    ),
                    ("manifests", manifest_files, true),
                ];
                for (group, group_files, rendered) in groups {
                    if group_files.is_empty() {
                        continue;
                    }
                    let group_files = if rendered {
                        post_render(group_files).map_err(|e| {
                            started(format!("error while running post render on {group}: {e}"))
                        })?
                    } else {
                        group_files
                    };
                    for (path, text) in group_files {
                        join(&mut out, &path, &text);
                    }
                }
                out
            }
        };
        // What the manifest reader parsed is of the files before.
        parsed.clear();
    }
    let (hooks, manifests) = crate::manifest::sort_parsed(&files, &mut |path, content| {
        parsed.remove(path).unwrap_or_else(|| {
            crate::manifest::parse_file_with(path, content, opts.helm4_manifests)
        })
    })
    .map_err(started)?;
    let mut manifest = String::new();
    if opts.include_crds {
        let crds = crds_of(chart, &root);
        for (name, data) in crds {
            manifest.push_str(&format!(
                "---\n# Source: {name}\n{}\n",
                String::from_utf8_lossy(&data)
            ));
        }
    }
    for m in &manifests {
        manifest.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
    }
    // The chart's own values, which templates never see (they get a copy).
    let chart_values = match crate::yaml::from_value(&Value::Map(root.values.clone())) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Rendered {
        chart: crate::release::chart_json(chart, &root.meta, &chart_values),
        manifest,
        hooks,
        notes,
    })
}

/// CRDs of the enabled charts, named by their (aliased) chart paths.
fn crds_of(_chart: &Chart, root: &Node<'_>) -> Vec<(String, Vec<u8>)> {
    fn walk(n: &Node<'_>, path: &str, out: &mut Vec<(String, Vec<u8>)>) {
        for f in &n.chart.files {
            let lower = f.name.to_ascii_lowercase();
            if f.name.starts_with("crds/")
                && (lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json"))
            {
                out.push((format!("{path}/{}", f.name), f.data.clone()));
            }
        }
        for d in &n.deps {
            walk(d, &format!("{path}/charts/{}", d.name()), out);
        }
    }
    let mut out = Vec::new();
    walk(root, root.name(), &mut out);
    out
}

/// What `helm template NAME CHART …` prints on success.
pub fn template_output(r: &Rendered, opts: &TemplateOptions) -> Result<String, RenderError> {
    let mut manifests = String::new();
    manifests.push_str(r.manifest.trim());
    manifests.push('\n');
    if !opts.no_hooks {
        for h in &r.hooks {
            if opts.skip_tests && h.events.iter().any(|e| e == "test") {
                continue;
            }
            manifests.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
        }
    }
    if opts.show_only.is_empty() {
        return Ok(manifests);
    }
    let docs = crate::manifest::split_manifests(&manifests);
    let mut out = String::new();
    for pattern in &opts.show_only {
        let mut missing = true;
        for doc in &docs {
            let Some(rest) = doc
                .find("# Source: ")
                .map(|i| &doc[i + "# Source: ".len()..])
            else {
                continue;
            };
            let line = rest.lines().next().unwrap_or_default();
            let Some((_, name)) = line.split_once('/') else {
                continue;
            };
            if !crate::ignore::glob_match(pattern, name).unwrap_or(false) {
                continue;
            }
            out.push_str(&format!("---\n{doc}\n"));
            missing = false;
        }
        if missing {
            return Err(early(format!("could not find template {pattern} in chart")));
        }
    }
    Ok(out)
}

/// Renders `chart` and prints it as `helm template` does, on a thread with
/// a stack deep enough for Helm's recursion limits.
pub fn template(chart: &Chart, opts: &TemplateOptions) -> Result<String, RenderError> {
    template_with(chart, opts, Engine::default)
}

/// [`template`] with the engine `engine` makes on the render thread (a
/// post-renderer, a `lookup`).
pub fn template_with(
    chart: &Chart,
    opts: &TemplateOptions,
    engine: impl FnOnce() -> Engine + Send,
) -> Result<String, RenderError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("helm-render".into())
            .stack_size(crate::RENDER_STACK)
            .spawn_scoped(s, || {
                let r = render_release(chart, opts, &engine())?;
                template_output(&r, opts)
            })
            .map_err(|e| early(format!("cannot start the render thread: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(early("the render thread failed".into())))
    })
}
