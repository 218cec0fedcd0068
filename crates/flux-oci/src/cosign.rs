//! Cosign signatures of OCI artifacts, verified with public keys.
//!
//! Both formats `cosign sign` writes are read, as upstream's
//! source-controller reads them:
//!
//! - **Sigstore bundles** (cosign v3's default): an OCI referrer of the
//!   artifact (found through the registry's referrers API, or the
//!   `sha256-<hex>` referrers tag on registries without it) whose single
//!   layer is a bundle holding a DSSE envelope; its signature covers the
//!   envelope's pre-authentication encoding, and its in-toto statement must
//!   name the artifact's digest among its subjects.
//! - **Simple signing** (cosign v2, `--new-bundle-format=false`): the image
//!   `<repository>:sha256-<hex>.sig`, each layer a payload whose signature
//!   is the layer's `dev.cosignproject.cosign/signature` annotation; the
//!   payload's `docker-manifest-digest` must be the artifact's digest.
//!
//! Keys are PEM `PUBLIC KEY`s (ECDSA P-256/P-384/P-521, RSA PKCS#1 v1.5
//! and Ed25519), with SHA-256 as cosign's default verifier uses. The
//! transparency log is not consulted for key-based verification (as
//! upstream: `IgnoreTlog`). Keyless verification needs the public Sigstore
//! services and is not offered here.

use std::fmt;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use serde::Deserialize;

use crate::client::{Client, OCI_INDEX};
use crate::error::{Error, Result};
use crate::reference::Reference;

/// The annotation of a simple-signing layer holding its signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type prefix of Sigstore bundles (artifact type and layer).
pub const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest signature payload or bundle read.
const MAX_SIGNATURE_BYTES: u64 = 4 << 20;
/// The most referrers or signature layers examined for one artifact.
const MAX_CANDIDATES: usize = 64;

/// A public key cosign signatures are checked with.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: &'static dyn VerificationAlgorithm,
    kind: &'static str,
    der: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .finish()
    }
}

/// A key that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl PublicKey {
    /// Reads the first PEM `PUBLIC KEY` block of `pem` (a `cosign.pub`).
    pub fn from_pem(pem: &[u8]) -> std::result::Result<PublicKey, KeyError> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| KeyError("PEM decoding failed: not UTF-8 text".to_string()))?;
        let begin = "-----BEGIN PUBLIC KEY-----";
        let end = "-----END PUBLIC KEY-----";
        let start = text
            .find(begin)
            .ok_or_else(|| KeyError("PEM decoding failed: no PUBLIC KEY block".to_string()))?
            + begin.len();
        let stop = text[start..]
            .find(end)
            .ok_or_else(|| KeyError("PEM decoding failed: unterminated PUBLIC KEY block".into()))?
            + start;
        let body: String = text[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| KeyError(format!("PEM decoding failed: {e}")))?;
        Self::from_spki_der(der)
    }

    /// Reads a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: Vec<u8>) -> std::result::Result<PublicKey, KeyError> {
        let (algorithm_oid, parameter_oid) = spki_algorithm(&der)
            .ok_or_else(|| KeyError("invalid public key: not a SubjectPublicKeyInfo".into()))?;
        let (algorithm, kind): (&'static dyn VerificationAlgorithm, &'static str) =
            match (algorithm_oid, parameter_oid) {
                (OID_EC_PUBLIC_KEY, Some(OID_P256)) => {
                    (&signature::ECDSA_P256_SHA256_ASN1, "ECDSA P-256")
                }
                (OID_EC_PUBLIC_KEY, Some(OID_P384)) => {
                    (&signature::ECDSA_P384_SHA256_ASN1, "ECDSA P-384")
                }
                (OID_EC_PUBLIC_KEY, Some(OID_P521)) => {
                    (&signature::ECDSA_P521_SHA256_ASN1, "ECDSA P-521")
                }
                (OID_EC_PUBLIC_KEY, _) => {
                    return Err(KeyError(
                    "unsupported public key: an elliptic curve other than P-256, P-384 and P-521"
                        .into(),
                ));
                }
                (OID_RSA, _) => (&signature::RSA_PKCS1_2048_8192_SHA256, "RSA"),
                (OID_ED25519, _) => (&signature::ED25519, "Ed25519"),
                _ => {
                    return Err(KeyError(
                        "unsupported public key: not ECDSA, RSA or Ed25519".into(),
                    ));
                }
            };
        Ok(PublicKey {
            algorithm,
            kind,
            der,
        })
    }

    /// The key's algorithm, for messages.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(self.algorithm, &self.der)
            .verify(message, signature)
            .is_ok()
    }
}

