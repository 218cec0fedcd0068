//! Why a build failed.

use std::path::PathBuf;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading '{}': {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS's message.
        message: String,
    },
    /// A file is not valid YAML, or a resource not a valid object.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A directory has no (or more than one) kustomization file.
    #[error("{0}")]
    Kustomization(String),
    /// Two resources with the same id.
    #[error("may not add resource with an already registered id: {0}")]
    IdConflict(String),
    /// A kustomization includes itself, directly or not.
    #[error("cycle detected: '{}' is already being built", .0.display())]
    Cycle(PathBuf),
    /// A file outside the kustomization's folder (load restrictions).
    #[error("security; file '{}' is not in or below '{}'", file.display(), root.display())]
    OutsideRoot {
        /// The file.
        file: PathBuf,
        /// The kustomization's folder.
        root: PathBuf,
    },
    /// A remote resource (URL), not allowed.
    #[error("remote resource '{0}' is not allowed (remote bases are disabled)")]
    Remote(String),
    /// A generator could not make its object.
    #[error("{0}")]
    Generator(String),
    /// A kustomization field this engine does not implement yet.
    #[error("{}: field '{field}' is not supported yet", path.display())]
    Unsupported {
        /// The kustomization file.
        path: PathBuf,
        /// The field.
        field: String,
    },
}

impl Error {
    /// Makes [`Error::Invalid`] errors about `path`.
    pub(crate) fn invalid_in(path: &std::path::Path) -> impl Fn(String) -> Error + Copy + '_ {
        move |message| Error::Invalid {
            path: path.to_path_buf(),
            message,
        }
    }
}
