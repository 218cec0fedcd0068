//! `notification.toolkit.fluxcd.io`: Provider, Alert, Receiver.

use serde_json::json;

use crate::crd::{AGE, CrdDefinition, CrdVersion, READY, STATUS};

pub mod v1;
pub mod v1beta2;
pub mod v1beta3;

/// The API group.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";
const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-notifications"];

/// The Provider CRD.
pub fn provider_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "Provider",
        plural: "providers",
        short_names: &[],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::without_status::<v1beta3::ProviderSpec>("v1beta3")
                .storage()
                .columns(&[AGE]),
            CrdVersion::new::<v1beta2::ProviderSpec, v1beta2::StatusV1Beta2>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v1beta2 Provider is deprecated, upgrade to v1beta3"),
        ],
    }
}

/// The Alert CRD.
pub fn alert_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "Alert",
        plural: "alerts",
        short_names: &[],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::without_status::<v1beta3::AlertSpec>("v1beta3")
                .storage()
                .columns(&[AGE]),
            CrdVersion::new::<v1beta2::AlertSpec, v1beta2::StatusV1Beta2>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v1beta2 Alert is deprecated, upgrade to v1beta3"),
        ],
    }
}

/// The Receiver CRD.
pub fn receiver_crd() -> CrdDefinition {
    CrdDefinition {
        group: GROUP,
        kind: "Receiver",
        plural: "receivers",
        short_names: &[],
        categories: CATEGORIES,
        substitute_disabled: true,
        versions: vec![
            CrdVersion::new::<v1::ReceiverSpec, v1::ReceiverStatus>(
                "v1",
                Some(json!({"observedGeneration": -1})),
            )
            .storage()
            .columns(&[AGE, READY, STATUS]),
            CrdVersion::new::<v1beta2::ReceiverSpec, v1beta2::ReceiverStatus>(
                "v1beta2",
                Some(json!({"observedGeneration": -1})),
            )
            .columns(&[AGE, READY, STATUS])
            .deprecated("v1beta2 Receiver is deprecated, upgrade to v1"),
        ],
    }
}