/// The signature format that verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Sigstore bundle attached as a referrer (cosign v3).
    Bundle,
    /// A simple-signing payload under the `.sig` tag (cosign v2).
    SimpleSigning,
}

/// What verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A signature of the artifact's digest verified with one of the keys.
    Verified {
        /// Which format.
        format: Format,
        /// The index of the key that verified it.
        key: usize,
    },
    /// Nothing verified; why, for the condition message.
    NoMatch(String),
}

/// Looks for cosign signatures of the manifest `digest` in `repository`
/// and checks them against `keys`. Registry failures are errors; a missing
/// or non-matching signature is [`Outcome::NoMatch`].
pub async fn verify(
    client: &Client,
    repository: &Reference,
    digest: &str,
    keys: &[PublicKey],
) -> Result<Outcome> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Ok(Outcome::NoMatch(format!(
            "unsupported digest algorithm in '{digest}'"
        )));
    };
    let mut reasons = Vec::new();
    let bundles = bundles(client, repository, digest).await?;
    for (i, bundle) in bundles.iter().enumerate() {
        match check_bundle(bundle, hex, keys) {
            Ok(key) => {
                return Ok(Outcome::Verified {
                    format: Format::Bundle,
                    key,
                });
            }
            Err(why) => reasons.push(format!("bundle {}: {why}", i + 1)),
        }
    }
    let payloads = simple_signatures(client, repository, hex).await?;
    for (i, (payload, signature)) in payloads.iter().enumerate() {
        match check_simple(payload, signature, digest, keys) {
            Ok(key) => {
                return Ok(Outcome::Verified {
                    format: Format::SimpleSigning,
                    key,
                });
            }
            Err(why) => reasons.push(format!("signature {}: {why}", i + 1)),
        }
    }
    if bundles.is_empty() && payloads.is_empty() {
        return Ok(Outcome::NoMatch(format!(
            "no signature found: no Sigstore bundle refers to {digest} and there is no tag sha256-{hex}.sig"
        )));
    }
    Ok(Outcome::NoMatch(reasons.join("; ")))
}

/// The Sigstore bundles among the referrers of `digest` (entries that are
/// not bundles are skipped, as cosign does).
async fn bundles(client: &Client, repository: &Reference, digest: &str) -> Result<Vec<Vec<u8>>> {
    let referrers = client.referrers(repository, digest).await?;
    let mut out = Vec::new();
    for referrer in referrers.into_iter().take(MAX_CANDIDATES) {
        let artifact_type = referrer.artifact_type.as_deref().unwrap_or_default();
        if !artifact_type.is_empty() && !artifact_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
            continue;
        }
        let reference = repository.with_digest(&referrer.digest);
        let manifest = match client.manifest(&reference).await {
            Ok((manifest, _)) => manifest,
            Err(e) if e.is_not_found() => continue,
            Err(Error::InvalidManifest(_)) => continue,
            Err(e) => return Err(e),
        };
        let [layer] = manifest.layers.as_slice() else {
            continue;
        };
        if !layer.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
            continue;
        }
        let mut bytes = Vec::new();
        client
            .blob(repository, layer, MAX_SIGNATURE_BYTES, &mut bytes)
            .await?;
        out.push(bytes);
    }
    Ok(out)
}

/// The (payload, signature) pairs of the `.sig` image, if there is one.
async fn simple_signatures(
    client: &Client,
    repository: &Reference,
    hex: &str,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let tag = repository.with_tag(&format!("sha256-{hex}.sig"));
    let manifest = match client.manifest(&tag).await {
        Ok((manifest, _)) => manifest,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for layer in manifest.layers.iter().take(MAX_CANDIDATES) {
        let Some(encoded) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
            continue;
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap_or_default();
        let mut payload = Vec::new();
        client
            .blob(repository, layer, MAX_SIGNATURE_BYTES, &mut payload)
            .await?;
        out.push((payload, signature));
    }
    Ok(out)
}

/// The index of the key that verifies a simple-signing payload naming
/// `digest`.
fn check_simple(
    payload: &[u8],
    signature: &[u8],
    digest: &str,
    keys: &[PublicKey],
) -> std::result::Result<usize, String> {
    let key = keys
        .iter()
        .position(|k| k.verifies(payload, signature))
        .ok_or_else(|| no_key_verifies(keys))?;
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        image: Image,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest", default)]
        digest: String,
    }
    let parsed: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("invalid simple signing payload: {e}"))?;
    if parsed.critical.image.digest != digest {
        return Err(format!(
            "the signed payload is for {}, not {digest}",
            if parsed.critical.image.digest.is_empty() {
                "no digest"
            } else {
                &parsed.critical.image.digest
            }
        ));
    }
    Ok(key)
}

