//! The S3 API as a Bucket needs it (`generic` and `aws` providers): does
//! the bucket exist, list every key with its ETag under a prefix, get an
//! object — signed with AWS Signature Version 4, over the sources' HTTP
//! client (system roots plus a Secret's CA).
//!
//! Keys and ETags are kept exactly as the server sends them (the revision
//! is a digest over them: a key ending in `/`, or with `//` in it, must
//! stay what it is), ETags without their quotes as upstream's MinIO client
//! reports them. Addressing is path-style, except virtual-hosted for AWS
//! endpoints when the bucket name allows it (MinIO's automatic lookup).
//! Errors carry the server's message, or MinIO's wording when the answer
//! has no body (a `HEAD`).

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use sha2::{Digest as _, Sha256};

use flux_oci::http::HttpClient;

/// Access keys.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
    /// A session token (temporary credentials).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// A failed S3 call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The S3 error code (`NoSuchKey`, `AccessDenied`, …).
        code: String,
        /// The server's message.
        message: String,
        /// The bucket's region, when the server named it.
        region: Option<String>,
    },
    /// The server could not be reached or the connection broke.
    #[error("{request}: {message}")]
    Transport {
        /// `GET <url>`.
        request: String,
        /// The cause.
        message: String,
    },
    /// No answer in time.
    #[error("{request}: timeout after {after}")]
    Timeout {
        /// `GET <url>`.
        request: String,
        /// `1m0s`.
        after: String,
    },
    /// The objects exceed the artifact limit.
    #[error("the bucket's objects exceed the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// An answer that is not S3's.
    #[error("{0}")]
    Protocol(String),
    /// Writing a downloaded object.
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// True when the object does not exist (S3's `NoSuchKey`, Azure's
    /// `BlobNotFound`, a Cloud Storage 404).
    pub fn is_missing_object(&self) -> bool {
        matches!(self.code(), Some("NoSuchKey" | "BlobNotFound" | "NotFound"))
    }

    /// The S3 error code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client of one S3 endpoint.
#[derive(Clone)]
pub struct S3 {
    http: HttpClient,
    scheme: &'static str,
    host: String,
    region: String,
    credentials: Option<Credentials>,
    timeout: Duration,
}

/// Where the client connects and how it signs.
pub struct Options {
    /// `spec.endpoint`: `host[:port]`, or a URL whose scheme is then used.
    pub endpoint: String,
    /// `spec.insecure`: plain HTTP.
    pub insecure: bool,
    /// `spec.region`; empty: asked of the server (`?location`), else
    /// `us-east-1`.
    pub region: Option<String>,
    /// Anonymous requests when absent.
    pub credentials: Option<Credentials>,
    /// Each request's deadline (the body included).
    pub timeout: Duration,
}

impl S3 {
    /// A client of `options.endpoint` over `http`.
    pub fn new(http: HttpClient, options: Options) -> Result<Self, String> {
        let (scheme, host) = match options.endpoint.split_once("://") {
            Some(("http", rest)) => ("http", rest),
            Some(("https", rest)) => ("https", rest),
            Some((other, _)) => return Err(format!("unsupported endpoint scheme '{other}'")),
            None if options.insecure => ("http", options.endpoint.as_str()),
            None => ("https", options.endpoint.as_str()),
        };
        let host = host.trim_end_matches('/');
        if host.is_empty() || host.contains('/') || host.contains('?') {
            return Err(format!(
                "Endpoint url cannot have fully qualified paths: '{}'",
                options.endpoint
            ));
        }
        Ok(Self {
            http,
            scheme,
            host: host.to_string(),
            region: options.region.unwrap_or_default(),
            credentials: options.credentials,
            timeout: options.timeout,
        })
    }

