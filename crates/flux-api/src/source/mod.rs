//! `source.toolkit.fluxcd.io`: where artifacts come from.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, PrinterColumn, READY, STATUS};

pub mod v1;
pub mod v1beta2;

/// The API group.
pub const GROUP: &str = "source.toolkit.fluxcd.io";
const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-sources"];
const CHART_COLUMNS: [PrinterColumn; 7] = [
    PrinterColumn::new("Chart", "string", ".spec.chart"),
    PrinterColumn::new("Version", "string", ".spec.version"),
    PrinterColumn::new("Source Kind", "string", ".spec.sourceRef.kind"),
    PrinterColumn::new("Source Name", "string", ".spec.sourceRef.name"),
    AGE,
    READY,
    STATUS,
];
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

/// The HelmRepository CRD.
pub fn helm_repository_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "HelmRepository",
        plural: "helmrepositories",
        short_names: &["helmrepo"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::HelmRepositorySpec, v1::HelmRepositoryStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[URL, AGE, READY, STATUS]),
            CrdVersion::new::<v1beta2::HelmRepositorySpec, v1beta2::HelmRepositoryStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[URL, AGE, READY, STATUS])
            .deprecated("v1beta2 HelmRepository is deprecated, upgrade to v1"),
        ],
    }
}

/// The HelmChart CRD.
pub fn helm_chart_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "HelmChart",
        plural: "helmcharts",
        short_names: &["hc"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::HelmChartSpec, v1::HelmChartStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&CHART_COLUMNS),
            CrdVersion::new::<v1beta2::HelmChartSpec, v1beta2::HelmChartStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&CHART_COLUMNS)
            .deprecated("v1beta2 HelmChart is deprecated, upgrade to v1"),
        ],
    }
}

/// The Bucket CRD.
pub fn bucket_crd() -> CrdDefinition {
    const ENDPOINT: PrinterColumn = PrinterColumn::new("Endpoint", "string", ".spec.endpoint");
    CrdDefinition {
        group: GROUP,
        kind: "Bucket",
        plural: "buckets",
        short_names: &[],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::BucketSpec, v1::BucketStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[ENDPOINT, AGE, READY, STATUS]),
            CrdVersion::new::<v1beta2::BucketSpec, v1beta2::BucketStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[ENDPOINT, AGE, READY, STATUS])
            .deprecated("v1beta2 Bucket is deprecated, upgrade to v1"),
        ],
    }
}

/// The ExternalArtifact CRD.
pub fn external_artifact_crd() -> CrdDefinition {
    const SOURCE: PrinterColumn = PrinterColumn::new("Source", "string", ".spec.sourceRef.name");
    CrdDefinition {
        group: GROUP,
        kind: "ExternalArtifact",
        plural: "externalartifacts",
        short_names: &["ea"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::ExternalArtifactSpec, v1::ExternalArtifactStatus>("v1", None)
                .storage()
                .columns(&[AGE, READY, STATUS, SOURCE]),
        ],
    }
}
