//! `kustomize.toolkit.fluxcd.io`: Kustomization.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, READY, STATUS};

pub mod v1;
pub mod v1beta2;

/// The API group.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

/// The Kustomization CRD.
pub fn kustomization_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "Kustomization",
        plural: "kustomizations",
        short_names: &["ks"],
        categories: &["all", "fluxcd", "fluxcd-appliers"],
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::KustomizationSpec, v1::KustomizationStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[AGE, READY, STATUS]),
            CrdVersion::new::<v1beta2::KustomizationSpec, v1beta2::KustomizationStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v1beta2 Kustomization is deprecated, upgrade to v1"),
        ],
    }
}
