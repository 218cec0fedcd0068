//! The committed strategic-merge schema (`src/smp_schema.txt`) is exactly
//! what `tools/kyaml-schema` prints from kustomize's own kyaml module
//! (built by `scripts/install-deps.sh`): the table is generated, never
//! edited, and a kustomize upgrade that changes it fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[test]
fn committed_schema_is_what_kyaml_says() {
    let tool = flux_testenv::tool("kyaml-schema").expect("run scripts/install-deps.sh");
    let out = std::process::Command::new(tool).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = include_str!("../src/smp_schema.txt");
    assert!(
        generated == committed,
        "src/smp_schema.txt is stale: regenerate it with ~/.cache/flux-rs/bin/kyaml-schema > crates/flux-kustomize/src/smp_schema.txt"
    );
    assert!(committed.lines().filter(|l| l.starts_with("R ")).count() > 100);
}
