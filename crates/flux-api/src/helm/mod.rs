//! `helm.toolkit.fluxcd.io`: HelmRelease.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, READY, STATUS};

pub mod v2;

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
        ],
    }
}
