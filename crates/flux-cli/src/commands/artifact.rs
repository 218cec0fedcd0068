//! `flux push|pull|tag|build|diff artifact` and `flux list artifacts`:
//! Flux's OCI artifacts, as upstream's commands make and read them.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use flux_oci::artifact::{self, CONTENT_MEDIA_TYPE, Metadata};
use flux_oci::{Client, ClientOptions, Credentials, Reference};

use crate::cli::{
    BuildArtifactArgs, DiffArtifactArgs, Global, ListArtifactsArgs, PullArtifactArgs,
    PushArtifactArgs, RegistryArgs, TagArtifactArgs,
};
use crate::client::{Error, timeout};
use crate::output;

/// `oci://…` → a reference (upstream's `oci.ParseArtifactURL`).
fn parse_url(url: &str) -> Result<Reference, Error> {
    if !url.starts_with(flux_oci::OCI_SCHEME) {
        return Err("URL must be in format 'oci://<domain>/<org>/<repo>'".into());
    }
    Reference::parse_url(url).map_err(|e| Error::from(e.to_string()))
}

/// A registry client for the flags: `--creds`, else the Docker config
/// file's credentials for the registry (`$DOCKER_CONFIG/config.json`,
/// `~/.docker/config.json`).
fn client(
    global: &Global,
    registry: &RegistryArgs,
    reference: &Reference,
) -> Result<Client, Error> {
    if registry.provider != "generic" {
        output::action("logging in to registry with provider credentials");
        return Err(format!(
            "error during login with provider: {} credentials are not supported by this CLI yet; use --creds",
            registry.provider
        )
        .into());
    }
    let credentials = if registry.creds.is_empty() {
        docker_config_credentials(&reference.registry)
    } else {
        output::action("logging in to registry with credentials");
        Some(Credentials::parse(&registry.creds))
    };
    Client::new(ClientOptions {
        insecure: registry.insecure,
        tls: flux_oci::http::Tls::default(),
        credentials,
        timeout: timeout(global)?,
        proxy: None,
    })
    .map_err(|e| Error::from(e.to_string()))
}

fn docker_config_credentials(registry: &str) -> Option<Credentials> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let bytes = std::fs::read(dir.join("config.json")).ok()?;
    flux_oci::auth::from_docker_config(&bytes, registry)
        .ok()
        .flatten()
}

fn ignore_paths(given: &Option<Vec<String>>) -> Vec<String> {
    given.clone().unwrap_or_else(artifact::default_ignore_paths)
}

/// The layer tarball of `path` (a folder or a file).
fn build_layer(path: &Path, ignore: &[String]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    artifact::build_layer(path, ignore, &mut out)
        .map_err(|e| Error::from(format!("building artifact failed: {e}")))?;
    Ok(out)
}

