//! A HelmChart from an OCI HelmRepository (`type: oci`): the chart at
//! `<url>/<chart>` in the registry, its version chosen as upstream's OCI
//! chart repository chooses it — a version of three parts is used as the
//! tag directly; otherwise the tags (as Helm's registry client reports
//! them: strict versions, `_` read as `+`) are matched against the
//! constraint, the exact text first — and its Helm chart layer pulled.

use std::time::Duration;

use flux_api::source::v1::HelmRepository;
use flux_oci::artifact::HELM_CHART_MEDIA_TYPE;
use flux_oci::{Client, ClientOptions, Reference};
use flux_runtime::ssa::kube_message;
use flux_runtime::{StepError, parse_duration};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use super::build_error;
use crate::Context;
use crate::gitrepository::fetch::Failed;

/// Reason: the registry refused the credentials.
const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";

/// The registry client of an OCI HelmRepository: `secretRef` (username and
/// password, or a Docker config), `certSecretRef`'s CA, `insecure`, its
/// timeout.
pub(super) async fn client(repo: &HelmRepository, ctx: &Context) -> Result<Client, StepError> {
    let namespace = repo.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let auth_error = |message: String| Failed::Fetch.error(AUTHENTICATION_FAILED, message);
    let url = &repo.spec.url;
    let registry = url
        .trim_start_matches("oci://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut credentials = None;
    if let Some(r) = &repo.spec.secret_ref {
        let secret = secrets.get(&r.name).await.map_err(|e| {
            auth_error(format!(
                "failed to get secret '{namespace}/{}': {}",
                r.name,
                kube_message(&e)
            ))
        })?;
        let data = secret.data.unwrap_or_default();
        let text = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        if let Some(config) = data.get(".dockerconfigjson") {
            credentials = flux_oci::auth::from_docker_config(&config.0, &registry)
                .map_err(|e| auth_error(format!("invalid '{}' secret data: {e}", r.name)))?;
        } else if let (Some(username), Some(password)) = (text("username"), text("password")) {
            credentials = Some(flux_oci::Credentials::parse(&format!(
                "{username}:{password}"
            )));
        } else {
            return Err(auth_error(format!(
                "invalid '{}' secret data: required fields 'username' and 'password', or '.dockerconfigjson'",
                r.name
            )));
        }
    }
    let mut tls = flux_oci::http::Tls::default();
    if let Some(r) = &repo.spec.cert_secret_ref {
        tls = crate::frame::tls(ctx, &namespace, &r.name)
            .await
            .map_err(auth_error)?;
    }
    let timeout = repo
        .spec
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60));
    Client::new(ClientOptions {
        insecure: repo.spec.insecure,
        tls,
        credentials,
        timeout,
        proxy: None,
    })
    .map_err(|e| Failed::Fetch.error("Failed", format!("failed to construct Helm client: {e}")))
}

/// The repository of chart `name` under the HelmRepository's URL.
pub(super) fn chart_reference(url: &str, name: &str) -> Result<Reference, String> {
    Reference::parse_url(&format!("{}/{name}", url.trim_end_matches('/')))
        .map_err(|e| e.to_string())
}

/// The chart version (the tag as Helm reports it) to pull.
pub(super) async fn version(
    client: &Client,
    reference: &Reference,
    name: &str,
    wanted: &str,
) -> Result<String, StepError> {
    choose(client, reference, name, wanted)
        .await
        .map_err(|(authentication, message)| {
            build_error(
                if authentication {
                    AUTHENTICATION_FAILED
                } else {
                    "ChartPullError"
                },
                "chart pull error",
                format!("failed to get chart version for remote reference: {message}"),
            )
        })
}

