//! Reading an index one version at a time gives exactly what reading it as
//! one document gives — the same values, or the same error — on the Helm
//! module's own indexes, a large generated index, and variations that the
//! split reading must either handle or hand back to the whole reading.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::PathBuf;
use std::process::Command;

use flux_helm::index::{IndexFile, StoreError, write_stored_json};

fn same(data: &[u8], what: &str) {
    let split = IndexFile::parse(data);
    let whole = IndexFile::parse_whole(data);
    // What the HelmRepository stores, read and written chart by chart.
    let mut stored = b"written before".to_vec();
    stored.clear();
    let stored = write_stored_json(data, &mut stored).map(|()| String::from_utf8(stored).unwrap());
    match (&split, &whole) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{what}");
            let json = a.to_json();
            assert_eq!(json, b.to_json(), "{what}");
            // Streamed (flushed every MiB) as rendered whole.
            let mut streamed = Vec::new();
            a.write_json(&mut streamed).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), json, "{what}");
            assert_eq!(stored.unwrap(), json, "{what}");
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{what}");
            match stored {
                Err(StoreError::Index(e)) => assert_eq!(&e, a, "{what}"),
                other => panic!("{what}: stored {other:?}"),
            }
        }
        _ => panic!("{what}: split {split:?} vs whole {whole:?}"),
    }
}

/// A writer that must be restarted: what was written before the restart
/// is gone from the stored result.
#[test]
fn a_version_that_does_not_read_alone_restarts_the_output() {
    // The second chart's version aliases an anchor of the first chart's:
    // charts are written in name order, so `a` is written before `b`
    // turns out not to read on its own.
    let data = b"apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    description: &d shared\n  b:\n  - name: b\n    version: 1.0.0\n    description: *d\n";
    let mut out = Vec::new();
    write_stored_json(data, &mut out).unwrap();
    let whole = IndexFile::parse_whole(data).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), whole.to_json());
    assert!(whole.to_json().contains("\"description\": \"shared\""));
}

/// An index as `helm repo index` writes it (Helm's layout: the versions at
/// the chart key's indentation), `versions` versions over `charts` charts.
fn generated(charts: usize, versions: usize) -> String {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for c in 0..charts {
        out.push_str(&format!("  chart{c}:\n"));
        for v in 0..versions {
            out.push_str(&format!(
                "  - apiVersion: v2\n    appVersion: \"{v}.0\"\n    created: \"2024-01-01T00:00:{:02}.{v:09}Z\"\n    description: |\n      Line one of {c}.\n        indented line\n      last line\n    digest: {:064x}\n    keywords: [web, \"db: x\", cache]\n    maintainers:\n    - name: Someone\n      email: someone@example.com\n    annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: \"fix #{v}\"\n      category: Database\n    dependencies:\n    - name: common\n      version: 2.x.x\n      repository: https://charts.example.com/common\n    name: chart{c}\n    # a comment inside a version\n    urls:\n    - chart{c}-1.0.{v}.tgz\n    version: 1.0.{v}\n",
                v % 60,
                c * 1000 + v
            ));
        }
    }
    out.push_str(
        "generated: \"2024-05-06T07:08:09.123456789+02:00\"\nserverInfo:\n  contextPath: /v1\n",
    );
    out
}

#[test]
fn generated_indexes_read_the_same() {
    same(generated(3, 40).as_bytes(), "generated");
    assert!(IndexFile::reads_in_pieces(generated(3, 40).as_bytes()));
    // Over a MiB of JSON: written in several flushes.
    let large = generated(4, 500);
    assert!(large.len() > 1 << 20);
    same(large.as_bytes(), "generated, large");
}

