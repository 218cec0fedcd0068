//! Container images built from files on this machine, without Docker: one
//! reproducible tar layer (sorted entries, owner 0, time 0), an OCI image
//! config and manifest, pushed to a registry with the distribution API
//! (`POST`/`PUT` blob uploads, `PUT` manifest) over plain HTTP.
//!
//! The node's images come from here: the pause sandbox and the `web` test
//! program (`tools/node-images`), CoreDNS, and `fluxd` with the shared
//! libraries it links.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, io};
use crate::process::tool;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// An image of one layer: files (with their modes) and the process to run.
#[derive(Clone, Debug, Default)]
pub struct Image {
    files: BTreeMap<String, (Vec<u8>, u32)>,
    dirs: BTreeMap<String, u32>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    user: Option<String>,
}

/// A pushed image: its reference and manifest digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
    /// `HOST/repository:tag`.
    pub reference: String,
    /// `sha256:…` of the manifest.
    pub digest: String,
}

impl Image {
    /// An empty image (its layer has `/tmp`, mode 1777, and nothing else).
    pub fn new() -> Self {
        let mut image = Self::default();
        image.dirs.insert("tmp".to_string(), 0o1777);
        image
    }

    /// The pause image: the sandbox process of every Pod.
    pub fn pause() -> Result<Self> {
        Ok(Self::new()
            .host_file("/pause", &tool("flux-testenv-pause")?, 0o755)?
            .entrypoint(&["/pause"])
            .user("65535"))
    }

    /// The test application image: `/web serve` on `:8080` from `/srv`
    /// (see `tools/node-images/cmd/web`), with an `index.html`.
    pub fn web() -> Result<Self> {
        Ok(Self::new()
            .host_file("/web", &tool("flux-testenv-web")?, 0o755)?
            .file(
                "/srv/index.html",
                b"hello from flux-testenv\n".to_vec(),
                0o644,
            )
            .entrypoint(&["/web"])
            .cmd(&["serve", "--listen=:8080", "--root=/srv"])
            .user("65534"))
    }

    /// CoreDNS, built from its Go module by `scripts/install-deps.sh`.
    pub fn coredns() -> Result<Self> {
        Ok(Self::new()
            .host_file("/coredns", &tool("coredns")?, 0o755)?
            .entrypoint(&["/coredns"])
            .user("65532"))
    }

    /// A dynamically linked program (without its debug information: a
    /// debug build's image stays small) and every shared library `ldd`
    /// says it loads (at the same paths), run as `entrypoint` by user 65534.
    pub fn program(binary: &Path, entrypoint: &str) -> Result<Self> {
        let stripped = crate::process::unique_dir("image")?.join("program");
        let contents = match crate::process::run(
            std::process::Command::new("strip")
                .arg("--strip-debug")
                .arg("-o")
                .arg(&stripped)
                .arg(binary),
        ) {
            Ok(_) => std::fs::read(&stripped),
            Err(_) => std::fs::read(binary),
        }
        .map_err(io(format!("reading {}", binary.display())))?;
        if let Some(dir) = stripped.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let mut image = Self::new().file(entrypoint, contents, 0o755);
        let text = crate::process::run(std::process::Command::new("ldd").arg(binary))?;
        for line in text.lines() {
            // `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)` or
            // `/lib64/ld-linux-x86-64.so.2 (0x…)`; vdso has no file.
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(path) = path.filter(|p| p.starts_with('/')) {
                let real = std::fs::canonicalize(path).map_err(io(format!("resolving {path}")))?;
                image = image.host_file(path, &real, 0o755)?;
            }
        }
        Ok(image.entrypoint(&[entrypoint]).user("65534"))
    }

    /// Adds file `path` with `contents`.
    pub fn file(mut self, path: &str, contents: Vec<u8>, mode: u32) -> Self {
        self.files
            .insert(path.trim_start_matches('/').to_string(), (contents, mode));
        self
    }

    /// Adds file `path` with the contents of `source` on this machine.
    pub fn host_file(self, path: &str, source: &Path, mode: u32) -> Result<Self> {
        let contents =
            std::fs::read(source).map_err(io(format!("reading {}", source.display())))?;
        Ok(self.file(path, contents, mode))
    }

