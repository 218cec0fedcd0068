//! `source.toolkit.fluxcd.io/v1`, the storage version.

mod gitrepository;
mod helmchart;
mod helmrepository;
mod ocirepository;

pub use gitrepository::*;
pub use helmchart::*;
pub use helmrepository::*;
pub use ocirepository::*;
