//! `kustomize.toolkit.fluxcd.io/v1beta2`: served for manifests still written
//! against it (upstream removed it in kustomize-controller 1.8). Stored as
//! v1 (`conversion: None`); controllers read the v1 storage version.

mod kustomization;

pub use kustomization::*;
