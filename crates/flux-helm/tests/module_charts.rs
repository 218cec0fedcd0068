//! Differential run over every chart shipped inside the Helm v3 Go module
//! (its testdata: folders and archives, read from the module cache at test
//! time, never committed): `helm template` by the real binary and by us,
//! compared byte for byte (stdout, or the `Error: …` text). Prints the
//! match ratio and each difference; every chart must match.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;

use flux_helm::{Chart, TemplateOptions};

fn module_dir() -> PathBuf {
    let out = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .expect("go env GOMODCACHE");
    let cache = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let version = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/versions.env"),
    )
    .unwrap()
    .lines()
    .find_map(|l| {
        l.strip_prefix("HELM3_VERSION=")
            .map(|v| v.trim().trim_matches('"').to_string())
    })
    .expect("HELM3_VERSION in tools/versions.env");
    PathBuf::from(cache).join(format!("helm.sh/helm/v3@{version}"))
}

/// Top-level charts: folders with a Chart.yaml and `.tgz` files, not inside
/// another chart's `charts/`.
fn charts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if p.join("Chart.yaml").is_file() {
                out.push(p);
            } else if name != "charts" {
                charts(&p, out);
            }
        } else if name.ends_with(".tgz") && !p.to_string_lossy().contains("/charts/") {
            out.push(p);
        }
    }
}

fn helm(path: &Path, home: &Path) -> String {
    let out = Command::new(flux_testenv::tool("helm").unwrap())
        .args(["template", "rel"])
        .arg(path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", home.join("kubeconfig"))
        .output()
        .unwrap();
    if out.status.success() {
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    match err.find("Error: ") {
        Some(i) => err[i..].to_string(),
        None => format!("Error: {err}"),
    }
}

fn ours(path: &Path) -> String {
    let chart = match Chart::load(path) {
        Ok(c) => c,
        Err(e) => return format!("Error: {e}\n"),
    };
    let opts = TemplateOptions {
        release_name: "rel".into(),
        ..TemplateOptions::default()
    };
    match flux_helm::template(&chart, &opts) {
        Ok(text) => text,
        Err(e) => format!("Error: {}\n", e.cli_message()),
    }
}

#[test]
fn module_charts_match_helm_template() {
    let root = module_dir();
    assert!(
        root.is_dir(),
        "{} missing: run scripts/install-deps.sh",
        root.display()
    );
    let mut list = Vec::new();
    charts(&root, &mut list);
    let home = tempfile::tempdir().unwrap();
    let mut same = 0;
    let mut diffs = Vec::new();
    for p in &list {
        let (h, o) = (helm(p, home.path()), ours(p));
        let rel = p.strip_prefix(&root).unwrap().display().to_string();
        if h == o {
            same += 1;
        } else {
            let first = h
                .lines()
                .zip(o.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("helm: {a}\n  ours: {b}"))
                .unwrap_or_else(|| {
                    format!("lengths differ: helm {} bytes, ours {}", h.len(), o.len())
                });
            diffs.push(format!("{rel}\n  {first}"));
        }
    }
    println!("{}", diffs.join("\n"));
    println!(
        "helm module charts: {same}/{} identical to helm template ({:.1}%)",
        list.len(),
        100.0 * same as f64 / list.len().max(1) as f64
    );
    assert!(
        list.len() > 50,
        "only {} charts found in {}",
        list.len(),
        root.display()
    );
    assert_eq!(same, list.len(), "charts differ from helm template");
}
