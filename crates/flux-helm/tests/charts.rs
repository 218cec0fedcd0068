//! Differential corpus: every chart bundle of `tests/charts/*.txtar`
//! rendered by us with each of its `helm template` argument lines, compared
//! byte for byte with what the real `helm template` printed
//! (`tests/charts/expected/*.out`, written only by
//! `cargo run -p flux-dev -- corpus helm`). Reports the match ratio; every case
//! must match.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::{Path, PathBuf};

use flux_helm::{Chart, TemplateOptions, ValueOptions};

/// Header lines and `(path, content)` sections of a txtar bundle.
fn parse_txtar(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut header = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let s = line.trim_end_matches('\n');
        if s.starts_with("-- ") && s.ends_with(" --") && s.len() > 6 {
            files.push((s[3..s.len() - 3].trim().to_string(), String::new()));
        } else if let Some((_, content)) = files.last_mut() {
            content.push_str(line);
        } else {
            header.push(s.to_string());
        }
    }
    (header, files)
}

fn chart_version(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("Chart.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("version:"))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .unwrap_or_else(|| "0.0.0".into())
}

fn pack(dir: &Path) {
    let base = dir.file_name().unwrap().to_string_lossy().to_string();
    let out = dir
        .parent()
        .unwrap()
        .join(format!("{base}-{}.tgz", chart_version(dir)));
    let file = std::fs::File::create(&out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(&base, dir).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes the bundle under `root`; returns the argument lines.
fn materialize(text: &str, root: &Path) -> Vec<String> {
    let (header, files) = parse_txtar(text);
    for (path, content) in files {
        let full = root.join(&path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    for h in &header {
        if let Some(spec) = h.strip_prefix("binary:") {
            use base64::Engine as _;
            let (path, data) = spec.trim().split_once(' ').unwrap();
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .unwrap();
            std::fs::write(full, bytes).unwrap();
        }
    }
    let mut runs = Vec::new();
    for h in header {
        if let Some(d) = h.strip_prefix("tgz:") {
            pack(&root.join(d.trim()));
        } else if let Some(a) = h.strip_prefix("args:") {
            runs.push(a.trim().to_string());
        }
    }
    runs
}

/// POSIX shell words (as Python's `shlex.split`).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            let n = chars.next().unwrap();
                            if !matches!(n, '"' | '\\' | '$' | '`') {
                                cur.push('\\');
                            }
                            cur.push(n);
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// What our `flux build helm` prints for `helm template ARGS` (stdout, or
/// the `Error: …` text).
fn ours(args: &str, dir: &Path) -> String {
    let words = shell_words(args);
    let mut positional = Vec::new();
    let mut opts = TemplateOptions::default();
    let mut vals = ValueOptions {
        dir: dir.to_path_buf(),
        ..ValueOptions::default()
    };
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_string(), Some(v.to_string())),
            _ => (w.clone(), None),
        };
        let mut value = || {
            inline.clone().unwrap_or_else(|| {
                i += 1;
                words[i].clone()
            })
        };
        match flag.as_str() {
            "-n" | "--namespace" => opts.namespace = value(),
            "-f" | "--values" => vals.files.push(PathBuf::from(value())),
            "--set" => vals.set.push(value()),
            "--set-string" => vals.set_string.push(value()),
            "--set-json" => vals.json.push(value()),
            "--set-file" => vals.set_file.push(value()),
            "--set-literal" => vals.set_literal.push(value()),
            "--include-crds" => opts.include_crds = true,
            "--skip-tests" => opts.skip_tests = true,
            "--no-hooks" => opts.no_hooks = true,
            "--is-upgrade" => opts.is_upgrade = true,
            "--skip-schema-validation" => opts.skip_schema_validation = true,
            "--kube-version" => match flux_helm::action::parse_kube_version(&value()) {
                Ok(v) => opts.kube_version = Some(v),
                Err(e) => return format!("Error: {e}\n"),
            },
            "-a" | "--api-versions" => opts
                .api_versions
                .extend(value().split(',').map(str::to_string)),
            "-s" | "--show-only" => opts.show_only.push(value()),
            f if f.starts_with('-') => panic!("unsupported flag {f} in {args}"),
            _ => positional.push(w.clone()),
        }
        i += 1;
    }
    opts.release_name = positional[0].clone();
    let values = match vals.merge() {
        Ok(v) => v,
        Err(e) => return format!("Error: {e}\n"),
    };
    opts.values = values;
    let chart = match Chart::load(&dir.join(&positional[1])) {
        Ok(c) => c,
        Err(e) => return format!("Error: {e}\n"),
    };
    match flux_helm::template(&chart, &opts) {
        Ok(text) => text,
        Err(e) => format!("Error: {}\n", e.cli_message()),
    }
}

#[test]
fn corpus_matches_helm_template() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().to_string();
            n.strip_suffix(".txtar").map(str::to_string)
        })
        .collect();
    names.sort();
    let filter = std::env::var("HELM_CORPUS_CASE").ok();
    let (mut total, mut same) = (0, 0);
    let mut failures = Vec::new();
    for name in &names {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(format!("{name}.txtar"))).unwrap();
        let expected_path = dir.join(format!("expected/{name}.out"));
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} missing: run cargo run -p flux-dev -- corpus helm",
                expected_path.display()
            )
        });
        let tmp = tempfile::tempdir().unwrap();
        let runs = materialize(&text, tmp.path());
        let mut got = String::new();
        for args in &runs {
            got.push_str(&format!("#### {args}\n{}", ours(args, tmp.path())));
        }
        // Compare run by run.
        let split = |s: &str| -> Vec<String> {
            s.split("#### ")
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        let (g, e) = (split(&got), split(&expected));
        assert_eq!(
            g.len(),
            e.len(),
            "{name}: stale expected file (run cargo run -p flux-dev -- corpus helm)"
        );
        for (a, b) in g.iter().zip(&e) {
            total += 1;
            if a == b {
                same += 1;
            } else {
                failures.push(format!("--- {name}\n=== ours\n{a}\n=== helm\n{b}"));
            }
        }
    }
    println!(
        "helm corpus: {same}/{total} renders identical to helm template ({} bundles)",
        names.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
