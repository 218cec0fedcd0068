//! `source.extensions.fluxcd.io`: source-watcher's ArtifactGenerator,
//! which composes and splits sources into ExternalArtifacts (an extra
//! component: installed with `--components-extra=source-watcher`).

pub mod v1beta1;

use crate::crd::{AGE, CrdDefinition, CrdVersion, READY, STATUS};

/// The API group.
pub const GROUP: &str = "source.extensions.fluxcd.io";

/// The ArtifactGenerator CRD.
pub fn artifact_generator_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "ArtifactGenerator",
        plural: "artifactgenerators",
        short_names: &["ag"],
        categories: &["all", "fluxcd", "fluxcd-sources"],
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1beta1::ArtifactGeneratorSpec, v1beta1::ArtifactGeneratorStatus>(
                "v1beta1", None,
            )
            .storage()
            .columns(&[AGE, READY, STATUS]),
        ],
    }
}
