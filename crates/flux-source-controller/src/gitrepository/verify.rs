//! `spec.verify`: the signature of the HEAD commit and/or of the tag it was
//! reached through, checked against the keys of a Secret
//! (`SourceVerified`).

use flux_api::source::v1::{GitRepository, GitVerificationMode};
use flux_git::Commit;
use flux_git::signature::verify;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use flux_runtime::StepError;
use flux_runtime::ssa::kube_message;

use crate::gitrepository::fetch::Failed;

/// The mode as `status.sourceVerificationMode` records it (`HEAD` when unset).
pub fn mode_name(mode: Option<GitVerificationMode>) -> &'static str {
    match mode {
        Some(GitVerificationMode::HeadLegacy) => "head",
        Some(GitVerificationMode::Head) | None => "HEAD",
        Some(GitVerificationMode::Tag) => "Tag",
        Some(GitVerificationMode::TagAndHEAD) => "TagAndHEAD",
    }
}

/// The trusted keys: every value of the verification Secret.
pub async fn keys(client: &Client, repo: &GitRepository) -> Result<Vec<Vec<u8>>, StepError> {
    let Some(verification) = &repo.spec.verify else {
        return Ok(Vec::new());
    };
    let namespace = repo.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = secrets
        .get(&verification.secret_ref.name)
        .await
        .map_err(|e| {
            Failed::Verification.error(
                "VerificationError",
                format!("PGP public keys secret error: {}", kube_message(&e)),
            )
        })?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_values()
        .map(|v| v.0)
        .collect())
}

/// Verifies what `mode` asks for; the `SourceVerified` message on success.
pub fn check(
    mode: Option<GitVerificationMode>,
    commit: &Commit,
    keys: &[Vec<u8>],
) -> Result<String, StepError> {
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let (tag, head) = match mode {
        Some(GitVerificationMode::Tag) => (true, false),
        Some(GitVerificationMode::TagAndHEAD) => (true, true),
        _ => (false, true),
    };
    let mut message = String::from("verified signature of");
    if tag {
        let Some(tag) = &commit.tag else {
            return Err(Failed::Verification
                .error(
                    "InvalidVerificationMode",
                    "cannot verify tag object's signature if a tag reference is not specified",
                )
                .stalled());
        };
        let described = format!("{}@sha1:{}", tag.name, tag.hash);
        if tag.signature.is_none() {
            return Err(Failed::Verification.error(
                "InvalidGitObject",
                format!("cannot verify signature of tag '{described}' since it is not signed"),
            ));
        }
        let key = verify(tag.signature.as_ref(), &keys).map_err(|e| {
            Failed::Verification.error(
                "InvalidTagSignature",
                format!("signature verification of tag '{described}' failed: {e}"),
            )
        })?;
        message.push_str(&format!("\n\t- tag '{described}' with key '{key}'"));
    }
    if head {
        let key = verify(commit.signature.as_ref(), &keys).map_err(|e| {
            Failed::Verification.error(
                "InvalidCommitSignature",
                format!(
                    "signature verification of commit '{}' failed: {e}",
                    commit.hash
                ),
            )
        })?;
        message.push_str(&format!("\n\t- commit '{}' with key '{key}'", commit.hash));
    }
    Ok(message)
}