/// `flux push artifact`.
pub async fn push(global: &Global, args: &PushArtifactArgs) -> Result<(), Error> {
    let Some(url) = &args.url else {
        return Err("artifact URL is required".into());
    };
    if args.source.is_empty() {
        return Err("--source is required".into());
    }
    if args.revision.is_empty() {
        return Err("--revision is required".into());
    }
    if args.path.is_empty() {
        return Err(format!("invalid path {:?}", args.path).into());
    }
    let reference = parse_url(url)?;
    let stdin_file;
    let path = if args.path == "-" {
        let mut content = Vec::new();
        std::io::stdin()
            .read_to_end(&mut content)
            .map_err(|e| Error::from(format!("error writing stdin to file: {e}")))?;
        stdin_file = tempfile::Builder::new()
            .prefix("artifact-")
            .tempdir()
            .map_err(|e| Error::from(format!("unable to create temp dir for stdin: {e}")))?;
        let file = stdin_file.path().join("artifact");
        std::fs::write(&file, content)
            .map_err(|e| Error::from(format!("error writing stdin to file: {e}")))?;
        file
    } else {
        PathBuf::from(&args.path)
    };
    if let Err(e) = std::fs::metadata(&path) {
        return Err(format!(
            "invalid path '{}', must point to an existing directory or file: {e}",
            path.display()
        )
        .into());
    }
    let mut annotations = std::collections::BTreeMap::new();
    for annotation in &args.annotations {
        let parts: Vec<&str> = annotation.split('=').collect();
        let [key, value] = parts[..] else {
            return Err(format!(
                "invalid annotation {annotation}, must be in the format key=value"
            )
            .into());
        };
        annotations.insert(key.to_string(), value.to_string());
    }
    let metadata = Metadata {
        source: args.source.clone(),
        revision: args.revision.clone(),
        created: if args.reproducible {
            artifact::REPRODUCIBLE_CREATED.to_string()
        } else {
            String::new()
        },
        annotations,
    };
    let client = client(global, &args.registry, &reference)?;
    if args.output.is_empty() {
        output::action(format!("pushing artifact to {reference}"));
    }
    let layer = build_layer(&path, &ignore_paths(&args.ignore_paths))?;
    let digest = artifact::push(
        &client,
        &reference,
        Bytes::from(layer),
        CONTENT_MEDIA_TYPE,
        &metadata,
    )
    .await
    .map_err(|e| Error::from(format!("pushing artifact failed: {e}")))?;
    let digest_url = format!("{}@{digest}", reference.name());
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    match args.output.as_str() {
        "json" => {
            let info = serde_json::json!({
                "url": format!("oci://{digest_url}"),
                "repository": reference.name(),
                "tag": tag,
                "digest": digest,
            });
            let text = serde_json::to_string_pretty(&info)
                .map_err(|e| Error::from(format!("artifact digest JSON conversion failed: {e}")))?;
            output::print(&format!("{text}\n"));
        }
        "yaml" => output::print(&format!(
            "digest: {digest}\nrepository: {}\ntag: {tag}\nurl: oci://{digest_url}\n",
            reference.name()
        )),
        _ => output::success(format!("artifact successfully pushed to {digest_url}")),
    }
    Ok(())
}

/// `flux pull artifact`.
pub async fn pull(global: &Global, args: &PullArtifactArgs) -> Result<(), Error> {
    let Some(url) = &args.url else {
        return Err("artifact URL is required".into());
    };
    if args.output.is_empty() {
        return Err("output path cannot be empty".into());
    }
    if let Err(e) = std::fs::metadata(&args.output) {
        return Err(format!("invalid output path {:?}: {e}", args.output).into());
    }
    let reference = parse_url(url)?;
    let client = client(global, &args.registry, &reference)?;
    output::action(format!("pulling artifact from {reference}"));
    let fail = |e: flux_oci::Error| Error::from(e.to_string());
    let (manifest, descriptor) = client.manifest(&reference).await.map_err(fail)?;
    let layer = artifact::select_layer(&manifest, None).map_err(fail)?;
    let mut blob = Vec::new();
    client
        .blob(&reference, layer, u64::MAX, &mut blob)
        .await
        .map_err(fail)?;
    let limits = flux_artifact::Limits::default();
    flux_artifact::extract(&blob[..], Path::new(&args.output), &limits)
        .map_err(|e| Error::from(format!("failed to extract artifact: {e}")))?;
    let metadata = Metadata::from_annotations(&manifest.annotations);
    if !metadata.source.is_empty() {
        output::success(format!("source {}", metadata.source));
    }
    if !metadata.revision.is_empty() {
        output::success(format!("revision {}", metadata.revision));
    }
    output::success(format!("digest {}@{}", reference.name(), descriptor.digest));
    output::success(format!("artifact content extracted to {}", args.output));
    Ok(())
}

/// `flux tag artifact`.
pub async fn tag(global: &Global, args: &TagArtifactArgs) -> Result<(), Error> {
    let Some(url) = &args.url else {
        return Err("artifact name is required".into());
    };
    if args.tags.is_empty() {
        return Err("--tag is required".into());
    }
    let reference = parse_url(url)?;
    let client = client(global, &args.registry, &reference)?;
    output::action("tagging artifact");
    let (media_type, raw, _) = client
        .manifest_bytes(&reference)
        .await
        .map_err(|e| Error::from(format!("tagging artifact failed: {e}")))?;
    for tag in &args.tags {
        let target = reference.with_tag(tag);
        client
            .push_manifest(&target, &media_type, raw.clone())
            .await
            .map_err(|e| Error::from(format!("tagging artifact failed: {e}")))?;
        output::success(format!("artifact tagged as {target}"));
    }
    Ok(())
}