    /// The region requests are signed for: the configured one, else the
    /// bucket's location as the server reports it (`us-east-1` when it
    /// reports none or refuses for a reason MinIO's client tolerates). Any
    /// other refusal is the error of the first call on the bucket, as in
    /// MinIO's client (a wrong key shows here).
    pub async fn resolve_region(&mut self, bucket: &str) -> Result<(), Error> {
        if !self.region.is_empty() {
            return Ok(());
        }
        self.region = "us-east-1".to_string();
        let answer = self
            .call(Method::GET, bucket, "", &[("location", "")], None)
            .await?;
        if answer.status != StatusCode::OK {
            let error = status_error(&answer, Some(bucket), None);
            return match &error {
                Error::Status { code, region, .. }
                    if matches!(
                        code.as_str(),
                        "AuthorizationHeaderMalformed" | "InvalidRegion" | "AccessDenied"
                    ) =>
                {
                    if let Some(r) = region {
                        self.region = r.clone();
                    }
                    Ok(())
                }
                _ => Err(error),
            };
        }
        let text = String::from_utf8_lossy(&answer.body);
        match element_text(&text, "LocationConstraint").as_deref() {
            None | Some("") => {}
            Some("EU") => self.region = "eu-west-1".to_string(),
            Some(location) => self.region = location.to_string(),
        }
        Ok(())
    }

    /// `HEAD /<bucket>`: true when it exists, false when the server says
    /// it does not.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, Error> {
        match self.call(Method::HEAD, bucket, "", &[], None).await {
            Ok(answer) if answer.status == StatusCode::OK => Ok(true),
            Ok(answer) => {
                let error = status_error(&answer, Some(bucket), None);
                if error.code() == Some("NoSuchBucket") {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Every key under `prefix` with its ETag, in the server's order
    /// (ListObjectsV2, page after page).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, String)>, Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("list-type", "2"),
                ("encoding-type", "url"),
                ("fetch-owner", "false"),
                ("prefix", prefix),
            ];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let answer = self.call(Method::GET, bucket, "", &query, None).await?;
            if answer.status != StatusCode::OK {
                return Err(status_error(&answer, Some(bucket), None));
            }
            let text = String::from_utf8_lossy(&answer.body);
            let url_encoded = element_text(&text, "EncodingType").as_deref() == Some("url");
            for contents in elements(&text, "Contents") {
                let key = element_text(contents, "Key")
                    .ok_or_else(|| Error::Protocol("a listed object has no key".to_string()))?;
                let key = if url_encoded {
                    percent_decode(&key)
                        .ok_or_else(|| Error::Protocol(format!("invalid encoded key '{key}'")))?
                } else {
                    key
                };
                let etag = element_text(contents, "ETag").unwrap_or_default();
                objects.push((key, trim_etag(&etag).to_string()));
            }
            let truncated = element_text(&text, "IsTruncated").as_deref() == Some("true");
            match element_text(&text, "NextContinuationToken") {
                Some(next) if truncated && !next.is_empty() => token = Some(next),
                _ if truncated => {
                    return Err(Error::Protocol(
                        "truncated listing without a continuation token".to_string(),
                    ));
                }
                _ => return Ok(objects),
            }
        }
    }

