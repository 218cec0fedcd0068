//! The decryption step (`spec.decryption.provider: sops`): before the
//! build, every YAML or JSON file of the extracted artifact that SOPS
//! encrypted is decrypted in place with the age keys (`*.agekey` entries)
//! of `spec.decryption.secretRef`, its MAC verified. Documents annotated
//! `kustomize.toolkit.fluxcd.io/decrypt: disabled` are left encrypted.
//!
//! Contract: `Err` names the file and what failed, never a decrypted
//! value; on error nothing is applied (the caller stops before the build).

use std::path::{Path, PathBuf};

/// The annotation that keeps a document encrypted.
pub const DISABLE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// Age identities from the keys of the decryption Secret.
pub fn identities(
    data: &std::collections::BTreeMap<String, Vec<u8>>,
    secret: &str,
) -> Result<Vec<age::x25519::Identity>, String> {
    let mut out = Vec::new();
    for (key, value) in data {
        if !key.ends_with(".agekey") {
            continue;
        }
        let text = String::from_utf8_lossy(value);
        out.extend(flux_sops::age_identities(&text).map_err(|e| {
            format!("failed to import data from the Secret '{secret}' key '{key}': {e}")
        })?);
    }
    if out.is_empty() {
        return Err(format!(
            "the decryption Secret '{secret}' holds no age key (*.agekey); PGP and KMS keys are not supported yet"
        ));
    }
    Ok(out)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files(&path, out);
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

/// Decrypts every SOPS-encrypted file below `root`; returns how many.
pub fn decrypt_tree(root: &Path, identities: &[age::x25519::Identity]) -> Result<usize, String> {
    let mut paths = Vec::new();
    files(root, &mut paths);
    paths.sort();
    let mut count = 0;
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !(text.contains("sops") && text.contains("ENC[AES256_GCM")) {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let docs = flux_yaml::parse(&text).map_err(|e| format!("{relative}: {e}"))?;
        let mut out = Vec::with_capacity(docs.len());
        let mut changed = false;
        for doc in docs {
            let disabled = doc
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(DISABLE_ANNOTATION))
                .and_then(flux_yaml::Value::as_str)
                == Some("disabled");
            if flux_sops::is_encrypted(&doc) && !disabled {
                out.push(
                    flux_sops::decrypt(doc, identities)
                        .map_err(|e| format!("failed to decrypt '{relative}': {e}"))?,
                );
                changed = true;
            } else {
                out.push(doc);
            }
        }
        if changed {
            let text = out
                .iter()
                .map(flux_yaml::emit)
                .collect::<Vec<_>>()
                .join("---\n");
            std::fs::write(&path, text).map_err(|e| format!("{relative}: {e}"))?;
            count += 1;
        }
    }
    Ok(count)
}
