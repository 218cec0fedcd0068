//! `kustomize.toolkit.fluxcd.io/v1`, the storage version.

mod kustomization;

pub use kustomization::*;
