//! Random charts (values of every shape, templates of random sprig
//! pipelines over `.Values`, helpers, `tpl`, subcharts with globals,
//! conditions and aliases) rendered by flux-helm and by `helm template`:
//! outputs must be identical, and a chart one side refuses the other must
//! refuse.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::gotemplate::{Gen, random_data};
use super::{Difference, Files, Outcome, Rng, run_trees};

fn yaml_value(v: &serde_json::Value) -> flux_yaml::Value {
    use flux_yaml::Value as Y;
    match v {
        serde_json::Value::Null => Y::Null,
        serde_json::Value::Bool(b) => Y::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Y::Int(i),
            (None, Some(f)) => Y::Float(f),
            _ => Y::Null,
        },
        serde_json::Value::String(s) => Y::String(s.clone()),
        serde_json::Value::Array(a) => Y::Seq(a.iter().map(yaml_value).collect()),
        serde_json::Value::Object(o) => {
            Y::Map(o.iter().map(|(k, v)| (k.clone(), yaml_value(v))).collect())
        }
    }
}

/// What charts write: defaults, conversions, encodings, lookups into
/// maps and lists, `ternary`, `printf` with the release.
fn idiom(r: &mut Rng) -> String {
    let key = *r.pick(&["a", "b", "name", "n", "f", "s", "m", "e", "t", "x"]);
    let v = format!(".Values.{key}");
    match r.below(16) {
        0 => format!("{v} | default \"fallback\""),
        1 => format!("{v} | toJson"),
        2 => format!("{v} | toYaml"),
        3 => ".Values.str | upper | trunc 5".to_string(),
        4 => ".Values.str | b64enc".to_string(),
        5 => ".Values.str | sha256sum | trunc 8".to_string(),
        6 => ".Values.flag | ternary \"on\" \"off\"".to_string(),
        7 => format!("printf \"%v-%s\" {v} .Release.Name"),
        8 => ".Values.list | len".to_string(),
        9 => ".Values.map | keys | sortAlpha | join \",\"".to_string(),
        10 => format!("hasKey .Values.map \"{key}\""),
        11 => format!("{v} | kindOf"),
        12 => format!("{v} | empty"),
        13 => ".Values.list | first | default \"none\"".to_string(),
        14 => format!("dig \"{key}\" \"d\" .Values.map"),
        _ => format!("coalesce {v} .Values.str \"z\""),
    }
}

/// A template whose output is a ConfigMap: every generated pipeline is a
/// quoted data value, so the manifest stays YAML whatever it prints.
fn config_map(r: &mut Rng, name: &str, global: bool) -> String {
    let mut t = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\n  labels:\n    chart: {{{{ .Chart.Name }}}}-{{{{ .Chart.Version }}}}\ndata:\n"
    );
    for i in 0..1 + r.below(4) {
        let p = if r.chance(15) {
            let t0 = *r.pick(&['s', 's', 'i', 'l', 'm', 'b', 'a']);
            Gen::for_values(r).pipeline_of(t0)
        } else {
            idiom(r)
        };
        let _ = writeln!(t, "  k{i}: {{{{ {p} | toString | quote }}}}");
    }
    if r.chance(40) {
        t.push_str("{{- range $k, $v := .Values.map }}\n  {{ $k }}: {{ $v | toString | quote }}\n{{- end }}\n");
    }
    match r.below(5) {
        0 => t.push_str("  yaml: |\n{{ toYaml .Values.map | indent 4 }}\n"),
        1 => t.push_str("  json: {{ toJson .Values | quote }}\n"),
        2 => t.push_str("  helper: {{ include \"h.name\" . | quote }}\n"),
        3 => t.push_str("  tpl: {{ tpl (toString .Values.str) . | quote }}\n"),
        _ => t.push_str(
            "{{- with .Values.map }}\n  keys: {{ keys . | sortAlpha | join \",\" | quote }}\n{{- end }}\n",
        ),
    }
    if global && r.chance(50) {
        t.push_str("  global: {{ .Values.global.env | default \"none\" | quote }}\n");
    }
    t
}

fn values_yaml(r: &mut Rng, global: bool) -> String {
    let mut data = random_data(r);
    if global {
        data.insert(
            "global".to_string(),
            serde_json::json!({"env": *r.pick(&["prod", "1", "true", ""])}),
        );
    }
    flux_yaml::emit(&yaml_value(&serde_json::Value::Object(data)))
}

fn case(seed: u64, i: usize) -> Files {
    let r = &mut Rng::fork(seed, i);
    let mut files: Files = Vec::new();
    let mut add = |path: &str, text: String| files.push((path.to_string(), text.into_bytes()));
    let with_sub = r.chance(40);
    let mut chart = String::from("apiVersion: v2\nname: app\nversion: 1.2.3\n");
    if with_sub {
        let alias = r.chance(30);
        let _ = write!(
            chart,
            "dependencies:\n- name: sub\n  version: 0.1.0\n{}{}",
            if alias { "  alias: child\n" } else { "" },
            if r.chance(40) {
                "  condition: sub.enabled,child.enabled\n"
            } else {
                ""
            }
        );
        add(
            "app/charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.1.0\n".to_string(),
        );
        add("app/charts/sub/values.yaml", values_yaml(r, false));
    }
    let global = r.chance(40);
    if with_sub {
        add(
            "app/charts/sub/templates/cm.yaml",
            config_map(r, "sub", global),
        );
    }
    add("app/Chart.yaml", chart);
    let mut values = values_yaml(r, global);
    if with_sub {
        let _ = write!(
            values,
            "sub:\n  enabled: {}\n  str: from-parent\nchild:\n  enabled: {}\n",
            r.pick(&["true", "false"]),
            r.pick(&["true", "false"])
        );
    }
    add("app/values.yaml", values);
    let mut g = Gen::for_values(r);
    let helper = g.pipeline_of('s');
    add(
        "app/templates/_helpers.tpl",
        format!(
            "{{{{- define \"h.name\" -}}}}\n{{{{ {helper} | toString | trunc 63 }}}}\n{{{{- end }}}}\n"
        ),
    );
    for t in 0..1 + r.below(2) {
        add(
            &format!("app/templates/cm{t}.yaml"),
            config_map(r, &format!("cm{t}"), global),
        );
    }
    files
}

fn render_both(dir: &Path) -> Result<(Outcome, Outcome), String> {
    let helm = flux_testenv::tool("helm").map_err(|e| e.to_string())?;
    let home = dir.join(".home");
    let out = Command::new(&helm)
        .args(["template", "rel", "app"])
        .current_dir(dir)
        .env("HOME", &home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", home.join("kubeconfig"))
        .output()
        .map_err(|e| format!("running helm: {e}"))?;
    let theirs = if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let ours = flux_helm::Chart::load(&dir.join("app"))
        .map_err(|e| e.to_string())
        .and_then(|chart| {
            let opts = flux_helm::TemplateOptions {
                release_name: "rel".to_string(),
                ..flux_helm::TemplateOptions::default()
            };
            flux_helm::template(&chart, &opts).map_err(|e| e.cli_message())
        });
    Ok((theirs, ours))
}

pub fn run(cases: usize, seed: u64) -> Result<Vec<Difference>, String> {
    run_trees("helm", cases, seed, &case, &render_both, 10)
}
