//! `helm.toolkit.fluxcd.io/v2`, the storage version.

mod helmrelease;

pub use helmrelease::*;