    /// Sets the entrypoint.
    pub fn entrypoint(mut self, args: &[&str]) -> Self {
        self.entrypoint = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Sets the default arguments.
    pub fn cmd(mut self, args: &[&str]) -> Self {
        self.cmd = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Adds `NAME=value` to the environment.
    pub fn env(mut self, variable: &str) -> Self {
        self.env.push(variable.to_string());
        self
    }

    /// Sets the user (a numeric uid, so that `runAsNonRoot` can check it).
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    /// The layer: an uncompressed tar, identical for identical inputs.
    pub fn layer(&self) -> Result<Vec<u8>> {
        let mut dirs = self.dirs.clone();
        for path in self.files.keys() {
            let mut parent = Path::new(path).parent();
            while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                dirs.entry(p.to_string_lossy().into_owned())
                    .or_insert(0o755);
                parent = p.parent();
            }
        }
        let mut entries: Vec<(String, Option<&Vec<u8>>, u32)> = dirs
            .iter()
            .map(|(d, mode)| (format!("{d}/"), None, *mode))
            .collect();
        entries.extend(
            self.files
                .iter()
                .map(|(f, (data, mode))| (f.clone(), Some(data), *mode)),
        );
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match data {
                Some(data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(data.len() as u64);
                    builder
                        .append_data(&mut header, &path, data.as_slice())
                        .map_err(io(format!("adding {path} to the layer")))?;
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, &path, std::io::empty())
                        .map_err(io(format!("adding {path} to the layer")))?;
                }
            }
        }
        builder.into_inner().map_err(io("finishing the layer"))
    }

    /// Builds the image and pushes it as `host/repository:tag` (`host` is a
    /// registry on plain HTTP, such as [`crate::OciRegistry::host`]).
    pub fn push(&self, host: &str, repository: &str, tag: &str) -> Result<PushedImage> {
        self.push_as(
            Registry {
                host,
                authorization: None,
            },
            repository,
            tag,
        )
    }

    /// [`Image::push`] to a registry that demands basic authentication
    /// (`(username, password)`).
    pub fn push_with_auth(
        &self,
        host: &str,
        repository: &str,
        tag: &str,
        (username, password): (&str, &str),
    ) -> Result<PushedImage> {
        use base64::Engine as _;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        self.push_as(
            Registry {
                host,
                authorization: Some(format!("Basic {token}")),
            },
            repository,
            tag,
        )
    }

    fn push_as(&self, registry: Registry<'_>, repository: &str, tag: &str) -> Result<PushedImage> {
        let host = registry.host;
        let layer = self.layer()?;
        let layer_digest = sha256(&layer);
        let mut config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        if !self.entrypoint.is_empty() {
            config["config"]["Entrypoint"] = json!(self.entrypoint);
        }
        if !self.cmd.is_empty() {
            config["config"]["Cmd"] = json!(self.cmd);
        }
        let mut env = vec!["PATH=/usr/local/bin:/usr/bin:/bin".to_string()];
        env.extend(self.env.iter().cloned());
        config["config"]["Env"] = json!(env);
        if let Some(user) = &self.user {
            config["config"]["User"] = json!(user);
        }
        let config = serde_json::to_vec(&config).map_err(|e| Error::Parse {
            what: "an image config".to_string(),
            reason: e.to_string(),
        })?;
        let config_digest = sha256(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer.len()}],
        }))
        .map_err(|e| Error::Parse {
            what: "an image manifest".to_string(),
            reason: e.to_string(),
        })?;
        registry.put_blob(repository, &layer_digest, &layer)?;
        registry.put_blob(repository, &config_digest, &config)?;
        let path = format!("/v2/{repository}/manifests/{tag}");
        let response = registry.request("PUT", &path, Some(MANIFEST_TYPE), &manifest)?;
        response.expect(&[201], "PUT", &path)?;
        Ok(PushedImage {
            reference: format!("{host}/{repository}:{tag}"),
            digest: sha256(&manifest),
        })
    }
}

/// `sha256:<hex>` of `data`.
fn sha256(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::from("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The distribution API of a registry on plain HTTP, one request per
/// connection.
struct Registry<'a> {
    host: &'a str,
    /// The `Authorization` header sent, if any.
    authorization: Option<String>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn expect(&self, statuses: &[u16], method: &str, path: &str) -> Result<()> {
        if statuses.contains(&self.status) {
            Ok(())
        } else {
            Err(Error::Command {
                command: format!("{method} {path}"),
                status: self.status.to_string(),
                stderr: self.body.chars().take(2000).collect(),
            })
        }
    }
}

impl Registry<'_> {
    fn put_blob(&self, repository: &str, digest: &str, data: &[u8]) -> Result<()> {
        let head = format!("/v2/{repository}/blobs/{digest}");
        if self.request("HEAD", &head, None, &[])?.status == 200 {
            return Ok(());
        }
        let start = format!("/v2/{repository}/blobs/uploads/");
        let response = self.request("POST", &start, None, &[])?;
        response.expect(&[202], "POST", &start)?;
        let location = response.header("Location").ok_or_else(|| Error::Parse {
            what: format!("the answer to POST {start}"),
            reason: "no Location header".to_string(),
        })?;
        // Absolute (`http://host/v2/…`) or relative.
        let location = match location.find("/v2/") {
            Some(i) => &location[i..],
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let upload = format!("{location}{separator}digest={digest}");
        self.request("PUT", &upload, Some("application/octet-stream"), data)?
            .expect(&[201], "PUT", &upload)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Response> {
        let context = format!("{method} http://{}{path}", self.host);
        let mut stream = TcpStream::connect(self.host).map_err(io(context.clone()))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(io(context.clone()))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if let Some(authorization) = &self.authorization {
            head.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(io(context.clone()))?;
        let mut raw = Vec::new();
        if method == "HEAD" {
            // No body follows the headers of a HEAD answer.
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).map_err(io(context.clone()))?;
                raw.extend_from_slice(&buf[..n]);
                if n == 0 || raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        } else {
            stream.read_to_end(&mut raw).map_err(io(context.clone()))?;
        }
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Parse {
                what: format!("the answer to {context}"),
                reason: "no HTTP status line".to_string(),
            })?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Response {
            status,
            headers,
            body: body.to_string(),
        })
    }
}

/// The images the node needs and the tests use, pushed to `host`:
/// `flux-testenv/pause:1`, `flux-testenv/web:1`, `flux-testenv/coredns:1`.
pub fn push_node_images(host: &str) -> Result<BTreeMap<&'static str, PushedImage>> {
    let mut out = BTreeMap::new();
    out.insert(
        "pause",
        Image::pause()?.push(host, "flux-testenv/pause", "1")?,
    );
    out.insert("web", Image::web()?.push(host, "flux-testenv/web", "1")?);
    out.insert(
        "coredns",
        Image::coredns()?.push(host, "flux-testenv/coredns", "1")?,
    );
    Ok(out)
}
