//! `flux-dev corpus NAME`: the one entry point that rewrites a corpus'
//! expected outputs with the real tool (installed by
//! `scripts/install-deps.sh`), never with our code:
//!
//! - `yaml`: every case of `crates/flux-yaml/tests/corpus/` (a folder with
//!   `input.yaml`) built by `kustomize build` as a kustomization of that
//!   one file: stdout in `expected.yaml`, or stderr in `expected.err`;
//! - `kustomize`: every tree of `crates/flux-kustomize/tests/corpus/`
//!   built by `kustomize build`;
//! - `gotemplate`: every case of `crates/flux-gotemplate/tests/corpus/*.txt`
//!   executed by Go's text/template + sprig (`tools/gotemplate-oracle`)
//!   into `expected.jsonl`;
//! - `helm [CASE…]`: every bundle of `crates/flux-helm/tests/charts/*.txtar`
//!   rendered by `helm template` v3 (and v4, whose differences are listed in
//!   `expected/helm4-differences.txt`), through `scripts/helm_corpus.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Regenerates corpus `name` (see the module documentation).
pub fn run(name: &str, cases: &[String]) -> Result<(), String> {
    match name {
        "yaml" => yaml(),
        "kustomize" => kustomize(),
        "gotemplate" => gotemplate(),
        "helm" => helm(cases),
        other => Err(format!(
            "unknown corpus '{other}' (yaml, kustomize, gotemplate, helm)"
        )),
    }
}

fn crate_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

/// Regenerates `expected.jsonl` of the Go template corpus with Go's own
/// text/template + sprig.
fn gotemplate() -> Result<(), String> {
    let oracle = flux_testenv::tool("gotemplate-oracle").map_err(|e| e.to_string())?;
    let dir = crate_dir("flux-gotemplate/tests/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    cases.sort();
    let output = Command::new(&oracle)
        .arg("corpus")
        .args(&cases)
        .output()
        .map_err(|e| format!("running {}: {e}", oracle.display()))?;
    if !output.status.success() {
        return Err(format!(
            "gotemplate-oracle failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let expected = dir.join("expected.jsonl");
    std::fs::write(&expected, &output.stdout)
        .map_err(|e| format!("writing {}: {e}", expected.display()))?;
    let lines = output.stdout.iter().filter(|b| **b == b'\n').count();
    eprintln!("{lines} cases written to {}", expected.display());
    Ok(())
}

/// Regenerates the Helm corpus' expected outputs with the real `helm`
/// (only `cases` when given).
fn helm(cases: &[String]) -> Result<(), String> {
    let helm = flux_testenv::tool("helm").map_err(|e| e.to_string())?;
    let helm4 = flux_testenv::tool("helm4").map_err(|e| e.to_string())?;
    let runner = crate_dir("../scripts/helm_corpus.py");
    let status = Command::new("python3")
        .arg(&runner)
        .arg("regen")
        .arg(crate_dir("flux-helm/tests/charts"))
        .args(cases)
        .env("HELM", helm)
        .env("HELM4", helm4)
        .status()
        .map_err(|e| format!("running {}: {e}", runner.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", runner.display()))
    }
}

/// Regenerates the expected files of the YAML corpus.
fn yaml() -> Result<(), String> {
    let kustomize = flux_testenv::tool("kustomize").map_err(|e| e.to_string())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flux-yaml/tests/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("reading {}: {e}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    let (mut ok, mut failing) = (0, 0);
    for case in &cases {
        if build(&kustomize, case)? {
            ok += 1;
        } else {
            failing += 1;
        }
    }
    eprintln!(
        "{} cases: {ok} built, {failing} refused by kustomize ({})",
        cases.len(),
        root.display()
    );
    Ok(())
}

/// Regenerates the expected outputs of the `flux-kustomize` corpus: each
/// case folder is a tree of kustomizations; the build target is the folder
/// itself, or the relative path written in its `TARGET` file.
fn kustomize() -> Result<(), String> {
    let kustomize = flux_testenv::tool("kustomize").map_err(|e| e.to_string())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../flux-kustomize/tests/corpus")
        .canonicalize()
        .map_err(|e| format!("the flux-kustomize corpus: {e}"))?;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("reading {}: {e}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let (mut ok, mut failing) = (0, 0);
    for case in &cases {
        let target = match std::fs::read_to_string(case.join("TARGET")) {
            Ok(t) => case.join(t.trim()),
            Err(_) => case.clone(),
        };
        let out = Command::new(&kustomize)
            .arg("build")
            .arg(&target)
            .output()
            .map_err(|e| format!("running kustomize: {e}"))?;
        let _ = std::fs::remove_file(case.join("expected.yaml"));
        let _ = std::fs::remove_file(case.join("expected.err"));
        if out.status.success() {
            std::fs::write(case.join("expected.yaml"), &out.stdout).map_err(|e| e.to_string())?;
            ok += 1;
        } else {
            let stderr =
                String::from_utf8_lossy(&out.stderr).replace(&case.display().to_string(), "CASE");
            std::fs::write(case.join("expected.err"), stderr).map_err(|e| e.to_string())?;
            failing += 1;
        }
    }
    eprintln!(
        "{} cases: {ok} built, {failing} refused by kustomize ({})",
        cases.len(),
        root.display()
    );
    Ok(())
}

/// One case: true when kustomize built it.
fn build(kustomize: &Path, case: &Path) -> Result<bool, String> {
    let work = std::env::temp_dir().join(format!(
        "flux-dev-corpus-{}-{}",
        std::process::id(),
        case.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    std::fs::copy(case.join("input.yaml"), work.join("input.yaml")).map_err(|e| e.to_string())?;
    std::fs::write(
        work.join("kustomization.yaml"),
        "resources:\n- input.yaml\n",
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(kustomize)
        .arg("build")
        .arg(&work)
        .output()
        .map_err(|e| format!("running kustomize: {e}"))?;
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_file(case.join("expected.yaml"));
    let _ = std::fs::remove_file(case.join("expected.err"));
    if out.status.success() {
        std::fs::write(case.join("expected.yaml"), &out.stdout).map_err(|e| e.to_string())?;
        Ok(true)
    } else {
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&work.display().to_string(), "CASE");
        std::fs::write(case.join("expected.err"), stderr).map_err(|e| e.to_string())?;
        Ok(false)
    }
}
