//! Verification of commit and tag signatures, OpenPGP (`gpg`) and SSH
//! (`gpg.format=ssh`), against the trusted keys of a Secret.
//!
//! Git stores a commit's signature in its `gpgsig` header and a tag's at the
//! end of its message; what was signed is the object without it. The keys
//! are the values of the verification Secret: armored OpenPGP key rings
//! (`*.asc`) and `authorized_keys`-style SSH public keys (`*.sshpub`). Each
//! signature is checked against the keys of its own kind; values of the
//! other kind are skipped.

use std::fmt;

/// A signature and the bytes it signs.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The armored signature.
    pub signature: String,
    /// The object as signed (without its signature).
    pub payload: Vec<u8>,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("kind", &SignatureKind::of(&self.signature))
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The format of an armored signature, as Git tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureKind {
    /// `-----BEGIN PGP SIGNATURE-----`.
    OpenPgp,
    /// `-----BEGIN SSH SIGNATURE-----`.
    Ssh,
    /// `-----BEGIN SIGNED MESSAGE-----` (S/MIME, not supported).
    X509,
    /// Anything else.
    Unknown,
}

const PGP_ARMOR: &str = "-----BEGIN PGP SIGNATURE-----";
const SSH_ARMOR: &str = "-----BEGIN SSH SIGNATURE-----";
const X509_ARMOR: &str = "-----BEGIN SIGNED MESSAGE-----";

/// The namespace Git signs with (`ssh-keygen -Y sign -n git`).
pub const SSH_NAMESPACE: &str = "git";

impl SignatureKind {
    /// The kind of `signature`.
    pub fn of(signature: &str) -> Self {
        let s = signature.trim_start();
        if s.starts_with(PGP_ARMOR) {
            SignatureKind::OpenPgp
        } else if s.starts_with(SSH_ARMOR) {
            SignatureKind::Ssh
        } else if s.starts_with(X509_ARMOR) {
            SignatureKind::X509
        } else {
            SignatureKind::Unknown
        }
    }

