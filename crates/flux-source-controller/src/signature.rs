//! `spec.verify` of OCIRepositories and of HelmCharts from OCI Helm
//! repositories: the cosign public keys of a Secret (every `*.pub` entry),
//! checked against the artifact's signatures by [`flux_oci::cosign`].
//!
//! Keyless verification (no `secretRef`) needs Sigstore's public services
//! (Fulcio certificates, the Rekor log, the TUF trust root), and notation
//! its own trust store format: both are refused with a message that says
//! so rather than attempted.

use flux_api::source::v1::VerificationProvider;
use flux_oci::cosign::{self, Outcome, PublicKey};
use flux_oci::{Client, Reference};
use flux_runtime::ssa::kube_message;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::Context;

/// Why verification did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Nothing was checked: the provider, the Secret or its keys.
    Setup(String),
    /// The registry failed while signatures were read.
    Registry(flux_oci::Error),
    /// Signatures were read; none verified (why).
    NoMatch(String),
}

impl Failure {
    /// The cause alone (`no matching signatures: …` when none verified).
    pub fn cause(&self) -> String {
        match self {
            Failure::Setup(m) => m.clone(),
            Failure::Registry(e) => e.to_string(),
            Failure::NoMatch(why) => format!("no matching signatures: {why}"),
        }
    }

    /// The cause as the condition message ends with; `shown` names the
    /// artifact as the user wrote it.
    pub fn describe(&self, shown: &str) -> String {
        match self {
            Failure::Setup(m) => m.clone(),
            Failure::Registry(e) => e.to_string(),
            Failure::NoMatch(why) => {
                format!("no matching signatures were found for '{shown}': {why}")
            }
        }
    }
}

/// The provider as upstream names it in messages (`cosign keyless` without
/// a Secret).
pub fn provider_name(provider: VerificationProvider, secret: Option<&str>) -> &'static str {
    match (provider, secret) {
        (VerificationProvider::Cosign, Some(_)) => "cosign",
        (VerificationProvider::Cosign, None) => "cosign keyless",
        (VerificationProvider::Notation, _) => "notation",
    }
}

/// The prefix of every verification failure upstream reports.
pub fn failed_prefix(provider: VerificationProvider, secret: Option<&str>) -> String {
    format!(
        "failed to verify the signature using provider '{}'",
        provider_name(provider, secret)
    )
}

/// The keys of Secret `name`: its `*.pub` entries in name order.
pub async fn public_keys(
    ctx: &Context,
    namespace: &str,
    provider: VerificationProvider,
    secret: Option<&str>,
) -> Result<Vec<PublicKey>, Failure> {
    if provider == VerificationProvider::Notation {
        return Err(Failure::Setup(
            "notation signatures are not supported by this controller; sign with cosign and use provider 'cosign' with public keys".to_string(),
        ));
    }
    let Some(name) = secret else {
        return Err(Failure::Setup(
            "keyless verification needs the public Sigstore services (Fulcio, Rekor and the TUF trust root), which this controller does not contact; give the cosign public keys in spec.verify.secretRef".to_string(),
        ));
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = secrets
        .get(name)
        .await
        .map_err(|e| Failure::Setup(kube_message(&e)))?;
    let mut keys = Vec::new();
    for (entry, data) in secret.data.unwrap_or_default() {
        if !entry.ends_with(".pub") {
            continue;
        }
        let key = PublicKey::from_pem(&data.0).map_err(|e| {
            Failure::Setup(format!("'{entry}' in secret '{namespace}/{name}': {e}"))
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(Failure::Setup(format!(
            "no public keys found in secret '{namespace}/{name}'"
        )));
    }
    Ok(keys)
}

/// Checks the signatures of manifest `digest` in `repository` with `keys`.
pub async fn verify(
    client: &Client,
    repository: &Reference,
    digest: &str,
    keys: &[PublicKey],
) -> Result<(), Failure> {
    match cosign::verify(client, repository, digest, keys).await {
        Ok(Outcome::Verified { format, key }) => {
            tracing::debug!(?format, key, %digest, "signature verified");
            Ok(())
        }
        Ok(Outcome::NoMatch(why)) => Err(Failure::NoMatch(why)),
        Err(e) => Err(Failure::Registry(e)),
    }
}
