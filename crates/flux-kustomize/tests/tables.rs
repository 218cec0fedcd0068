//! The committed data tables are exactly what `tools/kustomize-tables`
//! prints from kustomize's own modules (`scripts/install-deps.sh` builds it
//! and keeps its outputs): `src/smp_schema.txt` (the strategic-merge schema
//! compiled into kyaml), `src/fieldspecs.txt` (kustomize's built-in
//! field specs) and `src/kustomization_fields.txt` (the structs a
//! kustomization file decodes into). They are generated, never edited, and a kustomize upgrade
//! that changes them fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

fn check(generated: &str, committed: &str, file: &str) {
    let path = flux_testenv::tool(&format!("kustomize-tables-{file}"))
        .expect("run scripts/install-deps.sh");
    let fresh = std::fs::read_to_string(&path).unwrap();
    assert!(
        fresh == committed,
        "src/{file} is stale: copy {} over crates/flux-kustomize/src/{file}",
        path.display()
    );
    assert!(generated.lines().count() > 50, "{file} is too short");
}

#[test]
fn committed_tables_are_what_kustomize_says() {
    let schema = include_str!("../src/smp_schema.txt");
    check(schema, schema, "smp_schema.txt");
    assert!(schema.lines().filter(|l| l.starts_with("R ")).count() > 100);
    let specs = include_str!("../src/fieldspecs.txt");
    check(specs, specs, "fieldspecs.txt");
    assert!(
        specs
            .lines()
            .filter(|l| l.starts_with("nameReference "))
            .count()
            > 100
    );
    let fields = include_str!("../src/kustomization_fields.txt");
    check(fields, fields, "kustomization_fields.txt");
    assert!(fields.contains("\nT Kustomization\n"));
}
