//! `image.toolkit.fluxcd.io`: ImageRepository, ImagePolicy, ImageUpdateAutomation.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, PrinterColumn, READY, STATUS};

pub mod v1;
pub mod v1beta2;

/// The API group.
pub const GROUP: &str = "image.toolkit.fluxcd.io";
const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-images"];

/// The ImageRepository CRD.
pub fn image_repository_crd() -> CrdDefinition {
    const TAGS: PrinterColumn =
        PrinterColumn::new("Tags", "string", ".status.lastScanResult.tagCount");
    let last_scan = PrinterColumn::new("Last scan", "string", ".status.lastScanResult.scanTime");
    CrdDefinition {
        group: GROUP,
        kind: "ImageRepository",
        plural: "imagerepositories",
        short_names: &["imgrepo", "imagerepo"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::ImageRepositorySpec, v1::ImageRepositoryStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[
                PrinterColumn::new("Image", "string", ".spec.image"),
                TAGS,
                READY,
                STATUS,
                PrinterColumn {
                    priority: Some(1),
                    ..last_scan.clone()
                },
                AGE,
            ]),
            CrdVersion::new::<v1beta2::ImageRepositorySpec, v1beta2::ImageRepositoryStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[last_scan, TAGS]),
        ],
    }
}

/// The ImagePolicy CRD.
pub fn image_policy_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "ImagePolicy",
        plural: "imagepolicies",
        short_names: &["imgpol", "imagepol"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::ImagePolicySpec, v1::ImagePolicyStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[
                PrinterColumn::new("Image", "string", ".status.latestRef.name"),
                PrinterColumn::new("Tag", "string", ".status.latestRef.tag"),
                READY,
                STATUS,
                AGE,
            ]),
            CrdVersion::new::<v1beta2::ImagePolicySpec, v1beta2::ImagePolicyStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[PrinterColumn::new(
                "LatestImage",
                "string",
                ".status.latestImage",
            )]),
        ],
    }
}

/// The ImageUpdateAutomation CRD.
pub fn image_update_automation_crd() -> CrdDefinition {
    let last_run = PrinterColumn::new("Last run", "string", ".status.lastAutomationRunTime");
    CrdDefinition {
        group: GROUP,
        kind: "ImageUpdateAutomation",
        plural: "imageupdateautomations",
        short_names: &["iua", "imgupd", "imgauto"],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::ImageUpdateAutomationSpec, v1::ImageUpdateAutomationStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[
                READY,
                STATUS,
                PrinterColumn {
                    priority: Some(1),
                    ..last_run.clone()
                },
                AGE,
            ]),
            CrdVersion::new::<v1beta2::ImageUpdateAutomationSpec, v1::ImageUpdateAutomationStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[last_run]),
        ],
    }
}