    fn name(self) -> &'static str {
        match self {
            SignatureKind::OpenPgp => "openpgp",
            SignatureKind::Ssh => "ssh",
            SignatureKind::X509 => "x509",
            SignatureKind::Unknown => "unknown",
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The object carries no signature.
    #[error("unable to verify payload as the object is not signed")]
    NotSigned,
    /// The signature is not OpenPGP or SSH.
    #[error("unable to verify signature, detected signature format: {0}")]
    UnsupportedFormat(&'static str),
    /// The signature could not be decoded.
    #[error("unable to decode {kind} signature: {message}")]
    Malformed {
        /// `openpgp` or `ssh`.
        kind: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The Secret holds no key of the signature's kind.
    #[error("no {0} public keys found in the verification secret")]
    NoKeys(&'static str),
    /// No trusted key verifies the signature.
    #[error("unable to verify payload with any of the given {0}")]
    NoMatchingKey(&'static str),
}

/// Splits an annotated tag object into its payload and trailing signature
/// (`None` when it is not signed).
pub fn split_tag(raw: &[u8]) -> Option<Signed> {
    let text = std::str::from_utf8(raw).ok()?;
    let start = [PGP_ARMOR, SSH_ARMOR, X509_ARMOR]
        .iter()
        .filter_map(|armor| {
            text.match_indices(armor)
                .map(|(i, _)| i)
                .find(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
        })
        .min()?;
    Some(Signed {
        signature: text[start..].to_string(),
        payload: raw[..start].to_vec(),
    })
}

/// Verifies `signed` against the values of the verification Secret; returns
/// the key that verified it: the OpenPGP key ID (16 upper-case hex digits)
/// or the SSH key fingerprint (`SHA256:…`).
pub fn verify(signed: Option<&Signed>, keys: &[&[u8]]) -> Result<String, VerifyError> {
    let signed = signed
        .filter(|s| !s.signature.trim().is_empty())
        .ok_or(VerifyError::NotSigned)?;
    match SignatureKind::of(&signed.signature) {
        SignatureKind::OpenPgp => verify_openpgp(signed, keys),
        SignatureKind::Ssh => verify_ssh(signed, keys),
        other => Err(VerifyError::UnsupportedFormat(other.name())),
    }
}

fn verify_openpgp(signed: &Signed, keys: &[&[u8]]) -> Result<String, VerifyError> {
    use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
    use pgp::types::KeyDetails;

    let (signature, _) = DetachedSignature::from_armor_single(signed.signature.trim().as_bytes())
        .map_err(|e| VerifyError::Malformed {
        kind: "openpgp",
        message: e.to_string(),
    })?;
    let mut found_keys = false;
    for ring in keys {
        if !looks_like_pgp_keyring(ring) {
            continue;
        }
        let Ok((parsed, _)) = SignedPublicKey::from_armor_many(*ring) else {
            continue;
        };
        for key in parsed.flatten() {
            found_keys = true;
            if key.verify_bindings().is_err() {
                continue;
            }
            let primary_ok = signature.verify(&key, &signed.payload).is_ok();
            let subkey_ok = || {
                key.public_subkeys.iter().any(|sub| {
                    sub.verify_bindings(&key.primary_key).is_ok()
                        && signature.verify(sub, &signed.payload).is_ok()
                })
            };
            if primary_ok || subkey_ok() {
                return Ok(key.legacy_key_id().to_string().to_uppercase());
            }
        }
    }
    if !found_keys {
        return Err(VerifyError::NoKeys("openpgp"));
    }
    Err(VerifyError::NoMatchingKey("key rings"))
}

fn looks_like_pgp_keyring(value: &[u8]) -> bool {
    std::str::from_utf8(value)
        .map(|s| s.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
        .unwrap_or(false)
}

fn verify_ssh(signed: &Signed, keys: &[&[u8]]) -> Result<String, VerifyError> {
    let signature =
        ssh_key::SshSig::from_pem(signed.signature.trim()).map_err(|e| VerifyError::Malformed {
            kind: "ssh",
            message: e.to_string(),
        })?;
    let mut found_keys = false;
    for value in keys {
        let Ok(text) = std::str::from_utf8(value) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(key) = parse_authorized_key(line) else {
                continue;
            };
            found_keys = true;
            if key
                .verify(SSH_NAMESPACE, &signed.payload, &signature)
                .is_ok()
            {
                return Ok(key.fingerprint(ssh_key::HashAlg::Sha256).to_string());
            }
        }
    }
    if !found_keys {
        return Err(VerifyError::NoKeys("ssh"));
    }
    Err(VerifyError::NoMatchingKey("authorized keys"))
}

/// One `authorized_keys` line: `[options] type base64 [comment]`.
fn parse_authorized_key(line: &str) -> Option<ssh_key::PublicKey> {
    if let Ok(key) = ssh_key::PublicKey::from_openssh(line) {
        return Some(key);
    }
    // With leading options: try from each field that names a key type.
    let fields: Vec<&str> = line.split_whitespace().collect();
    (1..fields.len()).find_map(|i| ssh_key::PublicKey::from_openssh(&fields[i..].join(" ")).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_kinds_are_told_apart() {
        assert_eq!(
            SignatureKind::of("\n-----BEGIN PGP SIGNATURE-----\n"),
            SignatureKind::OpenPgp
        );
        assert_eq!(
            SignatureKind::of("-----BEGIN SSH SIGNATURE-----"),
            SignatureKind::Ssh
        );
        assert_eq!(
            SignatureKind::of("-----BEGIN SIGNED MESSAGE-----"),
            SignatureKind::X509
        );
        assert_eq!(SignatureKind::of("hello"), SignatureKind::Unknown);
    }

    #[test]
    fn unsigned_and_unknown_signatures_are_refused() {
        assert_eq!(verify(None, &[]), Err(VerifyError::NotSigned));
        let signed = Signed {
            signature: "-----BEGIN SIGNED MESSAGE-----\nabc".into(),
            payload: b"x".to_vec(),
        };
        assert_eq!(
            verify(Some(&signed), &[]),
            Err(VerifyError::UnsupportedFormat("x509"))
        );
    }

    #[test]
    fn tags_split_at_the_armor_line() {
        let raw = b"object 1\ntype commit\ntag v1\n\nrelease\n-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n";
        let signed = split_tag(raw).unwrap();
        assert_eq!(
            signed.payload,
            b"object 1\ntype commit\ntag v1\n\nrelease\n".to_vec()
        );
        assert!(signed.signature.starts_with(SSH_ARMOR));
        assert!(split_tag(b"object 1\n\nno signature here\n").is_none());
        // An armor line inside the message text (not at a line start) does not count.
        assert!(split_tag(b"object 1\n\nsee -----BEGIN PGP SIGNATURE----- x\n").is_none());
    }
}