    /// `GET /<bucket>/<key>` into `out`, at most `limit` bytes; returns
    /// the ETag of what was read and its size.
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        limit: u64,
        out: &mut (dyn Write + Send),
    ) -> Result<(String, u64), Error> {
        let answer = self
            .call(Method::GET, bucket, key, &[], Some((limit, out)))
            .await?;
        if answer.status != StatusCode::OK {
            return Err(status_error(&answer, Some(bucket), Some(key)));
        }
        let etag = answer
            .headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(trim_etag)
            .unwrap_or_default()
            .to_string();
        Ok((etag, answer.written))
    }

    /// One signed request; a successful body goes to `sink` (within its
    /// limit) when given, else is returned.
    async fn call(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(&str, &str)],
        sink: Option<(u64, &mut (dyn Write + Send))>,
    ) -> Result<Answer, Error> {
        let virtual_host = self.virtual_host(bucket);
        let host = if virtual_host {
            format!("{bucket}.{}", self.host)
        } else {
            self.host.clone()
        };
        let mut path = String::from("/");
        if !virtual_host {
            path.push_str(&uri_encode(bucket, false));
            if !key.is_empty() {
                path.push('/');
            }
        }
        path.push_str(&uri_encode(key, false));
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
            .collect();
        pairs.sort();
        let canonical_query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let url = if canonical_query.is_empty() {
            format!("{}://{host}{path}", self.scheme)
        } else {
            format!("{}://{host}{path}?{canonical_query}", self.scheme)
        };
        let request_name = format!("{method} {url}");
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::HOST, &host)
            .header(header::USER_AGENT, "flux-rs");
        let payload = hex(&Sha256::digest(b""));
        builder = builder.header("x-amz-content-sha256", &payload);
        if let Some(credentials) = &self.credentials {
            let timestamp = k8s_openapi::jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            let signed = sign(SigningInput {
                credentials,
                region: &self.region,
                method: method.as_str(),
                host: &host,
                path: &path,
                query: &canonical_query,
                payload: &payload,
                timestamp: &timestamp,
            });
            builder = builder
                .header("x-amz-date", &timestamp)
                .header(header::AUTHORIZATION, signed);
            if let Some(token) = &credentials.session_token {
                builder = builder.header("x-amz-security-token", token);
            }
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Protocol(format!("{request_name}: {e}")))?;
        send(&self.http, request, request_name, self.timeout, sink).await
    }

    /// MinIO's automatic lookup: virtual-hosted on AWS endpoints when the
    /// bucket name is a valid host label (no dots over TLS), else path-style.
    fn virtual_host(&self, bucket: &str) -> bool {
        let host = self.host.split(':').next().unwrap_or_default();
        let aws = host == "s3.amazonaws.com"
            || (host.starts_with("s3.") || host.starts_with("s3-"))
                && host.ends_with(".amazonaws.com");
        aws && !bucket.is_empty()
            && !(self.scheme == "https" && bucket.contains('.'))
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    }
}

/// Sends `request` within `timeout`; a successful body goes to `sink`
/// (within its limit) when given, else is returned (bounded). Shared by the
/// S3 and Azure Blob clients.
pub(super) async fn send(
    http: &HttpClient,
    request: Request<Full<Bytes>>,
    request_name: String,
    timeout: Duration,
    sink: Option<(u64, &mut (dyn Write + Send))>,
) -> Result<Answer, Error> {
    let work = async {
        let response = http.request(request).await.map_err(|e| Error::Transport {
            request: request_name.clone(),
            message: error_chain(&e),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = response.into_body();
        match sink {
            Some((limit, out)) if status == StatusCode::OK => {
                let mut written: u64 = 0;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| Error::Transport {
                        request: request_name.clone(),
                        message: error_chain(&e),
                    })?;
                    if let Ok(data) = frame.into_data() {
                        written += data.len() as u64;
                        if written > limit {
                            return Err(Error::TooLarge { limit });
                        }
                        out.write_all(&data).map_err(|e| Error::Io(e.to_string()))?;
                    }
                }
                Ok(Answer {
                    status,
                    headers,
                    body: Bytes::new(),
                    written,
                })
            }
            _ => {
                // Error bodies and listings are small; bound them anyway.
                let limited = http_body_util::Limited::new(body, 64 << 20);
                let bytes = limited
                    .collect()
                    .await
                    .map_err(|e| Error::Transport {
                        request: request_name.clone(),
                        message: e.to_string(),
                    })?
                    .to_bytes();
                Ok(Answer {
                    status,
                    headers,
                    written: bytes.len() as u64,
                    body: bytes,
                })
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            request: request_name,
            after: flux_runtime::format_duration(timeout),
        }),
    }
}

/// What a call got: the body itself, or only its size when it went to
/// a sink.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: http::HeaderMap,
    pub(super) body: Bytes,
    pub(super) written: u64,
}

struct SigningInput<'a> {
    credentials: &'a Credentials,
    region: &'a str,
    method: &'a str,
    host: &'a str,
    path: &'a str,
    query: &'a str,
    payload: &'a str,
    timestamp: &'a str,
}

