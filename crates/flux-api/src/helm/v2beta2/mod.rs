//! `helm.toolkit.fluxcd.io/v2beta2`: served for manifests still written
//! against it (upstream removed it in helm-controller 1.5). Stored as v2
//! (`conversion: None`); controllers read the v2 storage version.

mod helmrelease;

pub use helmrelease::*;
