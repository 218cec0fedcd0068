//! `helm.toolkit.fluxcd.io`: HelmRelease.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, READY, STATUS};

pub mod v2;
pub mod v2beta1;
pub mod v2beta2;

/// The API group.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";

/// The HelmRelease CRD.
pub fn helm_release_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "HelmRelease",
        plural: "helmreleases",
        short_names: &["hr"],
        categories: &["all", "fluxcd", "fluxcd-appliers"],
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v2::HelmReleaseSpec, v2::HelmReleaseStatus>(
                "v2",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[AGE, READY, STATUS]),
            CrdVersion::new::<v2beta2::HelmReleaseSpec, v2beta2::HelmReleaseStatus>(
                "v2beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v2beta2 HelmRelease is deprecated, upgrade to v2"),
            CrdVersion::new::<v2beta1::HelmReleaseSpec, v2beta1::HelmReleaseStatus>(
                "v2beta1",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v2beta1 HelmRelease is deprecated, upgrade to v2"),
        ],
    }
}
