//! Inputs found by (or written for) `scripts/fuzz.sh`, replayed on the
//! stable toolchain with the fuzz target's own checks: no panic, and what
//! we emit parses again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        count += 1;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(docs) = flux_yaml::parse(text) else {
            continue;
        };
        for doc in docs {
            if let Ok(value) = doc.json_round_trip() {
                let out = flux_yaml::emit(&value);
                assert!(
                    flux_yaml::parse(&out).is_ok(),
                    "{}: emitted YAML does not parse:\n{out}",
                    entry.path().display()
                );
            }
        }
    }
    assert!(count >= 4, "the regression inputs are missing");
}
