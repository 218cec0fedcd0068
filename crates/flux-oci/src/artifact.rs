//! Flux's OCI artifact format (`fluxcd/pkg/oci`): one gzipped tarball layer
//! of a folder, a fixed config blob, and the origin in the manifest's
//! annotations. Artifacts written here are read by upstream's controllers
//! and CLI, and theirs here.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _, Write};
use std::path::Path;

use bytes::Bytes;
use flux_artifact::SourceIgnore;

use crate::client::{Client, Descriptor, Manifest, OCI_MANIFEST};
use crate::error::{Error, Result, io};
use crate::reference::Reference;

/// The config media type of Flux artifacts.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// The layer media type of Flux artifacts (a gzipped tarball).
pub const CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Helm's chart layer media type (`helm push`).
pub const HELM_CHART_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// `org.opencontainers.image.source`: where the content came from.
pub const SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.revision`: which revision of it.
pub const REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.created`: when it was built (RFC 3339).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The config blob upstream's `flux push artifact` writes (go-containerregistry's
/// empty config file: the creation time it sets is lost when the layer is
/// appended), byte for byte.
pub const CONFIG_BLOB: &str = r#"{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#;

/// `created` of reproducible artifacts (`--reproducible`).
pub const REPRODUCIBLE_CREATED: &str = "1970-01-01T00:00:00Z";

/// Upstream's default `--ignore-paths` of `flux push|build|diff artifact`.
pub fn default_ignore_paths() -> Vec<String> {
    [
        ".git/",
        ".gitignore",
        ".gitmodules",
        ".gitattributes",
        "*.jpg",
        "*.jpeg",
        "*.gif",
        "*.png",
        "*.wmv",
        "*.flv",
        "*.tar.gz",
        "*.zip",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The origin an artifact records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `--source` (`org.opencontainers.image.source`).
    pub source: String,
    /// `--revision` (`org.opencontainers.image.revision`).
    pub revision: String,
    /// RFC 3339; now when empty.
    pub created: String,
    /// More annotations (`--annotations key=value`).
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    /// The manifest annotations: the user's, then source, revision and
    /// created (which win).
    pub fn to_annotations(&self) -> BTreeMap<String, String> {
        let mut out = self.annotations.clone();
        if !self.source.is_empty() {
            out.insert(SOURCE_ANNOTATION.to_string(), self.source.clone());
        }
        if !self.revision.is_empty() {
            out.insert(REVISION_ANNOTATION.to_string(), self.revision.clone());
        }
        if !self.created.is_empty() {
            out.insert(CREATED_ANNOTATION.to_string(), self.created.clone());
        }
        out
    }

    /// The metadata of manifest annotations.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Metadata {
        let get = |k: &str| annotations.get(k).cloned().unwrap_or_default();
        Metadata {
            source: get(SOURCE_ANNOTATION),
            revision: get(REVISION_ANNOTATION),
            created: get(CREATED_ANNOTATION),
            annotations: annotations.clone(),
        }
    }
}

/// Writes `source` (a folder, or one file archived as a folder holding it)
/// as Flux's layer: a gzipped tarball as `fluxcd/pkg/tar` writes it —
/// entries in walk order (each folder's names sorted, the folder `.`
/// first), USTAR headers with the files' permissions, owners 0 and
/// unnamed, times zero; symbolic links and special files left out; paths
/// matching `ignore_paths` (gitignore syntax) left out.
pub fn build_layer(source: &Path, ignore_paths: &[String], out: impl Write) -> Result<()> {
    let meta = fs::metadata(source).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Error::Io(format!("source path does not exist: {}", source.display()))
        } else {
            Error::Io(format!("invalid source path {}: {e}", source.display()))
        }
    })?;
    let staged;
    let root = if meta.is_dir() {
        source.to_path_buf()
    } else {
        staged = tempfile_dir()?;
        let name = source
            .file_name()
            .ok_or_else(|| Error::Io(format!("invalid source path {}", source.display())))?;
        fs::copy(source, staged.join(name)).map_err(io("staging the file"))?;
        staged.clone()
    };
    let ignore =
        SourceIgnore::from_patterns(&root, ignore_paths).map_err(|e| Error::Io(e.to_string()))?;
    let Some(mut gz) = flux_go::gzip::Writer::new(out, -1) else {
        return Err(Error::Io("gzip level".to_string()));
    };
    let mut tar = GoTar {
        out: &mut gz,
        pad: 0,
    };
    let result = walk(&root, Path::new(""), &ignore, &mut tar).and_then(|()| tar.finish());
    if !meta.is_dir() {
        let _ = fs::remove_dir_all(&root);
    }
    result?;
    gz.finish().map_err(io("compressing the layer"))?;
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "oci-build-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    fs::create_dir_all(&dir).map_err(io("staging the file"))?;
    Ok(dir)
}

