//! Deterministic `tar.gz` archives of a source tree.
//!
//! The archive depends only on content: entries in byte order of their
//! paths, modification times zero, owners zero and unnamed, modes
//! normalised (folders 0750, files 0600, executables 0700), as upstream
//! writes them. Symbolic links and special files are left out (they could
//! point outside the tree); so is whatever [`SourceIgnore`] excludes.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::digest::{Digest, Digester};
use crate::error::{Error, Result, io};
use crate::extract::Limits;
use crate::sourceignore::SourceIgnore;

/// Mode of folders in archives.
pub const DIR_MODE: u32 = 0o750;
/// Mode of files in archives.
pub const FILE_MODE: u32 = 0o600;
/// Mode of executable files in archives.
pub const EXE_MODE: u32 = 0o700;

/// What [`archive`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Digest of the compressed archive.
    pub digest: Digest,
    /// Size of the compressed archive in bytes.
    pub size: u64,
    /// Regular files archived.
    pub files: u64,
    /// Bytes of file content archived.
    pub content_bytes: u64,
}

/// Writes the tree at `dir`, minus what `ignore` excludes, as a gzipped
/// tar to `out`. Fails without a partial result's digest when the content
/// exceeds `limits`.
pub fn archive(
    dir: &Path,
    ignore: &SourceIgnore,
    limits: &Limits,
    out: impl Write,
) -> Result<ArchiveSummary> {
    if !dir.is_dir() {
        return Err(Error::InvalidDir(dir.to_path_buf()));
    }
    let tee = Tee {
        inner: out,
        digester: Digester::default(),
    };
    let mut builder = tar::Builder::new(GzEncoder::new(tee, Compression::default()));
    let mut walk = Walk {
        root: dir,
        ignore,
        limits,
        files: 0,
        content_bytes: 0,
    };
    walk.dir(&mut builder, Path::new(""))?;
    let encoder = builder.into_inner().map_err(io("finishing the archive"))?;
    let tee = encoder.finish().map_err(io("finishing the archive"))?;
    let size = tee.digester.written();
    Ok(ArchiveSummary {
        digest: tee.digester.finish(),
        size,
        files: walk.files,
        content_bytes: walk.content_bytes,
    })
}

/// Archives `dir` into the file `path`, atomically: a temporary file in the
/// same folder is renamed into place only when complete.
pub fn archive_to_file(
    dir: &Path,
    ignore: &SourceIgnore,
    limits: &Limits,
    path: &Path,
) -> Result<ArchiveSummary> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    let tmp = temp_path(path);
    let result = File::create(&tmp)
        .map_err(io(format!("creating {}", tmp.display())))
        .and_then(|file| {
            let mut file = io::BufWriter::new(file);
            let summary = archive(dir, ignore, limits, &mut file)?;
            file.flush()
                .map_err(io(format!("writing {}", tmp.display())))?;
            Ok(summary)
        })
        .and_then(|summary| {
            std::fs::rename(&tmp, path).map_err(io(format!("renaming to {}", path.display())))?;
            Ok(summary)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

struct Walk<'a> {
    root: &'a Path,
    ignore: &'a SourceIgnore,
    limits: &'a Limits,
    files: u64,
    content_bytes: u64,
}

impl Walk<'_> {
    fn dir<W: Write>(&mut self, builder: &mut tar::Builder<W>, relative: &Path) -> Result<()> {
        let absolute = self.root.join(relative);
        let mut entries: Vec<_> = std::fs::read_dir(&absolute)
            .map_err(io(format!("reading {}", absolute.display())))?
            .collect::<io::Result<_>>()
            .map_err(io(format!("reading {}", absolute.display())))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = relative.join(entry.file_name());
            // symlink_metadata: a link is never followed.
            let meta = entry
                .metadata()
                .map_err(io(format!("inspecting {}", path.display())))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                let ignored = self.ignore.is_ignored(&path, true);
                if !ignored {
                    self.append(builder, &path, None, DIR_MODE)?;
                }
                if !ignored || !self.ignore.can_prune() {
                    self.dir(builder, &path)?;
                }
            } else if kind.is_file() && !self.ignore.is_ignored(&path, false) {
                self.files += 1;
                self.content_bytes += meta.len();
                if self.files > self.limits.max_entries {
                    return Err(Error::TooManyEntries {
                        limit: self.limits.max_entries,
                    });
                }
                if self.content_bytes > self.limits.max_bytes {
                    return Err(Error::TooLarge {
                        name: path.display().to_string(),
                        limit: self.limits.max_bytes,
                    });
                }
                let mode = if is_executable(&meta) {
                    EXE_MODE
                } else {
                    FILE_MODE
                };
                self.append(builder, &path, Some(meta.len()), mode)?;
            }
        }
        Ok(())
    }

    fn append<W: Write>(
        &self,
        builder: &mut tar::Builder<W>,
        relative: &Path,
        size: Option<u64>,
        mode: u32,
    ) -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let name = relative.to_string_lossy().replace('\\', "/");
        let context = || format!("archiving {name}");
        match size {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{name}/"), io::empty())
                    .map_err(io(context()))
            }
            Some(size) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                let file = File::open(self.root.join(relative)).map_err(io(context()))?;
                // A file that grows while archived is cut at its listed size.
                builder
                    .append_data(&mut header, &name, io::Read::take(file, size))
                    .map_err(io(context()))
            }
        }
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

struct Tee<W> {
    inner: W,
    digester: Digester,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