/// The `Authorization` header of AWS Signature Version 4.
fn sign(input: SigningInput<'_>) -> String {
    let date = &input.timestamp[..8.min(input.timestamp.len())];
    let mut headers = vec![
        ("host", input.host.to_string()),
        ("x-amz-content-sha256", input.payload.to_string()),
        ("x-amz-date", input.timestamp.to_string()),
    ];
    if let Some(token) = &input.credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        input.method, input.path, input.query, input.payload
    );
    let scope = format!("{date}/{}/s3/aws4_request", input.region);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        input.timestamp,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = format!("AWS4{}", input.credentials.secret_key);
    let mut key = hmac_sha256(secret.as_bytes(), date.as_bytes());
    for part in [input.region, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        input.credentials.access_key
    )
}

/// HMAC-SHA256 (RFC 2104).
pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// S3's URI encoding: everything but `A-Za-z0-9-._~` (and `/` in paths).
pub(super) fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// An ETag without its quotes (MinIO's client reports them so).
fn trim_etag(etag: &str) -> &str {
    let etag = etag.strip_prefix('"').unwrap_or(etag);
    etag.strip_suffix('"').unwrap_or(etag)
}

/// The error of a non-success answer, as MinIO's client reads it: the
/// server's `<Error>` document, else its wording for the status; MinIO's
/// error headers win; the bucket's region from `x-amz-bucket-region`.
fn status_error(answer: &Answer, bucket: Option<&str>, key: Option<&str>) -> Error {
    let status = answer.status;
    let text = String::from_utf8_lossy(&answer.body);
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (mut code, mut message, mut region) = match element_text(&text, "Code") {
        Some(code) if text.contains("<Error") => (
            code.clone(),
            element_text(&text, "Message").unwrap_or_default(),
            element_text(&text, "Region").filter(|r| !r.is_empty()),
        ),
        _ => {
            let (code, message) = match status {
                StatusCode::NOT_FOUND if key.is_none() && bucket.is_some() => (
                    "NoSuchBucket".to_string(),
                    "The specified bucket does not exist".to_string(),
                ),
                StatusCode::NOT_FOUND => (
                    "NoSuchKey".to_string(),
                    "The specified key does not exist.".to_string(),
                ),
                StatusCode::FORBIDDEN => ("AccessDenied".to_string(), "Access Denied.".to_string()),
                StatusCode::CONFLICT => ("Conflict".to_string(), "Bucket not empty.".to_string()),
                StatusCode::PRECONDITION_FAILED => (
                    "PreconditionFailed".to_string(),
                    "At least one of the pre-conditions you specified did not hold".to_string(),
                ),
                _ => {
                    let line = format!(
                        "{} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or_default()
                    );
                    let mut message = if text.is_empty() {
                        line.clone()
                    } else {
                        text.to_string()
                    };
                    if message.len() > 1024 {
                        let mut end = 1024;
                        while !message.is_char_boundary(end) {
                            end -= 1;
                        }
                        message.truncate(end);
                        message.push_str("...");
                    }
                    (line, message)
                }
            };
            (code, message, None)
        }
    };
    if let Some(c) = header("x-minio-error-code") {
        code = c;
    }
    if let Some(d) = header("x-minio-error-desc") {
        message = d.trim_matches('"').to_string();
    }
    if region.is_none() {
        region = header("x-amz-bucket-region");
    }
    if code == "InvalidRegion"
        && let Some(r) = &region
    {
        message = format!("Region does not match, expecting region \u{2018}{r}\u{2019}.");
    }
    Error::Status {
        status: status.as_u16(),
        code,
        message,
        region,
    }
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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

/// The inner texts of every `<tag>…</tag>` of `xml` (S3's documents are
/// flat records: no element nests one of its own name).
pub(super) fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The unescaped text of the first `<tag>` of `xml`.
pub(super) fn element_text(xml: &str, tag: &str) -> Option<String> {
    if let Some(inner) = elements(xml, tag).first() {
        return Some(unescape(inner));
    }
    // An empty element written `<tag/>`.
    xml.contains(&format!("<{tag}/>")).then(String::new)
}

/// XML character and entity references.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_matches_aws_documented_example() {
        // AWS's documented GET Object example (examplebucket, test.txt),
        // whose Range header is signed too: reproduce it with the same
        // algorithm over the same canonical request.
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let date = "20130524";
        let mut key = hmac_sha256(
            format!("AWS4{}", credentials.secret_key).as_bytes(),
            date.as_bytes(),
        );
        for part in ["us-east-1", "s3", "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        let canonical = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(
            hex(&hmac_sha256(&key, to_sign.as_bytes())),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // The header our signer writes for the same request without Range.
        let header = sign(SigningInput {
            credentials: &credentials,
            region: "us-east-1",
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: "",
            payload: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            timestamp: "20130524T000000Z",
        });
        assert!(header.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="), "{header}");
    }

    #[test]
    fn listings_keep_keys_and_etags_as_sent() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken><EncodingType>url</EncodingType><Contents><Key>dir%2F</Key><ETag>&#34;abc&#34;</ETag></Contents><Contents><Key>a%20b/c%26d.yaml</Key><ETag>&quot;d-2&quot;</ETag></Contents></ListBucketResult>"#;
        let contents = elements(xml, "Contents");
        assert_eq!(contents.len(), 2);
        assert_eq!(
            percent_decode(&element_text(contents[0], "Key").unwrap()).unwrap(),
            "dir/"
        );
        assert_eq!(
            trim_etag(&element_text(contents[0], "ETag").unwrap()),
            "abc"
        );
        assert_eq!(
            percent_decode(&element_text(contents[1], "Key").unwrap()).unwrap(),
            "a b/c&d.yaml"
        );
        assert_eq!(element_text(xml, "NextContinuationToken").unwrap(), "t&1");
        assert_eq!(element_text("<a><B/></a>", "B").unwrap(), "");
        assert_eq!(unescape("x &bogus; &#x41;"), "x &bogus; A");
    }

    fn answer(status: StatusCode, headers: &[(&'static str, &str)], body: &'static [u8]) -> Answer {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Answer {
            status,
            headers: map,
            body: Bytes::from_static(body),
            written: 0,
        }
    }

    #[test]
    fn errors_are_read_as_minio_reads_them() {
        let e = status_error(&answer(StatusCode::FORBIDDEN, &[], b""), Some("b"), None);
        assert_eq!(e.to_string(), "Access Denied.");
        let e = status_error(&answer(StatusCode::NOT_FOUND, &[], b""), Some("b"), None);
        assert_eq!(e.code(), Some("NoSuchBucket"));
        let e = status_error(
            &answer(StatusCode::NOT_FOUND, &[], b""),
            Some("b"),
            Some("k"),
        );
        assert_eq!(e.code(), Some("NoSuchKey"));
        let e = status_error(
            &answer(
                StatusCode::FORBIDDEN,
                &[],
                b"<Error><Code>InvalidAccessKeyId</Code><Message>no such key</Message></Error>",
            ),
            Some("b"),
            Some("k"),
        );
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (Some("InvalidAccessKeyId"), "no such key")
        );
        let e = status_error(&answer(StatusCode::BAD_GATEWAY, &[], b""), Some("b"), None);
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (Some("502 Bad Gateway"), "502 Bad Gateway")
        );
        let e = status_error(
            &answer(
                StatusCode::FORBIDDEN,
                &[
                    ("x-minio-error-code", "InvalidRegion"),
                    ("x-amz-bucket-region", "eu-west-3"),
                ],
                b"",
            ),
            Some("b"),
            None,
        );
        assert_eq!(
            e.to_string(),
            "Region does not match, expecting region \u{2018}eu-west-3\u{2019}."
        );
    }

    #[test]
    fn paths_are_encoded_as_s3_signs_them() {
        assert_eq!(uri_encode("a b/c+d~_.-", false), "a%20b/c%2Bd~_.-");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
        assert_eq!(uri_encode("ü", false), "%C3%BC");
    }
}
