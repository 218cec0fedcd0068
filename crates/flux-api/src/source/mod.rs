//! `source.toolkit.fluxcd.io`: where artifacts come from.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, PrinterColumn, READY, STATUS};

pub mod v1;
pub mod v1beta2;

/// The API group.
pub const GROUP: &str = "source.toolkit.fluxcd.io";
const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-sources"];
const URL: PrinterColumn = PrinterColumn::new("URL", "string", ".spec.url");

/// The GitRepository CRD.
pub fn git_repository_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "GitRepository",
        plural: "gitrepositories",
        short_names: &["gitrepo"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::GitRepositorySpec, v1::GitRepositoryStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[URL, AGE, READY, STATUS]),
            CrdVersion::new::<v1beta2::GitRepositorySpec, v1beta2::GitRepositoryStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[URL, AGE, READY, STATUS])
            .deprecated("v1beta2 GitRepository is deprecated, upgrade to v1"),
        ],
    }
}

/// The OCIRepository CRD.
pub fn oci_repository_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "OCIRepository",
        plural: "ocirepositories",
        short_names: &["ocirepo"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::OCIRepositorySpec, v1::OCIRepositoryStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[URL, READY, STATUS, AGE]),
            CrdVersion::new::<v1beta2::OCIRepositorySpec, v1beta2::OCIRepositoryStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[URL, READY, STATUS, AGE])
            .deprecated("v1beta2 OCIRepository is deprecated, upgrade to v1"),
        ],
    }
}
