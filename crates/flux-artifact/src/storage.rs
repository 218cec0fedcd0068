//! Artifact storage with upstream's layout and retention:
//! `<root>/<kind>/<namespace>/<name>/<file>`, served at
//! `http://<advertised address>/<kind>/<namespace>/<name>/<file>`, with a
//! `latest.tar.gz` link to the newest archive and garbage collection that
//! keeps `retention_records` artifacts and deletes older ones once they are
//! older than `retention_ttl`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::{ArchiveSummary, archive_to_file};
use crate::error::{Error, Result, io};
use crate::extract::Limits;
use crate::sourceignore::SourceIgnore;

/// How many artifacts to keep, and for how long the older ones linger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Artifacts kept per object, the current one included (upstream: 2).
    pub records: usize,
    /// Age after which artifacts beyond `records` are deleted (upstream: 1m).
    pub ttl: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            records: 2,
            ttl: Duration::from_secs(60),
        }
    }
}

/// Where an artifact is, in storage and over HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Path relative to the storage root (`gitrepository/ns/name/<file>`).
    pub path: String,
    /// Download URL.
    pub url: String,
    /// What was archived.
    pub summary: ArchiveSummary,
}

/// The object an artifact belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    /// Its kind (`GitRepository`).
    pub kind: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
}

impl Owner<'_> {
    /// `<kind>/<namespace>/<name>/<file>` with the kind lower-cased; names
    /// that could escape the storage root are refused.
    pub fn path(&self, file: &str) -> Result<String> {
        for part in [self.namespace, self.name, file] {
            if part.is_empty() || part.contains('/') || part == "." || part == ".." {
                return Err(Error::UnsafePath(part.to_string()));
            }
        }
        Ok(format!(
            "{}/{}/{}/{file}",
            self.kind.to_lowercase(),
            self.namespace,
            self.name
        ))
    }

    fn dir(&self, root: &Path) -> Result<PathBuf> {
        let file = root.join(self.path("x")?);
        Ok(file.parent().map(Path::to_path_buf).unwrap_or_default())
    }
}

/// The artifact store of a source controller.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    base_url: String,
    retention: Retention,
}

