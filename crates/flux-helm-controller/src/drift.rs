//! Drift detection of the deployed release on its target
//! ([`flux_runtime::release_drift`], shared with `flux diff helmrelease`).

use flux_runtime::ignore::IgnoreRules;
use flux_runtime::ssa::Change;

pub use flux_runtime::release_drift::{DRIFT_DETECTION_MARKER, Drift, summary};

use crate::action::{Target, managed_meta};

/// The objects of the deployed `manifest` that drifted.
pub async fn detect(
    target: &Target<'_>,
    manifest: &str,
    rules: &IgnoreRules,
) -> Result<Vec<Drift>, String> {
    let mut objects = target.objects_in_cluster(manifest).await;
    for object in &mut objects {
        managed_meta(object, &target.name, &target.namespace);
    }
    flux_runtime::release_drift::detect(target.applier, objects, rules).await
}

/// Corrects the drift: creates the missing objects and applies the
/// changed ones; returns what was corrected and the errors.
pub async fn correct(target: &Target<'_>, drifts: Vec<Drift>) -> (Vec<Change>, Vec<String>) {
    flux_runtime::release_drift::correct(target.applier, drifts).await
}