/// Go's `filepath.WalkDir` order: the folder, then its entries sorted by
/// name, each folder entered where it sorts.
fn walk(root: &Path, relative: &Path, ignore: &SourceIgnore, tar: &mut GoTar<'_>) -> Result<()> {
    let path = root.join(relative);
    let meta = fs::symlink_metadata(&path).map_err(io(path.display()))?;
    let name = if relative.as_os_str().is_empty() {
        ".".to_string()
    } else {
        relative.to_string_lossy().replace('\\', "/")
    };
    let is_dir = meta.is_dir();
    let ignored = !relative.as_os_str().is_empty() && ignore.is_ignored(relative, is_dir);
    if !ignored {
        use std::os::unix::fs::PermissionsExt as _;
        // Go's `FileInfoHeader`: the permission bits, setuid, setgid, sticky.
        let mode = meta.permissions().mode() & 0o7777;
        if is_dir {
            tar.entry(&name, mode, b'5', 0, None)?;
        } else {
            let file = fs::File::open(&path).map_err(io(path.display()))?;
            tar.entry(&name, mode, b'0', meta.len(), Some(file))?;
        }
    }
    if is_dir {
        let mut names: Vec<_> = fs::read_dir(&path)
            .map_err(io(path.display()))?
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
            walk(root, &relative.join(entry), ignore, tar)?;
        }
    }
    Ok(())
}

/// A tar writer producing Go's `archive/tar` bytes for plain files and
/// folders (USTAR; PAX for names USTAR cannot hold), in the `Write` calls
/// Go makes (the gzip encoding depends on them): each header block, the
/// content in 32 KiB reads (`fluxcd/pkg/tar`'s buffer), the padding when
/// the next entry starts, and the two end blocks.
struct GoTar<'a> {
    out: &'a mut dyn Write,
    pad: usize,
}

impl GoTar<'_> {
    fn entry(
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
                    return Err(Error::Io(format!("{name} changed while it was archived")));
                }
                self.write(&buf[..n])?;
            }
            if copied != size {
                return Err(Error::Io(format!("{name} changed while it was archived")));
            }
            self.pad = padding(size);
        }
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
        self.out.write_all(bytes).map_err(io("writing the layer"))
    }

    fn finish(&mut self) -> Result<()> {
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
    put(&mut b, 136, octal(12, 0).as_bytes());
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

/// The manifest JSON go-containerregistry writes for a Flux artifact.
pub fn manifest_json(
    config: &Descriptor,
    layer: &Descriptor,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let descriptor = |d: &Descriptor| serde_json::json!({"mediaType": d.media_type, "size": d.size, "digest": d.digest});
    let mut manifest = serde_json::Map::new();
    manifest.insert("schemaVersion".into(), 2.into());
    manifest.insert("mediaType".into(), OCI_MANIFEST.into());
    manifest.insert("config".into(), descriptor(config));
    manifest.insert(
        "layers".into(),
        serde_json::Value::Array(vec![descriptor(layer)]),
    );
    if !annotations.is_empty() {
        manifest.insert(
            "annotations".into(),
            serde_json::to_value(annotations).unwrap_or_default(),
        );
    }
    serde_json::to_vec(&serde_json::Value::Object(manifest)).unwrap_or_default()
}

/// Pushes `layer` (a built tarball) with `metadata` as `reference`'s tag;
/// returns the manifest digest.
pub async fn push(
    client: &Client,
    reference: &Reference,
    layer: Bytes,
    layer_media_type: &str,
    metadata: &Metadata,
) -> Result<String> {
    let mut metadata = metadata.clone();
    if metadata.created.is_empty() {
        metadata.created = now_rfc3339();
    }
    let config = client
        .push_blob(
            reference,
            CONFIG_MEDIA_TYPE,
            Bytes::from_static(CONFIG_BLOB.as_bytes()),
        )
        .await?;
    let layer = client.push_blob(reference, layer_media_type, layer).await?;
    let manifest = manifest_json(&config, &layer, &metadata.to_annotations());
    client
        .push_manifest(reference, OCI_MANIFEST, Bytes::from(manifest))
        .await
}

/// What a pull found.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The manifest.
    pub manifest: Manifest,
    /// Its descriptor (digest).
    pub descriptor: Descriptor,
    /// The layer written out.
    pub layer: Descriptor,
}

/// The layer of `manifest` to read: the first, or the first of
/// `media_type`.
pub fn select_layer<'m>(
    manifest: &'m Manifest,
    media_type: Option<&str>,
) -> Result<&'m Descriptor> {
    match media_type.filter(|m| !m.is_empty()) {
        Some(wanted) => manifest
            .layers
            .iter()
            .find(|l| l.media_type == wanted)
            .ok_or_else(|| {
                Error::InvalidManifest(format!(
                    "failed to find layer with media type '{wanted}' in artifact"
                ))
            }),
        None => manifest
            .layers
            .first()
            .ok_or_else(|| Error::InvalidManifest("no layers found in artifact".to_string())),
    }
}

/// `time.Now().UTC().Format(time.RFC3339)`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_793), (2026, 12, 6));
        assert_eq!(now_rfc3339().len(), 20);
    }
}
