//! An Azure Blob Storage client of our own (`provider: azure`): container
//! existence, flat listings page after page, and streamed downloads, signed
//! with the storage account's Shared Key or carrying a SAS token, over the
//! sources' HTTP client (CA, proxy) and the S3 client's transport.
//!
//! The account is the endpoint's first host label
//! (`https://<account>.blob.core.windows.net`), as upstream reads it; on an
//! IP or `localhost` endpoint (the emulator's path-style URLs,
//! `http://127.0.0.1:10000/<account>`), the first path segment, as the
//! Azure SDKs read those. ETags are recorded quoted, as Get Blob returns
//! them, so the revision of a listing equals the one after the download
//! (as upstream since its fix of the unquoted listing ETags).

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;

use super::s3::{
    Answer, Error, element_text, elements, hmac_sha256, percent_decode, send, uri_encode,
};
use flux_oci::http::HttpClient;

/// The REST API version requests ask for.
const API_VERSION: &str = "2021-12-02";

/// How requests are authorised.
#[derive(Clone)]
pub enum Credential {
    /// The storage account key (base64, as the portal shows it).
    SharedKey(Vec<u8>),
    /// A SAS token's query parameters (`sv=…&sig=…`), decoded.
    Sas(Vec<(String, String)>),
    /// Anonymous requests (public containers).
    Anonymous,
}

/// A client of one storage account.
#[derive(Clone)]
pub struct Blob {
    http: HttpClient,
    /// `scheme://host[:port]` plus `/<account>` on path-style endpoints.
    base: String,
    /// The path prefix of requests (`/<account>` on path-style endpoints).
    path_prefix: String,
    account: String,
    credential: Credential,
    timeout: Duration,
}

/// Where the endpoint points.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// `/<account>` for path-style endpoints, else empty.
    pub path_prefix: String,
    /// The storage account, when the endpoint names one.
    pub account: Option<String>,
    /// The endpoint's own query (merged into every request, as upstream
    /// merges it with a SAS token).
    pub query: Vec<(String, String)>,
}

/// Reads `spec.endpoint` (`https://` assumed without a scheme, `http://`
/// when `insecure`).
pub fn parse_endpoint(endpoint: &str, insecure: bool) -> Result<Endpoint, String> {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((s @ ("http" | "https"), rest)) => (s, rest),
        Some((other, _)) => return Err(format!("unsupported endpoint scheme '{other}'")),
        None if insecure => ("http", endpoint),
        None => ("https", endpoint),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("invalid endpoint '{endpoint}'"));
    }
    let hostname = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let path_style = hostname == "localhost" || hostname.parse::<std::net::IpAddr>().is_ok();
    let first_segment = path.split('/').next().filter(|s| !s.is_empty());
    let (account, path_prefix) = if path_style {
        (
            first_segment.map(str::to_string),
            first_segment.map(|a| format!("/{a}")).unwrap_or_default(),
        )
    } else {
        let labels: Vec<&str> = hostname.split('.').collect();
        (
            (labels.len() > 2).then(|| labels[0].to_string()),
            String::new(),
        )
    };
    Ok(Endpoint {
        origin: format!("{scheme}://{authority}"),
        path_prefix,
        account,
        query: parse_query(query),
    })
}

/// The pairs of a query string, percent-decoded (`+` as a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |t: &str| {
                let t = t.replace('+', " ");
                percent_decode(&t).unwrap_or(t)
            };
            (decode(k), decode(v))
        })
        .collect()
}

impl Blob {
    /// A client of `endpoint` with `credential`; a Shared Key needs the
    /// endpoint to name the account.
    pub fn new(
        http: HttpClient,
        endpoint: Endpoint,
        credential: Credential,
        timeout: Duration,
    ) -> Result<Self, String> {
        let account = endpoint.account.clone().unwrap_or_default();
        let credential = match credential {
            Credential::SharedKey(_) if account.is_empty() => {
                return Err(
                    "failed to extract account name from endpoint: expected the host to be a subdomain (<account>.blob.core.windows.net)".to_string(),
                );
            }
            // The endpoint's query rides along with the SAS token.
            Credential::Sas(mut pairs) => {
                for (k, v) in endpoint.query {
                    if !pairs.iter().any(|(key, _)| *key == k) {
                        pairs.push((k, v));
                    }
                }
                Credential::Sas(pairs)
            }
            other => other,
        };
        Ok(Blob {
            http,
            base: endpoint.origin,
            path_prefix: endpoint.path_prefix,
            account,
            credential,
            timeout,
        })
    }

