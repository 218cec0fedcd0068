//! Installing CustomResourceDefinitions and waiting until they are served.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::runtime::conditions::is_crd_established;
use kube::runtime::wait::await_condition;
use kube::{Api, Client};

use crate::control_plane::ControlPlane;
use crate::error::{Error, Result, io, kube as kube_err};

/// The field manager the test environment applies with.
pub const FIELD_MANAGER: &str = "flux-testenv";

/// Parses every CustomResourceDefinition in a multi-document YAML stream
/// (other kinds are an error, so a typo cannot go unnoticed).
pub fn parse_crds(yaml: &str) -> Result<Vec<CustomResourceDefinition>> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| Error::Parse {
            what: "CRD YAML".to_string(),
            reason: e.to_string(),
        })?;
    documents
        .into_iter()
        .filter(|doc| !doc.is_null())
        .map(|doc| {
            let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or("");
            if kind != "CustomResourceDefinition" {
                return Err(Error::Parse {
                    what: "CRD YAML".to_string(),
                    reason: format!("expected kind CustomResourceDefinition, found {kind:?}"),
                });
            }
            serde_json::from_value(doc).map_err(|e| Error::Parse {
                what: "CRD YAML".to_string(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Server-side applies `crds` and waits until each is Established (served).
pub async fn install_crds(
    client: &Client,
    crds: &[CustomResourceDefinition],
    timeout: Duration,
) -> Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(kube_err(format!("applying CRD {name}")))?;
        names.push(name);
    }
    for name in &names {
        let established = await_condition(api.clone(), name, is_crd_established());
        match tokio::time::timeout(timeout, established).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(Error::Parse {
                    what: format!("the status of CRD {name}"),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(Error::Timeout {
                    what: format!("CRD {name} to be Established"),
                    seconds: timeout.as_secs(),
                });
            }
        }
    }
    Ok(names)
}

impl ControlPlane {
    /// Installs the CRDs of a YAML stream and waits until they are served;
    /// returns their names.
    pub async fn install_crds(&self, yaml: &str) -> Result<Vec<String>> {
        install_crds(&self.client()?, &parse_crds(yaml)?, Duration::from_secs(60)).await
    }

    /// Installs the CRDs of every `.yaml`/`.yml` file in `dir` (sorted by name).
    pub async fn install_crd_dir(&self, dir: &Path) -> Result<Vec<String>> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(io(format!("reading {}", dir.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        let mut crds = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(io(format!("reading {}", file.display())))?;
            crds.extend(parse_crds(&text)?);
        }
        install_crds(&self.client()?, &crds, Duration::from_secs(60)).await
    }
}
