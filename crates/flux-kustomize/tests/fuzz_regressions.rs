//! Inputs found by (or written for) `scripts/fuzz.sh`, replayed on the
//! stable toolchain exactly as the `kustomize_build` fuzz target builds
//! them (NUL-separated files: the kustomization, a base kustomization,
//! then `r0.yaml`…): errors are fine, panics are not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use flux_kustomize::{MemFs, Options, build};

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        count += 1;
        let mut fs = MemFs::default();
        for (i, part) in data.split(|b| *b == 0).take(8).enumerate() {
            let name = match i {
                0 => "kustomization.yaml".to_string(),
                1 => "base/kustomization.yaml".to_string(),
                n => format!("r{}.yaml", n - 2),
            };
            fs.add(Path::new("/t").join(name), part.to_vec());
        }
        fs.add(
            "/t/base/r.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n".to_vec(),
        );
        if let Ok(map) = build(&fs, Path::new("/t"), &Options::default()) {
            let _ = map.to_yaml();
        }
    }
    assert!(count >= 4, "the regression inputs are missing");
}