impl Storage {
    /// A store rooted at `root` (created if missing), whose files are served
    /// at `advertised_address` (`host:port`, or a full `http(s)://` URL).
    pub fn new(root: &Path, advertised_address: &str, retention: Retention) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io(format!("creating {}", root.display())))?;
        let base = advertised_address.trim_end_matches('/');
        let base_url = if base.starts_with("http://") || base.starts_with("https://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        Ok(Self {
            root: root.to_path_buf(),
            base_url,
            retention,
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The download URL of a relative path.
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{relative}", self.base_url)
    }

    /// The absolute path of a relative path.
    pub fn local_path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Archives `dir` as `file` of `owner`, atomically, and points
    /// `latest.tar.gz` at it.
    pub fn archive(
        &self,
        owner: Owner<'_>,
        file: &str,
        dir: &Path,
        ignore: &SourceIgnore,
        limits: &Limits,
    ) -> Result<StoredArtifact> {
        let path = owner.path(file)?;
        let local = self.local_path(&path);
        let summary = archive_to_file(dir, ignore, limits, &local)?;
        self.link_latest(&local, "latest.tar.gz")?;
        Ok(StoredArtifact {
            url: self.url(&path),
            path,
            summary,
        })
    }

    /// Stores the file at `source` unchanged as `file` of `owner` (moved
    /// when it is on the same filesystem, else copied; atomically replaced),
    /// links `latest.tar.gz` to it, and returns where it is with its digest
    /// and size.
    pub fn store_file(
        &self,
        owner: Owner<'_>,
        file: &str,
        source: &Path,
    ) -> Result<StoredArtifact> {
        let path = owner.path(file)?;
        let local = self.local_path(&path);
        let parent = local.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        let digest = crate::Digest::of_reader(
            std::fs::File::open(source).map_err(io(format!("opening {}", source.display())))?,
        )
        .map_err(io(format!("reading {}", source.display())))?;
        let size = std::fs::metadata(source)
            .map_err(io(format!("reading {}", source.display())))?
            .len();
        let tmp = crate::archive::temp_path(&local);
        std::fs::copy(source, &tmp).map_err(io(format!("copying to {}", tmp.display())))?;
        if let Err(e) = std::fs::rename(&tmp, &local) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(format!("renaming to {}", local.display()))(e));
        }
        self.link_latest(&local, "latest.tar.gz")?;
        Ok(StoredArtifact {
            url: self.url(&path),
            path,
            summary: crate::ArchiveSummary {
                digest,
                size,
                files: 1,
                content_bytes: size,
            },
        })
    }

    /// Stores `bytes` as `file` of `owner` (atomically replaced), links
    /// `link` to it, and returns where it is with its digest and size.
    pub fn store_bytes(
        &self,
        owner: Owner<'_>,
        file: &str,
        bytes: &[u8],
        link: &str,
    ) -> Result<StoredArtifact> {
        self.store_streamed(owner, file, link, &mut |w| {
            std::io::Write::write_all(w, bytes)
        })
    }

    /// Stores what `write` writes as `file` of `owner`, streamed to disk
    /// (never whole in memory; atomically replaced), links `link` to it,
    /// and returns where it is with its digest and size.
    pub fn store_streamed(
        &self,
        owner: Owner<'_>,
        file: &str,
        link: &str,
        write: &mut dyn FnMut(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
    ) -> Result<StoredArtifact> {
        use std::io::Write as _;
        let path = owner.path(file)?;
        let local = self.local_path(&path);
        let parent = local.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        let tmp = crate::archive::temp_path(&local);
        let written = (|| {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
            write(&mut out)?;
            out.flush()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(format!("writing {}", tmp.display()))(e));
        }
        let digest = crate::Digest::of_reader(
            std::fs::File::open(&tmp).map_err(io(format!("opening {}", tmp.display())))?,
        )
        .map_err(io(format!("reading {}", tmp.display())))?;
        let size = std::fs::metadata(&tmp)
            .map_err(io(format!("reading {}", tmp.display())))?
            .len();
        if let Err(e) = std::fs::rename(&tmp, &local) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(format!("renaming to {}", local.display()))(e));
        }
        self.link_latest(&local, link)?;
        Ok(StoredArtifact {
            url: self.url(&path),
            path,
            summary: crate::ArchiveSummary {
                digest,
                size,
                files: 1,
                content_bytes: size,
            },
        })
    }

    /// Points `<dir of target>/<link>` at `target` (atomically replaced).
    pub fn link_latest(&self, target: &Path, link: &str) -> Result<()> {
        let Some(dir) = target.parent() else {
            return Ok(());
        };
        let Some(file) = target.file_name() else {
            return Ok(());
        };
        let link_path = dir.join(link);
        let tmp = dir.join(format!(".{link}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        #[cfg(unix)]
        std::os::unix::fs::symlink(file, &tmp).map_err(io(format!("linking {}", tmp.display())))?;
        #[cfg(not(unix))]
        std::fs::copy(target, &tmp).map_err(io(format!("copying to {}", tmp.display())))?;
        std::fs::rename(&tmp, &link_path)
            .map_err(io(format!("renaming to {}", link_path.display())))
    }

    /// Deletes the artifacts of `owner` that retention no longer keeps,
    /// never `current` (a relative path); returns what was deleted.
    pub fn garbage_collect(
        &self,
        owner: Owner<'_>,
        current: &str,
        now: SystemTime,
    ) -> Result<Vec<PathBuf>> {
        let dir = owner.dir(&self.root)?;
        let current = self.local_path(current);
        let mut candidates = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("reading {}", dir.display()))(e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if !meta.is_file()
                || path == current
                || name.starts_with('.')
                || name.ends_with(".lock")
            {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            candidates.push((modified, path));
        }
        // Newest first; the current artifact takes one of the kept places.
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        let keep = self.retention.records.saturating_sub(1);
        let mut deleted = Vec::new();
        for (modified, path) in candidates.into_iter().skip(keep) {
            let age = now.duration_since(modified).unwrap_or_default();
            if age >= self.retention.ttl {
                std::fs::remove_file(&path).map_err(io(format!("deleting {}", path.display())))?;
                deleted.push(path);
            }
        }
        Ok(deleted)
    }

    /// Deletes every artifact of `owner` (the object is gone).
    pub fn remove_all(&self, owner: Owner<'_>) -> Result<()> {
        let dir = owner.dir(&self.root)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format!("deleting {}", dir.display()))(e)),
        }
    }
}
