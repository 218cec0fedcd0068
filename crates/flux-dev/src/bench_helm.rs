//! `flux-dev bench helm [SUBCHARTS] [TEMPLATES]`: generated charts rendered
//! by `flux-dev helm-template` (flux-helm) and by the real `helm template`
//! in the same run, each in its own process under `/usr/bin/time` (the
//! median of seven runs); the outputs must be identical.
//!
//! - umbrella: SUBCHARTS subcharts (default 50) × TEMPLATES templates
//!   (default 20) sharing a library of helpers, globals and per-subchart
//!   values;
//! - large: one chart the size of the largest community charts (300
//!   templates, 3,000 lines of helpers).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::bench::{Measure, measure};

const HELPERS: &str = r#"{{- define "lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "lib.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- define "lib.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
{{ include "lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- define "lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

fn template(i: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ include "lib.fullname" . }}}}-{i}
  labels:
    {{{{- include "lib.labels" . | nindent 4 }}}}
spec:
  replicas: {{{{ .Values.replicas }}}}
  selector:
    matchLabels:
      {{{{- include "lib.selectorLabels" . | nindent 6 }}}}
  template:
    metadata:
      annotations:
        checksum/config: {{{{ .Values.config | toYaml | sha256sum }}}}
      labels:
        {{{{- include "lib.selectorLabels" . | nindent 8 }}}}
    spec:
      containers:
        - name: main
          image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag | default .Chart.AppVersion }}}}"
          env:
          {{{{- range $k, $v := .Values.env }}}}
            - name: {{{{ $k | upper }}}}
              value: {{{{ $v | quote }}}}
          {{{{- end }}}}
          resources:
            {{{{- toYaml .Values.resources | nindent 12 }}}}
{{{{- if .Values.service.enabled }}}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{{{ include "lib.fullname" . }}}}-{i}
  labels:
    {{{{- include "lib.labels" . | nindent 4 }}}}
spec:
  ports:
    - port: {{{{ .Values.service.port }}}}
  selector:
    {{{{- include "lib.selectorLabels" . | nindent 4 }}}}
{{{{- end }}}}
"#
    )
}

const VALUES: &str = "replicas: 2\nimage:\n  repository: registry.example.com/app\n  tag: \"\"\nenv:\n  log_level: info\n  region: eu-west-1\n  feature_x: \"true\"\nresources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\nservice:\n  enabled: true\n  port: 8080\nconfig:\n  a: 1\n  b: [x, y]\n";

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, text).map_err(|e| e.to_string())
}

fn chart_yaml(name: &str, deps: &[String]) -> String {
    let mut s = format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\nappVersion: \"2.3.4\"\n");
    if !deps.is_empty() {
        s.push_str("dependencies:\n");
        for d in deps {
            let _ = writeln!(s, "  - name: {d}\n    version: 1.0.0");
        }
    }
    s
}

fn umbrella(dir: &Path, subcharts: usize, templates: usize) -> Result<(), String> {
    let names: Vec<String> = (0..subcharts).map(|i| format!("svc{i:02}")).collect();
    let mut deps = names.clone();
    deps.push("lib".into());
    write(&dir.join("Chart.yaml"), &chart_yaml("umbrella", &deps))?;
    let mut values = String::from("global:\n  labels:\n    team: platform\n    tier: backend\n");
    for n in &names {
        let _ = writeln!(values, "{n}:\n  replicas: 3");
    }
    write(&dir.join("values.yaml"), &values)?;
    write(
        &dir.join("charts/lib/Chart.yaml"),
        "apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n",
    )?;
    write(&dir.join("charts/lib/templates/_helpers.tpl"), HELPERS)?;
    for n in &names {
        let sub = dir.join("charts").join(n);
        write(&sub.join("Chart.yaml"), &chart_yaml(n, &[]))?;
        write(&sub.join("values.yaml"), VALUES)?;
        for t in 0..templates {
            write(&sub.join(format!("templates/t{t:02}.yaml")), &template(t))?;
        }
    }
    Ok(())
}

