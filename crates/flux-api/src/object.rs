//! Any toolkit object, whatever its kind and version: strict parsing of a
//! manifest by its `apiVersion` and `kind`, for the CLI and for tests.

use serde::Serialize;
use serde_json::Value;

use crate::strict::{ParseError, from_value};
use crate::{helm, image, kustomize, notification, source};

macro_rules! flux_objects {
    ($( $variant:ident => $api_version:literal, $kind:literal, $ty:ty; )*) => {
        /// A toolkit object of any kind and served version.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        #[allow(missing_docs)]
        pub enum FluxObject {
            $( $variant(Box<$ty>), )*
        }

        impl FluxObject {
            /// Parses a manifest strictly into the type its `apiVersion` and
            /// `kind` name.
            pub fn from_value(value: Value) -> Result<Self, ParseError> {
                let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
                let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
                match (api_version, kind) {
                    $( ($api_version, $kind) => Ok(Self::$variant(Box::new(from_value(value)?))), )*
                    (api_version, kind) => Err(ParseError::Invalid {
                        path: ".".to_string(),
                        message: format!("no kind \"{kind}\" is registered for version \"{api_version}\""),
                    }),
                }
            }

            /// `(apiVersion, kind)` of this object.
            pub fn type_meta(&self) -> (&'static str, &'static str) {
                match self {
                    $( Self::$variant(_) => ($api_version, $kind), )*
                }
            }
        }

        /// Every `(apiVersion, kind)` served.
        pub const SERVED: &[(&str, &str)] = &[ $( ($api_version, $kind), )* ];
    };
}

flux_objects! {
    GitRepositoryV1 => "source.toolkit.fluxcd.io/v1", "GitRepository", source::v1::GitRepository;
    GitRepositoryV1Beta2 => "source.toolkit.fluxcd.io/v1beta2", "GitRepository", source::v1beta2::GitRepository;
    OciRepositoryV1 => "source.toolkit.fluxcd.io/v1", "OCIRepository", source::v1::OCIRepository;
    OciRepositoryV1Beta2 => "source.toolkit.fluxcd.io/v1beta2", "OCIRepository", source::v1beta2::OCIRepository;
    HelmRepositoryV1 => "source.toolkit.fluxcd.io/v1", "HelmRepository", source::v1::HelmRepository;
    HelmRepositoryV1Beta2 => "source.toolkit.fluxcd.io/v1beta2", "HelmRepository", source::v1beta2::HelmRepository;
    HelmChartV1 => "source.toolkit.fluxcd.io/v1", "HelmChart", source::v1::HelmChart;
    HelmChartV1Beta2 => "source.toolkit.fluxcd.io/v1beta2", "HelmChart", source::v1beta2::HelmChart;
    BucketV1 => "source.toolkit.fluxcd.io/v1", "Bucket", source::v1::Bucket;
    BucketV1Beta2 => "source.toolkit.fluxcd.io/v1beta2", "Bucket", source::v1beta2::Bucket;
    ExternalArtifactV1 => "source.toolkit.fluxcd.io/v1", "ExternalArtifact", source::v1::ExternalArtifact;
    KustomizationV1 => "kustomize.toolkit.fluxcd.io/v1", "Kustomization", kustomize::v1::Kustomization;
    KustomizationV1Beta2 => "kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization", kustomize::v1beta2::Kustomization;
    HelmReleaseV2 => "helm.toolkit.fluxcd.io/v2", "HelmRelease", helm::v2::HelmRelease;
    HelmReleaseV2Beta2 => "helm.toolkit.fluxcd.io/v2beta2", "HelmRelease", helm::v2beta2::HelmRelease;
    HelmReleaseV2Beta1 => "helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", helm::v2beta1::HelmRelease;
    ProviderV1Beta3 => "notification.toolkit.fluxcd.io/v1beta3", "Provider", notification::v1beta3::Provider;
    ProviderV1Beta2 => "notification.toolkit.fluxcd.io/v1beta2", "Provider", notification::v1beta2::Provider;
    AlertV1Beta3 => "notification.toolkit.fluxcd.io/v1beta3", "Alert", notification::v1beta3::Alert;
    AlertV1Beta2 => "notification.toolkit.fluxcd.io/v1beta2", "Alert", notification::v1beta2::Alert;
    ReceiverV1 => "notification.toolkit.fluxcd.io/v1", "Receiver", notification::v1::Receiver;
    ReceiverV1Beta2 => "notification.toolkit.fluxcd.io/v1beta2", "Receiver", notification::v1beta2::Receiver;
    ImageRepositoryV1 => "image.toolkit.fluxcd.io/v1", "ImageRepository", image::v1::ImageRepository;
    ImageRepositoryV1Beta2 => "image.toolkit.fluxcd.io/v1beta2", "ImageRepository", image::v1beta2::ImageRepository;
    ImagePolicyV1 => "image.toolkit.fluxcd.io/v1", "ImagePolicy", image::v1::ImagePolicy;
    ImagePolicyV1Beta2 => "image.toolkit.fluxcd.io/v1beta2", "ImagePolicy", image::v1beta2::ImagePolicy;
    ImageUpdateAutomationV1 => "image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation", image::v1::ImageUpdateAutomation;
    ImageUpdateAutomationV1Beta2 => "image.toolkit.fluxcd.io/v1beta2", "ImageUpdateAutomation", image::v1beta2::ImageUpdateAutomation;
}

impl FluxObject {
    /// Parses one YAML document strictly.
    pub fn from_yaml(yaml: &str) -> Result<Self, ParseError> {
        let value: Value =
            serde_saphyr::from_str(yaml).map_err(|e| ParseError::Yaml(e.to_string()))?;
        Self::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crds;

    #[test]
    fn every_served_version_of_every_crd_has_a_type() {
        let mut served: Vec<(String, String)> = crds()
            .iter()
            .flat_map(|crd| {
                crd.versions
                    .iter()
                    .map(|v| (format!("{}/{}", crd.group, v.name), crd.kind.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        served.sort();
        let mut typed: Vec<(String, String)> = SERVED
            .iter()
            .map(|(a, k)| (a.to_string(), k.to_string()))
            .collect();
        typed.sort();
        assert_eq!(served, typed);
    }

    #[test]
    fn unknown_kinds_and_versions_are_named() {
        let err = FluxObject::from_yaml(
            "apiVersion: source.toolkit.fluxcd.io/v1beta1\nkind: GitRepository\nmetadata: {name: x}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            ".: no kind \"GitRepository\" is registered for version \"source.toolkit.fluxcd.io/v1beta1\""
        );
    }
}
