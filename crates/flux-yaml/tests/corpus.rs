//! The differential corpus: every case's expected output was written by the
//! real `kustomize build` (`cargo run -p flux-dev -- corpus yaml`), never by
//! this crate. A case passes when our bytes are identical, or when both
//! refuse the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::Path;

/// What `kustomize build` prints for a kustomization whose only resource is
/// `input` (documents in order, `---` between them).
fn build(input: &str) -> Result<String, flux_yaml::Error> {
    let mut out = Vec::new();
    for doc in flux_yaml::parse(input)? {
        if doc == flux_yaml::Value::Null {
            continue;
        }
        out.push(flux_yaml::emit(&doc.json_round_trip()?));
    }
    Ok(out.join("---\n"))
}

/// Cases where we knowingly differ, with the reason; the test fails if one
/// of them starts passing (remove it then) or if any other case differs.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "folded-scalar-input",
    "kustomize re-encodes each resource with go-yaml v3 (keeping the source's scalar styles) before \
     the JSON step; that round trip adds a line break to a `>+` folded scalar ending in an empty line",
)];

#[test]
fn kustomize_yaml_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "the corpus is missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read_to_string(case.join("input.yaml")).unwrap();
        let expected = std::fs::read_to_string(case.join("expected.yaml")).ok();
        let ours = build(&input);
        match (expected, ours) {
            (Some(expected), Ok(ours)) if expected == ours => {}
            (None, Err(_)) => {}
            (Some(expected), Ok(ours)) => {
                failures.push(format!(
                    "{name}: output differs\n--- kustomize\n{expected}--- ours\n{ours}"
                ));
            }
            (Some(_), Err(e)) => failures.push(format!("{name}: we refused it: {e}")),
            (None, Ok(ours)) => {
                failures.push(format!("{name}: kustomize refused it, we wrote\n{ours}"))
            }
        }
    }
    let passed = cases.len() - failures.len();
    println!(
        "flux-yaml corpus: {passed}/{} identical to kustomize ({:.1}%)",
        cases.len(),
        100.0 * passed as f64 / cases.len() as f64
    );
    let (known, unexpected): (Vec<_>, Vec<_>) = failures.into_iter().partition(|f| {
        KNOWN_DIFFERENCES
            .iter()
            .any(|(case, _)| f.starts_with(&format!("{case}:")))
    });
    for (case, reason) in KNOWN_DIFFERENCES {
        println!("known difference: {case}: {reason}");
    }
    assert_eq!(
        known.len(),
        KNOWN_DIFFERENCES.len(),
        "a known difference is fixed: update KNOWN_DIFFERENCES"
    );
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n\n"));
}