    /// True when the container exists (one listing of one blob, as
    /// upstream checks it).
    pub async fn container_exists(&self, container: &str) -> Result<bool, Error> {
        let query = [
            ("restype", "container"),
            ("comp", "list"),
            ("maxresults", "1"),
        ];
        let answer = self.call(container, "", &query, None).await?;
        match answer.status {
            StatusCode::OK => Ok(true),
            _ => {
                let error = status_error(&answer);
                match error.code() {
                    Some("ContainerNotFound") => Ok(false),
                    // A container-scoped SAS reads a missing container as
                    // a refusal.
                    Some("AuthenticationFailed") => Err(Error::Protocol(format!(
                        "the specified bucket name may be incorrect, nonexistent, or the caller might lack sufficient permissions to access it: {error}"
                    ))),
                    _ => Err(error),
                }
            }
        }
    }

    /// Every blob under `prefix` with its (quoted) ETag, in the service's
    /// order.
    pub async fn list(
        &self,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let mut blobs = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("restype", "container"), ("comp", "list")];
            if !prefix.is_empty() {
                query.push(("prefix", prefix));
            }
            if !marker.is_empty() {
                query.push(("marker", &marker));
            }
            let answer = self.call(container, "", &query, None).await?;
            if answer.status != StatusCode::OK {
                return Err(status_error(&answer));
            }
            let text = String::from_utf8_lossy(&answer.body);
            for blob in elements(&text, "Blob") {
                blobs.push((
                    blob_name(blob)?,
                    quote(&element_text(blob, "Etag").unwrap_or_default()),
                ));
            }
            match element_text(&text, "NextMarker") {
                Some(next) if !next.is_empty() => marker = next,
                _ => return Ok(blobs),
            }
        }
    }

    /// Downloads blob `key` into `out`, at most `limit` bytes; its ETag
    /// (quoted) and size.
    pub async fn get(
        &self,
        container: &str,
        key: &str,
        limit: u64,
        out: &mut (dyn Write + Send),
    ) -> Result<(String, u64), Error> {
        let answer = self.call(container, key, &[], Some((limit, out))).await?;
        if answer.status != StatusCode::OK {
            return Err(status_error(&answer));
        }
        let etag = answer
            .headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(quote)
            .unwrap_or_default();
        Ok((etag, answer.written))
    }

    async fn call(
        &self,
        container: &str,
        key: &str,
        query: &[(&str, &str)],
        sink: Option<(u64, &mut (dyn Write + Send))>,
    ) -> Result<Answer, Error> {
        let mut path = format!("{}/{}", self.path_prefix, uri_encode(container, true));
        if !key.is_empty() {
            path.push('/');
            path.push_str(&uri_encode(key, false));
        }
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Credential::Sas(sas) = &self.credential {
            pairs.extend(sas.iter().cloned());
        }
        let encoded = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true)))
            .collect::<Vec<_>>()
            .join("&");
        let url = if encoded.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{encoded}", self.base)
        };
        // Named without the query: a SAS signature never reaches a message.
        let request_name = format!("GET {}{path}", self.base);
        let date = k8s_openapi::jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(&url)
            .header(header::USER_AGENT, "flux-rs")
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION);
        if let Credential::SharedKey(key) = &self.credential {
            let headers = [("x-ms-date", date.as_str()), ("x-ms-version", API_VERSION)];
            let to_sign = string_to_sign("GET", &self.account, &path, &pairs, &headers);
            let signature = base64::engine::general_purpose::STANDARD
                .encode(hmac_sha256(key, to_sign.as_bytes()));
            builder = builder.header(
                header::AUTHORIZATION,
                format!("SharedKey {}:{signature}", self.account),
            );
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::Protocol(format!("{request_name}: {e}")))?;
        send(&self.http, request, request_name, self.timeout, sink).await
    }
}

