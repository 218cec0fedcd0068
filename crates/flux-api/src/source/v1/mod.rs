//! `source.toolkit.fluxcd.io/v1`, the storage version.

mod gitrepository;
mod ocirepository;

pub use gitrepository::*;
pub use ocirepository::*;