/// The tag matching `wanted` (an exact version as given, else the highest
/// tag in the constraint); on failure, whether the registry refused the
/// credentials, and why.
pub(super) async fn choose(
    client: &Client,
    reference: &Reference,
    name: &str,
    wanted: &str,
) -> Result<String, (bool, String)> {
    if flux_semver::Version::parse_flux(wanted).is_ok() {
        return Ok(wanted.to_string());
    }
    let tags = client.tags(reference).await.map_err(|e| {
        let message = format!(
            "could not get tags for \"{name}\": could not fetch tags for \"oci://{}\": {e}",
            reference.name()
        );
        (e.is_authentication(), message)
    })?;
    let tags = helm_tags(&tags);
    if tags.is_empty() {
        return Err((
            false,
            format!(
                "could not get tags for \"{name}\": unable to locate any tags in provided repository: oci://{}",
                reference.name()
            ),
        ));
    }
    last_matching(&tags, wanted).map_err(|e| (false, e))
}

/// Tags as Helm's registry client lists them: strict versions (`_` read
/// as `+`), highest first, in their canonical form.
fn helm_tags(tags: &[String]) -> Vec<String> {
    let mut versions: Vec<flux_semver::Version> = tags
        .iter()
        .filter_map(|t| {
            let text = t.replace('_', "+");
            // Strict: three numeric parts, no `v`.
            let core = text.split(['-', '+']).next().unwrap_or_default();
            let strict = !text.starts_with('v')
                && core.split('.').count() == 3
                && core
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !strict {
                return None;
            }
            text.parse().ok()
        })
        .collect();
    versions.sort_by(|a, b| b.cmp(a));
    versions.iter().map(ToString::to_string).collect()
}

/// Upstream's `getLastMatchingVersionOrConstraint`.
fn last_matching(tags: &[String], wanted: &str) -> Result<String, String> {
    if !wanted.is_empty()
        && let Some(t) = tags.iter().find(|t| *t == wanted)
    {
        return Ok(t.clone());
    }
    let range = if wanted.is_empty() || wanted == "*" {
        "*"
    } else {
        wanted
    };
    let constraints: flux_semver::Constraints = range.parse().map_err(|e| format!("{e}"))?;
    tags.iter()
        .filter_map(|t| {
            flux_semver::Version::parse_flux(t)
                .ok()
                .filter(|v| constraints.check(v))
                .map(|v| (v, t))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
        .ok_or_else(|| {
            format!("could not locate a version matching provided version string {wanted}")
        })
}

/// Pulls the Helm chart layer of `reference` at `version`.
pub(super) async fn pull(
    client: &Client,
    reference: &Reference,
    version: &str,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let tagged = reference.with_tag(&version.replace('+', "_"));
    let shown = format!("oci://{}:{version}", reference.name());
    let (manifest, _) = client
        .manifest(&tagged)
        .await
        .map_err(|e| format!("failed to get '{shown}': {e}"))?;
    let layer = flux_oci::artifact::select_layer(&manifest, Some(HELM_CHART_MEDIA_TYPE))
        .map_err(|e| format!("failed to get '{shown}': {e}"))?
        .clone();
    let mut data = Vec::new();
    client
        .blob(&tagged, &layer, limit, &mut data)
        .await
        .map_err(|e| format!("failed to get '{shown}': {e}"))?;
    Ok(data)
}

/// True when the registry refused the credentials (upstream reports
/// `AuthenticationFailed` for those).
pub(super) fn is_authentication(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("401")
        || lower.contains("unauthorized")
        || lower.contains("authentication required")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_and_chosen_as_upstream() {
        let tags: Vec<String> = [
            "1.0.0",
            "1.2.0_build.1",
            "v1.3.0",
            "1.4",
            "2.0.0-rc.1",
            "latest",
            "1.1.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let helm = helm_tags(&tags);
        assert_eq!(helm, ["2.0.0-rc.1", "1.2.0+build.1", "1.1.0", "1.0.0"]);
        assert_eq!(last_matching(&helm, "").unwrap(), "1.2.0+build.1");
        assert_eq!(last_matching(&helm, "1.1.x").unwrap(), "1.1.0");
        assert_eq!(last_matching(&helm, ">=2.0.0-0").unwrap(), "2.0.0-rc.1");
        assert_eq!(
            last_matching(&helm, "9.x").unwrap_err(),
            "could not locate a version matching provided version string 9.x"
        );
    }
}
