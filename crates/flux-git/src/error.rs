/// What can go wrong talking to a Git remote.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote refused the credentials (or demanded some).
    #[error("authentication failed for '{url}': {message}")]
    Authentication {
        /// The remote URL (without credentials).
        url: String,
        /// libgit2's account of it.
        message: String,
    },
    /// The SSH host key is not the one `known_hosts` holds for the host.
    #[error("host key verification failed for '{host}': {reason}")]
    HostKey {
        /// `host` or `[host]:port`.
        host: String,
        /// What did not match.
        reason: String,
    },
    /// The HTTPS server's certificate is not trusted by the Secret's CA.
    #[error("TLS verification failed for '{host}': {reason}")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The commit is over the checkout size limits.
    #[error("checkout refused: {0}")]
    TooLarge(String),
    /// A submodule could not be checked out.
    #[error("submodule '{name}': {message}")]
    Submodule {
        /// The submodule's name.
        name: String,
        /// Details.
        message: String,
    },
    /// The reference does not exist on the remote.
    #[error("unable to resolve {reference}: {message}")]
    ReferenceNotFound {
        /// The reference as the user wrote it.
        reference: String,
        /// Details.
        message: String,
    },
    /// Credentials are missing or malformed.
    #[error("invalid credentials: {0}")]
    InvalidAuth(String),
    /// A path to write is outside the repository or malformed.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// `known_hosts` cannot be parsed.
    #[error("invalid known_hosts: {0}")]
    KnownHosts(String),
    /// The operation ran out of time (`spec.timeout`), or the server stopped
    /// answering (`deadline::SERVER_TIMEOUT` of silence).
    #[error("{operation} '{url}': timeout after {after}")]
    Timeout {
        /// What was being done.
        operation: String,
        /// The remote URL.
        url: String,
        /// The limit that was reached (`5s`, `30s without an answer from
        /// the server`).
        after: String,
    },
    /// The reference a commit was to sit on moved meanwhile (someone
    /// pushed): nothing was pushed; compute the changes again.
    #[error("{reference} moved from {expected} to {found} meanwhile")]
    BaseMoved {
        /// The remote reference.
        reference: String,
        /// Where it pointed when the changes were computed.
        expected: String,
        /// Where it points now.
        found: String,
    },
    /// The commit could not be signed.
    #[error("unable to sign commit: {0}")]
    Signing(String),
    /// Any other Git failure (network, protocol, repository).
    #[error("{operation} '{url}': {source}")]
    Git {
        /// What was being done.
        operation: String,
        /// The remote URL.
        url: String,
        /// The cause.
        #[source]
        source: git2::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the failure is about credentials (upstream's
    /// `AuthenticationFailed` reason rather than `GitOperationFailed`).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Authentication { .. } | Error::InvalidAuth(_))
    }
}