/// The Shared Key string to sign of a body-less request: the verb, eleven
/// empty standard headers, the `x-ms-` headers, then the canonical
/// resource (`/<account><path>` and the query, names lowercased and sorted,
/// values decoded, repeated names joined by commas).
fn string_to_sign(
    verb: &str,
    account: &str,
    path: &str,
    query: &[(String, String)],
    ms_headers: &[(&str, &str)],
) -> String {
    let mut out = format!("{verb}\n");
    out.push_str(&"\n".repeat(11));
    let mut headers: Vec<(String, &str)> = ms_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    headers.sort();
    for (name, value) in headers {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&format!("/{account}{path}"));
    let mut params: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (k, v) in query {
        params.entry(k.to_ascii_lowercase()).or_default().push(v);
    }
    for (name, mut values) in params {
        values.sort_unstable();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

/// `"<etag>"`, as Get Blob's header has it.
fn quote(etag: &str) -> String {
    if etag.is_empty() || etag.starts_with('"') {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

/// A listed blob's name (`<Name Encoded="true">` holds it percent-encoded).
fn blob_name(blob: &str) -> Result<String, Error> {
    if let Some(name) = element_text(blob, "Name") {
        return Ok(name);
    }
    let encoded = blob
        .split_once("<Name Encoded=\"true\">")
        .and_then(|(_, rest)| rest.split_once("</Name>"))
        .map(|(name, _)| name);
    encoded
        .and_then(percent_decode)
        .ok_or_else(|| Error::Protocol("a listed blob has no name".to_string()))
}

/// The service's error: its code (header or body) and message.
fn status_error(answer: &Answer) -> Error {
    let text = String::from_utf8_lossy(&answer.body);
    let code = answer
        .headers
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| element_text(&text, "Code"))
        .unwrap_or_else(|| answer.status.as_str().to_string());
    let message = element_text(&text, "Message")
        .map(|m| m.lines().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| {
            answer
                .status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_string()
        });
    Error::Status {
        status: answer.status.as_u16(),
        message: format!("{code}: {message}"),
        code,
        region: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_their_account() {
        let e = parse_endpoint("https://fleet.blob.core.windows.net", false).unwrap();
        assert_eq!(e.account.as_deref(), Some("fleet"));
        assert_eq!(e.origin, "https://fleet.blob.core.windows.net");
        assert_eq!(e.path_prefix, "");
        let e = parse_endpoint("http://127.0.0.1:10000/devstoreaccount1", false).unwrap();
        assert_eq!(e.account.as_deref(), Some("devstoreaccount1"));
        assert_eq!(e.path_prefix, "/devstoreaccount1");
        // Upstream's rule: the first of more than two labels.
        let e = parse_endpoint("windows.net", false).unwrap();
        assert_eq!(
            (e.account, e.origin.as_str()),
            (None, "https://windows.net")
        );
        let e = parse_endpoint("https://a.blob.core.windows.net/?sv=1&x=a%20b", false).unwrap();
        assert_eq!(
            e.query,
            vec![("sv".into(), "1".into()), ("x".into(), "a b".into())]
        );
        assert!(parse_endpoint("ftp://x", false).is_err());
    }

    /// The canonical form of the Azure documentation's List Blobs example.
    #[test]
    fn shared_key_string_to_sign() {
        let query = parse_query("restype=container&comp=list&include=metadata&include=snapshots");
        let text = string_to_sign(
            "GET",
            "myaccount",
            "/mycontainer",
            &query,
            &[
                ("x-ms-version", "2015-02-21"),
                ("x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"),
            ],
        );
        assert_eq!(
            text,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots\nrestype:container"
        );
    }

    #[test]
    fn listed_names_and_etags() {
        assert_eq!(quote("0x8D1"), "\"0x8D1\"");
        assert_eq!(quote("\"0x8D1\""), "\"0x8D1\"");
        assert_eq!(blob_name("<Name>a &amp; b</Name>").unwrap(), "a & b");
        assert_eq!(
            blob_name("<Name Encoded=\"true\">a%01b</Name>").unwrap(),
            "a\u{1}b"
        );
    }
}
