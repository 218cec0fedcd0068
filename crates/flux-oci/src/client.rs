//! The distribution API: tags, manifests and blobs, with registry
//! authentication (anonymous, basic, and bearer tokens from the registry's
//! token service), over HTTPS (or plain HTTP for `insecure` registries).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::auth::{Challenge, Credentials, parse_challenge};
use crate::error::{Error, Result};
use crate::reference::{DEFAULT_REGISTRY, Reference};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest read (as go-containerregistry: 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// How to reach a registry.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Plain HTTP instead of HTTPS (`spec.insecure`, `--insecure-registry`).
    pub insecure: bool,
    /// `certSecretRef`: PEM certificates trusted besides the system's, and
    /// a client certificate.
    pub tls: crate::http::Tls,
    /// Credentials; anonymous without.
    pub credentials: Option<Credentials>,
    /// The limit of each request, its body included.
    pub timeout: Duration,
    /// An HTTP proxy every connection tunnels through.
    pub proxy: Option<crate::http::Proxy>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            tls: crate::http::Tls::default(),
            credentials: None,
            timeout: Duration::from_secs(60),
            proxy: None,
        }
    }
}

/// What a manifest or blob is: `mediaType`, `size`, `digest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Bytes.
    pub size: u64,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    /// 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's media type, when it says.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations (Flux's metadata: source, revision, created).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A registry client. Cheap to clone; bearer tokens are cached per
/// repository and access.
#[derive(Clone)]
pub struct Client {
    http: crate::http::HttpClient,
    options: ClientOptions,
    /// `registry repository access` → `Authorization` value.
    authorizations: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish()
    }
}

/// Pull or push access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Pull,
    Push,
}

impl Client {
    /// A client with `options`.
    pub fn new(options: ClientOptions) -> Result<Client> {
        let http = crate::http::client_with_tls(&options.tls, options.proxy.as_ref())?;
        Ok(Client {
            http,
            options,
            authorizations: Arc::default(),
        })
    }