/// A Sigstore bundle as cosign stores it (protobuf JSON: camelCase names,
/// the proto names accepted too).
#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "mediaType", alias = "media_type", default)]
    media_type: String,
    #[serde(rename = "dsseEnvelope", alias = "dsse_envelope")]
    dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    payload: String,
    #[serde(rename = "payloadType", alias = "payload_type", default)]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    #[serde(default)]
    sig: String,
}

/// The index of the key that verifies a bundle of the artifact `hex`.
fn check_bundle(
    bundle: &[u8],
    hex: &str,
    keys: &[PublicKey],
) -> std::result::Result<usize, String> {
    let bundle: Bundle =
        serde_json::from_slice(bundle).map_err(|e| format!("invalid Sigstore bundle: {e}"))?;
    if !bundle_version_supported(&bundle.media_type) {
        return Err(format!(
            "unsupported Sigstore bundle media type '{}' (v0.3 or later is required)",
            bundle.media_type
        ));
    }
    let envelope = bundle
        .dsse_envelope
        .ok_or_else(|| "bundle does not contain a DSSE envelope".to_string())?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "unsupported DSSE payload type '{}'",
            envelope.payload_type
        ));
    }
    let payload = decode_base64(&envelope.payload)
        .ok_or_else(|| "invalid DSSE envelope: payload is not base64".to_string())?;
    let message = pre_authentication_encoding(&envelope.payload_type, &payload);
    let key = envelope
        .signatures
        .iter()
        .filter_map(|s| decode_base64(&s.sig))
        .find_map(|sig| keys.iter().position(|k| k.verifies(&message, &sig)))
        .ok_or_else(|| no_key_verifies(keys))?;
    #[derive(Deserialize)]
    struct Statement {
        #[serde(default)]
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: std::collections::BTreeMap<String, String>,
    }
    let statement: Statement =
        serde_json::from_slice(&payload).map_err(|e| format!("invalid in-toto statement: {e}"))?;
    let names_artifact = statement.subject.iter().any(|s| {
        s.digest
            .get("sha256")
            .is_some_and(|d| d.eq_ignore_ascii_case(hex))
    });
    if !names_artifact {
        return Err(format!(
            "the signed statement has no subject with digest sha256:{hex}"
        ));
    }
    Ok(key)
}

fn no_key_verifies(keys: &[PublicKey]) -> String {
    match keys.len() {
        1 => "the signature does not verify with the public key".to_string(),
        n => format!("the signature verifies with none of the {n} public keys"),
    }
}

/// `application/vnd.dev.sigstore.bundle.v0.3+json` and the older
/// `…bundle+json;version=0.3` spelling; v0.3 and later.
fn bundle_version_supported(media_type: &str) -> bool {
    let version =
        if let Some(rest) = media_type.strip_prefix("application/vnd.dev.sigstore.bundle.v") {
            rest.strip_suffix("+json")
        } else {
            media_type.strip_prefix("application/vnd.dev.sigstore.bundle+json;version=")
        };
    let Some(version) = version else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (0, 3),
        (Some(Ok(major)), None) => major >= 1,
        _ => false,
    }
}

/// DSSE's PAE: `DSSEv1 <len(type)> <type> <len(body)> <body>`.
fn pre_authentication_encoding(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Standard or URL-safe base64, padded or not (protobuf JSON accepts both).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The algorithm OID of a `SubjectPublicKeyInfo` and its parameter when
/// that is an OID (the curve of EC keys).
fn spki_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (tag, spki, rest) = der_element(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, algorithm, rest) = der_element(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_element(rest)?;
    if tag != 0x03 || !rest.is_empty() {
        return None;
    }
    let (tag, oid, parameters) = der_element(algorithm)?;
    if tag != 0x06 {
        return None;
    }
    let parameter = match der_element(parameters) {
        Some((0x06, curve, _)) => Some(curve),
        _ => None,
    };
    Some((oid, parameter))
}

/// One DER element: tag, content, what follows.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return None;
    }
    Some((tag, &rest[..length], &rest[length..]))
}

/// A referrer of an artifact: an entry of the referrers index.
#[derive(Clone, Debug, Deserialize)]
pub struct Referrer {
    /// The referrer manifest's digest.
    pub digest: String,
    /// Its artifact type, when the index says.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
}

