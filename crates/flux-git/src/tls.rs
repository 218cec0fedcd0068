//! Server certificates of HTTPS remotes checked against a CA from the
//! Secret (`ca.crt`), for Git servers behind a private certificate
//! authority. libgit2 hands over the server's leaf certificate; it must
//! chain to one of the given CA certificates (other certificates of the
//! bundle may serve as intermediates) and name the host.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

/// A private CA that does not read, or a server certificate it does not trust.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

impl From<String> for TlsError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<TlsError> for String {
    fn from(error: TlsError) -> String {
        error.0
    }
}

/// The CA certificates a Secret trusts.
#[derive(Clone)]
pub struct TrustedCa {
    anchors: Vec<TrustAnchor<'static>>,
    certificates: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedCa({} certificates)", self.certificates.len())
    }
}

impl TrustedCa {
    /// Parses a PEM bundle (`ca.crt`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("'ca.crt' is not a PEM certificate bundle: {e}"))?;
        if certificates.is_empty() {
            return Err(TlsError("'ca.crt' holds no certificate".to_string()));
        }
        let anchors = certificates
            .iter()
            .map(|c| {
                webpki::anchor_from_trusted_cert(c)
                    .map(|a| a.to_owned())
                    .map_err(|e| format!("'ca.crt' holds an unusable certificate: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            anchors,
            certificates,
        })
    }

    /// Accepts `leaf` (DER) for `host` when it chains to the CA and is
    /// valid now for that name.
    pub fn verify(&self, leaf: &[u8], host: &str) -> Result<(), TlsError> {
        let leaf = CertificateDer::from(leaf);
        let end_entity = webpki::EndEntityCert::try_from(&leaf)
            .map_err(|e| format!("the server's certificate is malformed: {e}"))?;
        end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.anchors,
                &self.certificates,
                UnixTime::now(),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| format!("the server's certificate is not trusted by 'ca.crt': {e:?}"))?;
        let name = ServerName::try_from(host.trim_matches(['[', ']']))
            .map_err(|e| format!("invalid host name '{host}': {e}"))?;
        end_entity
            .verify_is_valid_for_subject_name(&name)
            .map_err(|e| {
                TlsError(format!(
                    "the server's certificate is not valid for '{host}': {e:?}"
                ))
            })
    }
}