#[test]
fn variations_read_the_same() {
    let base = generated(2, 3);
    let variations: Vec<(&str, String)> = vec![
        (
            "items indented under their key",
            base.replace("\n  - apiVersion", "\n    - apiVersion")
                .replace("\n    ", "\n      ")
                .replace("\n      - apiVersion", "\n    - apiVersion"),
        ),
        ("CRLF line ends", base.replace('\n', "\r\n")),
        (
            "a tab",
            base.replacen("apiVersion: v1", "apiVersion:\tv1", 1),
        ),
        (
            "a repeated chart",
            base.replacen("  chart1:\n", "  chart0:\n", 1),
        ),
        (
            "an alias across versions",
            base.replacen("category: Database", "category: &cat Database", 1)
                .replacen("category: Database", "category: *cat", 1),
        ),
        (
            "an alias within a version",
            base.replacen("appVersion: \"0.0\"", "appVersion: &a \"0.0\"", 1)
                .replacen("category: Database", "category: *a", 1),
        ),
        (
            "a null version",
            base.replacen("  chart1:\n", "  chart1:\n  -\n", 1),
        ),
        (
            "a scalar version",
            base.replacen("  chart1:\n", "  chart1:\n  - just text\n", 1),
        ),
        (
            "a null chart",
            base.replacen("  chart1:\n", "  empty:\n  chart1:\n", 1),
        ),
        (
            "flow entries",
            "apiVersion: v1\nentries: {app: [{name: app, version: 1.0.0}]}\n".to_string(),
        ),
        ("empty entries", "apiVersion: v1\nentries:\n".to_string()),
        (
            "entries first, comments and blank lines",
            format!(
                "# index\n\n{}",
                base.replacen("apiVersion: v1\n", "", 1) + "apiVersion: v1\n"
            ),
        ),
        (
            "a repeated top-level key",
            format!("{base}apiVersion: v2\n"),
        ),
        (
            "Entries capitalised",
            base.replacen("entries:", "Entries:", 1),
        ),
        (
            "a quoted chart name",
            base.replacen("  chart1:\n", "  \"chart1\":\n", 1),
        ),
        ("a document marker", format!("---\n{base}")),
        ("no apiVersion", base.replacen("apiVersion: v1\n", "", 1)),
        (
            "an unknown field in a version",
            base.replacen(
                "    version: 1.0.1\n",
                "    version: 1.0.1\n    extra: field\n",
                1,
            ),
        ),
        (
            "a syntax error in a version",
            base.replacen("    version: 1.0.1\n", "    version: [1.0.1\n", 1),
        ),
        (
            "a version at the wrong indentation",
            base.replacen("    version: 1.0.1\n", "   version: 1.0.1\n", 1),
        ),
        (
            "a multi-line plain scalar",
            base.replacen(
                "    digest: ",
                "    home: first\n      second\n    digest: ",
                1,
            ),
        ),
        (
            "charts out of name order, versions out of order",
            base.replacen(
                "entries:\n",
                "entries:\n  zz:\n  - name: zz\n    version: 0.1.0\n  - name: zz\n    version: not-semver\n  - name: zz\n    version: 0.2.0\n  - name: zz\n    version: 0.1.0\n    description: an equal version keeps its place\n",
                1,
            ),
        ),
        (
            "an invalid version dropped",
            base.replacen("    name: chart1\n", "    name: bad/name\n", 1),
        ),
    ];
    for (what, text) in &variations {
        same(text.as_bytes(), what);
    }
    // Each variation either reads in pieces or is handed to the whole
    // reading; which one, for a few of each.
    let pieces = |what: &str| {
        let (_, text) = variations.iter().find(|(w, _)| *w == what).unwrap();
        IndexFile::reads_in_pieces(text.as_bytes())
    };
    for what in [
        "items indented under their key",
        "a null version",
        "an alias within a version",
        "charts out of name order, versions out of order",
        "entries first, comments and blank lines",
    ] {
        assert!(pieces(what), "{what}: read whole");
    }
    for what in [
        "CRLF line ends",
        "a tab",
        "an alias across versions",
        "an unknown field in a version",
        "a syntax error in a version",
        "flow entries",
    ] {
        assert!(!pieces(what), "{what}: read in pieces");
    }
}

fn module_dir(module: &str) -> PathBuf {
    let out = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .expect("go env GOMODCACHE");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join(module)
}

/// Every `*.yaml` index of Helm's own test data.
#[test]
fn helm_module_indexes_read_the_same() {
    let mut seen = 0;
    for module in ["helm.sh/helm/v3@v3.21.4", "helm.sh/helm/v4@v4.2.4"] {
        let root = module_dir(module);
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                let is_index = name.ends_with(".yaml")
                    && (name.contains("index") || path.to_string_lossy().contains("/repository/"));
                if !is_index {
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                if !String::from_utf8_lossy(&data).contains("entries") {
                    continue;
                }
                same(&data, &path.display().to_string());
                seen += 1;
            }
        }
    }
    assert!(seen >= 20, "only {seen} indexes found");
    println!("{seen} indexes of the Helm modules read the same");
}