/// The entries of a referrers index (the API's answer or the tag-schema
/// index); an index of another media type is refused.
pub(crate) fn parse_referrers(raw: &[u8], what: &str) -> Result<Vec<Referrer>> {
    #[derive(Deserialize)]
    struct Index {
        #[serde(rename = "mediaType", default)]
        media_type: String,
        #[serde(default)]
        manifests: Vec<Referrer>,
    }
    let index: Index =
        serde_json::from_slice(raw).map_err(|e| Error::InvalidManifest(format!("{what}: {e}")))?;
    if !index.media_type.is_empty() && index.media_type != OCI_INDEX {
        return Err(Error::InvalidManifest(format!(
            "{what}: a {}, not an image index",
            index.media_type
        )));
    }
    Ok(index.manifests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_algorithms_are_recognised() {
        // SEQUENCE { SEQUENCE { OID ed25519 }, BIT STRING (33 bytes) }
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend([7u8; 32]);
        let key = PublicKey::from_spki_der(der).map(|k| k.kind());
        assert_eq!(key, Ok("Ed25519"));
        let err = PublicKey::from_spki_der(vec![0x30, 0x00]).map(|k| k.kind());
        assert!(err.is_err());
        let err =
            PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n")
                .map(|k| k.kind());
        assert!(matches!(err, Err(KeyError(m)) if m.starts_with("PEM decoding failed")));
    }

    /// A key pair of aws-lc-rs, its public half as a `PublicKey`.
    fn key_pair() -> (aws_lc_rs::signature::EcdsaKeyPair, PublicKey) {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        )
        .unwrap();
        let der: PublicKeyX509Der<'_> = pair.public_key().as_der().unwrap();
        let key = PublicKey::from_spki_der(der.as_ref().to_vec()).unwrap();
        assert_eq!(key.kind(), "ECDSA P-256");
        (pair, key)
    }

    fn sign(pair: &aws_lc_rs::signature::EcdsaKeyPair, message: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        pair.sign(&rng, message).unwrap().as_ref().to_vec()
    }

    const DIGEST: &str = "sha256:0d4a1185e2b1a2f1d2c4c7a0e3f2f5d88a6b6b1e2a7f1c0d9e8b7a6f5e4d3c2b";

    #[test]
    fn simple_signing_checks_key_and_digest() {
        let (pair, key) = key_pair();
        let (_, other) = key_pair();
        let payload = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r/a"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}"#
        );
        let sig = sign(&pair, payload.as_bytes());
        let keys = [other.clone(), key.clone()];
        assert_eq!(check_simple(payload.as_bytes(), &sig, DIGEST, &keys), Ok(1));
        let err = check_simple(payload.as_bytes(), &sig, DIGEST, &[other]).unwrap_err();
        assert_eq!(err, "the signature does not verify with the public key");
        // A valid signature of another artifact's payload is refused.
        let err = check_simple(payload.as_bytes(), &sig, "sha256:00", &[key]).unwrap_err();
        assert!(
            err.contains(&format!("is for {DIGEST}, not sha256:00")),
            "{err}"
        );
    }

    #[test]
    fn bundles_check_key_payload_type_and_subject() {
        use base64::engine::general_purpose::STANDARD;
        let (pair, key) = key_pair();
        let hex = DIGEST.trim_start_matches("sha256:");
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"r/a","digest":{{"sha256":"{hex}"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#
        );
        let bundle = |payload_type: &str, signed_type: &str| {
            let sig = sign(
                &pair,
                &pre_authentication_encoding(signed_type, statement.as_bytes()),
            );
            format!(
                r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":"x"}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"{payload_type}","signatures":[{{"sig":"{}"}}]}}}}"#,
                STANDARD.encode(&statement),
                STANDARD.encode(sig)
            )
        };
        let good = bundle(IN_TOTO_PAYLOAD_TYPE, IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(
            check_bundle(good.as_bytes(), hex, std::slice::from_ref(&key)),
            Ok(0)
        );
        let other_subject = "1".repeat(64);
        let err =
            check_bundle(good.as_bytes(), &other_subject, std::slice::from_ref(&key)).unwrap_err();
        assert!(err.contains("no subject with digest"), "{err}");
        // The signature covers the payload type: changing it breaks it.
        let swapped = bundle(IN_TOTO_PAYLOAD_TYPE, "text/plain");
        let err = check_bundle(swapped.as_bytes(), hex, std::slice::from_ref(&key)).unwrap_err();
        assert_eq!(err, "the signature does not verify with the public key");
        let err = check_bundle(b"{}", hex, &[key]).unwrap_err();
        assert!(
            err.starts_with("unsupported Sigstore bundle media type"),
            "{err}"
        );
    }

    #[test]
    fn bundle_versions() {
        assert!(bundle_version_supported(
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        ));
        assert!(bundle_version_supported(
            "application/vnd.dev.sigstore.bundle.v0.4+json"
        ));
        assert!(bundle_version_supported(
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
        ));
        assert!(!bundle_version_supported(
            "application/vnd.dev.sigstore.bundle+json;version=0.2"
        ));
        assert!(!bundle_version_supported("application/json"));
    }

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pre_authentication_encoding("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
