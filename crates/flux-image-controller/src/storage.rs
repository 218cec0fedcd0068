//! Tag storage in upstream's `FluxStorage` layout: one file per
//! ImageRepository, `imagerepository/<namespace>/<name>/tags.txt` (a tag
//! per line, newest first in byte order), gzip-compressed as `tags.txt.gz`
//! from 64 KiB on; the revision is `sha256:<hex>` of the plain text.
//!
//! Unlike upstream's default BadgerDB (which grows until the disk is
//! full), the space used is bounded: a file per existing ImageRepository,
//! written atomically (temporary file + rename), removed with it, and a
//! tag list longer than [`MAX_TAGS`] is refused rather than stored.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The most tags stored for one repository.
pub const MAX_TAGS: usize = 1 << 20;
/// Upstream's `--storage-compression-threshold` default (KiB).
pub const DEFAULT_COMPRESSION_THRESHOLD: usize = 64 << 10;
const PLAIN: &str = "tags.txt";
const GZIP: &str = "tags.txt.gz";
/// The most bytes a stored tag list may decompress to.
const MAX_PLAIN_BYTES: u64 = 256 << 20;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(String);

/// The tag database under `--storage-path`.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    compression_threshold: usize,
}

impl Storage {
    /// The storage under `root`.
    pub fn new(root: impl Into<PathBuf>, compression_threshold: usize) -> Storage {
        Storage {
            root: root.into(),
            compression_threshold,
        }
    }

    fn dir(&self, namespace: &str, name: &str) -> Result<PathBuf, StorageError> {
        let valid = |s: &str| !s.is_empty() && !s.contains(['/', '\\']) && s != "." && s != "..";
        if !valid(namespace) || !valid(name) {
            return Err(StorageError(
                "repo namespace and name are required".to_string(),
            ));
        }
        Ok(self.root.join("imagerepository").join(namespace).join(name))
    }

    /// The stored tags (empty when none are).
    pub fn tags(&self, namespace: &str, name: &str) -> Result<Vec<String>, StorageError> {
        let dir = self.dir(namespace, name)?;
        let read = |path: &Path, gzip: bool| -> Result<Option<Vec<u8>>, StorageError> {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StorageError(format!("failed to read tags: {e}"))),
            };
            let mut out = Vec::new();
            let result = if gzip {
                flate2::read::GzDecoder::new(file)
                    .take(MAX_PLAIN_BYTES)
                    .read_to_end(&mut out)
            } else {
                file.take(MAX_PLAIN_BYTES).read_to_end(&mut out)
            };
            result.map_err(|e| StorageError(format!("failed to read tags: {e}")))?;
            Ok(Some(out))
        };
        let bytes = match read(&dir.join(GZIP), true)? {
            Some(b) => b,
            None => read(&dir.join(PLAIN), false)?.unwrap_or_default(),
        };
        Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Whether tags are stored (a look at the files, nothing read: the
    /// scan decision of every reconcile asks).
    pub fn has_tags(&self, namespace: &str, name: &str) -> bool {
        let Ok(dir) = self.dir(namespace, name) else {
            return false;
        };
        [PLAIN, GZIP]
            .iter()
            .any(|file| std::fs::metadata(dir.join(file)).is_ok_and(|m| m.len() > 0))
    }

    /// Stores `tags` (in the order given) and returns the revision.
    pub fn set_tags(
        &self,
        namespace: &str,
        name: &str,
        tags: &[String],
    ) -> Result<String, StorageError> {
        if tags.len() > MAX_TAGS {
            return Err(StorageError(format!(
                "{} tags is more than the {MAX_TAGS} stored per repository",
                tags.len()
            )));
        }
        let dir = self.dir(namespace, name)?;
        let mut plain = Vec::new();
        for tag in tags {
            plain.extend_from_slice(tag.as_bytes());
            plain.push(b'\n');
        }
        let revision = format!("sha256:{}", hex(&sha256(&plain)));
        std::fs::create_dir_all(&dir)
            .map_err(|e| StorageError(format!("failed to create storage directory: {e}")))?;
        let (file, payload, stale) = if plain.len() >= self.compression_threshold {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(&plain)
                .map_err(|e| StorageError(format!("failed to compress tags: {e}")))?;
            let gz = encoder
                .finish()
                .map_err(|e| StorageError(format!("failed to compress tags: {e}")))?;
            (GZIP, gz, PLAIN)
        } else {
            (PLAIN, plain, GZIP)
        };
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, &payload)
            .and_then(|()| std::fs::rename(&tmp, dir.join(file)))
            .map_err(|e| StorageError(format!("failed to write tags: {e}")))?;
        let _ = std::fs::remove_file(dir.join(stale));
        Ok(revision)
    }

    /// Removes the repository's tags.
    pub fn delete(&self, namespace: &str, name: &str) -> Result<(), StorageError> {
        let dir = self.dir(namespace, name)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError(format!("failed to delete tags: {e}"))),
        }
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn round_trip_plain_and_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path(), 64);
        let tags: Vec<String> = vec!["b".into(), "a".into()];
        let rev = storage.set_tags("ns", "repo", &tags).unwrap();
        // sha256 of "b\na\n".
        assert_eq!(rev, format!("sha256:{}", hex(&sha256(b"b\na\n"))));
        assert!(dir.path().join("imagerepository/ns/repo/tags.txt").exists());
        assert_eq!(storage.tags("ns", "repo").unwrap(), tags);
        assert!(storage.has_tags("ns", "repo"));
        let many: Vec<String> = (0..100).map(|i| format!("1.0.{i}")).collect();
        storage.set_tags("ns", "repo", &many).unwrap();
        assert!(
            dir.path()
                .join("imagerepository/ns/repo/tags.txt.gz")
                .exists()
        );
        assert!(!dir.path().join("imagerepository/ns/repo/tags.txt").exists());
        assert_eq!(storage.tags("ns", "repo").unwrap(), many);
        storage.delete("ns", "repo").unwrap();
        assert!(storage.tags("ns", "repo").unwrap().is_empty());
        assert!(!storage.has_tags("ns", "repo"));
        assert!(storage.set_tags("..", "repo", &tags).is_err());
    }
}
