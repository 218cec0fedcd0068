//! A Google Cloud Storage client of our own (`provider: gcp`) over the
//! JSON API: bucket existence, object listings page after page, and
//! downloads pinned to the generation whose metadata was read (as
//! upstream's client reads them), over the sources' HTTP client and the S3
//! client's transport.
//!
//! Credentials: the Secret's `serviceaccount` key (a service account JSON
//! key) is exchanged for a read-only access token at the key's
//! `token_uri` with a signed JWT (RS256), as Google's libraries do.
//! Without a Secret, requests are anonymous (public buckets); workload
//! identity is not available here. The service is `$STORAGE_EMULATOR_HOST`
//! when the controller's environment names an emulator (then
//! unauthenticated, as upstream), else `spec.endpoint` (upstream ignores
//! it; users write `storage.googleapis.com`), else Google's.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde::Deserialize;

use super::s3::{Answer, Error, send, uri_encode};
use flux_oci::http::HttpClient;

/// Google's public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// The scope upstream asks for.
const READ_ONLY_SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_only";
/// Where keys without a `token_uri` exchange their JWT.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service account JSON key (the fields used).
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads the `serviceaccount` entry of Secret `secret` (upstream's
    /// checks and messages; the parser's error is not quoted: it may hold
    /// the key).
    pub fn parse(secret: &str, data: &[u8]) -> Result<Self, String> {
        let key: ServiceAccountKey = serde_json::from_slice(data).map_err(|_| {
            format!("invalid '{secret}' secret data: failed to parse 'serviceaccount' as JSON")
        })?;
        if key.kind != "service_account" {
            return Err(format!(
                "invalid '{secret}' secret data: 'serviceaccount' must contain a service account key with 'type' set to 'service_account'"
            ));
        }
        Ok(key)
    }

    /// The signed JWT assertion for `now` (seconds since the epoch).
    fn assertion(&self, now: i64) -> Result<String, String> {
        use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
        use rustls_pki_types::pem::PemObject as _;
        let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(self.private_key.as_bytes())
            .map_err(|_| {
                "the service account key's private_key is not a PEM private key".to_string()
            })?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_der())
            .or_else(|_| RsaKeyPair::from_der(der.secret_der()))
            .map_err(|_| "the service account key's private_key is not an RSA key".to_string())?;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": READ_ONLY_SCOPE,
            "aud": self.token_uri(),
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "signing the token request failed".to_string())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }

    fn token_uri(&self) -> &str {
        if self.token_uri.is_empty() {
            DEFAULT_TOKEN_URI
        } else {
            &self.token_uri
        }
    }

    /// Exchanges the JWT for an access token.
    async fn access_token(&self, http: &HttpClient, timeout: Duration) -> Result<String, String> {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let assertion = self.assertion(now)?;
        let body = format!(
            "grant_type={}&assertion={assertion}",
            uri_encode("urn:ietf:params:oauth:grant-type:jwt-bearer", true)
        );
        let uri = self.token_uri();
        let failed =
            |why: String| format!("failed to get a Google access token from '{uri}': {why}");
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::USER_AGENT, "flux-rs")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(e.to_string()))?;
        let answer = send(http, request, format!("POST {uri}"), timeout, None)
            .await
            .map_err(|e| failed(e.to_string()))?;
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            error_description: String,
            #[serde(default)]
            error: String,
        }
        let token: Token = serde_json::from_slice(&answer.body).map_err(|_| {
            failed(format!(
                "unexpected answer (HTTP {})",
                answer.status.as_u16()
            ))
        })?;
        if answer.status != StatusCode::OK || token.access_token.is_empty() {
            let why = if token.error_description.is_empty() {
                token.error
            } else {
                token.error_description
            };
            return Err(failed(format!("HTTP {}: {why}", answer.status.as_u16())));
        }
        Ok(token.access_token)
    }
}

/// A client of one Cloud Storage endpoint.
#[derive(Clone)]
pub struct Gcs {
    http: HttpClient,
    endpoint: String,
    token: Option<String>,
    timeout: Duration,
}

impl Gcs {
    /// A client of `endpoint` (see the module docs), authenticated with
    /// `key` when given (not against an emulator).
    pub async fn new(
        http: HttpClient,
        endpoint: Option<&str>,
        insecure: bool,
        key: Option<ServiceAccountKey>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let emulator = std::env::var("STORAGE_EMULATOR_HOST")
            .ok()
            .filter(|h| !h.is_empty());
        let (endpoint, authenticate) = match (&emulator, endpoint.filter(|e| !e.is_empty())) {
            (Some(host), _) => (with_scheme(host, true), false),
            (None, Some(e)) => (with_scheme(e, insecure), true),
            (None, None) => (DEFAULT_ENDPOINT.to_string(), true),
        };
        let token = match key {
            Some(key) if authenticate => Some(key.access_token(&http, timeout).await?),
            _ => None,
        };
        Ok(Gcs {
            http,
            endpoint,
            token,
            timeout,
        })
    }

