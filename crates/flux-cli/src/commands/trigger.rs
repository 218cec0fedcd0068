//! `flux trigger receiver`: a request to a Receiver's webhook from outside
//! the cluster (a CI job), as upstream's command sends it: the path
//! computed from the name, namespace and token, the payload signed for
//! `generic-hmac`, an OIDC bearer token for `generic-oidc`, retries on
//! connection errors and retryable statuses. No cluster access.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::cli::{Global, TriggerReceiverArgs};
use crate::client::Error;
use crate::output;

const OIDC_TOKEN_ENV: &str = "FLUX_TRIGGER_RECEIVER_OIDC_TOKEN";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The webhook path of Receiver `name` in `namespace` with `token`.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{token}{name}{namespace}").as_bytes(),
    );
    format!("/hook/{}", hex(digest.as_ref()))
}

fn validate(args: &TriggerReceiverArgs) -> Result<(), Error> {
    let oidc = args.receiver_type == "generic-oidc";
    if !["generic", "generic-hmac", "generic-oidc"].contains(&args.receiver_type.as_str()) {
        return Err(format!(
            "invalid --type \"{}\", must be one of: generic, generic-hmac, generic-oidc",
            args.receiver_type
        )
        .into());
    }
    if !oidc {
        if args.token.is_empty() {
            return Err(format!("--token is required for --type={}", args.receiver_type).into());
        }
        if !args.oidc_provider.is_empty()
            || !args.oidc_token.is_empty()
            || !args.oidc_audience.is_empty()
        {
            return Err("--oidc-provider, --oidc-token and --oidc-audience can only be set for --type=generic-oidc".into());
        }
        return Ok(());
    }
    if !args.token.is_empty() {
        return Err("--token must not be set for --type=generic-oidc, the Receiver of this type has no secret".into());
    }
    if !args.oidc_provider.is_empty() && !args.oidc_token.is_empty() {
        return Err("--oidc-provider and --oidc-token are mutually exclusive".into());
    }
    if !args.oidc_provider.is_empty()
        && !["github", "forgejo"].contains(&args.oidc_provider.as_str())
    {
        return Err(format!(
            "invalid --oidc-provider \"{}\", must be one of: github, forgejo",
            args.oidc_provider
        )
        .into());
    }
    if !args.oidc_audience.is_empty() && args.oidc_provider.is_empty() {
        return Err("--oidc-audience can only be set together with --oidc-provider".into());
    }
    Ok(())
}

/// The OIDC token: from GitHub/Forgejo Actions (`ACTIONS_ID_TOKEN_REQUEST_URL`
/// and `_TOKEN`), `--oidc-token`, or the environment.
async fn oidc_token(args: &TriggerReceiverArgs) -> Result<String, Error> {
    if !args.oidc_provider.is_empty() {
        let audience = if args.oidc_audience.is_empty() {
            "notification-controller"
        } else {
            &args.oidc_audience
        };
        let (Ok(url), Ok(token)) = (
            std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) else {
            return Err("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN must be set (the job needs 'permissions: id-token: write')".into());
        };
        let client = flux_oci::http::client(None).map_err(|e| Error::from(e.to_string()))?;
        let separator = if url.contains('?') { '&' } else { '?' };
        let body = flux_oci::http::get(
            &client,
            &format!("{url}{separator}audience={audience}"),
            Some(&format!("Bearer {token}")),
            1 << 20,
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| Error::from(format!("fetching the OIDC token: {e}")))?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::from(format!("fetching the OIDC token: {e}")))?;
        return value["value"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "fetching the OIDC token: no value in the answer".into());
    }
    if !args.oidc_token.is_empty() {
        return Ok(args.oidc_token.clone());
    }
    std::env::var(OIDC_TOKEN_ENV).ok().filter(|t| !t.is_empty()).ok_or_else(|| {
        format!("no OIDC token provided: set --oidc-provider, --oidc-token or the {OIDC_TOKEN_ENV} environment variable").into()
    })
}

fn retryable(status: u16) -> bool {
    matches!(status, 404 | 408 | 429 | 500 | 502 | 503 | 504)
}

/// Runs `flux trigger receiver`.
pub async fn receiver(global: &Global, args: &TriggerReceiverArgs) -> Result<(), Error> {
    if args.url.is_empty() {
        return Err("--url is required".into());
    }
    validate(args)?;
    let delay = flux_runtime::parse_duration(&args.retry_delay).map_err(|e| {
        Error::from(format!(
            "invalid argument \"{}\" for \"--retry-delay\" flag: {e}",
            args.retry_delay
        ))
    })?;
    let timeout = crate::client::timeout(global)?;
    let namespace = &global.namespace;
    let path_token = if args.receiver_type == "generic-oidc" {
        ""
    } else {
        &args.token
    };
    let url = format!(
        "{}{}",
        args.url.trim_end_matches('/'),
        webhook_path(path_token, &args.name, namespace)
    );
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "User-Agent".to_string(),
            format!("flux/v{}", crate::VERSION),
        ),
    ];
    match args.receiver_type.as_str() {
        "generic-hmac" => {
            let key =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, args.token.as_bytes());
            let tag = aws_lc_rs::hmac::sign(&key, args.payload.as_bytes());
            headers.push((
                "X-Signature".to_string(),
                format!("sha256={}", hex(tag.as_ref())),
            ));
        }
        "generic-oidc" => {
            headers.push((
                "Authorization".to_string(),
                format!("Bearer {}", oidc_token(args).await?),
            ));
        }
        _ => {}
    }
    let client = flux_oci::http::client(None).map_err(|e| Error::from(e.to_string()))?;
    let send = || async {
        let mut request = http::Request::post(&url);
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(args.payload.clone())))
            .map_err(|e| (false, format!("unable to create request: {e}")))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| (true, format!("request to {url} failed: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body).trim().to_string();
            let shown = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            );
            let message = if text.is_empty() {
                format!("request to {url} failed with status {shown}")
            } else {
                format!("request to {url} failed with status {shown}: {text}")
            };
            return Err((retryable(status.as_u16()), message));
        }
        Ok(())
    };
    output::action(format!("triggering Receiver {namespace}/{}", args.name));
    let work = async {
        let mut attempt = 0;
        loop {
            match send().await {
                Ok(()) => {
                    output::success(format!("Receiver {namespace}/{} triggered", args.name));
                    return Ok(());
                }
                Err((retry, message)) => {
                    if !retry || attempt >= args.retries {
                        return Err(Error::from(message));
                    }
                    attempt += 1;
                    output::waiting(format!(
                        "{message}; retrying in {} ({attempt}/{})",
                        flux_runtime::format_duration(delay),
                        args.retries
                    ));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::from("context deadline exceeded"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_the_controller_computes_them() {
        let p = webhook_path("token", "receiver", "flux-system");
        assert_eq!(p.len(), "/hook/".len() + 64);
        assert_ne!(p, webhook_path("", "receiver", "flux-system"));
    }
}
