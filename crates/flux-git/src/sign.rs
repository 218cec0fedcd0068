//! Commit signing keys: an OpenPGP secret key (armored, optionally
//! passphrase-protected) or an OpenSSH private key, as image automation
//! reads them from its `signingKey` Secret. Signatures are what `git`
//! itself writes in the `gpgsig` header: an armored detached OpenPGP
//! signature, or an `SSHSIG` block in the `git` namespace.

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

/// Why a key cannot sign. The messages never hold key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The armored text holds no secret key, or is not OpenPGP at all.
    #[error("{0}")]
    Unreadable(String),
    /// More than one key in the armored text: which one signs is unclear.
    #[error("multiple entities read, could not determine which signing key to use")]
    Multiple,
    /// The key is passphrase-protected and no passphrase was given.
    #[error("the key is passphrase protected and no passphrase was given")]
    PassphraseRequired,
    /// The passphrase does not unlock the key.
    #[error("could not decrypt the private key: {0}")]
    Decrypt(String),
    /// An SSH key of an algorithm or size `git` verifiers refuse.
    #[error("{0}")]
    Unsupported(String),
}

/// A key that signs commits.
pub enum Signer {
    /// An OpenPGP key: the primary key, or its newest signing subkey.
    OpenPgp {
        /// The key ring entry.
        key: Box<SignedSecretKey>,
        /// Unlocks it (empty when the key is not protected).
        password: Password,
    },
    /// An OpenSSH private key (decrypted).
    Ssh(Box<ssh_key::PrivateKey>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::OpenPgp { key, .. } => f
                .debug_struct("Signer::OpenPgp")
                .field("key_id", &key.legacy_key_id().to_string().to_uppercase())
                .finish_non_exhaustive(),
            Signer::Ssh(key) => f
                .debug_struct("Signer::Ssh")
                .field("algorithm", &key.algorithm().as_str())
                .finish_non_exhaustive(),
        }
    }
}

impl Signer {
    /// The one secret key of an armored key ring (`git.asc`), unlocked by
    /// `passphrase` when it is protected.
    pub fn openpgp(armored: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let (keys, _) = SignedSecretKey::from_armor_many(armored)
            .map_err(|e| KeyError::Unreadable(format!("openpgp: {e}")))?;
        let mut keys = keys
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KeyError::Unreadable(format!("openpgp: {e}")))?;
        if keys.len() > 1 {
            return Err(KeyError::Multiple);
        }
        let key = keys
            .pop()
            .ok_or_else(|| KeyError::Unreadable("openpgp: no secret key found".to_string()))?;
        let encrypted = key.primary_key.secret_params().is_encrypted()
            || key
                .secret_subkeys
                .iter()
                .any(|s| s.key.secret_params().is_encrypted());
        let password = match passphrase {
            Some(p) => Password::from(p),
            None if encrypted => return Err(KeyError::PassphraseRequired),
            None => Password::empty(),
        };
        let signer = Signer::OpenPgp {
            key: Box::new(key),
            password,
        };
        if encrypted {
            // Unlock once now, so that a wrong passphrase is reported when
            // the key is read rather than at the first commit.
            signer.sign(b"").map_err(KeyError::Decrypt)?;
        }
        Ok(signer)
    }

    /// An OpenSSH private key (`identity`), decrypted with `password` when
    /// it is protected; ed25519, ECDSA and RSA of 2048 bits or more.
    pub fn ssh(pem: &[u8], password: Option<&[u8]>) -> Result<Self, KeyError> {
        let key = ssh_key::PrivateKey::from_openssh(pem)
            .map_err(|e| KeyError::Unreadable(format!("could not parse SSH signing key: {e}")))?;
        let key = if key.is_encrypted() {
            let Some(password) = password.filter(|p| !p.is_empty()) else {
                return Err(KeyError::PassphraseRequired);
            };
            key.decrypt(password)
                .map_err(|e| KeyError::Decrypt(e.to_string()))?
        } else {
            key
        };
        match key.key_data() {
            ssh_key::private::KeypairData::Ed25519(_) | ssh_key::private::KeypairData::Ecdsa(_) => {
            }
            ssh_key::private::KeypairData::Rsa(rsa) => {
                let bits = rsa.public.n.as_positive_bytes().map_or(0, |b| b.len() * 8);
                if bits < 2048 {
                    return Err(KeyError::Unsupported(format!(
                        "RSA key size {bits} bits is below the minimum supported for signing; must be at least 2048"
                    )));
                }
            }
            _ => {
                return Err(KeyError::Unsupported(format!(
                    "unsupported SSH signing key algorithm: {}",
                    key.algorithm().as_str()
                )));
            }
        }
        Ok(Signer::Ssh(Box::new(key)))
    }

    /// The signature of `payload` as it goes in a commit's `gpgsig`
    /// header. Errors are the key library's, without key material.
    pub fn sign(&self, payload: &[u8]) -> Result<String, String> {
        match self {
            Signer::OpenPgp { key, password } => {
                let rng = rand_core::OsRng;
                // Go's openpgp signs with the newest valid signing subkey,
                // else the primary key.
                let subkey = key
                    .secret_subkeys
                    .iter()
                    .filter(|s| s.signatures.iter().any(|sig| sig.key_flags().sign()))
                    .max_by_key(|s| s.key.created_at());
                let signature = match subkey {
                    Some(sub) => DetachedSignature::sign_binary_data(
                        rng,
                        &sub.key,
                        password,
                        HashAlgorithm::Sha256,
                        payload,
                    ),
                    None => DetachedSignature::sign_binary_data(
                        rng,
                        &key.primary_key,
                        password,
                        HashAlgorithm::Sha256,
                        payload,
                    ),
                }
                .map_err(|e| e.to_string())?;
                signature
                    .to_armored_string(ArmorOptions::default())
                    .map_err(|e| e.to_string())
            }
            Signer::Ssh(key) => {
                let signature = key
                    .sign(
                        crate::signature::SSH_NAMESPACE,
                        ssh_key::HashAlg::Sha512,
                        payload,
                    )
                    .map_err(|e| e.to_string())?;
                signature
                    .to_pem(ssh_key::LineEnding::LF)
                    .map_err(|e| e.to_string())
            }
        }
    }
}
