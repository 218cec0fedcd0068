//! The differential corpus: every case's expected output was written by the
//! real `kustomize build` (`cargo run -p flux-dev -- corpus kustomize`),
//! never by this crate. A case passes when our bytes are identical, or
//! when both refuse the tree.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // test code

use std::path::Path;

use flux_kustomize::{DiskFs, Options, build};

#[test]
fn kustomize_build_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus is missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let target = match std::fs::read_to_string(case.join("TARGET")) {
            Ok(t) => case.join(t.trim()),
            Err(_) => case.clone(),
        };
        let expected = std::fs::read_to_string(case.join("expected.yaml")).ok();
        let ours = build(&DiskFs, &target, &Options::default())
            .map_err(|e| e.to_string())
            .and_then(|m| m.to_yaml().map_err(|e| e.to_string()));
        match (expected, ours) {
            (Some(expected), Ok(ours)) if expected == ours => {}
            (None, Err(_)) => {}
            (Some(expected), Ok(ours)) => failures.push(format!(
                "{name}: output differs\n--- kustomize\n{expected}--- ours\n{ours}"
            )),
            (Some(_), Err(e)) => failures.push(format!("{name}: we refused it: {e}")),
            (None, Ok(ours)) => {
                failures.push(format!("{name}: kustomize refused it, we wrote\n{ours}"))
            }
        }
    }
    let passed = cases.len() - failures.len();
    println!(
        "flux-kustomize corpus: {passed}/{} identical to kustomize ({:.1}%)",
        cases.len(),
        100.0 * passed as f64 / cases.len() as f64
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
