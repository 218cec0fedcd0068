//! HTTP(S) for sources: a client trusting the system's roots plus a
//! Secret's CA, and size- and time-bounded downloads (Helm repository
//! indexes and charts use it as the registry client does).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};

/// An HTTP(S) client.
pub type HttpClient = HyperClient<HttpsConnector<Connector>, Full<Bytes>>;

/// An HTTP proxy (`proxySecretRef`): `http://host:port`, with optional
/// basic credentials. Every connection is a `CONNECT` tunnel through it.
#[derive(Clone, Default)]
pub struct Proxy {
    /// `http://host:port`.
    pub address: String,
    /// Proxy user.
    pub username: Option<String>,
    /// Proxy password.
    pub password: Option<String>,
}

impl std::fmt::Debug for Proxy {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy({}", self.address)?;
        if let Some(user) = &self.username {
            write!(f, ", {user}, ***")?;
        }
        f.write_str(")")
    }
}

impl Proxy {
    /// The proxy a Flux proxy Secret describes (`address`, `username`,
    /// `password`), with upstream's errors.
    pub fn from_secret(
        namespace: &str,
        name: &str,
        data: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> std::result::Result<Self, String> {
        let text = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let Some(address) = text("address") else {
            return Err(format!(
                "secret '{namespace}/{name}': key 'address' not found"
            ));
        };
        if address.is_empty() {
            return Err(format!(
                "secret '{namespace}/{name}': proxy address is empty"
            ));
        }
        let scheme = address.split_once("://").map(|(s, _)| s);
        if scheme != Some("http") {
            return Err(format!(
                "secret '{namespace}/{name}': proxy address '{address}' must be an http:// URL"
            ));
        }
        Ok(Self {
            address,
            username: text("username"),
            password: text("password"),
        })
    }
}

/// Connections made directly, or through a proxy's `CONNECT` tunnel.
#[derive(Clone)]
pub struct Connector {
    direct: HttpConnector,
    tunnel: Option<Tunnel<HttpConnector>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<Self::Response, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), BoxError>> {
        match &mut self.tunnel {
            Some(t) => t.poll_ready(cx).map_err(Into::into),
            None => self.direct.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        match &mut self.tunnel {
            Some(t) => {
                let connecting = t.call(uri);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            None => {
                let connecting = self.direct.call(uri);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

/// The TLS settings of a `certSecretRef` Secret: PEM certificates trusted
/// besides the system's (`ca.crt`) and a client certificate (`tls.crt` +
/// `tls.key`), or their legacy names (`caFile`, `certFile`, `keyFile`).
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// `ca.crt`.
    pub ca_pem: Option<Vec<u8>>,
    /// `tls.crt` and `tls.key`.
    pub client: Option<ClientCertificate>,
}

/// A client certificate chain and its private key, PEM (never printed).
#[derive(Clone)]
pub struct ClientCertificate {
    /// The certificate chain.
    pub cert_pem: Vec<u8>,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCertificate { .. }")
    }
}

impl Tls {
    /// Only `ca_pem` trusted.
    pub fn ca(ca_pem: Option<&[u8]>) -> Tls {
        Tls {
            ca_pem: ca_pem.map(<[u8]>::to_vec),
            client: None,
        }
    }

    /// Reads the entries of Secret `secret` (`namespace/name`, for
    /// messages) with `get`, the standard names before the legacy ones; as
    /// upstream, a certificate needs its key and the Secret needs a CA or a
    /// pair.
    pub fn from_secret<'a>(
        secret: &str,
        get: impl Fn(&str) -> Option<&'a [u8]>,
    ) -> std::result::Result<Tls, String> {
        let entry = |name: &str, legacy: &str| {
            get(name)
                .or_else(|| get(legacy))
                .filter(|v| !v.is_empty())
                .map(<[u8]>::to_vec)
        };
        let cert = entry("tls.crt", "certFile");
        let key = entry("tls.key", "keyFile");
        let ca = entry("ca.crt", "caFile");
        let client = match (cert, key) {
            (Some(cert_pem), Some(key_pem)) => Some(ClientCertificate { cert_pem, key_pem }),
            (Some(_), None) => {
                return Err(format!(
                    "secret '{secret}' contains 'tls.crt' but missing 'tls.key'"
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "secret '{secret}' contains 'tls.key' but missing 'tls.crt'"
                ));
            }
            (None, None) => None,
        };
        if client.is_none() && ca.is_none() {
            return Err(format!(
                "secret '{secret}' must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'"
            ));
        }
        Ok(Tls { ca_pem: ca, client })
    }

    fn config(
        &self,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<rustls::ClientConfig> {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(pem) = &self.ca_pem {
            let mut added = 0;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| Error::Tls(format!("ca.crt: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Tls(format!("ca.crt: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::Tls("failed to parse CA certificate".to_string()));
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let Some(client) = &self.client else {
            return Ok(builder.with_no_client_auth());
        };
        let invalid =
            |why: String| Error::Tls(format!("failed to parse TLS certificate and key: {why}"));
        let chain = rustls_pki_types::CertificateDer::pem_slice_iter(&client.cert_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("tls.crt: {e}")))?;
        if chain.is_empty() {
            return Err(invalid("tls.crt: no PEM certificate".to_string()));
        }
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(&client.key_pem)
            .map_err(|e| invalid(format!("tls.key: {e}")))?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| invalid(e.to_string()))
    }
}

/// A client for `http://` and `https://` URLs trusting the system's roots
/// and the PEM certificates of `ca_pem`.
pub fn client(ca_pem: Option<&[u8]>) -> Result<HttpClient> {
    client_with(ca_pem, None)
}

/// [`client`] through `proxy` when given.
pub fn client_with(ca_pem: Option<&[u8]>, proxy: Option<&Proxy>) -> Result<HttpClient> {
    client_with_tls(&Tls::ca(ca_pem), proxy)
}

/// A client with `tls` (trusted CAs, client certificate), through `proxy`
/// when given.
pub fn client_with_tls(tls: &Tls, proxy: Option<&Proxy>) -> Result<HttpClient> {
    // The common case — the system's roots, no client certificate, no
    // proxy — is built once and shared (with its connection pool): loading
    // the system's roots for each of a hundred HelmCharts is wasted work.
    if tls.ca_pem.is_none() && tls.client.is_none() && proxy.is_none() {
        static PLAIN: std::sync::OnceLock<HttpClient> = std::sync::OnceLock::new();
        if let Some(client) = PLAIN.get() {
            return Ok(client.clone());
        }
        let client = build_client(tls, None)?;
        return Ok(PLAIN.get_or_init(|| client).clone());
    }
    build_client(tls, proxy)
}

fn build_client(tls: &Tls, proxy: Option<&Proxy>) -> Result<HttpClient> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = tls.config(provider)?;
    let mut direct = HttpConnector::new();
    direct.enforce_http(false);
    let tunnel = match proxy {
        None => None,
        Some(p) => {
            let uri: http::Uri = p.address.parse().map_err(|e| Error::InvalidReference {
                reference: "proxy address".to_string(),
                reason: format!("{e}"),
            })?;
            let mut tunnel = Tunnel::new(uri, HttpConnector::new());
            if let Some(user) = &p.username {
                use base64::Engine as _;
                let token = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{user}:{}",
                    p.password.as_deref().unwrap_or_default()
                ));
                let value =
                    http::HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| {
                        Error::InvalidReference {
                            reference: "proxy credentials".to_string(),
                            reason: e.to_string(),
                        }
                    })?;
                tunnel = tunnel.with_auth(value);
            }
            Some(tunnel)
        }
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(Connector { direct, tunnel });
    Ok(HyperClient::builder(TokioExecutor::new()).build(connector))
}

/// `GET url` with `authorization`, at most `limit` bytes of body, within
/// `timeout` (the body included), following up to ten redirects (the
/// authorization kept only on the same host, as Helm's getter does).
pub async fn get(
    client: &HttpClient,
    url: &str,
    authorization: Option<&str>,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes> {
    let request_name = format!("GET {url}");
    let work = async {
        let mut current = url.to_string();
        for _ in 0..10 {
            let same_host = host_of(&current) == host_of(url);
            let mut builder = Request::builder()
                .method(Method::GET)
                .uri(&current)
                .header(header::USER_AGENT, "flux-rs");
            if let Some(value) = authorization.filter(|_| same_host) {
                builder = builder.header(header::AUTHORIZATION, value);
            }
            let request =
                builder
                    .body(Full::new(Bytes::new()))
                    .map_err(|e| Error::InvalidReference {
                        reference: current.clone(),
                        reason: e.to_string(),
                    })?;
            let response = client
                .request(request)
                .await
                .map_err(|e| Error::Transport {
                    request: format!("GET {current}"),
                    message: crate::client::error_chain(&e),
                })?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
            {
                current = resolve(&current, location);
                continue;
            }
            let request = format!("GET {current}");
            if status != StatusCode::OK {
                let message = format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default()
                );
                return Err(match status {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        Error::Authentication { request, message }
                    }
                    StatusCode::NOT_FOUND => Error::NotFound { request, message },
                    _ => Error::Registry { request, message },
                });
            }
            // Gathered into one buffer sized by `Content-Length` (not
            // collected in pieces and copied: a 40 MB index would be in
            // memory twice).
            let expected = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if expected > limit {
                return Err(Error::TooLarge {
                    what: url.to_string(),
                    limit,
                });
            }
            let mut body = response.into_body();
            let mut data = Vec::with_capacity(expected as usize);
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Error::Transport {
                    request: request.clone(),
                    message: e.to_string(),
                })?;
                if let Ok(chunk) = frame.into_data() {
                    if (data.len() + chunk.len()) as u64 > limit {
                        return Err(Error::TooLarge {
                            what: url.to_string(),
                            limit,
                        });
                    }
                    data.extend_from_slice(&chunk);
                }
            }
            return Ok(Bytes::from(data));
        }
        Err(Error::Registry {
            request: request_name.clone(),
            message: "stopped after 10 redirects".to_string(),
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            request: request_name,
            after: crate::client::go_duration(timeout),
        }),
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = rest.split('/').next().unwrap_or(rest);
    if location.starts_with('/') {
        format!("{scheme}://{host}{location}")
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}
