//! Tarballs as Go writes them: `archive/tar` headers (USTAR, PAX for names
//! USTAR cannot hold) of folders and regular files in `filepath.Walk`
//! order, gzipped by [`flux_go::gzip`] in the same `Write` calls, so that
//! the bytes — and the digests users and tools compare — are upstream's:
//! the source controller's stored artifacts (`fluxcd/pkg/artifact`:
//! modes normalised) and `flux push|build artifact` layers
//! (`fluxcd/pkg/tar`: modes kept).

use std::fs;
use std::io::{Read as _, Write};
use std::path::Path;

use crate::error::{Error, Result, io};
use crate::extract::Limits;
use crate::sourceignore::SourceIgnore;

/// How entry modes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modes {
    /// The files' permission bits (`flux push artifact`).
    Keep,
    /// Folders 0750, files 0600, executables 0700 (stored artifacts).
    Normalise,
}

/// What [`write_tree`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeSummary {
    /// Regular files archived.
    pub files: u64,
    /// Bytes of their content.
    pub content_bytes: u64,
}

/// The header fields of a gzip stream besides Go's defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct GzipHeader<'a> {
    /// `Header.Extra`.
    pub extra: Option<&'a [u8]>,
    /// `Header.Comment`.
    pub comment: Option<&'a str>,
}

/// Writes `files` (name, content) as regular files with `mode` and
/// modification time `mtime` (seconds) into a gzipped tarball, as Go's
/// `archive/tar` and `compress/gzip` (default level) write them with one
/// `Write` per header and per content: Helm's `chartutil.Save`.
pub fn write_files(
    files: &[(String, &[u8])],
    mode: u32,
    mtime: u64,
    gzip: GzipHeader<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let Some(gz) = flux_go::gzip::Writer::new(out, -1) else {
        return Err(Error::Changed("gzip level".to_string()));
    };
    let mut gz = gz.with_header(gzip.extra, gzip.comment);
    {
        let mut tar = GoTar {
            out: &mut gz,
            pad: 0,
        };
        for (name, data) in files {
            tar.entry_bytes(name, mode, mtime, data)?;
        }
        tar.finish()?;
    }
    gz.finish().map_err(io("writing the archive"))?;
    Ok(())
}

/// Writes the tree at `root` as a gzipped tarball to `out`, as Go writes
/// it: the folder `.` first, then each folder's entries sorted by name,
/// folders entered where they sort; symbolic links and special files left
/// out; what `ignore` excludes left out (a folder's entries are still
/// looked at unless nothing below it can be re-included). Stops at
/// `limits` before writing the entry over them.
pub fn write_tree(
    root: &Path,
    ignore: &SourceIgnore,
    modes: Modes,
    limits: &Limits,
    out: &mut dyn Write,
) -> Result<TreeSummary> {
    let Some(mut gz) = flux_go::gzip::Writer::new(out, -1) else {
        return Err(Error::Changed("gzip level".to_string()));
    };
    let mut summary = TreeSummary::default();
    {
        let mut tar = GoTar {
            out: &mut gz,
            pad: 0,
        };
        walk(
            root,
            Path::new(""),
            ignore,
            modes,
            limits,
            &mut summary,
            &mut tar,
        )?;
        tar.finish()?;
    }
    gz.finish().map_err(io("compressing the archive"))?;
    Ok(summary)
}

fn walk(
    root: &Path,
    relative: &Path,
    ignore: &SourceIgnore,
    modes: Modes,
    limits: &Limits,
    summary: &mut TreeSummary,
    tar: &mut GoTar<'_>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = root.join(relative);
    let meta = fs::symlink_metadata(&path).map_err(io(format!("inspecting {}", path.display())))?;
    let is_root = relative.as_os_str().is_empty();
    let name = if is_root {
        ".".to_string()
    } else {
        relative.to_string_lossy().replace('\\', "/")
    };
    let is_dir = meta.is_dir();
    let ignored = !is_root && ignore.is_ignored(relative, is_dir);
    let perm = meta.permissions().mode() & 0o7777;
    if !ignored {
        if is_dir {
            let mode = match modes {
                Modes::Keep => perm,
                Modes::Normalise => crate::archive::DIR_MODE,
            };
            tar.entry(&name, mode, b'5', 0, None)?;
        } else {
            summary.files += 1;
            summary.content_bytes += meta.len();
            if summary.files > limits.max_entries {
                return Err(Error::TooManyEntries {
                    limit: limits.max_entries,
                });
            }
            if summary.content_bytes > limits.max_bytes {
                return Err(Error::TooLarge {
                    name,
                    limit: limits.max_bytes,
                });
            }
            let mode = match modes {
                Modes::Keep => perm,
                Modes::Normalise if perm & 0o111 != 0 => crate::archive::EXE_MODE,
                Modes::Normalise => crate::archive::FILE_MODE,
            };
            let file = fs::File::open(&path).map_err(io(format!("archiving {name}")))?;
            tar.entry(&name, mode, b'0', meta.len(), Some(file))?;
        }
    }
    if is_dir && (!ignored || !ignore.can_prune()) {
        let mut names: Vec<_> = fs::read_dir(&path)
            .map_err(io(format!("reading {}", path.display())))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_type()
                    .map(|t| t.is_dir() || t.is_file())
                    .unwrap_or(false)
            })
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for entry in names {
            walk(
                root,
                &relative.join(entry),
                ignore,
                modes,
                limits,
                summary,
                tar,
            )?;
        }
    }
    Ok(())
}

