//! `source.toolkit.fluxcd.io/v1`, the storage version.

mod gitrepository;

pub use gitrepository::*;
