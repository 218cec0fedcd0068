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

/// The entries of a chart archive: (name, mtime, content), in order.
fn entries(archive: &[u8]) -> Vec<(String, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mtime = entry.header().mtime().unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.push((name, mtime, data));
    }
    out
}

fn most_subcharts(chart: &Chart) -> usize {
    chart
        .dependencies
        .iter()
        .map(most_subcharts)
        .max()
        .unwrap_or(0)
        .max(chart.dependencies.len())
}

/// Every chart folder of the Helm module that `helm package` packages,
/// packaged by us with the same modification time: the same bytes (the
/// gzip header, the tar headers, `Chart.yaml` re-marshalled); for charts
/// with several subcharts, whose order Helm's loader leaves to Go's map
/// iteration, the same entries.
#[test]
fn module_charts_package_as_helm_packages() {
    let root = module_dir();
    let mut list = Vec::new();
    charts(&root, &mut list);
    let home = tempfile::tempdir().unwrap();
    let (mut packaged, mut same, mut refused) = (0, 0, 0);
    let mut diffs = Vec::new();
    for p in list.iter().filter(|p| p.is_dir()) {
        // `helm package` stamps each entry with the time it writes it: a
        // run that crosses a second boundary (a loaded machine) has two
        // times and is packaged again, to compare with one.
        let mut attempt = 0;
        let (theirs, their_entries, archive) = loop {
            attempt += 1;
            let out = tempfile::tempdir().unwrap();
            let status = Command::new(flux_testenv::tool("helm").unwrap())
                .arg("package")
                .arg(p)
                .arg("-d")
                .arg(out.path())
                .env("HOME", home.path())
                .env("HELM_CACHE_HOME", home.path().join("cache"))
                .env("HELM_CONFIG_HOME", home.path().join("config"))
                .env("HELM_DATA_HOME", home.path().join("data"))
                .output()
                .unwrap();
            if !status.status.success() {
                break (Vec::new(), Vec::new(), None);
            }
            let archive = std::fs::read_dir(out.path())
                .unwrap()
                .find_map(|e| e.ok().map(|e| e.path()))
                .unwrap();
            let theirs = std::fs::read(&archive).unwrap();
            let their_entries = entries(&theirs);
            let one_time = their_entries.windows(2).all(|w| w[0].1 == w[1].1);
            if one_time || attempt == 5 {
                let name = archive.file_name().unwrap().to_string_lossy().into_owned();
                break (theirs, their_entries, Some(name));
            }
        };
        let Some(archive_name) = archive else {
            refused += 1;
            continue;
        };
        packaged += 1;
        let mtime = their_entries.first().map(|e| e.1).unwrap_or(0);
        let rel = p.strip_prefix(&root).unwrap().display().to_string();
        let chart = match Chart::load(p) {
            Ok(c) => c,
            Err(e) => {
                diffs.push(format!("{rel}: ours refused: {e}"));
                continue;
            }
        };
        assert_eq!(flux_helm::package::file_name(&chart), archive_name);
        let ours = match flux_helm::package::package(&chart, mtime) {
            Ok(bytes) => bytes,
            Err(e) => {
                diffs.push(format!("{rel}: ours failed: {e}"));
                continue;
            }
        };
        let identical = if most_subcharts(&chart) > 1 {
            let mut a = entries(&ours);
            let mut b = their_entries.clone();
            a.sort();
            b.sort();
            a == b && ours[..12] == theirs[..12]
        } else {
            ours == theirs
        };
        if identical {
            same += 1;
        } else {
            let a = entries(&ours);
            let first = a
                .iter()
                .zip(&their_entries)
                .find(|(x, y)| x != y)
                .map(|(x, y)| {
                    format!(
                        "ours {} {:?}\n  helm {} {:?}",
                        x.0,
                        String::from_utf8_lossy(&x.2),
                        y.0,
                        String::from_utf8_lossy(&y.2)
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} vs {} entries, or gzip bytes",
                        a.len(),
                        their_entries.len()
                    )
                });
            diffs.push(format!("{rel}\n  {first}"));
        }
    }
    println!("{}", diffs.join("\n"));
    println!(
        "helm module charts: {same}/{packaged} packaged identically to helm package ({refused} refused by helm package)"
    );
    assert!(packaged > 20, "only {packaged} charts packaged");
    assert_eq!(same, packaged, "archives differ from helm package");
}
