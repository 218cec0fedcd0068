//! Path-safe extraction of artifact archives: what every consumer of a
//! source (kustomize, helm, …) runs on downloaded bytes.
//!
//! Refused, with upstream's wording: absolute paths and `..` (nothing may
//! land outside the destination), symbolic and hard links, devices and
//! FIFOs, more content than [`Limits::max_bytes`] (counted while
//! decompressing, so a gzip bomb stops at the limit), more entries than
//! [`Limits::max_entries`]. Modes are reduced to 0644/0755.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use crate::digest::{Digest, Digester};
use crate::error::{Error, Result, io};

/// Bounds on what an archive may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of file content (upstream's default: 100 MiB).
    pub max_bytes: u64,
    /// Number of entries.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 100 << 20,
            max_entries: 100_000,
        }
    }
}

/// What [`extract`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Files written.
    pub files: u64,
    /// Bytes of content written.
    pub bytes: u64,
}

/// Extracts the gzipped tar `reader` into the existing folder `dest`.
pub fn extract(reader: impl Read, dest: &Path, limits: &Limits) -> Result<ExtractSummary> {
    if !dest.is_dir() {
        return Err(Error::InvalidDir(dest.to_path_buf()));
    }
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut summary = ExtractSummary::default();
    let mut entries_seen = 0u64;
    for entry in archive.entries().map_err(io("reading the archive"))? {
        let mut entry = entry.map_err(io("tar error"))?;
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(Error::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let relative = safe_relative(&raw)?;
        let target = dest.join(&relative);
        match kind {
            tar::EntryType::Directory => {
                fs::create_dir_all(&target)
                    .map_err(io(format!("creating {}", target.display())))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)
                        .map_err(io(format!("creating {}", parent.display())))?;
                }
                let remaining = limits.max_bytes.saturating_sub(summary.bytes);
                let mut file =
                    File::create(&target).map_err(io(format!("creating {}", target.display())))?;
                // Read one byte past the budget to detect a crossing.
                let written = io::copy(&mut (&mut entry).take(remaining + 1), &mut file)
                    .map_err(io(format!("writing {}", target.display())))?;
                summary.bytes += written;
                if written > remaining {
                    drop(file);
                    let _ = fs::remove_file(&target);
                    return Err(Error::TooLarge {
                        name: raw,
                        limit: limits.max_bytes,
                    });
                }
                file.flush()
                    .map_err(io(format!("writing {}", target.display())))?;
                set_mode(&target, entry.header().mode().unwrap_or(0o644))?;
                summary.files += 1;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => return Err(Error::Link(raw)),
            other => {
                return Err(Error::UnsupportedEntry {
                    name: raw,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    Ok(summary)
}

/// Downloads `reader` into a temporary file beside `dest` while hashing it,
/// refuses it unless its digest is `expected`, then extracts it into `dest`.
/// Nothing is extracted from unverified bytes.
pub fn verify_and_extract(
    reader: impl Read,
    expected: &Digest,
    dest: &Path,
    limits: &Limits,
) -> Result<ExtractSummary> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let tmp = crate::archive::temp_path(&parent.join("download.tar.gz"));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let mut digester = Digester::default();
        let mut limited = reader.take(limits.max_bytes + 1);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = limited
                .read(&mut buf)
                .map_err(io("downloading the artifact"))?;
            if n == 0 {
                break;
            }
            digester.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(io(format!("writing {}", tmp.display())))?;
        }
        if digester.written() > limits.max_bytes {
            return Err(Error::TooLarge {
                name: "artifact".to_string(),
                limit: limits.max_bytes,
            });
        }
        let actual = digester.finish();
        if &actual != expected {
            return Err(Error::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        let file = File::open(&tmp).map_err(io(format!("opening {}", tmp.display())))?;
        extract(io::BufReader::new(file), dest, limits)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// `raw` as a path below the destination, or an error.
fn safe_relative(raw: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::UnsafePath(raw.to_string()));
            }
        }
    }
    // An empty result (`./`) is the destination itself.
    Ok(out)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting the mode of {}", path.display())))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<()> {
    Ok(())
}
