use std::path::PathBuf;

/// What can go wrong with artifacts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A digest string is malformed or of an unsupported algorithm.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The digest as given.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// Downloaded content does not have the digest it should.
    #[error("failed to verify artifact: computed digest doesn't match '{expected}'")]
    DigestMismatch {
        /// The digest announced.
        expected: String,
        /// The digest of the content.
        actual: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on which path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An archive entry would land outside the destination.
    #[error("tar contained invalid name error {0:?}")]
    UnsafePath(String),
    /// An archive entry is a link.
    #[error("tar file entry {0} is a symlink, which is not allowed in this context")]
    Link(String),
    /// An archive entry is a device, FIFO or other special file.
    #[error("tar file entry {name} contained unsupported file type {kind}")]
    UnsupportedEntry {
        /// Entry name.
        name: String,
        /// Its type.
        kind: String,
    },
    /// An archive holds more than the size limit.
    #[error("tar {name:?} is bigger than max archive size of {limit} bytes")]
    TooLarge {
        /// The entry that crossed the limit.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// An archive holds more entries than the limit.
    #[error("tar has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// A file changed size while it was archived.
    #[error("{0} changed while it was archived")]
    Changed(String),
    /// A directory to archive does not exist.
    #[error("invalid dir path: {}", .0.display())]
    InvalidDir(PathBuf),
    /// An ignore pattern is malformed.
    #[error("invalid ignore pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