fn large(dir: &Path, templates: usize, helper_lines: usize) -> Result<(), String> {
    write(&dir.join("Chart.yaml"), &chart_yaml("large", &[]))?;
    write(
        &dir.join("values.yaml"),
        &format!("global:\n  labels:\n    team: platform\n{VALUES}"),
    )?;
    let mut helpers = String::from(HELPERS);
    let mut i = 0;
    while helpers.lines().count() < helper_lines {
        let _ = write!(
            helpers,
            "{{{{- define \"large.h{i}\" -}}}}\n{{{{- $x := dict \"n\" {i} \"name\" (include \"lib.name\" .) }}}}\n{{{{- if gt (int $x.n) 5 }}}}\nh{i}: {{{{ $x.name | upper | quote }}}}\n{{{{- else }}}}\nh{i}: {{{{ printf \"%s-%d\" $x.name $x.n }}}}\n{{{{- end }}}}\n{{{{- end }}}}\n"
        );
        i += 1;
    }
    write(&dir.join("templates/_helpers.tpl"), &helpers)?;
    for t in 0..templates {
        let mut text = template(t);
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{t}\ndata:\n  {{{{- include \"large.h{}\" . | nindent 2 }}}}\n",
            t % i.max(1)
        );
        write(&dir.join(format!("templates/t{t:03}.yaml")), &text)?;
    }
    Ok(())
}

/// The run of median wall time of `runs` runs.
fn median(program: &str, args: &[&str], runs: usize) -> Result<Measure, String> {
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(measure(program, args)?);
    }
    all.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mid = all.len() / 2;
    all.into_iter().nth(mid).ok_or_else(|| "no run".to_string())
}

fn compare(label: &str, dir: &Path, helm: &str) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me.to_string_lossy().into_owned();
    let d = dir.to_string_lossy().into_owned();
    let output = |program: &str, args: &[&str]| -> Result<Vec<u8>, String> {
        let o = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "{program} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(o.stdout)
    };
    let a = output(&me, &["helm-template", "rel", &d])?;
    let b = output(helm, &["template", "rel", &d])?;
    let ours = median(&me, &["helm-template", "rel", &d], 7)?;
    let theirs = median(helm, &["template", "rel", &d], 7)?;
    println!(
        "| {label} ({} KiB out, identical: {}) | {:.3} s, {:.0} MiB | {:.3} s, {:.0} MiB | {:.1}× time, {:.1}× memory |",
        a.len() / 1024,
        a == b,
        ours.seconds,
        ours.peak_mib,
        theirs.seconds,
        theirs.peak_mib,
        theirs.seconds / ours.seconds,
        theirs.peak_mib / ours.peak_mib
    );
    if a != b {
        return Err(format!("{label}: outputs differ"));
    }
    Ok(())
}

/// The benchmark.
pub fn helm(subcharts: usize, templates: usize) -> Result<(), String> {
    let helm = flux_testenv::tool("helm").map_err(|e| e.to_string())?;
    let helm = helm.to_string_lossy().into_owned();
    // FLUX_DEV_BENCH_DIR keeps the generated charts (for profiling).
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let base = std::env::var_os("FLUX_DEV_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let u = base.join("umbrella");
    umbrella(&u, subcharts, templates)?;
    let l = base.join("large");
    large(&l, 300, 3000)?;
    println!("| chart | flux-helm | helm template | ratio (helm / ours) |");
    println!("|---|---|---|---|");
    compare(
        &format!("umbrella: {subcharts} subcharts × {templates} templates + library"),
        &u,
        &helm,
    )?;
    compare("large: 300 templates, 3,000 helper lines", &l, &helm)?;
    Ok(())
}

/// `flux-dev helm-template NAME CHART`: what `helm template NAME CHART`
/// prints, rendered by flux-helm.
pub fn helm_template(name: &str, chart: &str) -> Result<(), String> {
    use std::io::Write;
    let chart = flux_helm::Chart::load(Path::new(chart)).map_err(|e| e.to_string())?;
    let opts = flux_helm::TemplateOptions {
        release_name: name.to_string(),
        ..flux_helm::TemplateOptions::default()
    };
    let out = flux_helm::template(&chart, &opts).map_err(|e| e.message)?;
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| e.to_string())
}