    /// True when the bucket exists.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, Error> {
        let path = format!("/storage/v1/b/{}", uri_encode(bucket, true));
        let answer = self.call(&path, &[("fields", "name")], None).await?;
        match answer.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&answer)),
        }
    }

    /// Every object under `prefix` with its ETag.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, String)>, Error> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            items: Vec<Item>,
            #[serde(rename = "nextPageToken", default)]
            next: String,
        }
        #[derive(Deserialize)]
        struct Item {
            name: String,
            #[serde(default)]
            etag: String,
        }
        let path = format!("/storage/v1/b/{}/o", uri_encode(bucket, true));
        let mut objects = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![
                ("prefix", prefix),
                ("fields", "items(name,etag),nextPageToken"),
            ];
            if !token.is_empty() {
                query.push(("pageToken", &token));
            }
            let answer = self.call(&path, &query, None).await?;
            if answer.status != StatusCode::OK {
                return Err(self.status_error(&answer));
            }
            let page: Page = serde_json::from_slice(&answer.body)
                .map_err(|e| Error::Protocol(format!("invalid object listing: {e}")))?;
            objects.extend(page.items.into_iter().map(|i| (i.name, i.etag)));
            if page.next.is_empty() {
                return Ok(objects);
            }
            token = page.next;
        }
    }

    /// Downloads object `name` into `out` (at most `limit` bytes): its
    /// metadata first, then the content of that generation; the ETag and
    /// size.
    pub async fn get(
        &self,
        bucket: &str,
        name: &str,
        limit: u64,
        out: &mut (dyn Write + Send),
    ) -> Result<(String, u64), Error> {
        #[derive(Deserialize)]
        struct Meta {
            #[serde(default)]
            etag: String,
            #[serde(default)]
            generation: String,
        }
        let path = format!(
            "/storage/v1/b/{}/o/{}",
            uri_encode(bucket, true),
            uri_encode(name, true)
        );
        let answer = self.call(&path, &[], None).await?;
        if answer.status != StatusCode::OK {
            return Err(self.status_error(&answer));
        }
        let meta: Meta = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::Protocol(format!("invalid object metadata: {e}")))?;
        let mut query = vec![("alt", "media")];
        if !meta.generation.is_empty() {
            query.push(("ifGenerationMatch", &meta.generation));
        }
        let answer = self.call(&path, &query, Some((limit, out))).await?;
        if answer.status != StatusCode::OK {
            return Err(self.status_error(&answer));
        }
        Ok((meta.etag, answer.written))
    }

    async fn call(
        &self,
        path: &str,
        query: &[(&str, &str)],
        sink: Option<(u64, &mut (dyn Write + Send))>,
    ) -> Result<Answer, Error> {
        let encoded = query
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true)))
            .collect::<Vec<_>>()
            .join("&");
        let url = if encoded.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{encoded}", self.endpoint)
        };
        let request_name = format!("GET {}{path}", self.endpoint);
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(&url)
            .header(header::USER_AGENT, "flux-rs");
        if let Some(token) = &self.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Protocol(format!("{request_name}: {e}")))?;
        send(&self.http, request, request_name, self.timeout, sink).await
    }

    /// The service's error (`{"error": {"code", "message"}}`).
    fn status_error(&self, answer: &Answer) -> Error {
        #[derive(Deserialize)]
        struct Body {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(default)]
            message: String,
        }
        let message = serde_json::from_slice::<Body>(&answer.body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| {
                answer
                    .status
                    .canonical_reason()
                    .unwrap_or("unexpected status")
                    .to_string()
            });
        let status = answer.status.as_u16();
        let code = match answer.status {
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "AccessDenied",
            _ => "Error",
        };
        let hint = if self.token.is_none() && code == "AccessDenied" {
            " (requests were anonymous: workload identity is not supported by this controller; give a 'serviceaccount' key in spec.secretRef)"
        } else {
            ""
        };
        Error::Status {
            status,
            code: code.to_string(),
            message: format!("googleapi: Error {status}: {message}{hint}"),
            region: None,
        }
    }
}

fn with_scheme(endpoint: &str, insecure: bool) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_as_upstream() {
        let err = ServiceAccountKey::parse("gcs", b"{not json").unwrap_err();
        assert_eq!(
            err,
            "invalid 'gcs' secret data: failed to parse 'serviceaccount' as JSON"
        );
        let err = ServiceAccountKey::parse("gcs", br#"{"type":"authorized_user"}"#).unwrap_err();
        assert!(
            err.contains("with 'type' set to 'service_account'"),
            "{err}"
        );
    }

    /// The assertion is a JWT whose RS256 signature verifies with the
    /// key's public half and whose claims ask for read-only access.
    #[test]
    fn assertions_are_signed_jwts() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
        use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = private.as_der().unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let key = ServiceAccountKey {
            kind: "service_account".into(),
            client_email: "flux@project.iam.gserviceaccount.com".into(),
            private_key: pem,
            private_key_id: "k1".into(),
            token_uri: String::new(),
        };
        let jwt = key.assertion(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap()
        };
        let claims: serde_json::Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(claims["aud"], DEFAULT_TOKEN_URI);
        assert_eq!(claims["scope"], READ_ONLY_SCOPE);
        assert_eq!(claims["exp"], 1_700_003_600);
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref());
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &decode(parts[2])).is_ok());
    }
}