    fn base(&self, reference: &Reference) -> String {
        let scheme = if self.options.insecure {
            "http"
        } else {
            "https"
        };
        // Docker Hub's API lives on another host than its name.
        let host = if reference.registry == DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            reference.registry.as_str()
        };
        format!("{scheme}://{host}/v2/{}", reference.repository)
    }

    /// The tags of `repository`, in the registry's order, following
    /// `Link` pagination.
    pub async fn tags(&self, repository: &Reference) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = format!("{}/tags/list?n=1000", self.base(repository));
        let mut out = Vec::new();
        for _ in 0..1000 {
            let response = self
                .send(repository, Method::GET, &url, &[], None, Access::Pull)
                .await?;
            let request = format!("GET {url}");
            let response = expect(response, StatusCode::OK, &request).await?;
            let next = response
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = self
                .read_body(response, MAX_MANIFEST_BYTES, &request)
                .await?;
            let page: Tags = serde_json::from_slice(&body).map_err(|e| Error::Registry {
                request: request.clone(),
                message: format!("invalid tag list: {e}"),
            })?;
            out.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) if next.starts_with('/') => {
                    let origin = url.split("/v2/").next().unwrap_or_default().to_string();
                    url = format!("{origin}{next}");
                }
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The descriptor of the manifest `reference` names (`HEAD`, falling
    /// back to `GET` for registries that do not answer it with a digest).
    pub async fn resolve(&self, reference: &Reference) -> Result<Descriptor> {
        let url = format!(
            "{}/manifests/{}",
            self.base(reference),
            reference.identifier()
        );
        let response = self
            .send(
                reference,
                Method::HEAD,
                &url,
                &accept_manifests(),
                None,
                Access::Pull,
            )
            .await?;
        let request = format!("HEAD {url}");
        if response.status() == StatusCode::OK {
            let digest = header_str(response.headers(), "docker-content-digest");
            let size = header_str(response.headers(), header::CONTENT_LENGTH.as_str())
                .and_then(|s| s.parse().ok());
            let media_type = header_str(response.headers(), header::CONTENT_TYPE.as_str());
            if let (Some(digest), Some(size)) = (digest, size) {
                return Ok(Descriptor {
                    media_type: media_type.unwrap_or_default(),
                    size,
                    digest,
                    annotations: BTreeMap::new(),
                });
            }
        } else if response.status() != StatusCode::METHOD_NOT_ALLOWED {
            expect(response, StatusCode::OK, &request).await?;
        }
        let (_, raw, descriptor) = self.manifest_bytes(reference).await?;
        drop(raw);
        Ok(descriptor)
    }

    /// The manifest `reference` names, its bytes and its descriptor
    /// (digest checked against the reference's digest when it has one).
    pub async fn manifest(&self, reference: &Reference) -> Result<(Manifest, Descriptor)> {
        let (media_type, raw, descriptor) = self.manifest_bytes(reference).await?;
        let manifest: Manifest = serde_json::from_slice(&raw)
            .map_err(|e| Error::InvalidManifest(format!("{reference}: {e}")))?;
        let kind = if manifest.media_type.is_empty() {
            media_type
        } else {
            manifest.media_type.clone()
        };
        if kind == OCI_INDEX || kind == DOCKER_MANIFEST_LIST {
            return Err(Error::InvalidManifest(format!(
                "{reference}: an image index, not an artifact manifest"
            )));
        }
        Ok((manifest, descriptor))
    }

    /// The manifest `reference` names as the registry stores it: media
    /// type, bytes and descriptor (for copying it under another tag).
    pub async fn manifest_bytes(
        &self,
        reference: &Reference,
    ) -> Result<(String, Bytes, Descriptor)> {
        let url = format!(
            "{}/manifests/{}",
            self.base(reference),
            reference.identifier()
        );
        let request = format!("GET {url}");
        let response = self
            .send(
                reference,
                Method::GET,
                &url,
                &accept_manifests(),
                None,
                Access::Pull,
            )
            .await?;
        let response = expect(response, StatusCode::OK, &request).await?;
        let media_type =
            header_str(response.headers(), header::CONTENT_TYPE.as_str()).unwrap_or_default();
        let raw = self
            .read_body(response, MAX_MANIFEST_BYTES, &request)
            .await?;
        let digest = sha256_digest(&raw);
        if let Some(expected) = &reference.digest
            && *expected != digest
        {
            return Err(Error::DigestMismatch {
                what: reference.to_string(),
                expected: expected.clone(),
                actual: digest,
            });
        }
        let descriptor = Descriptor {
            media_type: media_type.clone(),
            size: raw.len() as u64,
            digest,
            annotations: BTreeMap::new(),
        };
        Ok((media_type, raw, descriptor))
    }

    /// The referrers of manifest `digest` in `repository`: the registry's
    /// referrers API, or the `sha256-<hex>` index of the referrers tag
    /// schema on registries without it (none when neither exists).
    pub async fn referrers(
        &self,
        repository: &Reference,
        digest: &str,
    ) -> Result<Vec<crate::cosign::Referrer>> {
        let url = format!("{}/referrers/{digest}", self.base(repository));
        let request = format!("GET {url}");
        let response = self
            .send(
                repository,
                Method::GET,
                &url,
                &[OCI_INDEX],
                None,
                Access::Pull,
            )
            .await?;
        let status = response.status();
        if status == StatusCode::OK {
            let raw = self
                .read_body(response, MAX_MANIFEST_BYTES, &request)
                .await?;
            return crate::cosign::parse_referrers(&raw, &request);
        }
        // Registries without the API answer 404 (or 400/405 for a route
        // they do not know): fall back to the tag schema.
        let unsupported = matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED
        );
        if !unsupported {
            expect(response, StatusCode::OK, &request).await?;
        } else {
            drop(response);
        }
        let tag = repository.with_tag(&digest.replacen(':', "-", 1));
        match self.manifest_bytes(&tag).await {
            Ok((_, raw, _)) => crate::cosign::parse_referrers(&raw, &tag.to_string()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Writes blob `descriptor` of `repository` into `out`, refusing more
    /// than `limit` bytes and content whose digest differs.
    pub async fn blob(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        limit: u64,
        out: &mut (dyn Write + Send),
    ) -> Result<u64> {
        if descriptor.size > limit {
            return Err(Error::TooLarge {
                what: format!("layer {}", descriptor.digest),
                limit,
            });
        }
        let url = format!("{}/blobs/{}", self.base(repository), descriptor.digest);
        let request = format!("GET {url}");
        let response = self
            .send(repository, Method::GET, &url, &[], None, Access::Pull)
            .await?;
        let mut response = expect(response, StatusCode::OK, &request).await?;
        let mut hasher = sha2::Sha256::new();
        let mut written = 0u64;
        let body = response.body_mut();
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Error::Transport {
                    request: request.clone(),
                    message: e.to_string(),
                })?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                written += data.len() as u64;
                if written > limit || written > descriptor.size {
                    return Err(Error::TooLarge {
                        what: format!("layer {}", descriptor.digest),
                        limit: limit.min(descriptor.size),
                    });
                }
                hasher.update(&data);
                out.write_all(&data)
                    .map_err(|e| Error::Io(format!("writing layer {}: {e}", descriptor.digest)))?;
            }
            Ok(())
        };
        tokio::time::timeout(self.options.timeout, read)
            .await
            .map_err(|_| self.timeout_error(&request))??;
        let actual = format!("sha256:{}", hex(&hasher.finalize()));
        if actual != descriptor.digest {
            return Err(Error::DigestMismatch {
                what: format!("layer of {repository}"),
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        Ok(written)
    }

    /// Uploads `content` as a blob of `repository` (skipped when the
    /// registry has it).
    pub async fn push_blob(
        &self,
        repository: &Reference,
        media_type: &str,
        content: Bytes,
    ) -> Result<Descriptor> {
        let digest = sha256_digest(&content);
        let descriptor = Descriptor {
            media_type: media_type.to_string(),
            size: content.len() as u64,
            digest: digest.clone(),
            annotations: BTreeMap::new(),
        };
        let head = format!("{}/blobs/{digest}", self.base(repository));
        let response = self
            .send(repository, Method::HEAD, &head, &[], None, Access::Push)
            .await?;
        if response.status() == StatusCode::OK {
            return Ok(descriptor);
        }
        let start = format!("{}/blobs/uploads/", self.base(repository));
        let request = format!("POST {start}");
        let response = self
            .send(
                repository,
                Method::POST,
                &start,
                &[],
                Some((Bytes::new(), "application/octet-stream")),
                Access::Push,
            )
            .await?;
        let response = expect(response, StatusCode::ACCEPTED, &request).await?;
        let Some(location) = header_str(response.headers(), header::LOCATION.as_str()) else {
            return Err(Error::Registry {
                request,
                message: "no Location for the upload".to_string(),
            });
        };
        let mut url = if location.starts_with('/') {
            let origin = start.split("/v2/").next().unwrap_or_default();
            format!("{origin}{location}")
        } else {
            location
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={}", digest.replace(':', "%3A")));
        let request = format!("PUT {}", url.split('?').next().unwrap_or(&url));
        let response = self
            .send(
                repository,
                Method::PUT,
                &url,
                &[],
                Some((content, "application/octet-stream")),
                Access::Push,
            )
            .await?;
        expect(response, StatusCode::CREATED, &request).await?;
        Ok(descriptor)
    }

    /// Uploads manifest `content` as `reference`'s tag (or digest);
    /// returns its digest.
    pub async fn push_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        content: Bytes,
    ) -> Result<String> {
        let digest = sha256_digest(&content);
        let url = format!(
            "{}/manifests/{}",
            self.base(reference),
            reference.identifier()
        );
        let request = format!("PUT {url}");
        let response = self
            .send(
                reference,
                Method::PUT,
                &url,
                &[],
                Some((content, media_type)),
                Access::Push,
            )
            .await?;
        expect(response, StatusCode::CREATED, &request).await?;
        Ok(digest)
    }

    /// Sends a request, answering the registry's authentication challenge
    /// once.
    async fn send(
        &self,
        reference: &Reference,
        method: Method,
        url: &str,
        accept: &[&str],
        body: Option<(Bytes, &str)>,
        access: Access,
    ) -> Result<Response<hyper::body::Incoming>> {
        let key = format!(
            "{} {} {:?}",
            reference.registry, reference.repository, access
        );
        let mut authorization = self.cached(&key);
        for attempt in 0..2 {
            let response = self
                .send_once(&method, url, accept, body.clone(), authorization.as_deref())
                .await?;
            if response.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                if response.status() == StatusCode::UNAUTHORIZED {
                    return Err(auth_failure(response, &format!("{method} {url}")).await);
                }
                return Ok(response);
            }
            let challenge = header_str(response.headers(), header::WWW_AUTHENTICATE.as_str())
                .and_then(|h| parse_challenge(&h));
            authorization = match challenge {
                Some(Challenge::Basic) => match &self.options.credentials {
                    Some(c) => Some(c.basic_header()),
                    None => return Err(auth_failure(response, &format!("{method} {url}")).await),
                },
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope,
                }) => {
                    let wanted = format!(
                        "repository:{}:{}",
                        reference.repository,
                        if access == Access::Push {
                            "pull,push"
                        } else {
                            "pull"
                        }
                    );
                    let scope = scope
                        .filter(|s| s.contains(&reference.repository))
                        .unwrap_or(wanted);
                    let token = self.token(&realm, service.as_deref(), &scope).await?;
                    Some(format!("Bearer {token}"))
                }
                None => return Err(auth_failure(response, &format!("{method} {url}")).await),
            };
            if let Some(value) = &authorization
                && let Ok(mut cache) = self.authorizations.lock()
            {
                cache.insert(key.clone(), value.clone());
            }
        }
        Err(Error::Authentication {
            request: format!("{method} {url}"),
            message: "UNAUTHORIZED: authentication required".to_string(),
        })
    }

    fn cached(&self, key: &str) -> Option<String> {
        self.authorizations
            .lock()
            .ok()
            .and_then(|c| c.get(key).cloned())
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        accept: &[&str],
        body: Option<(Bytes, &str)>,
        authorization: Option<&str>,
    ) -> Result<Response<hyper::body::Incoming>> {
        let request_name = format!("{method} {}", url.split('?').next().unwrap_or(url));
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(header::USER_AGENT, "flux-rs");
        if !accept.is_empty() {
            builder = builder.header(header::ACCEPT, accept.join(","));
        }
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let content = match body {
            Some((bytes, content_type)) => {
                builder = builder
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::CONTENT_LENGTH, bytes.len());
                bytes
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(content))
            .map_err(|e| Error::InvalidReference {
                reference: url.to_string(),
                reason: e.to_string(),
            })?;
        match tokio::time::timeout(self.options.timeout, self.http.request(request)).await {
            Err(_) => Err(self.timeout_error(&request_name)),
            Ok(Err(e)) => Err(Error::Transport {
                request: request_name,
                message: error_chain(&e),
            }),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// A bearer token from the registry's token service.
    async fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let mut url = realm.to_string();
        let mut query = Vec::new();
        if let Some(service) = service {
            query.push(format!("service={}", encode(service)));
        }
        query.push(format!("scope={}", encode(scope)));
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
        let basic = self
            .options
            .credentials
            .as_ref()
            .map(Credentials::basic_header);
        let response = self
            .send_once(&Method::GET, &url, &[], None, basic.as_deref())
            .await?;
        let request = format!("GET {realm}");
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            return Err(auth_failure(response, &request).await);
        }
        let response = expect(response, StatusCode::OK, &request).await?;
        let body = self.read_body(response, 1 << 20, &request).await?;
        let token: Token = serde_json::from_slice(&body).map_err(|e| Error::Authentication {
            request: request.clone(),
            message: format!("invalid token response: {e}"),
        })?;
        let value = if token.token.is_empty() {
            token.access_token
        } else {
            token.token
        };
        if value.is_empty() {
            return Err(Error::Authentication {
                request,
                message: "the token service answered without a token".to_string(),
            });
        }
        Ok(value)
    }

    async fn read_body(
        &self,
        response: Response<hyper::body::Incoming>,
        limit: u64,
        request: &str,
    ) -> Result<Bytes> {
        read_limited(response, limit, request, self.options.timeout)
            .await
            .map_err(|e| match e {
                Error::Timeout { .. } => self.timeout_error(request),
                other => other,
            })
    }

    fn timeout_error(&self, request: &str) -> Error {
        Error::Timeout {
            request: request.to_string(),
            after: go_duration(self.options.timeout),
        }
    }
}

