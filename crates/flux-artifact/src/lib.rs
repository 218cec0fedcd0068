//! Source artifacts: what a source controller produces and every consumer
//! downloads.
//!
//! - [`archive`]: a deterministic `tar.gz` of a source tree, minus what
//!   [`SourceIgnore`] excludes (`.sourceignore` files, `spec.ignore`,
//!   upstream's defaults), with its [`Digest`];
//! - [`Storage`]: upstream's layout (`<kind>/<namespace>/<name>/<file>`),
//!   atomic writes, `latest.tar.gz`, retention-based garbage collection;
//! - [`extract`] / [`verify_and_extract`]: the path-safe extraction every
//!   consumer runs, refusing `..`, absolute paths, links and special files,
//!   and stopping at [`Limits`];
//! - [`Revision`]: `main@sha1:<hash>` and friends.
//!
//! No network and no Kubernetes here: serving and fetching over HTTP live
//! with the controllers.
//!
//! ```
//! use flux_artifact::{Limits, SourceIgnore, archive, extract};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("app.yaml"), "kind: ConfigMap\n")?;
//! std::fs::write(src.path().join("logo.png"), [0u8; 4])?; // excluded by default
//! let ignore = SourceIgnore::load(src.path(), None)?;
//! let mut bytes = Vec::new();
//! let summary = archive(src.path(), &ignore, &Limits::default(), &mut bytes)?;
//! assert_eq!(summary.files, 1);
//!
//! let dest = tempfile::tempdir()?;
//! extract(&bytes[..], dest.path(), &Limits::default())?;
//! assert!(dest.path().join("app.yaml").exists());
//! assert!(!dest.path().join("logo.png").exists());
//! # Ok(())
//! # }
//! ```

mod archive;
mod digest;
mod error;
mod extract;
pub mod gotar;
mod revision;
mod sourceignore;
mod storage;

pub use archive::{ArchiveSummary, DIR_MODE, EXE_MODE, FILE_MODE, archive, archive_to_file};
pub use digest::{Digest, Digester};
pub use error::{Error, Result};
pub use extract::{ExtractSummary, Limits, extract, verify_and_extract};
pub use revision::Revision;
pub use sourceignore::{
    EXCLUDE_CI, EXCLUDE_EXT, EXCLUDE_EXTRA, EXCLUDE_VCS, IGNORE_FILE, SourceIgnore,
};
pub use storage::{Owner, Retention, Storage, StoredArtifact};