/// `flux list artifacts`.
pub async fn list(global: &Global, args: &ListArtifactsArgs) -> Result<(), Error> {
    let Some(url) = &args.url else {
        return Err("artifact repository URL is required".into());
    };
    let reference = parse_url(url)?;
    let client = client(global, &args.registry, &reference)?;
    let mut tags = client
        .tags(&reference)
        .await
        .map_err(|e| Error::from(format!("listing tags failed: {e}")))?;
    tags.sort_by(|a, b| b.cmp(a));
    let constraint = if args.semver_filter.is_empty() {
        None
    } else {
        Some(
            args.semver_filter
                .parse::<flux_semver::Constraints>()
                .map_err(|e| {
                    Error::from(format!("semver '{}' parse error: {e}", args.semver_filter))
                })?,
        )
    };
    let regex =
        if args.regex_filter.is_empty() {
            None
        } else {
            Some(regex::Regex::new(&args.regex_filter).map_err(|e| {
                Error::from(format!("regex '{}' parse error: {e}", args.regex_filter))
            })?)
        };
    let mut rows = Vec::new();
    for tag in tags {
        if [".att", ".sbom", ".sig"].iter().any(|s| tag.ends_with(s)) {
            continue;
        }
        if let Some(c) = &constraint {
            match flux_semver::Version::parse_flux(&tag) {
                Ok(v) if c.check(&v) => {}
                _ => continue,
            }
        }
        if regex.as_ref().is_some_and(|r| !r.is_match(&tag)) {
            continue;
        }
        let tagged = reference.with_tag(&tag);
        let (manifest, descriptor) = client
            .manifest(&tagged)
            .await
            .map_err(|e| Error::from(format!("fetching manifest failed: {e}")))?;
        let metadata = Metadata::from_annotations(&manifest.annotations);
        rows.push(vec![
            tagged.to_string(),
            descriptor.digest,
            metadata.source,
            metadata.revision,
        ]);
    }
    output::print(&output::table(
        Some(&["artifact", "digest", "source", "revision"]),
        &rows,
    ));
    Ok(())
}

/// `flux build artifact`.
pub fn build(args: &BuildArtifactArgs) -> Result<(), Error> {
    if args.path.is_empty() {
        return Err(format!("invalid path {:?}", args.path).into());
    }
    let path = Path::new(&args.path);
    if !path.exists() {
        return Err(format!(
            "invalid path '{}', must point to an existing directory or file",
            args.path
        )
        .into());
    }
    output::action(format!("building artifact from {}", args.path));
    let layer = build_layer(path, &ignore_paths(&args.ignore_paths))?;
    std::fs::write(&args.output, layer)
        .map_err(|e| Error::from(format!("building artifact failed, error: {e}")))?;
    output::success(format!("artifact created at {}", args.output));
    Ok(())
}

/// `flux diff artifact`: the local folder's layer against the remote one,
/// by digest as upstream compares them (our layers are Go's bytes), or by
/// content when the remote was compressed by another gzip implementation.
pub async fn diff(global: &Global, args: &DiffArtifactArgs) -> Result<(), Error> {
    let Some(url) = &args.url else {
        return Err("artifact URL is required".into());
    };
    if args.path.is_empty() {
        return Err(format!("invalid path {:?}", args.path).into());
    }
    if !Path::new(&args.path).exists() {
        return Err(format!(
            "invalid path '{}', must point to an existing directory or file",
            args.path
        )
        .into());
    }
    let reference = parse_url(url)?;
    let client = client(global, &args.registry, &reference)?;
    let local = build_layer(Path::new(&args.path), &ignore_paths(&args.ignore_paths))?;
    let fail = |e: flux_oci::Error| Error::from(e.to_string());
    let (manifest, _) = client.manifest(&reference).await.map_err(fail)?;
    let layer = artifact::select_layer(&manifest, None).map_err(fail)?;
    let mut remote = Vec::new();
    client
        .blob(&reference, layer, u64::MAX, &mut remote)
        .await
        .map_err(fail)?;
    let same = layer.digest == flux_oci::sha256_digest(&local)
        || gunzip(&local).is_some_and(|l| gunzip(&remote).is_some_and(|r| l == r));
    if !same {
        return Err("the remote artifact contents differs from the local one".into());
    }
    output::success("no changes detected");
    Ok(())
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(1 << 30)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}
