//! `flux-dev bench gotemplate [ITEMS] [ITERATIONS]`: a Helm-like chart —
//! a helper library with deep `include` chains, and a main template that
//! loops over ITEMS services with nested ranges, dicts and sprig calls —
//! rendered by flux-gotemplate (in this process) and by Go's text/template
//! with sprig (`gotemplate-oracle bench`, with the same `include`), in the
//! same run. Outputs must be identical; prints parse time, time per
//! render and the ratio.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use flux_gotemplate::{Func, Template, Value, sprig};

/// The helper library: names, labels, selectors, annotations — each layer
/// includes the previous ones, as real charts' `_helpers.tpl` do.
const HELPERS: &str = r#"{{- define "chart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "chart.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- define "chart.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "chart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "chart.labels" -}}
helm.sh/chart: {{ include "chart.chart" . }}
{{ include "chart.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "svc.name" -}}
{{- printf "%s-%s" (include "chart.fullname" .root) .svc.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "svc.labels" -}}
{{ include "chart.labels" .root }}
app.kubernetes.io/component: {{ .svc.name }}
{{- range $k, $v := .svc.labels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}
{{- define "svc.image" -}}
{{- $tag := default .root.Chart.AppVersion .svc.image.tag -}}
{{- printf "%s/%s:%s" (default "docker.io" .svc.image.registry) .svc.image.repository (toString $tag) -}}
{{- end -}}
{{- define "svc.env" -}}
{{- $env := merge (dict) .svc.env .root.Values.globalEnv -}}
{{- range $k := keys $env | sortAlpha }}
- name: {{ $k | upper | replace "-" "_" }}
  value: {{ index $env $k | toString | quote }}
{{- end }}
{{- end -}}
{{- define "svc.ports" -}}
{{- range $i, $p := .svc.ports }}
- name: {{ $p.name | default (printf "port-%d" $i) }}
  containerPort: {{ $p.port }}
  protocol: {{ $p.protocol | default "TCP" | upper }}
{{- end }}
{{- end -}}
"#;

const MAIN: &str = r#"{{- range $i, $svc := .Values.services }}
{{- $ctx := dict "root" $ "svc" $svc }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "svc.name" $ctx }}
  labels:
{{ include "svc.labels" $ctx | indent 4 }}
  annotations:
    checksum/config: {{ toJson $svc.env | sha256sum | trunc 16 }}
spec:
  replicas: {{ $svc.replicas | default 1 }}
  selector:
    matchLabels:
{{ include "chart.selectorLabels" $ | indent 6 }}
  template:
    spec:
      containers:
        - name: {{ $svc.name }}
          image: {{ include "svc.image" $ctx | quote }}
          {{- if $svc.args }}
          args: {{ toJson $svc.args }}
          {{- end }}
          env:
{{- include "svc.env" $ctx | indent 12 }}
          ports:
{{- include "svc.ports" $ctx | indent 12 }}
          resources:
            limits:
              cpu: {{ mulf 0.1 (add1 (mod $i 8)) }}
              memory: {{ printf "%dMi" (mul 64 (add1 (mod $i 4))) }}
{{- end }}
"#;

fn data(items: usize) -> serde_json::Value {
    let services: Vec<serde_json::Value> = (0..items)
        .map(|i| {
            serde_json::json!({
                "name": format!("service-{i:05}"),
                "replicas": (i % 5) + 1,
                "image": {"repository": format!("team-{}/app-{i}", i % 17), "tag": if i % 3 == 0 { serde_json::Value::Null } else { serde_json::json!(format!("v1.{}.{}", i % 9, i % 4)) }},
                "labels": {"tier": if i % 2 == 0 { "frontend" } else { "backend" }, "cost-center": format!("cc-{}", i % 11)},
                "env": {"log-level": "info", "port": 8080 + (i % 7), "feature-x": i % 2 == 0},
                "ports": [{"name": "http", "port": 8080}, {"port": 9090, "protocol": "udp"}],
                "args": if i % 4 == 0 { serde_json::json!(["--verbose", format!("--id={i}")]) } else { serde_json::Value::Null },
            })
        })
        .collect();
    serde_json::json!({
        "Chart": {"Name": "platform", "Version": "1.2.3+build.7", "AppVersion": "4.5.6"},
        "Release": {"Name": "prod", "Namespace": "apps", "Service": "Helm"},
        "Values": {"nameOverride": "", "fullnameOverride": "", "globalEnv": {"cluster": "eu-1", "region": "west"}, "services": services},
    })
}

fn funcs() -> std::collections::HashMap<String, Func> {
    let mut f = sprig::functions();
    f.insert(
        "include".into(),
        Func::new("string,interface {}", "string,error", |ctx, a| {
            ctx.execute(a[0].as_str().unwrap_or(""), &a[1])
                .map(Value::string)
                .map_err(|e| e.to_string())
        }),
    );
    f
}

fn ns(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64
}

/// Runs the benchmark; prints a Markdown table.
pub fn gotemplate(items: usize, iterations: usize) -> Result<(), String> {
    let oracle = flux_testenv::tool("gotemplate-oracle").map_err(|e| e.to_string())?;
    let dir =
        std::env::temp_dir().join(format!("flux-dev-bench-gotemplate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let data_json = data(items);
    std::fs::write(dir.join("_helpers.tpl"), HELPERS).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("main.tpl"), MAIN).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("data.json"), data_json.to_string()).map_err(|e| e.to_string())?;
    let go_out_file = dir.join("go-output.yaml");

    // Go, in its own process, under `/usr/bin/time` for its peak memory.
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(&oracle)
        .arg("bench")
        .arg(&dir)
        .arg(iterations.to_string())
        .env("ORACLE_BENCH_OUTPUT", &go_out_file)
        .output()
        .map_err(|e| format!("running {}: {e}", oracle.display()))?;
    if !out.status.success() {
        return Err(format!(
            "gotemplate-oracle bench: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let report: BTreeMap<String, f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .and_then(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        })
        .collect();
    // `/usr/bin/time` writes the peak RSS (KiB) as the last line of stderr.
    let go_peak_kib: f64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let go_parse = report.get("parse_ns").copied().unwrap_or(f64::NAN);
    let go_exec = report.get("exec_ns_per_op").copied().unwrap_or(f64::NAN);

    // Ours, here: the same files, parse once, render ITERATIONS times.
    let value = Value::from_json(&data_json);
    // Parse as often as Go does (at most 50 times); the mean.
    let parses = iterations.clamp(1, 50);
    let functions = funcs();
    let start = Instant::now();
    let mut t = Template::new("main.tpl", functions.clone());
    for _ in 0..parses {
        t = Template::new("main.tpl", functions.clone());
        for name in ["_helpers.tpl", "main.tpl"] {
            let text = std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())?;
            t.parse(name, &text).map_err(|e| e.to_string())?;
        }
    }
    let our_parse = ns(start.elapsed()) / parses as f64;
    let mut output = String::new();
    let start = Instant::now();
    for _ in 0..iterations {
        output = t.execute("main.tpl", &value).map_err(|e| e.to_string())?;
    }
    let our_exec = ns(start.elapsed()) / iterations as f64;
    let our_peak_kib = peak_rss_kib();
    let go_output = std::fs::read_to_string(&go_out_file).map_err(|e| e.to_string())?;
    let identical = go_output == output;
    let _ = std::fs::remove_dir_all(&dir);
    if !identical {
        let at = go_output
            .bytes()
            .zip(output.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "outputs differ at byte {at}: go {:?} / ours {:?}",
            &go_output
                .get(at.saturating_sub(40)..(at + 40).min(go_output.len()))
                .unwrap_or(""),
            &output
                .get(at.saturating_sub(40)..(at + 40).min(output.len()))
                .unwrap_or("")
        ));
    }
    println!(
        "gotemplate: {items} services, {} helper templates, output {} KiB, {iterations} renders; outputs identical: {identical}",
        HELPERS.matches("define").count(),
        output.len() / 1024
    );
    println!("| step | flux-gotemplate | Go text/template + sprig | ratio (Go / ours) |");
    println!("|---|---|---|---|");
    println!(
        "| parse (helpers + main) | {:.3} ms | {:.3} ms | {:.1}× |",
        our_parse / 1e6,
        go_parse / 1e6,
        go_parse / our_parse
    );
    println!(
        "| render ({items} services) | {:.2} ms | {:.2} ms | {:.2}× |",
        our_exec / 1e6,
        go_exec / 1e6,
        go_exec / our_exec
    );
    println!(
        "| peak memory (whole process) | {:.0} MiB | {:.0} MiB | {:.1}× |",
        our_peak_kib / 1024.0,
        go_peak_kib / 1024.0,
        go_peak_kib / our_peak_kib
    );
    Ok(())
}

/// This process' peak resident memory so far (`VmHWM`, KiB).
fn peak_rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}