async fn read_limited(
    response: Response<hyper::body::Incoming>,
    limit: u64,
    request: &str,
    timeout: Duration,
) -> Result<Bytes> {
    let limited = http_body_util::Limited::new(response.into_body(), limit as usize);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(Error::Timeout {
            request: request.to_string(),
            after: go_duration(timeout),
        }),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(Error::TooLarge {
                    what: request.to_string(),
                    limit,
                })
            } else {
                Err(Error::Transport {
                    request: request.to_string(),
                    message: e.to_string(),
                })
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Fails unless the response has status `wanted`, with the registry's
/// errors (`CODE: message`) in the message.
async fn expect(
    response: Response<hyper::body::Incoming>,
    wanted: StatusCode,
    request: &str,
) -> Result<Response<hyper::body::Incoming>> {
    let status = response.status();
    if status == wanted || (wanted == StatusCode::OK && status.is_success()) {
        return Ok(response);
    }
    let message = error_message(response, request).await;
    Err(match status {
        StatusCode::NOT_FOUND => Error::NotFound {
            request: request.to_string(),
            message,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Authentication {
            request: request.to_string(),
            message,
        },
        _ => Error::Registry {
            request: request.to_string(),
            message,
        },
    })
}

async fn auth_failure(response: Response<hyper::body::Incoming>, request: &str) -> Error {
    Error::Authentication {
        request: request.to_string(),
        message: error_message(response, request).await,
    }
}

/// `CODE: message; CODE2: message2` from a registry's error body, else
/// `unexpected status code 404 Not Found`.
async fn error_message(response: Response<hyper::body::Incoming>, request: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<RegistryError>,
    }
    #[derive(Deserialize)]
    struct RegistryError {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    let status = response.status();
    let body = read_limited(response, 64 << 10, request, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    let parsed: Option<Errors> = serde_json::from_slice(&body).ok();
    // go-containerregistry's wording: `CODE: message[; detail]`, the
    // detail printed as Go's `%v` prints the decoded JSON.
    let diagnostic = |e: &RegistryError| match &e.detail {
        Some(detail) if !detail.is_null() => {
            format!("{}: {}; {}", e.code, e.message, go_value(detail))
        }
        _ => format!("{}: {}", e.code, e.message),
    };
    match parsed.filter(|e| !e.errors.is_empty()) {
        Some(errors) if errors.errors.len() == 1 => diagnostic(&errors.errors[0]),
        Some(errors) => format!(
            "multiple errors returned: {}",
            errors
                .errors
                .iter()
                .map(diagnostic)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None if request.starts_with("HEAD ") => format!(
            "unexpected status code {} {} (HEAD responses have no body, use GET for details)",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
        None if body.is_empty() => format!(
            "unexpected status code {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string(),
        None => format!(
            "unexpected status code {} {}: {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            String::from_utf8_lossy(&body)
        ),
    }
}

/// A decoded JSON value as Go's `fmt` prints it with `%v`: maps with
/// their keys sorted (`map[k:v k2:v2]`), slices `[a b]`, numbers as
/// float64 (`%g`), null `<nil>`.
fn go_value(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => flux_go::float::format_g(n.as_f64().unwrap_or(0.0), None, false),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "map[{}]",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", go_value(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

fn accept_manifests() -> Vec<&'static str> {
    vec![
        OCI_MANIFEST,
        DOCKER_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
    ]
}

fn header_str(headers: &HeaderMap<HeaderValue>, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The target of `Link: <url>; rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encoding of a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// Go's spelling of a duration (`1m0s`, `30s`).
pub(crate) fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_printed_as_go_does() {
        let detail: serde_json::Value = serde_json::from_str(
            r#"[{"Type":"repository","Class":"","Name":"team/app","Action":"pull"}]"#,
        )
        .unwrap();
        assert_eq!(
            go_value(&detail),
            "[map[Action:pull Class: Name:team/app Type:repository]]"
        );
        let mixed: serde_json::Value =
            serde_json::from_str(r#"{"b":[1000000,1.5,true,null],"a":"x"}"#).unwrap();
        assert_eq!(go_value(&mixed), "map[a:x b:[1e+06 1.5 true <nil>]]");
    }

    #[test]
    fn link_headers_and_query_values() {
        assert_eq!(
            next_link(r#"</v2/app/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/app/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<x>; rel="prev""#), None);
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
    }
}
