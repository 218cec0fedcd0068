//! Deterministic `tar.gz` archives of a source tree.
//!
//! The archive depends only on content and is upstream's byte for byte
//! (`fluxcd/pkg/artifact`'s `Archive`, written by [`crate::gotar`]): the
//! folder `.` then entries in walk order, modification times zero, owners
//! zero and unnamed, modes normalised (folders 0750, files 0600,
//! executables 0700), gzipped as Go does, so digests equal the upstream
//! source controller's. Symbolic links and special files are left out
//! (they could point outside the tree); so is whatever [`SourceIgnore`]
//! excludes.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
    let mut tee = Tee {
        inner: out,
        digester: Digester::default(),
    };
    let tree = crate::gotar::write_tree(
        dir,
        ignore,
        crate::gotar::Modes::Normalise,
        limits,
        &mut tee,
    )?;
    let size = tee.digester.written();
    Ok(ArchiveSummary {
        digest: tee.digester.finish(),
        size,
        files: tree.files,
        content_bytes: tree.content_bytes,
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
