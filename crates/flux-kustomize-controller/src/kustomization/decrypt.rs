//! The decryption step (`spec.decryption.provider: sops`): before the
//! build, every file of the extracted artifact that SOPS encrypted is
//! decrypted in place with the age (`*.agekey`) and OpenPGP (`*.asc`) keys
//! of `spec.decryption.secretRef`, its MAC verified: YAML and JSON manifests,
//! and the dotenv (`.env`), INI (`.ini`) and binary files (any other name)
//! that `configMapGenerator`/`secretGenerator` read. The format follows the
//! file name, as `sops` chooses it. YAML documents annotated
//! `kustomize.toolkit.fluxcd.io/decrypt: disabled` are left encrypted.
//!
//! Contract: `Err` names the file and what failed, never a decrypted
//! value; on error nothing is applied (the caller stops before the build).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flux_api::kustomize::v1::Kustomization;
use flux_api::meta::reason;
use flux_runtime::StepError;
use flux_runtime::ssa::kube_message;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

/// The annotation that keeps a document encrypted.
pub const DISABLE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// Why the artifact could not be decrypted (the `BuildFailed` message;
/// never a decrypted value).
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// A key of the decryption Secret does not read.
    #[error("failed to import data from the Secret '{secret}' key '{key}': {error}")]
    Import {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The Secret's key.
        key: String,
        /// Why.
        #[source]
        error: flux_sops::KeyError,
    },
    /// The Secret holds no key this controller can use.
    #[error(
        "the decryption Secret '{0}' holds no age (*.agekey) or OpenPGP (*.asc) key; Vault and KMS keys are not supported yet"
    )]
    NoKeys(String),
    /// A file could not be decrypted, read or written (the message names it).
    #[error("{0}")]
    File(String),
}

impl From<String> for DecryptError {
    fn from(message: String) -> Self {
        DecryptError::File(message)
    }
}

/// Decrypts the extracted artifact in `root` (a private copy) when
/// `spec.decryption` is set, with the keys of its Secret.
pub async fn decrypt(client: &Client, k: &Kustomization, root: &Path) -> Result<(), StepError> {
    let Some(decryption) = &k.spec.decryption else {
        return Ok(());
    };
    let failed = |message: String| StepError::retry(reason::BUILD_FAILED, message);
    let Some(reference) = &decryption.secret_ref else {
        return Err(failed(
            "spec.decryption.secretRef is required (KMS providers are not supported yet)"
                .to_string(),
        ));
    };
    let namespace = k.metadata.namespace.clone().unwrap_or_default();
    let id = format!("{namespace}/{}", reference.name);
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = match api.get_opt(&reference.name).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(failed(format!(
                "cannot get decryption Secret '{id}': not found"
            )));
        }
        Err(e) => {
            return Err(failed(format!(
                "cannot get decryption Secret '{id}': {}",
                kube_message(&e)
            )));
        }
    };
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, value.0))
        .collect();
    let keys = identities(&data, &id).map_err(|e| failed(e.to_string()))?;
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || decrypt_tree(&root, &keys))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    Ok(())
}

/// The keys of the decryption Secret: age identities (`*.agekey`) and
/// OpenPGP secret keys (`*.asc`).
pub fn identities(
    data: &BTreeMap<String, Vec<u8>>,
    secret: &str,
) -> Result<flux_sops::Keys, DecryptError> {
    let mut keys = flux_sops::Keys::default();
    for (key, value) in data {
        let import = |error| DecryptError::Import {
            secret: secret.to_string(),
            key: key.clone(),
            error,
        };
        let text = String::from_utf8_lossy(value);
        if key.ends_with(".agekey") {
            keys.age
                .extend(flux_sops::age_identities(&text).map_err(import)?);
        } else if key.ends_with(".asc") {
            keys.pgp.extend(flux_sops::pgp_keys(&text).map_err(import)?);
        }
    }
    if keys.age.is_empty() && keys.pgp.is_empty() {
        return Err(DecryptError::NoKeys(secret.to_string()));
    }
    Ok(keys)
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
pub fn decrypt_tree(root: &Path, identities: &flux_sops::Keys) -> Result<usize, DecryptError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn decryption_secret_keys() {
        let secret = |entries: &[(&str, &str)]| {
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let err = identities(&secret(&[("token", "x")]), "ns/sops")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("holds no age (*.agekey) or OpenPGP (*.asc) key"),
            "{err}"
        );
        let err = identities(&secret(&[("team.asc", "not a key")]), "ns/sops")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("failed to import data from the Secret 'ns/sops' key 'team.asc'"),
            "{err}"
        );
        let keys = identities(
            &secret(&[(
                "age.agekey",
                "# created: now\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
            )]),
            "ns/sops",
        )
        .unwrap();
        assert_eq!((keys.age.len(), keys.pgp.len()), (1, 0));
    }
}
