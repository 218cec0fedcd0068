//! What can go wrong talking to a registry or building an artifact.

/// An OCI failure. Messages name the request as go-containerregistry does
/// (`GET <url>: <CODE>: <message>`) and never hold credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference or URL that cannot name an artifact.
    #[error("invalid reference '{reference}': {reason}")]
    InvalidReference {
        /// What was given.
        reference: String,
        /// Why it is refused.
        reason: String,
    },
    /// The registry refused the credentials, or wants some.
    #[error("{request}: {message}")]
    Authentication {
        /// `GET <url>`.
        request: String,
        /// `UNAUTHORIZED: authentication required`, …
        message: String,
    },
    /// The manifest, blob or repository does not exist.
    #[error("{request}: {message}")]
    NotFound {
        /// `GET <url>`.
        request: String,
        /// `MANIFEST_UNKNOWN: manifest unknown`, …
        message: String,
    },
    /// Any other answer than the one expected.
    #[error("{request}: {message}")]
    Registry {
        /// `GET <url>`.
        request: String,
        /// The status and the registry's errors.
        message: String,
    },
    /// The registry could not be reached or the connection broke.
    #[error("{request}: {message}")]
    Transport {
        /// `GET <url>`.
        request: String,
        /// The cause.
        message: String,
    },
    /// The registry did not answer in time.
    #[error("{request}: timeout after {after}")]
    Timeout {
        /// `GET <url>`.
        request: String,
        /// `1m0s`.
        after: String,
    },
    /// A manifest or blob over the size limit.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Content whose digest is not the one it was asked by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was read.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A manifest that is not an OCI or Docker image manifest.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// TLS configuration (a CA or client certificate that cannot be used).
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    /// Reading or writing local files.
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// True when credentials are missing or refused (upstream's
    /// `AuthenticationFailed`).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication { .. })
    }

    /// True when the artifact or repository does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An I/O error with what was being done.
pub(crate) fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Io(format!("{what}: {e}"))
}
