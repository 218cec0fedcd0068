//! `flux-dev corpus yaml`: writes the expected output of every case of
//! `crates/flux-yaml/tests/corpus/` with the real `kustomize build` (the
//! version `scripts/install-deps.sh` installs). Never with our code.
//!
//! Each case folder holds `input.yaml`; the command builds a kustomization
//! whose only resource is that file and stores stdout in `expected.yaml`,
//! or stderr in `expected.err` when kustomize fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Regenerates the expected files of the YAML corpus.
pub fn yaml() -> Result<(), String> {
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
pub fn kustomize() -> Result<(), String> {
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
