//! The `postBuild` variables of a Kustomization, loaded as upstream's
//! `LoadVariables` does: `substituteFrom` ConfigMaps and Secrets in order
//! (an optional one may be missing), then `substitute`, which wins; newlines
//! are removed from every value. Used by the controller and by
//! `flux build`/`flux diff` (which, without a cluster, take `substitute`
//! only).

use std::collections::BTreeMap;

use flux_api::kustomize::v1::{PostBuild, SubstituteKind, SubstituteReference};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use crate::ssa::kube_message;

/// Why the variables could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubstitutionError {
    /// A required ConfigMap or Secret does not exist.
    #[error("substitute from '{kind}/{name}' error: {plural} \"{name}\" not found")]
    NotFound {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// `configmaps` or `secrets`.
        plural: &'static str,
        /// Its name.
        name: String,
    },
    /// It could not be read.
    #[error("substitute from '{kind}/{name}' error: {message}")]
    Read {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The API server's message.
        message: String,
    },
}

/// The variables of `post_build` for an object of `namespace`;
/// `substituteFrom` is read only with a `client`.
pub async fn variables(
    client: Option<&Client>,
    namespace: &str,
    post_build: Option<&PostBuild>,
) -> Result<BTreeMap<String, String>, SubstitutionError> {
    let mut vars = BTreeMap::new();
    let Some(post_build) = post_build else {
        return Ok(vars);
    };
    if let Some(client) = client {
        for reference in &post_build.substitute_from {
            if let Some(data) = read(client, namespace, reference).await? {
                for (key, value) in data {
                    vars.insert(key, value.replace('\n', ""));
                }
            }
        }
    }
    for (key, value) in post_build.substitute.iter().flatten() {
        vars.insert(key.clone(), value.replace('\n', ""));
    }
    Ok(vars)
}

/// The data of one `substituteFrom` reference; `None` when an optional
/// one is missing.
async fn read(
    client: &Client,
    namespace: &str,
    reference: &SubstituteReference,
) -> Result<Option<Vec<(String, String)>>, SubstitutionError> {
    let name = &reference.name;
    let (kind, plural, found) = match reference.kind {
        SubstituteKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let found = api
                .get_opt(name)
                .await
                .map(|cm| cm.map(|cm| cm.data.unwrap_or_default().into_iter().collect()));
            ("ConfigMap", "configmaps", found)
        }
        SubstituteKind::Secret => {
            let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let found = api.get_opt(name).await.map(|secret| {
                secret.map(|secret| {
                    let data = secret.data.unwrap_or_default().into_iter();
                    data.map(|(key, value)| (key, String::from_utf8_lossy(&value.0).into_owned()))
                        .collect()
                })
            });
            ("Secret", "secrets", found)
        }
    };
    match found {
        Ok(Some(data)) => Ok(Some(data)),
        Ok(None) if reference.optional => Ok(None),
        Ok(None) => Err(SubstitutionError::NotFound {
            kind,
            plural,
            name: name.clone(),
        }),
        Err(e) => Err(SubstitutionError::Read {
            kind,
            name: name.clone(),
            message: kube_message(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_cluster_only_substitute_counts() {
        let post_build: PostBuild = serde_json::from_value(serde_json::json!({
            "substitute": {"A": "1\n2", "B": "b"},
            "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]
        }))
        .unwrap();
        let vars = variables(None, "ns", Some(&post_build)).await.unwrap();
        assert_eq!(
            vars,
            BTreeMap::from([("A".into(), "12".into()), ("B".into(), "b".into())])
        );
        assert!(variables(None, "ns", None).await.unwrap().is_empty());
        let missing = SubstitutionError::NotFound {
            kind: "Secret",
            plural: "secrets",
            name: "vars".into(),
        };
        assert_eq!(
            missing.to_string(),
            "substitute from 'Secret/vars' error: secrets \"vars\" not found"
        );
    }
}
