//! `image.toolkit.fluxcd.io/v1`, the storage version.

mod imagepolicy;
mod imagerepository;
mod imageupdateautomation;

pub use imagepolicy::*;
pub use imagerepository::*;
pub use imageupdateautomation::*;
