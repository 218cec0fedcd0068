//! Flux's OCI artifact format (`fluxcd/pkg/oci`): one gzipped tarball layer
//! of a folder, a fixed config blob, and the origin in the manifest's
//! annotations. Artifacts written here are read by upstream's controllers
//! and CLI, and theirs here.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
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
    let limits = flux_artifact::Limits {
        max_bytes: u64::MAX,
        max_entries: u64::MAX,
    };
    let mut out = out;
    let result = flux_artifact::gotar::write_tree(
        &root,
        &ignore,
        flux_artifact::gotar::Modes::Keep,
        &limits,
        &mut out,
    );
    if !meta.is_dir() {
        let _ = fs::remove_dir_all(&root);
    }
    result.map_err(|e| Error::Io(e.to_string()))?;
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
    fn dates_are_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_793), (2026, 12, 6));
        assert_eq!(now_rfc3339().len(), 20);
    }
}
