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
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};

/// An HTTP(S) client.
pub type HttpClient = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `http://` and `https://` URLs trusting the system's roots
/// and the PEM certificates of `ca_pem`.
pub fn client(ca_pem: Option<&[u8]>) -> Result<HttpClient> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = ca_pem {
        use rustls_pki_types::pem::PemObject as _;
        let mut added = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Tls(format!("ca.crt: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Tls(format!("ca.crt: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::Tls("ca.crt: no PEM certificate".to_string()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
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
            let limited = http_body_util::Limited::new(response.into_body(), limit as usize);
            return match limited.collect().await {
                Ok(body) => Ok(body.to_bytes()),
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    Err(Error::TooLarge {
                        what: url.to_string(),
                        limit,
                    })
                }
                Err(e) => Err(Error::Transport {
                    request,
                    message: e.to_string(),
                }),
            };
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
