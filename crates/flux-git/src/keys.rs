//! SSH deploy keys for `flux bootstrap` and `flux create secret git`.

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, EcdsaCurve, LineEnding, PrivateKey};

use crate::error::{Error, Result};

/// A generated key pair in OpenSSH format.
pub struct KeyPair {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----…`, unencrypted.
    pub private_key: String,
    /// `ecdsa-sha2-nistp384 AAAA…` (one line, no comment).
    pub public_key: String,
}

impl std::fmt::Debug for KeyPair {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.public_key)
    }
}

/// Generates a key: `algorithm` is `ecdsa` (with `curve` `p256` or `p384`,
/// upstream's default being `p384`) or `ed25519`. RSA is refused (slow
/// and weaker; upstream offers it, we do not generate it).
pub fn generate_ssh_key(algorithm: &str, curve: &str) -> Result<KeyPair> {
    let algorithm = match (algorithm, curve) {
        ("ecdsa", "p384") => Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384,
        },
        ("ecdsa", "p256") => Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
        ("ed25519", _) => Algorithm::Ed25519,
        (a, c) => {
            return Err(Error::InvalidAuth(format!(
                "SSH key algorithm '{a}' (curve '{c}') is not supported: use ecdsa with p256 or p384, or ed25519"
            )));
        }
    };
    let key = PrivateKey::random(&mut OsRng, algorithm)
        .map_err(|e| Error::InvalidAuth(format!("generating an SSH key: {e}")))?;
    let private_key = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::InvalidAuth(format!("encoding the SSH key: {e}")))?
        .to_string();
    let public_key = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::InvalidAuth(format!("encoding the SSH public key: {e}")))?;
    Ok(KeyPair {
        private_key,
        public_key,
    })
}

/// The public key of an OpenSSH private key (for Secrets' `identity.pub`);
/// readable without the passphrase, as the format stores it in clear.
pub fn public_key_of(private_key: &str) -> Result<String> {
    let key = PrivateKey::from_openssh(private_key)
        .map_err(|e| Error::InvalidAuth(format!("parsing the SSH private key: {e}")))?;
    key.public_key()
        .to_openssh()
        .map_err(|e| Error::InvalidAuth(format!("encoding the SSH public key: {e}")))
}
