//! The decryption step (`spec.decryption.provider: sops`): before the
//! build, every file of the extracted artifact that SOPS encrypted is
//! decrypted in place with the age keys (`*.agekey` entries) of
//! `spec.decryption.secretRef`, its MAC verified: YAML and JSON manifests,
//! and the dotenv (`.env`), INI (`.ini`) and binary files (any other name)
//! that `configMapGenerator`/`secretGenerator` read. The format follows the
//! file name, as `sops` chooses it. YAML documents annotated
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
        } else if kind.is_file() {
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
        // SOPS output is text; binary files and large blobs are not SOPS's.
        if std::fs::metadata(&path).map_or(true, |m| m.len() > 64 << 20) {
            continue;
        }
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
        let failed = |e: flux_sops::Error| format!("failed to decrypt '{relative}': {e}");
        let plain: Option<Vec<u8>> = match flux_sops::Format::for_path(&path) {
            flux_sops::Format::Yaml | flux_sops::Format::Json => None,
            flux_sops::Format::Dotenv if !text.contains("\nsops_lastmodified=") => continue,
            flux_sops::Format::Ini if !text.contains("[sops]") => continue,
            flux_sops::Format::Dotenv => Some(
                flux_sops::decrypt_dotenv(&text, identities)
                    .map_err(failed)?
                    .into_bytes(),
            ),
            flux_sops::Format::Ini => Some(
                flux_sops::decrypt_ini(&text, identities)
                    .map_err(failed)?
                    .into_bytes(),
            ),
            flux_sops::Format::Binary => {
                let binary = flux_yaml::parse(&text).ok().is_some_and(|docs| {
                    docs.len() == 1
                        && docs[0].get("sops").is_some()
                        && docs[0].get("data").is_some()
                });
                if !binary {
                    continue;
                }
                Some(flux_sops::decrypt_binary(&text, identities).map_err(failed)?)
            }
        };
        if let Some(plain) = plain {
            std::fs::write(&path, plain).map_err(|e| format!("{relative}: {e}"))?;
            count += 1;
            continue;
        }
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