/// A tar writer producing Go's `archive/tar` bytes for plain files and
/// folders (USTAR; PAX for names USTAR cannot hold), in the `Write` calls
/// Go makes (the gzip encoding depends on them): each header block, the
/// content in 32 KiB reads (`fluxcd/pkg/tar`'s buffer), the padding when
/// the next entry starts, and the two end blocks.
pub(crate) struct GoTar<'a> {
    pub(crate) out: &'a mut dyn Write,
    pub(crate) pad: usize,
}

impl GoTar<'_> {
    pub(crate) fn entry(
        &mut self,
        name: &str,
        mode: u32,
        kind: u8,
        size: u64,
        content: Option<fs::File>,
    ) -> Result<()> {
        let needs_pax = !name.is_ascii() || split_ustar_path(name).is_none();
        let (prefix, short) = if needs_pax {
            // A PAX header carries the whole path.
            let record = pax_record("path", name);
            let (dir, base) = match name.rfind('/') {
                Some(i) => (&name[..=i], &name[i + 1..]),
                None => ("", name),
            };
            let pax_name = ascii(&format!("{dir}PaxHeaders.0/{base}"));
            let pax_name = pax_name[..pax_name.len().min(100)].trim_end_matches('/');
            self.start_entry()?;
            self.write(&raw_header(pax_name, record.len() as u64))?;
            self.write(record.as_bytes())?;
            self.pad = padding(record.len() as u64);
            let main = ascii(name);
            (String::new(), main[..main.len().min(100)].to_string())
        } else {
            split_ustar_path(name).unwrap_or_default()
        };
        self.start_entry()?;
        self.write(&header(&short, &prefix, mode, kind, size))?;
        if let Some(mut file) = content {
            let mut buf = vec![0u8; 32 * 1024];
            let mut copied = 0u64;
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(io(format!("archiving {name}")))?;
                if n == 0 {
                    break;
                }
                copied += n as u64;
                if copied > size {
                    return Err(Error::Changed(name.to_string()));
                }
                self.write(&buf[..n])?;
            }
            if copied != size {
                return Err(Error::Changed(name.to_string()));
            }
            self.pad = padding(size);
        }
        Ok(())
    }

    /// A regular file from memory: its header, then its content in one
    /// `Write` (as Helm's `writeToTar`).
    pub(crate) fn entry_bytes(
        &mut self,
        name: &str,
        mode: u32,
        mtime: u64,
        data: &[u8],
    ) -> Result<()> {
        let (prefix, short) = match split_ustar_path(name) {
            Some(split) if name.is_ascii() => split,
            _ => {
                let record = pax_record("path", name);
                let (dir, base) = match name.rfind('/') {
                    Some(i) => (&name[..=i], &name[i + 1..]),
                    None => ("", name),
                };
                let pax_name = ascii(&format!("{dir}PaxHeaders.0/{base}"));
                let pax_name = pax_name[..pax_name.len().min(100)].trim_end_matches('/');
                self.start_entry()?;
                self.write(&raw_header(pax_name, record.len() as u64))?;
                self.write(record.as_bytes())?;
                self.pad = padding(record.len() as u64);
                let main = ascii(name);
                (String::new(), main[..main.len().min(100)].to_string())
            }
        };
        self.start_entry()?;
        self.write(&header_at(
            &short,
            &prefix,
            mode,
            b'0',
            data.len() as u64,
            mtime,
        ))?;
        if !data.is_empty() {
            self.write(data)?;
        }
        self.pad = padding(data.len() as u64);
        Ok(())
    }

    /// The padding the previous entry still owes (Go's `Flush`).
    fn start_entry(&mut self) -> Result<()> {
        let pad = std::mem::take(&mut self.pad);
        if pad > 0 {
            self.write(&vec![0; pad])?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(io("writing the archive"))
    }

    pub(crate) fn finish(&mut self) -> Result<()> {
        self.start_entry()?;
        self.write(&[0; 512])?;
        self.write(&[0; 512])
    }
}

fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

/// Go's `toASCII`: the ASCII characters of `s` other than NUL.
fn ascii(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii() && *c != '\0').collect()
}

/// Go's `splitUSTARPath`: a name over 100 bytes split into a prefix of at
/// most 155 and a name of at most 100 at a `/`.
fn split_ustar_path(name: &str) -> Option<(String, String)> {
    if name.len() <= 100 {
        return Some((String::new(), name.to_string()));
    }
    if !name.is_ascii() {
        return None;
    }
    let length = name.len();
    let max = length.min(156);
    let i = name[..max].rfind('/')?;
    let (prefix, rest) = (&name[..i], &name[i + 1..]);
    if i == 0 || prefix.len() > 155 || rest.is_empty() || rest.len() > 100 {
        return None;
    }
    Some((prefix.to_string(), rest.to_string()))
}

/// One PAX record: `"<len> key=value\n"`, its length counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut size = body.len() + 1;
    loop {
        let record = format!("{size}{body}");
        if record.len() == size {
            return record;
        }
        size = record.len();
    }
}

/// A USTAR header block as Go writes it.
fn header(name: &str, prefix: &str, mode: u32, kind: u8, size: u64) -> [u8; 512] {
    header_at(name, prefix, mode, kind, size, 0)
}

/// [`header`] with a modification time (seconds since the epoch).
fn header_at(name: &str, prefix: &str, mode: u32, kind: u8, size: u64, mtime: u64) -> [u8; 512] {
    let mut b = [0u8; 512];
    let put = |b: &mut [u8; 512], at: usize, bytes: &[u8]| {
        b[at..at + bytes.len()].copy_from_slice(bytes);
    };
    let octal = |width: usize, value: u64| format!("{value:0w$o}\0", w = width - 1);
    put(&mut b, 0, &name.as_bytes()[..name.len().min(100)]);
    put(&mut b, 100, octal(8, u64::from(mode)).as_bytes());
    put(&mut b, 108, octal(8, 0).as_bytes());
    put(&mut b, 116, octal(8, 0).as_bytes());
    put(&mut b, 124, octal(12, size).as_bytes());
    put(&mut b, 136, octal(12, mtime).as_bytes());
    b[156] = kind;
    put(&mut b, 257, b"ustar\x0000");
    put(&mut b, 329, octal(8, 0).as_bytes());
    put(&mut b, 337, octal(8, 0).as_bytes());
    put(&mut b, 345, &prefix.as_bytes()[..prefix.len().min(155)]);
    // The checksum counts its own field as spaces.
    put(&mut b, 148, b"        ");
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    put(&mut b, 148, format!("{sum:06o}\0 ").as_bytes());
    b
}

/// Go's `writeRawFile` header of a PAX record block: only the V7 fields
/// and the format's magic (no device numbers).
fn raw_header(name: &str, size: u64) -> [u8; 512] {
    let mut b = [0u8; 512];
    let put = |b: &mut [u8; 512], at: usize, bytes: &[u8]| {
        b[at..at + bytes.len()].copy_from_slice(bytes);
    };
    let octal = |width: usize, value: u64| format!("{value:0w$o}\0", w = width - 1);
    put(&mut b, 0, name.as_bytes());
    put(&mut b, 100, octal(8, 0).as_bytes());
    put(&mut b, 108, octal(8, 0).as_bytes());
    put(&mut b, 116, octal(8, 0).as_bytes());
    put(&mut b, 124, octal(12, size).as_bytes());
    put(&mut b, 136, octal(12, 0).as_bytes());
    b[156] = b'x';
    put(&mut b, 257, b"ustar\x0000");
    put(&mut b, 148, b"        ");
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    put(&mut b, 148, format!("{sum:06o}\0 ").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_go_ustar_bytes() {
        let h = header("apps", "", 0o755, b'5', 0);
        assert_eq!(&h[100..108], b"0000755\0");
        assert_eq!(&h[124..136], b"00000000000\0");
        assert_eq!(&h[148..156], b"010071\0 ");
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(&h[329..345], b"0000000\x000000000\0");
    }

    #[test]
    fn long_names_split_or_go_to_pax() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let (prefix, name) = split_ustar_path(&long).unwrap();
        assert_eq!((prefix.len(), name.len()), (120, 50));
        assert_eq!(split_ustar_path(&"x".repeat(120)), None);
        assert_eq!(pax_record("path", "abc"), "12 path=abc\n");
        let value = "v".repeat(92);
        let record = pax_record("path", &value);
        assert_eq!(
            record.len(),
            record.split(' ').next().unwrap().parse::<usize>().unwrap()
        );
    }
}
